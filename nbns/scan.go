package nbns

// This file holds the scanner: node status queries to many hosts from one
// unconnected socket (RFC 1002 §4.2.17), paced by a window and a rate, with
// retransmissions timed by the answers. The bookkeeping is in
// scan_state.go; this is the shell around it.

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"iter"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Defaults of [Scanner].
const (
	// DefaultScanRate is the default pace of a scan, in queries per
	// second. A sweep of an on-link network makes the kernel resolve
	// every address with ARP, and Linux holds at most 1,024 neighbour
	// entries (gc_thresh3), each unresolved one for 3 s (mcast_solicit ×
	// retrans_time); 300 queries a second to addresses nobody uses stay
	// under that, and under 1 % of a 10 Mbit/s link with the answers. A
	// /24 takes under a second, as nbtscan's 1-s wait does. nbtscan itself
	// sends as fast as the socket takes, unless told a bandwidth.
	DefaultScanRate = 300

	// DefaultScanWindow is the default number of queries in flight. A
	// host whose receive buffer has Linux's default size (212,992 bytes)
	// holds about 200 queries; 128 keep a responder that answers for many
	// addresses busy without overflowing it.
	DefaultScanWindow = 128

	// DefaultScanTimeout is how long a scan waits, by default, for a
	// target to answer, from its first query: nbtscan's 1 s.
	DefaultScanTimeout = time.Second

	// scanProgressInterval is how often Scanner.Progress is called.
	scanProgressInterval = 100 * time.Millisecond

	// scanBuffers is how many datagrams the reader holds for the scan
	// loop.
	scanBuffers = 256
)

// A Scanner sends node status queries to many hosts from one unconnected
// UDP socket and reports their answers as they come, as nbtscan does, but
// paced, retransmitted and matched: see [Scanner.Scan]. The zero Scanner,
// and a nil *Scanner, use the defaults. A Scanner is safe for concurrent
// use; it holds no state between scans.
type Scanner struct {
	// Listener opens the scan's socket, with network "udp4" and address
	// "0.0.0.0:0". Nil means a zero *net.ListenConfig. The socket must be
	// unconnected: each WriteTo sends one datagram, each ReadFrom returns
	// one and its source. On a *net.UDPConn, reads and writes do not
	// allocate.
	Listener PacketListener

	// Port is the UDP port queried on every target. Zero means [Port],
	// 137.
	Port uint16

	// Name is the name asked for; a host answers only if it has it (RFC
	// 1002 §5.1.1.5). The zero Name means [Wildcard], which every host
	// answers for with its whole name table.
	Name Name

	// Scope is the NetBIOS scope identifier of Name, a dotted string.
	// Empty, the usual case, means none.
	Scope string

	// Rate is the most queries sent per second, retransmissions included,
	// at most Rate/100 + 1 back to back. Zero means DefaultScanRate (300);
	// a negative value means no fixed rate: the window alone paces the
	// queries, and the answers pace new ones.
	Rate int

	// Window is the most queries in flight: sent, not answered, and
	// within their retransmission timeout. Zero means DefaultScanWindow
	// (128); a negative value means no bound but the 16,384 targets a
	// scan holds at most. A target whose query goes unanswered leaves the
	// window when the query's retransmission timer expires, so that
	// silent addresses do not hold it.
	Window int

	// Timeout is how long a target is waited for, from its first query,
	// before it is given up: its retransmissions go out within it. Zero
	// means DefaultScanTimeout (1 s).
	Timeout time.Duration

	// Retries is how many times a silent target is queried again. Zero
	// means adaptive: up to 9 retransmissions, the k-th of which is sent
	// only while the k-th retransmissions of this scan find answers,
	// that is, while fewer than 32 × F + 64 × A of them have been sent, A
	// being how many were answered and F the fraction of first queries
	// answered; a target refused one waits, until an answer to a k-th
	// retransmission allows it or its timeout ends. So where every address
	// answers and some answers are lost, a silent target is asked until it
	// answers; where few addresses answer, each is asked about once, as
	// nbtscan does, after a few retransmissions have found nothing. A
	// positive value is a fixed number of retransmissions, at most 31; a
	// negative one means none.
	Retries int

	// ReportSilent reports the targets that never answered too, as
	// results whose Responder is the zero AddrPort.
	ReportSilent bool

	// Progress, if not nil, is called with the scan's statistics from the
	// goroutine that ranges over the scan, about every 100 ms while it
	// runs and once when it ends, with Done set.
	Progress func(ScanStats)
}

