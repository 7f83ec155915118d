package nbns_test

// Tests of Client.QueryName and Client.QueryNameBroadcast against
// nbttest's fake hosts: over an in-memory nbttest.Network in virtual time
// (testing/synctest), where every datagram and every wait is counted
// exactly, and once over loopback with real sockets. Nothing is ever
// broadcast on a real network.

import (
	"context"
	"errors"
	"iter"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/nbt/nbttest"
)

// d is the one-way delay of the Networks: a round trip is 2d.
const d = 10 * time.Millisecond

var (
	labsrv   = nbns.MustName("LABSRV", nbns.FileServer)
	labgrp1e = nbns.MustName("LABGRP", nbns.BrowserElection)
	nosuch   = nbns.MustName("NOSUCH", nbns.FileServer)
	host2    = netip.MustParseAddr("198.18.0.2")
	host9    = netip.MustParseAddr("198.18.0.9")
	ns2      = netip.AddrPortFrom(host2, nbns.Port)
	addrCmp  = cmp.Options{
		cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
		cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b }),
	}
)

// startServer starts an nbttest.Server on n named LABSRV in workgroup
// LABGRP, after setup changes its fields.
func startServer(t *testing.T, n *nbttest.Network, setup func(s *nbttest.Server)) *nbttest.Server {
	t.Helper()
	s := nbttest.NewUnstartedServer(nil)
	s.Network = n
	s.Names = nbttest.Table("LABSRV", "LABGRP")
	if setup != nil {
		setup(s)
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// TestQueryName checks unicast queries against an nbttest.Server in
// virtual time: the answer, the time it takes and the datagrams sent.
func TestQueryName(t *testing.T) {
	wins := map[nbns.Name][]nbns.AddrEntry{
		nbns.MustName("OTHER", nbns.FileServer): {{Flags: nbns.NewNBFlags(false, nbns.HNode), Addr: netip.MustParseAddr("198.18.0.7")}},
		nbns.MustName("CORP", nbns.Workstation): {{Flags: nbns.NBFlagGroup, Addr: netip.MustParseAddr("255.255.255.255")}},
	}
	tests := []struct {
		name      string
		setup     func(s *nbttest.Server)
		query     nbns.Name
		recursion bool
		client    *nbns.Client // nil: Timeout 1 s, Attempts 3
		want      []nbns.AddrEntry
		wantErr   error
		wantTime  time.Duration
		wantSent  int
		wantInErr string
	}{
		{
			name: "positive", query: labsrv,
			want:     []nbns.AddrEntry{{Flags: 0, Addr: host2}},
			wantTime: 2 * d, wantSent: 1,
		},
		{
			name: "positive for a group name, RD set", query: labgrp1e, recursion: true,
			want:     []nbns.AddrEntry{{Flags: nbns.NBFlagGroup, Addr: host2}},
			wantTime: 2 * d, wantSent: 1,
		},
		{
			name: "negative: unknown name, RD clear (nmbd's NAM_ERR)", query: nosuch,
			wantErr: nbns.RCodeNameError, wantTime: 2 * d, wantSent: 1,
			wantInErr: "negative name query response for NOSUCH<20>: name error (rcode 3)",
		},
		{
			name: "silence: unknown name, RD set, not a WINS server", query: nosuch, recursion: true,
			wantErr: nbns.ErrNoResponse, wantTime: 3 * time.Second, wantSent: 3,
			wantInErr: "no response to name query after 3 attempts in 3s",
		},
		{
			name: "WINS: a registered name of another host", query: nbns.MustName("OTHER", nbns.FileServer), recursion: true,
			setup:    func(s *nbttest.Server) { s.WINS = wins },
			want:     wins[nbns.MustName("OTHER", nbns.FileServer)],
			wantTime: 2 * d, wantSent: 1,
		},
		{
			name: "WINS: a normal group is 255.255.255.255", query: nbns.MustName("CORP", nbns.Workstation), recursion: true,
			setup:    func(s *nbttest.Server) { s.WINS = wins },
			want:     wins[nbns.MustName("CORP", nbns.Workstation)],
			wantTime: 2 * d, wantSent: 1,
		},
		{
			name: "WINS: an unknown name is negative", query: nosuch, recursion: true,
			setup:   func(s *nbttest.Server) { s.WINS = wins },
			wantErr: nbns.RCodeNameError, wantTime: 2 * d, wantSent: 1,
		},
		{
			// The WACK arrives at 2d and moves the wait's end from 1 s
			// to 2d + 2 s: no retransmission, and the answer sent 1.5 s
			// after the query arrived is taken.
			name: "WACK of 2 s, then the answer", query: labsrv,
			setup:    func(s *nbttest.Server) { s.WACK, s.NameDelay = 2, 1500*time.Millisecond },
			want:     []nbns.AddrEntry{{Flags: 0, Addr: host2}},
			wantTime: 2*d + 1500*time.Millisecond, wantSent: 1,
		},
		{
			// Each attempt draws a WACK of 5 s and no answer: the waits
			// end at 2d + 5 s, 4d + 10 s and 6d + 15 s.
			name: "WACK every time, no answer", query: labsrv,
			setup:   func(s *nbttest.Server) { s.WACK, s.NameDelay = 5, time.Hour },
			wantErr: nbns.ErrNoResponse, wantTime: 6*d + 15*time.Second, wantSent: 3,
			wantInErr: "(3 WACKs)",
		},
		{
			name: "WACK of an hour, capped at MaxWACKWait", query: labsrv,
			setup:   func(s *nbttest.Server) { s.WACK, s.NameDelay = 3600, time.Hour },
			client:  &nbns.Client{Timeout: time.Second, Attempts: 1},
			wantErr: nbns.ErrNoResponse, wantTime: 2*d + nbns.MaxWACKWait, wantSent: 1,
		},
		{
			name: "negative Timeout: a WACK changes nothing, the answer comes late", query: labsrv,
			setup:    func(s *nbttest.Server) { s.WACK, s.NameDelay = 1, 10*time.Minute },
			client:   &nbns.Client{Timeout: -1, Attempts: 3},
			want:     []nbns.AddrEntry{{Flags: 0, Addr: host2}},
			wantTime: 2*d + 10*time.Minute, wantSent: 1,
		},
		{
			name: "redirect", query: labsrv, recursion: true,
			setup:   func(s *nbttest.Server) { s.Redirect = host9 },
			wantErr: &nbns.RedirectError{}, wantTime: 2 * d, wantSent: 1,
			wantInErr: "name query for LABSRV<20> redirected to the NBNS at 198.18.0.9 (nbns.nbttest)",
		},
		{
			name: "dropped", query: labsrv,
			setup:   func(s *nbttest.Server) { s.NameService = nbttest.DropQueries },
			wantErr: nbns.ErrNoResponse, wantTime: 3 * time.Second, wantSent: 3,
		},
		{
			name: "rejected: ICMP port unreachable", query: labsrv,
			setup:   func(s *nbttest.Server) { s.NameService = nbttest.RejectQueries },
			wantErr: nbns.ErrPortUnreachable, wantTime: 2 * d, wantSent: 0,
		},
		{
			name: "the defaults: 3 × 750 ms", query: nosuch, recursion: true,
			client:  &nbns.Client{},
			wantErr: nbns.ErrNoResponse, wantTime: 3 * nbns.DefaultTimeout, wantSent: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := nbttest.NewNetwork(d)
				s := startServer(t, n, tt.setup)
				c := nbns.Client{Timeout: time.Second, Attempts: 3}
				if tt.client != nil {
					c = *tt.client
				}
				c.Dialer = n.Dialer()
				start := time.Now()
				r, err := c.QueryName(t.Context(), s.NameAddr, tt.query, tt.recursion)
				elapsed := time.Since(start)
				synctest.Wait()
				if got := [...]any{elapsed, s.NameQueries()}; got != [...]any{tt.wantTime, tt.wantSent} {
					t.Errorf("time taken, queries received = %v, %v; want %v, %v", got[0], got[1], tt.wantTime, tt.wantSent)
				}
				if tt.wantErr == nil {
					if err != nil {
						t.Fatal(err)
					}
					if diff := cmp.Diff(tt.want, r.Entries, addrCmp); diff != "" {
						t.Errorf("entries (-want +got):\n%s", diff)
					}
					if r.Kind != nbns.PositiveResponse || r.Name != tt.query || r.TTL != nbttest.NameTTL {
						t.Errorf("answer %v for %v with TTL %d", r.Kind, r.Name, r.TTL)
					}
					return
				}
				checkQueryError(t, err, tt.wantErr, s.NameAddr)
				if !strings.Contains(err.Error(), tt.wantInErr) {
					t.Errorf("error %q does not say %q", err, tt.wantInErr)
				}
			})
		})
	}
}

