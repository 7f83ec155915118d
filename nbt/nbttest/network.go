package nbttest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/session"
)

// TCPWindow is how many bytes a TCP conn of a [Network] has in flight and
// unread by its peer at most: a Write blocks while its peer has that many
// to read, as on a real link with a receive window. Reads reopen the window
// at once; the window update takes no time.
const TCPWindow = 64 << 10

// clientAddr is the address of the client host of every Network.
var clientAddr = netip.AddrFrom4([4]byte{198, 18, 0, 1})

// networkPrefix holds every address of a Network: the benchmarking range
// of RFC 2544, which never reaches the Internet.
var networkPrefix = netip.MustParsePrefix("198.18.0.0/15")

// broadcastAddr is the broadcast address of networkPrefix, its last
// address.
var broadcastAddr = netip.AddrFrom4([4]byte{198, 19, 255, 255})

// maxQueued is how many datagrams a UDP conn holds unread; more are
// dropped, as by a full receive buffer.
const maxQueued = 1024

// A Network is an in-memory IPv4 network, 198.18.0.0/15, whose every
// datagram and every byte takes a fixed delay to reach the other end, in
// either direction. Its conns, listeners and timers need no socket, so that
// a test can count round trips exactly under [testing/synctest]; it works
// in real time too. Only its own addresses can be reached: it never sends
// anything to a real network.
//
// The client host is 198.18.0.1: [Network.Dialer] dials from there, from
// ephemeral ports 49152 and up. Other hosts are made by listening: a host
// exists while something listens on it, TCP or UDP ([Network.Listen],
// [Network.ListenPacket]); a [Server] on the Network takes 198.18.0.2,
// 198.18.0.3, … in the order they start. The client host always exists;
// an address that no test listened on and no Server took, 198.19.0.1 say,
// is a black hole. What happens on the Network, with d the delay:
//
//   - TCP connect: the SYN reaches the host at d. If something listens on
//     the port, DialContext returns the conn at 2d and Accept gets its
//     other end at 3d, with the client's first bytes (the ACK), unless the
//     dial gave up before 2d: then it is never accepted. If the host exists
//     but nothing listens, DialContext fails at 2d with an error that
//     wraps syscall.ECONNREFUSED. If no host has the address, nothing
//     answers, and DialContext waits until its context ends.
//   - TCP bytes: each Write's bytes are readable by the peer d later, in
//     order; at most [TCPWindow] bytes are in flight and unread. Close
//     sends a FIN: the peer reads io.EOF d later, after the bytes before
//     it. After SetLinger(0), Close sends an RST instead: d later the peer
//     reads the bytes that came before it, then gets an error wrapping
//     syscall.ECONNRESET from Read and Write. Bytes that reach a closed
//     conn are dropped; unlike a kernel, the Network answers them with no
//     RST. A listener that closes resets the conns it has not accepted.
//   - UDP: a datagram reaches the conn bound to its destination d later.
//     When none is but the host exists, an ICMP port unreachable comes
//     back at 2d, and a conn from Network.Dialer, which is connected,
//     gets an error wrapping syscall.ECONNREFUSED from its pending or next
//     Read, once (Linux does the same); a conn from ListenPacket ignores
//     it. A datagram to an address no host has is dropped, and so is one
//     from any address but a connected conn's peer. At most 1024
//     datagrams wait unread in a conn; more are dropped.
//   - UDP broadcast: a datagram to 198.19.255.255, the broadcast address
//     of the /15 ([Network.BroadcastAddr]), reaches d later every conn
//     bound to its port, on every host, as if each such conn were bound
//     to the broadcast address too (as nmbd binds a socket to its
//     subnet's); never the conn that sent it, and a connected conn only
//     if it comes from its peer. Nothing comes back for a port that no
//     conn has. No host has the broadcast address: listening on it
//     fails. [Network.Listener] opens the unconnected conns that a
//     broadcast needs, on the client host.
//
// Events that are due at one instant happen in the order they were caused.
// Deadlines, timeouts and errors are those of package net: *[net.OpError]
// values wrapping [os.ErrDeadlineExceeded] (a timeout), [net.ErrClosed],
// or an *[os.SyscallError] with the errno.
//
// Inside a synctest bubble the Network must be created in the bubble, and
// used only there: its timers, and the goroutines that wait on its conns,
// belong to the bubble, and every wait is durable. A Network starts no
// goroutine of its own but the short ones that deliver what is due, so
// nothing outlives the conns and listeners a test closes. As synctest.Test
// does not advance time once its function has returned, close both ends
// of every conn before (a [Server]'s Close closes its own): a goroutine
// that waits for a FIN still in flight would deadlock the bubble.
//
// A Network is safe for concurrent use.
type Network struct {
	delay time.Duration

	mu        sync.Mutex
	timer     *time.Timer // runs the events that are due
	armed     time.Time   // when timer fires; zero when not armed
	events    []event     // by time; at one time, in the order scheduled
	listeners map[netip.AddrPort]*listener
	tcpPorts  map[netip.AddrPort]bool // bound by listeners and client conns
	udp       map[netip.AddrPort]*udpConn
	hosts     map[netip.Addr]int // listeners and packet conns on each host
	connects  map[netip.AddrPort]int
	port      uint16     // the next ephemeral port to try
	lastHost  netip.Addr // the last address given to a Server
}

