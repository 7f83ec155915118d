package session

// Tests of Dialer.Dial against small fake session services on 127.0.0.1,
// each connection handled by a func of the test that reads the 72-byte
// session request and writes raw bytes. The Dialer dials through
// recDialer, which records every address and dials only loopback ones.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/netbios-go/netbios/nbns"
)

// cmpNames compares the types with unexported fields that the tests
// compare: names and addresses.
var cmpNames = cmpopts.EquateComparable(nbns.Name{}, netip.AddrPort{})

var testReq = Request{Called: nbns.MustName("LABSRV", nbns.FileServer), Calling: nbns.MustName("CLIENT", nbns.Workstation)}

// A handler serves the i-th connection (from 0) of a fake server.
type handler func(t *testing.T, i int, c *net.TCPConn)

// fakeServer is a session service on 127.0.0.1 for one test.
type fakeServer struct {
	ln    net.Listener
	addr  netip.AddrPort
	conns atomic.Int32
	wg    sync.WaitGroup
	once  sync.Once
}

// newFakeServer starts a server whose connections h handles; see listen.
func newFakeServer(t *testing.T, h handler) *fakeServer {
	t.Helper()
	s := listen(t)
	s.serve(t, h)
	return s
}

// listen opens a server's listener, so that its address is known before
// it serves. The test's cleanup closes it and waits for its handlers.
func listen(t *testing.T) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{ln: ln, addr: ln.Addr().(*net.TCPAddr).AddrPort()}
	t.Cleanup(func() { s.close() })
	return s
}

// serve accepts connections and has h handle each, with a deadline of 10s
// so that no handler outlives a failed test for long.
func (s *fakeServer) serve(t *testing.T, h handler) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := s.ln.Accept()
			if err != nil {
				return
			}
			i := int(s.conns.Add(1)) - 1
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				h(t, i, c.(*net.TCPConn))
			}()
		}
	}()
}

// close stops the server, waits for its handlers, and returns how many
// connections it accepted.
func (s *fakeServer) close() int {
	s.once.Do(func() {
		s.ln.Close()
		s.wg.Wait()
	})
	return int(s.conns.Load())
}

// closedPort returns a loopback address where nothing listens.
func closedPort(t *testing.T) netip.AddrPort {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr).AddrPort()
	ln.Close()
	return addr
}

// readRequest reads the 72-byte session request of testReq and checks its
// bytes.
func readRequest(t *testing.T, c net.Conn) bool {
	t.Helper()
	want, err := testReq.MarshalBinary()
	if err != nil {
		t.Error(err)
		return false
	}
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Errorf("server: reading the request: %v", err)
		return false
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("server: request (-want +got):\n%s", d)
		return false
	}
	return true
}

// reply reads the request, then writes b and closes.
func reply(b ...[]byte) handler {
	return func(t *testing.T, _ int, c *net.TCPConn) {
		if readRequest(t, c) {
			c.Write(cat(b...))
		}
	}
}

// silent reads the request and answers nothing until the caller leaves.
func silent(read chan<- struct{}) handler {
	return func(t *testing.T, _ int, c *net.TCPConn) {
		if readRequest(t, c) && read != nil {
			read <- struct{}{}
		}
		io.Copy(io.Discard, c)
	}
}

var positive = []byte{0x82, 0x00, 0x00, 0x00}

// echo accepts the session, then sends back every message it gets.
func echo(t *testing.T, _ int, c *net.TCPConn) {
	if !readRequest(t, c) {
		return
	}
	if _, err := c.Write(positive); err != nil {
		t.Errorf("server: %v", err)
		return
	}
	sc := NewConn(c, testReq, nil)
	for {
		m, err := sc.ReadMessage(nil)
		if err != nil {
			return
		}
		if err := sc.WriteMessage(m); err != nil {
			return
		}
	}
}

// byConn handles the i-th connection with hs[i], or the last of hs.
func byConn(hs ...handler) handler {
	return func(t *testing.T, i int, c *net.TCPConn) {
		hs[min(i, len(hs)-1)](t, i, c)
	}
}