// checkQueryError checks that err is a namequery *net.OpError for target
// that matches want: a *nbns.RedirectError by type, anything else with
// errors.Is.
func checkQueryError(t *testing.T, err, want error, target netip.AddrPort) {
	t.Helper()
	oe, ok := errors.AsType[*net.OpError](err)
	if !ok || oe.Op != "namequery" || oe.Net != "udp4" || oe.Addr.String() != target.String() {
		t.Errorf("error %#v is not a namequery *net.OpError for %v", err, target)
	}
	switch want.(type) {
	case *nbns.RedirectError:
		re, ok := errors.AsType[*nbns.RedirectError](err)
		if !ok {
			t.Fatalf("error %v, want a *nbns.RedirectError", err)
		}
		want := nbns.Redirect{Server: nbttest.RedirectNBNS, Addr: host9}
		if diff := cmp.Diff(want, re.Redirect, addrCmp); diff != "" {
			t.Errorf("redirect (-want +got):\n%s", diff)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("error %v, want %v", err, want)
	}
	if ne, ok := errors.AsType[*nbns.NegativeError](err); ok && ne.RCode != want {
		t.Errorf("NegativeError.RCode = %v, want %v", ne.RCode, want)
	}
	timeout := errors.Is(want, nbns.ErrNoResponse)
	if ne, ok := errors.AsType[net.Error](err); !ok || ne.Timeout() != timeout {
		t.Errorf("error %v: Timeout() is not %v", err, timeout)
	}
}

// peer is a fake name service on a Network for what an nbttest.Server
// will not do: for each name query it reads, reply gives the datagrams to
// send back and when, after the query arrived.
type peer struct {
	pc      net.PacketConn
	mu      sync.Mutex
	queries []nbns.NameQueryRequest
	timers  []*time.Timer
}

type timed struct {
	after time.Duration
	b     []byte
	via   net.PacketConn // nil: the peer's own conn
}

func startPeer(t *testing.T, n *nbttest.Network, addr netip.AddrPort, reply func(q nbns.NameQueryRequest, i int) []timed) *peer {
	t.Helper()
	pc, err := n.ListenPacket("udp4", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{pc: pc}
	done := make(chan struct{})
	t.Cleanup(func() {
		pc.Close()
		<-done
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, tm := range p.timers {
			tm.Stop()
		}
	})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			k, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var q nbns.NameQueryRequest
			if q.UnmarshalBinary(buf[:k]) != nil {
				continue
			}
			p.mu.Lock()
			i := len(p.queries)
			p.queries = append(p.queries, q)
			for _, r := range reply(q, i) {
				src := pc
				if r.via != nil {
					src = r.via
				}
				p.timers = append(p.timers, time.AfterFunc(r.after, func() { src.WriteTo(r.b, from) }))
			}
			p.mu.Unlock()
		}
	}()
	return p
}

