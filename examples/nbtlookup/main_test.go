package main

import (
	"bytes"
	"flag"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/netbios-go/netbios/examples/internal/nbtflags"
	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/nbt"
	"github.com/netbios-go/netbios/nbt/nbttest"
)

// durations matches the durations in messages, which vary from run to run.
var durations = regexp.MustCompile(`\b\d+(\.\d+)?(ns|µs|ms|s)\b`)

// timeColumn matches the time column of -v, once its duration is D.
var timeColumn = regexp.MustCompile(`(?m)^ +D  `)

func normalize(s string) string {
	return timeColumn.ReplaceAllString(durations.ReplaceAllString(s, "D"), "D  ")
}

// winsServer starts an nbttest Server on loopback that is a WINS server
// for LABSRV<20> (at 127.0.0.2, an H node) and LABGROUP<1E> (a group
// it keeps no members of).
func winsServer(t *testing.T) *nbttest.Server {
	s := nbttest.NewUnstartedServer(nil)
	s.WINS = map[nbns.Name][]nbns.AddrEntry{
		nbns.MustName("LABSRV", nbns.FileServer):        {{Flags: nbns.NewNBFlags(false, nbns.HNode), Addr: netip.MustParseAddr("127.0.0.2")}},
		nbns.MustName("LABGROUP", nbns.BrowserElection): {{Flags: nbns.NewNBFlags(true, nbns.BNode), Addr: netip.MustParseAddr("255.255.255.255")}},
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// TestNbtlookup looks names up in a loopback WINS server and an LMHOSTS
// file. Every test sets -U to the loopback server or -lmhosts, and an
// -order without bcast: none broadcasts, and none asks DNS.
func TestNbtlookup(t *testing.T) {
	s := winsServer(t)
	port := strconv.Itoa(int(s.NameAddr.Port()))
	wins := "127.0.0.1:" + port
	dir := t.TempDir()
	lmhosts := filepath.Join(dir, "lmhosts")
	err := os.WriteFile(lmhosts, []byte(""+
		"127.0.0.3 FILESRV #PRE\n"+
		"127.0.0.4 other   # a comment\n"+
		"10.0.0 BROKEN\n"+
		"127.0.0.5 printer #pre\n"), 0o666)
	if err != nil {
		t.Fatal(err)
	}
	notFound := "nbtlookup: lookup NOSUCH<20>: nbt: NetBIOS name not found; wins 127.0.0.1: nbns: negative name query response for NOSUCH<20>: name error (rcode 3) (D)\n"
	skipped := "nbtlookup: skipped: " + lmhosts + `:3: bad IPv4 address: "10.0.0"` + "\n"

	tests := []struct {
		name       string
		args       []string
		wantStatus int
		wantOut    string
		wantErr    string // durations replaced by D
	}{
		{
			name:    "wins unique",
			args:    []string{"-U", wins, "-order", "wins", "LABSRV"},
			wantOut: "127.0.0.2 LABSRV<20> unique, H node, from WINS 127.0.0.1\n",
		},
		{
			name:    "wins, NAME<xx>",
			args:    []string{"-U", wins, "-no-bcast", "-order", "wins", "labsrv<20>"},
			wantOut: "127.0.0.2 LABSRV<20> unique, H node, from WINS 127.0.0.1\n",
		},
		{
			name:    "wins group, NAME#xx",
			args:    []string{"-U", wins, "-order", "wins", "labgroup#1e"},
			wantOut: "255.255.255.255 LABGROUP<1E> group, B node, from WINS 127.0.0.1\n",
		},
		{
			name:    "the server's own name",
			args:    []string{"-U", wins, "-order", "wins", "NBTTEST#00"},
			wantOut: "127.0.0.1 NBTTEST<00> unique, B node, from WINS 127.0.0.1\n",
		},
		{
			name:       "wins NAM_ERR",
			args:       []string{"-U", wins, "-order", "wins", "-no-bcast", "nosuch"},
			wantStatus: 1,
			wantErr:    notFound,
		},
		{
			// 127.0.0.2 has no name service: port unreachable, on to the
			// next server.
			name:    "second wins server",
			args:    []string{"-U", "127.0.0.2:" + port + ",127.0.0.1", "-order", "wins", "LABSRV"},
			wantOut: "127.0.0.2 LABSRV<20> unique, H node, from WINS 127.0.0.1\n",
		},
		{
			name:       "one found, one not",
			args:       []string{"-U", wins, "-order", "wins", "NOSUCH", "LABSRV"},
			wantStatus: 1,
			wantOut:    "127.0.0.2 LABSRV<20> unique, H node, from WINS 127.0.0.1\n",
			wantErr:    notFound,
		},
		{
			name: "lmhosts",
			args: []string{"-lmhosts", lmhosts, "-order", "lmhosts", "other", "FILESRV#03", "printer"},
			wantOut: "127.0.0.4 OTHER<20> unique, from LMHOSTS\n" +
				"127.0.0.3 FILESRV<03> unique, cached, from LMHOSTS\n" +
				"127.0.0.5 PRINTER<20> unique, from LMHOSTS\n",
			wantErr: skipped,
		},
		{
			name:       "lmhosts, no such suffix",
			args:       []string{"-lmhosts", lmhosts, "-order", "lmhosts", "OTHER#1b"},
			wantStatus: 1,
			wantErr:    skipped + "nbtlookup: lookup OTHER<1B>: nbt: NetBIOS name not found; lmhosts: not in LMHOSTS, which has a line skipped as bad (D)\n",
		},
		{
			name:    "lmhosts, then wins",
			args:    []string{"-lmhosts", lmhosts, "-U", wins, "-order", "lmhosts,wins", "OTHER", "LABSRV"},
			wantOut: "127.0.0.4 OTHER<20> unique, from LMHOSTS\n127.0.0.2 LABSRV<20> unique, H node, from WINS 127.0.0.1\n",
			wantErr: skipped,
		},
		{
			name: "json",
			args: []string{"-json", "-U", wins, "-lmhosts", lmhosts, "-order", "wins lmhosts", "LABSRV", "LABGROUP#1E", "OTHER"},
			wantOut: `{"addr":"127.0.0.2","name":"LABSRV<20>","group":false,"host":true,"node_type":"H","source":"wins","origin":"wins","server":"127.0.0.1","responder":"127.0.0.1:` + port + `","ttl":259200}` + "\n" +
				`{"addr":"255.255.255.255","name":"LABGROUP<1E>","group":true,"host":false,"node_type":"B","source":"wins","origin":"wins","server":"127.0.0.1","responder":"127.0.0.1:` + port + `","ttl":259200}` + "\n" +
				`{"addr":"127.0.0.4","name":"OTHER<20>","group":false,"host":true,"node_type":"B","source":"lmhosts","origin":"lmhosts"}` + "\n",
			wantErr: skipped,
		},
		{
			name:       "verbose",
			args:       []string{"-v", "-U", wins, "-lmhosts", lmhosts, "-order", "lmhosts wins", "LABSRV", "nosuch"},
			wantStatus: 1,
			wantOut:    "127.0.0.2 LABSRV<20> unique, H node, from WINS 127.0.0.1\n",
			wantErr: skipped +
				"nbtlookup: warning: " + lmhosts + `:4: not a keyword, so a comment: Windows reads keywords in capitals only (KB Q150800): "#pre"` + "\n" +
				"D  lookup LABSRV<20>: lmhosts ...\n" +
				"D  lookup LABSRV<20>: lmhosts: not in LMHOSTS, which has a line skipped as bad (D)\n" +
				"D  lookup LABSRV<20>: wins 127.0.0.1 ...\n" +
				"D  lookup LABSRV<20>: wins 127.0.0.1: 1 owner (D)\n" +
				"D  lookup NOSUCH<20>: lmhosts ...\n" +
				"D  lookup NOSUCH<20>: lmhosts: not in LMHOSTS, which has a line skipped as bad (D)\n" +
				"D  lookup NOSUCH<20>: wins 127.0.0.1 ...\n" +
				"D  lookup NOSUCH<20>: wins 127.0.0.1: nbns: negative name query response for NOSUCH<20>: name error (rcode 3) (D)\n" +
				"nbtlookup: lookup NOSUCH<20>: nbt: NetBIOS name not found; lmhosts: not in LMHOSTS, which has a line skipped as bad (D); wins 127.0.0.1: nbns: negative name query response for NOSUCH<20>: name error (rcode 3) (D)\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			status := run(t.Context(), tt.args, &stdout, &stderr)
			if status != tt.wantStatus {
				t.Errorf("status %d, want %d; stderr:\n%s", status, tt.wantStatus, stderr.String())
			}
			if diff := cmp.Diff(tt.wantOut, stdout.String()); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantErr, normalize(stderr.String())); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
		})
	}
	if got := s.NameQueries(); got == 0 {
		t.Errorf("the WINS server had no queries")
	}
}