// retargetTo returns a RETARGET SESSION RESPONSE to a.
func retargetTo(a netip.AddrPort) []byte {
	ip := a.Addr().As4()
	return cat([]byte{0x84, 0x00, 0x00, 0x06}, ip[:], []byte{byte(a.Port() >> 8), byte(a.Port())})
}

// recDialer records every address it is asked to dial and dials only
// loopback ones; wrap, if set, wraps each conn.
type recDialer struct {
	mu    sync.Mutex
	addrs []string
	wrap  func(net.Conn) net.Conn
}

func (d *recDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	d.mu.Lock()
	d.addrs = append(d.addrs, address)
	d.mu.Unlock()
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !ap.Addr().Unmap().IsLoopback() || network != "tcp4" {
		return nil, fmt.Errorf("test dialer: not dialing %s %s: loopback only", network, address)
	}
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, address)
	if err == nil && d.wrap != nil {
		c = d.wrap(c)
	}
	return c, err
}

func (d *recDialer) dialed() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.addrs...)
}

// countConn counts the bytes read from it.
type countConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// traceLog returns a Trace that logs each hook call as a line.
func traceLog() (*Trace, func() []string) {
	var mu sync.Mutex
	var log []string
	add := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		log = append(log, fmt.Sprintf(format, args...))
	}
	tr := &Trace{
		ConnectStart: func(i ConnectStartInfo) { add("ConnectStart %v", i.Addr) },
		ConnectDone:  func(i ConnectDoneInfo) { add("ConnectDone %v %v", i.Addr, errClass(i.Err)) },
		RequestSent: func(i RequestInfo) {
			add("RequestSent %v %v %v", i.Addr, i.Request.Called, errClass(i.Err))
		},
		ResponseReceived: func(i ResponseInfo) {
			add("ResponseReceived %v %v %v", i.Addr, i.Response.String(), errClass(i.Err))
		},
	}
	return tr, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), log...)
	}
}

// errClass names an error briefly for traceLog.
func errClass(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	}
	if _, ok := errors.AsType[*NegativeResponseError](err); ok {
		return "refusal"
	}
	if _, ok := errors.AsType[*RetargetError](err); ok {
		return "retarget"
	}
	return err.Error()
}

// checkOpError checks that err is the *net.OpError of a dial to addr.
func checkOpError(t *testing.T, err error, addr netip.AddrPort) {
	t.Helper()
	var oe *net.OpError
	if !errors.As(err, &oe) {
		t.Fatalf("error %v (%T), want a *net.OpError", err, err)
	}
	if oe.Op != "dial" || oe.Net != "tcp4" || oe.Addr == nil || oe.Addr.String() != addr.String() {
		t.Errorf("OpError{Op: %q, Net: %q, Addr: %v}, want {dial, tcp4, %v}", oe.Op, oe.Net, oe.Addr, addr)
	}
}

// dialWith dials addr with d, through a new recDialer unless d has a
// NetDialer, and fails the test when the dial takes more than 10s.
func dialWith(t *testing.T, ctx context.Context, d *Dialer, addr netip.AddrPort) (*Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if d.NetDialer == nil {
		d.NetDialer = &recDialer{}
	}
	c, err := d.DialContext(ctx, addr, testReq)
	if c != nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

// echoOnce sends a message on c and checks that the echo server returns it.
func echoOnce(t *testing.T, c *Conn, msg string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.SetDeadline(time.Time{})
	if err := c.WriteMessage([]byte(msg)); err != nil {
		t.Fatalf("WriteMessage: %v", err)
	}
	got, err := c.ReadMessage(nil)
	if err != nil || string(got) != msg {
		t.Fatalf("ReadMessage = %q, %v; want %q", got, err, msg)
	}
}

func TestDialPositive(t *testing.T) {
	s := newFakeServer(t, echo)
	tr, log := traceLog()
	rec := &recDialer{}
	d := &Dialer{NetDialer: rec, Trace: tr}
	c, err := dialWith(t, t.Context(), d, s.addr)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.RemoteAddr().(*net.TCPAddr).AddrPort(); got != s.addr {
		t.Errorf("RemoteAddr %v, want %v", got, s.addr)
	}
	if d := cmp.Diff(testReq, c.Request(), cmpNames); d != "" {
		t.Errorf("Request (-want +got):\n%s", d)
	}
	echoOnce(t, c, "ping")
	want := []string{
		"ConnectStart " + s.addr.String(),
		"ConnectDone " + s.addr.String() + " ok",
		"RequestSent " + s.addr.String() + " LABSRV<20> ok",
		"ResponseReceived " + s.addr.String() + " positive ok",
	}
	if d := cmp.Diff(want, log()); d != "" {
		t.Errorf("trace (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{s.addr.String()}, rec.dialed()); d != "" {
		t.Errorf("dialed (-want +got):\n%s", d)
	}
}

// TestDialContextAfterDial: once Dial has returned the conn, its context
// no longer bounds it, neither by cancel nor by deadline.
func TestDialContextAfterDial(t *testing.T) {
	s := newFakeServer(t, echo)
	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		c, err := dialWith(t, ctx, &Dialer{}, s.addr)
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		echoOnce(t, c, "after cancel")
	})
	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		c, err := dialWith(t, ctx, &Dialer{}, s.addr)
		if err != nil {
			t.Fatal(err)
		}
		<-ctx.Done() // bounded by the 200ms
		if err := c.WriteMessage([]byte("after the deadline")); err != nil {
			t.Fatalf("WriteMessage: %v", err)
		}
		got, err := c.ReadMessage(nil)
		if err != nil || string(got) != "after the deadline" {
			t.Fatalf("ReadMessage = %q, %v", got, err)
		}
	})
}