// NewNetwork returns an empty Network with the given one-way delay. It
// panics if delay is negative.
func NewNetwork(delay time.Duration) *Network {
	if delay < 0 {
		panic("nbttest: negative Network delay")
	}
	n := &Network{
		delay:     delay,
		listeners: make(map[netip.AddrPort]*listener),
		tcpPorts:  make(map[netip.AddrPort]bool),
		udp:       make(map[netip.AddrPort]*udpConn),
		hosts:     make(map[netip.Addr]int),
		connects:  make(map[netip.AddrPort]int),
		port:      firstEphemeral,
		lastHost:  clientAddr,
	}
	// Made here, so that its timer belongs to the creator's bubble.
	n.timer = time.AfterFunc(time.Hour, n.run)
	n.timer.Stop()
	return n
}

const firstEphemeral = 49152

// RTT returns the round-trip time of the Network, twice its delay.
func (n *Network) RTT() time.Duration { return 2 * n.delay }

// BroadcastAddr returns the Network's broadcast address, 198.19.255.255:
// a UDP datagram sent there reaches every conn bound to its port.
func (n *Network) BroadcastAddr() netip.Addr { return broadcastAddr }

// Connects returns how many TCP connects to addr have been attempted so
// far, SYNs sent, whether they were accepted, refused, or unanswered.
func (n *Network) Connects(addr netip.AddrPort) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.connects[addr]
}

// Dialer returns a dialer of conns from 198.18.0.1. Its networks are
// "tcp" and "tcp4", which give conns with a SetLinger method as
// *net.TCPConn has, and "udp" and "udp4", which give connected UDP conns:
// each Write sends a datagram and each Read returns one. Addresses are
// IPv4 address and port, in 198.18.0.0/15.
func (n *Network) Dialer() session.ContextDialer { return dialer{n} }

type dialer struct{ n *Network }

// Listener returns a listener of unconnected UDP conns on the Network,
// which an nbns.Client takes as its Listener for broadcast queries. Its
// ListenPacket takes the networks "udp" and "udp4" and an IPv4 address
// and port in 198.18.0.0/15, as [Network.ListenPacket] does, or an
// unspecified host ("0.0.0.0:0", ":0"), which means the client host,
// 198.18.0.1, as a socket bound to INADDR_ANY takes the host's address. It
// fails at once if ctx is done.
func (n *Network) Listener() nbns.PacketListener { return packetListener{n} }

type packetListener struct{ n *Network }

// ListenPacket opens an unconnected UDP conn on address.
func (l packetListener) ListenPacket(ctx context.Context, network, address string) (net.PacketConn, error) {
	if ctx == nil {
		panic("nbttest: nil context")
	}
	if err := ctx.Err(); err != nil {
		return nil, &net.OpError{Op: "listen", Net: network, Err: err}
	}
	if host, port, err := net.SplitHostPort(address); err == nil && (host == "" || host == "0.0.0.0") {
		address = net.JoinHostPort(clientAddr.String(), port)
	}
	return l.n.ListenPacket(network, address)
}

