package nbns

// This file holds the scanner's bookkeeping, with no I/O and no clock: every
// method is given the time, as a duration since the scan started, so that
// the tests can drive it event by event. scan.go is the shell that owns the
// socket, the goroutines and the timer.

import (
	"math/rand/v2"
	"net/netip"
	"time"
)

const (
	// maxScanPending bounds the targets a scan holds at once: queried and
	// not yet answered or given up, in flight or waiting for a
	// retransmission or for the end of their last wait. It bounds the
	// memory of a scan, whatever the number of targets, and keeps the
	// random transaction IDs, 16 bits, sparse.
	maxScanPending = 1 << 14

	// scanInitialRTO is the retransmission timeout before any answer has
	// been timed: RFC 1002 §6's BCAST_REQ_RETRY_TIMEOUT. A host on a LAN
	// answers in well under a millisecond; the estimate takes over with
	// the first answer.
	scanInitialRTO = 250 * time.Millisecond

	// scanMinRTO is RFC 6298's G: the retransmission timeout is at least
	// SRTT + scanMinRTO. Loopback and a LAN answer in well under it; a busy
	// host's answer may take a few milliseconds more than the others',
	// and answers that came together wait their turn in the socket, which
	// the margin absorbs.
	scanMinRTO = 10 * time.Millisecond

	// scanMaxBackoff caps the exponential backoff of the retransmission
	// timer: the k-th transmission waits RTO × 2^(k-1), at most 8 RTOs.
	// The window already bounds what a scan sends to hosts that do not
	// answer; the cap keeps several retransmissions within the timeout.
	scanMaxBackoff = 8

	// scanMinQuarantine is the least time a transaction ID stays unused
	// after its target is done, so that a late duplicate answer is not
	// taken for the answer to the ID's next target.
	scanMinQuarantine = 50 * time.Millisecond

	// adaptiveScanAttempts is the most transmissions to one target when
	// Scanner.Retries is 0: the first and up to 9 retransmissions.
	adaptiveScanAttempts = 10

	// maxScanRetries caps Scanner.Retries.
	maxScanRetries = 31

	// An adaptive level of retransmission (the k-th transmissions of a
	// scan) grants another while fewer than levelFreeTries × F +
	// levelTriesPerAnswer × A have been granted, A of them answered in
	// flight and F being the fraction of first queries answered: it stays
	// open while about one in 64 is answered, after up to 32 tries where
	// every address answers and next to none where few do.
	levelFreeTries      = 32
	levelTriesPerAnswer = 64

	// scanIDTries is how many random transaction IDs are drawn before the
	// free ones are searched in order.
	scanIDTries = 8
)

// scanConfig is a Scanner's configuration with its defaults applied.
type scanConfig struct {
	name     Name
	scope    string
	port     uint16
	window   int           // queries in flight at most; 0: no bound
	interval time.Duration // between queries at the rate; 0: no fixed rate
	burst    int           // queries sent back to back at most, with a rate
	timeout  time.Duration // a target's life, from its first transmission; caps the RTO
	retries  int           // retransmissions to a silent target; -1: adaptive
	silent   bool          // report silent targets
}

// slotList is a doubly linked list of slots, through one of their links:
// a list of timers in the order they started, from which a slot is
// removed the moment it is done, so that the lists hold the pending
// targets and nothing more.
type slotList struct {
	head, tail int32 // -1 when empty
	n          int
}

// The links of a slot: its timer (a level of transmission, or the queue of
// retransmissions) and its deadline.
const (
	timerLink    = 0
	deadlineLink = 1
)

type slotLinks struct{ prev, next int32 }

func newSlotList() slotList { return slotList{head: -1, tail: -1} }

func (s *scanState) pushBack(l *slotList, i int32, k int) {
	s.slots[i].link[k] = slotLinks{prev: l.tail, next: -1}
	if l.tail >= 0 {
		s.slots[l.tail].link[k].next = i
	} else {
		l.head = i
	}
	l.tail = i
	l.n++
}

func (s *scanState) unlink(l *slotList, i int32, k int) {
	lk := s.slots[i].link[k]
	if lk.prev >= 0 {
		s.slots[lk.prev].link[k].next = lk.next
	} else {
		l.head = lk.next
	}
	if lk.next >= 0 {
		s.slots[lk.next].link[k].prev = lk.prev
	} else {
		l.tail = lk.prev
	}
	l.n--
}

