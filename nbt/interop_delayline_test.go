//go:build interop

package nbt_test

// A delay line at L3 for the interop tests: two TUN devices, one in the root
// namespace and one in the lab's, joined by goroutines that copy each IP
// packet to the other side after exactly the one-way delay, in order. Host
// routes send only the test's traffic through it, so that every packet of a
// dial (TCP SYN, data, FIN, UDP, ICMP) takes the delay, as on a real link;
// and it counts, exactly, from the packets it forwards, what a dial costs
// the server.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// The delay line's TUN devices: tunHost stays in the root namespace,
// tunNS is moved into the lab's. They exist only while a test holds
// their file descriptors: the kernel deletes a TUN device that is not
// persistent, with its routes, when its last descriptor closes, so a killed
// test leaves neither behind.
const (
	tunHost = "nbtdl0"
	tunNS   = "nbtdl1"
)

// rootAddr is the root namespace's address on the lab's veth, the
// source of every packet a test sends into the lab.
var rootAddr = netip.MustParseAddr("198.18.0.1")

// delayLineRange holds every address the delay line forwards to or from (RFC
// 2544, the lab's range): anything else is dropped, so that nothing the
// tests do leaves the lab and loopback.
var delayLineRange = netip.MustParsePrefix("198.18.0.0/15")

// barrierPort and barrierMagic mark the barrier datagram of
// delayLine.Sync. UDP 9 is discard; the datagram is never forwarded.
const (
	barrierPort  = 9
	barrierMagic = "netbios-go delay line barrier "
)

// packetCounts is what the delay line has seen go from the root namespace
// into the lab, counted exactly from the packets.
type packetCounts struct {
	Connects        int           // TCP connections opened to port 139: SYNs without ACK, retransmissions not counted
	SessionRequests int           // of those, connections whose first payload byte is 0x81 (a session request)
	OtherFirst      int           // connections whose first payload byte is anything else
	NodeStatus      int           // datagrams to UDP 137 that are NBSTAT queries (QTYPE 0x21), retransmissions included
	NameQueries     int           // other datagrams to UDP 137
	Answers         int           // session requests that got a first byte back from port 139
	Think           time.Duration // the server's time to those first bytes, summed: sent at the lab side minus the request's arrival there
	Forwarded       [2]int
	Dropped         int // packets not forwarded: not IPv4 between two addresses of delayLineRange
}

// sub returns c - o, field by field.
func (c packetCounts) sub(o packetCounts) packetCounts {
	return packetCounts{
		Connects:        c.Connects - o.Connects,
		SessionRequests: c.SessionRequests - o.SessionRequests,
		OtherFirst:      c.OtherFirst - o.OtherFirst,
		NodeStatus:      c.NodeStatus - o.NodeStatus,
		NameQueries:     c.NameQueries - o.NameQueries,
		Answers:         c.Answers - o.Answers,
		Think:           c.Think - o.Think,
		Forwarded:       [2]int{c.Forwarded[0] - o.Forwarded[0], c.Forwarded[1] - o.Forwarded[1]},
		Dropped:         c.Dropped - o.Dropped,
	}
}

// tcpFlow is a TCP connection as the client sees it.
type tcpFlow struct{ src, dst netip.AddrPort }

type flowState struct {
	isn       uint32    // the SYN's sequence number
	firstSeen bool      // the first payload byte has been seen
	request   time.Time // when a session request was read from the root side
	answered  bool      // the server's first payload byte has been seen
}

// delayLine is the running delay line.
type delayLine struct {
	OneWay time.Duration

	host, ns *os.File // the TUN devices: root side, lab side

	mu       sync.Mutex
	counts   packetCounts
	flows    map[tcpFlow]*flowState
	barriers map[string]chan struct{}
	nextID   int

	wg sync.WaitGroup
}

// openTun creates the TUN device name (IFF_TUN, no packet information)
// and returns its descriptor, non-blocking, so that the runtime's poller
// serves its reads and Close interrupts them.
func openTun(name string) (*os.File, error) {
	fd, err := syscall.Open("/dev/net/tun", syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/net/tun: %w", err)
	}
	var ifr [40]byte // struct ifreq: the name, then ifr_flags
	copy(ifr[:syscall.IFNAMSIZ-1], name)
	binary.NativeEndian.PutUint16(ifr[syscall.IFNAMSIZ:], syscall.IFF_TUN|syscall.IFF_NO_PI)
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.TUNSETIFF, uintptr(unsafe.Pointer(&ifr[0]))); errno != 0 {
		syscall.Close(fd)
		return nil, fmt.Errorf("TUNSETIFF %s: %w", name, errno)
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), "/dev/net/tun:"+name), nil
}

