package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/net/nettest"

	"github.com/netbios-go/netbios/nbns"
)

// sessionPair opens a session over the two ends of a connection, the
// caller on c1 and the listener on c2.
func sessionPair(t testing.TB, c1, c2 net.Conn, cfg *Config) (caller, listener *Conn, err error) {
	req := Request{Called: nbns.MustName("LABSRV", nbns.FileServer), Calling: nbns.MustName("CLIENT", nbns.Workstation)}
	type result struct {
		c   *Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := Accept(context.Background(), c2, func(Request) error { return nil }, cfg)
		done <- result{c, err}
	}()
	d := Dialer{Config: cfg}
	caller, err = d.DialConn(context.Background(), c1, req)
	r := <-done
	if err == nil {
		err = r.err
	}
	return caller, r.c, err
}

func TestConnNettestPipe(t *testing.T) {
	nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
		p1, p2 := net.Pipe()
		a, b, err := sessionPair(t, p1, p2, nil)
		if err != nil {
			return nil, nil, nil, err
		}
		return a.Payload(), b.Payload(), func() { a.Close(); b.Close() }, nil
	})
}

func TestConnNettestTCP(t *testing.T) {
	nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
		ln, err := nettest.NewLocalListener("tcp4")
		if err != nil {
			return nil, nil, nil, err
		}
		defer ln.Close()
		accepted := make(chan net.Conn, 1)
		go func() {
			c, _ := ln.Accept()
			accepted <- c
		}()
		p1, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			return nil, nil, nil, err
		}
		p2 := <-accepted
		a, b, err := sessionPair(t, p1, p2, nil)
		if err != nil {
			return nil, nil, nil, err
		}
		return a.Payload(), b.Payload(), func() { a.Close(); b.Close() }, nil
	})
}

// cat joins byte slices.
func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// checkTimeout fails unless err is a deadline error, as net.Conn promises:
// a net.Error whose Timeout is true, and os.ErrDeadlineExceeded.
func checkTimeout(t testing.TB, err error) {
	t.Helper()
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("error %v (%T): want a net.Error with Timeout() true", err, err)
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("error %v: want os.ErrDeadlineExceeded", err)
	}
}

// readN reads exactly n bytes from r.
func readN(t testing.TB, r io.Reader, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		t.Fatalf("reading %d bytes: %v", n, err)
	}
	return b
}

// smallStream is a stream of three messages with keep-alives around them:
//
//	 0  85 00 00 00                keep-alive
//	 4  00 00 00 03  00 01 02      message "\x00\x01\x02"
//	11  00 00 00 00                empty message
//	15  85 00 00 00  85 00 00 00   2 keep-alives
//	23  00 00 00 0a  00 .. 09      message of 10 bytes
//	37  85 00 00 00                keep-alive
var smallStream = buildStream([]int{1, 0, 2, 1}, [][]byte{counting(3), {}, counting(10)})

// TestReadTimeoutResumes lets a read deadline fire after each cut of the
// stream (in the middle of a header, of a payload, of a keep-alive), then
// resets it and reads on: each view returns exactly what it returns from a
// stream read in one go. The timed-out call reports a deadline error and
// nothing is lost. Runs in a synctest bubble, where net.Pipe deadlines use
// the fake clock.
func TestReadTimeoutResumes(t *testing.T) {
	type cutCase struct {
		name string
		s    sessionStream
		cuts []int // the deadline fires after each of these offsets of the wire
	}
	big := buildStream([]int{0, 1}, [][]byte{counting(0x10001)})
	tests := []cutCase{
		{"2 of 4 header bytes", smallStream, []int{6}},
		{"1 payload byte", smallStream, []int{9}},
		{"keep-alive 85 | 00 00 | 00", smallStream, []int{1, 3}},
		{"every header byte", smallStream, []int{4, 5, 6, 7, 8}},
		{"every byte", smallStream, func() []int {
			var cuts []int
			for k := range len(smallStream.wire) + 1 {
				cuts = append(cuts, k)
			}
			return cuts
		}()},
		{"E-bit message", big, []int{2, 4, 40000, 0x10003, 0x10004, 0x10006}},
	}
	for k := range len(smallStream.wire) + 1 {
		tests = append(tests, cutCase{fmt.Sprintf("cut at %d", k), smallStream, []int{k}})
	}
	for _, v := range readViews {
		for _, tt := range tests {
			t.Run(v.name+"/"+tt.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					raw, nc := net.Pipe()
					c := NewConn(nc, Request{}, nil)
					defer c.Close()
					col := v.new(rand.New(rand.NewPCG(1, 2)), 7)
					prev := 0
					for _, cut := range tt.cuts {
						wrote := make(chan error, 1)
						go func(b []byte) {
							var err error
							if len(b) > 0 { // net.Pipe would deliver an empty write as a 0-byte read
								_, err = raw.Write(b)
							}
							wrote <- err
						}(tt.s.wire[prev:cut])
						c.SetReadDeadline(time.Now().Add(time.Second))
						start := time.Now()
						err := col.drain(c)
						if d := time.Since(start); d != time.Second {
							t.Errorf("cut at %d: the read returned after %v, want 1s", cut, d)
						}
						checkTimeout(t, err)
						if err := <-wrote; err != nil {
							t.Fatalf("cut at %d: the peer's write failed: %v", cut, err)
						}
						prev = cut
					}
					c.SetReadDeadline(time.Time{})
					go func() {
						raw.Write(tt.s.wire[prev:])
						raw.Close()
					}()
					if err := col.drain(c); err != io.EOF {
						t.Errorf("at the end: error %v, want io.EOF", err)
					}
					if d := diffResult(v.want(tt.s), col.result()); d != "" {
						t.Error(d)
					}
				})
			})
		}
	}
}

// TestReadMessageTimeoutPartial: ReadMessage that times out in the middle
// of a payload returns the bytes read so far, appended to the buffer it was
// given, and the next call appends the rest of the same message.
func TestReadMessageTimeoutPartial(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		raw, nc := net.Pipe()
		c := NewConn(nc, Request{}, nil)
		defer c.Close()
		defer raw.Close()
		payload := counting(10)
		go raw.Write(cat(keepAlive, message(payload)[:4+6]))
		c.SetReadDeadline(time.Now().Add(time.Second))
		got, err := c.ReadMessage([]byte("prefix"))
		checkTimeout(t, err)
		if d := cmp.Diff(cat([]byte("prefix"), payload[:6]), got); d != "" {
			t.Errorf("after the timeout (-want +got):\n%s", d)
		}
		go raw.Write(payload[6:])
		c.SetReadDeadline(time.Time{})
		got, err = c.ReadMessage(got)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(cat([]byte("prefix"), payload), got); d != "" {
			t.Errorf("after resuming (-want +got):\n%s", d)
		}
	})
}