// DialContext dials address on network.
func (d dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if ctx == nil {
		panic("nbttest: nil context")
	}
	n := d.n
	switch network {
	case "tcp", "tcp4":
		raddr, err := parseAddr(address)
		if err != nil {
			return nil, &net.OpError{Op: "dial", Net: network, Addr: tcpAddr(raddr), Err: err}
		}
		return n.dialTCP(ctx, network, raddr)
	case "udp", "udp4":
		raddr, err := parseAddr(address)
		if err != nil {
			return nil, &net.OpError{Op: "dial", Net: network, Addr: udpAddr(raddr), Err: err}
		}
		return n.dialUDP(ctx, network, raddr)
	}
	return nil, &net.OpError{Op: "dial", Net: network, Err: net.UnknownNetworkError(network)}
}

// Listen listens for TCP connects on address, an IPv4 address and port in
// 198.18.0.0/15; port 0 means an ephemeral port. network is "tcp" or
// "tcp4". The host at that address exists from then on, until the last
// listener and packet conn on it close.
func (n *Network) Listen(network, address string) (net.Listener, error) {
	if network != "tcp" && network != "tcp4" {
		return nil, &net.OpError{Op: "listen", Net: network, Err: net.UnknownNetworkError(network)}
	}
	ap, err := parseAddr(address)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: network, Addr: tcpAddr(ap), Err: err}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if ap, err = n.bind(ap, func(a netip.AddrPort) bool { return n.tcpPorts[a] }); err != nil {
		return nil, &net.OpError{Op: "listen", Net: network, Addr: net.TCPAddrFromAddrPort(ap), Err: err}
	}
	l := &listener{n: n, net: network, ap: ap, addr: net.TCPAddrFromAddrPort(ap)}
	n.listeners[ap] = l
	n.tcpPorts[ap] = true
	n.hosts[ap.Addr()]++
	return l, nil
}

// ListenPacket opens an unconnected UDP conn on address, an IPv4 address
// and port in 198.18.0.0/15; port 0 means an ephemeral port. network is
// "udp" or "udp4". Its addresses are *net.UDPAddr values. The host at that
// address exists from then on, until the last listener and packet conn on
// it close.
func (n *Network) ListenPacket(network, address string) (net.PacketConn, error) {
	if network != "udp" && network != "udp4" {
		return nil, &net.OpError{Op: "listen", Net: network, Err: net.UnknownNetworkError(network)}
	}
	ap, err := parseAddr(address)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: network, Addr: udpAddr(ap), Err: err}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if ap, err = n.bind(ap, n.udpBound); err != nil {
		return nil, &net.OpError{Op: "listen", Net: network, Addr: net.UDPAddrFromAddrPort(ap), Err: err}
	}
	c := &udpConn{n: n, net: network, local: ap, laddr: net.UDPAddrFromAddrPort(ap), listened: true}
	n.udp[ap] = c
	n.hosts[ap.Addr()]++
	return c, nil
}

var errNotOnNetwork = errors.New("nbttest: address not on the in-memory network 198.18.0.0/15")

// tcpAddr returns ap as a *net.TCPAddr, and nil for the zero AddrPort.
func tcpAddr(ap netip.AddrPort) net.Addr {
	if !ap.IsValid() {
		return nil
	}
	return net.TCPAddrFromAddrPort(ap)
}

// udpAddr returns ap as a *net.UDPAddr, and nil for the zero AddrPort.
func udpAddr(ap netip.AddrPort) net.Addr {
	if !ap.IsValid() {
		return nil
	}
	return net.UDPAddrFromAddrPort(ap)
}

// parseAddr parses an IPv4 address and port of the network.
func parseAddr(address string) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return netip.AddrPort{}, &net.AddrError{Err: "not an IPv4 address and port", Addr: address}
	}
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	if !networkPrefix.Contains(ap.Addr()) {
		return ap, errNotOnNetwork
	}
	return ap, nil
}

// bind returns ap, or an ephemeral port of its host when its port is 0,
// if used does not report it in use. n.mu must be held.
func (n *Network) bind(ap netip.AddrPort, used func(netip.AddrPort) bool) (netip.AddrPort, error) {
	if ap.Addr() == broadcastAddr {
		return ap, os.NewSyscallError("bind", syscall.EADDRNOTAVAIL)
	}
	if ap.Port() == 0 {
		return n.ephemeral(ap.Addr(), used)
	}
	if used(ap) {
		return ap, os.NewSyscallError("bind", syscall.EADDRINUSE)
	}
	return ap, nil
}

