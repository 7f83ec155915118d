package session

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// limitConn records what is written to it, up to limit bytes in all when
// limit is not negative; the write that would pass it sends what fits and
// fails with errLimit.
type limitConn struct {
	net.Conn
	buf   bytes.Buffer
	limit int
}

var errLimit = errors.New("write limit")

func (c *limitConn) Write(p []byte) (int, error) {
	if c.limit >= 0 && c.buf.Len()+len(p) > c.limit {
		n := c.limit - c.buf.Len()
		c.buf.Write(p[:n])
		return n, errLimit
	}
	return c.buf.Write(p)
}

func (c *limitConn) Close() error { return nil }

// copyOutcome is what a copy from one Conn to another did.
type copyOutcome struct {
	Sent    []byte    // what reached dst's connection
	N       int64     // what the copy counted
	Err     string    // the class of its error
	DstPos  streamPos // where dst's write stream stands
	Broken  bool      // dst's write side is broken
	SrcPos  streamPos // where src's read stream stands
	SrcHeld int       // bytes of a header src holds back
}

// streamPos is a position in a stream of session messages: inside a
// header, of which Hdr has come, or inside a payload with Rem bytes left.
type streamPos struct {
	Hdr []byte
	Rem int
}

func posOf(f framer) streamPos { return streamPos{Hdr: f.hdr[:f.hdrN], Rem: f.rem} }

func copyErrClass(err error) string {
	var pe *ParseError
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrFraming):
		return "ErrFraming"
	case errors.As(err, &pe):
		return "ParseError"
	case errors.Is(err, errLimit):
		return "errLimit"
	}
	return err.Error()
}

// copyCase is a copy from a Conn reading stream, cut into reads of sizes,
// to a Conn with prefix written to it first.
type copyCase struct {
	stream, sizes []byte
	src, dst      *Config
	prefix        []byte
	limit         int
}

// run copies with copyFn and reports what happened.
func (cc copyCase) run(t *testing.T, copyFn func(dst, src *Conn) (int64, error)) copyOutcome {
	t.Helper()
	src := NewConn(readerConn{r: &chunkReader{stream: cc.stream, sizes: cc.sizes}}, Request{}, cc.src)
	lc := &limitConn{limit: cc.limit}
	dst := NewConn(lc, Request{}, cc.dst)
	if len(cc.prefix) > 0 {
		if n, err := dst.Write(cc.prefix); err != nil || n != len(cc.prefix) {
			t.Fatalf("Write(prefix) = %d, %v", n, err)
		}
	}
	n, err := copyFn(dst, src)
	held := 0
	if src.rhN < HeaderLen {
		held = src.rhN
	}
	return copyOutcome{
		Sent: lc.buf.Bytes(), N: n, Err: copyErrClass(err),
		DstPos: posOf(dst.wf), Broken: dst.werr != nil,
		SrcPos: posOf(src.readPos()), SrcHeld: held,
	}
}

// plainCopy is io.Copy without WriteTo: Read, then Write, both walking.
func plainCopy(dst, src *Conn) (int64, error) {
	return io.Copy(struct{ io.Writer }{dst}, struct{ io.Reader }{src})
}

// ioCopy is io.Copy, which calls src.WriteTo(dst).
func ioCopy(dst, src *Conn) (int64, error) { return io.Copy(dst, src) }

// carrier is a conn that carries a *Conn, as nbt.Conn does.
type carrier struct {
	net.Conn
	s *Conn
}

func (c carrier) Session() *Conn { return c.s }

// carrierCopy is io.Copy to a carrier of dst.
func carrierCopy(dst, src *Conn) (int64, error) { return io.Copy(carrier{dst, dst}, src) }

var posCmp = cmpopts.EquateEmpty()