// TestNbtlookupTimeout checks that a lookup cut short by -timeout names
// the step that was running: the WINS server drops every query.
func TestNbtlookupTimeout(t *testing.T) {
	s := nbttest.NewUnstartedServer(nil)
	s.NameService = nbttest.DropQueries
	s.Start()
	defer s.Close()
	var stdout, stderr bytes.Buffer
	args := []string{"-U", s.NameAddr.String(), "-order", "wins", "-no-bcast", "-timeout", "50ms", "LABSRV"}
	status := run(t.Context(), args, &stdout, &stderr)
	if status != 1 {
		t.Errorf("status %d, want 1", status)
	}
	want := "nbtlookup: lookup LABSRV<20>: context deadline exceeded; wins 127.0.0.1: context deadline exceeded (D)\n"
	if diff := cmp.Diff(want, normalize(stderr.String())); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout %q, want nothing", stdout.String())
	}
}

// TestNbtlookupArgs checks the usage errors, which are found before any
// lookup: no test here sends anything.
func TestNbtlookupArgs(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none")
	tests := []struct {
		name       string
		args       []string
		wantStatus int
		wantErr    string // all of stderr, or its first line when it is the usage
	}{
		{name: "no names", wantStatus: 2, wantErr: "usage: nbtlookup [flags] NAME..."},
		{name: "help", args: []string{"-h"}, wantStatus: 0, wantErr: "usage: nbtlookup [flags] NAME..."},
		{name: "unknown flag", args: []string{"-x", "A"}, wantStatus: 2, wantErr: "flag provided but not defined: -x"},
		{name: "flag after name", args: []string{"A", "-v"}, wantStatus: 2, wantErr: "nbtlookup: \"-v\" after NAME: flags go before the names\n"},
		{name: "name too long", args: []string{"ABCDEFGHIJKLMNOP"}, wantStatus: 2, wantErr: "nbtlookup: name \"ABCDEFGHIJKLMNOP\": nbns: name longer than 15 bytes\n"},
		{name: "bad #xx", args: []string{"LABSRV#2g"}, wantStatus: 2, wantErr: "nbtlookup: name \"LABSRV#2g\": the suffix after # must be 1 or 2 hexadecimal digits, as in LABSRV#20\n"},
		{name: "long #xx", args: []string{"LABSRV#020"}, wantStatus: 2, wantErr: "nbtlookup: name \"LABSRV#020\": the suffix after # must be 1 or 2 hexadecimal digits, as in LABSRV#20\n"},
		{name: "bad <xx>", args: []string{"LABSRV<2>"}, wantStatus: 2, wantErr: "nbtlookup: name \"LABSRV<2>\": nbns: invalid name syntax: want NAME, NAME#xx or NAME<xx>\n"},
		{name: "bad timeout", args: []string{"-timeout", "-1s", "A"}, wantStatus: 2, wantErr: "nbtlookup: invalid -timeout -1s: want 0 or more\n"},
		{name: "WINS IPv6", args: []string{"-U", "::1", "A"}, wantStatus: 2, wantErr: "invalid value \"::1\" for flag -U: WINS server \"::1\": an IPv6 address: NetBIOS runs over IPv4 only\n"},
		{name: "WINS host name", args: []string{"-U", "wins.example", "A"}, wantStatus: 2, wantErr: "invalid value \"wins.example\" for flag -U: WINS server \"wins.example\": want an IPv4 address, with an optional :PORT\n"},
		{name: "WINS port 0", args: []string{"-U", "127.0.0.1:0", "A"}, wantStatus: 2, wantErr: "invalid value \"127.0.0.1:0\" for flag -U: WINS server \"127.0.0.1:0\": port 0\n"},
		{name: "WINS 0.0.0.0", args: []string{"-U", "0.0.0.0", "A"}, wantStatus: 2, wantErr: "invalid value \"0.0.0.0\" for flag -U: WINS server \"0.0.0.0\": not a host or broadcast address\n"},
		{name: "ports differ", args: []string{"-U", "127.0.0.1:1137,127.0.0.2:1138", "A"}, wantStatus: 2, wantErr: "nbtlookup: -U and -B give UDP ports 1137 and 1138: all name queries go to one port\n"},
		{name: "bad order", args: []string{"-order", "lmhosts nis", "A"}, wantStatus: 2, wantErr: "invalid value \"lmhosts nis\" for flag -order: unknown name resolution step \"nis\": want lmhosts, wins, host or bcast\n"},
		{name: "empty order", args: []string{"-order", " ", "A"}, wantStatus: 2, wantErr: "invalid value \" \" for flag -order: empty: want steps among lmhosts, wins, host and bcast\n"},
		{name: "order asks nothing", args: []string{"-order", "wins lmhosts", "A"}, wantStatus: 2, wantErr: "nbtlookup: -order \"wins lmhosts\" asks nothing: give -lmhosts for lmhosts, -U for wins, or drop -no-bcast\n"},
		{name: "only bcast, off", args: []string{"-order", "bcast", "-no-bcast", "A"}, wantStatus: 2, wantErr: "nbtlookup: -order \"bcast\" asks nothing: give -lmhosts for lmhosts, -U for wins, or drop -no-bcast\n"},
		{name: "-U unused", args: []string{"-U", "127.0.0.1", "-order", "bcast", "A"}, wantStatus: 2, wantErr: "nbtlookup: -U is of no use: -order \"bcast\" has no wins\n"},
		{name: "-B unused", args: []string{"-B", "127.255.255.255", "-order", "wins", "A"}, wantStatus: 2, wantErr: "nbtlookup: -B is of no use: -order \"wins\" has no bcast\n"},
		{name: "-B with -no-bcast", args: []string{"-B", "127.255.255.255", "-no-bcast", "A"}, wantStatus: 2, wantErr: "nbtlookup: -B is of no use with -no-bcast\n"},
		{name: "-lmhosts unused", args: []string{"-lmhosts", missing, "-order", "bcast", "A"}, wantStatus: 2, wantErr: "nbtlookup: -lmhosts is of no use: -order \"bcast\" has no lmhosts\n"},
		{name: "-lmhosts missing", args: []string{"-lmhosts", missing, "-order", "lmhosts", "A"}, wantStatus: 2, wantErr: "nbtlookup: -lmhosts: open " + missing + ": no such file or directory\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			status := run(t.Context(), tt.args, &stdout, &stderr)
			if status != tt.wantStatus {
				t.Errorf("status %d, want %d", status, tt.wantStatus)
			}
			got := stderr.String()
			if strings.HasPrefix(tt.wantErr, "usage:") || strings.HasPrefix(tt.wantErr, "flag provided") || strings.HasPrefix(tt.wantErr, "invalid value") {
				got, _, _ = strings.Cut(got, "\n")
				tt.wantErr = strings.TrimSuffix(tt.wantErr, "\n")
			}
			if diff := cmp.Diff(tt.wantErr, got); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
		})
	}
}