// ephemeral returns a port of host from 49152 up that used does not report
// in use. n.mu must be held.
func (n *Network) ephemeral(host netip.Addr, used func(netip.AddrPort) bool) (netip.AddrPort, error) {
	for range 1<<16 - firstEphemeral {
		ap := netip.AddrPortFrom(host, n.port)
		if n.port++; n.port == 0 {
			n.port = firstEphemeral
		}
		if !used(ap) {
			return ap, nil
		}
	}
	return netip.AddrPortFrom(host, 0), os.NewSyscallError("bind", syscall.EADDRNOTAVAIL)
}

func (n *Network) udpBound(ap netip.AddrPort) bool { return n.udp[ap] != nil }

// exists reports whether a host has addr. n.mu must be held.
func (n *Network) exists(addr netip.Addr) bool {
	return addr == clientAddr || n.hosts[addr] > 0
}

// newHost returns the next address that no host has, for a Server.
func (n *Network) newHost() netip.Addr {
	n.mu.Lock()
	defer n.mu.Unlock()
	for {
		n.lastHost = n.lastHost.Next()
		if !networkPrefix.Contains(n.lastHost) || n.lastHost == broadcastAddr {
			panic("nbttest: Network out of host addresses")
		}
		if !n.exists(n.lastHost) {
			return n.lastHost
		}
	}
}

// An event is something that happens on the network at a given time.
type event struct {
	at time.Time
	f  func()
}

// after makes f run d from now, with n.mu held. Events due at one time run
// in the order they were scheduled. n.mu must be held.
func (n *Network) after(d time.Duration, f func()) {
	at := time.Now().Add(d)
	i, _ := slices.BinarySearchFunc(n.events, at, func(e event, t time.Time) int {
		if e.at.After(t) {
			return 1
		}
		return -1 // e is due first, or at t and scheduled before
	})
	n.events = slices.Insert(n.events, i, event{at, f})
	if n.armed.IsZero() || at.Before(n.armed) {
		n.armed = at
		n.timer.Reset(d)
	}
}

// run runs the events that are due, and sets the timer for the next.
func (n *Network) run() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.armed = time.Time{}
	for len(n.events) > 0 {
		now := time.Now()
		e := n.events[0]
		if e.at.After(now) {
			n.armed = e.at
			n.timer.Reset(e.at.Sub(now))
			return
		}
		n.events[0] = event{}
		n.events = n.events[1:]
		e.f()
	}
}

// A waker wakes the goroutines waiting for a change of what it guards.
type waker struct{ ch chan struct{} }

// signal wakes every waiter. n.mu must be held.
func (w *waker) signal() {
	if w.ch != nil {
		close(w.ch)
		w.ch = nil
	}
}

// wait releases n.mu until w is signalled, deadline (if not zero) passes,
// or done is closed, and takes it again. n.mu must be held.
func (n *Network) wait(w *waker, deadline time.Time, done <-chan struct{}) {
	if w.ch == nil {
		w.ch = make(chan struct{})
	}
	ch := w.ch
	var expire <-chan time.Time
	if !deadline.IsZero() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		expire = t.C
	}
	n.mu.Unlock()
	select {
	case <-ch:
	case <-expire:
	case <-done:
	}
	n.mu.Lock()
}

// expired reports whether deadline is set and has passed.
func expired(deadline time.Time) bool {
	return !deadline.IsZero() && !time.Now().Before(deadline)
}

// A connect is a TCP connect in progress.
type connect struct {
	wake    waker
	conn    *tcpConn // the client end, once the SYN-ACK is back
	err     error    // the refusal
	aborted bool     // the dialer gave up
}

