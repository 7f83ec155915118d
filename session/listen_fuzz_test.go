package session

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/nettest"
)

// streamConn is a net.Conn that reads a fixed stream and records what is
// written to it; its deadlines do nothing.
type streamConn struct {
	r *bytes.Reader
	w bytes.Buffer
}

func (c *streamConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *streamConn) Write(p []byte) (int, error)      { return c.w.Write(p) }
func (c *streamConn) Close() error                     { return nil }
func (c *streamConn) LocalAddr() net.Addr              { return pipeAddr{} }
func (c *streamConn) RemoteAddr() net.Addr             { return pipeAddr{} }
func (c *streamConn) SetDeadline(time.Time) error      { return nil }
func (c *streamConn) SetReadDeadline(time.Time) error  { return nil }
func (c *streamConn) SetWriteDeadline(time.Time) error { return nil }

// drain reads r's transparent view until it fails, in reads of 1000
// bytes, and returns the bytes and the error.
func drain(r io.Reader) ([]byte, error) {
	var out []byte
	buf := make([]byte, 1000)
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			return out, err
		}
	}
}

// FuzzListenerHandshake runs the listener's handshake over an arbitrary
// client stream. It must not panic, and:
//
//   - an accepted session request is answered 82 00 00 00, and the conn
//     reads the rest of the stream as a Conn made over it would;
//   - an accepted direct connection's conn reads the stream, less the
//     keep-alives before it, as a Conn made over that would: no byte of
//     the first message is lost;
//   - a refusal writes exactly the response it reports, if any, and gives
//     an error.
func FuzzListenerHandshake(f *testing.F) {
	req := mustMarshal(f, &testReq)
	f.Add(req, false)
	f.Add(cat(req, message([]byte("after the request"))), false)
	f.Add(cat(keepAlive, req, keepAlive, message(nil)), false)
	f.Add(cat(message(smb2Negotiate), keepAlive, message([]byte("x"))), false)
	f.Add(cat(message(smb2Negotiate)), true)
	f.Add(cat(keepAlive, keepAlive, []byte{0x00, 0x02, 0x00, 0x00}, counting(300)), false)
	f.Add([]byte{0x81, 0x00, 0xFF, 0xFF}, false)
	bad := bytes.Clone(req)
	bad[4] = 0x1F
	f.Add(bad, false)
	f.Add([]byte{0x81, 0x00}, false)
	f.Add(bytes.Repeat(keepAlive, 20), false)
	f.Fuzz(func(t *testing.T, stream []byte, require bool) {
		nc := &streamConn{r: bytes.NewReader(stream)}
		cfg := &ListenConfig{RequireRequest: require, Decide: AcceptAny}
		c, info := openSession(nc, cfg)
		if c == nil {
			if info.Err == nil {
				t.Fatal("no conn and no error")
			}
			var want []byte
			if info.Response.Type != 0 {
				want, _ = info.Response.MarshalBinary()
			}
			if d := cmp.Diff(want, nc.w.Bytes()); d != "" && (len(want) > 0 || nc.w.Len() > 0) {
				t.Fatalf("written after a refusal (%v) (-want +got):\n%s", info.Err, d)
			}
			return
		}
		if info.Err != nil {
			t.Fatalf("a conn and the error %v", info.Err)
		}
		// Where the stream goes on past what the handshake consumed.
		off := 0
		for off+HeaderLen <= len(stream) && stream[off] == byte(TypeKeepAlive) {
			off += HeaderLen
		}
		if info.Direct {
			if require || stream[off] != byte(TypeMessage) || nc.w.Len() != 0 {
				t.Fatalf("direct conn: RequireRequest %v, first type %#x, written % x", require, stream[off], nc.w.Bytes())
			}
		} else {
			if d := cmp.Diff([]byte{0x82, 0, 0, 0}, nc.w.Bytes()); d != "" {
				t.Fatalf("the answer (-want +got):\n%s", d)
			}
			off += HeaderLen + (int(stream[off+2])<<8 | int(stream[off+3]))
		}
		got, gerr := drain(c)
		want, werr := drain(NewConn(readerConn{r: bytes.NewReader(stream[off:])}, Request{}, nil))
		if d := diffBytes(want, got); d != "" {
			t.Fatalf("the conn's stream:\n%s", d)
		}
		if (gerr == nil) != (werr == nil) || gerr != nil && gerr.Error() != werr.Error() {
			t.Fatalf("the conn's stream ends with %v, want %v", gerr, werr)
		}
	})
}

// TestListenerNettest runs nettest.TestConn over the payload views of a
// conn that a Listener returns for a direct connection, whose first
// header it has read, and of the client's end.
func TestListenerNettest(t *testing.T) {
	l := listenLoopback(t, nil)
	nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
		nc, err := net.Dial("tcp4", l.Addr().String())
		if err != nil {
			return nil, nil, nil, err
		}
		if _, err := nc.Write(message(nil)); err != nil { // a direct connection's first message
			nc.Close()
			return nil, nil, nil, err
		}
		c, err := l.AcceptSession()
		if err != nil {
			nc.Close()
			return nil, nil, nil, err
		}
		client := NewConn(nc, Request{}, nil)
		return client.Payload(), c.Payload(), func() { client.Close(); c.Close() }, nil
	})
}

// BenchmarkListenerHandshake opens sessions through a Listener on
// loopback, a connect, the handshake and Accept per op: with a session
// request, or with an SMB message first.
func BenchmarkListenerHandshake(b *testing.B) {
	for _, mode := range []string{"request", "direct"} {
		b.Run(mode, func(b *testing.B) {
			l, err := Listen("tcp4", "127.0.0.1:0", nil)
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			first := mustMarshal(b, &testReq)
			if mode == "direct" {
				first = message(smb2Negotiate)
			}
			answer := make([]byte, HeaderLen)
			b.ReportAllocs()
			for b.Loop() {
				nc, err := net.Dial("tcp4", l.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				if _, err := nc.Write(first); err != nil {
					b.Fatal(err)
				}
				if mode == "request" {
					if _, err := io.ReadFull(nc, answer); err != nil {
						b.Fatal(err)
					}
				}
				c, err := l.AcceptSession()
				if err != nil {
					b.Fatal(err)
				}
				c.Close()
				nc.Close()
			}
		})
	}
}
