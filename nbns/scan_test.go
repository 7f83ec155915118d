package nbns_test

// Tests of Scanner.Scan over an in-memory nbttest.Network in virtual time
// (testing/synctest), where every query, answer and timer is counted
// exactly, and one over loopback with a real socket. Nothing is sent to a
// real network.

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

// scanD is the one-way delay of the scan tests' Networks: a round trip
// takes 10 ms.
const scanD = 5 * time.Millisecond

// A fakeHost is a host of the scan tests, answering node status queries
// on UDP 137 of its address as nmbd does, unless its fields say otherwise.
type fakeHost struct {
	addr   string          // on the Network, 198.18.x.y
	table  []nbns.NodeName // nil: nbttest.Table("H<last octet>", "LABGRP")
	mute   bool            // never answers
	drop   int             // the first drop queries go unanswered
	delay  time.Duration   // before each answer
	from   string          // answers from this address, port 137, instead of its own
	copies int             // answers to each query; 0 means 1
	before [][]byte        // datagrams sent to the querier before each answer
}

// fakeHosts runs fakeHosts and records what they receive.
type fakeHosts struct {
	start time.Time

	mu          sync.Mutex
	arrivals    map[netip.Addr][]time.Duration // when each host got a query, since start
	outstanding int                            // queries received and not answered yet
	most        int                            // the largest outstanding
}

// startFakeHosts starts hosts on n; they stop when the test ends.
func startFakeHosts(t *testing.T, n *nbttest.Network, hosts ...fakeHost) *fakeHosts {
	t.Helper()
	f := &fakeHosts{start: time.Now(), arrivals: make(map[netip.Addr][]time.Duration)}
	for _, h := range hosts {
		addr := netip.MustParseAddr(h.addr)
		pc, err := n.ListenPacket("udp4", netip.AddrPortFrom(addr, nbns.Port).String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pc.Close() })
		out := pc
		if h.from != "" {
			if out, err = n.ListenPacket("udp4", h.from+":137"); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { out.Close() })
		}
		if h.table == nil {
			last := addr.As4()[3]
			h.table = nbttest.Table("H"+string(rune('0'+last/100))+string(rune('0'+last/10%10))+string(rune('0'+last%10)), "LABGRP")
		}
		go f.serve(h, pc, out)
	}
	return f
}

func (f *fakeHosts) serve(h fakeHost, pc, out net.PacketConn) {
	addr := netip.MustParseAddr(h.addr)
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		var q nbns.NodeStatusRequest
		if q.UnmarshalBinary(buf[:n]) != nil {
			continue
		}
		f.mu.Lock()
		f.arrivals[addr] = append(f.arrivals[addr], time.Since(f.start))
		count := len(f.arrivals[addr])
		f.mu.Unlock()
		if h.mute || count <= h.drop || !hasName(h.table, q.Name) {
			continue
		}
		r := nbns.NodeStatusResponse{
			Header: nbns.Header{ID: q.ID, Authoritative: true},
			Name:   q.Name, Scope: q.Scope, Names: h.table,
		}
		answer, err := r.MarshalBinary()
		if err != nil {
			panic(err)
		}
		f.mu.Lock()
		f.outstanding++
		f.most = max(f.most, f.outstanding)
		f.mu.Unlock()
		reply := func() {
			f.mu.Lock()
			f.outstanding--
			f.mu.Unlock()
			for _, b := range h.before {
				out.WriteTo(b, from)
			}
			for range max(h.copies, 1) {
				out.WriteTo(answer, from)
			}
		}
		if h.delay > 0 {
			time.AfterFunc(h.delay, reply)
		} else {
			reply()
		}
	}
}

// hasName reports whether a host with table answers a query for name, as
// nmbd does: for the wildcard and for its own names.
func hasName(table []nbns.NodeName, name nbns.Name) bool {
	return name.IsWildcard() || slices.ContainsFunc(table, func(e nbns.NodeName) bool { return e.Name == name })
}

// arrivalsAt returns when the host at addr got each query.
func (f *fakeHosts) arrivalsAt(addr string) []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.arrivals[netip.MustParseAddr(addr)])
}

// queries returns how many queries the hosts got in all.
func (f *fakeHosts) queries() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, a := range f.arrivals {
		n += len(a)
	}
	return n
}