// TestDialNegative: each NEGATIVE SESSION RESPONSE code, defined or not,
// comes back as a *NegativeResponseError inside the *net.OpError, and
// errors.Is finds the code, and no other.
func TestDialNegative(t *testing.T) {
	codes := []ErrorCode{ErrNotListeningOnCalledName, ErrNotListeningForCallingName, ErrCalledNameNotPresent, ErrInsufficientResources, ErrUnspecified, 0x8A}
	for _, code := range codes {
		t.Run(code.GoString(), func(t *testing.T) {
			s := newFakeServer(t, reply([]byte{0x83, 0x00, 0x00, 0x01, byte(code)}))
			tr, log := traceLog()
			c, err := dialWith(t, t.Context(), &Dialer{Trace: tr}, s.addr)
			if c != nil {
				t.Fatal("Dial returned a conn")
			}
			checkOpError(t, err, s.addr)
			if !errors.Is(err, code) {
				t.Errorf("errors.Is(%v, %#v) = false", err, code)
			}
			for _, other := range codes {
				if other != code && errors.Is(err, other) {
					t.Errorf("errors.Is(%v, %#v) = true", err, other)
				}
			}
			ne, ok := errors.AsType[*NegativeResponseError](err)
			if !ok {
				t.Fatalf("error %v: no *NegativeResponseError", err)
			}
			if d := cmp.Diff(&NegativeResponseError{Called: testReq.Called, Code: code}, ne, cmpNames); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
			if !strings.Contains(err.Error(), code.Error()) {
				t.Errorf("error %q does not say %q", err, code.Error())
			}
			if got := log(); len(got) != 4 || got[3] != fmt.Sprintf("ResponseReceived %v negative: %v refusal", s.addr, code) {
				t.Errorf("trace %q", got)
			}
			if n := s.close(); n != 1 {
				t.Errorf("server saw %d connections, want 1", n)
			}
		})
	}
}

