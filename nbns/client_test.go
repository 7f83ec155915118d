package nbns

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
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
		otherName := evil // the right ID, but the answer to another question
		otherName.Header.ID, otherName.Name = q.ID, labsrv20
		otherScope := evil
		otherScope.Header.ID, otherScope.Scope = q.ID, "corp"
		return []reply{
			{b: marshal(t, otherName)},                                             // right ID, another RR_NAME
			{b: marshal(t, otherScope)},                                            // right ID and RR_NAME, another scope
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

// TestClientOtherQuestion: a reply with the query's transaction ID that
// answers another question, or is not a node status response, is dropped
// and counted, and the wait goes on until the real answer or the last
// timeout.
func TestClientOtherQuestion(t *testing.T) {
	scoped := func(n Name, scope string) NodeStatusResponse {
		r := table(0)
		r.Name, r.Scope = n, scope
		return r
	}
	nameQuery := func(b []byte) { // RR_TYPE NB (0x0020): a name query response
		b[HeaderLen+34+1] = 0x20
	}
	tests := []struct {
		name   string
		query  Name
		scope  string
		forged []NodeStatusResponse
		mod    func(b []byte) // applied to each forged reply
		real   bool           // the real answer follows the forgeries
	}{
		{name: "another name", query: Wildcard(), forged: []NodeStatusResponse{scoped(labsrv20, "")}},
		{name: "another suffix", query: labsrv20, forged: []NodeStatusResponse{scoped(labsrv00, "")}},
		{name: "zero name for the wildcard", query: Wildcard(), forged: []NodeStatusResponse{scoped(Name{}, "")}},
		{name: "another scope", query: labsrv20, scope: "corp", forged: []NodeStatusResponse{scoped(labsrv20, "corp.example"), scoped(labsrv20, "")}},
		{name: "no scope for a scoped query", query: Wildcard(), scope: "corp", forged: []NodeStatusResponse{scoped(Wildcard(), "")}},
		{name: "a name query response", query: Wildcard(), forged: []NodeStatusResponse{scoped(Wildcard(), "")}, mod: nameQuery},
		{name: "real answer after two forgeries", query: labsrv20, forged: []NodeStatusResponse{scoped(Wildcard(), ""), scoped(labsrv00, "")}, real: true},
		{name: "scope in another case is the answer", query: labsrv20, scope: "corp.example", forged: []NodeStatusResponse{scoped(labsrv20, "CORP.Example")}, real: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const attempts = 2
				peer := newPipePeer(func(q NodeStatusRequest, _ int) (time.Duration, [][]byte) {
					var out [][]byte
					for _, f := range tt.forged {
						f.Header.ID = q.ID
						b := marshal(t, f)
						if tt.mod != nil {
							tt.mod(b)
						}
						out = append(out, b)
					}
					if tt.real {
						r := table(q.ID)
						r.Name, r.Scope = q.Name, q.Scope
						out = append(out, marshal(t, r))
					}
					return 0, out
				})
				c := &Client{Timeout: time.Second, Attempts: attempts, Scope: tt.scope, Dialer: peer}
				r, err := c.NodeStatusName(t.Context(), netip.MustParseAddrPort("198.18.0.2:137"), tt.query)
				if tt.real {
					if err != nil {
						t.Fatal(err)
					}
					if r.Name != tt.query || len(r.Names) != 3 {
						t.Errorf("answer for %v with %d names, want the real one for %v", r.Name, len(r.Names), tt.query)
					}
					return
				}
				ne, ok := errors.AsType[*noResponseError](err)
				if !ok || !errors.Is(err, ErrNoResponse) {
					t.Fatalf("error = %v, want ErrNoResponse", err)
				}
				got := [...]int{ne.attempts, ne.ignored, peer.queries()}
				want := [...]int{attempts, attempts * len(tt.forged), attempts}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("attempts, ignored replies, queries sent (-want +got):\n%s", diff)
				}
				if !strings.Contains(err.Error(), "datagrams ignored") {
					t.Errorf("error %q does not say replies were ignored", err)
				}
			})
		})
	}
}

