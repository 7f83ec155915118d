package main

import (
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/netbios-go/netbios/session"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(tb testing.TB) (a, b net.Conn) {
	tb.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	a, err = net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	b = <-accepted
	if b == nil {
		tb.Fatal("accept failed")
	}
	return a, b
}

// benchBlock is what the benchmark's writer sends per op: SMB messages of
// size payload bytes, as many as fit in 128 KiB, at least two.
func benchBlock(size int) []byte {
	msg := message(make([]byte, size))
	for i := range msg[4:] {
		msg[4+i] = byte(i % 251)
	}
	var block []byte
	for len(block) == 0 || len(block)+len(msg) <= 128<<10 || len(block) < 2*len(msg) {
		block = append(block, msg...)
	}
	return block
}

// BenchmarkRelay moves a stream of SMB messages (100-byte or 64 KiB
// payloads) from a writer, through one direction of a relay between two
// loopback TCP connections, to a reader, in one of these ways:
//
//   - via=bridge: the bridge's relay, with a session.Conn on the NetBIOS
//     side: dir=toNBT is a Direct-TCP client's stream into the NetBIOS
//     side (session.Conn.Write checks the framing), dir=fromNBT the
//     NetBIOS side's stream out (session.Conn.Read removes keep-alives);
//   - via=pump: the bridge's relay loop (32 KiB reads) between two plain
//     TCP conns, no session.Conn;
//   - via=copy: a plain TCP relay through io.Copy's 32 KiB buffer;
//   - via=splice: io.Copy between the two TCP conns, which Linux runs as
//     splice(2), the bytes never leaving the kernel: a relay that has to
//     see the framing cannot do that.
//
// Compare the rows of one run with
//
//	go test -run XXX -bench Relay -count 10 ./examples/nbtbridge/ > bench.txt
//	benchstat -col /via bench.txt
func BenchmarkRelay(b *testing.B) {
	for _, size := range []int{100, 64 << 10} {
		block := benchBlock(size)
		for _, dir := range []string{"toNBT", "fromNBT"} {
			for _, via := range []string{"bridge", "pump", "copy", "splice"} {
				b.Run(fmt.Sprintf("size=%d/dir=%s/via=%s", size, dir, via), func(b *testing.B) {
					benchRelay(b, block, dir, via)
				})
			}
		}
	}
}

func benchRelay(b *testing.B, block []byte, dir, via string) {
	w, r := tcpPair(b)      // the writer writes w; the relay reads r
	out, sink := tcpPair(b) // the relay writes out; the benchmark reads sink
	var src, dst net.Conn = r, out
	if via == "bridge" {
		if dir == "toNBT" {
			dst = session.NewConn(out, session.Request{}, nil)
		} else {
			src = session.NewConn(r, session.Request{}, nil)
		}
	}
	done := make(chan struct{}, 2)
	go func() {
		defer func() { done <- struct{}{} }()
		for {
			if _, err := w.Write(block); err != nil {
				return
			}
		}
	}()
	go func() {
		defer func() { done <- struct{}{} }()
		switch via {
		case "bridge", "pump":
			pump(dst, src, &activity{start: time.Now()})
		case "copy": // hide ReadFrom and WriteTo from io.Copy
			io.Copy(struct{ io.Writer }{dst}, struct{ io.Reader }{src})
		case "splice":
			io.Copy(dst, src)
		}
		dst.Close()
	}()
	buf := make([]byte, 128<<10)
	carry := 0
	b.SetBytes(int64(len(block)))
	b.ReportAllocs()
	for b.Loop() {
		for carry < len(block) {
			n, err := sink.Read(buf)
			carry += n
			if err != nil {
				b.Fatal(err)
			}
		}
		carry -= len(block)
	}
	b.StopTimer()
	for _, c := range []net.Conn{w, r, out, sink} {
		c.Close()
	}
	<-done
	<-done
}
