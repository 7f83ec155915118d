package session

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
)

// benchBlock returns what a throughput benchmark moves per op: session
// messages with payloads of size bytes, as many as fit in 128 KiB (at
// least two), without keep-alives, so that the transparent view of the
// block is the block itself.
func benchBlock(size int) []byte {
	msg := message(counting(size))
	var block []byte
	for len(block) == 0 || len(block)+len(msg) <= 128<<10 || len(block) < 2*len(msg) {
		block = append(block, msg...)
	}
	return block
}

// benchRead128K reads n bytes from r, 128 KiB at a time, as io.Copy from a
// *net.TCPConn, a relay or a bufio.Reader of that size do; carry is what
// the last call read beyond its n.
func benchRead128K(r io.Reader, buf []byte, carry *int, n int) error {
	for *carry < n {
		k, err := r.Read(buf)
		*carry += k
		if err != nil {
			return err
		}
	}
	*carry -= n
	return nil
}

// benchReadSMB reads n bytes of session messages from r as an SMB client
// does (go-smb2, Impacket): each message's 4-byte header with io.ReadFull,
// then its payload with io.ReadFull.
func benchReadSMB(r io.Reader, buf []byte, n int) error {
	for n > 0 {
		if _, err := io.ReadFull(r, buf[:HeaderLen]); err != nil {
			return err
		}
		length := int(binary.BigEndian.Uint32(buf) & 0xFFFFFF)
		if _, err := io.ReadFull(r, buf[:length]); err != nil {
			return err
		}
		n -= HeaderLen + length
	}
	return nil
}

// BenchmarkThroughput moves a stream of session messages over loopback TCP
// and compares a plain *net.TCPConn (via=TCP) with a Conn on the same
// socket (via=Conn), for payloads of 100 bytes and 64 KiB, in four ways:
//
//   - read=128K: Read into a 128 KiB buffer.
//   - read=SMB: io.ReadFull of each 4-byte header, then of its payload.
//   - relay=from: a relay between two TCP connections, io.Copy(tcp, src),
//     with src the Conn; the benchmark reads the far end in 128 KiB.
//   - relay=to: the same relay with the Conn as the destination,
//     io.Copy(conn, tcp), so that Write checks the framing.
//
// For via=TCP both relays are the same plain TCP relay, which io.Copy
// runs with splice(2) on Linux: the bytes go from socket to socket in the
// kernel, which a relay that must find the keep-alives cannot do. The
// relays also run as via=copy, a plain TCP relay through io.Copy's 32 KiB
// buffer, as the relays through a Conn do: relay=from through
// [Conn.WriteTo], relay=to through Write. (A 128 KiB buffer was no
// faster.) A peer goroutine writes the stream raw, in 128 KiB writes; each
// op moves one such block, which SetBytes counts. On a machine whose speed
// drifts, interleave the rows and compare them:
//
//	go test -c -o session.test ./session/
//	for i in 1 2 3 4 5 6; do ./session.test -test.run XXX -test.bench Throughput; done > bench.txt
//	benchstat -col /via bench.txt
func BenchmarkThroughput(b *testing.B) {
	for _, size := range []int{100, 64 << 10} {
		block := benchBlock(size)
		for _, mode := range []string{"read=128K", "read=SMB", "relay=from", "relay=to"} {
			vias := []string{"TCP", "Conn"}
			if strings.HasPrefix(mode, "relay=") {
				vias = append(vias, "copy")
			}
			for _, via := range vias {
				b.Run(fmt.Sprintf("size=%d/%s/via=%s", size, mode, via), func(b *testing.B) {
					benchThroughput(b, block, mode, via)
				})
			}
		}
	}
}