func (p *peer) received() int {
	synctest.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queries)
}

func marshal(t *testing.T, r nbns.NameQueryResponse) []byte {
	t.Helper()
	b, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// answer returns a positive answer to q listing addr as a unique name.
func answer(q nbns.NameQueryRequest, addr netip.Addr) nbns.NameQueryResponse {
	return nbns.NameQueryResponse{
		Header:  nbns.Header{ID: q.ID, Authoritative: true, RecursionDesired: true, RecursionAvailable: true},
		Name:    q.Name,
		Scope:   q.Scope,
		TTL:     300,
		Entries: []nbns.AddrEntry{{Addr: addr}},
	}
}

// TestQueryNameForged has the target answer first with every datagram
// that must not be taken for the answer: replies with the right ID to
// another question, of another kind, malformed, from another port of the
// host, a reply with another ID, and a negative response and a WACK for
// another name, which must neither end the query nor extend its wait. The real answer, sent 100 ms later,
// must be the result, and nothing else must have ended the wait early.
func TestQueryNameForged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := nbttest.NewNetwork(d)
		evil := netip.MustParseAddr("198.18.0.66")
		rogue, err := n.ListenPacket("udp4", "198.18.0.2:0")
		if err != nil {
			t.Fatal(err)
		}
		defer rogue.Close()
		p := startPeer(t, n, ns2, func(q nbns.NameQueryRequest, _ int) []timed {
			other := func(mod func(r *nbns.NameQueryResponse)) timed {
				r := answer(q, evil)
				mod(&r)
				return timed{0, marshal(t, r), nil}
			}
			bad := marshal(t, answer(q, evil))
			bad[nbns.HeaderLen+34+1] = 0x21 // an NBSTAT record
			return []timed{
				other(func(r *nbns.NameQueryResponse) { r.Name = nosuch }),               // another name
				other(func(r *nbns.NameQueryResponse) { r.Name = labsrv.WithSuffix(0) }), // another suffix
				other(func(r *nbns.NameQueryResponse) { r.Scope = "corp" }),              // another scope
				other(func(r *nbns.NameQueryResponse) { r.Header.ID++ }),                 // another ID
				other(func(r *nbns.NameQueryResponse) {
					r.Kind, r.Name = nbns.WACKResponse, nosuch
					r.TTL = 1
					r.Entries = nil
				}), // a WACK for another name
				other(func(r *nbns.NameQueryResponse) {
					r.Kind, r.Name, r.Entries = nbns.NegativeResponse, nosuch, nil
					r.Header.RCode = 3
				}),
				{0, bad, nil},
				{0, []byte("\x13\x37 not a name service packet"), nil},
				{0, marshal(t, answer(q, evil)), rogue},                     // the right answer, but from another port
				{100 * time.Millisecond, marshal(t, answer(q, host2)), nil}, // the answer
				{200 * time.Millisecond, marshal(t, answer(q, evil)), nil},  // a late duplicate, never read
			}
		})
		c := nbns.Client{Timeout: time.Second, Attempts: 2, Dialer: n.Dialer()}
		start := time.Now()
		r, err := c.QueryName(t.Context(), ns2, labsrv, false)
		if err != nil {
			t.Fatal(err)
		}
		if got := time.Since(start); got != 2*d+100*time.Millisecond {
			t.Errorf("took %v, want %v", got, 2*d+100*time.Millisecond)
		}
		if diff := cmp.Diff([]nbns.AddrEntry{{Addr: host2}}, r.Entries, addrCmp); diff != "" {
			t.Errorf("entries (-want +got):\n%s", diff)
		}
		if got := p.received(); got != 1 {
			t.Errorf("%d queries sent, want 1", got)
		}
	})
}