// ScanResult is what a scan learned about one target.
//
// A scan reuses one ScanResult for all its results: a result and the
// slices in it are valid until the loop over [Scanner.Scan] goes on. Call
// [ScanResult.Clone] to keep one.
type ScanResult struct {
	// Target is the address and port queried.
	Target netip.AddrPort

	// Responder is the source of the answer. It is Target, unless the
	// answer came from another address (or port) with the transaction ID
	// of the query to Target: an alias, such as the other address of a
	// host with two. It is the zero AddrPort for a silent target.
	Responder netip.AddrPort

	// RTT is the time from the last transmission to the answer.
	RTT time.Duration

	// Sent is how many queries went to the target.
	Sent int

	// Response is the answer, decoded: the name table and the
	// statistics. It is the zero value, with no names, for a silent
	// target.
	Response NodeStatusResponse
}

// Answered reports whether the target answered, from its own address or
// as an alias.
func (r *ScanResult) Answered() bool { return r.Responder.IsValid() }

// Alias reports whether the answer came from another address or port than
// the one queried.
func (r *ScanResult) Alias() bool { return r.Answered() && r.Responder != r.Target }

// Clone returns a copy of r that does not share its name table.
func (r *ScanResult) Clone() *ScanResult {
	c := *r
	c.Response.Names = append([]NodeName(nil), r.Response.Names...)
	return &c
}

// Computer returns the computer name: the first unique name with suffix
// <00> (workstation service) in the name table, as nbtscan shows it.
func (r *ScanResult) Computer() (Name, bool) {
	return r.first(func(e NodeName) bool { return e.Name.Suffix() == Workstation && !e.Flags.Group() })
}

// Server returns the name of the host's Server service, the name to call
// it by: the first unique active <20> name, as
// [NodeStatusResponse.ServerName] picks it. A host that has one shares, or
// can share, files or printers; nbtscan marks it <server>.
func (r *ScanResult) Server() (Name, bool) {
	return r.first(NodeName.IsServer)
}

// Workgroup returns the workgroup or domain: the first group name with
// suffix <00>.
func (r *ScanResult) Workgroup() (Name, bool) {
	return r.first(func(e NodeName) bool { return e.Name.Suffix() == Workstation && e.Flags.Group() })
}

// User returns the name registered for the messenger service, unique
// with suffix <03>, of the user logged on: the last such name that is not
// the computer's own, else the computer's. nbtscan shows the last one,
// which is often the computer's.
func (r *ScanResult) User() (Name, bool) {
	computer, _ := r.Computer()
	var own Name
	var haveOwn bool
	names := r.Response.Names
	for i := len(names) - 1; i >= 0; i-- {
		e := names[i]
		if e.Name.Suffix() != Messenger || e.Flags.Group() {
			continue
		}
		if e.Name.WithSuffix(Workstation) != computer {
			return e.Name, true
		}
		own, haveOwn = e.Name, true
	}
	return own, haveOwn
}

// MAC returns the MAC address the host reported, and whether it reported
// one: see [NodeStatusResponse.MAC].
func (r *ScanResult) MAC() ([6]byte, bool) { return r.Response.MAC() }

func (r *ScanResult) first(match func(NodeName) bool) (Name, bool) {
	for _, e := range r.Response.Names {
		if match(e) {
			return e.Name, true
		}
	}
	return Name{}, false
}

// ScanStats counts what a scan has done so far.
type ScanStats struct {
	Elapsed time.Duration // since the scan started

	Targets         int // IPv4 targets taken from the sequence
	Skipped         int // targets that were not IPv4 addresses, skipped
	Sent            int // queries sent, retransmissions included
	Retransmissions int // queries sent again to a target that had not answered
	SendErrors      int // queries the socket refused, counted in Sent

	Answered int // targets answered from their own address and port
	Aliases  int // targets answered from another address or port
	Silent   int // targets given up

	InFlight int // queries in flight, in the window
	Pending  int // targets queried and not done

	Received   int // datagrams read
	Ignored    int // datagrams that answered no pending query: unparsable, unknown ID, another question
	Duplicates int // answers again from a target already done

	RTO  time.Duration // the retransmission timeout now
	SRTT time.Duration // the smoothed round-trip time; 0 before the first answer

	Done bool // the scan has ended
}

