// Tests of nbt.Resolver over nbttest.Network in virtual time
// (testing/synctest): what each lookup finds, in which steps, in how many
// round trips, and with how many datagrams. No test here sends a packet
// off the in-memory network: every broadcast goes to its broadcast
// address.

package nbt_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/nbt"
	"github.com/netbios-go/netbios/nbt/nbttest"
	"github.com/netbios-go/netbios/session"
)

var (
	labsrv = nbns.MustName("LABSRV", nbns.FileServer)
	labgrp = nbns.MustName("LABGRP", nbns.BrowserElection)
)

// lab is an in-memory network with hosts a test may need: a WINS server,
// two hosts that own LABSRV (the second only when a test starts it), and
// a silent one.
type lab struct {
	net   *nbttest.Network
	wins  *nbttest.Server // 198.18.0.2: WINS, which knows LABSRV<20> at the host
	host  *nbttest.Server // 198.18.0.3: LABSRV, workgroup LABGRP; answers broadcasts
	mute  *nbttest.Server // 198.18.0.4: drops every query
	other *nbttest.Server // 198.18.0.5: LABSRV too (a conflict), or LABGRP's second member
}

// newLab starts the lab's hosts; twin makes the fifth host claim LABSRV
// as well.
func newLab(t *testing.T, twin bool) *lab {
	l := &lab{net: nbttest.NewNetwork(rtt / 2)}
	start := func(names []nbns.NodeName, mode nbttest.NameServiceMode) *nbttest.Server {
		s := nbttest.NewUnstartedServer(nil)
		s.Network = l.net
		s.Names = names
		s.NameService = mode
		s.Start()
		t.Cleanup(s.Close)
		return s
	}
	l.wins = start(nbttest.Table("WINSSRV", "LABGRP"), nbttest.AnswerQueries)
	l.host = start(nbttest.Table("LABSRV", "LABGRP"), nbttest.AnswerQueries)
	l.mute = start(nbttest.Table("MUTE", "LABGRP"), nbttest.DropQueries)
	other := "OTHER"
	if twin {
		other = "LABSRV"
	}
	l.other = start(nbttest.Table(other, "LABGRP"), nbttest.AnswerQueries)
	l.wins.WINS = map[nbns.Name][]nbns.AddrEntry{
		labsrv: {{Flags: nbns.NewNBFlags(false, nbns.HNode), Addr: l.host.Addr.Addr()}},
	}
	return l
}

// resolver returns a Resolver on the lab's network, with no DNS.
func (l *lab) resolver() *nbt.Resolver {
	return &nbt.Resolver{
		NameService: &nbns.Client{Dialer: l.net.Dialer(), Listener: l.net.Listener()},
		Broadcast:   []netip.Addr{l.net.BroadcastAddr()},
		Order:       []nbt.Source{nbt.SourceLMHosts, nbt.SourceWINS, nbt.SourceBroadcast},
	}
}

// datagrams counts the name queries the lab's hosts received.
func (l *lab) datagrams() int {
	return l.wins.NameQueries() + l.host.NameQueries() + l.mute.NameQueries() + l.other.NameQueries()
}

// lookupCost is what one lookup gave and cost.
type lookupCost struct {
	Owners []string // NameOwner.String of each
	Steps  []string // source and outcome of each step, from the trace
	RTT    float64  // in round trips of the lab's network
	Err    string   // the error, "" for none
}

func lookup(t *testing.T, r *nbt.Resolver, name nbns.Name) lookupCost {
	t.Helper()
	var mu sync.Mutex
	var cost lookupCost
	ctx := nbt.WithClientTrace(t.Context(), &nbt.ClientTrace{
		LookupDone: func(i nbt.LookupDoneInfo) {
			mu.Lock()
			defer mu.Unlock()
			step := i.Source.String()
			for _, s := range i.Servers {
				step += " " + s.String()
			}
			if i.Err != nil {
				step += ": " + errClass(i.Err)
			} else {
				step += fmt.Sprintf(": %d", len(i.Owners))
			}
			cost.Steps = append(cost.Steps, step)
		},
	})
	start := time.Now()
	owners, err := r.LookupName(ctx, name)
	cost.RTT = float64(time.Since(start)) / float64(rtt)
	for _, o := range owners {
		cost.Owners = append(cost.Owners, o.String())
	}
	if err != nil {
		cost.Err = err.Error()
	}
	return cost
}

