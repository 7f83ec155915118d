package session

// Hostile clients against the Listener: silence, a byte a second, lying
// lengths, and floods of connections. In synctest bubbles over net.Pipe,
// so that each handshake's end is checked to the nanosecond of the fake
// clock, and once over loopback TCP.

import (
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// isTimeout reports whether err is a timeout, as a deadline gives.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// legitHandshake runs a good client's handshake against l, from pl, and
// returns how long it took to come out of Accept, and the other conns
// Accept returned before it.
func legitHandshake(t *testing.T, l *Listener, pl *pipeListener) (time.Duration, []*Conn) {
	t.Helper()
	start := time.Now()
	nc := pl.Dial()
	t.Cleanup(func() { nc.Close() })
	go nc.Write(mustMarshal(t, &testReq))
	if d := cmp.Diff([]byte{0x82, 0, 0, 0}, readN(t, nc, HeaderLen)); d != "" {
		t.Errorf("the good client's answer (-want +got):\n%s", d)
	}
	var others []*Conn
	for {
		c, err := l.AcceptSession()
		if err != nil {
			t.Fatalf("AcceptSession: %v", err)
		}
		if c.Request().Calling != testReq.Calling {
			others = append(others, c)
			continue
		}
		c.Close()
		return time.Since(start), others
	}
}

// TestListenerHostile runs each hostile client against a Listener with
// the default HandshakeTimeout (10s), beside a good client that arrives
// at the same time: the good one comes out of Accept at once, and the
// hostile one's handshake ends when and how it should.
func TestListenerHostile(t *testing.T) {
	req := func() []byte { return mustMarshal(t, &testReq) }
	tests := []struct {
		name     string
		client   func(nc net.Conn, closed <-chan struct{}) // runs on its own goroutine; closed when the listener closes nc
		wantAt   time.Duration                             // when the handshake ends
		wantErr  func(error) bool
		errDesc  string
		wantResp []byte // what the client reads before the close
	}{
		{
			name:   "silence",
			client: func(net.Conn, <-chan struct{}) {},
			wantAt: DefaultHandshakeTimeout, wantErr: isTimeout, errDesc: "a timeout",
		},
		{
			name: "one byte a second",
			client: func(nc net.Conn, closed <-chan struct{}) {
				tick := time.NewTicker(time.Second)
				defer tick.Stop()
				for _, b := range req() {
					if _, err := nc.Write([]byte{b}); err != nil {
						return
					}
					select {
					case <-tick.C:
					case <-closed:
						return
					}
				}
			},
			wantAt: DefaultHandshakeTimeout, wantErr: isTimeout, errDesc: "a timeout",
		},
		{
			name: "request longer than it says, then silence",
			client: func(nc net.Conn, _ <-chan struct{}) {
				b := req()
				b[2], b[3] = 0x01, 0xFE // LENGTH 510, the largest a request may have; 68 sent
				nc.Write(b)
			},
			wantAt: DefaultHandshakeTimeout, wantErr: isTimeout, errDesc: "a timeout",
		},
		{
			name:   "request LENGTH 0xFFFF",
			client: func(nc net.Conn, _ <-chan struct{}) { nc.Write([]byte{0x81, 0x00, 0xFF, 0xFF}) },
			wantErr: func(err error) bool {
				var pe *ParseError
				return errors.As(err, &pe) && pe.Field == "LENGTH"
			},
			errDesc: "a *ParseError of LENGTH",
		},
		{
			name: "request with the E bit: 65604 bytes",
			client: func(nc net.Conn, _ <-chan struct{}) {
				b := req()
				b[1] = 0x01
				nc.Write(b)
			},
			wantErr: func(err error) bool {
				var pe *ParseError
				return errors.As(err, &pe) && pe.Field == "LENGTH"
			},
			errDesc: "a *ParseError of LENGTH",
		},
		{
			name: "names that do not fill LENGTH",
			client: func(nc net.Conn, _ <-chan struct{}) {
				b := req()
				b[4] = 0x1F // the first label is 31 bytes, not 32
				nc.Write(b)
			},
			wantErr:  func(err error) bool { return errors.Is(err, ErrBadName) },
			errDesc:  "ErrBadName, answered with 0x82",
			wantResp: []byte{0x83, 0x00, 0x00, 0x01, 0x82},
		},
		{
			name:    "reserved flag bits",
			client:  func(nc net.Conn, _ <-chan struct{}) { nc.Write([]byte{0x81, 0x80, 0x00, 0x44}) },
			wantErr: func(err error) bool { return errors.Is(err, errReservedFlags) }, errDesc: "reserved flag bits",
		},
		{
			name:    "keep-alive with a length",
			client:  func(nc net.Conn, _ <-chan struct{}) { nc.Write([]byte{0x85, 0x00, 0x00, 0x01, 0x00}) },
			wantErr: func(err error) bool { var le *lengthError; return errors.As(err, &le) }, errDesc: "a length error",
		},
		{
			name: "keep-alives without end",
			client: func(nc net.Conn, _ <-chan struct{}) {
				for {
					if _, err := nc.Write(keepAlive); err != nil {
						return
					}
				}
			},
			wantErr: func(err error) bool { return errors.Is(err, ErrUnexpectedPacket) }, errDesc: "ErrUnexpectedPacket",
		},
		{
			name:    "a response from the client",
			client:  func(nc net.Conn, _ <-chan struct{}) { nc.Write([]byte{0x82, 0x00, 0x00, 0x00}) },
			wantErr: func(err error) bool { return errors.Is(err, ErrUnexpectedPacket) }, errDesc: "ErrUnexpectedPacket",
		},
		{
			name:    "half a header, then the close",
			client:  func(nc net.Conn, _ <-chan struct{}) { nc.Write([]byte{0x81, 0x00}); nc.Close() },
			wantErr: func(err error) bool { return err == io.ErrUnexpectedEOF }, errDesc: "io.ErrUnexpectedEOF",
		},
		{
			// The listener reads only the header of a direct connection's
			// first message: a length that lies is the reader's business,
			// and costs the conn's reader memory only as bytes arrive.
			name:    "SMB message header claiming 16 MiB",
			client:  func(nc net.Conn, _ <-chan struct{}) { nc.Write([]byte{0x00, 0xFF, 0xFF, 0xFF, 0xFE, 'S'}) },
			wantErr: func(err error) bool { return err == nil }, errDesc: "no error: a direct conn",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				pl := newPipeListener()
				hs := newHandshakes()
				l := NewListener(pl, &ListenConfig{HandshakeDone: hs.done})
				defer l.Close()
				start := time.Now()
				bad := pl.Dial()
				defer bad.Close()
				got := make(chan []byte, 1)
				closed := make(chan struct{})
				go func() {
					b, _ := io.ReadAll(bad)
					got <- b
					close(closed)
				}()
				go tt.client(bad, closed)

				d, others := legitHandshake(t, l, pl)
				if d != 0 {
					t.Errorf("the good client came out of Accept after %v, want at once", d)
				}
				var info HandshakeInfo
				// In a bubble a handshake that never ends is a deadlock that
				// synctest reports, so the channel needs no timeout.
				for info = <-hs.ch; info.Request.Calling == testReq.Calling && info.Err == nil; info = <-hs.ch {
				} // the good client's
				if !tt.wantErr(info.Err) {
					t.Errorf("HandshakeInfo.Err = %v, want %s", info.Err, tt.errDesc)
				}
				if info.Duration != tt.wantAt || time.Since(start) != tt.wantAt {
					t.Errorf("the handshake ended after %v (now %v), want %v", info.Duration, time.Since(start), tt.wantAt)
				}
				if info.Err == nil { // accepted: the caller has it
					var c *Conn
					if len(others) > 0 {
						c = others[0]
					} else {
						var err error
						if c, err = l.AcceptSession(); err != nil {
							t.Fatal(err)
						}
					}
					b := make([]byte, 6)
					if _, err := io.ReadFull(c, b); err != nil || string(b) != "\x00\xFF\xFF\xFF\xFE"+"S" {
						t.Errorf("the conn read % x, %v", b, err)
					}
					c.Close()
				}
				if d := cmp.Diff(tt.wantResp, <-got, cmpopts.EquateEmpty()); d != "" {
					t.Errorf("the client read (-want +got):\n%s", d)
				}
			})
		})
	}
}

