package nbns

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"time"
)

// Port is NAME_SERVICE_UDP_PORT, the name service's UDP port (RFC 1002 §6).
const Port = 137

// Defaults of [Client].
const (
	// DefaultTimeout is how long a Client waits for an answer after each
	// transmission. RFC 1002 §6 gives 5 s (UCAST_REQ_RETRY_TIMEOUT, "an
	// adaptive timer may be used"), Windows 1.5 s, Samba 1 s; a dialer that
	// waits on the answer wants less.
	DefaultTimeout = 750 * time.Millisecond

	// DefaultAttempts is how many times a Client sends a query before it
	// gives up: RFC 1002 §6's UCAST_REQ_RETRY_COUNT. With DefaultTimeout a
	// query to a silent host gives up after 2.25 s.
	DefaultAttempts = 3

	// maxReply is the read buffer: the largest node status response (255
	// names, a 255-byte RR_NAME, full statistics) is 4,914 bytes.
	maxReply = 8192
)

// ErrNoResponse is wrapped by the error of a query that every attempt
// failed to get an answer to: the host is down, UDP 137 is filtered, or the
// host does not have the name asked for (RFC 1002 §5.1.1.5: a host never
// answers node status for a name it lacks). Such an error is a [net.Error]
// whose Timeout method reports true.
var ErrNoResponse = errors.New("no response")

// ErrPortUnreachable is wrapped by the error of a query that the host
// refused: it sent an ICMP port unreachable, because nothing listens on its
// UDP 137. Unlike [ErrNoResponse], it comes at once.
var ErrPortUnreachable = errors.New("port unreachable")

// A Client sends node status and name queries over UDP. The zero Client,
// and a nil *Client, use the defaults. A Client is safe for concurrent
// use; it holds no state between queries.
type Client struct {
	// Timeout is how long to wait for an answer after each transmission.
	// Zero means DefaultTimeout. A negative value means no bound but the
	// context's: the query is sent once and its answer awaited until ctx
	// ends, so Attempts does not matter.
	//
	// The defaults, 3 × 750 ms, are what Windows uses for a broadcast
	// query (MS-NBTE §3.2). Windows asks a WINS server 3 × 1.5 s; a
	// caller that queries a WINS server chooses that with Timeout and
	// Attempts.
	Timeout time.Duration

	// Attempts is how many times to send the query. Zero means
	// DefaultAttempts; a negative value means one. All attempts share one
	// transaction ID, so an answer to any of them is accepted until the
	// last one times out.
	Attempts int

	// Scope is the NetBIOS scope identifier of the queried names (RFC 1001
	// §5.2), a dotted string. Empty, the usual case, means none.
	Scope string

	// Dialer dials the UDP socket, with network "udp4". Nil means a zero
	// *net.Dialer. The socket is connected to the target, so that the
	// kernel drops datagrams from any other address or port and reports an
	// ICMP port unreachable. Another ContextDialer (an in-memory network
	// in a test, say) must return a conn with the same semantics: each
	// Write sends one datagram, each Read returns one, and a refusal is a
	// Read error that wraps syscall.ECONNREFUSED.
	Dialer ContextDialer

	// Listener opens the unconnected UDP socket of a broadcast query
	// ([Client.QueryNameBroadcast]), with network "udp4" and address
	// "0.0.0.0:0". Nil means a zero *net.ListenConfig; Go sets
	// SO_BROADCAST on every IPv4 UDP socket. A broadcast needs an
	// unconnected socket: the answers come from the hosts, not from the
	// broadcast address. Another PacketListener (an in-memory network in
	// a test, say) must return a conn with the same semantics: each
	// WriteTo sends one datagram, each ReadFrom returns one and its
	// source.
	Listener PacketListener
}

// A PacketListener opens unconnected packet conns. *net.ListenConfig is
// one.
type PacketListener interface {
	ListenPacket(ctx context.Context, network, address string) (net.PacketConn, error)
}

var _ PacketListener = (*net.ListenConfig)(nil)

// A ContextDialer dials network connections. *net.Dialer is one, and so
// are golang.org/x/net/proxy's dialers.
type ContextDialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// timeout returns the wait after each transmission; a negative value means
// no bound but the context's.
func (c *Client) timeout() time.Duration {
	if c == nil || c.Timeout == 0 {
		return DefaultTimeout
	}
	return c.Timeout
}

func (c *Client) attempts() int {
	switch {
	case c == nil || c.Attempts == 0:
		return DefaultAttempts
	case c.Attempts < 0:
		return 1
	}
	return c.Attempts
}

func (c *Client) dialer() ContextDialer {
	if c == nil || c.Dialer == nil {
		return &net.Dialer{}
	}
	return c.Dialer
}

func (c *Client) listener() PacketListener {
	if c == nil || c.Listener == nil {
		return &net.ListenConfig{}
	}
	return c.Listener
}

func (c *Client) scope() string {
	if c == nil {
		return ""
	}
	return c.Scope
}

// NodeStatus asks the host at target for its name table with a query for
// the wildcard name "*<00>", which every host answers. A target port of 0
// means [Port]. See [Client.NodeStatusName].
func (c *Client) NodeStatus(ctx context.Context, target netip.AddrPort) (*NodeStatusResponse, error) {
	return c.NodeStatusName(ctx, target, Wildcard())
}

