package nbt

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/netbios-go/netbios/nbns"
)

// errIPv6Network is the error of a dial on network "tcp6".
var errIPv6Network = errors.New("nbt: NetBIOS over TCP runs over IPv4 only (RFC 1001/1002); use network tcp or tcp4")

// ipv6Error reports an IPv6 address given or resolved as the host.
func ipv6Error(ip string) error {
	return &net.AddrError{Err: "an IPv6 address: NetBIOS over TCP runs over IPv4 only (RFC 1001/1002)", Addr: ip}
}

// target is what a dial goes to: the session service's addresses and
// what the caller named.
type target struct {
	addrs  []netip.AddrPort // in the order to try them
	host   string           // the host name dialed, in canonical form; "" for an address
	label  nbns.Name        // the called name made of host's first label; zero for an address
	called nbns.Name        // for a NetBIOS name its Resolver found: the only name to call
}

// lookupTarget parses address, "host", "host:port" or "[host]:port", and
// resolves its host. The port is 139 when absent and may be a service
// name, as with net.Dial. Only IPv4 unicast addresses are targets. A
// NetBIOS name (see [IsNetBIOSName]) is looked up by the Dialer's
// Resolver, as NAME<20>; a name longer or with a dot by its DNS.
func (d *Dialer) lookupTarget(ctx context.Context, address string) (target, error) {
	host, ps, err := splitHostPort(address)
	if err != nil {
		return target{}, err
	}
	port, err := d.lookupPort(ctx, ps)
	if err != nil {
		return target{}, err
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" || !ip.Unmap().Is4() {
			return target{}, ipv6Error(host)
		}
		ip = ip.Unmap()
		if err := checkUnicast(ip); err != nil {
			return target{}, err
		}
		return target{addrs: []netip.AddrPort{netip.AddrPortFrom(ip, port)}}, nil
	}
	if err := checkHostName(host); err != nil {
		return target{}, err
	}
	t := target{host: canonicalHost(host)}
	t.label, _ = labelName(host)
	if IsNetBIOSName(host) {
		return d.lookupNetBIOS(ctx, t, port)
	}
	ips, err := d.resolver().dns().LookupNetIP(ctx, "ip4", host)
	if err != nil {
		return target{}, err
	}
	if t.addrs, err = unicastAddrs(host, ips, port); err != nil {
		return target{}, err
	}
	t.addrs = t.addrs[:1]
	return t, nil
}

// lookupNetBIOS looks t's host up as the NetBIOS name NAME<20> with the
// Dialer's Resolver. When a NetBIOS source found it, every unique owner
// that is a host is a target, nearest first, and the name is the one to
// call; when DNS found it, it is a host name, dialed as one.
func (d *Dialer) lookupNetBIOS(ctx context.Context, t target, port uint16) (target, error) {
	owners, err := d.resolver().LookupName(ctx, t.label)
	if err != nil {
		return target{}, err
	}
	var ips []netip.Addr
	fromDNS := true
	for _, o := range owners {
		if o.IsHost() && !o.Group && !slices.Contains(ips, o.Addr) {
			ips = append(ips, o.Addr)
			fromDNS = fromDNS && o.Origin == SourceDNS
		}
	}
	if t.addrs, err = unicastAddrs(t.host, ips, port); err != nil {
		return target{}, err
	}
	if fromDNS {
		t.addrs = t.addrs[:1]
		return t, nil
	}
	sortNearest(t.addrs, localNetworks())
	t.called = t.label
	return t, nil
}

// unicastAddrs returns the IPv4 unicast addresses of ips, with port.
func unicastAddrs(host string, ips []netip.Addr, port uint16) ([]netip.AddrPort, error) {
	var addrs []netip.AddrPort
	var refused error
	for _, ip := range ips {
		ip = ip.Unmap()
		if !ip.Is4() {
			continue
		}
		if err := checkUnicast(ip); err != nil {
			refused = err
			continue
		}
		addrs = append(addrs, netip.AddrPortFrom(ip, port))
	}
	switch {
	case len(addrs) == 0 && refused != nil:
		return nil, &net.DNSError{Err: "resolves to no unicast IPv4 address: " + refused.Error(), Name: host, IsNotFound: true}
	case len(addrs) == 0:
		return nil, &net.DNSError{Err: "no IPv4 address", Name: host, IsNotFound: true}
	}
	return addrs, nil
}

// sortNearest moves the addresses on one of nets, the networks of the
// local interfaces, to the front, keeping the order within each part, as Samba sorts a WINS
// server's answer ("an IP that is not reachable from our subnet") and
// Windows prefers the calling interface's subnet (KB Q216471).
func sortNearest(addrs []netip.AddrPort, nets []netip.Prefix) {
	if len(addrs) < 2 {
		return
	}
	near := func(a netip.AddrPort) bool {
		for _, n := range nets {
			if n.Contains(a.Addr()) {
				return true
			}
		}
		return false
	}
	slices.SortStableFunc(addrs, func(a, b netip.AddrPort) int {
		switch na, nb := near(a), near(b); {
		case na && !nb:
			return -1
		case nb && !na:
			return 1
		}
		return 0
	})
}

