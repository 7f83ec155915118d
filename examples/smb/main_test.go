package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/nbt"
	"github.com/netbios-go/netbios/nbt/nbttest"
	"github.com/netbios-go/netbios/session"
)

func TestUsage(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		status  int
		wantErr string // a substring of stderr
	}{
		{name: "no host", args: nil, status: 2, wantErr: "smb: missing HOST"},
		{name: "too many", args: []string{"h", "s", "p", "x"}, status: 2, wantErr: "smb: too many arguments"},
		{name: "share without path", args: []string{"h", "pub"}, status: 2, wantErr: "smb: missing PATH after SHARE"},
		{name: "list with share", args: []string{"-list", "h", "pub"}, status: 2, wantErr: "smb: -list takes no SHARE"},
		{name: "list with path", args: []string{"-list", "h", "pub", "f"}, status: 2, wantErr: "smb: -list takes no SHARE"},
		{name: "empty path", args: []string{"h", "pub", "/"}, status: 2, wantErr: "smb: empty SHARE or PATH"},
		{name: "o without path", args: []string{"-o", "f", "h"}, status: 2, wantErr: "smb: -o needs SHARE and PATH"},
		{name: "password without user", args: []string{"-password", "x", "h"}, status: 2, wantErr: "smb: -password needs -user"},
		{name: "bad policy", args: []string{"-policy", "sp6", "h"}, status: 2, wantErr: `invalid value "sp6" for flag -policy`},
		{name: "bad name", args: []string{"-name", "ABCDEFGHIJKLMNOPQ", "h"}, status: 2, wantErr: "smb: -name"},
		{name: "bad ns-port", args: []string{"-ns-port", "70000", "h"}, status: 2, wantErr: "smb: -ns-port 70000"},
		{name: "negative timeout", args: []string{"-timeout", "-1s", "h"}, status: 2, wantErr: "smb: -timeout -1s"},
		{name: "empty host", args: []string{":139"}, status: 2, wantErr: "smb: empty HOST"},
		{name: "unknown flag", args: []string{"-x", "h"}, status: 2, wantErr: "flag provided but not defined: -x"},
		{name: "help", args: []string{"-h"}, status: 0, wantErr: "usage: smb [flags] HOST[:PORT] [SHARE [PATH]]"},
		{name: "bad WINS", args: []string{"-U", "wins.example", "h"}, status: 2, wantErr: `invalid value "wins.example" for flag -U: WINS server "wins.example": want an IPv4 address, with an optional :PORT`},
		{name: "bad order", args: []string{"-order", "nis", "h"}, status: 2, wantErr: `invalid value "nis" for flag -order: unknown name resolution step "nis"`},
		{name: "ports differ", args: []string{"-U", "127.0.0.1:1137,127.0.0.2:1138", "h"}, status: 2, wantErr: "smb: -U and -B give UDP ports 1137 and 1138: all name queries go to one port"},
		{name: "-B with -no-bcast", args: []string{"-B", "127.255.255.255", "-no-bcast", "h"}, status: 2, wantErr: "smb: -B is of no use with -no-bcast"},
		{name: "-lmhosts unused", args: []string{"-lmhosts", "f", "-order", "wins", "-U", "127.0.0.1", "h"}, status: 2, wantErr: `smb: -lmhosts is of no use: -order "wins" has no lmhosts`},
		{name: "order asks nothing", args: []string{"-order", "bcast", "-no-bcast", "h"}, status: 2, wantErr: `smb: -order "bcast" asks nothing`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			status := run(t.Context(), tt.args, &stdout, &stderr)
			if status != tt.status {
				t.Errorf("status %d, want %d", status, tt.status)
			}
			if !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tt.wantErr)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
		})
	}
}