func (n *Network) dialTCP(ctx context.Context, network string, raddr netip.AddrPort) (net.Conn, error) {
	opErr := func(err error) error {
		return &net.OpError{Op: "dial", Net: network, Addr: net.TCPAddrFromAddrPort(raddr), Err: err}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, opErr(err)
	}
	laddr, err := n.ephemeral(clientAddr, func(a netip.AddrPort) bool { return n.tcpPorts[a] })
	if err != nil {
		return nil, opErr(err)
	}
	n.tcpPorts[laddr] = true
	n.connects[raddr]++
	a := new(connect)
	n.after(n.delay, func() { n.syn(a, network, laddr, raddr) })
	for a.conn == nil && a.err == nil && ctx.Err() == nil {
		n.wait(&a.wake, time.Time{}, ctx.Done())
	}
	if err := ctx.Err(); err != nil || a.err != nil {
		if err == nil {
			err = a.err
		}
		a.aborted = true
		if a.conn != nil { // connected as ctx ended: never return a conn then
			a.conn.p.half = [2]half{{closed: true}, {closed: true}}
		}
		delete(n.tcpPorts, laddr)
		return nil, opErr(err)
	}
	return a.conn, nil
}

// syn runs when the SYN of a reaches raddr. n.mu must be held.
func (n *Network) syn(a *connect, network string, laddr, raddr netip.AddrPort) {
	if a.aborted {
		return
	}
	l := n.listeners[raddr]
	switch {
	case l != nil:
		p := &pair{
			n:     n,
			net:   [2]string{network, l.net},
			addr:  [2]*net.TCPAddr{net.TCPAddrFromAddrPort(laddr), l.addr},
			local: laddr,
		}
		n.after(n.delay, func() { // the SYN-ACK reaches the client
			if a.aborted {
				return
			}
			a.conn = &tcpConn{p: p, side: 0}
			a.wake.signal()
			n.after(n.delay, func() { // the ACK reaches the server
				if a.aborted {
					return
				}
				server := &tcpConn{p: p, side: 1}
				if l.closed {
					server.closeLocked(true)
					return
				}
				l.queue = append(l.queue, server)
				l.wake.signal()
			})
		})
	case n.exists(raddr.Addr()):
		n.after(n.delay, func() { // the RST reaches the client
			a.err = os.NewSyscallError("connect", syscall.ECONNREFUSED)
			a.wake.signal()
		})
	}
}

// A listener is a TCP listener on a Network.
type listener struct {
	n     *Network
	net   string
	ap    netip.AddrPort
	addr  *net.TCPAddr
	queue []*tcpConn // connected, not accepted
	wake  waker
	// closed is guarded by n.mu.
	closed bool
}

// Accept waits for and returns the next connection.
func (l *listener) Accept() (net.Conn, error) {
	n := l.n
	n.mu.Lock()
	defer n.mu.Unlock()
	for {
		if l.closed {
			return nil, &net.OpError{Op: "accept", Net: l.net, Addr: l.addr, Err: net.ErrClosed}
		}
		if len(l.queue) > 0 {
			c := l.queue[0]
			l.queue[0] = nil
			l.queue = l.queue[1:]
			return c, nil
		}
		n.wait(&l.wake, time.Time{}, nil)
	}
}

// Close stops listening, unblocks Accept, and resets the connections not
// accepted.
func (l *listener) Close() error {
	n := l.n
	n.mu.Lock()
	defer n.mu.Unlock()
	if l.closed {
		return &net.OpError{Op: "close", Net: l.net, Addr: l.addr, Err: net.ErrClosed}
	}
	l.closed = true
	delete(n.listeners, l.ap)
	delete(n.tcpPorts, l.ap)
	n.unhost(l.ap.Addr())
	for _, c := range l.queue {
		c.closeLocked(true)
	}
	l.queue = nil
	l.wake.signal()
	return nil
}

// Addr returns the listener's address, a *net.TCPAddr.
func (l *listener) Addr() net.Addr { return l.addr }

// unhost drops a listener or packet conn from its host. n.mu must be held.
func (n *Network) unhost(addr netip.Addr) {
	if n.hosts[addr]--; n.hosts[addr] <= 0 {
		delete(n.hosts, addr)
	}
}

// A pair is a TCP connection: side 0 is the client, side 1 the server.
// Its fields are guarded by n.mu.
type pair struct {
	n     *Network
	net   [2]string       // the network each side names in errors
	addr  [2]*net.TCPAddr // each side's address
	local netip.AddrPort  // the client's port, freed when it closes
	half  [2]half         // each side's state
	wake  waker           // any change to either side
}

// half is the state of one side of a pair.
type half struct {
	in       []byte // arrived from the peer, unread
	fin, rst bool   // arrived from the peer
	inflight int    // bytes sent, not yet arrived at the peer
	closed   bool
	linger0  bool // Close sends an RST
	rd, wd   time.Time
}