// errClass names a lookup step's error briefly.
func errClass(err error) string {
	switch {
	case errors.Is(err, nbns.RCodeNameError):
		return "NAM_ERR"
	case errors.Is(err, nbns.ErrNoResponse):
		return "no response"
	case errors.Is(err, nbt.ErrNameNotFound):
		return "not found"
	}
	return err.Error()
}

// TestLookupName looks LABSRV<20> and LABGRP<1E> up on the lab's network
// under each configuration, in virtual time: the owners found, the steps
// taken and the round trips they cost.
func TestLookupName(t *testing.T) {
	const (
		wins  = "198.18.0.2"
		host  = "198.18.0.3"
		mute  = "198.18.0.4"
		other = "198.18.0.5"
		bcast = "198.19.255.255"
	)
	cases := []struct {
		name  string
		twin  bool
		setup func(l *lab, r *nbt.Resolver)
		query nbns.Name
		want  lookupCost
	}{
		{
			name:  "WINS answers",
			setup: func(l *lab, r *nbt.Resolver) { r.WINS = []netip.Addr{l.wins.Addr.Addr()} },
			query: labsrv,
			want: lookupCost{
				Owners: []string{host + " LABSRV<20> unique, H node, from WINS " + wins},
				Steps:  []string{"wins " + wins + ": 1"}, RTT: 1,
			},
		},
		{
			name: "a silent WINS server, then one that answers",
			setup: func(l *lab, r *nbt.Resolver) {
				r.WINS = []netip.Addr{l.mute.Addr.Addr(), l.wins.Addr.Addr()}
				r.WINSTimeout = 2 * rtt
			},
			query: labsrv,
			want: lookupCost{
				Owners: []string{host + " LABSRV<20> unique, H node, from WINS " + wins},
				Steps:  []string{"wins " + mute + ": no response", "wins " + wins + ": 1"}, RTT: 3*2 + 1,
			},
		},
		{
			name: "WINS says no such name: the next server is asked, as Windows does",
			setup: func(l *lab, r *nbt.Resolver) {
				l.other.WINS = map[nbns.Name][]nbns.AddrEntry{} // knows nothing
				r.WINS = []netip.Addr{l.other.Addr.Addr(), l.wins.Addr.Addr()}
			},
			query: labsrv,
			want: lookupCost{
				Owners: []string{host + " LABSRV<20> unique, H node, from WINS " + wins},
				Steps:  []string{"wins " + other + ": NAM_ERR", "wins " + wins + ": 1"}, RTT: 2,
			},
		},
		{
			name: "a WINS server redirects to another NBNS: followed once",
			setup: func(l *lab, r *nbt.Resolver) {
				l.other.Redirect = l.wins.Addr.Addr()
				r.WINS = []netip.Addr{l.other.Addr.Addr()}
			},
			query: labsrv,
			want: lookupCost{
				Owners: []string{host + " LABSRV<20> unique, H node, from WINS " + other},
				Steps:  []string{"wins " + other + ": 1"}, RTT: 2,
			},
		},
		{
			name: "redirects that go on: the second ends the step, and the next source is asked",
			setup: func(l *lab, r *nbt.Resolver) {
				l.other.Redirect = l.wins.Addr.Addr()
				l.wins.Redirect = l.other.Addr.Addr()
				r.WINS = []netip.Addr{l.other.Addr.Addr()}
				r.ConflictWait = -1
			},
			query: labsrv,
			want: lookupCost{
				Owners: []string{host + " LABSRV<20> unique, B node, from broadcast on " + bcast},
				Steps: []string{
					"wins " + other + ": redirected by " + other + " to " + wins + ": nbns: name query for LABSRV<20> redirected to the NBNS at " + other + " (nbns.nbttest)",
					"bcast " + bcast + ": 1",
				},
				RTT: 3,
			},
		},
		{
			name:  "broadcast: the owner answers, and the lookup waits half as long again for a second",
			query: labsrv,
			want: lookupCost{
				Owners: []string{host + " LABSRV<20> unique, B node, from broadcast on " + bcast},
				Steps:  []string{"bcast " + bcast + ": 1"}, RTT: 1.5,
			},
		},
		{
			name:  "broadcast with ConflictWait negative: the first owner ends it",
			setup: func(l *lab, r *nbt.Resolver) { r.ConflictWait = -1 },
			query: labsrv,
			want: lookupCost{
				Owners: []string{host + " LABSRV<20> unique, B node, from broadcast on " + bcast},
				Steps:  []string{"bcast " + bcast + ": 1"}, RTT: 1,
			},
		},
		{
			name: "broadcast: two owners of a unique name are both reported", twin: true,
			query: labsrv,
			want: lookupCost{
				Owners: []string{
					host + " LABSRV<20> unique, B node, from broadcast on " + bcast,
					other + " LABSRV<20> unique, B node, from broadcast on " + bcast,
				},
				Steps: []string{"bcast " + bcast + ": 2"}, RTT: 1.5,
			},
		},
		{
			name:  "broadcast: a group collects every member until the wait ends",
			setup: func(l *lab, r *nbt.Resolver) { r.BroadcastTimeout = 2 * rtt },
			query: labgrp,
			want: lookupCost{
				Owners: []string{
					wins + " LABGRP<1E> group, B node, from broadcast on " + bcast,
					host + " LABGRP<1E> group, B node, from broadcast on " + bcast,
					other + " LABGRP<1E> group, B node, from broadcast on " + bcast,
				},
				Steps: []string{"bcast " + bcast + ": 3"}, RTT: 3 * 2,
			},
		},
		{
			name: "WINS, then broadcast, find nothing",
			setup: func(l *lab, r *nbt.Resolver) {
				r.WINS = []netip.Addr{l.wins.Addr.Addr()}
				r.BroadcastTimeout = 2 * rtt
			},
			query: nbns.MustName("NOSUCH", nbns.FileServer),
			want: lookupCost{
				Steps: []string{"wins " + wins + ": NAM_ERR", "bcast " + bcast + ": no response"}, RTT: 1 + 3*2,
				Err: "lookup NOSUCH<20>: nbt: NetBIOS name not found; wins " + wins +
					": nbns: negative name query response for NOSUCH<20>: name error (rcode 3) (50ms); bcast " + bcast +
					": no response to broadcast name query after 3 attempts in 300ms (300ms)",
			},
		},
		{
			name: "NoBroadcast: WINS only",
			setup: func(l *lab, r *nbt.Resolver) {
				r.WINS = []netip.Addr{l.wins.Addr.Addr()}
				r.NoBroadcast = true
			},
			query: nbns.MustName("NOSUCH", nbns.FileServer),
			want: lookupCost{
				Steps: []string{"wins " + wins + ": NAM_ERR"}, RTT: 1,
				Err: "lookup NOSUCH<20>: nbt: NetBIOS name not found; wins " + wins +
					": nbns: negative name query response for NOSUCH<20>: name error (rcode 3) (50ms)",
			},
		},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := newLab(t, tt.twin)
				r := l.resolver()
				if tt.setup != nil {
					tt.setup(l, r)
				}
				got := lookup(t, r, tt.query)
				slices.Sort(got.Owners) // answers that arrive at one instant come in any order
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			})
		})
	}
}