// TestReadMessageLyingLength: a 24-bit length that the stream does not
// fill costs no more than 64 KiB of buffer beyond the bytes that came.
func TestReadMessageLyingLength(t *testing.T) {
	wire := cat([]byte{0x00, 0xFF, 0xFF, 0xFF}, counting(10))
	c := NewConn(readerConn{r: bytes.NewReader(wire)}, Request{}, nil)
	got, err := c.ReadMessage(nil)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("error %v, want io.ErrUnexpectedEOF", err)
	}
	if d := cmp.Diff(counting(10), got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if cap(got) > len(got)+64<<10 {
		t.Errorf("buffer of %d bytes for %d bytes read", cap(got), len(got))
	}
}

// TestCloseUnblocks: Close makes a Read waiting for data, and a Write
// waiting for a peer that does not read, return at once with an error.
func TestCloseUnblocks(t *testing.T) {
	tests := []struct {
		name string
		op   func(c *Conn) error
	}{
		{"Read", func(c *Conn) error { _, err := c.Read(make([]byte, 10)); return err }},
		{"Payload.Read", func(c *Conn) error { _, err := c.Payload().Read(make([]byte, 10)); return err }},
		{"ReadMessage", func(c *Conn) error { _, err := c.ReadMessage(nil); return err }},
		{"Write", func(c *Conn) error { _, err := c.Write(message(counting(100))); return err }},
		{"Payload.Write", func(c *Conn) error { _, err := c.Payload().Write(counting(100)); return err }},
		{"WriteMessage", func(c *Conn) error { return c.WriteMessage(counting(100)) }},
	}
	for _, tt := range tests {
		t.Run("pipe/"+tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				raw, nc := net.Pipe()
				defer raw.Close()
				c := NewConn(nc, Request{}, nil)
				done := make(chan error, 1)
				go func() { done <- tt.op(c) }()
				synctest.Wait() // the op is blocked on the pipe
				select {
				case err := <-done:
					t.Fatalf("returned before Close: %v", err)
				default:
				}
				start := time.Now()
				if err := c.Close(); err != nil {
					t.Fatal(err)
				}
				if err := <-done; !errors.Is(err, io.ErrClosedPipe) {
					t.Errorf("error %v, want io.ErrClosedPipe", err)
				}
				if d := time.Since(start); d != 0 {
					t.Errorf("returned %v after Close", d)
				}
			})
		})
	}
	t.Run("tcp/Read", func(t *testing.T) {
		_, nc := tcpPair(t)
		c := NewConn(nc, Request{}, nil)
		done := make(chan error, 1)
		go func() { _, err := c.Read(make([]byte, 10)); done <- err }()
		c.Close()
		select {
		case err := <-done:
			if !errors.Is(err, net.ErrClosed) {
				t.Errorf("error %v, want net.ErrClosed", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Read still blocked 10s after Close")
		}
	})
	t.Run("tcp/Write", func(t *testing.T) {
		_, nc := tcpPair(t)
		c := NewConn(nc, Request{}, nil)
		done := make(chan error, 1)
		wrote := make(chan struct{})
		go func() {
			msg := message(counting(MaxLength))
			for i := 0; ; i++ {
				if _, err := c.Write(msg); err != nil {
					done <- err
					return
				}
				if i == 0 {
					close(wrote)
				}
			}
		}()
		<-wrote // the next writes fill the socket buffers and block
		c.Close()
		select {
		case err := <-done:
			if !errors.Is(err, net.ErrClosed) {
				t.Errorf("error %v, want net.ErrClosed", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Write still blocked 10s after Close")
		}
	})
}

// recConn records what a Conn writes to it, one slice per Write. Its other
// methods are those of a nil net.Conn, except Close.
type recConn struct {
	net.Conn
	writes [][]byte
}

func (r *recConn) Write(p []byte) (int, error) {
	r.writes = append(r.writes, bytes.Clone(p))
	return len(p), nil
}

func (r *recConn) Close() error { return nil }

func (r *recConn) sent() []byte { return cat(r.writes...) }

// TestWriteFraming: Write checks each header of the stream it is given.
// A header that is not a session message with a 17-bit length is refused:
// Write returns the count of the bytes before it and an error, and sends
// none of it, even when it was split across calls; a header split across
// calls is held back until it is complete. The conn writes on afterwards.
func TestWriteFraming(t *testing.T) {
	msg3 := message([]byte("abc"))
	request, err := (&Request{Called: smbserver, Calling: nbtprobe}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	type step struct {
		write []byte
		n     int  // Write's count
		bad   bool // Write fails with ErrFraming
		sent  []byte
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"keep-alive", []step{{cat(msg3, keepAlive), 7, true, msg3}}},
		{"session request", []step{{cat(msg3, request), 7, true, msg3}}},
		{"positive response", []step{{cat(msg3, []byte{0x82, 0, 0, 0}, msg3), 7, true, msg3}}},
		{"flags 0x02, a 24-bit length", []step{{cat(msg3, []byte{0x00, 0x02, 0x00, 0x00}), 7, true, msg3}}},
		{"flags 0x80", []step{{cat(msg3, []byte{0x00, 0x80, 0x00, 0x00}), 7, true, msg3}}},
		{"type 0x86", []step{{[]byte{0x86, 0, 0, 0}, 0, true, nil}}},
		{"bad header first", []step{{cat(keepAlive, msg3), 0, true, nil}}},
		{"bad header after a payload split across writes", []step{
			{cat([]byte{0x00, 0x00, 0x00, 0x06}, []byte("abc")), 7, false, cat([]byte{0x00, 0x00, 0x00, 0x06}, []byte("abc"))},
			{cat([]byte("def"), keepAlive), 3, true, message([]byte("abcdef"))},
		}},
		{"good header split across writes", []step{
			{[]byte{0x00}, 1, false, nil},
			{[]byte{0x00, 0x00}, 2, false, nil},
			{[]byte{0x03, 'a'}, 2, false, []byte{0x00, 0x00, 0x00, 0x03, 'a'}},
			{[]byte("bc"), 2, false, msg3},
		}},
		{"good header split, then more headers", []step{
			{cat(msg3, []byte{0x00, 0x00}), 9, false, msg3},
			{cat([]byte{0x00, 0x00}, msg3, []byte{0x00}), 10, false, cat(msg3, message(nil), msg3)},
			{[]byte{0x00, 0x00, 0x01, 'x'}, 4, false, cat(msg3, message(nil), msg3, message([]byte("x")))},
		}},
		{"bad header split across writes", []step{
			{cat(msg3, []byte{0x00}), 8, false, msg3},
			{[]byte{0x02, 0x00}, 2, false, msg3},
			{[]byte{0x00}, 0, true, msg3},
			{msg3, 7, false, cat(msg3, msg3)},
		}},
		{"keep-alive split across writes", []step{
			{[]byte{0x85, 0x00}, 2, false, nil},
			{[]byte{0x00, 0x00}, 0, true, nil},
			{msg3, 7, false, msg3},
		}},
		{"good message after a refused header", []step{
			{cat(msg3, keepAlive), 7, true, msg3},
			{msg3, 7, false, cat(msg3, msg3)},
		}},
		{"empty messages", []step{{cat(message(nil), message(nil)), 8, false, cat(message(nil), message(nil))}}},
		{"MaxLength", []step{{message(counting(MaxLength)), 4 + MaxLength, false, message(counting(MaxLength))}}},
		{"empty write holding nothing", []step{{nil, 0, false, nil}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := &recConn{}
			c := NewConn(rc, Request{}, nil)
			for i, s := range tt.steps {
				n, err := c.Write(s.write)
				if n != s.n || (err != nil) != s.bad || (s.bad && !errors.Is(err, ErrFraming)) {
					t.Errorf("step %d: Write = %d, %v; want %d, bad header %v", i, n, err, s.n, s.bad)
				}
				if d := cmp.Diff(s.sent, rc.sent(), cmpopts.EquateEmpty()); d != "" {
					t.Errorf("step %d: sent (-want +got):\n%s", i, d)
				}
			}
		})
	}
}

// TestWriteMessage: WriteMessage frames its payload with the E bit when it
// needs it, and refuses more than MaxLength bytes without sending any; the
// Payload view splits long writes into messages of MaxLength bytes.
func TestWriteMessage(t *testing.T) {
	tests := []struct {
		name    string
		payload int
		hdr     []byte // nil: refused
	}{
		{"empty", 0, []byte{0x00, 0x00, 0x00, 0x00}},
		{"0xFFFF", 0xFFFF, []byte{0x00, 0x00, 0xFF, 0xFF}},
		{"0x10000, E bit", 0x10000, []byte{0x00, 0x01, 0x00, 0x00}},
		{"MaxLength", MaxLength, []byte{0x00, 0x01, 0xFF, 0xFF}},
		{"MaxLength+1", MaxLength + 1, nil},
		{"MaxLenientLength", MaxLenientLength, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := &recConn{}
			c := NewConn(rc, Request{}, nil)
			p := counting(tt.payload)
			err := c.WriteMessage(p)
			if tt.hdr == nil {
				if err == nil {
					t.Fatal("WriteMessage succeeded, want an error")
				}
				if len(rc.writes) != 0 {
					t.Errorf("sent %d bytes of a refused message", len(rc.sent()))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := diffBytes(cat(tt.hdr, p), rc.sent()); d != "" {
				t.Error(d)
			}
		})
	}
	t.Run("Payload view", func(t *testing.T) {
		rc := &recConn{}
		c := NewConn(rc, Request{}, nil)
		p := counting(2*MaxLength + 5)
		if n, err := c.Payload().Write(p); n != len(p) || err != nil {
			t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(p))
		}
		if n, err := c.Payload().Write(nil); n != 0 || err != nil {
			t.Fatalf("empty Write = %d, %v; want 0, nil", n, err)
		}
		want := cat(message(p[:MaxLength]), message(p[MaxLength:2*MaxLength]), message(p[2*MaxLength:]))
		if d := diffBytes(want, rc.sent()); d != "" {
			t.Error(d)
		}
	})
}

// headerCut reports whether offset k of stream falls strictly inside a
// session message header, the stream being well framed.
func headerCut(stream []byte, k int) bool {
	for off := 0; off < len(stream); {
		h, err := ParseHeader(stream[off:])
		if err != nil {
			panic(err)
		}
		if off < k && k < off+HeaderLen {
			return true
		}
		off += HeaderLen + h.Length
	}
	return false
}

// writeCut starts op on a Conn over net.Pipe with a write deadline of 1s,
// lets the peer read exactly k bytes, and returns those bytes, the
// conn, the peer, and op's result once the deadline has fired. It runs in
// a synctest bubble.
func writeCut(t *testing.T, k int, op func(c *Conn) (int, error)) (got []byte, c *Conn, raw net.Conn, n int, err error) {
	t.Helper()
	raw, nc := net.Pipe()
	c = NewConn(nc, Request{}, nil)
	c.SetWriteDeadline(time.Now().Add(time.Second))
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := op(c)
		done <- result{n, err}
	}()
	got = readN(t, raw, k)
	r := <-done
	c.SetWriteDeadline(time.Time{})
	return got, c, raw, r.n, r.err
}

// readRest reads the peer until c is closed.
func readRest(raw net.Conn) <-chan []byte {
	ch := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(raw)
		ch <- b
	}()
	return ch
}

// TestWriteTimeoutResumes lets a write deadline fire after the peer has
// read k bytes, for every k, then writes the rest: the peer receives the
// stream intact, unless the write stopped inside a header, which breaks
// the write side for good (every later write fails, and sends nothing).
func TestWriteTimeoutResumes(t *testing.T) {
	stream := cat(message(counting(3)), message(nil), message(counting(6)))
	for k := range len(stream) + 1 {
		t.Run(fmt.Sprintf("Write/cut at %d", k), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				got, c, raw, n, err := writeCut(t, k, func(c *Conn) (int, error) { return c.Write(stream) })
				defer raw.Close()
				if k == len(stream) {
					if n != k || err != nil {
						t.Errorf("Write = %d, %v; want %d, nil", n, err, k)
					}
					c.Close()
					return
				}
				if n != k {
					t.Errorf("Write = %d, want %d", n, k)
				}
				checkTimeout(t, err)
				rest := readRest(raw)
				n, err = c.Write(stream[k:])
				c.Close()
				got = append(got, <-rest...)
				if headerCut(stream, k) {
					var be *brokenError
					if n != 0 || !errors.As(err, &be) || !errors.Is(err, os.ErrDeadlineExceeded) {
						t.Errorf("resuming inside a header: Write = %d, %v; want 0, a *brokenError wrapping the timeout", n, err)
					}
					if d := diffBytes(stream[:k], got); d != "" {
						t.Errorf("a broken conn sent more: %s", d)
					}
					return
				}
				if n != len(stream)-k || err != nil {
					t.Errorf("resuming: Write = %d, %v; want %d, nil", n, err, len(stream)-k)
				}
				if d := diffBytes(stream, got); d != "" {
					t.Error(d)
				}
			})
		})
	}
	payload := counting(10)
	for k := range HeaderLen + len(payload) {
		t.Run(fmt.Sprintf("Payload.Write/cut at %d", k), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				got, c, raw, n, err := writeCut(t, k, func(c *Conn) (int, error) { return c.Payload().Write(payload) })
				defer raw.Close()
				checkTimeout(t, err)
				if want := max(k-HeaderLen, 0); n != want {
					t.Errorf("Write = %d, want %d", n, want)
				}
				rest := readRest(raw)
				n2, err := c.Payload().Write(payload[n:])
				c.Close()
				got = append(got, <-rest...)
				if 0 < k && k < HeaderLen {
					if !errors.Is(err, os.ErrDeadlineExceeded) {
						t.Errorf("resuming inside a header: error %v, want the sticky timeout", err)
					}
					return
				}
				if n2 != len(payload)-n || err != nil {
					t.Errorf("resuming: Write = %d, %v; want %d, nil", n2, err, len(payload)-n)
				}
				if d := diffBytes(message(payload), got); d != "" {
					t.Error(d)
				}
			})
		})
	}
}