// TestQueryNameWACKLoop has a server that sends a WACK of 10 s every 9 s
// and never answers: each WACK would extend the wait again, but only 4
// are honoured, so the query ends 10 s after the fourth one arrived.
func TestQueryNameWACKLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := nbttest.NewNetwork(d)
		p := startPeer(t, n, ns2, func(q nbns.NameQueryRequest, _ int) []timed {
			var out []timed
			for i := range 20 {
				w := nbns.NameQueryResponse{Header: nbns.Header{ID: q.ID, Authoritative: true}, Kind: nbns.WACKResponse, Name: q.Name, TTL: 10}
				out = append(out, timed{time.Duration(i) * 9 * time.Second, marshal(t, w), nil})
			}
			return out
		})
		c := nbns.Client{Timeout: time.Second, Attempts: 1, Dialer: n.Dialer()}
		start := time.Now()
		_, err := c.QueryName(t.Context(), ns2, labsrv, true)
		if got, want := time.Since(start), 2*d+27*time.Second+10*time.Second; got != want {
			t.Errorf("took %v, want %v", got, want)
		}
		checkQueryError(t, err, nbns.ErrNoResponse, ns2)
		if !strings.Contains(err.Error(), "(4 WACKs)") {
			t.Errorf("error %q does not count 4 WACKs", err)
		}
		if got := p.received(); got != 1 {
			t.Errorf("%d queries sent, want 1", got)
		}
	})
}