// TestDialRetarget follows RETARGET SESSION RESPONSEs as RFC 1002
// §5.2.1.1 says, within MaxConnects connects (SSN_RETRY_COUNT by default),
// and back to the original address when a retarget's connect fails.
func TestDialRetarget(t *testing.T) {
	t.Run("A to B", func(t *testing.T) {
		b := newFakeServer(t, echo)
		a := newFakeServer(t, reply(retargetTo(b.addr)))
		tr, log := traceLog()
		c, err := dialWith(t, t.Context(), &Dialer{Trace: tr}, a.addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.RemoteAddr().(*net.TCPAddr).AddrPort(); got != b.addr {
			t.Errorf("RemoteAddr %v, want B %v", got, b.addr)
		}
		echoOnce(t, c, "via B")
		want := []string{
			fmt.Sprintf("ConnectStart %v", a.addr),
			fmt.Sprintf("ConnectDone %v ok", a.addr),
			fmt.Sprintf("RequestSent %v LABSRV<20> ok", a.addr),
			fmt.Sprintf("ResponseReceived %v retarget to %v retarget", a.addr, b.addr),
			fmt.Sprintf("ConnectStart %v", b.addr),
			fmt.Sprintf("ConnectDone %v ok", b.addr),
			fmt.Sprintf("RequestSent %v LABSRV<20> ok", b.addr),
			fmt.Sprintf("ResponseReceived %v positive ok", b.addr),
		}
		if d := cmp.Diff(want, log()); d != "" {
			t.Errorf("trace (-want +got):\n%s", d)
		}
	})
	t.Run("A to A", func(t *testing.T) {
		a := listen(t)
		a.serve(t, reply(retargetTo(a.addr)))
		_, err := dialWith(t, t.Context(), &Dialer{}, a.addr)
		checkOpError(t, err, a.addr)
		le, ok := errors.AsType[*RetargetLimitError](err)
		if !ok {
			t.Fatalf("error %v, want a *RetargetLimitError", err)
		}
		want := []netip.AddrPort{a.addr, a.addr, a.addr, a.addr}
		if d := cmp.Diff(want, le.Chain, cmpNames); d != "" {
			t.Errorf("chain (-want +got):\n%s", d)
		}
		if n := a.close(); n != SSNRetryCount {
			t.Errorf("server saw %d connections, want SSNRetryCount (%d)", n, SSNRetryCount)
		}
	})
	t.Run("A to B to A, which accepts", func(t *testing.T) {
		a, b := listen(t), listen(t)
		a.serve(t, byConn(reply(retargetTo(b.addr)), echo))
		b.serve(t, reply(retargetTo(a.addr)))
		rec := &recDialer{}
		c, err := dialWith(t, t.Context(), &Dialer{NetDialer: rec}, a.addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.RemoteAddr().(*net.TCPAddr).AddrPort(); got != a.addr {
			t.Errorf("RemoteAddr %v, want A %v", got, a.addr)
		}
		echoOnce(t, c, "back at A")
		if d := cmp.Diff([]string{a.addr.String(), b.addr.String(), a.addr.String()}, rec.dialed()); d != "" {
			t.Errorf("dialed (-want +got):\n%s", d)
		}
	})
	t.Run("A to B to A loop", func(t *testing.T) {
		a, b := listen(t), listen(t)
		a.serve(t, reply(retargetTo(b.addr)))
		b.serve(t, reply(retargetTo(a.addr)))
		_, err := dialWith(t, t.Context(), &Dialer{}, a.addr)
		le, ok := errors.AsType[*RetargetLimitError](err)
		if !ok {
			t.Fatalf("error %v, want a *RetargetLimitError", err)
		}
		if d := cmp.Diff([]netip.AddrPort{a.addr, b.addr, a.addr, b.addr}, le.Chain, cmpNames); d != "" {
			t.Errorf("chain (-want +got):\n%s", d)
		}
		if na, nb := a.close(), b.close(); na != 2 || nb != 2 {
			t.Errorf("servers saw %d and %d connections, want 2 and 2", na, nb)
		}
	})
	t.Run("to a closed port, back to the original", func(t *testing.T) {
		closed := closedPort(t)
		a := newFakeServer(t, byConn(reply(retargetTo(closed)), echo))
		tr, log := traceLog()
		rec := &recDialer{}
		c, err := dialWith(t, t.Context(), &Dialer{NetDialer: rec, Trace: tr}, a.addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.RemoteAddr().(*net.TCPAddr).AddrPort(); got != a.addr {
			t.Errorf("RemoteAddr %v, want the original %v", got, a.addr)
		}
		echoOnce(t, c, "back at the original")
		if d := cmp.Diff([]string{a.addr.String(), closed.String(), a.addr.String()}, rec.dialed()); d != "" {
			t.Errorf("dialed (-want +got):\n%s", d)
		}
		if got := log(); len(got) < 6 || got[5] != fmt.Sprintf("ConnectDone %v refused", closed) {
			t.Errorf("trace %q: want the refused connect to %v at [5]", got, closed)
		}
	})
	for _, max := range []int{-1, 1} {
		t.Run(fmt.Sprintf("MaxConnects %d", max), func(t *testing.T) {
			b := newFakeServer(t, echo)
			a := newFakeServer(t, reply(retargetTo(b.addr)))
			rec := &recDialer{}
			_, err := dialWith(t, t.Context(), &Dialer{NetDialer: rec, MaxConnects: max}, a.addr)
			checkOpError(t, err, a.addr)
			re, ok := errors.AsType[*RetargetError](err)
			if !ok {
				t.Fatalf("error %v, want the *RetargetError", err)
			}
			if d := cmp.Diff(&RetargetError{Called: testReq.Called, Addr: b.addr}, re, cmpNames); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
			if d := cmp.Diff([]string{a.addr.String()}, rec.dialed()); d != "" {
				t.Errorf("dialed (-want +got):\n%s", d)
			}
			if n := b.close(); n != 0 {
				t.Errorf("B saw %d connections, want 0", n)
			}
		})
	}
	t.Run("MaxConnects 2", func(t *testing.T) {
		a := listen(t)
		a.serve(t, reply(retargetTo(a.addr)))
		_, err := dialWith(t, t.Context(), &Dialer{MaxConnects: 2}, a.addr)
		le, ok := errors.AsType[*RetargetLimitError](err)
		if !ok {
			t.Fatalf("error %v, want a *RetargetLimitError", err)
		}
		if d := cmp.Diff([]netip.AddrPort{a.addr, a.addr}, le.Chain, cmpNames); d != "" {
			t.Errorf("chain (-want +got):\n%s", d)
		}
	})
}

// TestDialBadRetarget: a retarget to an address that cannot be a session
// service is refused with an error that says so, without a connect.
func TestDialBadRetarget(t *testing.T) {
	for _, target := range []string{"0.0.0.0:139", "198.18.0.2:0", "255.255.255.255:139", "224.0.0.1:139"} {
		t.Run(target, func(t *testing.T) {
			bad := netip.MustParseAddrPort(target)
			a := newFakeServer(t, reply(retargetTo(bad)))
			rec := &recDialer{}
			_, err := dialWith(t, t.Context(), &Dialer{NetDialer: rec}, a.addr)
			checkOpError(t, err, a.addr)
			re, ok := errors.AsType[*RetargetError](err)
			if !ok || re.Addr != bad {
				t.Errorf("error %v: want a *RetargetError to %v", err, bad)
			}
			if !strings.Contains(err.Error(), "refusing to follow") || !strings.Contains(err.Error(), target) {
				t.Errorf("error %q: want it to name %s and refuse to follow it", err, target)
			}
			if d := cmp.Diff([]string{a.addr.String()}, rec.dialed()); d != "" {
				t.Errorf("dialed (-want +got):\n%s", d)
			}
		})
	}
}

// TestDialKeepAlives: keep-alives before the answer are skipped, up to 16;
// a server that sends more is not answering, and the dialer stops after
// reading 17 of them, however many were sent.
func TestDialKeepAlives(t *testing.T) {
	tests := []struct {
		n    int
		ok   bool
		read int64 // bytes the dialer reads
	}{
		{0, true, 4},
		{3, true, 4*3 + 4},
		{16, true, 4*16 + 4},
		{17, false, 4 * 17},
		{100_000, false, 4 * 17},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.n), func(t *testing.T) {
			s := newFakeServer(t, reply(bytes.Repeat(keepAlive, tt.n), positive))
			var read atomic.Int64
			rec := &recDialer{wrap: func(c net.Conn) net.Conn { return countConn{c, &read} }}
			c, err := dialWith(t, t.Context(), &Dialer{NetDialer: rec}, s.addr)
			switch {
			case tt.ok && err != nil:
				t.Fatal(err)
			case !tt.ok && (c != nil || !errors.Is(err, errKeepAlives)):
				t.Fatalf("error %v, want errKeepAlives", err)
			}
			if got := read.Load(); got != tt.read {
				t.Errorf("the dialer read %d bytes, want %d", got, tt.read)
			}
		})
	}
}

// TestDialRogue: answers with lengths that lie, or of the wrong type, fail
// after their 4-byte header, before the dialer reads anything more.
func TestDialRogue(t *testing.T) {
	request, err := testReq.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		answer     []byte
		unexpected bool // ErrUnexpectedPacket; otherwise a *ParseError
	}{
		{"positive claiming 0xFFFF", []byte{0x82, 0x00, 0xFF, 0xFF}, false},
		{"positive with the E bit", []byte{0x82, 0x01, 0x00, 0x00}, false},
		{"positive with flags 0x02", []byte{0x82, 0x02, 0x00, 0x00}, false},
		{"negative with length 0", []byte{0x83, 0x00, 0x00, 0x00}, false},
		{"negative with length 5", []byte{0x83, 0x00, 0x00, 0x05, 0x82, 0, 0, 0, 0}, false},
		{"retarget with length 4", []byte{0x84, 0x00, 0x00, 0x04, 127, 0, 0, 1}, false},
		{"retarget with length 0xFFFF", []byte{0x84, 0x00, 0xFF, 0xFF}, false},
		{"keep-alive with length 1", []byte{0x85, 0x00, 0x00, 0x01, 0x00}, false},
		{"session message", message([]byte("hello")), true},
		{"our request echoed", request, true},
		{"type 0x86", []byte{0x86, 0x00, 0x00, 0x00}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newFakeServer(t, reply(tt.answer, bytes.Repeat([]byte{0xEE}, 64)))
			var read atomic.Int64
			rec := &recDialer{wrap: func(c net.Conn) net.Conn { return countConn{c, &read} }}
			c, err := dialWith(t, t.Context(), &Dialer{NetDialer: rec}, s.addr)
			if c != nil {
				t.Fatal("Dial returned a conn")
			}
			checkOpError(t, err, s.addr)
			if tt.unexpected && !errors.Is(err, ErrUnexpectedPacket) {
				t.Errorf("error %v, want ErrUnexpectedPacket", err)
			}
			if _, ok := errors.AsType[*ParseError](err); !ok {
				t.Errorf("error %v, want a *ParseError", err)
			}
			if got := read.Load(); got != HeaderLen {
				t.Errorf("the dialer read %d bytes, want only the header", got)
			}
		})
	}
}

