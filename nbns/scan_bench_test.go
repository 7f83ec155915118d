package nbns_test

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/nbt/nbttest"
)

// echoListener opens echoConns.
type echoListener struct{ answer []byte }

func (l echoListener) ListenPacket(context.Context, string, string) (net.PacketConn, error) {
	return &echoConn{answer: l.answer, replies: make(chan echoReply, 1024), closed: make(chan struct{})}, nil
}

// An echoConn is an in-memory socket whose every query is answered at
// once, from the address it was sent to, with answer and the query's ID:
// a network of hosts that answer in no time and cost nothing, so that a
// benchmark measures the scanner alone.
type echoConn struct {
	answer  []byte
	replies chan echoReply
	closed  chan struct{}
	once    sync.Once
	from    net.UDPAddr // reused: only the scanner's reader calls ReadFrom
	ip      [4]byte
}

type echoReply struct {
	id   uint16
	addr [4]byte
}

func (c *echoConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	ua := addr.(*net.UDPAddr)
	select {
	case c.replies <- echoReply{binary.BigEndian.Uint16(b), [4]byte(ua.IP.To4())}:
	case <-c.closed:
		return 0, net.ErrClosed
	default: // a full receive buffer drops it
	}
	return len(b), nil
}

func (c *echoConn) ReadFrom(b []byte) (int, net.Addr, error) {
	select {
	case r := <-c.replies:
		n := copy(b, c.answer)
		binary.BigEndian.PutUint16(b, r.id)
		c.ip = r.addr
		c.from = net.UDPAddr{IP: c.ip[:], Port: nbns.Port}
		return n, &c.from, nil
	case <-c.closed:
		return 0, nil, net.ErrClosed
	}
}

func (c *echoConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *echoConn) LocalAddr() net.Addr {
	return &net.UDPAddr{IP: net.IPv4(198, 18, 0, 1), Port: 49152}
}
func (c *echoConn) SetDeadline(t time.Time) error      { return nil }
func (c *echoConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *echoConn) SetWriteDeadline(t time.Time) error { return nil }

// BenchmarkScan scans 4,096 hosts that answer at once, each run, through
// the whole scanner (its goroutines, its socket wrapper, the decoding of
// every answer), and reports the time and the allocations per answered
// host; the allocations of a scan's start (the ID table, the buffers, the
// goroutine) are spread over its hosts. The scan of a /16 in a network
// namespace, .ci/scan-bench, measures the same over real sockets.
func BenchmarkScan(b *testing.B) {
	const hosts = 4096
	r := nbns.NodeStatusResponse{Name: nbns.Wildcard(), Names: nbttest.Table("LABSRV", "LABGRP")}
	answer, err := r.MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	s := nbns.Scanner{Listener: echoListener{answer}, Rate: -1}
	targets := func(yield func(netip.Addr) bool) {
		a := netip.MustParseAddr("198.18.0.1")
		for range hosts {
			if !yield(a) {
				return
			}
			a = a.Next()
		}
	}
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	answered := 0
	for b.Loop() {
		for r, err := range s.Scan(context.Background(), targets) {
			if err != nil {
				b.Fatal(err)
			}
			if r.Answered() {
				answered++
			}
		}
	}
	runtime.ReadMemStats(&after)
	if answered != b.N*hosts {
		b.Fatalf("%d answers from %d scans of %d hosts", answered, b.N, hosts)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(answered), "ns/host")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(answered), "allocs/host")
}