// TestQueryNameWACKZero has a server send a WACK with TTL 0 ("unknown")
// half a second after the query: the wait starts again with Timeout.
func TestQueryNameWACKZero(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := nbttest.NewNetwork(d)
		startPeer(t, n, ns2, func(q nbns.NameQueryRequest, _ int) []timed {
			w := nbns.NameQueryResponse{Header: nbns.Header{ID: q.ID, Authoritative: true}, Kind: nbns.WACKResponse, Name: q.Name}
			return []timed{{500 * time.Millisecond, marshal(t, w), nil}}
		})
		c := nbns.Client{Timeout: time.Second, Attempts: 1, Dialer: n.Dialer()}
		start := time.Now()
		_, err := c.QueryName(t.Context(), ns2, labsrv, true)
		if got, want := time.Since(start), 2*d+1500*time.Millisecond; got != want {
			t.Errorf("took %v, want %v", got, want)
		}
		checkQueryError(t, err, nbns.ErrNoResponse, ns2)
	})
}

// TestQueryNameRetransmits checks that every retransmission keeps the
// transaction ID, and that an answer to the third is taken.
func TestQueryNameRetransmits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := nbttest.NewNetwork(d)
		p := startPeer(t, n, ns2, func(q nbns.NameQueryRequest, i int) []timed {
			if i < 2 {
				return nil
			}
			return []timed{{0, marshal(t, answer(q, host2)), nil}}
		})
		c := nbns.Client{Timeout: time.Second, Attempts: 3, Dialer: n.Dialer(), Scope: "corp.example"}
		start := time.Now()
		if _, err := c.QueryName(t.Context(), ns2, labsrv, true); err != nil {
			t.Fatal(err)
		}
		if got := time.Since(start); got != 2*time.Second+2*d {
			t.Errorf("took %v, want %v", got, 2*time.Second+2*d)
		}
		p.received()
		want := nbns.NameQueryRequest{ID: p.queries[0].ID, Name: labsrv, Scope: "corp.example", RecursionDesired: true}
		if diff := cmp.Diff([]nbns.NameQueryRequest{want, want, want}, p.queries, cmp.Comparer(func(a, b nbns.Name) bool { return a == b })); diff != "" {
			t.Errorf("queries (-want +got):\n%s", diff)
		}
	})
}

func TestQueryNameContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := nbttest.NewNetwork(d)
		s := startServer(t, n, func(s *nbttest.Server) { s.NameService = nbttest.DropQueries })
		c := nbns.Client{Timeout: time.Hour, Dialer: n.Dialer()}
		ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := c.QueryName(ctx, s.NameAddr, labsrv, false)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 1500*time.Millisecond {
			t.Errorf("error %v after %v, want context.DeadlineExceeded after 1.5s", err, time.Since(start))
		}
		// A WACK of a minute does not outlast ctx.
		w := startServer(t, n, func(s *nbttest.Server) { s.WACK, s.NameDelay = 60, time.Hour })
		ctx, cancel = context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		start = time.Now()
		_, err = c.QueryName(ctx, w.NameAddr, labsrv, false)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 5*time.Second {
			t.Errorf("after a WACK: error %v after %v, want context.DeadlineExceeded after 5s", err, time.Since(start))
		}
		done, cancel2 := context.WithCancel(t.Context())
		cancel2()
		if _, err := c.QueryName(done, s.NameAddr, labsrv, false); !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", err)
		}
	})
}

