package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/nbt/nbttest"
	"github.com/netbios-go/netbios/session"
)

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var listeningRE = regexp.MustCompile(`^listening on (\S+), relaying to `)

// startBridge runs nbtbridge with -listen 127.0.0.1:0 and args until the
// test ends, and returns its address and its stderr.
func startBridge(t *testing.T, args ...string) (string, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	stderr := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		rc := run(ctx, append([]string{"-listen", "127.0.0.1:0"}, args...), pw, stderr)
		pw.Close()
		done <- rc
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case rc := <-done:
			if rc != 0 {
				t.Errorf("nbtbridge exited with %d; stderr:\n%s", rc, stderr)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("nbtbridge still running 10s after its context ended")
		}
	})
	br := bufio.NewReader(pr)
	line, err := br.ReadString('\n')
	go io.Copy(io.Discard, br)
	m := listeningRE.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("nbtbridge printed %q, %v; stderr:\n%s", line, err, stderr)
	}
	return m[1], stderr
}

// messages returns the session messages, headers included, that one
// direction of session id carries: the first says which session it is,
// then payloads of random sizes, many tiny, some up to 0x1FFFF bytes,
// about budget bytes in all.
func messages(id int, dir string, budget int) [][]byte {
	r := rand.New(rand.NewPCG(uint64(id), uint64(len(dir))))
	msgs := [][]byte{message([]byte(fmt.Sprintf("session %04d", id)))}
	for total := 0; total < budget; {
		var n int
		switch k := r.IntN(10); {
		case k < 5:
			n = r.IntN(200)
		case k < 9:
			n = r.IntN(8 << 10)
		default:
			n = r.IntN(session.MaxLength + 1)
		}
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(r.Uint32())
		}
		msgs = append(msgs, message(p))
		total += len(p)
	}
	return msgs
}

// message returns the session message carrying p, header included.
func message(p []byte) []byte {
	return append([]byte{0, byte(len(p) >> 16), byte(len(p) >> 8), byte(len(p))}, p...)
}

// keepAlive is a SESSION KEEP ALIVE.
var keepAlive = []byte{0x85, 0, 0, 0}

// digest is what a side received: its length and SHA-256.
type digest struct {
	N   int
	Sum [sha256.Size]byte
}

func digestOf(msgs [][]byte) digest {
	h := sha256.New()
	n := 0
	for _, m := range msgs {
		h.Write(m)
		n += len(m)
	}
	var d digest
	d.N = n
	h.Sum(d.Sum[:0])
	return d
}

// an end is one side of a session as a test peer sees it.
type end struct {
	conn net.Conn     // the stream of messages: a *session.Conn, or TCP for Direct TCP
	raw  *net.TCPConn // where keep-alives go, between messages; nil for Direct TCP
	r    *rand.Rand   // of send
	rbuf int          // the size of receive's reads
}

// newEnd returns an end over conn whose random cuts and reads come from
// seed.
func newEnd(conn net.Conn, raw *net.TCPConn, seed uint64) *end {
	r := rand.New(rand.NewPCG(seed, 5))
	return &end{conn: conn, raw: raw, r: r, rbuf: 1 + r.IntN(64<<10)}
}

// send writes msgs, each cut in random pieces, with a keep-alive before a
// third of them when the end is NetBIOS.
func (e *end) send(msgs [][]byte) error {
	for _, m := range msgs {
		if e.raw != nil && e.r.IntN(3) == 0 {
			if _, err := e.raw.Write(keepAlive); err != nil {
				return err
			}
		}
		for len(m) > 0 {
			k := min(len(m), 1+e.r.IntN(20000))
			if _, err := e.conn.Write(m[:k]); err != nil {
				return err
			}
			m = m[k:]
		}
	}
	return nil
}

// receive reads until EOF and returns what came.
func (e *end) receive() (digest, error) {
	h := sha256.New()
	buf := make([]byte, e.rbuf)
	n, err := io.CopyBuffer(h, struct{ io.Reader }{e.conn}, buf)
	var d digest
	d.N = int(n)
	h.Sum(d.Sum[:0])
	return d, err
}

// readID reads the first message, which names the session.
func (e *end) readID() (int, error) {
	hdr := make([]byte, 4)
	if _, err := io.ReadFull(e.conn, hdr); err != nil {
		return 0, err
	}
	p := make([]byte, int(hdr[1])<<16|int(hdr[2])<<8|int(hdr[3]))
	if _, err := io.ReadFull(e.conn, p); err != nil {
		return 0, err
	}
	id, ok := strings.CutPrefix(string(p), "session ")
	if !ok {
		return 0, fmt.Errorf("first message %q", p)
	}
	return strconv.Atoi(id)
}

// Orders of the half-closes.
const (
	clientFirst = "client half-closes first" // the server sends only after the client's EOF
	serverFirst = "server half-closes first" // the client sends (but its first message) only after the server's EOF
	together    = "both at once"
)

// scenario is what each session of a test does.
type scenario struct {
	order  string
	budget int // bytes each way, about
}