// TestWriteMessageAfterTimeout: WriteMessage promises to send its payload
// as one session message. After a WriteMessage that timed out in the
// middle of its payload (WriteMessage returns no count, so the caller
// cannot know what to resume with), the next WriteMessage must either fail
// or send its payload as a message of its own; it must not splice it into
// the unfinished message and report success.
func TestWriteMessageAfterTimeout(t *testing.T) {
	first, second := counting(10), []byte("second")
	for _, k := range []int{0, 2, 4, 5, 9} {
		t.Run(fmt.Sprintf("cut at %d", k), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				got, c, raw, _, err := writeCut(t, k, func(c *Conn) (int, error) { return 0, c.WriteMessage(first) })
				defer raw.Close()
				checkTimeout(t, err)
				sent := len(got)
				rest := readRest(raw)
				err = c.WriteMessage(second)
				c.Close()
				got = append(got, <-rest...)
				if err != nil {
					if len(got) > sent {
						t.Errorf("WriteMessage(%q) failed (%v), but sent % x into the unfinished message", second, err, got[sent:])
					}
					return // refusing is fine
				}
				if !bytes.HasSuffix(got, message(second)) {
					t.Errorf("WriteMessage(%q) returned nil, but the peer got % x: the payload is not a message of its own", second, got)
				}
			})
		})
	}
}

