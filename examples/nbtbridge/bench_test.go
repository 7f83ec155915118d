package main

import (
	"fmt"
	"io"
	"net"
	"testing"

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
//   - via=bridge: the bridge's relay as -to HOST runs it, a session.Conn
//     on both sides: a Listener's Direct-TCP conn toward the client, a
//     NetBIOS session toward the server; dir=toNBT is the client's stream
//     to the server, dir=fromNBT the server's (keep-alives removed) to the
//     client;
//   - via=bridge445: the bridge's relay as -to HOST:445 runs it, a
//     Listener's NetBIOS session toward the client and plain TCP toward
//     the server: dir=toNBT is the server's stream to the client,
//     dir=fromNBT the client's to the server;
//   - via=copy: a plain TCP relay through io.Copy's 32 KiB buffer;
//   - via=splice: io.Copy between the two TCP conns, which Linux runs as
//     splice(2), the bytes never leaving the kernel: a relay that has to
//     see the framing cannot do that.
//
// On a machine whose speed drifts, interleave the rows and compare them:
//
//	go test -c -o relay.test ./examples/nbtbridge/
//	for i in 1 2 3 4 5 6 7 8; do ./relay.test -test.run XXX -test.bench Relay; done > bench.txt
//	benchstat -col /via bench.txt
func BenchmarkRelay(b *testing.B) {
	for _, size := range []int{100, 64 << 10} {
		block := benchBlock(size)
		for _, dir := range []string{"toNBT", "fromNBT"} {
			for _, via := range []string{"bridge", "bridge445", "copy", "splice"} {
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
	direct := &session.Config{LongMessages: true} // as a Listener gives a Direct-TCP client, and -to HOST:445 a NetBIOS one
	switch via + "/" + dir {
	case "bridge/toNBT":
		src, dst = session.NewConn(r, session.Request{}, direct), session.NewConn(out, session.Request{}, nil)
	case "bridge/fromNBT":
		src, dst = session.NewConn(r, session.Request{}, nil), session.NewConn(out, session.Request{}, direct)
	case "bridge445/toNBT":
		dst = session.NewConn(out, session.Request{}, direct)
	case "bridge445/fromNBT":
		src = session.NewConn(r, session.Request{}, direct)
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
		case "bridge", "bridge445":
			(&relayRun{}).pump(dst, src)
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
