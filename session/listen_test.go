package session

// Tests of Listener: the answers to session requests, connections that
// start with an SMB message, keep-alives, Close, and the inner listener's
// errors, over loopback TCP and over net.Pipe in synctest bubbles.

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/netbios-go/netbios/nbns"
)

// pipeListener is a net.Listener of net.Pipe conns, for synctest bubbles:
// Dial hands the server's end to Accept, and waits for it to be taken, as
// a listener with no backlog would. Fail makes Accept return an error.
type pipeListener struct {
	conns chan net.Conn
	errs  chan error
	done  chan struct{}
	once  sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), errs: make(chan error), done: make(chan struct{})}
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case err := <-l.errs:
		return nil, err
	case <-l.done:
		return nil, &net.OpError{Op: "accept", Net: "pipe", Err: net.ErrClosed}
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Dial returns the client's end of a new connection, once Accept has
// taken the other end, or nil when the listener closes first.
func (l *pipeListener) Dial() net.Conn {
	c, s := net.Pipe()
	select {
	case l.conns <- s:
		return c
	case <-l.done:
		c.Close()
		s.Close()
		return nil
	}
}

// Fail makes the next Accept return err.
func (l *pipeListener) Fail(err error) {
	select {
	case l.errs <- err:
	case <-l.done:
	}
}

// handshakes collects what HandshakeDone reports.
type handshakes struct {
	mu    sync.Mutex
	infos []HandshakeInfo
	ch    chan HandshakeInfo
}

func newHandshakes() *handshakes { return &handshakes{ch: make(chan HandshakeInfo, 1024)} }

func (h *handshakes) done(i HandshakeInfo) {
	h.mu.Lock()
	h.infos = append(h.infos, i)
	h.mu.Unlock()
	h.ch <- i
}

// next returns the next handshake to end, or fails the test after 10s.
func (h *handshakes) next(t *testing.T) HandshakeInfo {
	t.Helper()
	select {
	case i := <-h.ch:
		return i
	case <-time.After(10 * time.Second):
		t.Fatal("no handshake ended within 10s")
	}
	return HandshakeInfo{}
}

// all returns every handshake reported so far.
func (h *handshakes) all() []HandshakeInfo {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]HandshakeInfo(nil), h.infos...)
}

// listenLoopback returns a Listener on 127.0.0.1, closed when the test
// ends.
func listenLoopback(t *testing.T, cfg *ListenConfig) *Listener {
	t.Helper()
	l, err := Listen("tcp4", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// dialListener dials l over TCP, with a 10s deadline on the conn.
func dialListener(t *testing.T, l *Listener) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp4", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { nc.Close() })
	return nc
}

// acceptWithin returns l's next conn, or fails the test after 10s.
func acceptWithin(t *testing.T, l *Listener) *Conn {
	t.Helper()
	type result struct {
		c   *Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := l.AcceptSession()
		ch <- result{c, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("AcceptSession: %v", r.err)
		}
		t.Cleanup(func() { r.c.Close() })
		return r.c
	case <-time.After(10 * time.Second):
		t.Fatal("AcceptSession still waiting after 10s")
	}
	return nil
}

func mustMarshal(t testing.TB, r *Request) []byte {
	t.Helper()
	b, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestListenerDecide answers a session request with each decision of
// Decide over loopback TCP: the bytes on the wire, what HandshakeDone
// reports, and that a refused connection is closed while an accepted one
// comes out of Accept with the request's names.
func TestListenerDecide(t *testing.T) {
	for _, tt := range decisions {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHandshakes()
			var seen []Request
			l := listenLoopback(t, &ListenConfig{
				Decide:        func(r Request) error { seen = append(seen, r); return tt.decide },
				HandshakeDone: hs.done,
			})
			nc := dialListener(t, l)
			if _, err := nc.Write(mustMarshal(t, &testReq)); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, len(tt.wire))
			if _, err := io.ReadFull(nc, got); err != nil {
				t.Fatalf("reading the answer: %v", err)
			}
			if d := cmp.Diff(tt.wire, got); d != "" {
				t.Errorf("answer on the wire (-want +got):\n%s", d)
			}
			info := hs.next(t)
			if d := cmp.Diff([]Request{testReq}, seen, cmpNames); d != "" {
				t.Errorf("Decide saw (-want +got):\n%s", d)
			}
			if d := cmp.Diff(testReq, info.Request, cmpNames); d != "" {
				t.Errorf("HandshakeInfo.Request (-want +got):\n%s", d)
			}
			if info.Direct {
				t.Error("HandshakeInfo.Direct is true for a session request")
			}
			var resp Response
			if err := resp.UnmarshalBinary(tt.wire); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(resp, info.Response, cmpNames); d != "" {
				t.Errorf("HandshakeInfo.Response (-want +got):\n%s", d)
			}
			if tt.decide == nil {
				if info.Err != nil {
					t.Errorf("HandshakeInfo.Err = %v, want nil", info.Err)
				}
				c := acceptWithin(t, l)
				if d := cmp.Diff(testReq, c.Request(), cmpNames); d != "" {
					t.Errorf("the conn's Request (-want +got):\n%s", d)
				}
				nc.Write(message([]byte("ping")))
				if msg, err := c.ReadMessage(nil); string(msg) != "ping" || err != nil {
					t.Errorf("ReadMessage = %q, %v; want \"ping\"", msg, err)
				}
				return
			}
			var re *RetargetError
			switch {
			case tt.code != 0 && !errors.Is(info.Err, tt.code):
				t.Errorf("HandshakeInfo.Err = %v, want one that wraps %v", info.Err, tt.code)
			case tt.code == 0 && !errors.As(info.Err, &re):
				t.Errorf("HandshakeInfo.Err = %v, want a *RetargetError", info.Err)
			}
			if n, err := nc.Read(make([]byte, 1)); err != io.EOF {
				t.Errorf("after a refusal, Read = %d, %v; want io.EOF (closed)", n, err)
			}
		})
	}
}

