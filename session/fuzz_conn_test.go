package session

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// chunkReader returns stream in reads whose sizes cycle through sizes
// (each plus one), as a TCP connection may cut it anywhere.
type chunkReader struct {
	stream []byte
	sizes  []byte
	i      int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.stream) == 0 {
		return 0, io.EOF
	}
	n := len(r.stream)
	if len(r.sizes) > 0 {
		n = int(r.sizes[r.i%len(r.sizes)]) + 1
		r.i++
	}
	n = copy(p, r.stream[:min(n, len(r.stream))])
	r.stream = r.stream[n:]
	return n, nil
}

// reference reads stream the way a Conn must, written plainly: session
// messages (24-bit lengths) pass whole, headers included, 85 00 00 00
// keep-alives vanish, and anything else ends the stream with an error.
// It returns the transparent bytes, the payloads, and how the stream ends:
// io.EOF at a boundary, io.ErrUnexpectedEOF inside a packet, or
// errNotMessage at a packet that is neither.
func reference(stream []byte) (transparent []byte, payloads [][]byte, end error) {
	for {
		switch {
		case len(stream) == 0:
			return transparent, payloads, io.EOF
		case len(stream) < HeaderLen:
			return transparent, payloads, io.ErrUnexpectedEOF
		case bytes.Equal(stream[:HeaderLen], []byte{0x85, 0, 0, 0}):
			stream = stream[HeaderLen:]
			continue
		case stream[0] != 0x00:
			return transparent, payloads, errNotMessage
		}
		n := int(stream[1])<<16 | int(stream[2])<<8 | int(stream[3])
		if len(stream) < HeaderLen+n {
			transparent = append(transparent, stream...)
			payloads = append(payloads, stream[HeaderLen:])
			return transparent, payloads, io.ErrUnexpectedEOF
		}
		transparent = append(transparent, stream[:HeaderLen+n]...)
		payloads = append(payloads, stream[HeaderLen:HeaderLen+n])
		stream = stream[HeaderLen+n:]
	}
}

// errNotMessage is how reference reports a packet that is neither a session
// message nor a keep-alive; a Conn reports it with a *ParseError.
var errNotMessage = errors.New("not a session message or keep-alive")

// sameEnd reports whether a Conn's error matches the reference's ending.
func sameEnd(got, want error) bool {
	if want == errNotMessage {
		var pe *ParseError
		return errors.As(got, &pe)
	}
	return got == want
}

// FuzzConnRead feeds the conn's reader a byte stream cut at random read
// sizes and read through random buffer sizes, in each of its three views,
// and checks what comes out against a plain reference reader: the bytes
// in minus the keep-alives, nothing lost, nothing invented, the right end.
// Each Read of the stream views must also fill its buffer with all that
// the connection has brought (fillCheck), across messages.
func FuzzConnRead(f *testing.F) {
	msg := func(payload string) []byte {
		n := len(payload)
		return append([]byte{0, byte(n >> 16), byte(n >> 8), byte(n)}, payload...)
	}
	ka := []byte{0x85, 0, 0, 0}
	f.Add(cat(msg("hello"), ka, msg(""), ka, ka, msg("world")), []byte{0, 3, 1}, []byte{7})
	f.Add(cat(ka, msg("x"), []byte{0x85, 0}), []byte{2}, []byte{0, 1})
	f.Add(cat(msg("abc"), []byte{0x82, 0, 0, 0}, msg("never")), []byte{255}, []byte{3})
	f.Add(cat([]byte{0, 0xFF, 0xFF, 0xFF}, []byte("a lying 24-bit length")), []byte{5}, []byte{200})
	f.Add(cat([]byte{0, 1, 0, 0}, bytes.Repeat([]byte{'E'}, 100)), []byte{255, 17}, []byte{255}) // E bit, cut short
	f.Add(cat(msg("split"), []byte{0x85, 0, 0, 1}), []byte{0}, []byte{0})
	f.Fuzz(func(t *testing.T, stream, sizes, bufSizes []byte) {
		if len(stream) > 8<<10 {
			return // long streams add nothing but time; the property tests send 64 KiB messages
		}
		wantT, wantP, wantEnd := reference(stream)
		var cc *countingConn // the connection of the last newConn
		newConn := func() *Conn {
			cc = &countingConn{Conn: readerConn{r: &chunkReader{stream: stream, sizes: sizes}}}
			return NewConn(cc, Request{}, nil)
		}
		bufSize := func(i int) int {
			if len(bufSizes) == 0 {
				return 512
			}
			return int(bufSizes[i%len(bufSizes)]) + 1
		}
		// readAll reads with varying buffer sizes until an error, which
		// must come within a bound: every Read makes progress. Each Read
		// must fill its buffer with what the connection has brought.
		readAll := func(read func([]byte) (int, error), payload bool) ([]byte, error) {
			fc := &fillCheck{conn: cc, model: fillModel{wire: stream, payload: payload}}
			var out []byte
			for i := 0; ; i++ {
				if i > 2*len(stream)+10 {
					t.Fatalf("no end after %d reads of a %d-byte stream", i, len(stream))
				}
				buf := make([]byte, bufSize(i))
				n, err := fc.read(read, buf, len(out))
				if fc.err != nil {
					view := "Read"
					if payload {
						view = "Payload().Read"
					}
					t.Fatalf("%s: %v", view, fc.err)
				}
				out = append(out, buf[:n]...)
				if err != nil {
					return out, err
				}
			}
		}

		got, err := readAll(newConn().Read, false)
		if d := cmp.Diff(wantT, got, cmpopts.EquateEmpty()); d != "" {
			t.Fatalf("transparent Read (-want +got):\n%s", d)
		}
		if !sameEnd(err, wantEnd) {
			t.Fatalf("transparent Read ended with %v, want %v", err, wantEnd)
		}

		got, err = readAll(newConn().Payload().Read, true)
		if d := cmp.Diff(bytes.Join(wantP, nil), got, cmpopts.EquateEmpty()); d != "" {
			t.Fatalf("Payload Read (-want +got):\n%s", d)
		}
		if !sameEnd(err, wantEnd) {
			t.Fatalf("Payload Read ended with %v, want %v", err, wantEnd)
		}

		c := newConn()
		for i := 0; ; i++ {
			p, err := c.ReadMessage(nil)
			if cap(p) > len(p)+64<<10+len(p)/4 {
				t.Fatalf("ReadMessage: %d bytes of buffer for %d bytes", cap(p), len(p))
			}
			if err != nil {
				if len(p) > 0 || i < len(wantP) && wantEnd == io.ErrUnexpectedEOF && i == len(wantP)-1 {
					if i >= len(wantP) || !bytes.Equal(p, wantP[i]) {
						t.Fatalf("ReadMessage %d: partial %q, want %q", i, p, wantP[min(i, len(wantP)-1)])
					}
					i++
				}
				if i != len(wantP) || !sameEnd(err, wantEnd) {
					t.Fatalf("ReadMessage ended with %v after %d messages, want %v after %d", err, i, wantEnd, len(wantP))
				}
				break
			}
			if i >= len(wantP) || !bytes.Equal(p, wantP[i]) {
				t.Fatalf("ReadMessage %d = %q, want message %d of %q", i, p, i, wantP)
			}
		}
	})
}

