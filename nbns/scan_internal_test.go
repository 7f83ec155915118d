package nbns

// Tests of the scanner's bookkeeping, scan_state.go, driven event by event
// with the time passed in: the RTO estimator, the retransmission timers and
// policy, the transaction IDs, the allocations, and a fuzz target for the
// handling of whatever datagram arrives.

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const msec = time.Millisecond

// TestRTOEstimator checks RFC 6298's estimator, with G = 10 ms.
func TestRTOEstimator(t *testing.T) {
	type state struct{ SRTT, RTTVAR, RTO time.Duration }
	tests := []struct {
		name    string
		samples []time.Duration
		ceiling time.Duration
		want    state
	}{
		{"none", nil, time.Second, state{0, 0, 250 * msec}},
		{"none, short timeout", nil, 100 * msec, state{0, 0, 100 * msec}},
		{"first", []time.Duration{10 * msec}, time.Second, state{10 * msec, 5 * msec, 30 * msec}},
		{"second equal", []time.Duration{10 * msec, 10 * msec}, time.Second, state{10 * msec, 3750 * time.Microsecond, 25 * msec}},
		// |10-30| = 20: RTTVAR (3×5+20)/4 = 8.75, SRTT (7×10+30)/8 = 12.5.
		{"second larger", []time.Duration{10 * msec, 30 * msec}, time.Second, state{12500 * time.Microsecond, 8750 * time.Microsecond, 47500 * time.Microsecond}},
		// Loopback: SRTT well under G, so the RTO is SRTT + 10 ms.
		{"fast", []time.Duration{200 * time.Microsecond, 200 * time.Microsecond, 200 * time.Microsecond}, time.Second,
			state{200 * time.Microsecond, 56250, 10200 * time.Microsecond}},
		{"capped by the timeout", []time.Duration{400 * msec}, 500 * msec, state{400 * msec, 200 * msec, 500 * msec}},
	}
	for _, tt := range tests {
		var e rttEstimator
		for _, s := range tt.samples {
			e.sample(s)
		}
		got := state{e.srtt, e.rttvar, e.rto(tt.ceiling)}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

// TestScanGap checks the retransmission timer of each transmission: RTO ×
// 2^(k-1), at most 8 RTOs and at most the timeout.
func TestScanGap(t *testing.T) {
	tests := []struct {
		name    string
		samples []time.Duration
		timeout time.Duration
		want    []time.Duration // for k = 1, 2, ...
	}{
		{"initial RTO", nil, time.Second, []time.Duration{250 * msec, 500 * msec, time.Second, time.Second}},
		{"25 ms", []time.Duration{10 * msec, 10 * msec}, time.Second,
			[]time.Duration{25 * msec, 50 * msec, 100 * msec, 200 * msec, 200 * msec, 200 * msec}},
		{"short timeout", []time.Duration{10 * msec, 10 * msec}, 60 * msec, []time.Duration{25 * msec, 50 * msec, 60 * msec, 60 * msec}},
	}
	for _, tt := range tests {
		s := newScanState(scanConfig{timeout: tt.timeout, retries: -1}, nil)
		for _, r := range tt.samples {
			s.rtt.sample(r)
		}
		var got []time.Duration
		for k := 1; k <= len(tt.want); k++ {
			got = append(got, s.gap(k))
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

// TestScanRetransmitPolicy checks which targets get another query.
func TestScanRetransmitPolicy(t *testing.T) {
	tests := []struct {
		name             string
		retries          int // as in scanConfig: -1 adaptive
		first, firstLost int // first queries answered, and not
		k                int // transmissions so far
		granted          int // of the (k+1)-th transmissions
		answered         int
		want             bool
	}{
		{"fixed, more to go", 2, 0, 0, 2, 0, 0, true},
		{"fixed, done", 2, 0, 0, 3, 0, 0, false},
		{"none", 0, 0, 0, 1, 0, 0, false},
		// Every address answers: 32 × 99/100 free tries.
		{"adaptive, free tries", -1, 98, 0, 1, 31, 0, true},
		{"adaptive, free tries used", -1, 98, 0, 1, 32, 0, false},
		{"adaptive, one answer opens 64 more", -1, 98, 0, 1, 95, 1, true},
		{"adaptive, one answer in 64 is not enough", -1, 98, 0, 1, 96, 1, false},
		{"adaptive, lossy network", -1, 900, 100, 5, 1000, 900, true},
		// A tenth of the addresses answer: 3.2 free tries.
		{"adaptive, sparse", -1, 99, 899, 1, 3, 0, true},
		{"adaptive, sparse, tried", -1, 99, 899, 1, 4, 0, false},
		// None answers yet: 32 × 1/2, 1/3, ...
		{"adaptive, nothing known", -1, 0, 0, 1, 15, 0, true},
		{"adaptive, one silence", -1, 0, 1, 1, 10, 0, true},
		{"adaptive, dead network", -1, 0, 62, 1, 1, 0, false},
		{"adaptive, last level", -1, 98, 0, 10, 0, 0, false},
	}
	for _, tt := range tests {
		s := newScanState(scanConfig{timeout: time.Second, retries: tt.retries}, nil)
		s.answered[0], s.expired = tt.first, tt.firstLost
		if tt.k < len(s.granted) {
			s.granted[tt.k], s.answered[tt.k] = tt.granted, tt.answered
		}
		if got := s.retransmit(tt.k); got != tt.want {
			t.Errorf("%s: retransmit(%d) = %v, want %v", tt.name, tt.k, got, tt.want)
		}
	}
}

// stateHarness drives a scanState with targets 198.18.x.y and records
// what it sends.
type stateHarness struct {
	s      *scanState
	pulled int // targets pulled so far
	n      int // targets in all; 0 for no end (198.18.0.0/16 round and round)
	sent   []sentQuery
	answer []byte // a node status answer for the wildcard, ID to be set
	r      ScanResult
	got    []*ScanResult
}

type sentQuery struct {
	addr [4]byte
	id   uint16
}

func newHarness(tb testing.TB, cfg scanConfig, targets int) *stateHarness {
	r := NodeStatusResponse{
		Name:  Wildcard(),
		Names: []NodeName{{labsrv00, FlagActive}, {labsrv20, FlagActive}, {labgrp00, FlagGroup | FlagActive}},
	}
	answer, err := r.MarshalBinary()
	if err != nil {
		tb.Fatal(err)
	}
	if cfg.name.IsZero() {
		cfg.name = Wildcard()
	}
	if cfg.port == 0 {
		cfg.port = Port
	}
	if cfg.timeout == 0 {
		cfg.timeout = time.Second
	}
	return &stateHarness{
		s:      newScanState(cfg, rand.NewChaCha8([32]byte{1})),
		n:      targets,
		answer: answer,
		sent:   make([]sentQuery, 0, 256),
	}
}

// pull yields 198.18.0.1, 198.18.0.2, and so on.
func (h *stateHarness) pull() (netip.Addr, bool) {
	if h.n > 0 && h.pulled == h.n {
		return netip.Addr{}, false
	}
	h.pulled++
	i := uint16(h.pulled)
	return netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}), true
}

func (h *stateHarness) send(addr [4]byte, id uint16) error {
	h.sent = append(h.sent, sentQuery{addr, id})
	return nil
}

func (h *stateHarness) fill(now time.Duration) {
	if err := h.s.fill(now, h.pull, h.send); err != nil {
		panic(err)
	}
}

func (h *stateHarness) emit(r *ScanResult) bool {
	h.got = append(h.got, r.Clone())
	return true
}

// reply delivers, at now, the answer to q from from.
func (h *stateHarness) reply(now time.Duration, q sentQuery, from [4]byte) {
	binary.BigEndian.PutUint16(h.answer, q.id)
	h.s.reply(now, netip.AddrPortFrom(netip.AddrFrom4(from), Port), h.answer, &h.r, h.emit)
}

// TestScanIDs checks the transaction IDs: distinct among the pending
// targets, and not reused while an ID is in quarantine; and that a late
// duplicate from a target done is not taken for an alias of the ID's new
// target.
func TestScanIDs(t *testing.T) {
	h := newHarness(t, scanConfig{window: 64}, 100000)
	now := time.Duration(0)
	held := map[uint16]bool{}
	freed := map[uint16]time.Duration{}
	for round := 0; round < 200; round++ {
		h.fill(now)
		for _, q := range h.sent {
			if held[q.id] {
				t.Fatalf("ID %#04x given to %v while another target holds it", q.id, q.addr)
			}
			if at, ok := freed[q.id]; ok && now-at < scanMinQuarantine {
				t.Fatalf("ID %#04x reused %v after it was freed", q.id, now-at)
			}
			held[q.id] = true
		}
		sent := h.sent
		h.sent = nil
		now += msec
		for _, q := range sent {
			h.reply(now, q, q.addr)
			delete(held, q.id)
			freed[q.id] = now
		}
		// A late copy of each answer, from the target that is done.
		for _, q := range sent {
			h.reply(now, q, q.addr)
		}
	}
	st := h.s.stats
	if st.Answered != 200*64 || st.Aliases != 0 || st.Duplicates != 200*64 || st.Ignored != 0 {
		t.Errorf("stats %+v, want %d answered and as many duplicates, no alias", st, 200*64)
	}
}

// TestScanAlias checks that an answer from an address not asked, with a
// pending ID, is the ID's target's, as an alias, and ends the target.
func TestScanAlias(t *testing.T) {
	h := newHarness(t, scanConfig{}, 2)
	h.fill(0)
	if len(h.sent) != 2 {
		t.Fatalf("%d queries sent, want 2", len(h.sent))
	}
	other := [4]byte{198, 18, 7, 7}
	h.reply(msec, h.sent[1], other)
	h.reply(2*msec, h.sent[1], h.sent[1].addr) // the target itself, too late
	type result struct {
		Target, Responder string
		RTT               time.Duration
		Sent              int
	}
	want := []result{{
		Target:    netip.AddrPortFrom(netip.AddrFrom4(h.sent[1].addr), Port).String(),
		Responder: netip.AddrPortFrom(netip.AddrFrom4(other), Port).String(),
		RTT:       msec,
		Sent:      1,
	}}
	var got []result
	for _, r := range h.got {
		got = append(got, result{r.Target.String(), r.Responder.String(), r.RTT, r.Sent})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	if st := h.s.stats; st.Aliases != 1 || st.Answered != 0 || st.Duplicates != 1 || h.s.pending != 1 {
		t.Errorf("stats %+v, pending %d; want one alias, one duplicate, one target pending", st, h.s.pending)
	}
}

// TestScanParked checks that targets refused a retransmission by a closed
// level wait for it to open, and get it when an answer at that level
// comes.
func TestScanParked(t *testing.T) {
	h := newHarness(t, scanConfig{timeout: time.Hour, retries: -1}, 200)
	h.fill(0) // 200 queries: no window, no rate
	// Half the first queries are answered.
	for _, q := range h.sent[:100] {
		h.reply(msec, q, q.addr)
	}
	first := h.sent[100:]
	h.sent = nil
	// At the RTO the other timers expire, one by one: the e-th is granted
	// a retransmission while fewer than 32 × 101/(102+e) have been, 26.
	h.s.expire(250*msec, &h.r, h.emit)
	if h.s.resend.n != 26 || h.s.parked[1].n != 100-26 {
		t.Fatalf("%d due for a retransmission and %d parked, want 26 and 74", h.s.resend.n, h.s.parked[1].n)
	}
	h.fill(250 * msec)
	if len(h.sent) != 26 {
		t.Fatalf("%d retransmissions, want 26", len(h.sent))
	}
	// One of them is answered: the level allows 32 × 101/202 + 64 = 80,
	// 54 more.
	h.reply(260*msec, h.sent[0], h.sent[0].addr)
	if h.s.resend.n != 54 || h.s.parked[1].n != 100-26-54 {
		t.Errorf("%d due and %d parked after an answer, want 54 and %d", h.s.resend.n, h.s.parked[1].n, 100-26-54)
	}
	// The targets done leave every list.
	for _, q := range first {
		h.reply(270*msec, q, q.addr)
	}
	if h.s.pending != 0 || h.s.resend.n != 0 || h.s.parked[1].n != 0 || h.s.deadlines.n != 0 || h.s.inflight != 0 {
		t.Errorf("after every answer: %d pending, %d due, %d parked, %d deadlines, %d in flight; want none",
			h.s.pending, h.s.resend.n, h.s.parked[1].n, h.s.deadlines.n, h.s.inflight)
	}
	for k := range h.s.levels {
		if h.s.levels[k].n != 0 {
			t.Errorf("level %d holds %d", k, h.s.levels[k].n)
		}
	}
}

// TestScanStateAllocs checks that a scan's bookkeeping allocates nothing
// per target once it has grown: a query out and its answer in.
func TestScanStateAllocs(t *testing.T) {
	h := newHarness(t, scanConfig{window: 128}, 0)
	now := time.Duration(0)
	step := func() {
		h.sent = h.sent[:0]
		h.fill(now)
		now += 100 * time.Microsecond
		for _, q := range h.sent {
			binary.BigEndian.PutUint16(h.answer, q.id)
			h.s.reply(now, netip.AddrPortFrom(netip.AddrFrom4(q.addr), Port), h.answer, &h.r, h.emitNothing)
		}
		h.s.expire(now, &h.r, h.emitNothing)
	}
	for range 1000 {
		step()
	}
	if n := testing.AllocsPerRun(1000, step); n != 0 {
		t.Errorf("%v allocations per round of 128 targets, want 0", n)
	}
	if st := h.s.stats; st.Answered != 2001*128 || st.Sent != st.Answered {
		t.Errorf("%d answered of %d sent, want %d of as many", st.Answered, st.Sent, 2001*128)
	}
}

func (h *stateHarness) emitNothing(*ScanResult) bool { return true }

// BenchmarkScanState measures the bookkeeping per answered target.
func BenchmarkScanState(b *testing.B) {
	h := newHarness(b, scanConfig{window: 128}, 0)
	now := time.Duration(0)
	b.ReportAllocs()
	hosts := 0
	for b.Loop() {
		h.sent = h.sent[:0]
		h.fill(now)
		now += 100 * time.Microsecond
		for _, q := range h.sent {
			binary.BigEndian.PutUint16(h.answer, q.id)
			h.s.reply(now, netip.AddrPortFrom(netip.AddrFrom4(q.addr), Port), h.answer, &h.r, h.emitNothing)
		}
		hosts += len(h.sent)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(hosts), "ns/host")
}

// FuzzScanReply feeds any datagram, from any source, to a scan with three
// targets pending. With patch set, the datagram's first two bytes are
// replaced by the ID of the target at index from%3, so that the fuzzer
// reaches the matching. Whatever comes, the counts add up, a result names
// one of the targets with the ID the datagram carried and a response that
// survives a round trip, and every target left is given up at its
// deadline.
func FuzzScanReply(f *testing.F) {
	samba := ReadFlows(f, "testdata/samba-nodestatus.hex")[1]
	windows := ReadFlows(f, "testdata/windows-nodestatus.hex")[0]
	f.Add(samba, byte(0), true)
	f.Add(samba, byte(2), false)
	f.Add(windows, byte(1), true)
	f.Add(samba[:len(samba)-10], byte(1), true)
	f.Add([]byte("garbage"), byte(0), true)
	f.Fuzz(func(t *testing.T, msg []byte, from byte, patch bool) {
		h := newHarness(t, scanConfig{silent: true}, 3)
		h.fill(0)
		if len(h.sent) != 3 {
			t.Fatalf("%d queries, want 3", len(h.sent))
		}
		msg = bytes.Clone(msg)
		if patch && len(msg) >= 2 {
			binary.BigEndian.PutUint16(msg, h.sent[int(from)%3].id)
		}
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, 0, from}), Port)
		h.s.reply(msec, src, msg, &h.r, h.emit)
		st := h.s.stats
		if st.Received != 1 || st.Answered+st.Aliases+st.Ignored+st.Duplicates != 1 {
			t.Fatalf("one datagram counted as %+v", st)
		}
		if len(h.got) != st.Answered+st.Aliases || h.s.pending != 3-len(h.got) {
			t.Fatalf("%d results, %d pending, stats %+v", len(h.got), h.s.pending, st)
		}
		if len(h.got) == 1 {
			r := h.got[0]
			i := -1
			for j, q := range h.sent {
				if netip.AddrPortFrom(netip.AddrFrom4(q.addr), Port) == r.Target {
					i = j
				}
			}
			switch {
			case i < 0:
				t.Fatalf("result for %v, not a target", r.Target)
			case h.sent[i].id != binary.BigEndian.Uint16(msg):
				t.Fatalf("result for %v, whose ID is %#04x, from a datagram with ID %#04x", r.Target, h.sent[i].id, binary.BigEndian.Uint16(msg))
			case r.Responder != src || r.Alias() != (src != r.Target):
				t.Fatalf("responder %v (alias %v), datagram from %v", r.Responder, r.Alias(), src)
			}
			b1, err := r.Response.MarshalBinary()
			if err != nil {
				t.Fatalf("the answer does not encode: %v", err)
			}
			var again NodeStatusResponse
			if err := again.UnmarshalBinary(b1); err != nil {
				t.Fatalf("the answer does not decode again: %v", err)
			}
			if b2, _ := again.MarshalBinary(); !bytes.Equal(b1, b2) {
				t.Fatalf("the answer changed in a round trip")
			}
		}
		pending := h.s.pending
		h.s.expire(2*time.Second, &h.r, h.emit)
		if h.s.pending != 0 || h.s.stats.Silent != pending || len(h.got) != 3 {
			t.Fatalf("after the deadline: %d pending, %d silent, %d results; want 0, %d, 3", h.s.pending, h.s.stats.Silent, len(h.got), pending)
		}
	})
}
