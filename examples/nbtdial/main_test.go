package main

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/nbt/nbttest"
	"github.com/netbios-go/netbios/session"
)

// smb2Server answers an SMB2 NEGOTIATE with dialect 3.0.2, after checking
// that 3.1.1 was not offered.
func smb2Server(t *testing.T) nbttest.Handler {
	return nbttest.HandlerFunc(func(session.Request) nbttest.Response {
		return nbttest.Response{Serve: func(c *session.Conn) {
			req, err := c.ReadMessage(nil)
			if err != nil {
				return // the session that lost a race is closed unused
			}
			if string(req[:4]) != "\xfeSMB" || binary.LittleEndian.Uint16(req[12:]) != 0 {
				t.Errorf("not a NEGOTIATE: % x", req[:16])
			}
			n := int(binary.LittleEndian.Uint16(req[64+2:]))
			var offered []uint16
			for i := range n {
				offered = append(offered, binary.LittleEndian.Uint16(req[64+36+2*i:]))
			}
			if !slices.Equal(offered, dialects) || slices.Contains(offered, 0x0311) {
				t.Errorf("offered dialects %04x", offered)
			}
			resp := make([]byte, 64+65)
			copy(resp, "\xfeSMB")
			binary.LittleEndian.PutUint16(resp[4:], 64)
			binary.LittleEndian.PutUint16(resp[64:], 65)
			binary.LittleEndian.PutUint16(resp[64+4:], 0x0302)
			c.WriteMessage(resp)
		}}
	})
}

func TestNbtdial(t *testing.T) {
	refuse := nbttest.RefuseNames(session.ErrCalledNameNotPresent, nbttest.SMBServer)
	tests := []struct {
		name       string
		handler    nbttest.Handler
		ns         nbttest.NameServiceMode
		args       []string
		wantStatus int
		wantOut    []string // regular expressions, in order
		wantErr    string
	}{
		{
			name: "presp5 accepted", args: []string{"-policy", "presp5"},
			wantOut: []string{`^step 1: session "\*SMBSERVER<20>" at 127\.0\.0\.1:\d+: positive`, `^connected .* as \*SMBSERVER<20> \(PreSP5, `},
		},
		{
			name: "presp5 refused", handler: refuse, args: []string{"-policy", "presp5"},
			wantOut: []string{`^step 1: .*called name not present \(0x82\)`, `^step 2: node status at .*: answered`, `^step 3: session "NBTTEST<20>".*positive`, `^connected .* as NBTTEST<20>`},
		},
		{
			name: "sp5 verbose", args: []string{"-policy", "SP5", "-v"},
			wantOut: []string{`node status query for \*<00>`, `node status: 5 names, server NBTTEST<20>`, `connect tcp4 `, `session request called NBTTEST<20> calling`, `session response: positive`, `^connected .* as NBTTEST<20> \(SP5, `},
		},
		{
			name: "explicit name", args: []string{"-name", "nbttest"},
			wantOut: []string{`^step 1: session "NBTTEST<20>"`, `^connected .* as NBTTEST<20>`},
		},
		{
			name: "smb2", handler: smb2Server(t), args: []string{"-smb2"},
			wantOut: []string{`^connected `, `^SMB2 dialect 3\.0\.2$`},
		},
		{
			// -timeout 0 is the Dialer's default, not a NEGOTIATE deadline of now.
			name: "smb2, timeout 0", handler: smb2Server(t), args: []string{"-smb2", "-timeout", "0"},
			wantOut: []string{`^connected `, `^SMB2 dialect 3\.0\.2$`},
		},
		{
			name: "smb2, no timeout", handler: smb2Server(t), args: []string{"-smb2", "-timeout", "-1s"},
			wantOut: []string{`^connected `, `^SMB2 dialect 3\.0\.2$`},
		},
		{
			name: "sp5, UDP 137 dropped", ns: nbttest.DropQueries, args: []string{"-policy", "sp5"}, wantStatus: 1,
			wantOut: []string{`^step 1: node status at .*: no answer from UDP`},
			wantErr: "nbtdial: dial nbt 127.0.0.1:",
		},
		{name: "bad policy", args: []string{"-policy", "sp6"}, wantStatus: 2, wantErr: `invalid value "sp6" for flag -policy`},
		{
			name: "race", args: []string{"-policy", "race"},
			wantOut: []string{`^connected .* as (\*SMBSERVER|NBTTEST)<20> \(Race, `},
		},
		{name: "bad name", args: []string{"-name", "ABCDEFGHIJKLMNOPQ"}, wantStatus: 2, wantErr: "nbtdial: -name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := nbttest.NewUnstartedServer(tt.handler)
			s.NameService = tt.ns
			s.Start()
			defer s.Close()
			args := append([]string{"-ns-port", strconv.Itoa(int(s.NameAddr.Port())), "-timeout", "5s"}, tt.args...)
			var stdout, stderr bytes.Buffer
			status := run(t.Context(), append(args, s.Addr.String()), &stdout, &stderr)
			if status != tt.wantStatus {
				t.Errorf("status %d, want %d; stderr: %s", status, tt.wantStatus, stderr.String())
			}
			lines := strings.Split(stdout.String(), "\n")
			i := 0
			for _, re := range tt.wantOut {
				rx := regexp.MustCompile(re)
				for i < len(lines) && !rx.MatchString(strings.TrimSpace(lines[i])) && !rx.MatchString(lines[i]) {
					i++
				}
				if i == len(lines) {
					t.Errorf("no line matching %q (in order) in:\n%s", re, stdout.String())
					break
				}
			}
			if !strings.HasPrefix(stderr.String(), tt.wantErr) || (tt.wantErr == "") != (stderr.Len() == 0) {
				t.Errorf("stderr %q, want it to start with %q", stderr.String(), tt.wantErr)
			}
		})
	}
}