func TestParse(t *testing.T) {
	o, timeout, status := parse([]string{"-policy", "SP5", "-name", "labsrv<20>", "-user", "u", "-password", "p",
		"-timeout", "3s", "-ns-port", "1137", "-o", "out", "198.18.0.2:1139", `\pub\`, `/dir/f.txt`}, io.Discard)
	if status != -1 {
		t.Fatalf("status %d", status)
	}
	want := options{user: "u", password: "p", out: "out", address: "198.18.0.2:1139", host: "198.18.0.2", share: "pub", path: "dir/f.txt"}
	want.dialer.Policy = nbt.SP5
	want.dialer.CalledName = nbns.MustName("LABSRV", nbns.FileServer)
	want.dialer.NameServicePort = 1137
	if o.dialer.Resolver == nil {
		t.Fatal("no Resolver")
	}
	o.dialer.Resolver = nil // TestParseResolver checks it
	if *o != want || timeout != 3*time.Second {
		t.Errorf("got %+v, %v\nwant %+v, 3s", *o, timeout, want)
	}
	if o, _, _ := parse([]string{"h"}, io.Discard); !o.list || o.dialer.Policy != nbt.Race || o.dialer.NameServicePort != 137 || o.host != "h" {
		t.Errorf("bare HOST: got %+v, want -list, Race, port 137", *o)
	}
}

// start starts an nbttest Server and returns the arguments that point
// the program at it.
func start(t *testing.T, h nbttest.Handler, ns nbttest.NameServiceMode) (*nbttest.Server, []string) {
	s := nbttest.NewUnstartedServer(h)
	s.NameService = ns
	s.Start()
	t.Cleanup(s.Close)
	return s, []string{"-ns-port", strconv.Itoa(int(s.NameAddr.Port())), "-timeout", "5s"}
}

func TestDialRefused(t *testing.T) {
	refuse := nbttest.HandlerFunc(func(session.Request) nbttest.Response {
		return nbttest.Response{Reject: session.ErrCalledNameNotPresent}
	})
	s, args := start(t, refuse, nbttest.AnswerQueries)
	var stdout, stderr bytes.Buffer
	status := run(t.Context(), append(args, "-policy", "presp5", s.Addr.String(), "pub", "hello.txt"), &stdout, &stderr)
	if status != 1 {
		t.Errorf("status %d, want 1", status)
	}
	// PreSP5: *SMBSERVER refused, node status, NBTTEST refused.
	for _, want := range []string{"smb: nbt dial: dial nbt " + s.Addr.String(), `"*SMBSERVER<20>"`, "node status", `"NBTTEST<20>"`, "called name not present (0x82)"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr %q does not contain %q", stderr.String(), want)
		}
	}
	if strings.Count(stderr.String(), "\n") != 1 || stdout.Len() != 0 {
		t.Errorf("want one line on stderr and nothing on stdout; stdout %q, stderr %q", stdout.String(), stderr.String())
	}
	if got := len(s.Requests()); got != 2 {
		t.Errorf("%d session requests, want 2", got)
	}
}

func TestDialTimeout(t *testing.T) {
	s, args := start(t, nil, nbttest.DropQueries)
	var stdout, stderr bytes.Buffer
	begin := time.Now()
	status := run(t.Context(), append(args, "-policy", "sp5", "-timeout", "300ms", s.Addr.String()), &stdout, &stderr)
	if elapsed := time.Since(begin); elapsed > 2*time.Second {
		t.Errorf("took %v with -timeout 300ms", elapsed)
	}
	if status != 1 || !strings.HasPrefix(stderr.String(), "smb: nbt dial: ") || !strings.Contains(stderr.String(), "no answer from UDP") {
		t.Errorf("status %d, stderr %q; want 1 and a node status failure", status, stderr.String())
	}
}

func TestSMBHangUp(t *testing.T) {
	hangUp := nbttest.HandlerFunc(func(session.Request) nbttest.Response {
		return nbttest.Response{Serve: func(*session.Conn) {}}
	})
	s, args := start(t, hangUp, nbttest.AnswerQueries)
	var stdout, stderr bytes.Buffer
	status := run(t.Context(), append(args, "-name", "nbttest", s.Addr.String()), &stdout, &stderr)
	if status != 1 {
		t.Errorf("status %d, want 1", status)
	}
	for _, want := range []string{"called name NBTTEST<20> (Race, 1 step, ", `smb: SMB negotiate (dialect 3.0.2, user "guest"): `} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr %q does not contain %q", stderr.String(), want)
		}
	}
}

// fakeSMB2 is an SMB2 server that answers NEGOTIATE only: with success
// when it is offered accept, else with STATUS_NOT_SUPPORTED. It hangs up
// after a success, so that session setup fails.
type fakeSMB2 struct {
	t      *testing.T
	accept uint16

	mu      sync.Mutex
	offered [][]uint16 // the dialects of each NEGOTIATE
}

func (f *fakeSMB2) ServeSession(session.Request) nbttest.Response {
	return nbttest.Response{Serve: f.serve}
}

func (f *fakeSMB2) serve(c *session.Conn) {
	req, err := c.ReadMessage(nil)
	if err != nil {
		f.t.Error(err)
		return
	}
	if len(req) < 64+36 || string(req[:4]) != "\xfeSMB" || binary.LittleEndian.Uint16(req[12:]) != 0 {
		f.t.Errorf("not an SMB2 NEGOTIATE: % x", req[:min(len(req), 16)])
		return
	}
	n := int(binary.LittleEndian.Uint16(req[64+2:]))
	var offered []uint16
	for i := range n {
		offered = append(offered, binary.LittleEndian.Uint16(req[64+36+2*i:]))
	}
	f.mu.Lock()
	f.offered = append(f.offered, offered)
	f.mu.Unlock()

	resp := make([]byte, 64, 64+65)
	copy(resp, "\xfeSMB")
	binary.LittleEndian.PutUint16(resp[4:], 64) // StructureSize
	binary.LittleEndian.PutUint16(resp[14:], 1) // CreditResponse
	binary.LittleEndian.PutUint32(resp[16:], 1) // Flags: SMB2_FLAGS_SERVER_TO_REDIR
	copy(resp[24:32], req[24:32])               // MessageId
	if slices.Contains(offered, f.accept) {
		body := make([]byte, 65)
		binary.LittleEndian.PutUint16(body[0:], 65)       // StructureSize
		binary.LittleEndian.PutUint16(body[2:], 1)        // SecurityMode: signing enabled
		binary.LittleEndian.PutUint16(body[4:], f.accept) // DialectRevision
		for _, off := range []int{28, 32, 36} {           // MaxTransactSize, MaxReadSize, MaxWriteSize
			binary.LittleEndian.PutUint32(body[off:], 0x10000)
		}
		binary.LittleEndian.PutUint16(body[56:], 64+64) // SecurityBufferOffset; length 0
		c.WriteMessage(append(resp, body...))
		return
	}
	binary.LittleEndian.PutUint32(resp[8:], statusNotSupported)
	c.WriteMessage(append(resp, 9, 0, 0, 0, 0, 0, 0, 0, 0)) // ERROR response, StructureSize 9
	io.Copy(io.Discard, c)                                  // until the client hangs up
}

func (f *fakeSMB2) Offered() [][]uint16 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.offered)
}

func TestDialects(t *testing.T) {
	tests := []struct {
		name    string
		accept  uint16
		args    []string
		offered [][]uint16
		wantErr []string // substrings of stderr, in order
	}{
		{
			name:    "3.0.2 accepted",
			accept:  0x0302,
			args:    []string{"-policy", "presp5", "-user", "alice", "-password", "secret"},
			offered: [][]uint16{{0x0302}},
			wantErr: []string{"NetBIOS session with ", "called name *SMBSERVER<20> (PreSP5, 1 step, ", `smb: SMB session setup (dialect 3.0.2, user "alice"): `},
		},
		{
			name:    "server speaks 2.1 at most",
			accept:  0x0210,
			args:    []string{"-policy", "presp5"},
			offered: [][]uint16{{0x0302}, {0x0300}, {0x0210}},
			wantErr: []string{
				"SMB 3.0.2 not supported by the server; trying 3.0\n",
				"SMB 3.0 not supported by the server; trying 2.1\n",
				`smb: SMB session setup (dialect 2.1, user "guest"): `,
			},
		},
		{
			name:    "no common dialect",
			accept:  0x0311, // never offered
			args:    []string{"-policy", "sp5"},
			offered: [][]uint16{{0x0302}, {0x0300}, {0x0210}, {0x0202}},
			wantErr: []string{"called name NBTTEST<20> (SP5, 2 steps, ", "trying 2.0.2\n", `smb: SMB negotiate (dialect 2.0.2, user "guest"): `, "not supported"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeSMB2{t: t, accept: tt.accept}
			s, args := start(t, f, nbttest.AnswerQueries)
			var stdout, stderr bytes.Buffer
			status := run(t.Context(), append(append(args, tt.args...), s.Addr.String()), &stdout, &stderr)
			if status != 1 {
				t.Errorf("status %d, want 1", status)
			}
			rest := stderr.String()
			for _, want := range tt.wantErr {
				i := strings.Index(rest, want)
				if i < 0 {
					t.Errorf("no %q (in order) in stderr:\n%s", want, stderr.String())
					break
				}
				rest = rest[i+len(want):]
			}
			if got := f.Offered(); !slices.EqualFunc(got, tt.offered, slices.Equal) {
				t.Errorf("dialects offered %04x, want %04x", got, tt.offered)
			}
			// Every NetBIOS session after the first reuses the called
			// name that worked: no node status, no second guess.
			reqs := s.Requests()
			if len(reqs) != len(tt.offered) {
				t.Errorf("%d session requests, want %d", len(reqs), len(tt.offered))
			}
			for _, r := range reqs {
				if r.Called != reqs[0].Called {
					t.Errorf("called names %v, want all the same", reqs)
					break
				}
			}
		})
	}
}

// smb2Response returns one Direct-TCP framed SMB2 response.
func smb2Response(command uint16, status uint32, body []byte) []byte {
	b := make([]byte, 4+64, 4+64+len(body))
	binary.BigEndian.PutUint32(b, uint32(64+len(body)))
	copy(b[4:], "\xfeSMB")
	binary.LittleEndian.PutUint16(b[4+4:], 64)
	binary.LittleEndian.PutUint32(b[4+8:], status)
	binary.LittleEndian.PutUint16(b[4+12:], command)
	return append(b, body...)
}

func TestTap(t *testing.T) {
	negotiate := make([]byte, 65)
	binary.LittleEndian.PutUint16(negotiate, 65)
	binary.LittleEndian.PutUint16(negotiate[4:], 0x0302)
	setup := func(flags uint16) []byte {
		b := make([]byte, 9)
		binary.LittleEndian.PutUint16(b, 9)
		binary.LittleEndian.PutUint16(b[2:], flags)
		return b
	}
	errBody := []byte{9, 0, 0, 0, 0, 0, 0, 0, 0}
	const moreProcessing = 0xC0000016
	logon := slices.Concat(
		smb2Response(0, 0, negotiate),
		smb2Response(1, moreProcessing, setup(0)),
		smb2Response(1, 0, setup(sessionFlagIsGuest)),
		smb2Response(1, 0, setup(0)), // after the logon: not watched
	)
	tests := []struct {
		name     string
		stream   []byte
		dialect  uint16
		status   uint32
		ok       bool
		flags    uint16
		loggedOn bool
	}{
		{"guest logon", logon, 0x0302, 0, true, sessionFlagIsGuest, true},
		{"not supported", smb2Response(0, statusNotSupported, errBody), 0, statusNotSupported, true, 0, false},
		{"negotiate only", smb2Response(0, 0, negotiate), 0x0302, 0, true, 0, false},
		{"no negotiate", smb2Response(1, 0, setup(0)), 0, 0, false, 0, true},
		{"logon failure", slices.Concat(smb2Response(0, 0, negotiate), smb2Response(1, 0xC000006D, errBody)), 0x0302, 0, true, 0, false},
		{"SMB1", append([]byte{0, 0, 0, 70, 0xff, 'S', 'M', 'B'}, make([]byte, 70)...), 0, 0, false, 0, false},
		{"empty message", []byte{0, 0, 0, 0}, 0, 0, false, 0, false},
		{"short", logon[:40], 0, 0, false, 0, false},
		{"nothing", nil, 0, 0, false, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c1, c2 := net.Pipe()
			defer c1.Close()
			go func() {
				c2.Write(tt.stream)
				c2.Close()
			}()
			tap := &smbTap{Conn: c1}
			// Small reads, across every boundary.
			buf := make([]byte, 3)
			var got []byte
			for {
				n, err := tap.Read(buf)
				got = append(got, buf[:n]...)
				if errors.Is(err, io.EOF) {
					break
				} else if err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(got, tt.stream) {
				t.Errorf("the tap changed the stream")
			}
			dialect, status, ok := tap.Negotiated()
			if dialect != tt.dialect || status != tt.status || ok != tt.ok {
				t.Errorf("Negotiated() = %04x, %#x, %v; want %04x, %#x, %v", dialect, status, ok, tt.dialect, tt.status, tt.ok)
			}
			flags, loggedOn := tap.SessionFlags()
			if flags != tt.flags || loggedOn != tt.loggedOn {
				t.Errorf("SessionFlags() = %#x, %v; want %#x, %v", flags, loggedOn, tt.flags, tt.loggedOn)
			}
		})
	}
	for flags, want := range map[uint16]string{0: "authenticated", sessionFlagIsGuest: "guest", sessionFlagIsNull: "anonymous", 4: "authenticated"} {
		if got := sessionKind(flags); got != want {
			t.Errorf("sessionKind(%#x) = %q, want %q", flags, got, want)
		}
	}
}

func TestDialectString(t *testing.T) {
	for d, want := range map[uint16]string{0x0202: "2.0.2", 0x0210: "2.1", 0x0300: "3.0", 0x0302: "3.0.2", 0x0311: "3.1.1", 0x02FF: "2.???"} {
		if got := dialectString(d); got != want {
			t.Errorf("dialectString(%#04x) = %q, want %q", d, got, want)
		}
	}
	if slices.Contains(dialects, 0x0311) {
		t.Errorf("dialects %04x contains 3.1.1, which MS-SMB2 §2.1 forbids over NetBIOS", dialects)
	}
}

// TestParseResolver checks the wiring of the Resolver flags into the
// Dialer, without dialing: the -B row never broadcasts.
func TestParseResolver(t *testing.T) {
	type config struct {
		WINS, Broadcast []netip.Addr
		NoBroadcast     bool
		LMHosts         string
		Order           []nbt.Source
		Port            uint16
	}
	lmhosts := filepath.Join(t.TempDir(), "lmhosts")
	if err := os.WriteFile(lmhosts, []byte("127.0.0.1 LABSRV\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want config
	}{
		{name: "defaults", want: config{}},
		{
			name: "wins", args: []string{"-U", "198.18.0.5:1137,198.18.0.6", "-U", "198.18.0.7", "-no-bcast"},
			want: config{WINS: []netip.Addr{netip.MustParseAddr("198.18.0.5"), netip.MustParseAddr("198.18.0.6"), netip.MustParseAddr("198.18.0.7")}, NoBroadcast: true, Port: 1137},
		},
		{
			name: "broadcast", args: []string{"-B", "198.18.0.255", "-order", "bcast"},
			want: config{Broadcast: []netip.Addr{netip.MustParseAddr("198.18.0.255")}, Order: []nbt.Source{nbt.SourceBroadcast}},
		},
		{
			name: "lmhosts", args: []string{"-lmhosts", lmhosts, "-order", "lmhosts host"},
			want: config{LMHosts: lmhosts, Order: []nbt.Source{nbt.SourceLMHosts, nbt.SourceDNS}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, _, status := parse(append(tt.args, "LABSRV"), io.Discard)
			if status != -1 {
				t.Fatalf("status %d", status)
			}
			r := o.dialer.Resolver
			got := config{r.WINS, r.Broadcast, r.NoBroadcast, r.LMHosts, r.Order, r.NameServicePort}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Errorf("Resolver (-want +got):\n%s", diff)
			}
			if o.dialer.NameServicePort != nbns.Port {
				t.Errorf("Dialer.NameServicePort %d, want %d: -U and -B do not set it", o.dialer.NameServicePort, nbns.Port)
			}
		})
	}
}

// TestDialByName dials the NetBIOS name LABSRV, which the loopback
// nbttest Server resolves as a WINS server, and which is then the only
// called name. Broadcast is off and the order has neither bcast nor host.
func TestDialByName(t *testing.T) {
	hangUp := nbttest.HandlerFunc(func(session.Request) nbttest.Response {
		return nbttest.Response{Serve: func(*session.Conn) {}}
	})
	s := nbttest.NewUnstartedServer(hangUp)
	s.WINS = map[nbns.Name][]nbns.AddrEntry{
		nbns.MustName("LABSRV", nbns.FileServer): {{Addr: netip.MustParseAddr("127.0.0.1")}},
	}
	s.Start()
	defer s.Close()
	tests := []struct {
		name       string
		host       string
		wantStatus int
		wantErr    []string // substrings of stderr, in order
		wantCalled []nbns.Name
	}{
		{
			name: "found", host: "labsrv", wantStatus: 1,
			wantErr:    []string{"NetBIOS session with 127.0.0.1:", "called name LABSRV<20> (Race, 1 step, ", `smb: SMB negotiate (dialect 3.0.2, user "guest"): `},
			wantCalled: []nbns.Name{nbns.MustName("LABSRV", nbns.FileServer)},
		},
		{
			name: "not found", host: "NOSUCH", wantStatus: 1,
			wantErr: []string{"smb: nbt dial: dial nbt: lookup NOSUCH<20>: nbt: NetBIOS name not found; wins 127.0.0.1: nbns: negative name query response for NOSUCH<20>"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(s.Requests())
			args := []string{"-ns-port", strconv.Itoa(int(s.NameAddr.Port())), "-timeout", "5s",
				"-U", s.NameAddr.String(), "-order", "wins", "-no-bcast", tt.host + ":" + strconv.Itoa(int(s.Addr.Port()))}
			var stdout, stderr bytes.Buffer
			if status := run(t.Context(), args, &stdout, &stderr); status != tt.wantStatus {
				t.Errorf("status %d, want %d", status, tt.wantStatus)
			}
			rest := stderr.String()
			for _, want := range tt.wantErr {
				i := strings.Index(rest, want)
				if i < 0 {
					t.Errorf("no %q (in order) in stderr:\n%s", want, stderr.String())
					break
				}
				rest = rest[i+len(want):]
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