// scanGot is what the tests compare of a result.
type scanGot struct {
	Target    string
	Responder string // empty for a silent target
	Sent      int
	RTT       time.Duration
	Computer  string
}

func summarize(r *nbns.ScanResult) scanGot {
	g := scanGot{Target: r.Target.String(), Sent: r.Sent, RTT: r.RTT}
	if r.Answered() {
		g.Responder = r.Responder.String()
	}
	if n, ok := r.Computer(); ok {
		g.Computer = n.String()
	}
	return g
}

// addrs returns the addresses as a sequence.
func addrs(ss ...string) iter.Seq[netip.Addr] {
	as := make([]netip.Addr, len(ss))
	for i, s := range ss {
		as[i] = netip.MustParseAddr(s)
	}
	return slices.Values(as)
}

// scanOutcome is what a whole scan gave.
type scanOutcome struct {
	results []scanGot // sorted by target
	err     error
	took    time.Duration
	stats   nbns.ScanStats // the last Progress call's
	calls   int            // Progress calls
}

// runScan runs s over targets, with a Progress hook that keeps the last
// statistics.
func runScan(ctx context.Context, s *nbns.Scanner, targets iter.Seq[netip.Addr]) scanOutcome {
	var o scanOutcome
	sc := *s
	sc.Progress = func(st nbns.ScanStats) {
		o.stats = st
		o.calls++
		if s.Progress != nil {
			s.Progress(st)
		}
	}
	start := time.Now()
	for r, err := range sc.Scan(ctx, targets) {
		if err != nil {
			o.err = err
			continue
		}
		o.results = append(o.results, summarize(r))
	}
	o.took = time.Since(start)
	slices.SortFunc(o.results, func(a, b scanGot) int {
		return netip.MustParseAddrPort(a.Target).Compare(netip.MustParseAddrPort(b.Target))
	})
	return o
}