// TestClientTimeout checks the waits in virtual time: Timeout after each
// attempt, zero meaning DefaultTimeout, and a negative Timeout meaning one
// transmission and no bound but the context's.
func TestClientTimeout(t *testing.T) {
	tests := []struct {
		name      string
		c         Client
		ctxLimit  time.Duration // 0: no deadline
		answerIn  time.Duration // 0: silence
		wantErr   error         // nil: answered
		wantTime  time.Duration
		wantSends int
	}{
		{name: "zero: the defaults", wantErr: ErrNoResponse, wantTime: DefaultAttempts * DefaultTimeout, wantSends: DefaultAttempts},
		{name: "one second, twice", c: Client{Timeout: time.Second, Attempts: 2}, wantErr: ErrNoResponse, wantTime: 2 * time.Second, wantSends: 2},
		{name: "ctx ends first", c: Client{Timeout: time.Second, Attempts: 5}, ctxLimit: 2500 * time.Millisecond,
			wantErr: context.DeadlineExceeded, wantTime: 2500 * time.Millisecond, wantSends: 3},
		{name: "negative: only ctx bounds the wait", c: Client{Timeout: -1, Attempts: 3}, ctxLimit: time.Hour,
			wantErr: context.DeadlineExceeded, wantTime: time.Hour, wantSends: 1},
		{name: "negative: a late answer is taken", c: Client{Timeout: -1, Attempts: 3}, answerIn: 10 * time.Minute,
			wantTime: 10 * time.Minute, wantSends: 1},
		{name: "negative, one attempt", c: Client{Timeout: -time.Second, Attempts: -1}, answerIn: time.Minute,
			wantTime: time.Minute, wantSends: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				peer := newPipePeer(func(q NodeStatusRequest, _ int) (time.Duration, [][]byte) {
					if tt.answerIn == 0 {
						return 0, nil
					}
					return tt.answerIn, [][]byte{marshal(t, table(q.ID))}
				})
				c := tt.c
				c.Dialer = peer
				ctx := t.Context()
				if tt.ctxLimit > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.ctxLimit)
					defer cancel()
				}
				start := time.Now()
				_, err := c.NodeStatus(ctx, netip.MustParseAddrPort("198.18.0.2:137"))
				elapsed := time.Since(start)
				switch {
				case tt.wantErr == nil && err != nil:
					t.Errorf("NodeStatus: %v", err)
				case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
					t.Errorf("NodeStatus error = %v, want %v", err, tt.wantErr)
				}
				got := [...]any{elapsed, peer.queries()}
				want := [...]any{tt.wantTime, tt.wantSends}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("time taken, queries sent (-want +got):\n%s", diff)
				}
			})
		})
	}
}

// pipePeer is a fake name service behind Client.Dialer, for tests in
// virtual time: each dial gets one end of a net.Pipe, and a goroutine on
// the other end decodes each query and, after the wait that answer gives,
// writes the datagrams it gives, one Write each.
type pipePeer struct {
	answer func(q NodeStatusRequest, n int) (wait time.Duration, replies [][]byte)
	mu     sync.Mutex
	n      int // queries received
}

func newPipePeer(answer func(q NodeStatusRequest, n int) (time.Duration, [][]byte)) *pipePeer {
	return &pipePeer{answer: answer}
}

// DialContext implements ContextDialer.
func (p *pipePeer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, s := net.Pipe()
	go func() {
		defer s.Close()
		buf := make([]byte, 2048)
		for {
			m, err := s.Read(buf)
			if err != nil {
				return
			}
			var q NodeStatusRequest
			if q.UnmarshalBinary(buf[:m]) != nil {
				continue
			}
			p.mu.Lock()
			n := p.n
			p.n++
			p.mu.Unlock()
			wait, replies := p.answer(q, n)
			go func() { // answer while the next query is read
				time.Sleep(wait) // virtual time
				for _, b := range replies {
					if _, err := s.Write(b); err != nil {
						return
					}
				}
			}()
		}
	}()
	return c, nil
}

// queries returns how many queries the peer has read, once every
// goroutine of the test's bubble is blocked.
func (p *pipePeer) queries() int {
	synctest.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

func TestClientBadArguments(t *testing.T) {
	tests := []struct {
		c      *Client
		target netip.AddrPort
	}{
		{nil, netip.MustParseAddrPort("[::1]:137")},
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