// A tcpConn is one side of a TCP connection on a Network.
type tcpConn struct {
	p    *pair
	side int
}

func (c *tcpConn) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: c.p.net[c.side], Source: c.p.addr[c.side], Addr: c.p.addr[1-c.side], Err: err}
}

// Read reads the bytes that have arrived, waiting for some, for the FIN
// or the RST, for the read deadline or for Close.
func (c *tcpConn) Read(b []byte) (int, error) {
	n := c.p.n
	n.mu.Lock()
	defer n.mu.Unlock()
	me := &c.p.half[c.side]
	for {
		switch {
		case me.closed:
			return 0, c.opErr("read", net.ErrClosed)
		case len(b) == 0:
			return 0, nil
		case expired(me.rd):
			return 0, c.opErr("read", os.ErrDeadlineExceeded)
		case len(me.in) > 0:
			k := copy(b, me.in)
			if me.in = me.in[k:]; len(me.in) == 0 {
				me.in = nil
			}
			c.p.wake.signal() // the window opens
			return k, nil
		case me.rst:
			return 0, c.opErr("read", os.NewSyscallError("read", syscall.ECONNRESET))
		case me.fin:
			return 0, io.EOF
		}
		n.wait(&c.p.wake, me.rd, nil)
	}
}

// Write sends b, waiting while the window is full.
func (c *tcpConn) Write(b []byte) (int, error) {
	n := c.p.n
	n.mu.Lock()
	defer n.mu.Unlock()
	me, peer := &c.p.half[c.side], &c.p.half[1-c.side]
	written := 0
	for {
		switch {
		case me.closed:
			return written, c.opErr("write", net.ErrClosed)
		case expired(me.wd):
			return written, c.opErr("write", os.ErrDeadlineExceeded)
		case me.rst:
			return written, c.opErr("write", os.NewSyscallError("write", syscall.ECONNRESET))
		case written == len(b):
			return written, nil
		}
		if k := min(len(b)-written, TCPWindow-me.inflight-len(peer.in)); k > 0 {
			chunk := bytes.Clone(b[written : written+k])
			me.inflight += k
			written += k
			from := c.side
			n.after(n.delay, func() { c.p.arrive(from, chunk) })
			if written == len(b) {
				return written, nil
			}
			continue
		}
		n.wait(&c.p.wake, me.wd, nil)
	}
}

// arrive delivers b, sent by side from, to its peer. n.mu must be held.
func (p *pair) arrive(from int, b []byte) {
	p.half[from].inflight -= len(b)
	if to := &p.half[1-from]; !to.closed {
		to.in = append(to.in, b...)
	}
	p.wake.signal()
}

// Close closes the conn: it sends a FIN, or an RST after SetLinger(0).
func (c *tcpConn) Close() error {
	n := c.p.n
	n.mu.Lock()
	defer n.mu.Unlock()
	me := &c.p.half[c.side]
	if me.closed {
		return c.opErr("close", net.ErrClosed)
	}
	c.closeLocked(me.linger0)
	return nil
}

// closeLocked closes the conn, sending an RST if rst is set and a FIN
// otherwise. n.mu must be held.
func (c *tcpConn) closeLocked(rst bool) {
	n, p := c.p.n, c.p
	me := &p.half[c.side]
	me.closed, me.in = true, nil
	if !me.rst {
		peer := 1 - c.side
		n.after(n.delay, func() {
			if rst {
				p.half[peer].rst = true
			} else {
				p.half[peer].fin = true
			}
			p.wake.signal()
		})
	}
	if c.side == 0 {
		delete(n.tcpPorts, p.local)
	}
	p.wake.signal()
}

// SetLinger sets what Close does, as [net.TCPConn.SetLinger] does: with
// sec 0, Close sends an RST, and otherwise a FIN. Either comes after the
// bytes already written, which are all in flight: a Network has no send
// buffer to discard.
func (c *tcpConn) SetLinger(sec int) error {
	return c.set(func(h *half) { h.linger0 = sec == 0 })
}

// LocalAddr returns the conn's own address, a *net.TCPAddr.
func (c *tcpConn) LocalAddr() net.Addr { return c.p.addr[c.side] }