// TestScan checks what a scan reports, and when, host by host, in virtual
// time with a 10 ms round trip. With no answer timed yet the RTO is
// 250 ms; after answers of exactly 10 ms it is 25 ms (SRTT 10 ms + 4 ×
// 3.75 ms).
func TestScan(t *testing.T) {
	labsrv := nbttest.Table("LABSRV", "LABGRP")
	answer := func(target string, sent int, rtt time.Duration, computer string) scanGot {
		return scanGot{Target: target + ":137", Responder: target + ":137", Sent: sent, RTT: rtt, Computer: computer}
	}
	silent := func(target string, sent int) scanGot { return scanGot{Target: target + ":137", Sent: sent} }
	forged := func(f func(*nbns.NodeStatusResponse)) []byte {
		r := nbns.NodeStatusResponse{Name: nbns.Wildcard(), Names: labsrv}
		f(&r)
		b, err := r.MarshalBinary()
		if err != nil {
			panic(err)
		}
		return b
	}
	tests := []struct {
		name         string
		hosts        []fakeHost
		scanner      nbns.Scanner
		targets      []string
		want         []scanGot
		wantTook     time.Duration
		wantArrivals map[string][]time.Duration // at the hosts, since the start
		wantStats    func(st nbns.ScanStats) string
	}{
		{
			name:     "one host",
			hosts:    []fakeHost{{addr: "198.18.0.2"}},
			targets:  []string{"198.18.0.2"},
			want:     []scanGot{answer("198.18.0.2", 1, 10*time.Millisecond, "H002<00>")},
			wantTook: 10 * time.Millisecond,
		},
		{
			// The silent target is queried again while the levels of
			// retransmission are open (32 × 3/5 free tries each, as 2
			// of 3 addresses answer): at 0, 25, 75, 175 ms, then every 8
			// RTOs (200 ms) while an answer can still come back within
			// the 1-s timeout.
			name:    "answers and a silent host",
			hosts:   []fakeHost{{addr: "198.18.0.2"}, {addr: "198.18.0.3"}, {addr: "198.18.0.9", mute: true}},
			scanner: nbns.Scanner{ReportSilent: true},
			targets: []string{"198.18.0.2", "198.18.0.3", "198.18.0.9"},
			want: []scanGot{
				answer("198.18.0.2", 1, 10*time.Millisecond, "H002<00>"),
				answer("198.18.0.3", 1, 10*time.Millisecond, "H003<00>"),
				silent("198.18.0.9", 8),
			},
			wantTook: time.Second,
			wantArrivals: map[string][]time.Duration{
				"198.18.0.9": ms(5, 30, 80, 180, 380, 580, 780, 980),
			},
		},
		{
			name:     "silent, not reported",
			hosts:    []fakeHost{{addr: "198.18.0.9", mute: true}},
			targets:  []string{"198.18.0.9", "198.18.0.10"}, // .10: no host at all
			wantTook: time.Second,
			// No answer timed: the RTO stays 250 ms; gaps of 250 and
			// 500 ms, then the next would come too late.
			wantArrivals: map[string][]time.Duration{"198.18.0.9": ms(5, 255, 755)},
		},
		{
			name:         "answered at the third query",
			hosts:        []fakeHost{{addr: "198.18.0.2", drop: 2}},
			targets:      []string{"198.18.0.2"},
			want:         []scanGot{answer("198.18.0.2", 3, 10*time.Millisecond, "H002<00>")},
			wantTook:     760 * time.Millisecond,
			wantArrivals: map[string][]time.Duration{"198.18.0.2": ms(5, 255, 755)},
		},
		{
			// .2's answer at 10 ms sets the RTO to 30 ms (10 + 4 × 5).
			name:    "retransmitted on the measured RTO",
			hosts:   []fakeHost{{addr: "198.18.0.2"}, {addr: "198.18.0.3", drop: 1}},
			targets: []string{"198.18.0.2", "198.18.0.3"},
			want: []scanGot{
				answer("198.18.0.2", 1, 10*time.Millisecond, "H002<00>"),
				answer("198.18.0.3", 2, 10*time.Millisecond, "H003<00>"),
			},
			wantTook:     40 * time.Millisecond,
			wantArrivals: map[string][]time.Duration{"198.18.0.3": ms(5, 35)},
		},
		{
			name:         "one retransmission",
			hosts:        []fakeHost{{addr: "198.18.0.9", mute: true}},
			scanner:      nbns.Scanner{Retries: 1, ReportSilent: true},
			targets:      []string{"198.18.0.9"},
			want:         []scanGot{silent("198.18.0.9", 2)},
			wantTook:     time.Second,
			wantArrivals: map[string][]time.Duration{"198.18.0.9": ms(5, 255)},
		},
		{
			name:         "no retransmission",
			hosts:        []fakeHost{{addr: "198.18.0.2", drop: 1}},
			scanner:      nbns.Scanner{Retries: -1, ReportSilent: true},
			targets:      []string{"198.18.0.2"},
			want:         []scanGot{silent("198.18.0.2", 1)},
			wantTook:     time.Second,
			wantArrivals: map[string][]time.Duration{"198.18.0.2": ms(5)},
		},
		{
			// The initial RTO is the timeout, 100 ms, and a
			// retransmission then could not be answered in time.
			name:         "short timeout",
			hosts:        []fakeHost{{addr: "198.18.0.9", mute: true}},
			scanner:      nbns.Scanner{Timeout: 100 * time.Millisecond, ReportSilent: true},
			targets:      []string{"198.18.0.9"},
			want:         []scanGot{silent("198.18.0.9", 1)},
			wantTook:     100 * time.Millisecond,
			wantArrivals: map[string][]time.Duration{"198.18.0.9": ms(5)},
		},
		{
			name:    "alias",
			hosts:   []fakeHost{{addr: "198.18.0.4", from: "198.18.0.5"}},
			targets: []string{"198.18.0.4"},
			want: []scanGot{{
				Target: "198.18.0.4:137", Responder: "198.18.0.5:137", Sent: 1, RTT: 10 * time.Millisecond, Computer: "H004<00>",
			}},
			wantTook:  10 * time.Millisecond,
			wantStats: func(st nbns.ScanStats) string { return cmp.Diff([2]int{0, 1}, [2]int{st.Answered, st.Aliases}) },
		},
		{
			name:     "slow host",
			hosts:    []fakeHost{{addr: "198.18.0.2", delay: 30 * time.Millisecond}},
			targets:  []string{"198.18.0.2"},
			want:     []scanGot{answer("198.18.0.2", 1, 40*time.Millisecond, "H002<00>")},
			wantTook: 40 * time.Millisecond,
		},
		{
			// The answer to the first query comes after the second went
			// out: RTT counts from the second.
			name:     "slower than the initial RTO",
			hosts:    []fakeHost{{addr: "198.18.0.2", delay: 300 * time.Millisecond}},
			targets:  []string{"198.18.0.2"},
			want:     []scanGot{answer("198.18.0.2", 2, 60*time.Millisecond, "H002<00>")},
			wantTook: 310 * time.Millisecond,
		},
		{
			// .2 answers every query twice; .5, 15 ms late, keeps the
			// scan going until the copy has been read.
			name: "duplicate answers",
			hosts: []fakeHost{
				{addr: "198.18.0.2", copies: 2},
				{addr: "198.18.0.5", delay: 15 * time.Millisecond},
			},
			targets: []string{"198.18.0.2", "198.18.0.5"},
			want: []scanGot{
				answer("198.18.0.2", 1, 10*time.Millisecond, "H002<00>"),
				answer("198.18.0.5", 1, 25*time.Millisecond, "H005<00>"),
			},
			wantTook: 25 * time.Millisecond,
			wantStats: func(st nbns.ScanStats) string {
				return cmp.Diff([3]int{2, 1, 0}, [3]int{st.Answered, st.Duplicates, st.Ignored})
			},
		},
		{
			// Before its answer, the host sends what must not pass for one.
			name: "forgeries",
			hosts: []fakeHost{{addr: "198.18.0.2", table: labsrv, before: [][]byte{
				[]byte("not a packet"),
				mustMarshal(&nbns.NodeStatusRequest{Name: nbns.Wildcard()}),                                    // a request, not an answer
				forged(func(r *nbns.NodeStatusResponse) { r.Name = nbns.MustName("LABSRV", nbns.FileServer) }), // another question
				forged(func(r *nbns.NodeStatusResponse) { r.Scope = "corp" }),                                  // another scope
			}}},
			targets:  []string{"198.18.0.2"},
			want:     []scanGot{answer("198.18.0.2", 1, 10*time.Millisecond, "LABSRV<00>")},
			wantTook: 10 * time.Millisecond,
			wantStats: func(st nbns.ScanStats) string {
				return cmp.Diff([3]int{1, 4, 5}, [3]int{st.Answered, st.Ignored, st.Received})
			},
		},
		{
			name:    "a name other than the wildcard",
			hosts:   []fakeHost{{addr: "198.18.0.2", table: labsrv}, {addr: "198.18.0.3"}},
			scanner: nbns.Scanner{Name: nbns.MustName("LABSRV", nbns.FileServer), Retries: -1},
			targets: []string{"198.18.0.2", "198.18.0.3"},
			want:    []scanGot{answer("198.18.0.2", 1, 10*time.Millisecond, "LABSRV<00>")},
			// .3 has no LABSRV<20>: it never answers (RFC 1002 §5.1.1.5).
			wantTook: time.Second,
		},
		{
			name:     "scope",
			hosts:    []fakeHost{{addr: "198.18.0.2"}},
			scanner:  nbns.Scanner{Scope: "corp.example"},
			targets:  []string{"198.18.0.2"},
			want:     []scanGot{answer("198.18.0.2", 1, 10*time.Millisecond, "H002<00>")},
			wantTook: 10 * time.Millisecond,
		},
		{
			name:     "IPv6 skipped, IPv4-mapped unmapped",
			hosts:    []fakeHost{{addr: "198.18.0.2"}},
			targets:  []string{"2001:db8::1", "::ffff:198.18.0.2"},
			want:     []scanGot{answer("198.18.0.2", 1, 10*time.Millisecond, "H002<00>")},
			wantTook: 10 * time.Millisecond,
			wantStats: func(st nbns.ScanStats) string {
				return cmp.Diff([2]int{1, 1}, [2]int{st.Targets, st.Skipped})
			},
		},
		{
			name:     "no targets",
			targets:  nil,
			wantTook: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := nbttest.NewNetwork(scanD)
				f := startFakeHosts(t, n, tt.hosts...)
				s := tt.scanner
				s.Listener = n.Listener()
				o := runScan(t.Context(), &s, addrs(tt.targets...))
				if o.err != nil {
					t.Fatal(o.err)
				}
				if diff := cmp.Diff(tt.want, o.results); diff != "" {
					t.Errorf("results (-want +got):\n%s", diff)
				}
				if o.took != tt.wantTook {
					t.Errorf("scan took %v, want %v", o.took, tt.wantTook)
				}
				for host, want := range tt.wantArrivals {
					if diff := cmp.Diff(want, f.arrivalsAt(host)); diff != "" {
						t.Errorf("queries at %s (-want +got):\n%s", host, diff)
					}
				}
				if !o.stats.Done {
					t.Errorf("last Progress call without Done: %+v", o.stats)
				}
				if got := o.stats.Answered + o.stats.Aliases; got != len(answered(tt.want)) {
					t.Errorf("stats: %d answered, want %d", got, len(answered(tt.want)))
				}
				if diff := cmp.Diff(f.queries(), o.stats.Sent); diff != "" && len(tt.hosts) == len(tt.targets) {
					t.Errorf("queries sent, as the hosts count them (-want +got):\n%s", diff)
				}
				if tt.wantStats != nil {
					if diff := tt.wantStats(o.stats); diff != "" {
						t.Errorf("stats (-want +got):\n%s", diff)
					}
				}
			})
		})
	}
}

