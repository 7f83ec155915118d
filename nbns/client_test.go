package nbns

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// responder is a UDP name service on loopback that hands each request to
// a function, which answers with any number of datagrams.
type responder struct {
	pc   *net.UDPConn
	reqs chan NodeStatusRequest // every request received, in order
	wg   sync.WaitGroup
}

// reply is a datagram the responder sends; from, when set, sends it from
// another socket, as a spoofer on another port would.
type reply struct {
	b    []byte
	from *net.UDPConn
}

func newResponder(t *testing.T, answer func(q NodeStatusRequest, n int) []reply) *responder {
	t.Helper()
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	r := &responder{pc: pc, reqs: make(chan NodeStatusRequest, 100)}
	r.wg.Go(func() {
		buf := make([]byte, 2048)
		for n := 0; ; n++ {
			m, from, err := pc.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			var q NodeStatusRequest
			if err := q.UnmarshalBinary(buf[:m]); err != nil {
				t.Errorf("responder: %v", err)
				continue
			}
			r.reqs <- q
			for _, rep := range answer(q, n) {
				src := pc
				if rep.from != nil {
					src = rep.from
				}
				src.WriteToUDPAddrPort(rep.b, from)
			}
		}
	})
	t.Cleanup(func() {
		pc.Close()
		r.wg.Wait()
	})
	return r
}

func (r *responder) addr() netip.AddrPort { return r.pc.LocalAddr().(*net.UDPAddr).AddrPort() }

// table is the reply the tests expect: Samba's five names.
func table(id uint16) NodeStatusResponse {
	return NodeStatusResponse{
		Header: Header{ID: id, Response: true, Authoritative: true, ANCount: 1},
		Name:   Wildcard(),
		Names:  []NodeName{{labsrv00, FlagActive}, {labsrv20, FlagActive}, {labgrp00, FlagGroup | FlagActive}},
	}
}