// localNetworks returns the IPv4 networks of this host's interfaces.
func localNetworks() []netip.Prefix {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var nets []netip.Prefix
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(n.IP)
		ones, bits := n.Mask.Size()
		if ok && ip.Unmap().Is4() && bits == 32 {
			nets = append(nets, netip.PrefixFrom(ip.Unmap(), ones).Masked())
		}
	}
	return nets
}

// splitHostPort splits address into host and port; the port is "" when
// absent. A bare IPv6 address, "::1", is a host without a port.
func splitHostPort(address string) (host, port string, err error) {
	if address == "" {
		return "", "", &net.AddrError{Err: "missing address"}
	}
	if _, err := netip.ParseAddr(address); err == nil {
		return address, "", nil // an address, IPv4 or bare IPv6 ("::ffff:127.0.0.1")
	}
	if !strings.Contains(address, ":") && !strings.HasPrefix(address, "[") {
		return address, "", nil
	}
	if inner, ok := strings.CutPrefix(address, "["); ok && strings.HasSuffix(inner, "]") {
		if _, err := netip.ParseAddr(inner[:len(inner)-1]); err == nil {
			return inner[:len(inner)-1], "", nil // "[::1]", an address in brackets without a port
		}
	}
	host, port, err = net.SplitHostPort(address)
	switch {
	case err != nil:
		return "", "", err
	case host == "":
		return "", "", &net.AddrError{Err: "missing host", Addr: address}
	case port == "":
		return "", "", &net.AddrError{Err: "missing port", Addr: address}
	}
	return host, port, nil
}

// checkHostName refuses a host name that no resolver accepts for its
// length (RFC 1035 §2.3.4), which a resolver reports only as "no such
// host".
func checkHostName(host string) error {
	name := strings.TrimSuffix(host, ".")
	if len(name) > 253 {
		return &net.AddrError{Err: "a host name longer than 253 bytes", Addr: host[:20] + "..."}
	}
	for label := range strings.SplitSeq(name, ".") {
		if len(label) > 63 || label == "" {
			return &net.AddrError{Err: "a host name with an empty label or one longer than 63 bytes", Addr: host}
		}
	}
	return nil
}

// lookupPort returns the TCP port named by ps, a number or a service name
// such as "netbios-ssn"; "" is 139.
func (d *Dialer) lookupPort(ctx context.Context, ps string) (uint16, error) {
	if ps == "" {
		return Port, nil
	}
	if p, err := strconv.ParseUint(ps, 10, 16); err == nil && p != 0 {
		return uint16(p), nil
	}
	if ps[0] >= '0' && ps[0] <= '9' {
		return 0, &net.AddrError{Err: "invalid port", Addr: ps}
	}
	p, err := d.resolver().dns().LookupPort(ctx, "tcp", ps) // /etc/services: no traffic
	switch {
	case err != nil && strings.EqualFold(ps, "netbios-ssn"):
		return Port, nil // known without /etc/services
	case err != nil || p <= 0 || p > 65535:
		return 0, &net.AddrError{Err: "unknown port", Addr: ps}
	}
	return uint16(p), nil
}

// checkUnicast refuses an address that is not one host's: the unspecified
// address, a multicast group, the limited broadcast address and the
// directed broadcast address of a local IPv4 network. A node status query
// to one of them would be answered by every host there, or by none, and
// Go's UDP sockets may broadcast.
func checkUnicast(ip netip.Addr) error {
	why := ""
	switch {
	case ip.IsUnspecified():
		why = "the unspecified address"
	case ip.IsMulticast():
		why = "a multicast address"
	case ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		why = "the limited broadcast address"
	case !ip.IsLoopback() && isLocalBroadcast(ip):
		why = "the broadcast address of a local network"
	default:
		return nil
	}
	return &net.AddrError{Err: why + ", not a host's: NetBIOS sessions are unicast", Addr: ip.String()}
}

// isLocalBroadcast reports whether ip is the directed broadcast address of
// a network on one of this host's interfaces.
func isLocalBroadcast(ip netip.Addr) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		p, ok := netip.AddrFromSlice(n.IP)
		ones, bits := n.Mask.Size()
		if !ok || !p.Unmap().Is4() || bits != 32 || ones >= 31 {
			continue
		}
		if ip == directedBroadcast(netip.PrefixFrom(p.Unmap(), ones)) {
			return true
		}
	}
	return false
}

// directedBroadcast returns the last address of an IPv4 prefix.
func directedBroadcast(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= 1<<(32-p.Bits()) - 1
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// canonicalHost is the form of a host name the name cache keys on: lower
// case, without a final dot.
func canonicalHost(host string) string {
	return strings.ToLower(strings.TrimSuffix(host, "."))
}

// labelName returns the called name made of the first label of a host
// name: upper-cased, cut to 15 bytes, suffix <20> (KB Q161431).
func labelName(host string) (nbns.Name, error) {
	label, _, _ := strings.Cut(host, ".")
	if len(label) > nbns.NameLen-1 {
		label = label[:nbns.NameLen-1]
	}
	return nbns.NewName(label, nbns.FileServer)
}