func ms(v ...int) []time.Duration {
	d := make([]time.Duration, len(v))
	for i, x := range v {
		d[i] = time.Duration(x) * time.Millisecond
	}
	return d
}

func answered(gs []scanGot) []scanGot {
	return slices.DeleteFunc(slices.Clone(gs), func(g scanGot) bool { return g.Responder == "" })
}

func mustMarshal(q *nbns.NodeStatusRequest) []byte {
	b, err := q.MarshalBinary()
	if err != nil {
		panic(err)
	}
	return b
}

// hostRange returns the addresses 198.18.0.0 + first, … + first+n-1.
func hostRange(first, n int) []string {
	var s []string
	for i := first; i < first+n; i++ {
		s = append(s, netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}).String())
	}
	return s
}

// fakeRange returns hosts at hostRange(first, n), each changed by f.
func fakeRange(first, n int, f func(*fakeHost)) []fakeHost {
	var hs []fakeHost
	for _, a := range hostRange(first, n) {
		h := fakeHost{addr: a}
		if f != nil {
			f(&h)
		}
		hs = append(hs, h)
	}
	return hs
}

// TestScanWindow checks that no more than Window queries are ever in
// flight, and that answers pace the next ones: 300 hosts that each take
// 50 ms to answer, 10 at a time, take 30 rounds of 60 ms.
func TestScanWindow(t *testing.T) {
	for _, tt := range []struct {
		window, wantMost int
		wantTook         time.Duration
	}{
		{window: 10, wantMost: 10, wantTook: 30 * 60 * time.Millisecond},
		{window: 1, wantMost: 1, wantTook: 300 * 60 * time.Millisecond},
		{window: -1, wantMost: 300, wantTook: 60 * time.Millisecond},
	} {
		t.Run("window="+itoa(tt.window), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := nbttest.NewNetwork(scanD)
				f := startFakeHosts(t, n, fakeRange(2, 300, func(h *fakeHost) { h.delay = 50 * time.Millisecond })...)
				s := nbns.Scanner{Listener: n.Listener(), Rate: -1, Window: tt.window, Timeout: time.Hour}
				o := runScan(t.Context(), &s, addrs(hostRange(2, 300)...))
				if o.err != nil {
					t.Fatal(o.err)
				}
				if len(o.results) != 300 || o.stats.Sent != 300 {
					t.Errorf("%d results from %d queries, want 300 from 300", len(o.results), o.stats.Sent)
				}
				if f.most != tt.wantMost {
					t.Errorf("at most %d queries outstanding at the hosts, want %d", f.most, tt.wantMost)
				}
				if o.took != tt.wantTook {
					t.Errorf("scan took %v, want %v", o.took, tt.wantTook)
				}
			})
		})
	}
}