// serverResult is what the test server saw of session id.
type serverResult struct {
	id  int
	got digest
	err error
}

// serve runs the server's side of a session on e.
func (sc scenario) serve(e *end, closeWrite func() error, results chan<- serverResult) {
	e.conn.SetDeadline(time.Now().Add(60 * time.Second))
	id, err := e.readID()
	if err != nil {
		results <- serverResult{id: -1, err: err}
		return
	}
	sendAll := func() error {
		if err := e.send(messages(id, "down", sc.budget)); err != nil {
			return err
		}
		return closeWrite()
	}
	var got digest
	switch sc.order {
	case clientFirst:
		if got, err = e.receive(); err == nil {
			err = sendAll()
		}
	case serverFirst:
		if err = sendAll(); err == nil {
			got, err = e.receive()
		}
	case together:
		errc := make(chan error, 1)
		go func() { errc <- sendAll() }()
		got, err = e.receive()
		err = errors.Join(err, <-errc)
	}
	got.N += len(message([]byte(fmt.Sprintf("session %04d", id)))) // read by readID
	results <- serverResult{id: id, got: got, err: err}
}

// client runs the client's side of session id on e and returns what it
// received.
func (sc scenario) client(id int, e *end, closeWrite func() error) (digest, error) {
	e.conn.SetDeadline(time.Now().Add(60 * time.Second))
	up := messages(id, "up", sc.budget)
	sendAll := func(msgs [][]byte) error {
		if err := e.send(msgs); err != nil {
			return err
		}
		return closeWrite()
	}
	switch sc.order {
	case clientFirst:
		if err := sendAll(up); err != nil {
			return digest{}, err
		}
		return e.receive()
	case serverFirst:
		if err := e.send(up[:1]); err != nil {
			return digest{}, err
		}
		got, err := e.receive()
		if err != nil {
			return got, err
		}
		return got, sendAll(up[1:])
	}
	errc := make(chan error, 1)
	go func() { errc <- sendAll(up) }()
	got, err := e.receive()
	return got, errors.Join(err, <-errc)
}

// checkServer checks that the server got every byte of each session's
// stream, each session once.
func checkServer(t *testing.T, results <-chan serverResult, sessions, budget int) {
	t.Helper()
	seen := map[int]bool{}
	for range sessions {
		var r serverResult
		select {
		case r = <-results:
		case <-time.After(60 * time.Second):
			t.Fatal("the server side of a session did not end within 60s")
		}
		if r.err != nil {
			t.Errorf("server, session %d: %v", r.id, r.err)
			continue
		}
		if seen[r.id] {
			t.Errorf("server: session %d twice", r.id)
		}
		seen[r.id] = true
		// The server hashed the stream after the first message; redo the
		// expected digest the same way.
		want := digestOf(messages(r.id, "up", budget)[1:])
		want.N += len(message([]byte(fmt.Sprintf("session %04d", r.id))))
		if d := cmp.Diff(want, r.got); d != "" {
			t.Errorf("server, session %d: received (-want +got):\n%s", r.id, d)
		}
	}
}

// netbiosServer starts an nbttest server whose sessions run sc, with
// keep-alives between its messages.
func netbiosServer(t *testing.T, sc scenario, results chan<- serverResult) *nbttest.Server {
	s := nbttest.NewServer(nbttest.HandlerFunc(func(session.Request) nbttest.Response {
		return nbttest.Response{Serve: func(c *session.Conn) {
			raw := c.NetConn().(*net.TCPConn)
			sc.serve(newEnd(c, raw, 1), raw.CloseWrite, results)
		}}
	}))
	t.Cleanup(s.Close)
	return s
}

// directServer starts a Direct-TCP server on loopback whose sessions run
// sc.
func directServer(t *testing.T, sc scenario, results chan<- serverResult) string {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				tc := c.(*net.TCPConn)
				sc.serve(newEnd(tc, nil, 3), tc.CloseWrite, results)
			})
		}
	})
	return ln.Addr().String()
}

// dialClient opens a client's connection to the bridge at addr: Direct
// TCP, or a NetBIOS session calling called.
func dialClient(t *testing.T, addr string, netbios bool, called nbns.Name, seed uint64) (*end, func() error, error) {
	nc, err := net.Dial("tcp4", addr)
	if err != nil {
		return nil, nil, err
	}
	t.Cleanup(func() { nc.Close() })
	tc := nc.(*net.TCPConn)
	e := newEnd(tc, nil, seed)
	if netbios {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := new(session.Dialer).DialConn(ctx, tc, session.Request{Called: called, Calling: nbns.MustName("CLIENT", nbns.Workstation)})
		if err != nil {
			return nil, nil, err
		}
		e.conn, e.raw = c, tc
	}
	return e, tc.CloseWrite, nil
}