// referenceWrite says how much of stream a Conn's Write sends, written
// plainly: the session messages with a 17-bit length (FLAGS 0 or 1), the
// last one perhaps cut short, up to the first header that is not one (bad
// is then true) or a header cut short at the end, which Write holds back.
func referenceWrite(stream []byte) (sent int, bad bool) {
	for pos := 0; ; {
		switch {
		case len(stream)-pos < HeaderLen:
			return pos, false
		case stream[pos] != 0x00 || stream[pos+1] > 0x01:
			return pos, true
		}
		n := int(stream[pos+1])<<16 | int(stream[pos+2])<<8 | int(stream[pos+3])
		if len(stream)-pos-HeaderLen <= n {
			return len(stream), false
		}
		pos += HeaderLen + n
	}
}

// FuzzConnWrite writes a byte stream through the transparent Write in
// chunks of random sizes, until the first error, and checks what is sent
// against a plain reference: the bytes before the first header that is not
// a session message, which Write refuses with ErrFraming, or before a
// header that the stream cuts short.
func FuzzConnWrite(f *testing.F) {
	msg := func(payload string) []byte {
		n := len(payload)
		return append([]byte{0, byte(n >> 16), byte(n >> 8), byte(n)}, payload...)
	}
	ka := []byte{0x85, 0, 0, 0}
	f.Add(cat(msg("hello"), msg(""), msg("world")), []byte{0, 3, 1})
	f.Add(cat(msg("x"), ka, msg("y")), []byte{4})
	f.Add(cat(msg("abc"), []byte{0x00, 0x02, 0x00, 0x00}), []byte{7, 0})
	f.Add(cat([]byte{0, 1, 0, 0}, bytes.Repeat([]byte{'E'}, 300)), []byte{1, 255})
	f.Add(cat(msg("split"), []byte{0x00, 0x00}), []byte{0})
	f.Fuzz(func(t *testing.T, stream, sizes []byte) {
		wantSent, wantBad := referenceWrite(stream)
		rc := &recConn{}
		c := NewConn(rc, Request{}, nil)
		total, i := 0, 0
		var err error
		for b := stream; len(b) > 0 && err == nil; i++ {
			k := len(b)
			if len(sizes) > 0 {
				k = min(k, int(sizes[i%len(sizes)])+1)
			}
			var n int
			n, err = c.Write(b[:k])
			if n < 0 || n > k || err == nil && n != k {
				t.Fatalf("Write of %d bytes = %d, %v", k, n, err)
			}
			total += n
			b = b[k:]
		}
		if (err != nil) != wantBad || err != nil && !errors.Is(err, ErrFraming) {
			t.Fatalf("Writes ended with %v; want ErrFraming: %v", err, wantBad)
		}
		if d := cmp.Diff(stream[:wantSent], rc.sent(), cmpopts.EquateEmpty()); d != "" {
			t.Fatalf("sent (-want +got):\n%s", d)
		}
		// Write counts a header it holds back as written; a bad one is
		// refused when it is complete.
		if total < wantSent || total-wantSent >= HeaderLen {
			t.Fatalf("Writes counted %d bytes, sent %d", total, wantSent)
		}
	})
}
