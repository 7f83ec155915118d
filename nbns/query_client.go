package nbns

// This file holds the name query client: unicast (RFC 1002 §5.1.2.3, to a
// host or a WINS server) and broadcast (§5.1.1.3).

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"iter"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"time"
)

// MaxWACKWait is the longest one WACK (RFC 1002 §4.2.16) extends the wait
// of a name query, whatever its TTL says. RFC 1002 §5.1.2.3 pauses for the
// TTL; nbworks caps the pause at 120 s as well.
const MaxWACKWait = 2 * time.Minute

const (
	// maxWACKs bounds how many WACKs extend the wait of one query, so
	// that a server that keeps sending them is given up on.
	maxWACKs = 4

	// maxHeard bounds how many responders and distinct entries a
	// broadcast query remembers, and so reports.
	maxHeard = 1 << 14
)

var (
	errNotIPv4Query    = errors.New("nbns: a name query needs an IPv4 address; NetBIOS has no IPv6")
	errNoBroadcastAddr = errors.New("nbns: no broadcast address to send the query to")
)

// QueryName asks the name service at target for the addresses of name,
// with a NAME QUERY REQUEST (RFC 1002 §4.2.12) that has B clear. With
// recursion set, the query has RD set, which a WINS server (an NBNS)
// needs to answer for names of other hosts (nmbd's WINS server takes only
// queries with RD set); without it, the host at target answers for its
// own names, and nmbd answers a name it does not have with a negative
// response. A target port of 0 means [Port]; target must be IPv4.
//
// The query is sent over a socket connected to target, Attempts times,
// Timeout apart, under one random transaction ID. A datagram counts as an
// answer only if it comes from target's address and port (the connected
// socket sees to that), parses as a name query response, carries that ID
// and names the question: its RR_NAME is name and its scope is Scope
// (compared without regard to ASCII case). A redirect, which names no
// question, is matched by ID and source only. Anything else is dropped and
// the wait goes on, until ctx ends too.
//
// A WACK (RFC 1002 §4.2.16) says the server is working on it: the wait
// for the current attempt is then extended to the WACK's TTL from when it
// arrived, at most [MaxWACKWait] (a TTL of 0 restarts the wait with
// Timeout), after which the next attempt goes out as usual. At most 4
// WACKs extend the waits of one query; later ones are dropped. With a
// negative Timeout a WACK changes nothing: only ctx bounds the wait.
//
// A positive answer is returned. Every failure is a *[net.OpError] with
// Op "namequery" and Addr target, which wraps:
//   - a *[NegativeError] for a negative response, which keeps its RCODE:
//     errors.Is(err, [RCodeNameError]) tells that the name does not exist;
//   - a *[RedirectError] for a redirect, which names the NBNS to ask
//     instead; it is not followed;
//   - [ErrNoResponse] (and is a timeout) when no attempt was answered,
//     [ErrPortUnreachable] when the host refused the datagram, and
//     ctx.Err() when ctx ended first.
func (c *Client) QueryName(ctx context.Context, target netip.AddrPort, name Name, recursion bool) (*NameQueryResponse, error) {
	target = queryAddr(target)
	opErr := func(err error) error {
		return &net.OpError{Op: "namequery", Net: "udp4", Addr: net.UDPAddrFromAddrPort(target), Err: err}
	}
	if !target.Addr().Is4() {
		return nil, opErr(errNotIPv4Query)
	}
	timeout, attempts := c.timeout(), c.attempts()
	if timeout < 0 {
		attempts = 1 // the only wait ends with ctx
	}
	q := NameQueryRequest{ID: randomID(), Name: name, Scope: c.scope(), RecursionDesired: recursion}
	req, err := q.AppendBinary(make([]byte, 0, 64))
	if err != nil {
		return nil, opErr(err)
	}

	nc, err := c.dialer().DialContext(ctx, "udp4", target.String())
	if err != nil {
		return nil, opErr(unwrapOp(err))
	}
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { nc.SetReadDeadline(aLongTimeAgo) })
	defer stop()

	// setDeadline bounds the wait at now + d, or by ctx alone for d < 0.
	setDeadline := func(d time.Duration) error {
		var deadline time.Time
		if d >= 0 {
			deadline = time.Now().Add(d)
		}
		if err := nc.SetReadDeadline(deadline); err != nil {
			return err
		}
		return ctx.Err() // AfterFunc may have run before SetReadDeadline
	}

	buf := make([]byte, maxReply)
	r := new(NameQueryResponse)
	start := time.Now()
	ignored, wacks := 0, 0
	for range attempts {
		if _, err := nc.Write(req); err != nil {
			return nil, opErr(mapErr(ctx, err))
		}
		if err := setDeadline(timeout); err != nil {
			return nil, opErr(err)
		}
		for {
			n, err := nc.Read(buf)
			if err != nil {
				if isTimeout(err) && ctx.Err() == nil {
					break // next attempt
				}
				return nil, opErr(mapErr(ctx, err))
			}
			if r.UnmarshalBinary(buf[:n]) != nil || !answersQuery(r, &q) {
				ignored++ // a stray or forged datagram
				continue
			}
			switch r.Kind {
			case PositiveResponse:
				return r, nil
			case NegativeResponse:
				return nil, opErr(&NegativeError{Name: r.Name, Scope: r.Scope, RCode: r.Header.RCode})
			case RedirectResponse:
				return nil, opErr(&RedirectError{Name: name, Scope: q.Scope, Redirect: r.Redirect})
			}
			// A WACK.
			if timeout < 0 {
				continue
			}
			if wacks == maxWACKs {
				ignored++
				continue
			}
			wacks++
			if err := setDeadline(wackWait(r.TTL, timeout)); err != nil {
				return nil, opErr(err)
			}
		}
	}
	return nil, opErr(&noResponseError{
		what: "name query", attempts: attempts, elapsed: time.Since(start), ignored: ignored, wacks: wacks,
	})
}