// startDelayLine joins the root namespace to the lab through the delay line
// for the given lab addresses, oneWay each way, until t ends: host routes
// targets/32 dev tunHost src 198.18.0.1 in the root namespace, and
// 198.18.0.1/32 dev tunNS in the lab's. Both sides route through the
// same device the packets come in on, so reverse-path filtering, strict
// or loose, accepts them. Cleanup removes the routes and deletes the
// devices, so the tests that follow see the plain veth.
func (e sambaLab) startDelayLine(t *testing.T, oneWay time.Duration, targets ...netip.Addr) *delayLine {
	t.Helper()
	for _, l := range []struct{ ns, name string }{{"", tunHost}, {"", tunNS}, {e.NS, tunHost}, {e.NS, tunNS}} {
		if out, err := runIP(l.ns, "link", "show", l.name); err == nil {
			t.Fatalf("link %s already exists (namespace %q): %s", l.name, l.ns, out)
		}
	}
	for _, a := range targets {
		if !delayLineRange.Contains(a) || a == rootAddr {
			t.Fatalf("delay line target %v is not a lab address", a)
		}
	}
	host, err := openTun(tunHost)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := openTun(tunNS)
	if err != nil {
		host.Close()
		t.Fatal(err)
	}
	dl := &delayLine{
		OneWay: oneWay, host: host, ns: ns,
		flows: make(map[tcpFlow]*flowState), barriers: make(map[string]chan struct{}),
	}
	var routes [][]string // what to delete at cleanup, as ip arguments with the namespace first
	t.Cleanup(func() {
		for i := len(routes) - 1; i >= 0; i-- {
			r := routes[i]
			if out, err := runIP(r[0], append([]string{"route", "del"}, r[1:]...)...); err != nil {
				t.Errorf("ip route del %v: %v: %s", r[1:], err, out)
			}
		}
		host.Close() // the readers stop, the writers drain, the devices go
		ns.Close()
		dl.wg.Wait()
		for _, l := range []struct{ ns, name string }{{"", tunHost}, {e.NS, tunNS}} {
			if _, err := runIP(l.ns, "link", "show", l.name); err == nil {
				t.Errorf("link %s is still there after the delay line closed it", l.name)
			}
		}
	})
	run := func(ns string, args ...string) {
		t.Helper()
		if out, err := runIP(ns, args...); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	// No IPv6 on the devices: no router solicitations, no MLD, nothing
	// but the test's IPv4 packets.
	sysctl("net/ipv6/conf/"+tunHost+"/disable_ipv6", "1")
	run("", "link", "set", tunNS, "netns", e.NS)
	if out, err := runCommand(10*time.Second, "ip", "netns", "exec", e.NS, "sysctl", "-qw", "net.ipv6.conf."+tunNS+".disable_ipv6=1"); err != nil {
		t.Logf("disabling IPv6 on %s: %v: %s", tunNS, err, out)
	}
	run("", "link", "set", tunHost, "up")
	run(e.NS, "link", "set", tunNS, "up")
	dl.wg.Go(func() { dl.pump(host, ns, 0) })
	dl.wg.Go(func() { dl.pump(ns, host, 1) })
	nsRoute := []string{e.NS, rootAddr.String() + "/32", "dev", tunNS}
	run(nsRoute[0], append([]string{"route", "add"}, nsRoute[1:]...)...)
	routes = append(routes, nsRoute)
	for _, a := range targets {
		r := []string{"", a.String() + "/32", "dev", tunHost, "src", rootAddr.String()}
		run(r[0], append([]string{"route", "add"}, r[1:]...)...)
		routes = append(routes, r)
		if out, _ := runIP("", "route", "get", a.String()); !strings.Contains(out, "dev "+tunHost) {
			t.Fatalf("ip route get %v: %s; want dev %s", a, out, tunHost)
		}
	}
	t.Logf("delay line %s <-> %s (in %s), %v each way, for %v; rp_filter all=%s/%s, %s=%s, %s=%s",
		tunHost, tunNS, e.NS, oneWay, targets,
		sysctl("net/ipv4/conf/all/rp_filter", ""), nsSysctl(e.NS, "net.ipv4.conf.all.rp_filter"),
		tunHost, sysctl("net/ipv4/conf/"+tunHost+"/rp_filter", ""),
		tunNS, nsSysctl(e.NS, "net.ipv4.conf."+tunNS+".rp_filter"))
	return dl
}

// runIP runs ip, in namespace ns when it is not empty.
func runIP(ns string, args ...string) (string, error) {
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	return runCommand(10*time.Second, "ip", args...)
}

// sysctl writes value (when not empty) to /proc/sys/key in the root
// namespace, and returns what the key holds.
func sysctl(key, value string) string {
	p := "/proc/sys/" + key
	if value != "" {
		os.WriteFile(p, []byte(value), 0o644) // best effort: IPv6 may be off
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

// nsSysctl returns a sysctl of namespace ns.
func nsSysctl(ns, key string) string {
	out, err := runCommand(10*time.Second, "ip", "netns", "exec", ns, "sysctl", "-n", key)
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(out)
}

// delayedPacket is a packet on its way, due at the far side at due.
type delayedPacket struct {
	b   []byte
	due time.Time
}

// pump reads packets from in and writes each to out OneWay after it was
// read, in order; dir 0 is root to lab, 1 lab to root. The reader stamps
// and counts; a writer goroutine waits out the delay, so that a packet
// never waits for the one behind it.
func (dl *delayLine) pump(in, out *os.File, dir int) {
	queue := make(chan delayedPacket, 4096)
	var writer sync.WaitGroup
	writer.Go(func() {
		for p := range queue {
			if d := time.Until(p.due); d > 0 {
				time.Sleep(d)
			}
			out.Write(p.b) // a write fails only once the line is closing
		}
	})
	defer writer.Wait()
	defer close(queue)
	buf := make([]byte, 1<<16)
	for {
		n, err := in.Read(buf)
		if err != nil {
			if !errors.Is(err, os.ErrClosed) {
				// EIO and the like end the line too; the test sees
				// its dials fail.
				fmt.Fprintf(os.Stderr, "delay line: reading %s: %v\n", in.Name(), err)
			}
			return
		}
		now := time.Now()
		p := buf[:n]
		if !dl.admit(p, dir, now) {
			continue
		}
		queue <- delayedPacket{b: bytes.Clone(p), due: now.Add(dl.OneWay)}
	}
}

// admit counts p, read at now, and reports whether to forward it: only
// IPv4 between two addresses of delayLineRange, never a barrier.
func (dl *delayLine) admit(p []byte, dir int, now time.Time) bool {
	dl.mu.Lock()
	defer dl.mu.Unlock()
	if len(p) < 20 || p[0]>>4 != 4 {
		dl.counts.Dropped++
		return false
	}
	ihl := int(p[0]&0x0F) * 4
	total := int(binary.BigEndian.Uint16(p[2:]))
	src := netip.AddrFrom4([4]byte(p[12:16]))
	dst := netip.AddrFrom4([4]byte(p[16:20]))
	if ihl < 20 || total < ihl || total > len(p) || !delayLineRange.Contains(src) || !delayLineRange.Contains(dst) {
		dl.counts.Dropped++
		return false
	}
	p = p[:total]
	fragment := binary.BigEndian.Uint16(p[6:])&0x1FFF != 0 // a later fragment has no transport header
	if dir == 1 && !fragment && p[9] == syscall.IPPROTO_TCP {
		dl.countAnswer(src, dst, p[ihl:], now)
	}
	if dir == 0 && !fragment {
		l4 := p[ihl:]
		switch p[9] {
		case syscall.IPPROTO_TCP:
			dl.countTCP(src, dst, l4, now)
		case syscall.IPPROTO_UDP:
			if len(l4) >= 8 {
				dport := binary.BigEndian.Uint16(l4[2:])
				payload := l4[8:]
				if dport == barrierPort && bytes.HasPrefix(payload, []byte(barrierMagic)) {
					if ch, ok := dl.barriers[string(payload)]; ok {
						close(ch)
						delete(dl.barriers, string(payload))
					}
					return false
				}
				if dport == 137 {
					if isNodeStatus(payload) {
						dl.counts.NodeStatus++
					} else {
						dl.counts.NameQueries++
					}
				}
			}
		}
	}
	dl.counts.Forwarded[dir]++
	return true
}

// countTCP counts a segment from the client: a SYN without ACK to port 139
// opens a connection (a retransmitted SYN carries the same sequence number
// and is not counted again), and the segment that carries the
// connection's first payload byte (sequence number ISN+1) tells whether it
// is a session request.
func (dl *delayLine) countTCP(src, dst netip.Addr, l4 []byte, now time.Time) {
	if len(l4) < 20 {
		return
	}
	sport, dport := binary.BigEndian.Uint16(l4[0:]), binary.BigEndian.Uint16(l4[2:])
	if dport != 139 {
		return
	}
	seq := binary.BigEndian.Uint32(l4[4:])
	off := int(l4[12]>>4) * 4
	flags := l4[13]
	const fin, syn, rst, ack = 0x01, 0x02, 0x04, 0x10
	f := tcpFlow{netip.AddrPortFrom(src, sport), netip.AddrPortFrom(dst, dport)}
	st := dl.flows[f]
	switch {
	case flags&syn != 0 && flags&ack == 0:
		if st != nil && st.isn == seq {
			return // a retransmitted SYN
		}
		dl.flows[f] = &flowState{isn: seq}
		dl.counts.Connects++
		return
	case st == nil || off < 20 || off > len(l4):
		return
	}
	if payload := l4[off:]; len(payload) > 0 && !st.firstSeen && seq == st.isn+1 {
		st.firstSeen = true
		if payload[0] == 0x81 {
			dl.counts.SessionRequests++
			st.request = now
		} else {
			dl.counts.OtherFirst++
		}
	}
	if flags&(fin|rst) != 0 && st.firstSeen {
		delete(dl.flows, f) // done with; a late retransmission is not counted
	}
}

// countAnswer times the server's first payload byte on a connection that
// carried a session request: the server's think time is when it sent it,
// less when the request reached it (OneWay after the client sent it).
func (dl *delayLine) countAnswer(src, dst netip.Addr, l4 []byte, now time.Time) {
	if len(l4) < 20 || binary.BigEndian.Uint16(l4[0:]) != 139 {
		return
	}
	f := tcpFlow{netip.AddrPortFrom(dst, binary.BigEndian.Uint16(l4[2:])), netip.AddrPortFrom(src, 139)}
	st := dl.flows[f]
	off := int(l4[12]>>4) * 4
	if st == nil || st.request.IsZero() || st.answered || off < 20 || off >= len(l4) {
		return
	}
	st.answered = true
	dl.counts.Answers++
	dl.counts.Think += now.Sub(st.request) - dl.OneWay
}

// isNodeStatus reports whether an NBNS datagram is a query with a
// question of type NBSTAT (RFC 1002 §4.2.17).
func isNodeStatus(b []byte) bool {
	if len(b) < 12 || b[2]&0x80 != 0 || binary.BigEndian.Uint16(b[4:]) == 0 {
		return false
	}
	i := 12
	for hops := 0; i < len(b) && b[i] != 0; hops++ {
		if b[i]&0xC0 != 0 || hops > 64 {
			return false
		}
		i += 1 + int(b[i])
	}
	i++ // the root label
	return i+2 <= len(b) && binary.BigEndian.Uint16(b[i:]) == 0x0021
}

// Counts returns the counts so far. Call Sync first, so that they include
// every packet sent before.
func (dl *delayLine) Counts() packetCounts {
	dl.mu.Lock()
	defer dl.mu.Unlock()
	return dl.counts
}

// Sync waits until the delay line has read every packet sent into it
// before Sync was called: it sends a barrier datagram to via (a routed
// target) and waits for the reader to see it. A TUN device is one FIFO
// queue, so every packet the kernel put in it before the barrier has been
// read, and counted, by then.
func (dl *delayLine) Sync(via netip.Addr) error {
	dl.mu.Lock()
	dl.nextID++
	magic := fmt.Sprintf("%s%d", barrierMagic, dl.nextID)
	ch := make(chan struct{})
	dl.barriers[magic] = ch
	dl.mu.Unlock()
	defer func() {
		dl.mu.Lock()
		delete(dl.barriers, magic)
		dl.mu.Unlock()
	}()
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(via, barrierPort)))
	if err != nil {
		return err
	}
	defer c.Close()
	for range 3 { // a datagram dropped by a full queue is sent again
		if _, err := c.Write([]byte(magic)); err != nil {
			return err
		}
		select {
		case <-ch:
			return nil
		case <-time.After(time.Second):
		}
	}
	return errors.New("delay line: the barrier did not come through within 3 s")
}