func itoa(i int) string {
	if i < 0 {
		return "-" + itoa(-i)
	}
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// TestScanRate checks the pace: at 100 queries a second, 2 go out at
// once (Rate/100 + 1) and then one every 10 ms.
func TestScanRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := nbttest.NewNetwork(scanD)
		f := startFakeHosts(t, n, fakeRange(2, 20, nil)...)
		s := nbns.Scanner{Listener: n.Listener(), Rate: 100}
		o := runScan(t.Context(), &s, addrs(hostRange(2, 20)...))
		if o.err != nil {
			t.Fatal(o.err)
		}
		var got []time.Duration
		for _, a := range hostRange(2, 20) {
			got = append(got, f.arrivalsAt(a)...)
		}
		want := ms(5, 5)
		for i := 1; i <= 18; i++ {
			want = append(want, time.Duration(5+10*i)*time.Millisecond)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("queries arrived at (-want +got):\n%s", diff)
		}
		if want := 190 * time.Millisecond; o.took != want {
			t.Errorf("scan took %v, want %v", o.took, want)
		}
	})
}

// TestScanLossy checks that where every host answers and one answer in
// four is lost, the adaptive retransmissions get every answer.
func TestScanLossy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := nbttest.NewNetwork(scanD)
		// Host i drops its first i%4 queries: a quarter need one
		// retransmission, a quarter two, a quarter three.
		hosts := fakeRange(2, 400, nil)
		for i := range hosts {
			hosts[i].drop = i % 4
		}
		startFakeHosts(t, n, hosts...)
		s := nbns.Scanner{Listener: n.Listener(), Rate: -1}
		o := runScan(t.Context(), &s, addrs(hostRange(2, 400)...))
		if o.err != nil {
			t.Fatal(o.err)
		}
		if len(o.results) != 400 {
			t.Fatalf("%d answers, want 400", len(o.results))
		}
		for i, r := range o.results {
			if r.Sent != i%4+1 {
				t.Errorf("%s: %d queries, want %d", r.Target, r.Sent, i%4+1)
			}
		}
		if want := 400 + 100*(1+2+3); o.stats.Sent != want {
			t.Errorf("%d queries sent, want %d", o.stats.Sent, want)
		}
	})
}