func TestConnWriteTo(t *testing.T) {
	msg := func(payload string) []byte {
		n := len(payload)
		return append([]byte{0, byte(n >> 16), byte(n >> 8), byte(n)}, payload...)
	}
	ka := []byte{0x85, 0, 0, 0}
	long := cat([]byte{0, 0x02, 0x00, 0x00}, make([]byte, 0x20000)) // 24 bits
	for _, tt := range []struct {
		name string
		cc   copyCase
		want copyOutcome
	}{{
		name: "keep-alives removed",
		cc:   copyCase{stream: cat(ka, msg("hello"), ka, ka, msg(""), msg("world"), ka), sizes: []byte{2, 6}, limit: -1},
		want: copyOutcome{Sent: cat(msg("hello"), msg(""), msg("world")), N: 22},
	}, {
		name: "a 24-bit length to a conn that writes 17 bits",
		cc:   copyCase{stream: cat(msg("ok"), long, msg("lost")), limit: -1},
		want: copyOutcome{Sent: msg("ok"), N: 6, Err: "ErrFraming", SrcPos: streamPos{Rem: 0x20000 - (copyBuffer - 6 - 4)}},
	}, {
		name: "a 24-bit length to a conn with LongMessages",
		cc:   copyCase{stream: cat(msg("ok"), long, msg("kept")), dst: &Config{LongMessages: true}, limit: -1},
		want: copyOutcome{Sent: cat(msg("ok"), long, msg("kept")), N: int64(6 + len(long) + 8)},
	}, {
		name: "a bad header in the source",
		cc:   copyCase{stream: cat(msg("ok"), []byte{0x82, 0, 0, 0}, msg("never")), limit: -1},
		want: copyOutcome{Sent: msg("ok"), N: 6, Err: "ParseError"},
	}, {
		name: "cut short inside a message",
		cc:   copyCase{stream: cat(msg("ok"), msg("whole")[:6]), limit: -1},
		want: copyOutcome{Sent: cat(msg("ok"), msg("whole")[:6]), N: 12, Err: io.ErrUnexpectedEOF.Error(), DstPos: streamPos{Rem: 3}, SrcPos: streamPos{Rem: 3}},
	}, {
		name: "cut short inside a header",
		cc:   copyCase{stream: cat(msg("ok"), []byte{0, 0}), limit: -1},
		want: copyOutcome{Sent: msg("ok"), N: 6, Err: io.ErrUnexpectedEOF.Error(), SrcHeld: 2},
	}, {
		name: "after half a message written to the destination",
		cc:   copyCase{stream: cat(msg("abc"), msg("de")), prefix: cat([]byte{0, 0, 0, 8}, []byte("xy")), limit: -1},
		// The stream's first 6 bytes end dst's message; the next header
		// is "c" 00 00 00: not a session message.
		want: copyOutcome{Sent: cat([]byte{0, 0, 0, 8}, []byte("xy"), msg("abc")[:6]), N: 6, Err: "ErrFraming"},
	}, {
		name: "the destination fails inside a payload",
		cc:   copyCase{stream: cat(msg("hello"), msg("world")), limit: 7},
		want: copyOutcome{Sent: msg("hello")[:7], N: 7, Err: "errLimit", DstPos: streamPos{Rem: 2}},
	}, {
		name: "the destination fails inside a header",
		cc:   copyCase{stream: cat(msg("hello"), msg("world")), limit: 11},
		want: copyOutcome{Sent: cat(msg("hello"), msg("world")[:2]), N: 11, Err: "errLimit",
			DstPos: streamPos{Hdr: []byte{0, 0}}, Broken: true},
	}} {
		t.Run(tt.name, func(t *testing.T) {
			for _, via := range []struct {
				name string
				copy func(dst, src *Conn) (int64, error)
			}{{"WriteTo", ioCopy}, {"WriteTo a carrier", carrierCopy}, {"Read and Write", plainCopy}} {
				got := tt.cc.run(t, via.copy)
				if d := cmp.Diff(tt.want, got, posCmp); d != "" {
					t.Errorf("%s (-want +got):\n%s", via.name, d)
				}
			}
		})
	}
}

// TestConnWriteToBroken: a copy to a conn whose write side an earlier
// failure broke, inside a header, sends nothing and returns that error.
func TestConnWriteToBroken(t *testing.T) {
	stream := cat(message([]byte("hello")), message([]byte("world")))
	for _, via := range []struct {
		name string
		copy func(dst, src *Conn) (int64, error)
	}{{"WriteTo", ioCopy}, {"Read and Write", plainCopy}} {
		t.Run(via.name, func(t *testing.T) {
			lc := &limitConn{limit: 2}
			dst := NewConn(lc, Request{}, nil)
			if _, err := dst.Write(stream[:3]); err != nil { // held back: the header is not whole
				t.Fatal(err)
			}
			if _, err := dst.Write(stream[3:]); !errors.Is(err, errLimit) {
				t.Fatalf("Write = %v, want errLimit", err)
			}
			src := NewConn(readerConn{r: bytes.NewReader(stream)}, Request{}, nil)
			n, err := via.copy(dst, src)
			var be *brokenError
			if n != 0 || !errors.As(err, &be) || lc.buf.Len() != 2 {
				t.Fatalf("copy to a broken conn = %d, %v, with %d bytes on the wire; want 0, a *brokenError, 2", n, err, lc.buf.Len())
			}
		})
	}
}