// wackWait returns how long a WACK with the given TTL extends the wait.
func wackWait(ttl uint32, timeout time.Duration) time.Duration {
	if ttl == 0 {
		return timeout
	}
	return min(time.Duration(ttl)*time.Second, MaxWACKWait)
}

// answersQuery reports whether r answers q: it carries q's transaction
// ID and, unless it is a redirect, names q's name in q's scope.
func answersQuery(r *NameQueryResponse, q *NameQueryRequest) bool {
	if r.Header.ID != q.ID {
		return false
	}
	return r.Kind == RedirectResponse || r.Name == q.Name && equalFoldASCII(r.Scope, q.Scope)
}

// queryAddr returns a with port 0 replaced by Port and an IPv4-mapped
// address unmapped.
func queryAddr(a netip.AddrPort) netip.AddrPort {
	port := a.Port()
	if port == 0 {
		port = Port
	}
	return netip.AddrPortFrom(a.Addr().Unmap(), port)
}

func randomID() uint16 {
	var id [2]byte
	rand.Read(id[:])
	return binary.BigEndian.Uint16(id[:])
}

// BroadcastAnswer is one host's answer to a broadcast name query: a
// POSITIVE NAME QUERY RESPONSE and where it came from.
type BroadcastAnswer struct {
	// From is the responder: the source address and UDP port of the
	// reply. It is not always the address an entry gives: a WINS proxy
	// answers for other hosts, and so can a spoofer.
	From netip.AddrPort

	Header  Header      // the reply's header
	TTL     uint32      // TTL of the entries, in seconds
	Entries []AddrEntry // ADDR_ENTRY array, in the order sent
}

// Unique reports whether an entry of a is a unique name (G clear): the
// owner of a unique name has answered, and a caller that wants one owner
// can stop collecting answers.
func (a *BroadcastAnswer) Unique() bool {
	for _, e := range a.Entries {
		if !e.Flags.Group() {
			return true
		}
	}
	return false
}