func TestQueryNameBadArguments(t *testing.T) {
	var c *nbns.Client // nil: the defaults
	if _, err := c.QueryName(t.Context(), netip.MustParseAddrPort("[::1]:137"), labsrv, false); err == nil {
		t.Error("QueryName to an IPv6 address succeeded")
	}
	bad := &nbns.Client{Scope: "bad..scope"}
	if _, err := bad.QueryName(t.Context(), netip.MustParseAddrPort("127.0.0.1:137"), labsrv, false); err == nil {
		t.Error("QueryName with a bad scope succeeded")
	}
	for _, addrs := range [][]netip.AddrPort{nil, {netip.MustParseAddrPort("[ff02::1]:137")}} {
		for _, err := range c.QueryNameBroadcast(t.Context(), labsrv, addrs...) {
			if _, ok := errors.AsType[*net.OpError](err); !ok {
				t.Errorf("QueryNameBroadcast(%v) error %v, want a *net.OpError", addrs, err)
			}
		}
	}
	for _, err := range bad.QueryNameBroadcast(t.Context(), labsrv, netip.MustParseAddrPort("127.0.0.1:137")) {
		if err == nil {
			t.Error("QueryNameBroadcast with a bad scope yielded an answer")
		}
	}
}

// TestQueryNameLoopback runs both queries over real sockets against an
// nbttest.Server on loopback; the "broadcast" goes to the server's own
// loopback address, so nothing leaves the host.
func TestQueryNameLoopback(t *testing.T) {
	s := nbttest.NewUnstartedServer(nil)
	s.Names = nbttest.Table("LABSRV", "LABGRP")
	s.Start()
	defer s.Close()
	if !s.NameAddr.Addr().Is4() {
		t.Skip("no IPv4 loopback")
	}
	c := &nbns.Client{Timeout: 500 * time.Millisecond, Attempts: 2}
	r, err := c.QueryName(t.Context(), s.NameAddr, labsrv, false)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]nbns.AddrEntry{{Addr: s.NameAddr.Addr()}}, r.Entries, addrCmp); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	if _, err := c.QueryName(t.Context(), s.NameAddr, nosuch, false); !errors.Is(err, nbns.RCodeNameError) {
		t.Errorf("query for an unknown name: %v, want a NAM_ERR", err)
	}
	var got []netip.AddrPort
	for a, err := range c.QueryNameBroadcast(t.Context(), labsrv, s.NameAddr) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, a.From)
		if a.Unique() {
			break
		}
	}
	if diff := cmp.Diff([]netip.AddrPort{s.NameAddr}, got, addrCmp); diff != "" {
		t.Errorf("responders (-want +got):\n%s", diff)
	}
}

// collect ranges over seq and returns the answers sorted by responder,
// stopping at the first unique one if stop is set.
func collect(seq iter.Seq2[nbns.BroadcastAnswer, error], stop bool) ([]nbns.BroadcastAnswer, error) {
	var answers []nbns.BroadcastAnswer
	for a, err := range seq {
		if err != nil {
			return answers, err
		}
		answers = append(answers, a)
		if stop && a.Unique() {
			break
		}
	}
	slices.SortFunc(answers, func(a, b nbns.BroadcastAnswer) int { return a.From.Compare(b.From) })
	return answers, nil
}