// TestAcceptNames checks which called names AcceptNames accepts.
func TestAcceptNames(t *testing.T) {
	decide := AcceptNames(nbns.MustName("FILESRV", nbns.FileServer), SMBServer)
	raw := func(s string, suffix byte) nbns.Name {
		var b [nbns.NameLen]byte
		copy(b[:], s+"               ")
		b[nbns.NameLen-1] = suffix
		return nbns.NameFromBytes(b)
	}
	tests := []struct {
		called nbns.Name
		want   error
	}{
		{nbns.MustName("FILESRV", nbns.FileServer), nil},
		{raw("filesrv", 0x20), nil}, // letters fold
		{raw("FileSrv", 0x20), nil},
		{SMBServer, nil},
		{raw("*smbserver", 0x20), nil},
		{nbns.MustName("FILESRV", nbns.Workstation), ErrCalledNameNotPresent}, // the suffix must match
		{nbns.MustName("OTHER", nbns.FileServer), ErrCalledNameNotPresent},
		{nbns.MustName("*SMBSERV", nbns.FileServer), ErrCalledNameNotPresent},
		{nbns.MustName("127.0.0.1", nbns.FileServer), ErrCalledNameNotPresent},
		{raw("filesrv\xe9", 0x20), ErrCalledNameNotPresent},
		{nbns.Name{}, ErrCalledNameNotPresent},
	}
	for _, tt := range tests {
		t.Run(tt.called.String(), func(t *testing.T) {
			got := decide(Request{Called: tt.called, Calling: testReq.Calling})
			if d := cmp.Diff(tt.want, got, cmpopts.EquateErrors()); d != "" {
				t.Errorf("AcceptNames(FILESRV<20>, *SMBSERVER<20>)(%v) (-want +got):\n%s", tt.called, d)
			}
		})
	}
	if err := AcceptNames()(testReq); err != ErrCalledNameNotPresent {
		t.Errorf("AcceptNames() accepted %v: %v", testReq.Called, err)
	}
	if err := AcceptAny(testReq); err != nil {
		t.Errorf("AcceptAny: %v", err)
	}
}

// smb2Negotiate is the start of an SMB2 NEGOTIATE, as a client of port 445
// opens a connection with it.
var smb2Negotiate = append([]byte("\xfeSMB\x40\x00"), counting(100)...)