// TestScanSparse checks that on a network where most addresses are
// unused the adaptive retransmissions stop: the levels of retransmission
// get a few tries, fewer as fewer addresses answer, that find nothing,
// and then every other silent address is asked once.
func TestScanSparse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := nbttest.NewNetwork(scanD)
		startFakeHosts(t, n, fakeHost{addr: "198.18.0.2"}, fakeHost{addr: "198.18.0.200"})
		s := nbns.Scanner{Listener: n.Listener(), Rate: -1}
		o := runScan(t.Context(), &s, addrs(hostRange(1, 1000)...))
		if o.err != nil {
			t.Fatal(o.err)
		}
		if len(o.results) != 2 {
			t.Errorf("%d answers, want 2", len(o.results))
		}
		// 998 first queries to silent addresses: the first of them to
		// time out are tried again a few times, while few are known to be
		// silent; once 128 are (the window), 32 × 3/130 < 1.
		if o.stats.Retransmissions > 30 {
			t.Errorf("%d retransmissions, want at most 30", o.stats.Retransmissions)
		}
		if o.stats.Silent != 998 {
			t.Errorf("%d silent, want 998", o.stats.Silent)
		}
	})
}

// TestScanCancel checks that when ctx ends the scan stops sending at once
// and returns, with ctx's error.
func TestScanCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := nbttest.NewNetwork(scanD)
		f := startFakeHosts(t, n, fakeRange(2, 1000, func(h *fakeHost) { h.mute = true })...)
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(195*time.Millisecond, cancel)
		s := nbns.Scanner{Listener: n.Listener(), Rate: 100}
		o := runScan(ctx, &s, addrs(hostRange(2, 1000)...))
		if o.took != 195*time.Millisecond {
			t.Errorf("scan returned after %v, want 195ms", o.took)
		}
		if !errors.Is(o.err, context.Canceled) {
			t.Errorf("error %v, want one wrapping context.Canceled", o.err)
		}
		var oe *net.OpError
		if !errors.As(o.err, &oe) || oe.Op != "scan" {
			t.Errorf("error %#v, want a *net.OpError with Op scan", o.err)
		}
		sent := o.stats.Sent
		time.Sleep(2 * time.Second) // nothing is sent any more, whatever the virtual time
		if got := f.queries(); got != sent {
			t.Errorf("the hosts got %d queries, the scanner sent %d", got, sent)
		}
		// 2 at once, then one every 10 ms until 190 ms.
		if sent != 2+19 {
			t.Errorf("%d queries sent before the cancel, want 21", sent)
		}
	})
}