// TestListenerFlood: a flood of clients that say nothing holds at most
// MaxHandshakes connections, each newcomer ending the oldest handshake; a
// good client that comes in the middle of the flood is served at once,
// and the flood's last handshakes end at their deadline.
func TestListenerFlood(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const max, flood = 4, 40
		pl := newPipeListener()
		hs := newHandshakes()
		l := NewListener(pl, &ListenConfig{MaxHandshakes: max, HandshakeDone: hs.done})
		defer l.Close()
		held := func() int {
			l.mu.Lock()
			defer l.mu.Unlock()
			return len(l.hs) + l.nready
		}
		start := time.Now()
		var clients []net.Conn
		for range flood {
			nc := pl.Dial()
			defer nc.Close()
			clients = append(clients, nc)
			synctest.Wait()
			if h := held(); h > max {
				t.Fatalf("%d connections held, more than MaxHandshakes %d", h, max)
			}
		}
		if got := len(hs.all()); got != flood-max {
			t.Errorf("%d handshakes ended after %d connections, want %d evicted", got, flood, flood-max)
		}
		for _, i := range hs.all() {
			if i.Err != ErrEvicted || i.Duration != 0 {
				t.Errorf("HandshakeInfo %+v, want ErrEvicted at once", i)
			}
		}
		for i, nc := range clients[:flood-max] {
			if n, err := nc.Read(make([]byte, 1)); err != io.EOF {
				t.Errorf("evicted client %d: Read = %d, %v; want io.EOF", i, n, err)
			}
		}
		if d, _ := legitHandshake(t, l, pl); d != 0 {
			t.Errorf("the good client came out of Accept after %v, want at once", d)
		}
		// The good client evicted one more; max-1 of the flood are left.
		for range flood - max + 2 { // the evictions, the good client
			<-hs.ch
		}
		for i := range max - 1 {
			info := <-hs.ch
			if !isTimeout(info.Err) || time.Since(start) != DefaultHandshakeTimeout {
				t.Errorf("flood client %d of the last: %v at %v, want a timeout at %v", i, info.Err, time.Since(start), DefaultHandshakeTimeout)
			}
		}
		if h := held(); h != 0 {
			t.Errorf("%d connections held after every handshake ended", h)
		}
	})
}