// TestBridge relays sessions both ways, many at once: Direct-TCP and
// NetBIOS clients to a NetBIOS server (-to HOST) and to a Direct-TCP one
// (-to HOST:445 style). Both sides check every byte they receive against
// what the other sent, less the keep-alives that the NetBIOS sides put
// between their messages (and the bridge too, with -keepalive), and each
// order of half-closes is carried through.
func TestBridge(t *testing.T) {
	tests := []struct {
		name      string
		direct    bool // the server speaks Direct TCP
		netbios   bool // the clients send session requests
		called    nbns.Name
		order     string
		sessions  int
		budget    int
		extraArgs []string
	}{
		{name: "Direct client to NetBIOS server", order: together, sessions: 4, budget: 300 << 10},
		{name: "Direct client to NetBIOS server, " + clientFirst, order: clientFirst, sessions: 2, budget: 100 << 10},
		{name: "Direct client to NetBIOS server, " + serverFirst, order: serverFirst, sessions: 2, budget: 100 << 10},
		{name: "NetBIOS client to NetBIOS server", netbios: true, called: nbns.MustName("ANY", nbns.FileServer), order: together, sessions: 2, budget: 100 << 10},
		{name: "NetBIOS client to Direct server", direct: true, netbios: true, called: nbns.MustName("FILESRV", nbns.FileServer), order: together, sessions: 4, budget: 300 << 10, extraArgs: []string{"-name", "filesrv"}},
		{name: "NetBIOS client calling *SMBSERVER to Direct server", direct: true, netbios: true, called: session.SMBServer, order: clientFirst, sessions: 2, budget: 100 << 10, extraArgs: []string{"-name", "FILESRV"}},
		{name: "NetBIOS client to Direct server, " + serverFirst, direct: true, netbios: true, called: nbns.MustName("FILESRV", nbns.FileServer), order: serverFirst, sessions: 2, budget: 100 << 10, extraArgs: []string{"-name", "FILESRV"}},
		{name: "Direct client to Direct server", direct: true, order: together, sessions: 2, budget: 100 << 10},
		{name: "bridge keep-alives", netbios: true, called: nbns.MustName("ANY", nbns.FileServer), order: serverFirst, sessions: 2, budget: 50 << 10, extraArgs: []string{"-keepalive", "1ms"}},
		{name: "many sessions", order: together, sessions: 32, budget: 64 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := scenario{order: tt.order, budget: tt.budget}
			results := make(chan serverResult, tt.sessions)
			args := []string{"-v"}
			if tt.direct {
				args = append(args, "-direct", "-to", directServer(t, sc, results))
			} else {
				s := netbiosServer(t, sc, results)
				args = append(args, "-to", s.Addr.String(), "-ns-port", strconv.Itoa(int(s.NameAddr.Port())), "-policy", "presp5")
			}
			addr, stderr := startBridge(t, append(args, tt.extraArgs...)...)
			defer func() {
				if t.Failed() {
					t.Logf("nbtbridge's stderr:\n%s", stderr)
				}
			}()
			var wg sync.WaitGroup
			for id := range tt.sessions {
				wg.Go(func() {
					e, closeWrite, err := dialClient(t, addr, tt.netbios, tt.called, uint64(id))
					if err != nil {
						t.Errorf("client %d: %v", id, err)
						results <- serverResult{id: id, err: errors.New("the client did not connect")}
						return
					}
					got, err := sc.client(id, e, closeWrite)
					if err != nil {
						t.Errorf("client %d: %v", id, err)
					}
					if d := cmp.Diff(digestOf(messages(id, "down", tt.budget)), got); d != "" {
						t.Errorf("client %d: received (-want +got):\n%s", id, d)
					}
				})
			}
			wg.Wait()
			checkServer(t, results, tt.sessions, tt.budget)
		})
	}
}

// TestBridgeRefusals: with -name, the listener refuses other called names
// with 0x82, accepts NAME and *SMBSERVER, and each refusal leaves the
// bridge serving.
func TestBridgeRefusals(t *testing.T) {
	results := make(chan serverResult, 8)
	sc := scenario{order: together, budget: 1000}
	addr, _ := startBridge(t, "-name", "FILESRV", "-direct", "-to", directServer(t, sc, results))
	tests := []struct {
		called nbns.Name
		want   error
	}{
		{nbns.MustName("OTHER", nbns.FileServer), session.ErrCalledNameNotPresent},
		{nbns.MustName("FILESRV", nbns.Workstation), session.ErrCalledNameNotPresent},
		{nbns.MustName("127.0.0.1", nbns.FileServer), session.ErrCalledNameNotPresent},
		{nbns.MustName("FILESRV", nbns.FileServer), nil},
		{session.SMBServer, nil},
	}
	accepted := 0
	for i, tt := range tests {
		t.Run(tt.called.String(), func(t *testing.T) {
			e, closeWrite, err := dialClient(t, addr, true, tt.called, uint64(i))
			if !errors.Is(err, tt.want) {
				t.Fatalf("dial calling %v: %v, want %v", tt.called, err, tt.want)
			}
			if err != nil {
				return
			}
			accepted++
			if _, err := sc.client(100+i, e, closeWrite); err != nil {
				t.Error(err)
			}
		})
	}
	checkServer(t, results, accepted, sc.budget)
}