// spyConn counts the writes made to it after Close.
type spyConn struct {
	net.Conn
	closed atomic.Bool
	late   atomic.Int32
}

func (s *spyConn) Write(p []byte) (int, error) {
	if s.closed.Load() {
		s.late.Add(1)
	}
	return s.Conn.Write(p)
}

func (s *spyConn) Close() error {
	s.closed.Store(true)
	return s.Conn.Close()
}

// expectKeepAlive reads a keep-alive from the peer and checks that it came
// at offset at of the fake clock.
func expectKeepAlive(t *testing.T, raw net.Conn, start time.Time, at time.Duration) {
	t.Helper()
	if d := cmp.Diff(keepAlive, readN(t, raw, HeaderLen)); d != "" {
		t.Errorf("at %v (-want +got):\n%s", at, d)
	}
	if got := time.Since(start); got != at {
		t.Errorf("keep-alive sent at %v, want %v", got, at)
	}
}

// expectQuiet checks that the peer receives nothing until the fake clock
// reaches until (which is how the tests let time pass).
func expectQuiet(t *testing.T, raw net.Conn, until time.Time) {
	t.Helper()
	raw.SetReadDeadline(until)
	defer raw.SetReadDeadline(time.Time{})
	b := make([]byte, 16)
	n, err := raw.Read(b)
	if n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the peer read % x, %v; want nothing until %v", b[:n], err, until)
	}
	if now := time.Now(); !now.Equal(until) {
		t.Errorf("quiet until %v, want %v", now, until)
	}
}

// TestKeepAlive runs the keep-alive option on the fake clock of a synctest
// bubble: an idle conn sends 85 00 00 00 every KeepAlive; data sent or
// received postpones it (RFC 1001 §16.3.2); it never goes into the middle
// of a message; Close stops it; it is off unless configured.
func TestKeepAlive(t *testing.T) {
	cfg := &Config{KeepAlive: time.Minute}
	run := func(name string, f func(t *testing.T, c *Conn, raw net.Conn, start time.Time)) {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				raw, nc := net.Pipe()
				defer raw.Close()
				c := NewConn(nc, Request{}, cfg)
				defer c.Close()
				f(t, c, raw, time.Now())
			})
		})
	}
	run("idle", func(t *testing.T, c *Conn, raw net.Conn, start time.Time) {
		expectQuiet(t, raw, start.Add(time.Minute-time.Nanosecond))
		for i := 1; i <= 3; i++ {
			expectKeepAlive(t, raw, start, time.Duration(i)*time.Minute)
		}
	})
	run("postponed by a write", func(t *testing.T, c *Conn, raw net.Conn, start time.Time) {
		expectQuiet(t, raw, start.Add(30*time.Second))
		go c.WriteMessage([]byte("hi"))
		if d := cmp.Diff(message([]byte("hi")), readN(t, raw, 6)); d != "" {
			t.Errorf("(-want +got):\n%s", d)
		}
		expectQuiet(t, raw, start.Add(90*time.Second-time.Nanosecond))
		expectKeepAlive(t, raw, start, 90*time.Second)
	})
	run("postponed by a read", func(t *testing.T, c *Conn, raw net.Conn, start time.Time) {
		expectQuiet(t, raw, start.Add(30*time.Second))
		go raw.Write(message([]byte("hi")))
		if got, err := c.ReadMessage(nil); string(got) != "hi" || err != nil {
			t.Fatalf("ReadMessage = %q, %v", got, err)
		}
		expectQuiet(t, raw, start.Add(90*time.Second-time.Nanosecond))
		expectKeepAlive(t, raw, start, 90*time.Second)
	})
	run("not inside a message", func(t *testing.T, c *Conn, raw net.Conn, start time.Time) {
		msg := message(counting(10))
		go c.Write(msg[:9])
		readN(t, raw, 9)
		expectQuiet(t, raw, start.Add(10*time.Minute))
		go c.Write(msg[9:])
		readN(t, raw, 5)
		expectKeepAlive(t, raw, start, 11*time.Minute)
	})
	run("not inside a held header", func(t *testing.T, c *Conn, raw net.Conn, start time.Time) {
		if n, err := c.Write([]byte{0x00, 0x00}); n != 2 || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
		expectQuiet(t, raw, start.Add(10*time.Minute))
		go c.Write([]byte{0x00, 0x01, 'x'})
		if d := cmp.Diff(message([]byte("x")), readN(t, raw, 5)); d != "" {
			t.Errorf("(-want +got):\n%s", d)
		}
		expectKeepAlive(t, raw, start, 11*time.Minute)
	})
	t.Run("Close stops it", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			raw, nc := net.Pipe()
			defer raw.Close()
			spy := &spyConn{Conn: nc}
			c := NewConn(spy, Request{}, cfg)
			start := time.Now()
			expectKeepAlive(t, raw, start, time.Minute)
			c.Close()
			time.Sleep(10 * time.Minute) // fake clock: a timer still armed would fire
			if n := spy.late.Load(); n != 0 {
				t.Errorf("%d writes after Close", n)
			}
			if n, err := raw.Read(make([]byte, 4)); err != io.EOF {
				t.Errorf("the peer read %d bytes, %v; want io.EOF", n, err)
			}
		})
	})
	for _, cfg := range []*Config{nil, {}, {KeepAlive: -time.Minute}} {
		t.Run(fmt.Sprintf("off/%+v", cfg), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				raw, nc := net.Pipe()
				defer raw.Close()
				c := NewConn(nc, Request{}, cfg)
				defer c.Close()
				expectQuiet(t, raw, time.Now().Add(24*time.Hour))
			})
		})
	}
}