// TestLookupCache: an answer is remembered for its TTL or CacheTTL, the
// shorter; a name not found for NegativeCacheTTL; a remembered lookup
// costs no time and no datagram.
func TestLookupCache(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t, false)
		r := l.resolver()
		r.WINS = []netip.Addr{l.wins.Addr.Addr()}
		r.NoBroadcast = true
		r.CacheTTL = time.Minute
		if got := lookup(t, r, labsrv); got.Err != "" || got.RTT != 1 {
			t.Fatalf("first lookup: %+v", got)
		}
		sent := l.datagrams()
		got := lookup(t, r, labsrv)
		want := lookupCost{Owners: []string{"198.18.0.3 LABSRV<20> unique, H node, cached, from WINS 198.18.0.2"}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("cached lookup (-want +got):\n%s", diff)
		}
		if n := l.datagrams() - sent; n != 0 {
			t.Errorf("a cached lookup sent %d datagrams", n)
		}
		time.Sleep(time.Minute) // virtual time: the entry expires
		if got := lookup(t, r, labsrv); got.RTT != 1 || len(got.Steps) != 1 {
			t.Errorf("after CacheTTL: %+v, want a query again", got)
		}

		nosuch := nbns.MustName("NOSUCH", nbns.FileServer)
		lookup(t, r, nosuch)
		sent = l.datagrams()
		got = lookup(t, r, nosuch)
		if got.RTT != 0 || !strings.Contains(got.Err, "negative cache") || l.datagrams() != sent {
			t.Errorf("a name just not found: %+v, %d datagrams", got, l.datagrams()-sent)
		}
		time.Sleep(nbt.DefaultNegativeCacheTTL)
		if got := lookup(t, r, nosuch); got.RTT != 1 {
			t.Errorf("after NegativeCacheTTL: %+v, want a query again", got)
		}
	})
}