// rttEstimator is the smoothed round-trip time and its mean deviation of
// Jacobson and Karels (RFC 6298 §2), from the answers to targets queried
// once (Karn's rule: an answer after a retransmission may answer either
// transmission, and is not a sample).
type rttEstimator struct {
	srtt, rttvar time.Duration
	sampled      bool
}

func (e *rttEstimator) sample(r time.Duration) {
	if !e.sampled {
		e.srtt, e.rttvar, e.sampled = r, r/2, true
		return
	}
	d := e.srtt - r
	if d < 0 {
		d = -d
	}
	e.rttvar = (3*e.rttvar + d) / 4
	e.srtt = (7*e.srtt + r) / 8
}

// rto returns SRTT + max(G, 4·RTTVAR), G being scanMinRTO, at most
// ceiling, and the initial RTO (at most ceiling) before the first sample.
func (e *rttEstimator) rto(ceiling time.Duration) time.Duration {
	if !e.sampled {
		return min(scanInitialRTO, ceiling)
	}
	return min(ceiling, e.srtt+max(scanMinRTO, 4*e.rttvar))
}

// scanSlot is a target being queried, or a free slot.
type scanSlot struct {
	addr  [4]byte
	id    uint16
	sent  uint8 // transmissions so far
	timer int8  // the list of its timer: a level, resendList, noList, or parkedAt(k)
	first time.Duration
	last  time.Duration
	link  [2]slotLinks // timerLink, deadlineLink; the free list uses link[0].next
}

// Values of scanSlot.timer besides the levels.
const (
	noList     = -1 // no timer runs: the target waits for its deadline
	resendList = -2 // due for a retransmission
)

// parkedAt is the value of scanSlot.timer for a target that waits for
// level k to grant it a retransmission; parkedLevel undoes it.
func parkedAt(k int) int8 { return int8(-3 - k) }

func parkedLevel(t int8) int { return int(-3 - t) }

// scanID is the state of one transaction ID.
type scanID struct {
	slot  int32 // 1 + the index of the slot that holds it; 0 when free
	used  bool  // held before: prev and freed are set
	prev  [4]byte
	freed time.Duration
}

// scanState is the scanner's bookkeeping.
//
// A target holds a slot and a transaction ID from its first transmission
// until it is answered or, the timeout after that transmission, given up.
// Each transmission is in flight, and counts against the window, until it
// is answered or its retransmission timer expires: RTO × 2^(k-1) after the
// k-th transmission, at most 8 RTOs. Then the target waits for a
// retransmission, in order of expiry, if the policy grants one and its
// answer can come back within the timeout. Each level of transmission has
// its own list, in the order the transmissions were sent, and they expire
// in that order with whatever the RTO is when they do; the deadlines are
// in the order of the first transmissions. A target leaves every list when
// it is done, so that a scan holds nothing for the targets it is done
// with.
type scanState struct {
	cfg scanConfig
	rng *rand.ChaCha8

	ids      []scanID // by transaction ID, 1<<16
	slots    []scanSlot
	free     int32 // the first free slot, -1 when none
	pending  int
	inflight int

	levels    []slotList // levels[k]: the (k+1)-th transmissions in flight, by time sent
	resend    slotList   // targets due for a retransmission, by time due
	parked    []slotList // parked[k]: targets waiting for level k to grant a retransmission
	deadlines slotList   // pending targets, by their first transmission
	answered  []int      // answered[k]: (k+1)-th transmissions answered in flight
	granted   []int      // granted[k]: (k+1)-th transmissions granted
	expired   int        // first transmissions whose timer expired

	tat time.Duration // the rate's theoretical arrival time (GCRA): when the next query is due
	rtt rttEstimator

	exhausted bool // every target has been pulled
	idBlocked bool // a new target waits for a transaction ID
	stopped   bool // the caller stopped ranging
	stats     ScanStats
}