func benchThroughput(b *testing.B, block []byte, mode, via string) {
	conn := via == "Conn"
	w, r := tcpPair(b) // the peer writes w; the benchmark reads r
	closers := []io.Closer{w, r}
	var done []chan struct{}
	loop := func(f func() error) {
		ch := make(chan struct{})
		done = append(done, ch)
		go func() {
			defer close(ch)
			for f() == nil {
			}
		}()
	}
	loop(func() error { _, err := w.Write(block); return err })

	var src io.Reader = r
	if mode == "relay=from" || mode == "relay=to" {
		// w -> r, relayed to out -> sink; the benchmark reads sink.
		out, sink := tcpPair(b)
		var from io.Reader = r
		var to io.Writer = out
		switch {
		case via == "copy": // hide WriteTo and ReadFrom from io.Copy
			from, to = struct{ io.Reader }{r}, struct{ io.Writer }{out}
		case conn && mode == "relay=from":
			from = NewConn(r, Request{}, nil)
		case conn:
			to = NewConn(out, Request{}, nil)
		}
		loop(func() error {
			_, err := io.Copy(to, from)
			if err == nil {
				err = io.EOF
			}
			return err
		})
		src = sink
		closers = append(closers, out, sink)
	} else if conn {
		src = NewConn(r, Request{}, nil)
	}

	buf := make([]byte, 128<<10)
	carry := 0
	read := func() error { return benchRead128K(src, buf, &carry, len(block)) }
	if mode == "read=SMB" {
		read = func() error { return benchReadSMB(src, buf, len(block)) }
	}
	b.SetBytes(int64(len(block)))
	b.ReportAllocs()
	for b.Loop() {
		if err := read(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	for _, c := range closers {
		c.Close()
	}
	for _, ch := range done {
		<-ch
	}
}

// loopReader is a net.Conn whose Read copies from block over and over, as
// a TCP connection with the whole stream already received would.
type loopReader struct {
	net.Conn
	block []byte
	off   int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := copy(p, l.block[l.off:])
	l.off = (l.off + n) % len(l.block)
	return n, nil
}

// BenchmarkReadCPU is BenchmarkThroughput's read=128K without the
// sockets: the reads come from memory, so that it measures what the
// conn's Read costs beyond the copy that any read makes.
func BenchmarkReadCPU(b *testing.B) {
	for _, size := range []int{100, 64 << 10} {
		block := benchBlock(size)
		for _, via := range []string{"memory", "Conn"} {
			b.Run(fmt.Sprintf("size=%d/via=%s", size, via), func(b *testing.B) {
				var r io.Reader = &loopReader{block: block}
				if via == "Conn" {
					r = NewConn(r.(net.Conn), Request{}, nil)
				}
				buf := make([]byte, 128<<10)
				carry := 0
				b.SetBytes(int64(len(block)))
				b.ReportAllocs()
				for b.Loop() {
					if err := benchRead128K(r, buf, &carry, len(block)); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// benchMessage is what every benchmark moves per op: a session message of
// 64 KiB, 65540 bytes on the wire.
var benchMessage = message(counting(64 << 10))

// benchStream measures read: a peer goroutine calls write over and over.
// SetBytes counts the bytes on the wire, the same for every benchmark.
func benchStream(b *testing.B, w net.Conn, write func() error, read func() error) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for write() == nil {
		}
	}()
	b.SetBytes(int64(len(benchMessage)))
	b.ReportAllocs()
	for b.Loop() {
		if err := read(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	w.Close()
	<-done
}

// pairOverTCP returns Conns on both ends of a loopback TCP connection.
func pairOverTCP(tb testing.TB) (w, r *Conn) {
	a, b := tcpPair(tb)
	return NewConn(a, Request{}, nil), NewConn(b, Request{}, nil)
}

// BenchmarkConnTransparent streams 64 KiB session messages through the
// transparent view over loopback TCP: Write on one side, Read into a
// reused buffer on the other.
func BenchmarkConnTransparent(b *testing.B) {
	w, r := pairOverTCP(b)
	buf := make([]byte, len(benchMessage))
	benchStream(b, w,
		func() error { _, err := w.Write(benchMessage); return err },
		func() error { _, err := io.ReadFull(r, buf); return err })
}

// BenchmarkConnPayload streams the same messages through the payload view:
// Payload().Write of 64 KiB, which frames it, and Payload().Read.
func BenchmarkConnPayload(b *testing.B) {
	w, r := pairOverTCP(b)
	payload := benchMessage[HeaderLen:]
	buf := make([]byte, len(payload))
	wp, rp := w.Payload(), r.Payload()
	benchStream(b, w,
		func() error { _, err := wp.Write(payload); return err },
		func() error { _, err := io.ReadFull(rp, buf); return err })
}

// BenchmarkConnMessage streams them with WriteMessage and ReadMessage into
// a reused buffer.
func BenchmarkConnMessage(b *testing.B) {
	w, r := pairOverTCP(b)
	payload := benchMessage[HeaderLen:]
	buf := make([]byte, 0, len(payload))
	benchStream(b, w,
		func() error { return w.WriteMessage(payload) },
		func() error {
			var err error
			buf, err = r.ReadMessage(buf[:0])
			return err
		})
}

// BenchmarkRawTCP moves the same bytes over plain loopback TCP, for
// comparison.
func BenchmarkRawTCP(b *testing.B) {
	w, r := tcpPair(b)
	buf := make([]byte, len(benchMessage))
	benchStream(b, w,
		func() error { _, err := w.Write(benchMessage); return err },
		func() error { _, err := io.ReadFull(r, buf); return err })
}