// drainWire reads wire through view v of a Conn with cfg, until an error,
// then once more to see whether the error sticks.
func drainWire(t *testing.T, v readView, cfg *Config, wire []byte) (col collector, err, again error) {
	t.Helper()
	raw, nc := net.Pipe()
	c := NewConn(nc, Request{}, cfg)
	defer c.Close()
	fed := feed(rand.New(rand.NewPCG(3, 4)), raw, wire, 1000)
	col = v.new(rand.New(rand.NewPCG(5, 6)), 1000)
	err = col.drain(c)
	again = col.drain(c)
	c.Close()
	if werr := <-fed; werr != nil && !errors.Is(werr, io.ErrClosedPipe) {
		t.Errorf("the peer's write failed: %v", werr)
	}
	return col, err, again
}

// TestStrictLenient: by default a SESSION MESSAGE header is read as a
// Direct-TCP header with a 24-bit length and passed through byte for byte;
// Config.Strict reads it as RFC 1002 does and fails on FLAGS other than
// the E bit, with a *ParseError that sticks.
func TestStrictLenient(t *testing.T) {
	abc, xyz := message([]byte("abc")), message([]byte("xyz"))
	tests := []struct {
		name      string
		hdr       []byte
		payload   int
		strictOK  bool
		lenientOK bool
	}{
		{"flags 0x02: 24-bit length 0x20000", []byte{0x00, 0x02, 0x00, 0x00}, 0x20000, false, true},
		{"flags 0x03: 24-bit length 0x3FFFF", []byte{0x00, 0x03, 0xFF, 0xFF}, 0x3FFFF, false, true},
		{"flags 0x01: E bit", []byte{0x00, 0x01, 0xFF, 0xFF}, MaxLength, true, true},
		{"keep-alive with flags 0x02", []byte{0x85, 0x02, 0x00, 0x00}, 0, false, false},
	}
	for _, tt := range tests {
		p := counting(tt.payload)
		s := sessionStream{
			wire:     cat(abc, tt.hdr, p, xyz),
			messages: cat(abc, tt.hdr, p, xyz),
			payloads: [][]byte{[]byte("abc"), p, []byte("xyz")},
		}
		for _, strict := range []bool{false, true} {
			ok := tt.lenientOK
			if strict {
				ok = tt.strictOK
			}
			for _, v := range readViews {
				t.Run(fmt.Sprintf("%s/strict=%v/%s", tt.name, strict, v.name), func(t *testing.T) {
					col, err, again := drainWire(t, v, &Config{Strict: strict}, s.wire)
					if ok {
						if err != io.EOF {
							t.Errorf("error %v, want io.EOF", err)
						}
						if d := diffResult(v.want(s), col.result()); d != "" {
							t.Error(d)
						}
						return
					}
					var pe *ParseError
					if !errors.As(err, &pe) || pe.Field != "FLAGS" {
						t.Errorf("error %v, want a *ParseError on FLAGS", err)
					}
					if again != err {
						t.Errorf("next read: %v, want the same error again", again)
					}
					before := sessionStream{messages: abc, payloads: [][]byte{[]byte("abc")}}
					if d := diffResult(v.want(before), col.result()); d != "" {
						t.Errorf("before the error: %s", d)
					}
				})
			}
		}
	}
}