// TestListenerDirect opens connections that start with a session message,
// as a Direct-TCP SMB client does, and with keep-alives: the conn reads
// every byte of the messages, the first header included, or the listener
// refuses as its config says.
func TestListenerDirect(t *testing.T) {
	lenient24 := []byte{0x00, 0x02, 0x00, 0x00} // a 128 KiB message: a 24-bit length
	tests := []struct {
		name    string
		cfg     ListenConfig
		send    []byte
		want    []byte // the transparent view; nil: refused
		wantErr error  // of the refusal
	}{
		{name: "SMB2 negotiate", send: cat(message(smb2Negotiate), message([]byte("next"))), want: cat(message(smb2Negotiate), message([]byte("next")))},
		{name: "empty first message", send: cat(message(nil), message([]byte("x"))), want: cat(message(nil), message([]byte("x")))},
		{name: "keep-alives first", send: cat(keepAlive, keepAlive, message(smb2Negotiate)), want: message(smb2Negotiate)},
		{name: "keep-alive between", send: cat(message([]byte("a")), keepAlive, message([]byte("b"))), want: cat(message([]byte("a")), message([]byte("b")))},
		{name: "24-bit length", send: cat(lenient24, counting(1<<17)), want: cat(lenient24, counting(1<<17))},
		{name: "24-bit length, strict", cfg: ListenConfig{Config: &Config{Strict: true}}, send: cat(lenient24, counting(10)), wantErr: errReservedFlags},
		{name: "RequireRequest", cfg: ListenConfig{RequireRequest: true}, send: message(smb2Negotiate), wantErr: ErrUnexpectedPacket},
		{name: "RequireRequest, keep-alive first", cfg: ListenConfig{RequireRequest: true}, send: cat(keepAlive, message(smb2Negotiate)), wantErr: ErrUnexpectedPacket},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHandshakes()
			cfg := tt.cfg
			cfg.HandshakeDone = hs.done
			l := listenLoopback(t, &cfg)
			nc := dialListener(t, l)
			go func() {
				for i := 0; i < len(tt.send); i += 7 { // cut anywhere
					if _, err := nc.Write(tt.send[i:min(i+7, len(tt.send))]); err != nil {
						return
					}
				}
			}()
			info := hs.next(t)
			if !info.Direct {
				t.Error("HandshakeInfo.Direct is false")
			}
			if d := cmp.Diff(HandshakeInfo{}, HandshakeInfo{Request: info.Request, Response: info.Response}, cmpNames); d != "" {
				t.Errorf("a direct connection has a request or response (-want +got):\n%s", d)
			}
			if tt.want == nil {
				if !errors.Is(info.Err, tt.wantErr) {
					t.Errorf("HandshakeInfo.Err = %v, want one that wraps %v", info.Err, tt.wantErr)
				}
				// Closed with bytes unread: a FIN, or an RST.
				if n, err := io.ReadFull(nc, make([]byte, 1)); err != io.EOF && !errors.Is(err, syscall.ECONNRESET) {
					t.Errorf("after a refusal, Read = %d, %v; want io.EOF or ECONNRESET (closed)", n, err)
				}
				return
			}
			if info.Err != nil {
				t.Fatalf("HandshakeInfo.Err = %v", info.Err)
			}
			c := acceptWithin(t, l)
			if d := cmp.Diff(Request{}, c.Request(), cmpNames); d != "" {
				t.Errorf("a direct conn's Request (-want +got):\n%s", d)
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			got := make([]byte, len(tt.want))
			if _, err := io.ReadFull(c, got); err != nil {
				t.Fatalf("reading the conn: %v", err)
			}
			if d := diffBytes(tt.want, got); d != "" {
				t.Errorf("the transparent view:\n%s", d)
			}
		})
	}
}