func newScanState(cfg scanConfig, rng *rand.ChaCha8) *scanState {
	levels := adaptiveScanAttempts
	if cfg.retries >= 0 {
		levels = cfg.retries + 1
	}
	s := &scanState{
		cfg:       cfg,
		rng:       rng,
		ids:       make([]scanID, 1<<16),
		free:      -1,
		levels:    make([]slotList, levels),
		parked:    make([]slotList, levels),
		resend:    newSlotList(),
		deadlines: newSlotList(),
		answered:  make([]int, levels),
		granted:   make([]int, levels),
	}
	for k := range s.levels {
		s.levels[k], s.parked[k] = newSlotList(), newSlotList()
	}
	return s
}

func (s *scanState) rto() time.Duration { return s.rtt.rto(s.cfg.timeout) }

// gap returns the retransmission timeout of a target's k-th transmission:
// RTO × 2^(k-1), at most scanMaxBackoff RTOs and at most the timeout.
func (s *scanState) gap(k int) time.Duration {
	rto := s.rto()
	d := rto
	for i := 1; i < k && d < scanMaxBackoff*rto; i++ {
		d *= 2
	}
	return min(d, scanMaxBackoff*rto, s.cfg.timeout)
}

// quarantine returns how long a transaction ID stays unused after its
// target is done: 4 RTOs, at least scanMinQuarantine, at most the timeout.
func (s *scanState) quarantine() time.Duration {
	return min(s.cfg.timeout, max(4*s.rto(), scanMinQuarantine))
}

// retransmit reports whether the policy grants another transmission to a
// target that did not answer its k-th.
func (s *scanState) retransmit(k int) bool {
	if s.cfg.retries >= 0 {
		return k <= s.cfg.retries
	}
	if k >= adaptiveScanAttempts {
		return false
	}
	// The fraction of first queries answered, counting one answer and one
	// silence for free.
	alive := float64(s.answered[0]+1) / float64(s.answered[0]+s.expired+2)
	return float64(s.granted[k]) < levelFreeTries*alive+levelTriesPerAnswer*float64(s.answered[k])
}

// rateFrom returns when the rate next allows a transmission: the generic
// cell rate algorithm's theoretical arrival time, less the burst's
// tolerance.
func (s *scanState) rateFrom() time.Duration {
	return s.tat - time.Duration(s.cfg.burst-1)*s.cfg.interval
}

// canSend reports whether the window and the rate allow a transmission now.
func (s *scanState) canSend(now time.Duration) bool {
	if s.cfg.window > 0 && s.inflight >= s.cfg.window {
		return false
	}
	return s.cfg.interval == 0 || now >= s.rateFrom()
}

// fill sends what the window and the rate allow: the retransmissions that
// are due first, then queries to new targets, pulled from next as long as
// fewer than maxScanPending are pending. send transmits one query; an
// error from it ends the scan.
func (s *scanState) fill(now time.Duration, next func() (netip.Addr, bool), send func(addr [4]byte, id uint16) error) error {
	for !s.stopped && s.canSend(now) {
		i, ok := s.nextResend()
		if !ok {
			if i, ok = s.newTarget(now, next); !ok {
				return nil
			}
		}
		if err := s.transmit(now, i, send); err != nil {
			return err
		}
	}
	return nil
}

// grant queues the target in slot i for its (k+1)-th transmission.
func (s *scanState) grant(i int32, k int) {
	s.granted[k]++
	s.slots[i].timer = resendList
	s.pushBack(&s.resend, i, timerLink)
}

// unpark grants the targets parked at level k the retransmissions the
// level now allows, in the order they were parked, if their answers can
// still come back in time.
func (s *scanState) unpark(now time.Duration, k int) {
	l := &s.parked[k]
	for l.head >= 0 && s.retransmit(k) {
		i := l.head
		s.unlink(l, i, timerLink)
		s.slots[i].timer = noList
		if now+s.rto() <= s.slots[i].first+s.cfg.timeout {
			s.grant(i, k)
		}
	}
}

// nextResend takes the first target due for a retransmission.
func (s *scanState) nextResend() (int32, bool) {
	i := s.resend.head
	if i < 0 {
		return 0, false
	}
	s.unlink(&s.resend, i, timerLink)
	s.slots[i].timer = noList
	return i, true
}