// TestScanBreak checks that breaking out of the loop ends the scan: no
// more queries, no goroutine left (synctest.Test fails if one is).
func TestScanBreak(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := nbttest.NewNetwork(scanD)
		f := startFakeHosts(t, n, fakeRange(2, 50, nil)...)
		s := nbns.Scanner{Listener: n.Listener(), Rate: 40} // one query every 25 ms
		calls := 0
		s.Progress = func(nbns.ScanStats) { calls++ }
		var first string
		for r, err := range s.Scan(t.Context(), addrs(hostRange(2, 50)...)) {
			if err != nil {
				t.Fatal(err)
			}
			first = r.Target.String()
			break
		}
		if first != "198.18.0.2:137" {
			t.Errorf("first result for %s, want 198.18.0.2:137", first)
		}
		time.Sleep(time.Second)
		if got := f.queries(); got != 1 {
			t.Errorf("%d queries sent, want the one sent before the first answer", got)
		}
		if calls != 1 {
			t.Errorf("%d Progress calls, want 1: the last, with Done", calls)
		}
	})
}

// TestScanPending checks that the memory of a scan is bounded by the
// targets pending, not by the targets: with no window and no rate, at
// most 16,384 silent targets are pending, and the sequence of targets is
// pulled no further ahead than that.
func TestScanPending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := nbttest.NewNetwork(scanD)
		pulled := 0
		targets := func(yield func(netip.Addr) bool) {
			for a := netip.MustParseAddr("198.19.0.0"); a.Is4() && pulled < 40000; a = a.Next() {
				pulled++
				if !yield(a) {
					return
				}
			}
		}
		most := 0
		s := nbns.Scanner{Listener: n.Listener(), Rate: -1, Window: -1, Retries: -1, Progress: func(st nbns.ScanStats) {
			most = max(most, st.Pending)
			if ahead := st.Targets - st.Silent; ahead != st.Pending || pulled != st.Targets {
				t.Errorf("at %v: %d targets pulled, %d taken, %d done, %d pending", st.Elapsed, pulled, st.Targets, st.Silent, st.Pending)
			}
		}}
		o := runScan(t.Context(), &s, targets)
		if o.err != nil {
			t.Fatal(o.err)
		}
		if most != 1<<14 {
			t.Errorf("at most %d targets pending, want %d", most, 1<<14)
		}
		// Three rounds of 16,384 at 0, 1 and 2 s: the last ends at 3 s.
		if want := 3 * time.Second; o.took != want {
			t.Errorf("scan took %v, want %v", o.took, want)
		}
	})
}

// TestScanErrors checks the errors that end a scan at once.
func TestScanErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := nbttest.NewNetwork(scanD)
		for _, tt := range []struct {
			name    string
			s       nbns.Scanner
			ctx     func() context.Context
			wantErr string
		}{
			{
				name:    "bad scope",
				s:       nbns.Scanner{Listener: n.Listener(), Scope: "a..b"},
				wantErr: "scan udp4: nbns: scope label",
			},
			{
				name:    "listener fails",
				s:       nbns.Scanner{Listener: failListener{}},
				wantErr: "scan udp4: no sockets here",
			},
			{
				name: "ctx done before",
				s:    nbns.Scanner{Listener: n.Listener()},
				ctx: func() context.Context {
					ctx, cancel := context.WithCancel(t.Context())
					cancel()
					return ctx
				},
				wantErr: "context canceled",
			},
		} {
			ctx := t.Context()
			if tt.ctx != nil {
				ctx = tt.ctx()
			}
			o := runScan(ctx, &tt.s, addrs("198.18.0.2"))
			if o.err == nil || !strings.Contains(o.err.Error(), tt.wantErr) {
				t.Errorf("%s: error %v, want one containing %q", tt.name, o.err, tt.wantErr)
			}
			if len(o.results) != 0 {
				t.Errorf("%s: %d results, want none", tt.name, len(o.results))
			}
		}
	})
}

type failListener struct{}

func (failListener) ListenPacket(context.Context, string, string) (net.PacketConn, error) {
	return nil, errors.New("no sockets here")
}