// TestDialClosedEarly: a server that closes or resets the connection
// before its answer is complete.
func TestDialClosedEarly(t *testing.T) {
	tests := []struct {
		name string
		h    handler
		want error
	}{
		{"no answer", reply(), ErrClosedBeforeAnswer},
		{"half a header", reply([]byte{0x82, 0x00}), ErrClosedBeforeAnswer},
		{"keep-alive, then half a header", reply(keepAlive, []byte{0x82}), ErrClosedBeforeAnswer},
		{"negative without its code", reply([]byte{0x83, 0x00, 0x00, 0x01}), ErrClosedBeforeAnswer},
		{"half a retarget", reply([]byte{0x84, 0x00, 0x00, 0x06, 127, 0}), ErrClosedBeforeAnswer},
		{"reset in the middle of the answer", func(t *testing.T, _ int, c *net.TCPConn) {
			if readRequest(t, c) {
				c.Write([]byte{0x83, 0x00})
				c.SetLinger(0)
			}
		}, syscall.ECONNRESET},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newFakeServer(t, tt.h)
			_, err := dialWith(t, t.Context(), &Dialer{}, s.addr)
			checkOpError(t, err, s.addr)
			if !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
		})
	}
}

// TestDialContext: the context bounds the handshake; its error is what
// Dial reports, not the I/O error its end caused.
func TestDialContext(t *testing.T) {
	t.Run("deadline, server silent", func(t *testing.T) {
		s := newFakeServer(t, silent(nil))
		// Several short deadlines, to catch a race between the deadline the
		// dialer puts on the conn and the context's own timer.
		for range 10 {
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
			start := time.Now()
			_, err := dialWith(t, ctx, &Dialer{}, s.addr)
			cancel()
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Dial returned after %v", d)
			}
			checkOpError(t, err, s.addr)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("error %v, want context.DeadlineExceeded", err)
			}
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Errorf("error %v: want a net.Error with Timeout() true", err)
			}
		}
	})
	t.Run("cancel during the handshake", func(t *testing.T) {
		read := make(chan struct{}, 1)
		s := newFakeServer(t, silent(read))
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		done := make(chan error, 1)
		go func() {
			_, err := dialWith(t, ctx, &Dialer{}, s.addr)
			done <- err
		}()
		select {
		case <-read:
		case <-time.After(10 * time.Second):
			t.Fatal("the server got no request within 10s")
		}
		cancel()
		select {
		case err := <-done:
			checkOpError(t, err, s.addr)
			if !errors.Is(err, context.Canceled) {
				t.Errorf("error %v, want context.Canceled", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Dial still running 10s after cancel")
		}
	})
	t.Run("cancelled before", func(t *testing.T) {
		s := newFakeServer(t, echo)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := dialWith(t, ctx, &Dialer{}, s.addr)
		checkOpError(t, err, s.addr)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", err)
		}
	})
}