// QueryNameBroadcast asks every host on the networks of the broadcast
// addresses for the addresses of name (RFC 1002 §5.1.1.3, B-node
// discovery), and returns the answers as they come, each once. The query
// has B and RD set (flags 0x0110, as Windows and Samba send) and goes to
// each of broadcast, directed broadcast addresses such as 192.168.1.255
// (RFC 1002 §6's BROADCAST_ADDRESS); a port of 0 means [Port]. There is no
// default: which interfaces and subnets to query is the caller's choice.
// Each range over the sequence sends a new query.
//
// The query goes out over one unconnected socket from Listener, to every
// address, Attempts times, Timeout apart, under one random transaction ID,
// until a first answer arrives; answers are then collected until the last
// attempt's wait would have ended, Attempts × Timeout after the first
// transmission (2.25 s with the defaults, Windows' 3 × 750 ms). With a
// negative Timeout the query is sent once and answers are collected until
// ctx ends. A datagram counts as an answer if it parses as a positive name
// query response with that ID that names the question, as in
// [Client.QueryName], whatever its source: a broadcast cannot be matched
// by address (RFC 1001 §13.2.1). Negative responses, redirects and WACKs
// are dropped, as B nodes do (RFC 1002 §5.1.1.3).
//
// Every answer keeps its responder, the reply's source. A reply that
// brings nothing new (from a responder already heard, with no entry it
// has not already reported: nmbd answers each broadcast twice) is
// dropped; at most 16384 responders and distinct entries are reported in
// all. Every owner of a group name answers, and so does every host that
// claims a unique name: two answers that both list the name as unique are
// a conflict, which the caller sees as two answers (no NAME CONFLICT
// DEMAND is ever sent).
//
// To find the one owner of a unique name, stop at the first answer
// whose [BroadcastAnswer.Unique] is true; to list the members of a group,
// or to see conflicts, range to the end.
//
// Errors are *[net.OpError] values with Op "namequery" and Addr the first
// broadcast address, given as the last element of the sequence with a
// zero BroadcastAnswer: one that wraps [ErrNoResponse] (and is a timeout)
// when no answer came, and ctx.Err() when ctx ends before the collection
// does, even after answers.
func (c *Client) QueryNameBroadcast(ctx context.Context, name Name, broadcast ...netip.AddrPort) iter.Seq2[BroadcastAnswer, error] {
	addrs := make([]netip.AddrPort, len(broadcast))
	for i, a := range broadcast {
		addrs[i] = queryAddr(a)
	}
	return func(yield func(BroadcastAnswer, error) bool) {
		c.broadcast(ctx, name, addrs, yield)
	}
}

func (c *Client) broadcast(ctx context.Context, name Name, addrs []netip.AddrPort, yield func(BroadcastAnswer, error) bool) {
	var first net.Addr
	if len(addrs) > 0 {
		first = net.UDPAddrFromAddrPort(addrs[0])
	}
	fail := func(err error) {
		yield(BroadcastAnswer{}, &net.OpError{Op: "namequery", Net: "udp4", Addr: first, Err: err})
	}
	if len(addrs) == 0 {
		fail(errNoBroadcastAddr)
		return
	}
	dsts := make([]net.Addr, len(addrs))
	for i, a := range addrs {
		if !a.Addr().Is4() {
			fail(errNotIPv4Query)
			return
		}
		dsts[i] = net.UDPAddrFromAddrPort(a)
	}
	timeout, attempts := c.timeout(), c.attempts()
	if timeout < 0 {
		attempts = 1
	}
	q := NameQueryRequest{ID: randomID(), Name: name, Scope: c.scope(), Broadcast: true, RecursionDesired: true}
	req, err := q.AppendBinary(make([]byte, 0, 64))
	if err != nil {
		fail(err)
		return
	}

	pc, err := c.listener().ListenPacket(ctx, "udp4", "0.0.0.0:0")
	if err != nil {
		fail(unwrapOp(err))
		return
	}
	defer pc.Close()
	stop := context.AfterFunc(ctx, func() { pc.SetReadDeadline(aLongTimeAgo) })
	defer stop()

	buf := make([]byte, maxReply)
	var r NameQueryResponse
	heard := make(map[heardKey]bool) // responders and entries reported
	answers, ignored, sent := 0, 0, 0
	start := time.Now()
	for {
		if answers == 0 && sent < attempts {
			for _, dst := range dsts {
				if _, err := pc.WriteTo(req, dst); err != nil {
					fail(mapErr(ctx, err))
					return
				}
			}
			sent++
		}
		// Wait for the next transmission, or for the end.
		var deadline time.Time // zero: until ctx ends
		if timeout >= 0 {
			n := attempts
			if answers == 0 && sent < attempts {
				n = sent
			}
			deadline = start.Add(time.Duration(n) * timeout)
		}
		if err := pc.SetReadDeadline(deadline); err != nil {
			fail(err)
			return
		}
		if err := ctx.Err(); err != nil {
			fail(err)
			return
		}
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				if !isTimeout(err) || ctx.Err() != nil {
					fail(mapErr(ctx, err))
					return
				}
				break
			}
			if r.UnmarshalBinary(buf[:n]) != nil || r.Kind != PositiveResponse || !answersQuery(&r, &q) {
				ignored++
				continue
			}
			// Drop a reply that brings nothing new, and any reply once
			// maxHeard responders and entries are remembered.
			src := sourceOf(from)
			cost := 0
			if !heard[heardKey{from: src}] {
				cost++ // a new responder
			}
			for _, e := range r.Entries {
				if !heard[heardKey{src, e, true}] {
					cost++
				}
			}
			if cost == 0 || len(heard)+cost > maxHeard {
				ignored++
				continue
			}
			heard[heardKey{from: src}] = true
			for _, e := range r.Entries {
				heard[heardKey{src, e, true}] = true
			}
			answers++
			a := BroadcastAnswer{From: src, Header: r.Header, TTL: r.TTL, Entries: slices.Clone(r.Entries)}
			if !yield(a, nil) {
				return
			}
		}
		if answers > 0 || sent == attempts {
			if timeout >= 0 && !time.Now().Before(start.Add(time.Duration(attempts)*timeout)) {
				break
			}
		}
	}
	if answers == 0 {
		fail(&noResponseError{what: "broadcast name query", attempts: sent, elapsed: time.Since(start), ignored: ignored})
	}
}

