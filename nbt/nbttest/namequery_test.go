package nbttest

import (
	"net"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/netbios-go/netbios/nbns"
)

// TestServerNameQuery sends one name query to a Server on a Network and
// checks, in virtual time, every datagram that comes back and when: the
// answers as nmbd gives them, and each option.
func TestServerNameQuery(t *testing.T) {
	labsrv := nbns.MustName("LABSRV", nbns.FileServer)
	labgrp := nbns.MustName("LABGRP", nbns.BrowserElection)
	nosuch := nbns.MustName("NOSUCH", nbns.FileServer)
	other := nbns.MustName("OTHER", nbns.FileServer)
	host := netip.MustParseAddr("198.18.0.2")
	nmbd := nbns.Header{ID: 7, Response: true, Authoritative: true, RecursionDesired: true, RecursionAvailable: true, ANCount: 1}
	negative := nmbd
	negative.RCode = nbns.RCodeNameError
	positive := func(n nbns.Name, e ...nbns.AddrEntry) nbns.NameQueryResponse {
		return nbns.NameQueryResponse{Header: nmbd, Name: n, TTL: NameTTL, Entries: e}
	}
	type reply struct {
		at time.Duration
		r  nbns.NameQueryResponse
	}
	tests := []struct {
		name  string
		setup func(s *Server)
		q     nbns.NameQueryRequest
		want  []reply
	}{
		{
			name: "unicast, own unique name", q: nbns.NameQueryRequest{ID: 7, Name: labsrv},
			want: []reply{{2 * delay, positive(labsrv, nbns.AddrEntry{Addr: host})}},
		},
		{
			name: "unicast, own group name, scoped", q: nbns.NameQueryRequest{ID: 7, Name: labgrp, Scope: "corp", RecursionDesired: true},
			want: []reply{{2 * delay, func() nbns.NameQueryResponse {
				r := positive(labgrp, nbns.AddrEntry{Flags: nbns.NBFlagGroup, Addr: host})
				r.Scope = "corp"
				return r
			}()}},
		},
		{
			name: "unicast, unknown name, RD clear: NAM_ERR", q: nbns.NameQueryRequest{ID: 7, Name: nosuch},
			want: []reply{{2 * delay, nbns.NameQueryResponse{Header: negative, Kind: nbns.NegativeResponse, Name: nosuch}}},
		},
		{
			name: "unicast, unknown name, RD set: silence", q: nbns.NameQueryRequest{ID: 7, Name: nosuch, RecursionDesired: true},
		},
		{
			name: "broadcast, own name", q: nbns.NameQueryRequest{ID: 7, Name: labsrv, Broadcast: true, RecursionDesired: true},
			want: []reply{{2 * delay, positive(labsrv, nbns.AddrEntry{Addr: host})}},
		},
		{
			name: "broadcast, own name, answered twice", q: nbns.NameQueryRequest{ID: 7, Name: labsrv, Broadcast: true, RecursionDesired: true},
			setup: func(s *Server) { s.AnswerBroadcastTwice = true },
			want:  []reply{{2 * delay, positive(labsrv, nbns.AddrEntry{Addr: host})}, {2 * delay, positive(labsrv, nbns.AddrEntry{Addr: host})}},
		},
		{
			name: "broadcast, unknown name, RD clear: never negative", q: nbns.NameQueryRequest{ID: 7, Name: nosuch, Broadcast: true},
		},
		{
			name: "WINS, another host's name", q: nbns.NameQueryRequest{ID: 7, Name: other, RecursionDesired: true},
			setup: func(s *Server) {
				s.WINS = map[nbns.Name][]nbns.AddrEntry{other: {{Addr: netip.MustParseAddr("198.18.0.7")}}}
			},
			want: []reply{{2 * delay, positive(other, nbns.AddrEntry{Addr: netip.MustParseAddr("198.18.0.7")})}},
		},
		{
			name: "WINS, unknown name, RD set: NAM_ERR", q: nbns.NameQueryRequest{ID: 7, Name: nosuch, RecursionDesired: true},
			setup: func(s *Server) { s.WINS = map[nbns.Name][]nbns.AddrEntry{} },
			want:  []reply{{2 * delay, nbns.NameQueryResponse{Header: negative, Kind: nbns.NegativeResponse, Name: nosuch}}},
		},
		{
			name: "WINS, another host's name by broadcast: silence", q: nbns.NameQueryRequest{ID: 7, Name: other, Broadcast: true, RecursionDesired: true},
			setup: func(s *Server) {
				s.WINS = map[nbns.Name][]nbns.AddrEntry{other: {{Addr: netip.MustParseAddr("198.18.0.7")}}}
			},
		},
		{
			name: "WACK, then the answer", q: nbns.NameQueryRequest{ID: 7, Name: labsrv, RecursionDesired: true},
			setup: func(s *Server) { s.WACK, s.NameDelay = 30, time.Second },
			want: []reply{
				{2 * delay, nbns.NameQueryResponse{
					Header: nbns.Header{ID: 7, Response: true, OpCode: nbns.OpWACK, Authoritative: true, ANCount: 1},
					Kind:   nbns.WACKResponse, Name: labsrv, TTL: 30, WACKFlags: 0x0100,
				}},
				{2*delay + time.Second, positive(labsrv, nbns.AddrEntry{Addr: host})},
			},
		},
		{
			name: "redirect", q: nbns.NameQueryRequest{ID: 7, Name: labsrv, Scope: "corp.example", RecursionDesired: true},
			setup: func(s *Server) { s.Redirect = netip.MustParseAddr("198.18.0.9") },
			want: []reply{{2 * delay, nbns.NameQueryResponse{
				Header: nbns.Header{ID: 7, Response: true, RecursionDesired: true, NSCount: 1, ARCount: 1},
				Kind:   nbns.RedirectResponse, TTL: NameTTL,
				Redirect: nbns.Redirect{Domain: "corp.example", Server: RedirectNBNS, Addr: netip.MustParseAddr("198.18.0.9")},
			}}},
		},
		{
			name: "dropped", q: nbns.NameQueryRequest{ID: 7, Name: labsrv},
			setup: func(s *Server) { s.NameService = DropQueries },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := NewNetwork(delay)
				s := NewUnstartedServer(nil)
				s.Network = n
				s.Names = Table("LABSRV", "LABGRP")
				if tt.setup != nil {
					tt.setup(s)
				}
				s.Start()
				defer s.Close()
				pc, err := n.Listener().ListenPacket(t.Context(), "udp4", "0.0.0.0:0")
				if err != nil {
					t.Fatal(err)
				}
				defer pc.Close()
				b, err := tt.q.MarshalBinary()
				if err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				if _, err := pc.WriteTo(b, net.UDPAddrFromAddrPort(s.NameAddr)); err != nil {
					t.Fatal(err)
				}
				pc.SetReadDeadline(start.Add(time.Minute))
				var got []reply
				buf := make([]byte, 2048)
				for {
					k, from, err := pc.ReadFrom(buf)
					if err != nil {
						break
					}
					if from.String() != s.NameAddr.String() {
						t.Errorf("reply from %v, want %v", from, s.NameAddr)
					}
					var r nbns.NameQueryResponse
					if err := r.UnmarshalBinary(buf[:k]); err != nil {
						t.Fatalf("reply % x: %v", buf[:k], err)
					}
					got = append(got, reply{time.Since(start), r})
				}
				if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(reply{}), nameCmp,
					cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
					t.Errorf("replies (-want +got):\n%s", diff)
				}
				if got := s.NameQueries(); got != 1 {
					t.Errorf("NameQueries() = %d, want 1", got)
				}
				if got := s.NodeStatusQueries(); got != 0 {
					t.Errorf("NodeStatusQueries() = %d, want 0", got)
				}
			})
		})
	}
}