// RemoteAddr returns the peer's address, a *net.TCPAddr.
func (c *tcpConn) RemoteAddr() net.Addr { return c.p.addr[1-c.side] }

// SetDeadline sets the read and write deadlines.
func (c *tcpConn) SetDeadline(t time.Time) error {
	return c.set(func(h *half) { h.rd, h.wd = t, t })
}

// SetReadDeadline sets the read deadline.
func (c *tcpConn) SetReadDeadline(t time.Time) error {
	return c.set(func(h *half) { h.rd = t })
}

// SetWriteDeadline sets the write deadline.
func (c *tcpConn) SetWriteDeadline(t time.Time) error {
	return c.set(func(h *half) { h.wd = t })
}

// set changes the conn's state with f and wakes its waiters.
func (c *tcpConn) set(f func(*half)) error {
	n := c.p.n
	n.mu.Lock()
	defer n.mu.Unlock()
	me := &c.p.half[c.side]
	if me.closed {
		return c.opErr("set", net.ErrClosed)
	}
	f(me)
	c.p.wake.signal()
	return nil
}

func (n *Network) dialUDP(ctx context.Context, network string, raddr netip.AddrPort) (net.Conn, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Addr: net.UDPAddrFromAddrPort(raddr), Err: err}
	}
	laddr, err := n.ephemeral(clientAddr, n.udpBound)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Addr: net.UDPAddrFromAddrPort(raddr), Err: err}
	}
	c := &udpConn{
		n: n, net: network,
		local: laddr, laddr: net.UDPAddrFromAddrPort(laddr),
		peer: raddr, raddr: net.UDPAddrFromAddrPort(raddr),
	}
	n.udp[laddr] = c
	return c, nil
}

// A udpConn is a UDP conn on a Network: connected to peer when it is
// valid, as the dialer's are. Its fields are guarded by n.mu.
type udpConn struct {
	n        *Network
	net      string
	local    netip.AddrPort
	laddr    *net.UDPAddr
	peer     netip.AddrPort // valid when connected
	raddr    net.Addr       // a *net.UDPAddr; nil when not connected
	listened bool           // made by ListenPacket: part of its host
	queue    []datagram     // arrived, unread
	refused  bool           // an ICMP port unreachable arrived, unreported
	closed   bool
	rd, wd   time.Time
	wake     waker
}

type datagram struct {
	b    []byte
	from netip.AddrPort
}

func (c *udpConn) opErr(op string, addr net.Addr, err error) error {
	return &net.OpError{Op: op, Net: c.net, Source: c.laddr, Addr: addr, Err: err}
}

// Read reads a datagram into b; the rest of a longer one is lost.
func (c *udpConn) Read(b []byte) (int, error) {
	k, _, err := c.ReadFrom(b)
	return k, err
}

// ReadFrom reads a datagram into b and returns its source, a
// *net.UDPAddr; the rest of a longer datagram is lost.
func (c *udpConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n := c.n
	n.mu.Lock()
	defer n.mu.Unlock()
	for {
		switch {
		case c.closed:
			return 0, nil, c.opErr("read", c.raddr, net.ErrClosed)
		case expired(c.rd):
			return 0, nil, c.opErr("read", c.raddr, os.ErrDeadlineExceeded)
		case c.refused:
			c.refused = false
			return 0, nil, c.opErr("read", c.raddr, os.NewSyscallError("read", syscall.ECONNREFUSED))
		case len(c.queue) > 0:
			d := c.queue[0]
			c.queue[0] = datagram{}
			c.queue = c.queue[1:]
			return copy(b, d.b), net.UDPAddrFromAddrPort(d.from), nil
		}
		n.wait(&c.wake, c.rd, nil)
	}
}

// Write sends b as a datagram to the peer of a connected conn.
func (c *udpConn) Write(b []byte) (int, error) {
	if !c.peer.IsValid() {
		return 0, c.opErr("write", nil, os.NewSyscallError("write", syscall.EDESTADDRREQ))
	}
	return c.send(b, c.peer, c.raddr)
}