// TestLookupMerged: concurrent lookups of one name make one query, and
// all get its answer; a caller that gives up does not end it for the
// others.
func TestLookupMerged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t, false)
		r := l.resolver()
		r.WINS = []netip.Addr{l.wins.Addr.Addr()}
		r.NoBroadcast = true
		impatient, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		results := make([]error, 10)
		for i := range results {
			ctx := t.Context()
			if i == 0 {
				ctx = impatient
			}
			wg.Go(func() {
				owners, err := r.LookupName(ctx, labsrv)
				if err == nil && len(owners) != 1 {
					err = fmt.Errorf("%d owners", len(owners))
				}
				results[i] = err
			})
		}
		synctest.Wait()
		cancel()
		wg.Wait()
		if !errors.Is(results[0], context.Canceled) {
			t.Errorf("the caller that gave up: %v, want context.Canceled", results[0])
		}
		for i, err := range results[1:] {
			if err != nil {
				t.Errorf("caller %d: %v", i+1, err)
			}
		}
		if n := l.wins.NameQueries(); n != 1 {
			t.Errorf("WINS saw %d queries for 10 concurrent lookups, want 1", n)
		}
	})
}

// TestLookupAllGiveUp: when every caller has given up, the lookup ends,
// and a later lookup of the name starts afresh instead of getting the
// cancelled one's error.
func TestLookupAllGiveUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t, false)
		r := l.resolver()
		r.WINS = []netip.Addr{l.mute.Addr.Addr(), l.wins.Addr.Addr()}
		r.NoBroadcast = true
		ctx, cancel := context.WithTimeout(t.Context(), rtt)
		defer cancel()
		_, err := r.LookupName(ctx, labsrv)
		var le *nbt.LookupError
		if !errors.As(err, &le) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error %v, want a *LookupError with the deadline", err)
		}
		if got := lookup(t, r, labsrv); got.Err != "" {
			t.Errorf("a later lookup: %+v", got)
		}
	})
}

// TestLookupLMHosts reads an LMHOSTS file: its #PRE entries answer from
// the cache before anything else, the others at LMHOSTS's place in the
// order; a change to the file is seen at the next lookup.
func TestLookupLMHosts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t, false)
		path := filepath.Join(t.TempDir(), "lmhosts")
		write := func(text string) {
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		write("198.18.0.7 PRELOADED #PRE\n198.18.0.8 FILESRV\n198.18.0.9  LABSRV\n")
		r := l.resolver()
		r.LMHosts = path
		r.WINS = []netip.Addr{l.wins.Addr.Addr()}
		cases := []struct {
			name nbns.Name
			want lookupCost
		}{
			{nbns.MustName("PRELOADED", nbns.FileServer), lookupCost{Owners: []string{"198.18.0.7 PRELOADED<20> unique, cached, from LMHOSTS"}}},
			{nbns.MustName("FILESRV", nbns.Workstation), lookupCost{Owners: []string{"198.18.0.8 FILESRV<00> unique, from LMHOSTS"}, Steps: []string{"lmhosts: 1"}}},
			{labsrv, lookupCost{Owners: []string{"198.18.0.9 LABSRV<20> unique, from LMHOSTS"}, Steps: []string{"lmhosts: 1"}}},
		}
		for _, tt := range cases {
			if diff := cmp.Diff(tt.want, lookup(t, r, tt.name)); diff != "" {
				t.Errorf("%v (-want +got):\n%s", tt.name, diff)
			}
		}
		if n := l.datagrams(); n != 0 {
			t.Errorf("%d datagrams for names in LMHOSTS", n)
		}
		write("198.18.0.17 PRELOADED #PRE\n# FILESRV is gone\n")
		r.CacheTTL = -1
		got := lookup(t, r, nbns.MustName("PRELOADED", nbns.FileServer))
		if want := []string{"198.18.0.17 PRELOADED<20> unique, cached, from LMHOSTS"}; !cmp.Equal(want, got.Owners) {
			t.Errorf("after the file changed: %v, want %v", got.Owners, want)
		}
	})
}