// newTarget pulls the next IPv4 target and gives it a slot and an ID.
func (s *scanState) newTarget(now time.Duration, next func() (netip.Addr, bool)) (int32, bool) {
	s.idBlocked = false
	if s.exhausted || s.pending >= maxScanPending {
		return 0, false
	}
	id, ok := s.pickID(now)
	if !ok {
		s.idBlocked = true
		return 0, false
	}
	var addr netip.Addr
	for {
		if addr, ok = next(); !ok {
			s.exhausted = true
			return 0, false
		}
		if addr = addr.Unmap(); addr.Is4() {
			break
		}
		s.stats.Skipped++
	}
	s.stats.Targets++
	i := s.free
	if i >= 0 {
		s.free = s.slots[i].link[0].next
	} else {
		s.slots = append(s.slots, scanSlot{})
		i = int32(len(s.slots) - 1)
	}
	s.slots[i] = scanSlot{addr: addr.As4(), id: id, timer: noList}
	s.ids[id].slot = i + 1
	s.pending++
	return i, true
}

// pickID returns a random transaction ID that no pending target holds and
// that no target has held for a quarantine.
func (s *scanState) pickID(now time.Duration) (uint16, bool) {
	q := s.quarantine()
	usable := func(id uint16) bool {
		e := &s.ids[id]
		return e.slot == 0 && (!e.used || now-e.freed >= q)
	}
	r := s.rng.Uint64()
	for i := range scanIDTries {
		if id := uint16(r >> (i * 8)); usable(id) {
			return id, true
		}
	}
	start := uint16(r >> 48)
	for i := range 1 << 16 {
		if id := start + uint16(i); usable(id) {
			return id, true
		}
	}
	return 0, false
}

// transmit sends the next query to the target in slot i.
func (s *scanState) transmit(now time.Duration, i int32, send func([4]byte, uint16) error) error {
	sl := &s.slots[i]
	if sl.sent == 0 {
		sl.first = now
		s.pushBack(&s.deadlines, i, deadlineLink)
	}
	sl.sent++
	sl.last = now
	sl.timer = int8(sl.sent - 1)
	s.inflight++
	s.pushBack(&s.levels[sl.sent-1], i, timerLink)
	if s.cfg.interval != 0 {
		s.tat = max(s.tat, now) + s.cfg.interval
	}
	s.stats.Sent++
	if sl.sent > 1 {
		s.stats.Retransmissions++
	}
	return send(sl.addr, sl.id)
}

// expire runs the timers that are due: a transmission whose timer expires
// leaves the window, and its target waits for a retransmission if it gets
// one; a target whose timeout has passed is given up, and reported through
// emit if silent targets are. r is the result to fill.
func (s *scanState) expire(now time.Duration, r *ScanResult, emit func(*ScanResult) bool) {
	for k := range s.levels {
		gap := s.gap(k + 1)
		l := &s.levels[k]
		for l.head >= 0 && s.slots[l.head].last+gap <= now {
			i := l.head
			s.unlink(l, i, timerLink)
			s.inflight--
			if k == 0 {
				s.expired++
			}
			sl := &s.slots[i]
			sl.timer = noList
			switch {
			case now+s.rto() > sl.first+s.cfg.timeout:
				// An answer to another query could not come back in time.
			case s.retransmit(k + 1):
				s.grant(i, k+1)
			case s.cfg.retries < 0 && k+1 < adaptiveScanAttempts:
				// The level is closed for now: wait for it to open.
				sl.timer = parkedAt(k + 1)
				s.pushBack(&s.parked[k+1], i, timerLink)
			}
		}
	}
	for !s.stopped && s.deadlines.head >= 0 {
		i := s.deadlines.head
		sl := &s.slots[i]
		if sl.first+s.cfg.timeout > now {
			break
		}
		s.stats.Silent++
		target, sent := netip.AddrPortFrom(netip.AddrFrom4(sl.addr), s.cfg.port), int(sl.sent)
		s.release(i, now)
		if s.cfg.silent {
			*r = ScanResult{Target: target, Sent: sent, Response: NodeStatusResponse{Names: r.Response.Names[:0]}}
			if !emit(r) {
				s.stopped = true
			}
		}
	}
}