// Scan queries every target for its name table with a NODE STATUS REQUEST
// (RFC 1002 §4.2.17) and returns the answers as they come, in the order
// they come. Each range over the sequence runs a new scan. Targets are
// pulled from targets as the scan goes, so a sequence that is never held
// in memory, a /8 say, costs the memory of the queries in flight only;
// targets that are not IPv4 addresses (an IPv4-mapped one is taken as
// IPv4) are skipped.
//
// All queries go out from one unconnected socket from Listener, to the
// same Port of each target. Each query has a random transaction ID that
// no pending target holds; an answer is taken if it parses as a node
// status response with a pending ID that names the question (Name and
// Scope, as [Client.NodeStatusName] checks). It answers the target that
// holds the ID when it comes from the target's address and port, and as
// an alias otherwise: see [ScanResult.Responder]. Any other datagram is
// counted and dropped, and so is an answer from a target that is done,
// to a retransmission say.
//
// At most Window queries are in flight, sent at most Rate a second: an
// answer makes room for the next query at once. A query not answered
// within the retransmission timeout (RTO) leaves the window, and its
// target is queried again as Retries says, RTO × 2^(k-1) after its k-th
// transmission (at most 8 RTOs later), if the answer can still come back
// within Timeout of the first query; retransmissions go before new
// targets. The RTO is estimated from the answers as TCP's is (RFC 6298:
// the smoothed RTT + the larger of 10 ms and 4 × its mean deviation, from
// targets answered at their first transmission, as Karn's rule says), at
// most Timeout; it starts at 250 ms. A target is given up Timeout after its first
// transmission; with ReportSilent, it is then reported.
//
// The results are a *ScanResult that the scan reuses: see [ScanResult].
// The scan ends when every target is done, when the loop breaks, or when
// ctx ends: it then stops sending at once and returns. An error ends the
// sequence, as its last element with a nil result: a *[net.OpError] with
// Op "scan" that wraps ctx.Err() when ctx ended, or the socket's error.
func (s *Scanner) Scan(ctx context.Context, targets iter.Seq[netip.Addr]) iter.Seq2[*ScanResult, error] {
	return func(yield func(*ScanResult, error) bool) {
		stopped := false
		emit := func(r *ScanResult) bool {
			if !yield(r, nil) {
				stopped = true
				return false
			}
			return true
		}
		if err := s.scan(ctx, targets, emit); err != nil && !stopped {
			yield(nil, err)
		}
	}
}

// config returns the Scanner's settings with the defaults applied.
func (s *Scanner) config() scanConfig {
	var z Scanner
	if s == nil {
		s = &z
	}
	c := scanConfig{name: s.Name, scope: s.Scope, port: s.Port, silent: s.ReportSilent, timeout: s.Timeout}
	if c.name.IsZero() {
		c.name = Wildcard()
	}
	if c.port == 0 {
		c.port = Port
	}
	if c.timeout <= 0 {
		c.timeout = DefaultScanTimeout
	}
	rate := s.Rate
	if rate == 0 {
		rate = DefaultScanRate
	}
	if rate > 0 {
		c.interval = max(time.Second/time.Duration(rate), 1)
		c.burst = 1 + rate/100
	}
	switch {
	case s.Window == 0:
		c.window = DefaultScanWindow
	case s.Window > 0:
		c.window = s.Window
	}
	switch {
	case s.Retries == 0:
		c.retries = -1
	case s.Retries < 0:
		c.retries = 0
	default:
		c.retries = min(s.Retries, maxScanRetries)
	}
	return c
}

func (s *Scanner) listener() PacketListener {
	if s == nil || s.Listener == nil {
		return &net.ListenConfig{}
	}
	return s.Listener
}

func (s *Scanner) progress() func(ScanStats) {
	if s == nil {
		return nil
	}
	return s.Progress
}

// scanPacket is a datagram read by the scan's reader.
type scanPacket struct {
	buf  []byte
	n    int
	from netip.AddrPort
	at   time.Duration // since the scan started
}