// TestDialAddress: a session service is reached over IPv4 only; an
// IPv4-mapped IPv6 address is IPv4.
func TestDialAddress(t *testing.T) {
	t.Run("IPv6", func(t *testing.T) {
		rec := &recDialer{}
		addr := netip.MustParseAddrPort("[::1]:139")
		_, err := dialWith(t, t.Context(), &Dialer{NetDialer: rec}, addr)
		checkOpError(t, err, addr)
		if !errors.Is(err, errNotIPv4) {
			t.Errorf("error %v, want errNotIPv4", err)
		}
		if got := rec.dialed(); len(got) != 0 {
			t.Errorf("dialed %q, want nothing", got)
		}
	})
	t.Run("IPv4-mapped", func(t *testing.T) {
		s := newFakeServer(t, echo)
		mapped := netip.AddrPortFrom(netip.AddrFrom16(s.addr.Addr().As16()), s.addr.Port())
		c, err := dialWith(t, t.Context(), &Dialer{}, mapped)
		if err != nil {
			t.Fatal(err)
		}
		echoOnce(t, c, "mapped")
	})
	t.Run("connection refused", func(t *testing.T) {
		closed := closedPort(t)
		rec := &recDialer{}
		_, err := dialWith(t, t.Context(), &Dialer{NetDialer: rec}, closed)
		checkOpError(t, err, closed)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("error %v, want ECONNREFUSED", err)
		}
		if d := cmp.Diff([]string{closed.String()}, rec.dialed()); d != "" {
			t.Errorf("dialed (-want +got):\n%s", d)
		}
	})
}