// reply handles a datagram from from that arrived at now. An answer to a
// pending target, from the address asked or from another (an alias), is
// decoded into r and reported through emit; anything else is counted and
// dropped.
func (s *scanState) reply(now time.Duration, from netip.AddrPort, msg []byte, r *ScanResult, emit func(*ScanResult) bool) {
	if s.stopped {
		return
	}
	s.stats.Received++
	if r.Response.UnmarshalBinary(msg) != nil {
		s.stats.Ignored++
		return
	}
	src := from.Addr().Unmap()
	from = netip.AddrPortFrom(src, from.Port())
	e := &s.ids[r.Response.Header.ID]
	late := e.used && src.Is4() && src.As4() == e.prev
	switch {
	case r.Response.Name != s.cfg.name || !equalFoldASCII(r.Response.Scope, s.cfg.scope):
		s.stats.Ignored++ // not an answer to our question
		return
	case e.slot == 0 || late && from != netip.AddrPortFrom(netip.AddrFrom4(s.slots[e.slot-1].addr), s.cfg.port):
		// No target holds the ID, or the one that held it before answers
		// again: a duplicate of an answer already taken.
		if late {
			s.stats.Duplicates++
		} else {
			s.stats.Ignored++
		}
		return
	}
	i := e.slot - 1
	sl := &s.slots[i]
	target := netip.AddrPortFrom(netip.AddrFrom4(sl.addr), s.cfg.port)
	if k := int(sl.timer); k >= 0 {
		s.answered[k]++ // answered in flight
		if s.parked[k].n > 0 {
			defer s.unpark(now, k)
		}
	}
	if sl.sent == 1 {
		s.rtt.sample(now - sl.last)
	}
	if from == target {
		s.stats.Answered++
	} else {
		s.stats.Aliases++
	}
	r.Target, r.Responder, r.RTT, r.Sent = target, from, now-sl.last, int(sl.sent)
	s.release(i, now)
	if !emit(r) {
		s.stopped = true
	}
}

// release frees slot i and its transaction ID, and takes it off its lists.
func (s *scanState) release(i int32, now time.Duration) {
	sl := &s.slots[i]
	switch {
	case sl.timer >= 0:
		s.unlink(&s.levels[sl.timer], i, timerLink)
		s.inflight--
	case sl.timer == resendList:
		s.unlink(&s.resend, i, timerLink)
	case sl.timer < resendList:
		s.unlink(&s.parked[parkedLevel(sl.timer)], i, timerLink)
	}
	s.unlink(&s.deadlines, i, deadlineLink)
	sl = &s.slots[i]
	s.ids[sl.id] = scanID{used: true, prev: sl.addr, freed: now}
	*sl = scanSlot{timer: noList}
	sl.link[0].next = s.free
	s.free = i
	s.pending--
}

// done reports whether the scan is over: every target pulled and done.
func (s *scanState) done() bool { return s.exhausted && s.pending == 0 }

// wantsToSend reports whether something waits to be sent.
func (s *scanState) wantsToSend() bool {
	return s.resend.n > 0 || !s.exhausted && s.pending < maxScanPending
}

// nextWake returns when the state next needs to run, if no datagram comes
// first: the next timer, or the next token of the rate when only the rate
// holds a transmission back. ok is false when only a datagram can change
// anything.
func (s *scanState) nextWake(now time.Duration) (at time.Duration, ok bool) {
	consider := func(t time.Duration) {
		if !ok || t < at {
			at, ok = t, true
		}
	}
	for k := range s.levels {
		if i := s.levels[k].head; i >= 0 {
			consider(s.slots[i].last + s.gap(k+1))
		}
	}
	if i := s.deadlines.head; i >= 0 {
		consider(s.slots[i].first + s.cfg.timeout)
	}
	windowOpen := s.cfg.window <= 0 || s.inflight < s.cfg.window
	if windowOpen && s.wantsToSend() {
		switch {
		case s.idBlocked:
			consider(now + scanMinRTO)
		case s.cfg.interval != 0 && now < s.rateFrom():
			consider(s.rateFrom())
		}
	}
	return at, ok
}

// snapshot returns the statistics at now.
func (s *scanState) snapshot(now time.Duration) ScanStats {
	st := s.stats
	st.Elapsed = now
	st.InFlight = s.inflight
	st.Pending = s.pending
	st.RTO = s.rto()
	st.SRTT = s.rtt.srtt
	return st
}