// TestListenerDirectReadMessage reads the first message of a direct
// connection with ReadMessage and through Payload: the header the listener
// read is the message's.
func TestListenerDirectReadMessage(t *testing.T) {
	for _, view := range []string{"ReadMessage", "Payload"} {
		t.Run(view, func(t *testing.T) {
			l := listenLoopback(t, nil)
			nc := dialListener(t, l)
			go nc.Write(cat(message(smb2Negotiate), keepAlive, message([]byte("second"))))
			c := acceptWithin(t, l)
			c.SetDeadline(time.Now().Add(10 * time.Second))
			var got []byte
			var err error
			switch view {
			case "ReadMessage":
				var m []byte
				if m, err = c.ReadMessage(nil); err == nil {
					got, err = c.ReadMessage(m)
				}
			case "Payload":
				got = make([]byte, len(smb2Negotiate)+len("second"))
				_, err = io.ReadFull(c.Payload(), got)
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := diffBytes(cat(smb2Negotiate, []byte("second")), got); d != "" {
				t.Errorf("payloads:\n%s", d)
			}
		})
	}
}

// TestListenerKeepAlive: with Config.KeepAlive, a conn opened by a session
// request sends keep-alives; a direct one, whose client speaks Direct TCP,
// never does.
func TestListenerKeepAlive(t *testing.T) {
	for _, direct := range []bool{false, true} {
		name := map[bool]string{false: "session request", true: "direct"}[direct]
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				pl := newPipeListener()
				l := NewListener(pl, &ListenConfig{Config: &Config{KeepAlive: time.Minute}})
				defer l.Close()
				nc := pl.Dial()
				defer nc.Close()
				start := time.Now()
				if direct {
					go nc.Write(message(smb2Negotiate))
				} else {
					go nc.Write(mustMarshal(t, &testReq))
				}
				if !direct { // a pipe: the answer must be read before Accept returns
					if d := cmp.Diff([]byte{0x82, 0, 0, 0}, readN(t, nc, HeaderLen)); d != "" {
						t.Errorf("answer (-want +got):\n%s", d)
					}
				}
				c, err := l.AcceptSession()
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if direct {
					go io.Copy(io.Discard, c) // the message the client sent
					expectQuiet(t, nc, start.Add(5*time.Minute))
					return
				}
				expectKeepAlive(t, nc, start, time.Minute)
				expectKeepAlive(t, nc, start, 2*time.Minute)
			})
		})
	}
}

// TestListenerClose: Close ends the handshakes in progress and the ready
// conns that Accept has not returned, waits for a Decide call in progress,
// leaves the conns already returned open, and makes Accept fail with
// net.ErrClosed.
func TestListenerClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pl := newPipeListener()
		hs := newHandshakes()
		release := make(chan struct{})
		deciding := make(chan struct{})
		l := NewListener(pl, &ListenConfig{
			HandshakeDone: hs.done,
			Decide: func(r Request) error {
				if r.Calling.String() == "SLOW<00>" {
					close(deciding)
					<-release
				}
				return nil
			},
		})

		returned := pl.Dial() // a conn Accept returns before Close
		go returned.Write(mustMarshal(t, &testReq))
		readN(t, returned, HeaderLen) // the answer
		c, err := l.AcceptSession()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()

		ready := pl.Dial() // a conn ready, not returned
		go ready.Write(message(smb2Negotiate))
		silent := pl.Dial() // a handshake in progress
		slow := pl.Dial()   // a Decide in progress
		go slow.Write(mustMarshal(t, &Request{Called: testReq.Called, Calling: nbns.MustName("SLOW", nbns.Workstation)}))
		<-deciding
		synctest.Wait()

		closed := make(chan error, 1)
		go func() { closed <- l.Close() }()
		synctest.Wait()
		select {
		case err := <-closed:
			t.Fatalf("Close returned (%v) while Decide was running", err)
		default:
		}
		close(release)
		if err := <-closed; err != nil {
			t.Errorf("Close: %v", err)
		}

		for name, nc := range map[string]net.Conn{"ready": ready, "silent": silent, "slow": slow} {
			nc.SetReadDeadline(time.Now().Add(time.Second))
			if _, err := io.ReadFull(nc, make([]byte, 16)); err != io.EOF && !errors.Is(err, io.ErrClosedPipe) && err != io.ErrUnexpectedEOF {
				t.Errorf("%s conn after Close: %v, want it closed", name, err)
			}
		}
		go returned.Write(message([]byte("still open")))
		if m, err := c.ReadMessage(nil); string(m) != "still open" || err != nil {
			t.Errorf("a returned conn after Close: ReadMessage = %q, %v", m, err)
		}
		if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept after Close: %v, want net.ErrClosed", err)
		}
		if err := l.Close(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("second Close: %v, want net.ErrClosed", err)
		}
		var ended int
		for _, i := range hs.all() {
			if errors.Is(i.Err, net.ErrClosed) {
				ended++
			}
		}
		if ended != 2 { // silent and slow; ready had succeeded
			t.Errorf("%d handshakes ended by Close, want 2: %v", ended, hs.all())
		}
	})
}

