package nbttest

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/netbios-go/netbios/session"
)

// A Relay adds network latency in front of a host: it forwards TCP
// connections and UDP datagrams between ports of its own on loopback and a
// target, delaying every byte and datagram by Delay in each direction, so
// that a round trip through it takes 2×Delay. It stands in for tc netem,
// which needs root and a kernel module.
//
// A userspace relay cannot delay the TCP handshake: the kernel completes it
// before the relay sees the connection. The dialer returned by
// [Relay.Dialer] adds that round trip to each connect, so that a dial
// through it costs what it would on a real link.
type Relay struct {
	// Delay is the one-way delay.
	Delay time.Duration

	// Addr is the relay's TCP address, forwarding to the TCP target.
	Addr netip.AddrPort

	// NameAddr is the relay's UDP address, forwarding to the UDP target.
	// When the UDP target refuses datagrams (ICMP port unreachable), the
	// relay closes this port, so that the client's next datagram is
	// refused too, without the delay.
	NameAddr netip.AddrPort

	tcpTarget, udpTarget netip.AddrPort
	ln                   net.Listener
	pc                   *net.UDPConn
	closed               chan struct{}
	mu                   sync.Mutex
	conns                map[closer]struct{}
	wg                   sync.WaitGroup
}

// closer is what the relay tracks, to close it on Close.
type closer interface{ Close() error }

// NewRelay starts a relay to tcpTarget and udpTarget with the given one-way
// delay. An invalid udpTarget leaves the relay's UDP port closed.
func NewRelay(tcpTarget, udpTarget netip.AddrPort, delay time.Duration) (*Relay, error) {
	r := &Relay{
		Delay: delay, tcpTarget: tcpTarget, udpTarget: udpTarget,
		closed: make(chan struct{}), conns: make(map[closer]struct{}),
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r.ln = ln
	r.Addr = ln.Addr().(*net.TCPAddr).AddrPort()
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		ln.Close()
		return nil, err
	}
	r.NameAddr = pc.LocalAddr().(*net.UDPAddr).AddrPort()
	if udpTarget.IsValid() {
		r.pc = pc
		r.wg.Go(r.serveUDP)
	} else {
		pc.Close()
	}
	r.wg.Go(r.serveTCP)
	return r, nil
}

// RelayServer starts a relay in front of s: its session service and its
// name service. It panics on error, like NewServer.
func RelayServer(s *Server, delay time.Duration) *Relay {
	udp := s.NameAddr
	if s.NameService == RejectQueries {
		udp = netip.AddrPort{}
	}
	r, err := NewRelay(s.Addr, udp, delay)
	if err != nil {
		panic("nbttest: " + err.Error())
	}
	return r
}

// RTT returns the round-trip time through the relay, 2×Delay.
func (r *Relay) RTT() time.Duration { return 2 * r.Delay }

// Dialer returns a dialer for TCP connections through the relay that takes
// one round trip to connect, as the TCP handshake does on a real link.
func (r *Relay) Dialer() session.ContextDialer {
	return handshakeDialer{r.RTT()}
}

type handshakeDialer struct{ rtt time.Duration }

func (d handshakeDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	t := time.NewTimer(d.rtt) // SYN out, SYN-ACK back
	defer t.Stop()
	select {
	case <-t.C:
		return c, nil
	case <-ctx.Done():
		c.Close()
		return nil, ctx.Err()
	}
}

// Close stops the relay and closes every connection through it, and waits
// for its goroutines.
func (r *Relay) Close() {
	r.mu.Lock()
	select {
	case <-r.closed:
		r.mu.Unlock()
		return
	default:
	}
	close(r.closed)
	r.ln.Close()
	if r.pc != nil {
		r.pc.Close()
	}
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// track registers c to be closed by Close; it reports false once closed.
func (r *Relay) track(c closer) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	select {
	case <-r.closed:
		return false
	default:
	}
	r.conns[c] = struct{}{}
	return true
}

func (r *Relay) untrack(c closer) {
	r.mu.Lock()
	delete(r.conns, c)
	r.mu.Unlock()
	c.Close()
}

func (r *Relay) serveTCP() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		if !r.track(c) {
			c.Close()
			return
		}
		r.wg.Go(func() {
			defer r.untrack(c)
			up, err := net.Dial("tcp", r.tcpTarget.String())
			if err != nil {
				return
			}
			if !r.track(up) {
				up.Close()
				return
			}
			defer r.untrack(up)
			done := make(chan struct{}, 2)
			go func() { r.pipe(up, c); done <- struct{}{} }()
			go func() { r.pipe(c, up); done <- struct{}{} }()
			<-done // one side ended: end both
			c.Close()
			up.Close()
			<-done
		})
	}
}

// chunk is data read at a time, to be written Delay later.
type chunk struct {
	b   []byte
	due time.Time
}

// pipe copies src to dst, each read delayed by r.Delay, in order.
func (r *Relay) pipe(dst, src net.Conn) {
	q := make(chan chunk, 256)
	go func() {
		defer close(q)
		for {
			b := make([]byte, 32<<10)
			n, err := src.Read(b)
			if n > 0 {
				select {
				case q <- chunk{b[:n], time.Now().Add(r.Delay)}:
				case <-r.closed:
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range q {
		if !r.sleepUntil(c.due) {
			break
		}
		if _, err := dst.Write(c.b); err != nil {
			break
		}
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
	for range q { // let the reader finish
	}
}

func (r *Relay) sleepUntil(t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return true
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-r.closed:
		return false
	}
}

// serveUDP forwards datagrams from clients to the UDP target through one
// upstream socket per client, so that replies find their way back.
func (r *Relay) serveUDP() {
	ups := make(map[netip.AddrPort]*net.UDPConn)
	buf := make([]byte, 64<<10)
	for {
		n, from, err := r.pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		up := ups[from]
		if up == nil {
			up, err = net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(r.udpTarget))
			if err != nil || !r.track(up) {
				continue
			}
			ups[from] = up
			r.wg.Go(func() { r.replies(up, from) })
		}
		b := append([]byte(nil), buf[:n]...)
		due := time.Now().Add(r.Delay)
		r.wg.Go(func() {
			if r.sleepUntil(due) {
				up.Write(b)
			}
		})
	}
}

// replies sends the target's replies on up back to client, delayed.
func (r *Relay) replies(up *net.UDPConn, client netip.AddrPort) {
	defer r.untrack(up)
	buf := make([]byte, 64<<10)
	for {
		n, err := up.Read(buf)
		if errors.Is(err, syscall.ECONNREFUSED) {
			r.pc.Close() // the target refuses: so does the relay from now on
			return
		}
		if err != nil {
			return
		}
		b := append([]byte(nil), buf[:n]...)
		due := time.Now().Add(r.Delay)
		r.wg.Go(func() {
			if r.sleepUntil(due) {
				r.pc.WriteToUDPAddrPort(b, client)
			}
		})
	}
}