// TestQueryNameBroadcast checks broadcast queries over a Network in
// virtual time, with the Windows defaults: 3 × 750 ms.
func TestQueryNameBroadcast(t *testing.T) {
	const window = 3 * nbns.DefaultTimeout
	unique := func(a string) []nbns.AddrEntry { return []nbns.AddrEntry{{Addr: netip.MustParseAddr(a)}} }
	group := func(a string) []nbns.AddrEntry {
		return []nbns.AddrEntry{{Flags: nbns.NBFlagGroup, Addr: netip.MustParseAddr(a)}}
	}
	from := func(host string) netip.AddrPort { return netip.AddrPortFrom(netip.MustParseAddr(host), nbns.Port) }
	type want struct {
		from    netip.AddrPort
		entries []nbns.AddrEntry
	}
	tests := []struct {
		name     string
		hosts    []string // computer names of the Servers, at 198.18.0.2, .3, …; all in workgroup LABGRP
		twice    bool     // the Servers answer each broadcast twice, as nmbd does
		query    nbns.Name
		stop     bool // stop at the first unique answer
		want     []want
		wantErr  error
		wantTime time.Duration
		wantSent int // queries each Server received
	}{
		{
			name: "unique, answered twice, stop at the first", hosts: []string{"LABSRV", "OTHER"}, twice: true,
			query: labsrv, stop: true,
			want:     []want{{from("198.18.0.2"), unique("198.18.0.2")}},
			wantTime: 2 * d, wantSent: 1,
		},
		{
			name: "unique, answered twice, collect to the end: one answer", hosts: []string{"LABSRV", "OTHER"}, twice: true,
			query:    labsrv,
			want:     []want{{from("198.18.0.2"), unique("198.18.0.2")}},
			wantTime: window, wantSent: 1,
		},
		{
			name: "a group of three", hosts: []string{"HOST1", "HOST2", "HOST3"}, twice: true,
			query: labgrp1e, stop: true, // no answer is unique: collected to the end
			want: []want{
				{from("198.18.0.2"), group("198.18.0.2")},
				{from("198.18.0.3"), group("198.18.0.3")},
				{from("198.18.0.4"), group("198.18.0.4")},
			},
			wantTime: window, wantSent: 1,
		},
		{
			name: "two unique owners: a conflict, both reported", hosts: []string{"LABSRV", "LABSRV"},
			query: labsrv,
			want: []want{
				{from("198.18.0.2"), unique("198.18.0.2")},
				{from("198.18.0.3"), unique("198.18.0.3")},
			},
			wantTime: window, wantSent: 1,
		},
		{
			name: "nobody has it: no negative answer, three transmissions", hosts: []string{"HOST1", "HOST2"},
			query: nosuch, wantErr: nbns.ErrNoResponse, wantTime: window, wantSent: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := nbttest.NewNetwork(d)
				var servers []*nbttest.Server
				for _, h := range tt.hosts {
					servers = append(servers, startServer(t, n, func(s *nbttest.Server) {
						s.Names = nbttest.Table(h, "LABGRP")
						s.AnswerBroadcastTwice = tt.twice
					}))
				}
				c := nbns.Client{Listener: n.Listener()}
				bcast := netip.AddrPortFrom(n.BroadcastAddr(), 0) // port 0: 137
				start := time.Now()
				answers, err := collect(c.QueryNameBroadcast(t.Context(), tt.query, bcast), tt.stop)
				if got := time.Since(start); got != tt.wantTime {
					t.Errorf("took %v, want %v", got, tt.wantTime)
				}
				synctest.Wait()
				for i, s := range servers {
					if got := s.NameQueries(); got != tt.wantSent {
						t.Errorf("server %d received %d queries, want %d", i, got, tt.wantSent)
					}
				}
				if tt.wantErr != nil {
					checkQueryError(t, err, tt.wantErr, netip.AddrPortFrom(n.BroadcastAddr(), nbns.Port))
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				var got []want
				for _, a := range answers {
					got = append(got, want{a.From, a.Entries})
					if a.TTL != nbttest.NameTTL || !a.Header.Response || !a.Header.Authoritative {
						t.Errorf("answer from %v: TTL %d, header %+v", a.From, a.TTL, a.Header)
					}
				}
				if diff := cmp.Diff(tt.want, got, addrCmp, cmp.AllowUnexported(want{})); diff != "" {
					t.Errorf("answers (-want +got):\n%s", diff)
				}
			})
		})
	}
}