// TestReadErrors: a handshake packet in the data phase is an error that
// wraps ErrUnexpectedPacket and sticks; the stream ending inside a packet
// is io.ErrUnexpectedEOF, and between packets io.EOF. The complete
// messages before, and the bytes of a cut message, are delivered first.
func TestReadErrors(t *testing.T) {
	msgs := [][]byte{[]byte("abc"), {}, counting(0x10000)}
	request, err := (&Request{Called: smbserver, Calling: nbtprobe}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	hdr10 := []byte{0x00, 0x00, 0x00, 0x0a}
	tests := []struct {
		name   string
		msgs   [][]byte // whole messages before the tail
		tail   []byte   // the end of the wire
		partT  []byte   // what the transparent view reads of the tail
		partP  []byte   // what the payload view and ReadMessage read of it
		want   error    // for errors.Is; io.EOF must come bare
		sticky bool     // the next read fails the same way (a framing error)
	}{
		{"positive response", msgs, cat([]byte{0x82, 0, 0, 0}, message(nil)), nil, nil, ErrUnexpectedPacket, true},
		{"negative response", msgs, []byte{0x83, 0, 0, 1, 0x82}, nil, nil, ErrUnexpectedPacket, true},
		{"retarget response", msgs, []byte{0x84, 0, 0, 6, 127, 0, 0, 1, 0, 139}, nil, nil, ErrUnexpectedPacket, true},
		{"session request", msgs, request, nil, nil, ErrUnexpectedPacket, true},
		{"type 0x86", msgs, []byte{0x86, 0, 0, 0}, nil, nil, ErrUnexpectedPacket, true},
		{"positive response first", nil, []byte{0x82, 0, 0, 0}, nil, nil, ErrUnexpectedPacket, true},
		{"EOF at once", nil, nil, nil, nil, io.EOF, false},
		{"EOF at a boundary", msgs, nil, nil, nil, io.EOF, false},
		{"EOF after a keep-alive", msgs, keepAlive, nil, nil, io.EOF, false},
		{"EOF inside a keep-alive", msgs, []byte{0x85, 0x00}, nil, nil, io.ErrUnexpectedEOF, false},
		{"EOF inside a header", msgs, []byte{0x00, 0x00, 0x01}, nil, nil, io.ErrUnexpectedEOF, false},
		{"EOF after a header", msgs, hdr10, hdr10, nil, io.ErrUnexpectedEOF, false},
		{"EOF inside a payload", msgs, cat(hdr10, []byte{1, 2, 3}), cat(hdr10, []byte{1, 2, 3}), []byte{1, 2, 3}, io.ErrUnexpectedEOF, false},
	}
	for _, tt := range tests {
		var before sessionStream
		for _, m := range tt.msgs {
			before.wire = append(before.wire, message(m)...)
		}
		before.messages = before.wire
		before.payloads = tt.msgs
		for _, v := range readViews {
			t.Run(tt.name+"/"+v.name, func(t *testing.T) {
				col, err, again := drainWire(t, v, nil, cat(before.wire, tt.tail))
				if tt.want == io.EOF && err != io.EOF {
					t.Errorf("error %v, want io.EOF", err)
				}
				if !errors.Is(err, tt.want) {
					t.Errorf("error %v, want %v", err, tt.want)
				}
				if tt.sticky && again != err {
					t.Errorf("next read: %v, want the same error again", again)
				}
				if !tt.sticky && !errors.Is(again, tt.want) {
					t.Errorf("next read: %v, want %v", again, tt.want)
				}
				var want any
				switch col := col.(type) {
				case *messageReader:
					want = before.payloads
					if d := cmp.Diff(tt.partP, col.partial, cmpopts.EquateEmpty()); d != "" {
						t.Errorf("partial message (-want +got):\n%s", d)
					}
				case *streamReader:
					want = cat(before.messages, tt.partT)
					if col.payload {
						want = cat(before.payloadBytes(), tt.partP)
					}
				}
				if d := diffResult(want, col.result()); d != "" {
					t.Error(d)
				}
			})
		}
	}
}

// scriptConn is a net.Conn whose Reads follow a script, as a TCP
// connection does that has received each step's bytes by the time it is
// read: a Read returns as much of the next step's data as fits, and with
// its last byte the step's error. After the script it returns io.EOF. It
// counts its Reads. Its other methods are those of a nil net.Conn, except
// Close.
type scriptConn struct {
	net.Conn
	steps []readStep
	reads int
}

// A readStep is what one or more Reads of a scriptConn return.
type readStep struct {
	data []byte
	err  error
}

func (s *scriptConn) Read(p []byte) (int, error) {
	s.reads++
	if len(s.steps) == 0 {
		return 0, io.EOF
	}
	st := &s.steps[0]
	n := copy(p, st.data)
	st.data = st.data[n:]
	if len(st.data) > 0 {
		return n, nil
	}
	err := st.err
	s.steps = s.steps[1:]
	return n, err
}

func (s *scriptConn) Close() error { return nil }

// equalBytesFast makes cmp skip byte slices that are equal, which it would
// otherwise compare byte by byte, slowly for 128 KiB.
var equalBytesFast = cmp.FilterValues(func(x, y []byte) bool { return bytes.Equal(x, y) }, cmp.Ignore())

// readResult is what one Read of a Conn returned, and how many Reads of
// the underlying connection it made.
type readResult struct {
	Data  []byte
	Err   error // compared with errors.Is
	Reads int
}

// TestReadFillsBuffer: a Read returns all the session message bytes that
// one read of the connection brings, however many messages they are, less
// the keep-alives; it holds back the start of a header, which may be a
// keep-alive's, until the rest comes; and it reads again only when what it
// read gives nothing to return. The connection is a script of reads, so
// that each row says exactly what each Read of the Conn gets.
func TestReadFillsBuffer(t *testing.T) {
	var msgs [][]byte // 10 small messages
	for i := range 10 {
		msgs = append(msgs, message(counting(3*i)))
	}
	m := func(s string) []byte { return message([]byte(s)) }
	ab, cd, ef := m("ab"), m("cd"), m("ef")
	flags2 := []byte{0x00, 0x02, 0x00, 0x00} // a 24-bit length of 0x20000, or bad FLAGS
	big := cat(flags2, counting(0x20000))
	const bufLen = 128 << 10

	type row struct {
		name    string
		strict  bool
		payload bool // read the Payload view
		buf     int  // the Read buffer; 0 means 128 KiB
		steps   []readStep
		want    []readResult // for each Read of the Conn, in order
	}
	eof := readResult{nil, io.EOF, 1}
	tests := []row{
		{
			name: "10 messages and keep-alives in one read",
			steps: []readStep{{data: cat(keepAlive, msgs[0], msgs[1], keepAlive, keepAlive, msgs[2], msgs[3], msgs[4],
				keepAlive, msgs[5], msgs[6], msgs[7], msgs[8], keepAlive, msgs[9], keepAlive)}},
			want: []readResult{{cat(msgs...), nil, 1}, eof},
		},
		{
			name:  "10 messages, a keep-alive split across reads",
			steps: []readStep{{data: cat(msgs[0], msgs[1], msgs[2], keepAlive[:2])}, {data: cat(keepAlive[2:], cat(msgs[3:]...))}},
			want:  []readResult{{cat(msgs[:3]...), nil, 1}, {cat(msgs[3:]...), nil, 1}, eof},
		},
		{
			name:  "keep-alive first",
			steps: []readStep{{data: cat(keepAlive, ab, cd)}},
			want:  []readResult{{cat(ab, cd), nil, 1}, eof},
		},
		{
			name:  "keep-alive in the middle",
			steps: []readStep{{data: cat(ab, keepAlive, cd)}},
			want:  []readResult{{cat(ab, cd), nil, 1}, eof},
		},
		{
			name:  "keep-alive last",
			steps: []readStep{{data: cat(ab, cd, keepAlive)}},
			want:  []readResult{{cat(ab, cd), nil, 1}, eof},
		},
		{
			name:  "only keep-alives, read again",
			steps: []readStep{{data: cat(keepAlive, keepAlive)}, {data: ab}},
			want:  []readResult{{ab, nil, 2}, eof},
		},
		{
			name:  "a keep-alive in three reads",
			steps: []readStep{{data: keepAlive[:1]}, {data: keepAlive[1:3]}, {data: cat(keepAlive[3:], ab)}},
			want:  []readResult{{ab, nil, 3}, eof},
		},
		{
			name:  "empty messages",
			steps: []readStep{{data: cat(m(""), keepAlive, m(""), ab)}},
			want:  []readResult{{cat(m(""), m(""), ab), nil, 1}, eof},
		},
		{
			name:  "a payload split across reads",
			steps: []readStep{{data: cat(ab, cd[:5])}, {data: cat(cd[5:], ef)}},
			want:  []readResult{{cat(ab, cd[:5]), nil, 1}, {cat(cd[5:], ef), nil, 1}, eof},
		},
		{
			name:  "FLAGS 0x02, a 24-bit length, fills 128 KiB",
			steps: []readStep{{data: cat(ab, big, cd)}},
			want: []readResult{
				{cat(ab, big)[:bufLen], nil, 1},
				{cat(cat(ab, big)[bufLen:], cd), nil, 1},
				eof,
			},
		},
		{
			name:   "Strict: FLAGS 0x02 after a message",
			strict: true,
			steps:  []readStep{{data: cat(ab, keepAlive, big)}},
			want:   []readResult{{ab, errReservedFlags, 1}, {nil, errReservedFlags, 0}},
		},
		{
			name:   "Strict: the E bit",
			strict: true,
			steps:  []readStep{{data: cat(ab, keepAlive, message(counting(0x10000)), cd)}},
			want:   []readResult{{cat(ab, message(counting(0x10000)), cd), nil, 1}, eof},
		},
		{
			name:  "keep-alive with FLAGS 0x02",
			steps: []readStep{{data: cat(ab, []byte{0x85, 0x02, 0x00, 0x00}, cd)}},
			want:  []readResult{{ab, errReservedFlags, 1}, {nil, errReservedFlags, 0}},
		},
		{
			name:  "a positive response after messages",
			steps: []readStep{{data: cat(ab, cd, keepAlive, []byte{0x82, 0, 0, 0}, ef)}},
			want:  []readResult{{cat(ab, cd), ErrUnexpectedPacket, 1}, {nil, ErrUnexpectedPacket, 0}},
		},
		{
			name:  "type 0x86 first",
			steps: []readStep{{data: cat([]byte{0x86, 0, 0, 0}, ab)}},
			want:  []readResult{{nil, ErrUnexpectedPacket, 1}, {nil, ErrUnexpectedPacket, 0}},
		},
		{
			name:  "EOF inside a payload",
			steps: []readStep{{data: cat(ab, cd[:5])}},
			want:  []readResult{{cat(ab, cd[:5]), nil, 1}, {nil, io.ErrUnexpectedEOF, 1}, {nil, io.ErrUnexpectedEOF, 1}},
		},
		{
			name:  "EOF with the last bytes",
			steps: []readStep{{data: cat(ab, cd), err: io.EOF}},
			want:  []readResult{{cat(ab, cd), nil, 1}, eof},
		},
		{
			name:  "EOF with the last bytes, inside a payload",
			steps: []readStep{{data: cat(ab, cd[:5]), err: io.EOF}},
			want:  []readResult{{cat(ab, cd[:5]), io.ErrUnexpectedEOF, 1}, {nil, io.ErrUnexpectedEOF, 1}},
		},
		{
			name:  "timeout inside a payload, with bytes",
			steps: []readStep{{data: cat(ab, cd[:5]), err: os.ErrDeadlineExceeded}, {data: cd[5:]}},
			want:  []readResult{{cat(ab, cd[:5]), os.ErrDeadlineExceeded, 1}, {cd[5:], nil, 1}, eof},
		},
		{
			name:    "Payload: 10 messages and keep-alives in one read",
			payload: true,
			steps:   []readStep{{data: cat(keepAlive, msgs[0], msgs[1], keepAlive, cat(msgs[2:]...), keepAlive)}},
			want: []readResult{{func() []byte {
				var b []byte
				for _, msg := range msgs {
					b = append(b, msg[HeaderLen:]...)
				}
				return b
			}(), nil, 1}, eof},
		},
		{
			name:    "Payload: only headers, read again",
			payload: true,
			steps:   []readStep{{data: cat(m(""), keepAlive, ab[:HeaderLen])}, {data: ab[HeaderLen:]}},
			want:    []readResult{{[]byte("ab"), nil, 2}, eof},
		},
		{
			name:    "Payload: a positive response after messages",
			payload: true,
			steps:   []readStep{{data: cat(ab, cd, []byte{0x82, 0, 0, 0})}},
			want:    []readResult{{[]byte("abcd"), ErrUnexpectedPacket, 1}, {nil, ErrUnexpectedPacket, 0}},
		},
		{
			name:  "a buffer of 3 between messages: the header piece by piece",
			buf:   3,
			steps: []readStep{{data: cat(keepAlive, ab)}},
			want:  []readResult{{ab[:3], nil, 2}, {ab[3:4], nil, 0}, {ab[4:], nil, 1}, eof},
		},
		{
			name:  "a buffer that ends inside the next header",
			buf:   len(ab) + 2,
			steps: []readStep{{data: cat(ab, cd)}},
			want:  []readResult{{ab, nil, 1}, {cd, nil, 1}, eof},
		},
		{
			name:    "Payload: a buffer of 3",
			payload: true,
			buf:     3,
			steps:   []readStep{{data: cat(keepAlive, m(""), ab, cd)}},
			want:    []readResult{{[]byte("ab"), nil, 4}, {[]byte("cd"), nil, 2}, eof},
		},
		{
			name:    "Payload: FLAGS 0x02, a 24-bit length, fills 128 KiB",
			payload: true,
			steps:   []readStep{{data: cat(ab, big, cd)}},
			want: []readResult{
				{cat([]byte("ab"), big[HeaderLen:])[:bufLen-2*HeaderLen], nil, 1},
				{cat(cat([]byte("ab"), big[HeaderLen:])[bufLen-2*HeaderLen:], []byte("cd")), nil, 1},
				eof,
			},
		},
	}
	// Every cut of a header and of a keep-alive between two reads, with
	// EOF, and a timeout, at the cut.
	for k := 1; k < HeaderLen; k++ {
		tests = append(tests,
			row{
				name:  fmt.Sprintf("header cut %d|%d", k, HeaderLen-k),
				steps: []readStep{{data: cat(ab, cd[:k])}, {data: cat(cd[k:], ef)}},
				want:  []readResult{{ab, nil, 1}, {cat(cd, ef), nil, 1}, eof},
			},
			row{
				name:  fmt.Sprintf("header cut %d|%d, nothing before", k, HeaderLen-k),
				steps: []readStep{{data: cd[:k]}, {data: cd[k:]}},
				want:  []readResult{{cd, nil, 2}, eof},
			},
			row{
				name:  fmt.Sprintf("keep-alive cut %d|%d", k, HeaderLen-k),
				steps: []readStep{{data: cat(ab, keepAlive[:k])}, {data: cat(keepAlive[k:], cd)}},
				want:  []readResult{{ab, nil, 1}, {cd, nil, 1}, eof},
			},
			row{
				name:    fmt.Sprintf("Payload: header cut %d|%d", k, HeaderLen-k),
				payload: true,
				steps:   []readStep{{data: cat(ab, cd[:k])}, {data: cat(cd[k:], ef)}},
				want:    []readResult{{[]byte("ab"), nil, 1}, {[]byte("cdef"), nil, 1}, eof},
			},
			row{
				name:  fmt.Sprintf("EOF inside a header, after %d bytes", k),
				steps: []readStep{{data: cat(ab, cd[:k])}},
				want:  []readResult{{ab, nil, 1}, {nil, io.ErrUnexpectedEOF, 1}, {nil, io.ErrUnexpectedEOF, 1}},
			},
			row{
				name:  fmt.Sprintf("EOF inside a keep-alive, after %d bytes", k),
				steps: []readStep{{data: cat(ab, keepAlive[:k])}},
				want:  []readResult{{ab, nil, 1}, {nil, io.ErrUnexpectedEOF, 1}},
			},
			row{
				name:  fmt.Sprintf("timeout inside a header, after %d bytes", k),
				steps: []readStep{{data: cat(ab, cd[:k])}, {err: os.ErrDeadlineExceeded}, {data: cd[k:]}},
				want:  []readResult{{ab, nil, 1}, {nil, os.ErrDeadlineExceeded, 1}, {cd, nil, 1}, eof},
			},
			row{
				name:  fmt.Sprintf("timeout inside a keep-alive, after %d bytes", k),
				steps: []readStep{{data: keepAlive[:k], err: os.ErrDeadlineExceeded}, {data: cat(keepAlive[k:], ab)}},
				want:  []readResult{{nil, os.ErrDeadlineExceeded, 1}, {ab, nil, 1}, eof},
			},
		)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := &scriptConn{steps: tt.steps}
			c := NewConn(sc, Request{}, &Config{Strict: tt.strict})
			read := c.Read
			if tt.payload {
				read = c.Payload().Read
			}
			buf := make([]byte, bufLen)
			if tt.buf > 0 {
				buf = buf[:tt.buf]
			}
			var got []readResult
			for range tt.want {
				before := sc.reads
				n, err := read(buf)
				got = append(got, readResult{bytes.Clone(buf[:n]), err, sc.reads - before})
			}
			if d := cmp.Diff(tt.want, got, cmpopts.EquateErrors(), cmpopts.EquateEmpty(), equalBytesFast); d != "" {
				t.Errorf("Reads (-want +got):\n%s", d)
			}
		})
	}
}

