package nbt

import (
	"bytes"
	"io"
	"net"
	"testing"

	"github.com/netbios-go/netbios/session"
)

// TestConnWriteTo copies with io.Copy from a Conn to a Conn, each over
// NetBIOS or Direct TCP, and checks that the messages come through whole
// and the keep-alives that a NetBIOS source reads do not.
func TestConnWriteTo(t *testing.T) {
	message := func(payload string) []byte {
		n := len(payload)
		return append([]byte{0, byte(n >> 16), byte(n >> 8), byte(n)}, payload...)
	}
	msgs := bytes.Join([][]byte{message("hello"), message(""), message("world")}, nil)
	keepAlive := []byte{0x85, 0, 0, 0}
	wrap := func(nc net.Conn, netbios bool) *Conn {
		if !netbios {
			return &Conn{Conn: nc}
		}
		sc := session.NewConn(nc, session.Request{}, nil)
		return &Conn{Conn: sc, sess: sc}
	}
	for _, tt := range []struct {
		name     string
		from, to bool // NetBIOS
	}{
		{"NetBIOS to NetBIOS", true, true},
		{"NetBIOS to Direct", true, false},
		{"Direct to NetBIOS", false, true},
		{"Direct to Direct", false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w, r := net.Pipe()
			out, sink := net.Pipe()
			defer r.Close()
			defer sink.Close()
			in := msgs
			if tt.from {
				in = bytes.Join([][]byte{keepAlive, message("hello"), keepAlive, message(""), message("world"), keepAlive}, nil)
			}
			go func() {
				w.Write(in)
				w.Close()
			}()
			src, dst := wrap(r, tt.from), wrap(out, tt.to)
			type result struct {
				n   int64
				err error
			}
			copied := make(chan result, 1)
			go func() {
				n, err := io.Copy(dst, src)
				out.Close()
				copied <- result{n, err}
			}()
			got, err := io.ReadAll(sink)
			if err != nil || !bytes.Equal(got, msgs) {
				t.Fatalf("the destination got %q, %v; want %q", got, err, msgs)
			}
			if r := <-copied; r.err != nil || r.n != int64(len(msgs)) {
				t.Fatalf("io.Copy = %d, %v; want %d, nil", r.n, r.err, len(msgs))
			}
		})
	}
}
