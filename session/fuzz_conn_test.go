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
// io.EOF at a boundary, io.ErrUnexpectedEOF inside a packet, or errFraming
// at a packet that is neither.
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
			return transparent, payloads, errFraming
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

// sameEnd reports whether a Conn's error matches the reference's ending.
func sameEnd(got, want error) bool {
	if want == errFraming {
		var pe *ParseError
		return errors.As(got, &pe)
	}
	return got == want
}

// FuzzConnRead feeds the conn's reader a byte stream cut at random read
// sizes and read through random buffer sizes, in each of its three views,
// and checks what comes out against a plain reference reader: the bytes
// in minus the keep-alives, nothing lost, nothing invented, the right end.
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
		newConn := func() *Conn {
			return NewConn(readerConn{r: &chunkReader{stream: stream, sizes: sizes}}, Request{}, nil)
		}
		bufSize := func(i int) int {
			if len(bufSizes) == 0 {
				return 512
			}
			return int(bufSizes[i%len(bufSizes)]) + 1
		}
		// readAll reads with varying buffer sizes until an error, which
		// must come within a bound: every Read makes progress.
		readAll := func(read func([]byte) (int, error)) ([]byte, error) {
			var out []byte
			for i := 0; ; i++ {
				if i > 2*len(stream)+10 {
					t.Fatalf("no end after %d reads of a %d-byte stream", i, len(stream))
				}
				buf := make([]byte, bufSize(i))
				n, err := read(buf)
				out = append(out, buf[:n]...)
				if err != nil {
					return out, err
				}
			}
		}

		got, err := readAll(newConn().Read)
		if d := cmp.Diff(wantT, got, cmpopts.EquateEmpty()); d != "" {
			t.Fatalf("transparent Read (-want +got):\n%s", d)
		}
		if !sameEnd(err, wantEnd) {
			t.Fatalf("transparent Read ended with %v, want %v", err, wantEnd)
		}

		got, err = readAll(newConn().Payload().Read)
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