// temporaryError is an accept error that a listener should retry, as
// EMFILE is.
type temporaryError struct{}

func (temporaryError) Error() string   { return "too many open files" }
func (temporaryError) Timeout() bool   { return false }
func (temporaryError) Temporary() bool { return true }

// TestListenerAcceptErrors: temporary errors of the inner listener are
// retried after a backoff and never reach Accept; another error ends the
// accept loop, and Accept returns it after the conns that were ready.
func TestListenerAcceptErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pl := newPipeListener()
		l := NewListener(pl, nil)
		defer l.Close()
		start := time.Now()
		pl.Fail(temporaryError{})
		pl.Fail(temporaryError{})
		nc := pl.Dial()
		defer nc.Close()
		if got, want := time.Since(start), 5*time.Millisecond+10*time.Millisecond; got != want {
			t.Errorf("the accept after two temporary errors came at %v, want %v (backoff 5 ms, then 10 ms)", got, want)
		}
		go nc.Write(message(smb2Negotiate))
		synctest.Wait() // the handshake is done, the conn ready
		fatal := &net.OpError{Op: "accept", Net: "pipe", Err: os.NewSyscallError("accept", syscall.EINVAL)}
		pl.Fail(fatal)
		synctest.Wait()
		c, err := l.AcceptSession()
		if err != nil {
			t.Fatalf("AcceptSession with a conn ready: %v", err)
		}
		c.Close()
		if _, err := l.Accept(); err != fatal {
			t.Errorf("Accept after the inner listener failed: %v, want %v", err, fatal)
		}
	})
}

// TestListenerTCPConn: a conn the Listener returns keeps the TCP conn
// under it, for CloseWrite and the like.
func TestListenerTCPConn(t *testing.T) {
	l := listenLoopback(t, nil)
	nc := dialListener(t, l)
	go nc.Write(message(smb2Negotiate))
	c := acceptWithin(t, l)
	tc, ok := c.NetConn().(*net.TCPConn)
	if !ok {
		t.Fatalf("NetConn is a %T, want *net.TCPConn", c.NetConn())
	}
	io.ReadFull(c, make([]byte, len(message(smb2Negotiate))))
	if err := tc.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if n, err := nc.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("after CloseWrite the client read %d, %v; want io.EOF", n, err)
	}
}

// TestListenerDirectLongWrites: a Direct-TCP client's conn writes messages
// with 24-bit lengths, as port 445 has them (a server that grants SMB2
// large MTU sends such READ responses); a session request's conn does
// not, unless its Config says LongMessages.
func TestListenerDirectLongWrites(t *testing.T) {
	long := counting(0x20000 + 3)
	hdr := []byte{0, byte(len(long) >> 16), byte(len(long) >> 8), byte(len(long))}
	for _, tt := range []struct {
		name  string
		first []byte // what the client sends first
		ok    bool
	}{
		{name: "Direct TCP", first: message(smb2Negotiate), ok: true},
		{name: "session request", first: requestBytes(t), ok: false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := listenLoopback(t, nil)
			nc := dialListener(t, l)
			if _, err := nc.Write(tt.first); err != nil {
				t.Fatal(err)
			}
			go io.Copy(io.Discard, nc) // the answer, and what the conn writes
			c, err := l.AcceptSession()
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_, err = c.Write(cat(hdr, long))
			if tt.ok != (err == nil) {
				t.Fatalf("Write of a %d-byte message: %v, want ok %v", len(long), err, tt.ok)
			}
		})
	}
}

// requestBytes is a session request for *SMBSERVER<20>.
func requestBytes(t *testing.T) []byte {
	b, err := (&Request{Called: SMBServer, Calling: nbns.MustName("CLIENT", nbns.Workstation)}).AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