// TestQueryNameBroadcastForged has a forger on the network answer the
// broadcast at once with the right transaction ID but for another name,
// another scope, with a negative response, a WACK and a redirect, and send
// the same answer twice; the real owner answers 100 ms later, twice.
// Only two answers count: the forger's one real-looking answer and the
// owner's, each once.
func TestQueryNameBroadcastForged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := nbttest.NewNetwork(d)
		evil := netip.MustParseAddr("198.18.0.66")
		forger := startPeer(t, n, netip.AddrPortFrom(evil, nbns.Port), func(q nbns.NameQueryRequest, _ int) []timed {
			mod := func(f func(r *nbns.NameQueryResponse)) timed {
				r := answer(q, evil)
				f(&r)
				return timed{0, marshal(t, r), nil}
			}
			return []timed{
				mod(func(r *nbns.NameQueryResponse) { r.Name = nosuch }),
				mod(func(r *nbns.NameQueryResponse) { r.Scope = "corp" }),
				mod(func(r *nbns.NameQueryResponse) { r.Header.ID ^= 0x8000 }),
				mod(func(r *nbns.NameQueryResponse) { r.Kind, r.Entries = nbns.NegativeResponse, nil; r.Header.RCode = 3 }),
				mod(func(r *nbns.NameQueryResponse) { r.Kind, r.Entries = nbns.WACKResponse, nil }),
				mod(func(r *nbns.NameQueryResponse) {
					r.Kind, r.Entries, r.Redirect = nbns.RedirectResponse, nil, nbns.Redirect{Addr: evil}
				}),
				{0, marshal(t, answer(q, evil)), nil},
				{10 * time.Millisecond, marshal(t, answer(q, evil)), nil}, // the same again
			}
		})
		owner := startPeer(t, n, ns2, func(q nbns.NameQueryRequest, _ int) []timed {
			if !q.Broadcast || !q.RecursionDesired {
				t.Errorf("query %+v, want B and RD set", q)
			}
			a := marshal(t, answer(q, host2))
			return []timed{{100 * time.Millisecond, a, nil}, {100 * time.Millisecond, a, nil}}
		})
		c := nbns.Client{Listener: n.Listener(), Timeout: 500 * time.Millisecond, Attempts: 2}
		start := time.Now()
		answers, err := collect(c.QueryNameBroadcast(t.Context(), labsrv, netip.AddrPortFrom(n.BroadcastAddr(), nbns.Port)), false)
		if err != nil {
			t.Fatal(err)
		}
		if got := time.Since(start); got != time.Second {
			t.Errorf("took %v, want 1s", got)
		}
		var got []netip.AddrPort
		for _, a := range answers {
			got = append(got, a.From)
		}
		if diff := cmp.Diff([]netip.AddrPort{ns2, netip.AddrPortFrom(evil, nbns.Port)}, got, addrCmp); diff != "" {
			t.Errorf("responders (-want +got):\n%s", diff)
		}
		if a, b := forger.received(), owner.received(); a != 1 || b != 1 {
			t.Errorf("forger and owner received %d and %d queries, want 1 each", a, b)
		}
	})
}

// TestQueryNameBroadcastAddrs checks that each transmission goes to every
// address given, under one transaction ID, and that a negative Timeout
// sends once and collects until ctx ends, which the sequence reports.
func TestQueryNameBroadcastAddrs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := nbttest.NewNetwork(d)
		silent := func(nbns.NameQueryRequest, int) []timed { return nil }
		a := startPeer(t, n, ns2, silent)
		b := startPeer(t, n, netip.AddrPortFrom(host9, 1137), silent)
		c := nbns.Client{Listener: n.Listener(), Timeout: time.Second, Attempts: 2}
		_, err := collect(c.QueryNameBroadcast(t.Context(), labsrv, ns2, netip.AddrPortFrom(host9, 1137)), false)
		checkQueryError(t, err, nbns.ErrNoResponse, ns2)
		if a.received() != 2 || b.received() != 2 {
			t.Errorf("peers received %d and %d queries, want 2 each", a.received(), b.received())
		}
		ids := []uint16{a.queries[0].ID, a.queries[1].ID, b.queries[0].ID, b.queries[1].ID}
		if ids[0] != ids[1] || ids[0] != ids[2] || ids[0] != ids[3] {
			t.Errorf("transaction IDs %04x, want one", ids)
		}

		s := startServer(t, n, nil) // 198.18.0.3: not a.
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		c.Timeout = -1
		start := time.Now()
		answers, err := collect(c.QueryNameBroadcast(ctx, labsrv, netip.AddrPortFrom(n.BroadcastAddr(), 0)), false)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Minute || len(answers) != 1 {
			t.Errorf("negative Timeout: %d answers, %v after %v; want 1, context.DeadlineExceeded after 1m", len(answers), err, time.Since(start))
		}
		if got := s.NameQueries(); got != 1 {
			t.Errorf("server received %d queries, want 1", got)
		}
	})
}