// NodeStatusName asks the host at target for its name table with a query
// for name; a host answers only if it has the name (RFC 1002 §5.1.1.5). A
// target port of 0 means [Port]; target must be IPv4, as NetBIOS is.
//
// The query is sent Attempts times, Timeout apart, under one random
// transaction ID. A datagram counts as the answer only if it comes from
// target's address and port, parses as a node status response, carries
// that ID and names the question: its RR_NAME is name and its scope is
// Scope (compared without regard to ASCII case), as a host echoes them
// (RFC 1002 §4.2.18). Anything else, a stray reply or a forgery that
// guessed the ID, is dropped and the wait goes on. Every wait is bounded
// by ctx as well. The zero Name is asked for as it is, 32 'A's on the
// wire; ask for [Wildcard] (or call [Client.NodeStatus]) for the whole
// name table.
//
// Errors are *[net.OpError] values with Op "nodestatus". One wraps
// [ErrNoResponse] (and is a timeout) when no attempt was answered, and
// [ErrPortUnreachable] when the host refused the datagram; when ctx ends
// first, it wraps ctx.Err().
func (c *Client) NodeStatusName(ctx context.Context, target netip.AddrPort, name Name) (*NodeStatusResponse, error) {
	if target.Port() == 0 {
		target = netip.AddrPortFrom(target.Addr(), Port)
	}
	target = netip.AddrPortFrom(target.Addr().Unmap(), target.Port())
	opErr := func(err error) error {
		return &net.OpError{Op: "nodestatus", Net: "udp4", Addr: net.UDPAddrFromAddrPort(target), Err: err}
	}
	if !target.Addr().Is4() {
		return nil, opErr(errNotIPv4)
	}
	timeout, attempts := c.timeout(), c.attempts()
	if timeout < 0 {
		attempts = 1 // the only wait ends with ctx
	}
	var id [2]byte
	rand.Read(id[:])
	q := NodeStatusRequest{ID: binary.BigEndian.Uint16(id[:]), Name: name, Scope: c.scope()}
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

	buf := make([]byte, maxReply)
	r := new(NodeStatusResponse)
	start := time.Now()
	ignored := 0
	for range attempts {
		if _, err := nc.Write(req); err != nil {
			return nil, opErr(mapErr(ctx, err))
		}
		var deadline time.Time // none: only ctx ends the wait
		if timeout > 0 {
			deadline = time.Now().Add(timeout)
		}
		if err := nc.SetReadDeadline(deadline); err != nil {
			return nil, opErr(err)
		}
		if ctx.Err() != nil { // AfterFunc may have run before SetReadDeadline
			return nil, opErr(ctx.Err())
		}
		for {
			n, err := nc.Read(buf)
			if err != nil {
				if isTimeout(err) && ctx.Err() == nil {
					break // next attempt
				}
				return nil, opErr(mapErr(ctx, err))
			}
			if r.UnmarshalBinary(buf[:n]) == nil && answers(r, &q) {
				return r, nil
			}
			// Not our answer: a stray or forged datagram. Keep waiting.
			ignored++
		}
	}
	return nil, opErr(&noResponseError{what: "node status", attempts: attempts, elapsed: time.Since(start), ignored: ignored})
}

// answers reports whether r, a node status response, answers q: it carries
// q's transaction ID and, as RR_NAME, q's name in q's scope. Scopes are
// compared without regard to ASCII case, as DNS names are.
func answers(r *NodeStatusResponse, q *NodeStatusRequest) bool {
	return r.Header.ID == q.ID && r.Name == q.Name && equalFoldASCII(r.Scope, q.Scope)
}

// equalFoldASCII reports whether a and b are equal when ASCII letters are
// folded to one case; other bytes must be equal.
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// aLongTimeAgo is a deadline in the past, to unblock I/O at once.
var aLongTimeAgo = time.Unix(1, 0)

var errNotIPv4 = errors.New("nbns: node status needs an IPv4 address; NetBIOS has no IPv6")

// mapErr turns an I/O error into what the caller should see: ctx.Err()
// when the context ended (the deadline error was ours), a refusal for
// ECONNREFUSED.
func mapErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return &refusedError{err: unwrapOp(err)}
	}
	return unwrapOp(err)
}

// unwrapOp returns the cause inside a *net.OpError, so that our own
// OpError does not nest another.
func unwrapOp(err error) error {
	if oe, ok := err.(*net.OpError); ok {
		return oe.Err
	}
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// noResponseError reports a query that no attempt got an answer to.
type noResponseError struct {
	what     string // "node status", "name query"
	attempts int
	elapsed  time.Duration
	ignored  int // datagrams read and dropped: unparsable, or for another question
	wacks    int // WACKs that extended the wait
}

func (e *noResponseError) Error() string {
	attempts := " attempts in "
	if e.attempts == 1 {
		attempts = " attempt in "
	}
	s := "no response to " + e.what + " after " + strconv.Itoa(e.attempts) + attempts +
		e.elapsed.Round(time.Millisecond).String()
	if e.wacks > 0 {
		s += " (" + strconv.Itoa(e.wacks) + " WACKs)"
	}
	if e.ignored > 0 {
		s += " (" + strconv.Itoa(e.ignored) + " datagrams ignored: not an answer to the query)"
	}
	return s
}
func (e *noResponseError) Timeout() bool        { return true }
func (e *noResponseError) Temporary() bool      { return true }
func (e *noResponseError) Is(target error) bool { return target == ErrNoResponse }

// refusedError reports an ICMP port unreachable.
type refusedError struct {
	err error
}

func (e *refusedError) Error() string {
	return "port unreachable: the host refused the datagram (" + e.err.Error() + ")"
}
func (e *refusedError) Unwrap() error        { return e.err }
func (e *refusedError) Is(target error) bool { return target == ErrPortUnreachable }