// TestConnWriteToTCP relays 1 MiB of messages of every size, with
// keep-alives between them, from one Conn to another over loopback TCP
// with io.Copy, and checks every byte that comes out.
func TestConnWriteToTCP(t *testing.T) {
	var in, want []byte
	for i := 0; len(want) < 1<<20; i++ {
		m := message(counting(i * 37 % 70000))
		if i%3 == 0 {
			in = append(in, 0x85, 0, 0, 0)
		}
		in = append(in, m...)
		want = append(want, m...)
	}
	a, b := tcpPair(t)
	c, d := tcpPair(t)
	src := NewConn(b, Request{}, nil)
	dst := NewConn(c, Request{}, &Config{LongMessages: true})
	go func() {
		a.Write(in)
		a.Close()
	}()
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(dst, src)
		c.Close()
		done <- err
	}()
	got, err := io.ReadAll(d)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("io.Copy: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("relayed %d bytes, want %d; first difference at %d", len(got), len(want), firstDiff(got, want))
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestPayloadWriteTo copies the payload view: payloads, no headers.
func TestPayloadWriteTo(t *testing.T) {
	stream := cat(message([]byte("hello ")), []byte{0x85, 0, 0, 0}, message([]byte("world")))
	c := NewConn(readerConn{r: bytes.NewReader(stream)}, Request{}, nil)
	var out bytes.Buffer
	n, err := io.Copy(&out, c.Payload())
	if err != nil || n != 11 || out.String() != "hello world" {
		t.Fatalf("io.Copy(Payload()) = %d, %v, %q; want 11, nil, %q", n, err, out.String(), "hello world")
	}
}

// FuzzConnWriteTo copies a byte stream, cut at random read sizes, from a
// Conn to a Conn, with or without Strict on the source, LongMessages on
// the destination, half a message written to the destination first, and a
// destination that fails after some bytes; WriteTo, which walks the
// framing once, must do exactly what Read and then Write do.
func FuzzConnWriteTo(f *testing.F) {
	msg := func(payload string) []byte {
		n := len(payload)
		return append([]byte{0, byte(n >> 16), byte(n >> 8), byte(n)}, payload...)
	}
	ka := []byte{0x85, 0, 0, 0}
	f.Add(cat(msg("hello"), ka, msg(""), msg("world")), []byte{0, 3, 1}, byte(0), uint16(0))
	f.Add(cat(msg("ok"), []byte{0, 2, 0, 0}, []byte("long")), []byte{7}, byte(2), uint16(0))
	f.Add(cat(msg("ok"), []byte{0, 1, 0, 0}, []byte("E bit")), []byte{3}, byte(1), uint16(0))
	f.Add(cat(msg("abc"), msg("de")), []byte{}, byte(4), uint16(0))
	f.Add(cat(msg("hello"), msg("world")), []byte{1}, byte(8), uint16(11))
	f.Fuzz(func(t *testing.T, stream, sizes []byte, flags byte, limit uint16) {
		if len(stream) > 8<<10 {
			return
		}
		cc := copyCase{
			stream: stream, sizes: sizes,
			src: &Config{Strict: flags&1 != 0}, dst: &Config{LongMessages: flags&2 != 0},
			limit: -1,
		}
		if flags&4 != 0 {
			cc.prefix = []byte{0, 0, 0, 5, 'x'}
		}
		if flags&8 != 0 {
			cc.limit = len(cc.prefix) + int(limit)
		}
		want := cc.run(t, plainCopy)
		got := cc.run(t, ioCopy)
		if d := cmp.Diff(want, got, posCmp); d != "" {
			t.Fatalf("WriteTo differs from Read and Write (-want +got):\n%s", d)
		}
	})
}