func (s *Scanner) scan(ctx context.Context, targets iter.Seq[netip.Addr], emit func(*ScanResult) bool) (err error) {
	cfg := s.config()
	progress := s.progress()
	var local net.Addr
	opErr := func(err error) error {
		return &net.OpError{Op: "scan", Net: "udp4", Source: local, Err: err}
	}
	q := NodeStatusRequest{Name: cfg.name, Scope: cfg.scope}
	req, err := q.AppendBinary(make([]byte, 0, 64))
	if err != nil {
		return opErr(err)
	}
	pc, err := s.listener().ListenPacket(ctx, "udp4", "0.0.0.0:0")
	if err != nil {
		return opErr(unwrapOp(err))
	}
	local = pc.LocalAddr()
	conn := newScanConn(pc)

	start := time.Now()
	free := make(chan *scanPacket, scanBuffers)
	full := make(chan *scanPacket, scanBuffers)
	readErr := make(chan error, 1)
	quit := make(chan struct{})
	for range scanBuffers {
		free <- &scanPacket{buf: make([]byte, maxReply)}
	}
	var wg sync.WaitGroup
	wg.Go(func() { readScan(conn, start, free, full, readErr, quit) })
	defer func() {
		close(quit)
		pc.Close()
		wg.Wait()
	}()

	var seed [32]byte
	rand.Read(seed[:])
	st := newScanState(cfg, mrand.NewChaCha8(seed))
	next, stop := iter.Pull(targets)
	defer stop()
	send := func(addr [4]byte, id uint16) error {
		binary.BigEndian.PutUint16(req, id)
		err := conn.writeTo(req, addr, cfg.port)
		if err != nil && errors.Is(err, net.ErrClosed) {
			return err
		}
		if err != nil {
			st.stats.SendErrors++ // the query is lost; its timer retries it
		}
		return nil
	}
	var lastProgress time.Duration
	defer func() {
		if progress != nil {
			p := st.snapshot(time.Since(start))
			p.Done = true
			progress(p)
		}
	}()
	r := new(ScanResult)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := time.Since(start)
		st.expire(now, r, emit)
		if st.stopped {
			return nil
		}
		if err := st.fill(now, next, send); err != nil {
			return opErr(mapErr(ctx, err))
		}
		if st.done() {
			return nil
		}
		if progress != nil && now-lastProgress >= scanProgressInterval {
			lastProgress = now
			progress(st.snapshot(now))
		}
		wake, ok := st.nextWake(now)
		if progress != nil && (!ok || lastProgress+scanProgressInterval < wake) {
			wake, ok = lastProgress+scanProgressInterval, true
		}
		timer.Stop()
		if ok {
			timer.Reset(max(wake-now, 0))
		}
		select {
		case p := <-full:
			for {
				st.reply(p.at, p.from, p.buf[:p.n], r, emit)
				free <- p
				if st.stopped {
					return nil
				}
				select {
				case p = <-full:
					continue
				default:
				}
				break
			}
		case <-timer.C:
		case err := <-readErr:
			return opErr(mapErr(ctx, err))
		case <-ctx.Done():
			return opErr(ctx.Err())
		}
	}
}

// readScan reads datagrams into the buffers from free and hands them to
// the scan loop through full, until the socket fails or is closed.
func readScan(conn *scanConn, start time.Time, free <-chan *scanPacket, full chan<- *scanPacket, readErr chan<- error, quit <-chan struct{}) {
	for {
		var p *scanPacket
		select {
		case p = <-free:
		case <-quit:
			return
		}
		n, from, err := conn.readFrom(p.buf)
		if err != nil {
			select {
			case <-quit:
			default:
				readErr <- err
			}
			return
		}
		p.n, p.from, p.at = n, from, time.Since(start)
		full <- p
	}
}

// scanConn reads and writes datagrams on a scan's socket, without
// allocating on a *net.UDPConn.
type scanConn struct {
	pc  net.PacketConn
	udp *net.UDPConn // pc, when it is one
	to  net.UDPAddr  // the destination of WriteTo, reused
	ip  [4]byte
}

func newScanConn(pc net.PacketConn) *scanConn {
	c := &scanConn{pc: pc}
	c.udp, _ = pc.(*net.UDPConn)
	c.to.IP = c.ip[:]
	if c.udp != nil {
		// Room for the answers that arrive while the loop is busy; the
		// kernel caps it (net.core.rmem_max).
		c.udp.SetReadBuffer(4 << 20)
	}
	return c
}

func (c *scanConn) writeTo(b []byte, addr [4]byte, port uint16) error {
	if c.udp != nil {
		_, err := c.udp.WriteToUDPAddrPort(b, netip.AddrPortFrom(netip.AddrFrom4(addr), port))
		return err
	}
	c.ip = addr
	c.to.Port = int(port)
	_, err := c.pc.WriteTo(b, &c.to)
	return err
}

func (c *scanConn) readFrom(b []byte) (int, netip.AddrPort, error) {
	if c.udp != nil {
		return c.udp.ReadFromUDPAddrPort(b)
	}
	n, from, err := c.pc.ReadFrom(b)
	if err != nil {
		return n, netip.AddrPort{}, err
	}
	return n, sourceOf(from), nil
}