// TestLookupDNS: with the default order, a name DNS knows is found there,
// before any broadcast: "localhost" never broadcasts. It runs in real
// time: net.Resolver cannot run in a synctest bubble.
func TestLookupDNS(t *testing.T) {
	l := newLab(t, false)
	r := l.resolver()
	r.Order = nil // DefaultOrder: lmhosts wins host bcast
	r.DNS = fakeDNS(t, netip.MustParseAddr("127.0.0.1"))
	got := lookup(t, r, nbns.MustName("localhost", nbns.FileServer))
	got.RTT = 0 // real time
	want := lookupCost{Owners: []string{"127.0.0.1 LOCALHOST<20> unique, from DNS"}, Steps: []string{"host: 1"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if n := l.datagrams(); n != 0 {
		t.Errorf("%d datagrams for a name DNS knows", n)
	}
}

// TestParseOrder reads Samba's "name resolve order".
func TestParseOrder(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []nbt.Source
		err  string
	}{
		{in: "lmhosts wins host bcast", want: []nbt.Source{nbt.SourceLMHosts, nbt.SourceWINS, nbt.SourceDNS, nbt.SourceBroadcast}},
		{in: "wins,bcast", want: []nbt.Source{nbt.SourceWINS, nbt.SourceBroadcast}},
		{in: "DNS", want: []nbt.Source{nbt.SourceDNS}},
		{in: "", want: nil},
		{in: "wins nis", err: `unknown name resolution step "nis"`},
		{in: "wins wins", err: `"wins" given twice`},
	} {
		got, err := nbt.ParseOrder(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseOrder(%q) error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || !cmp.Equal(tt.want, got) {
			t.Errorf("ParseOrder(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

// TestIsNetBIOSName: which hosts a Dialer looks up as NetBIOS names.
func TestIsNetBIOSName(t *testing.T) {
	for host, want := range map[string]bool{
		"LABSRV": true, "nas01": true, "FIFTEENCHARSXYZ": true, "SIXTEENCHARSWXYZ": false,
		"labsrv.example": false, "198.18.0.2": false, "": false, "::1": false, "[::1]": false,
	} {
		if got := nbt.IsNetBIOSName(host); got != want {
			t.Errorf("IsNetBIOSName(%q) = %v, want %v", host, got, want)
		}
	}
}

var _ net.Error = (*nbt.LookupError)(nil)

// TestDialByName dials a NetBIOS name over the lab's network, in virtual
// time: the Dialer looks NAME<20> up and calls that name, with no node
// status and no *SMBSERVER: one round trip to resolve and two to connect,
// two when the name is cached.
func TestDialByName(t *testing.T) {
	dial := func(t *testing.T, d *nbt.Dialer, address string) (dialCost, error) {
		t.Helper()
		var mu sync.Mutex
		var cost dialCost
		ctx := nbt.WithClientTrace(t.Context(), &nbt.ClientTrace{
			SessionRequest: func(i nbt.SessionRequestInfo) {
				mu.Lock()
				cost.Requests = append(cost.Requests, i.Addr.Addr().String()+" "+i.Request.Called.String())
				mu.Unlock()
			},
			NodeStatusStart: func(nbt.NodeStatusStartInfo) { t.Error("a node status query") },
		})
		start := time.Now()
		c, err := d.DialContext(ctx, "tcp", address)
		cost.RTT = float64(time.Since(start)) / float64(rtt)
		if err == nil {
			cost.Called = c.(*nbt.Conn).CalledName().String()
			c.Close()
		}
		return cost, err
	}
	t.Run("WINS, then the cache", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := newLab(t, false)
			r := l.resolver()
			r.WINS = []netip.Addr{l.wins.Addr.Addr()}
			d := l.host.Dialer()
			d.Resolver = r
			want := dialCost{RTT: 3, Requests: []string{"198.18.0.3 LABSRV<20>"}, Called: "LABSRV<20>"}
			got, err := dial(t, d, "labsrv")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("cold (-want +got):\n%s", diff)
			}
			want.RTT = 2
			got, err = dial(t, d, "LABSRV:139")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("cached (-want +got):\n%s", diff)
			}
		})
	})
	t.Run("several addresses: the nearest first, the next at once when one fails", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := newLab(t, false)
			l.wins.WINS[labsrv] = []nbns.AddrEntry{
				{Flags: nbns.NewNBFlags(false, nbns.HNode), Addr: netip.MustParseAddr("198.18.0.9")}, // no such host: no answer to the SYN
				{Flags: nbns.NewNBFlags(false, nbns.HNode), Addr: l.host.Addr.Addr()},
			}
			r := l.resolver()
			r.WINS = []netip.Addr{l.wins.Addr.Addr()}
			d := l.host.Dialer()
			d.Resolver = r
			d.NetDialer = &timeoutDialer{d: l.net.Dialer(), timeout: 2 * rtt}
			got, err := dial(t, d, "LABSRV")
			if err != nil {
				t.Fatal(err)
			}
			// 1 to resolve, 2 for the silent address's connect timeout, 2 to connect
			want := dialCost{RTT: 5, Requests: []string{"198.18.0.3 LABSRV<20>"}, Called: "LABSRV<20>"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	})
	t.Run("0x82 from the owner: the cached answer is forgotten", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := newLab(t, false)
			var renamed atomic.Bool
			l.host.Handler = nbttest.HandlerFunc(func(req session.Request) nbttest.Response {
				if renamed.Load() {
					return nbttest.Response{Reject: session.ErrCalledNameNotPresent}
				}
				return nbttest.Response{}
			})
			r := l.resolver()
			r.WINS = []netip.Addr{l.wins.Addr.Addr()}
			r.NoBroadcast = true
			d := l.host.Dialer()
			d.Resolver = r
			if _, err := dial(t, d, "LABSRV"); err != nil {
				t.Fatal(err)
			}
			renamed.Store(true)
			if _, err := dial(t, d, "LABSRV"); !errors.Is(err, session.ErrCalledNameNotPresent) {
				t.Fatalf("error %v, want 0x82", err)
			}
			queries := l.wins.NameQueries()
			dial(t, d, "LABSRV")
			if n := l.wins.NameQueries() - queries; n != 1 {
				t.Errorf("after 0x82, the next dial sent %d name queries, want 1: the answer was not forgotten", n)
			}
		})
	})
	t.Run("a forger answers the broadcast first: both are kept, and the real host is reached", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := newLab(t, true)       // the fifth host claims LABSRV too
			l.host.NameDelay = rtt / 5 // the real owner answers 10 ms after the forger
			l.other.Handler = nbttest.RefuseNames(session.ErrCalledNameNotPresent, labsrv)
			r := l.resolver()
			d := l.host.Dialer()
			d.Resolver = r
			got, err := dial(t, d, "LABSRV")
			if err != nil {
				t.Fatal(err)
			}
			// 1.5 to resolve (the forger's answer at 1, the owner's at 1.2,
			// within the conflict wait of half a round trip), then a refusal
			// at the forger (2) and the session at the owner (2).
			want := dialCost{RTT: 1.5 + 2 + 2, Requests: []string{"198.18.0.5 LABSRV<20>", "198.18.0.3 LABSRV<20>"}, Called: "LABSRV<20>"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	})
	t.Run("not found: the error names each source", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := newLab(t, false)
			r := l.resolver()
			r.WINS = []netip.Addr{l.wins.Addr.Addr()}
			r.NoBroadcast = true
			d := l.host.Dialer()
			d.Resolver = r
			_, err := dial(t, d, "NOSUCH")
			want := "dial nbt: lookup NOSUCH<20>: nbt: NetBIOS name not found; wins 198.18.0.2: "
			if err == nil || !strings.HasPrefix(err.Error(), want) || !errors.Is(err, nbt.ErrNameNotFound) {
				t.Errorf("error %v, want it to start %q and wrap ErrNameNotFound", err, want)
			}
		})
	})
}

// timeoutDialer bounds each connect, as net.Dialer.Timeout does.
type timeoutDialer struct {
	d interface {
		DialContext(context.Context, string, string) (net.Conn, error)
	}
	timeout time.Duration
}

func (td *timeoutDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, td.timeout)
	defer cancel()
	return td.d.DialContext(ctx, network, address)
}