// TestScanConcurrent runs scans of one Scanner at once.
func TestScanConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := nbttest.NewNetwork(scanD)
		startFakeHosts(t, n, fakeRange(2, 20, nil)...)
		s := &nbns.Scanner{Listener: n.Listener(), Rate: -1}
		var wg sync.WaitGroup
		counts := make([]int, 4)
		for i := range counts {
			wg.Go(func() {
				for _, err := range s.Scan(t.Context(), addrs(hostRange(2, 20)...)) {
					if err != nil {
						t.Error(err)
						return
					}
					counts[i]++
				}
			})
		}
		wg.Wait()
		if diff := cmp.Diff([]int{20, 20, 20, 20}, counts); diff != "" {
			t.Errorf("answers per scan (-want +got):\n%s", diff)
		}
	})
}

// TestScanLoopback scans over a real UDP socket, the *net.UDPConn path,
// on loopback only: a responder on 127.0.0.1 and a target where nothing
// listens on its port.
func TestScanLoopback(t *testing.T) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Skip("no loopback:", err)
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var q nbns.NodeStatusRequest
			if q.UnmarshalBinary(buf[:n]) != nil {
				continue
			}
			r := nbns.NodeStatusResponse{Header: nbns.Header{ID: q.ID}, Name: q.Name, Names: nbttest.Table("LOOP", "LABGRP")}
			b, _ := r.MarshalBinary()
			pc.WriteTo(b, from)
		}
	}()
	port := uint16(pc.LocalAddr().(*net.UDPAddr).Port)
	s := nbns.Scanner{Port: port, Rate: -1, Retries: -1, Timeout: 200 * time.Millisecond, ReportSilent: true}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	o := runScan(ctx, &s, addrs("127.0.0.1", "127.0.0.2"))
	if o.err != nil {
		t.Fatal(o.err)
	}
	for i := range o.results {
		o.results[i].RTT = 0 // real time
	}
	want := []scanGot{
		{Target: "127.0.0.1:" + itoa(int(port)), Responder: "127.0.0.1:" + itoa(int(port)), Sent: 1, Computer: "LOOP<00>"},
		{Target: "127.0.0.2:" + itoa(int(port)), Sent: 1},
	}
	if diff := cmp.Diff(want, o.results); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
}

// TestScanResultNames checks the names a result picks from the table.
func TestScanResultNames(t *testing.T) {
	u := func(name string, s nbns.Suffix) nbns.NodeName {
		return nbns.NodeName{Name: nbns.MustName(name, s), Flags: nbns.FlagActive}
	}
	g := func(name string, s nbns.Suffix) nbns.NodeName {
		return nbns.NodeName{Name: nbns.MustName(name, s), Flags: nbns.FlagActive | nbns.FlagGroup}
	}
	type names struct{ Computer, Server, User, Workgroup string }
	tests := []struct {
		name  string
		table []nbns.NodeName
		want  names
	}{
		{"samba", nbttest.Table("LABSRV", "LABGRP"), names{"LABSRV<00>", "LABSRV<20>", "LABSRV<03>", "LABGRP<00>"}},
		{
			"windows, user logged on",
			[]nbns.NodeName{u("WS1", 0), g("CORP", 0), u("WS1", 0x20), u("WS1", 3), u("JDOE", 3), g("CORP", 0x1e)},
			names{"WS1<00>", "WS1<20>", "JDOE<03>", "CORP<00>"},
		},
		{
			"user before the computer's messenger name",
			[]nbns.NodeName{u("WS1", 0), u("JDOE", 3), u("WS1", 3)},
			names{Computer: "WS1<00>", User: "JDOE<03>"},
		},
		{
			"group <20> and <03> are no server and no user",
			[]nbns.NodeName{g("WS1", 0x20), g("WS1", 3), u("WS1", 0x1d)},
			names{},
		},
		{"empty", nil, names{}},
	}
	str := func(n nbns.Name, ok bool) string {
		if !ok {
			return ""
		}
		return n.String()
	}
	for _, tt := range tests {
		r := &nbns.ScanResult{Response: nbns.NodeStatusResponse{Names: tt.table}}
		got := names{str(r.Computer()), str(r.Server()), str(r.User()), str(r.Workgroup())}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
	r := &nbns.ScanResult{Response: nbns.NodeStatusResponse{Names: nbttest.Table("A", "B")}}
	c := r.Clone()
	r.Response.Names[0].Name = nbns.MustName("CHANGED", 0)
	if n, _ := c.Computer(); n != nbns.MustName("A", 0) {
		t.Errorf("the clone's table changed with the original's: %v", n)
	}
}