// TestListenerReadyBound: conns ready that Accept has not taken count
// against MaxHandshakes; when all held conns are ready, the listener
// starts no handshake until Accept takes one, and never evicts a ready
// conn.
func TestListenerReadyBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pl := newPipeListener()
		hs := newHandshakes()
		l := NewListener(pl, &ListenConfig{MaxHandshakes: 2, HandshakeDone: hs.done})
		defer l.Close()
		for range 2 {
			nc := pl.Dial()
			defer nc.Close()
			go nc.Write(message(smb2Negotiate))
		}
		synctest.Wait()
		// The accept loop may take one more connection from the inner
		// listener, but starts no handshake on it.
		nc := pl.Dial()
		defer nc.Close()
		go nc.Write(message(smb2Negotiate))
		synctest.Wait()
		if n := len(hs.all()); n != 2 {
			t.Fatalf("%d handshakes done with two ready and MaxHandshakes 2, want 2", n)
		}
		c, err := l.AcceptSession()
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		synctest.Wait()
		if n := len(hs.all()); n != 3 {
			t.Fatalf("%d handshakes done after Accept took one, want 3", n)
		}
		for range 2 {
			c, err := l.AcceptSession()
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
		}
		for _, i := range hs.all() {
			if i.Err != nil || !i.Direct {
				t.Errorf("HandshakeInfo %+v, want a direct conn", i)
			}
		}
	})
}

// TestListenerFloodTCP opens 100 silent connections to a Listener on
// loopback with MaxHandshakes 8, then a good one: the good one is served,
// at most 8 connections are ever held, and each of the others is ended.
func TestListenerFloodTCP(t *testing.T) {
	const max, flood = 8, 100
	var lp atomic.Pointer[Listener] // set once Listen returns
	hs := newHandshakes()
	over := make(chan int, 1)
	l := listenLoopback(t, &ListenConfig{
		MaxHandshakes:    max,
		HandshakeTimeout: time.Minute, // only evictions end the flood's handshakes here
		HandshakeDone: func(i HandshakeInfo) {
			h := 0
			if l := lp.Load(); l != nil {
				l.mu.Lock()
				h = len(l.hs) + l.nready
				l.mu.Unlock()
			}
			if h > max {
				select {
				case over <- h:
				default:
				}
			}
			hs.done(i)
		},
	})
	lp.Store(l)
	deadline := time.Now().Add(20 * time.Second)
	for range flood {
		d := net.Dialer{Deadline: deadline}
		nc, err := d.Dial("tcp4", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
	}
	nc := dialListener(t, l)
	nc.Write(mustMarshal(t, &testReq))
	if d := cmp.Diff([]byte{0x82, 0, 0, 0}, readN(t, nc, HeaderLen)); d != "" {
		t.Errorf("the good client's answer (-want +got):\n%s", d)
	}
	acceptWithin(t, l)
	// The kernel queues connections in order: the flood's all came out of
	// the inner listener before the good one, which leaves max-1 held.
	evicted := 0
	for evicted < flood-(max-1) {
		i := hs.next(t)
		switch {
		case i.Err == nil:
		case errors.Is(i.Err, ErrEvicted):
			evicted++
		default:
			t.Fatalf("a handshake ended with %v, want ErrEvicted", i.Err)
		}
	}
	select {
	case h := <-over:
		t.Errorf("%d connections held, more than MaxHandshakes %d", h, max)
	default:
	}
	if time.Now().After(deadline) {
		t.Errorf("the flood took longer than its bound: %v", os.ErrDeadlineExceeded)
	}
}