func marshal(t *testing.T, r NodeStatusResponse) []byte {
	t.Helper()
	b, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fast keeps the tests quick: the waits are bounded, not measured.
var fast = &Client{Timeout: 200 * time.Millisecond, Attempts: 2}

func TestClientNodeStatus(t *testing.T) {
	srv := newResponder(t, func(q NodeStatusRequest, _ int) []reply {
		return []reply{{b: marshal(t, table(q.ID))}}
	})
	for _, c := range []*Client{nil, {}, fast} {
		got, err := c.NodeStatus(t.Context(), srv.addr())
		if err != nil {
			t.Fatal(err)
		}
		q := <-srv.reqs
		if diff := cmp.Diff(table(q.ID), *got, nameCmp); diff != "" {
			t.Errorf("NodeStatus (-want +got):\n%s", diff)
		}
		if q.Broadcast || !q.Name.IsWildcard() || q.Scope != "" {
			t.Errorf("query %+v, want a unicast wildcard query without scope", q)
		}
	}
}

func TestClientNameAndScope(t *testing.T) {
	srv := newResponder(t, func(q NodeStatusRequest, _ int) []reply {
		r := table(q.ID)
		r.Name, r.Scope = q.Name, q.Scope
		return []reply{{b: marshal(t, r)}}
	})
	c := &Client{Scope: "corp.example"}
	got, err := c.NodeStatusName(t.Context(), srv.addr(), labsrv20)
	if err != nil {
		t.Fatal(err)
	}
	if q := <-srv.reqs; q.Name != labsrv20 || q.Scope != "corp.example" {
		t.Errorf("query for %v scope %q, want LABSRV<20> scope corp.example", q.Name, q.Scope)
	}
	if got.Name != labsrv20 || got.Scope != "corp.example" {
		t.Errorf("answer RR_NAME %v scope %q", got.Name, got.Scope)
	}
}

// TestClientForgedReplies sends, before the real answer, every kind of
// datagram that must not be taken for it. The client must still return the
// real answer, never a name from a forged one.
func TestClientForgedReplies(t *testing.T) {
	other, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	evil := NodeStatusResponse{Name: Wildcard(), Names: []NodeName{{MustName("EVIL", FileServer), FlagActive}}}
	srv := newResponder(t, func(q NodeStatusRequest, _ int) []reply {
		forged := func(mod func(b []byte)) reply {
			e := evil
			e.Header.ID = q.ID
			b := marshal(t, e)
			mod(b)
			return reply{b: b}
		}
		wrongPort := evil
		wrongPort.Header.ID = q.ID
		return []reply{
			forged(func(b []byte) { b[0] ^= 0xFF }),                                // wrong transaction ID
			{b: marshal(t, wrongPort), from: other},                                // right ID, wrong source port
			forged(func(b []byte) { b[2] &^= 0x80 }),                               // a query, not a response
			forged(func(b []byte) { b[2] |= 0x28 }),                                // opcode 5
			forged(func(b []byte) { b[len(b)-StatisticsLen-NodeNameLen-1] = 255 }), // NUM_NAMES 255
			{b: marshal(t, table(q.ID))[:40]},                                      // truncated
			{b: append(header(q.ID, 0x8400, 0, 1, 0, 0), 0xC0, 0x0C)},              // pointer loop
			{b: []byte{0xde, 0xad}},                                                // garbage
			{b: marshal(t, table(q.ID))},                                           // the answer
		}
	})
	got, err := fast.NodeStatus(t.Context(), srv.addr())
	if err != nil {
		t.Fatal(err)
	}
	if s, err := got.ServerName(); err != nil || s != labsrv20 {
		t.Errorf("ServerName() = %v, %v; want LABSRV<20> from the real answer", s, err)
	}
}

func TestClientRetransmits(t *testing.T) {
	srv := newResponder(t, func(q NodeStatusRequest, n int) []reply {
		if n < 2 {
			return nil // drop the first two
		}
		return []reply{{b: marshal(t, table(q.ID))}}
	})
	c := &Client{Timeout: 50 * time.Millisecond, Attempts: 3}
	if _, err := c.NodeStatus(t.Context(), srv.addr()); err != nil {
		t.Fatal(err)
	}
	ids := [3]uint16{(<-srv.reqs).ID, (<-srv.reqs).ID, (<-srv.reqs).ID}
	if ids[0] != ids[1] || ids[1] != ids[2] {
		t.Errorf("retransmissions used IDs %04x, want one ID", ids)
	}
}

func TestClientSilent(t *testing.T) {
	srv := newResponder(t, func(NodeStatusRequest, int) []reply { return nil })
	c := &Client{Timeout: 20 * time.Millisecond, Attempts: 2}
	_, err := c.NodeStatus(t.Context(), srv.addr())
	if !errors.Is(err, ErrNoResponse) || errors.Is(err, ErrPortUnreachable) {
		t.Fatalf("error = %v, want ErrNoResponse", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("error %v is not a net.Error timeout", err)
	}
	if oe, ok := errors.AsType[*net.OpError](err); !ok || oe.Op != "nodestatus" {
		t.Errorf("error %v is not a nodestatus *net.OpError", err)
	}
	if n := len(srv.reqs); n != 2 {
		t.Errorf("%d queries sent, want 2", n)
	}
}

func TestClientRefused(t *testing.T) {
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	closed := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	pc.Close()
	// Many attempts with a long timeout: only an immediate refusal ends
	// the query before the test's deadline.
	c := &Client{Timeout: time.Hour, Attempts: 3}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	_, err = c.NodeStatus(ctx, closed)
	if !errors.Is(err, ErrPortUnreachable) || errors.Is(err, ErrNoResponse) {
		t.Fatalf("error = %v, want ErrPortUnreachable", err)
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		t.Errorf("refusal %v reports a timeout", err)
	}
}

func TestClientContext(t *testing.T) {
	srv := newResponder(t, func(NodeStatusRequest, int) []reply { return nil })
	c := &Client{Timeout: time.Hour, Attempts: 1}

	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			<-srv.reqs // the query is out; now give up
			cancel()
		}()
		_, err := c.NodeStatus(ctx, srv.addr())
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error = %v, want context.Canceled", err)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
		defer cancel()
		_, err := c.NodeStatus(ctx, srv.addr())
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error = %v, want context.DeadlineExceeded", err)
		}
		<-srv.reqs
	})
	t.Run("already done", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := c.NodeStatus(ctx, srv.addr()); !errors.Is(err, context.Canceled) {
			t.Fatalf("error = %v, want context.Canceled", err)
		}
	})
}

func TestClientBadArguments(t *testing.T) {
	tests := []struct {
		c      *Client
		target netip.AddrPort
	}{
		{nil, netip.MustParseAddrPort("[::1]:137")},
		{&Client{Timeout: -1}, netip.MustParseAddrPort("127.0.0.1:137")},
		{&Client{Scope: "bad..scope"}, netip.MustParseAddrPort("127.0.0.1:137")},
	}
	for _, tt := range tests {
		if _, err := tt.c.NodeStatus(t.Context(), tt.target); err == nil {
			t.Errorf("NodeStatus(%v) with %+v succeeded", tt.target, tt.c)
		}
	}
}

func TestClientConcurrent(t *testing.T) {
	srv := newResponder(t, func(q NodeStatusRequest, _ int) []reply {
		return []reply{{b: marshal(t, table(q.ID))}}
	})
	var c Client
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := c.NodeStatus(t.Context(), srv.addr()); err != nil {
				t.Error(err)
			}
			<-srv.reqs
		})
	}
	wg.Wait()
}