// opaqueAddr is a RemoteAddr that is not a *net.TCPAddr, as a proxy's or a
// wrapper's conn may have.
type opaqueAddr struct{}

func (opaqueAddr) Network() string { return "proxy" }
func (opaqueAddr) String() string  { return "proxy:1080" }

type opaqueConn struct{ net.Conn }

func (opaqueConn) RemoteAddr() net.Addr { return opaqueAddr{} }

// TestDialWithConn: the address given, not the conn's RemoteAddr, is where
// a failed retarget comes back to and what the trace names; an address
// that is not IPv4 is refused, and the conn closed.
func TestDialWithConn(t *testing.T) {
	t.Run("retarget target fails: back to addr", func(t *testing.T) {
		dead := closedPort(t)
		a := listen(t)
		a.serve(t, byConn(reply(retargetTo(dead)), echo))
		nc, err := net.Dial("tcp4", a.addr.String())
		if err != nil {
			t.Fatal(err)
		}
		tr, log := traceLog()
		rec := &recDialer{}
		d := &Dialer{NetDialer: rec, Trace: tr}
		c, err := d.DialWithConn(t.Context(), opaqueConn{nc}, a.addr, testReq)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		echoOnce(t, c, "back at A")
		if diff := cmp.Diff([]string{dead.String(), a.addr.String()}, rec.dialed()); diff != "" {
			t.Errorf("dialed (-want +got):\n%s", diff)
		}
		for _, line := range log() {
			if strings.Contains(line, "proxy") {
				t.Errorf("the trace names the conn's RemoteAddr: %q", line)
			}
		}
	})
	t.Run("not IPv4", func(t *testing.T) {
		client, server := net.Pipe()
		defer server.Close()
		_, err := (&Dialer{}).DialWithConn(t.Context(), client, netip.MustParseAddrPort("[2001:db8::1]:139"), testReq)
		if !errors.Is(err, errNotIPv4) {
			t.Fatalf("error %v, want errNotIPv4", err)
		}
		server.SetReadDeadline(time.Now().Add(10 * time.Second)) // bounds only a failure
		if _, err := server.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("the peer reads %v, want io.EOF: the conn was not closed", err)
		}
	})
}