// WriteTo sends b as a datagram to addr, a *net.UDPAddr or an address
// whose String is an IPv4 address and port, from an unconnected conn.
func (c *udpConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.peer.IsValid() {
		return 0, c.opErr("write", addr, net.ErrWriteToConnected)
	}
	var to netip.AddrPort
	var err error
	if ua, ok := addr.(*net.UDPAddr); ok {
		to = ua.AddrPort()
		to = netip.AddrPortFrom(to.Addr().Unmap(), to.Port())
		if !networkPrefix.Contains(to.Addr()) {
			err = errNotOnNetwork
		}
	} else if addr != nil {
		to, err = parseAddr(addr.String())
	} else {
		err = errors.New("nbttest: nil address")
	}
	if err != nil {
		return 0, c.opErr("write", addr, err)
	}
	return c.send(b, to, addr)
}

func (c *udpConn) send(b []byte, to netip.AddrPort, addr net.Addr) (int, error) {
	n := c.n
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case c.closed:
		return 0, c.opErr("write", addr, net.ErrClosed)
	case expired(c.wd):
		return 0, c.opErr("write", addr, os.ErrDeadlineExceeded)
	}
	d := datagram{bytes.Clone(b), c.local}
	n.after(n.delay, func() { n.deliver(c, to, d) })
	return len(b), nil
}

// deliver runs when d, sent by from, reaches to. n.mu must be held.
func (n *Network) deliver(from *udpConn, to netip.AddrPort, d datagram) {
	if to.Addr() == broadcastAddr {
		n.broadcast(from, to.Port(), d)
		return
	}
	dst := n.udp[to]
	switch {
	case dst != nil:
		dst.enqueue(d)
	case n.exists(to.Addr()):
		n.after(n.delay, func() { // the ICMP port unreachable comes back
			if !from.closed && from.peer == to {
				from.refused = true
				from.wake.signal()
			}
		})
	}
}

// enqueue queues d, which has reached c, unless c is connected to
// another peer or its queue is full. n.mu must be held.
func (c *udpConn) enqueue(d datagram) {
	if c.peer.IsValid() && c.peer != d.from {
		return // not from the peer: the kernel drops it
	}
	if len(c.queue) < maxQueued {
		c.queue = append(c.queue, d)
		c.wake.signal()
	}
}

// broadcast delivers d, sent by from to the broadcast address, to every
// other conn bound to port, in the order of their addresses. n.mu must be
// held.
func (n *Network) broadcast(from *udpConn, port uint16, d datagram) {
	var dsts []*udpConn
	for ap, c := range n.udp {
		if ap.Port() == port && c != from {
			dsts = append(dsts, c)
		}
	}
	slices.SortFunc(dsts, func(a, b *udpConn) int { return a.local.Compare(b.local) })
	for _, c := range dsts {
		c.enqueue(datagram{bytes.Clone(d.b), d.from})
	}
}

// Close closes the conn and unblocks its pending I/O.
func (c *udpConn) Close() error {
	n := c.n
	n.mu.Lock()
	defer n.mu.Unlock()
	if c.closed {
		return c.opErr("close", c.raddr, net.ErrClosed)
	}
	c.closed, c.queue = true, nil
	delete(n.udp, c.local)
	if c.listened {
		n.unhost(c.local.Addr())
	}
	c.wake.signal()
	return nil
}

// LocalAddr returns the conn's own address, a *net.UDPAddr.
func (c *udpConn) LocalAddr() net.Addr { return c.laddr }

// RemoteAddr returns the peer of a connected conn, a *net.UDPAddr, and nil
// for one that is not.
func (c *udpConn) RemoteAddr() net.Addr { return c.raddr }

// SetDeadline sets the read and write deadlines.
func (c *udpConn) SetDeadline(t time.Time) error {
	return c.set(func() { c.rd, c.wd = t, t })
}

// SetReadDeadline sets the read deadline.
func (c *udpConn) SetReadDeadline(t time.Time) error {
	return c.set(func() { c.rd = t })
}

// SetWriteDeadline sets the write deadline.
func (c *udpConn) SetWriteDeadline(t time.Time) error {
	return c.set(func() { c.wd = t })
}

func (c *udpConn) set(f func()) error {
	n := c.n
	n.mu.Lock()
	defer n.mu.Unlock()
	if c.closed {
		return c.opErr("set", c.raddr, net.ErrClosed)
	}
	f()
	c.wake.signal()
	return nil
}