func TestParseName(t *testing.T) {
	browse := nbns.NameFromBytes([16]byte{1, 2, '_', '_', 'M', 'S', 'B', 'R', 'O', 'W', 'S', 'E', '_', '_', 2, 1})
	tests := []struct {
		in      string
		want    nbns.Name
		wantErr string
	}{
		{in: "labsrv", want: nbns.MustName("LABSRV", nbns.FileServer)},
		{in: "LABSRV#00", want: nbns.MustName("LABSRV", nbns.Workstation)},
		{in: "labsrv#1", want: nbns.MustName("LABSRV", 0x01)},
		{in: "Domain#1c", want: nbns.MustName("DOMAIN", nbns.DomainControllers)},
		{in: "a#b#1C", want: nbns.MustName("A#B", nbns.DomainControllers)},
		{in: "labsrv<1b>", want: nbns.MustName("LABSRV", 0x1B)},
		{in: `\x01\x02__msbrowse__\x02<01>`, want: browse},
		{in: "*", want: nbns.Wildcard()},
		{in: "*<00>", want: nbns.Wildcard()},
		{in: "", wantErr: "nbns: empty name"},
		{in: "#20", wantErr: "nbns: empty name"},
		{in: "LABSRV#", wantErr: "the suffix after # must be 1 or 2 hexadecimal digits, as in LABSRV#20"},
		{in: "LABSRV#+1", wantErr: "the suffix after # must be 1 or 2 hexadecimal digits, as in LABSRV#20"},
		{in: "*#20", wantErr: "nbns: the wildcard name \"*\" has suffix <00> only"},
		{in: "0123456789ABCDEF", wantErr: "nbns: name longer than 15 bytes"},
	}
	for _, tt := range tests {
		got, err := parseName(tt.in)
		var gotErr string
		if err != nil {
			gotErr = err.Error()
		}
		if diff := cmp.Diff(tt.wantErr, gotErr); diff != "" {
			t.Errorf("parseName(%q) error (-want +got):\n%s", tt.in, diff)
		}
		if err == nil && got != tt.want {
			t.Errorf("parseName(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// TestResolverFlags checks the Resolver each set of flags configures,
// without using it: the -B rows never broadcast.
func TestResolverFlags(t *testing.T) {
	type config struct {
		WINS, Broadcast []netip.Addr
		NoBroadcast     bool
		LMHosts         string
		Order           []nbt.Source
		Port            uint16
	}
	lmhosts := filepath.Join(t.TempDir(), "lmhosts")
	if err := os.WriteFile(lmhosts, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	addrs := func(s ...string) []netip.Addr {
		var a []netip.Addr
		for _, x := range s {
			a = append(a, netip.MustParseAddr(x))
		}
		return a
	}
	tests := []struct {
		name string
		args []string
		want config
	}{
		{name: "none", want: config{}},
		{name: "wins", args: []string{"-U", "198.18.0.5", "-U", "198.18.0.6:1137,198.18.0.7"}, want: config{WINS: addrs("198.18.0.5", "198.18.0.6", "198.18.0.7"), Port: 1137}},
		{name: "IPv4-mapped", args: []string{"-U", "::ffff:198.18.0.5"}, want: config{WINS: addrs("198.18.0.5")}},
		{name: "broadcast", args: []string{"-B", "198.18.0.255", "-B", "198.18.1.255:1137"}, want: config{Broadcast: addrs("198.18.0.255", "198.18.1.255"), Port: 1137}},
		{name: "same port twice", args: []string{"-U", "198.18.0.5:1137", "-B", "198.18.0.255:1137"}, want: config{WINS: addrs("198.18.0.5"), Broadcast: addrs("198.18.0.255"), Port: 1137}},
		{name: "no bcast", args: []string{"-no-bcast"}, want: config{NoBroadcast: true}},
		{name: "lmhosts", args: []string{"-lmhosts", lmhosts}, want: config{LMHosts: lmhosts}},
		{
			name: "order", args: []string{"-order", "wins,lmhosts dns bcast", "-U", "198.18.0.5", "-lmhosts", lmhosts},
			want: config{WINS: addrs("198.18.0.5"), LMHosts: lmhosts, Order: []nbt.Source{nbt.SourceWINS, nbt.SourceLMHosts, nbt.SourceDNS, nbt.SourceBroadcast}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newFlagSet()
			var rf nbtflags.ResolverFlags
			rf.Register(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			r, err := rf.Resolver()
			if err != nil {
				t.Fatal(err)
			}
			got := config{r.WINS, r.Broadcast, r.NoBroadcast, r.LMHosts, r.Order, r.NameServicePort}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Errorf("Resolver (-want +got):\n%s", diff)
			}
		})
	}
}

func newFlagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}