// pipeServer returns the client end of a pipe whose server end reads a
// session request and writes resp.
func pipeServer(t *testing.T, resp []byte) net.Conn {
	client, server := net.Pipe()
	t.Cleanup(func() { server.Close() })
	go func() {
		var req [HeaderLen + minRequestLength]byte
		if _, err := io.ReadFull(server, req[:]); err != nil {
			return
		}
		server.Write(resp)
	}()
	return client
}

// TestDialRetargetScope: a server elsewhere cannot retarget the client into
// its own loopback or onto a link-local network, where it could probe
// ports or reach local services; a server that is there itself can.
func TestDialRetargetScope(t *testing.T) {
	cases := []struct {
		from, to string
		refused  string // in the error; "" when the retarget is followed
	}{
		{from: "198.18.0.2:139", to: "127.0.0.1:445", refused: "a loopback address, and 198.18.0.2 is not on loopback"},
		{from: "198.18.0.2:139", to: "127.1.2.3:139", refused: "a loopback address"},
		{from: "198.18.0.2:139", to: "169.254.10.1:139", refused: "a link-local address, and 198.18.0.2 is not link-local"},
		{from: "169.254.3.3:139", to: "127.0.0.1:139", refused: "a loopback address"},
		{from: "169.254.3.3:139", to: "169.254.10.1:139"},
		{from: "127.0.0.1:139", to: "127.0.0.2:1445"},
		{from: "198.18.0.2:139", to: "198.18.0.3:139"},
	}
	for _, tt := range cases {
		t.Run(tt.from+" to "+tt.to, func(t *testing.T) {
			from, to := netip.MustParseAddrPort(tt.from), netip.MustParseAddrPort(tt.to)
			rec := &recorder{}
			d := &Dialer{NetDialer: rec, MaxConnects: 2}
			_, err := d.DialWithConn(t.Context(), pipeServer(t, retargetTo(to)), from, testReq)
			if err == nil {
				t.Fatal("dial succeeded")
			}
			var want []string
			if tt.refused == "" {
				want = []string{to.String()} // followed, to the recorder
			} else if !strings.Contains(err.Error(), "refusing to follow: "+tt.refused) {
				t.Errorf("error %q, want it to contain %q", err, tt.refused)
			}
			if diff := cmp.Diff(want, rec.dialed()); diff != "" {
				t.Errorf("dialed (-want +got):\n%s", diff)
			}
		})
	}
}

// recorder records the addresses it is asked to dial and dials none.
type recorder struct {
	mu    sync.Mutex
	addrs []string
}

func (r *recorder) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	r.mu.Lock()
	r.addrs = append(r.addrs, address)
	r.mu.Unlock()
	return nil, syscall.ECONNREFUSED
}

func (r *recorder) dialed() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.addrs
}

// TestDialRetargetLimitSaysWhy: a server that retargets, after each return
// to it, to a target that refuses the connect ends the dial with the
// retarget limit and the target's refusal, which errors.Is finds.
func TestDialRetargetLimitSaysWhy(t *testing.T) {
	dead := closedPort(t)
	a := newFakeServer(t, reply(retargetTo(dead)))
	_, err := dialWith(t, t.Context(), &Dialer{}, a.addr)
	le, ok := errors.AsType[*RetargetLimitError](err)
	if !ok {
		t.Fatalf("error %v, want a *RetargetLimitError", err)
	}
	if d := cmp.Diff([]netip.AddrPort{a.addr, dead, a.addr, dead}, le.Chain, cmpNames); d != "" {
		t.Errorf("chain (-want +got):\n%s", d)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("errors.Is(%v, ECONNREFUSED) = false", err)
	}
	if fe, ok := errors.AsType[*RetargetFailedError](err); !ok || fe.Addr != dead {
		t.Errorf("error %v: want a *RetargetFailedError for %v", err, dead)
	}
	if want := "the retarget to " + dead.String() + " failed: "; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q, want it to contain %q", err, want)
	}
}