// TestNbtdialArgs checks the errors for malformed flags and arguments,
// which are found before any dial: no test here opens a connection or looks
// up a name.
func TestNbtdialArgs(t *testing.T) {
	long := strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 63)
	tests := []struct {
		name       string
		args       []string
		wantStatus int
		wantErr    string // all of stderr, or its first line when it is the usage
	}{
		{name: "no args", wantStatus: 2, wantErr: "usage: nbtdial [flags] HOST[:PORT]"},
		{name: "help", args: []string{"-h"}, wantStatus: 0, wantErr: "usage: nbtdial [flags] HOST[:PORT]"},
		{name: "two hosts", args: []string{"127.0.0.1", "127.0.0.2"}, wantStatus: 2, wantErr: "nbtdial: one HOST[:PORT] expected, got 2: [\"127.0.0.1\" \"127.0.0.2\"]\n"},
		{name: "flag after host", args: []string{"127.0.0.1", "-v"}, wantStatus: 2, wantErr: "nbtdial: \"-v\" after HOST: flags go before HOST\n"},
		{name: "ns-port 0", args: []string{"-ns-port", "0", "127.0.0.1"}, wantStatus: 2, wantErr: "nbtdial: invalid -ns-port 0: want 1 to 65535\n"},
		{name: "ns-port too big", args: []string{"-ns-port", "65536", "127.0.0.1"}, wantStatus: 2, wantErr: "nbtdial: invalid -ns-port 65536: want 1 to 65535\n"},
		{name: "IPv6 in brackets", args: []string{"[::1]"}, wantStatus: 2, wantErr: "nbtdial: dial nbt: address ::1: an IPv6 address: NetBIOS over TCP runs over IPv4 only (RFC 1001/1002)\n"},
		{name: "IPv6", args: []string{"::1"}, wantStatus: 2, wantErr: "nbtdial: dial nbt: address ::1: an IPv6 address: NetBIOS over TCP runs over IPv4 only (RFC 1001/1002)\n"},
		{name: "IPv6 with port", args: []string{"[::1]:139"}, wantStatus: 2, wantErr: "nbtdial: dial nbt: address ::1: an IPv6 address: NetBIOS over TCP runs over IPv4 only (RFC 1001/1002)\n"},
		{name: "port out of range", args: []string{"127.0.0.1:99999"}, wantStatus: 2, wantErr: "nbtdial: dial nbt: address 99999: invalid port\n"},
		{name: "port 0", args: []string{"127.0.0.1:0"}, wantStatus: 2, wantErr: "nbtdial: dial nbt: address 0: invalid port\n"},
		{name: "unknown service", args: []string{"127.0.0.1:no-such-service"}, wantStatus: 2, wantErr: "nbtdial: dial nbt: address no-such-service: unknown port\n"},
		{name: "empty port", args: []string{"127.0.0.1:"}, wantStatus: 2, wantErr: "nbtdial: dial nbt: address 127.0.0.1:: missing port\n"},
		{name: "empty", args: []string{""}, wantStatus: 2, wantErr: "nbtdial: dial nbt: missing address\n"},
		{name: "port only", args: []string{":139"}, wantStatus: 2, wantErr: "nbtdial: dial nbt: address :139: missing host\n"},
		{name: "missing bracket", args: []string{"[::1:139"}, wantStatus: 2, wantErr: "nbtdial: dial nbt: address [::1:139: missing ']' in address\n"},
		{name: "too many colons", args: []string{"host:1:2"}, wantStatus: 2, wantErr: "nbtdial: dial nbt: address host:1:2: too many colons in address\n"},
		{name: "name too long", args: []string{long + ".e"}, wantStatus: 2, wantErr: "nbtdial: dial nbt: address aaaaaaaaaaaaaaaaaaaa...: a host name longer than 253 bytes\n"},
		{name: "label too long", args: []string{strings.Repeat("x", 64) + ".example"}, wantStatus: 2, wantErr: "nbtdial: dial nbt: address " + strings.Repeat("x", 64) + ".example: a host name with an empty label or one longer than 63 bytes\n"},
		{name: "bad called name", args: []string{"-name", "ABCDEFGHIJKLMNOPQ", "127.0.0.1"}, wantStatus: 2, wantErr: "nbtdial: -name \"ABCDEFGHIJKLMNOPQ\": nbns: name longer than 15 bytes\n"},
		{name: "WINS IPv6", args: []string{"-U", "[::1]:137", "LABSRV"}, wantStatus: 2, wantErr: "invalid value \"[::1]:137\" for flag -U: WINS server \"[::1]:137\": an IPv6 address: NetBIOS runs over IPv4 only\n"},
		{name: "bad order", args: []string{"-order", "wins nis", "LABSRV"}, wantStatus: 2, wantErr: "invalid value \"wins nis\" for flag -order: unknown name resolution step \"nis\": want lmhosts, wins, host or bcast\n"},
		{name: "ports differ", args: []string{"-U", "127.0.0.1:1137", "-B", "127.255.255.255:1138", "LABSRV"}, wantStatus: 2, wantErr: "nbtdial: -U and -B give UDP ports 1137 and 1138: all name queries go to one port\n"},
		{name: "-B with -no-bcast", args: []string{"-B", "127.255.255.255", "-no-bcast", "LABSRV"}, wantStatus: 2, wantErr: "nbtdial: -B is of no use with -no-bcast\n"},
		{name: "-U unused", args: []string{"-U", "127.0.0.1", "-order", "lmhosts host", "LABSRV"}, wantStatus: 2, wantErr: "nbtdial: -U is of no use: -order \"lmhosts host\" has no wins\n"},
		{name: "order asks nothing", args: []string{"-order", "wins", "LABSRV"}, wantStatus: 2, wantErr: "nbtdial: -order \"wins\" asks nothing: give -lmhosts for lmhosts, -U for wins, or drop -no-bcast\n"},
		{name: "-lmhosts missing", args: []string{"-lmhosts", "/nonexistent/lmhosts", "LABSRV"}, wantStatus: 2, wantErr: "nbtdial: -lmhosts: open /nonexistent/lmhosts: no such file or directory\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			status := run(t.Context(), tt.args, &stdout, &stderr)
			if status != tt.wantStatus {
				t.Errorf("status %d, want %d", status, tt.wantStatus)
			}
			got := stderr.String()
			if strings.HasPrefix(tt.wantErr, "usage:") {
				got, _, _ = strings.Cut(got, "\n")
			}
			if strings.HasPrefix(tt.wantErr, "invalid value") {
				got, _, _ = strings.Cut(got, "\n")
				got += "\n"
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

// TestNbtdialByName dials a NetBIOS name that a loopback nbttest Server
// resolves, as a WINS server, or that an LMHOSTS file maps to 127.0.0.1.
// Every row sets -U to that server or -lmhosts, an -order without bcast
// or host, and -no-bcast: nothing is broadcast, and DNS is not asked.
func TestNbtdialByName(t *testing.T) {
	s := nbttest.NewUnstartedServer(nil)
	s.WINS = map[nbns.Name][]nbns.AddrEntry{
		nbns.MustName("LABSRV", nbns.FileServer): {{Flags: nbns.NewNBFlags(false, nbns.HNode), Addr: netip.MustParseAddr("127.0.0.1")}},
	}
	s.Start()
	defer s.Close()
	port := strconv.Itoa(int(s.Addr.Port()))
	wins := []string{"-U", s.NameAddr.String(), "-order", "wins", "-no-bcast"}
	lmhosts := filepath.Join(t.TempDir(), "lmhosts")
	if err := os.WriteFile(lmhosts, []byte("127.0.0.1 FILESRV\n"), 0o666); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		args       []string
		wantStatus int
		wantOut    []string // regular expressions, in order
		wantErr    string   // a regular expression for all of stderr
		wantCalled []nbns.Name
	}{
		{
			name: "wins", args: append(wins, "labsrv:"+port),
			wantOut:    []string{`^step 1: session "LABSRV<20>" at 127\.0\.0\.1:` + port + `: positive`, `^connected labsrv:` + port + ` to 127\.0\.0\.1:` + port + ` as LABSRV<20> \(Race, `},
			wantCalled: []nbns.Name{nbns.MustName("LABSRV", nbns.FileServer)},
		},
		{
			name: "wins, verbose", args: append([]string{"-v"}, append(wins, "LABSRV:"+port)...),
			wantOut: []string{
				`lookup LABSRV<20>: wins 127\.0\.0\.1 \.\.\.$`,
				`lookup LABSRV<20>: wins 127\.0\.0\.1: 1 owner \(`,
				`connect tcp4 127\.0\.0\.1:` + port,
				`session request called LABSRV<20> calling `,
				`^connected LABSRV:` + port + ` to 127\.0\.0\.1:` + port + ` as LABSRV<20> `,
			},
			wantCalled: []nbns.Name{nbns.MustName("LABSRV", nbns.FileServer)},
		},
		{
			name: "lmhosts", args: []string{"-lmhosts", lmhosts, "-order", "lmhosts", "-no-bcast", "FILESRV:" + port},
			wantOut:    []string{`^step 1: session "FILESRV<20>" at 127\.0\.0\.1:` + port + `: positive`, `^connected FILESRV:` + port + ` .* as FILESRV<20> `},
			wantCalled: []nbns.Name{nbns.MustName("FILESRV", nbns.FileServer)},
		},
		{
			name: "NAM_ERR", args: append(wins, "NOSUCH:"+port), wantStatus: 1,
			wantErr: `^nbtdial: dial nbt: lookup NOSUCH<20>: nbt: NetBIOS name not found; wins 127\.0\.0\.1: nbns: negative name query response for NOSUCH<20>: name error \(rcode 3\) \([^)]+\)\n$`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(s.Requests())
			var stdout, stderr bytes.Buffer
			args := append([]string{"-ns-port", strconv.Itoa(int(s.NameAddr.Port())), "-timeout", "5s"}, tt.args...)
			status := run(t.Context(), args, &stdout, &stderr)
			if status != tt.wantStatus {
				t.Errorf("status %d, want %d; stderr: %s", status, tt.wantStatus, stderr.String())
			}
			lines := strings.Split(stdout.String(), "\n")
			i := 0
			for _, re := range tt.wantOut {
				rx := regexp.MustCompile(re)
				for i < len(lines) && !rx.MatchString(strings.TrimSpace(lines[i])) {
					i++
				}
				if i == len(lines) {
					t.Errorf("no line matching %q (in order) in:\n%s", re, stdout.String())
					break
				}
			}
			if tt.wantErr == "" && stderr.Len() != 0 || tt.wantErr != "" && !regexp.MustCompile(tt.wantErr).MatchString(stderr.String()) {
				t.Errorf("stderr %q, want it to match %q", stderr.String(), tt.wantErr)
			}
			var called []nbns.Name
			for _, r := range s.Requests()[before:] {
				called = append(called, r.Called)
			}
			if diff := cmp.Diff(tt.wantCalled, called, cmp.Comparer(func(a, b nbns.Name) bool { return a == b })); diff != "" {
				t.Errorf("called names (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseName(t *testing.T) {
	tests := []struct {
		in      string
		want    nbns.Name
		wantErr string
	}{
		{in: "labsrv", want: nbns.MustName("LABSRV", nbns.FileServer)},
		{in: "labsrv<1b>", want: nbns.MustName("LABSRV", 0x1B)},
		{in: `\x01\x02__msbrowse__\x02<01>`, want: nbns.NameFromBytes([16]byte{1, 2, '_', '_', 'M', 'S', 'B', 'R', 'O', 'W', 'S', 'E', '_', '_', 2, 1})},
		{in: "labsrv<2>", wantErr: "nbns: invalid name syntax"},
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