// peerLoop runs f on the peer's end until it fails, from a goroutine that
// the test waits for, after closing the end.
func peerLoop(tb testing.TB, raw net.Conn, f func() error) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for f() == nil {
		}
	}()
	tb.Cleanup(func() {
		raw.Close()
		<-done
	})
}

// connOverTCP returns a Conn over loopback TCP, and the peer's raw end.
func connOverTCP(tb testing.TB) (*Conn, net.Conn) {
	raw, nc := tcpPair(tb)
	return NewConn(nc, Request{}, nil), raw
}

// TestConnAllocs: in steady state, reading and writing a Conn allocates
// nothing, in every view, given a reused buffer.
func TestConnAllocs(t *testing.T) {
	payload := counting(1000)
	msg := message(payload)
	buf := make([]byte, 128<<10)
	// small is 100-byte messages with keep-alives between them, cut so
	// that headers and keep-alives straddle the reads of 128 KiB.
	var small []byte
	for i := 0; len(small) < 300<<10; i++ {
		small = append(small, message(counting(100))...)
		if i%7 == 0 {
			small = append(small, keepAlive...)
		}
	}
	tests := []struct {
		name string
		peer []byte // what the peer sends over and over; nil: it drains
		op   func(c *Conn) error
	}{
		{"Read", msg, func(c *Conn) error { _, err := io.ReadFull(c, buf[:len(msg)]); return err }},
		{"Read, 128 KiB of small messages", small, func(c *Conn) error { _, err := c.Read(buf); return err }},
		{"Read, small messages, 3 bytes", small, func(c *Conn) error { _, err := c.Read(buf[:3]); return err }},
		{"Payload.Read", msg, func(c *Conn) error { _, err := io.ReadFull(c.Payload(), buf[:len(payload)]); return err }},
		{"Payload.Read, 128 KiB of small messages", small, func(c *Conn) error { _, err := c.Payload().Read(buf); return err }},
		{"ReadMessage", msg, func(c *Conn) error { _, err := c.ReadMessage(buf[:0]); return err }},
		{"Write", nil, func(c *Conn) error { _, err := c.Write(msg); return err }},
		{"Write, header split", nil, func(c *Conn) error {
			if _, err := c.Write(msg[:2]); err != nil {
				return err
			}
			_, err := c.Write(msg[2:])
			return err
		}},
		{"Payload.Write", nil, func(c *Conn) error { _, err := c.Payload().Write(payload); return err }},
		{"WriteMessage", nil, func(c *Conn) error { return c.WriteMessage(payload) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, raw := connOverTCP(t)
			if tt.peer != nil {
				peerLoop(t, raw, func() error { _, err := raw.Write(tt.peer); return err })
			} else {
				sink := make([]byte, 64<<10)
				peerLoop(t, raw, func() error { _, err := raw.Read(sink); return err })
			}
			for range 10 {
				if err := tt.op(c); err != nil {
					t.Fatal(err)
				}
			}
			var err error
			allocs := testing.AllocsPerRun(200, func() {
				if e := tt.op(c); e != nil {
					err = e
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if allocs != 0 {
				t.Errorf("%v allocations per call, want 0", allocs)
			}
		})
	}
}

// TestKeepAliveTCP runs the keep-alive timer on the real clock, over
// loopback TCP, with an interval long enough for NewConn to have returned
// before it fires. Under -race it reports a DATA RACE all the same: the
// timer's callback reads c.timer, which NewConn writes after
// time.AfterFunc has started the timer, with no happens-before edge
// between them (see TestKeepAliveShort for what happens when the timer
// wins).
func TestKeepAliveTCP(t *testing.T) {
	raw, nc := tcpPair(t)
	c := NewConn(nc, Request{}, &Config{KeepAlive: 20 * time.Millisecond})
	defer c.Close()
	raw.SetReadDeadline(time.Now().Add(10 * time.Second))
	if d := cmp.Diff(cat(keepAlive, keepAlive), readN(t, raw, 2*HeaderLen)); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

// TestKeepAliveShort: a keep-alive interval short enough for the timer to
// fire at once. Its callback uses the timer, which NewConn must have
// published first (this was a data race and a nil pointer panic).
func TestKeepAliveShort(t *testing.T) {
	for range 200 {
		raw, nc := tcpPair(t)
		c := NewConn(nc, Request{}, &Config{KeepAlive: time.Nanosecond})
		got := readN(t, raw, 2*HeaderLen)
		c.Close()
		raw.Close()
		if d := cmp.Diff(cat(keepAlive, keepAlive), got); d != "" {
			t.Fatalf("(-want +got):\n%s", d)
		}
	}
}

// TestLongMessages: with Config.LongMessages, Write and WriteMessage send
// a message longer than 0x1FFFF with its 24-bit length, and the peer reads
// it back; without, both refuse it.
func TestLongMessages(t *testing.T) {
	payload := counting(0x20000 + 7)
	for _, long := range []bool{false, true} {
		t.Run(fmt.Sprint("LongMessages=", long), func(t *testing.T) {
			for _, how := range []string{"Write", "WriteMessage"} {
				a, b := net.Pipe()
				c := NewConn(a, Request{}, &Config{LongMessages: long})
				peer := NewConn(b, Request{}, nil) // lenient reads: 24-bit lengths
				got := make(chan []byte, 1)
				go func() {
					m, _ := peer.ReadMessage(nil)
					got <- m
				}()
				var err error
				if how == "Write" {
					n := len(payload) // a 24-bit Direct-TCP header
					_, err = c.Write(append([]byte{0, byte(n >> 16), byte(n >> 8), byte(n)}, payload...))
				} else {
					err = c.WriteMessage(payload)
				}
				switch {
				case long && err != nil:
					t.Errorf("%s: %v", how, err)
				case long:
					if m := <-got; !bytes.Equal(m, payload) {
						t.Errorf("%s: the peer read %d bytes, want the %d written", how, len(m), len(payload))
					}
				case err == nil:
					t.Errorf("%s of %d bytes without LongMessages succeeded", how, len(payload))
				}
				a.Close()
				b.Close()
			}
		})
	}
}