// heardKey is a responder of a broadcast query, or, with entry set, one
// of the entries it reported.
type heardKey struct {
	from  netip.AddrPort
	e     AddrEntry
	entry bool
}

// sourceOf returns the address and port of a datagram's source.
func sourceOf(a net.Addr) netip.AddrPort {
	if ua, ok := a.(*net.UDPAddr); ok {
		ap := ua.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// NegativeError reports a NEGATIVE NAME QUERY RESPONSE (RFC 1002
// §4.2.14): the name service does not know the name (RCODE 3, NAM_ERR),
// or failed or refused to answer. It unwraps to its RCode, so that
// errors.Is(err, nbns.RCodeNameError) matches it.
type NegativeError struct {
	Name  Name   // RR_NAME of the response: the name asked for
	Scope string // its scope
	RCode RCode  // the reason
}

var _ error = (*NegativeError)(nil)

// Error names the name and the code.
func (e *NegativeError) Error() string {
	b := []byte("nbns: negative name query response for ")
	b, _ = e.Name.AppendText(b)
	if e.Scope != "" {
		b = append(b, '.')
		b = append(b, e.Scope...)
	}
	b = append(b, ": "...)
	b = append(b, e.RCode.String()...)
	b = append(b, " (rcode "...)
	b = strconv.AppendUint(b, uint64(e.RCode), 10)
	return string(append(b, ')'))
}

// Unwrap returns e.RCode.
func (e *NegativeError) Unwrap() error { return e.RCode }

// RedirectError reports a REDIRECT NAME QUERY RESPONSE (RFC 1002
// §4.2.15): the NBNS asked does not answer for the name and names another
// one, at Redirect.Addr, to which the caller should send the query again
// (port 137). It is returned, not followed.
type RedirectError struct {
	Name     Name   // the name asked for
	Scope    string // its scope
	Redirect Redirect
}

var _ error = (*RedirectError)(nil)

// Error names the name and the NBNS to ask instead.
func (e *RedirectError) Error() string {
	b := []byte("nbns: name query for ")
	b, _ = e.Name.AppendText(b)
	b = append(b, " redirected to the NBNS at "...)
	b = e.Redirect.Addr.AppendTo(b)
	if e.Redirect.Server != "" {
		b = append(b, " ("...)
		b = append(b, e.Redirect.Server...)
		b = append(b, ')')
	}
	return string(b)
}
