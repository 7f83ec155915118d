package nbt_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/nbt"
)

// recordingDialer records the addresses it is asked to dial and refuses
// them all: no packet leaves.
type recordingDialer struct {
	mu    sync.Mutex
	dials []string // "network address"
}

var errRecorded = errors.New("recorded, not dialed")

func (r *recordingDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	r.mu.Lock()
	r.dials = append(r.dials, network+" "+address)
	r.mu.Unlock()
	return nil, errRecorded
}

func (r *recordingDialer) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(slices.Values(r.dials))
}

// recordingNBT returns a Dialer whose every socket goes to rec.
func recordingNBT(rec *recordingDialer) *nbt.Dialer {
	return &nbt.Dialer{
		Policy:      nbt.Race, // node status and a connect at once
		NetDialer:   rec,
		NameService: &nbns.Client{Dialer: rec, Attempts: 1},
		Cache:       nbt.NewNameCache(0),
	}
}

// TestAddressForms dials addresses in each form a user may write, through
// dialers that record and refuse: the sockets the dial would open, or the
// error that refused the address before any was.
func TestAddressForms(t *testing.T) {
	if _, err := net.LookupPort("tcp", "netbios-ssn"); err != nil {
		t.Skip("no netbios-ssn in /etc/services (Debian's netbase): ", err)
	}
	race := func(port string) []string { return []string{"tcp4 127.0.0.1:" + port, "udp4 127.0.0.1:137"} }
	cases := []struct {
		address string
		dials   []string // the sockets Race asks for, sorted: its connect and its node status
		err     string   // in the error, when the address is refused
	}{
		{address: "127.0.0.1", dials: race("139")},
		{address: "127.0.0.1:1139", dials: race("1139")},
		{address: "::ffff:127.0.0.1", dials: race("139")},
		{address: "[::ffff:127.0.0.1]:1139", dials: race("1139")},
		{address: "127.0.0.1:netbios-ssn", dials: race("139")},
		{address: "0.0.0.0", err: "address 0.0.0.0: the unspecified address, not a host's: NetBIOS sessions are unicast"},
		{address: "255.255.255.255:139", err: "address 255.255.255.255: the limited broadcast address, not a host's"},
		{address: "224.0.0.1", err: "address 224.0.0.1: a multicast address, not a host's"},
		{address: "239.1.2.3", err: "address 239.1.2.3: a multicast address, not a host's"},
		{address: "::1", err: "address ::1: an IPv6 address: NetBIOS over TCP runs over IPv4 only"},
		{address: "[::1]:139", err: "address ::1: an IPv6 address"},
		{address: "[::1]", err: "address ::1: an IPv6 address"},
		{address: "[::ffff:127.0.0.1]", dials: race("139")},
		{address: "[fe80::1%lo]:139", err: "address fe80::1%lo: an IPv6 address"},
		{address: "127.0.0.1:99999", err: "address 99999: invalid port"},
		{address: "127.0.0.1:0", err: "address 0: invalid port"},
		{address: "127.0.0.1:no-such-service", err: "address no-such-service: unknown port"},
		{address: "127.0.0.1:", err: "missing port"},
		{address: ":139", err: "address :139: missing host"},
		{address: "", err: "missing address"},
		{address: strings.Repeat("a", 64) + ".example", err: "longer than 63 bytes"},
		{address: "a..example:139", err: "empty label"},
		{address: strings.Repeat("abcdefgh.", 29) + "example", err: "longer than 253 bytes"},
	}
	for _, tt := range cases {
		t.Run(tt.address, func(t *testing.T) {
			rec := &recordingDialer{}
			_, err := recordingNBT(rec).Dial("tcp", tt.address)
			if err == nil {
				t.Fatal("dial succeeded")
			}
			if tt.err == "" {
				if !errors.Is(err, errRecorded) {
					t.Errorf("error %q does not come from the recording dialer", err)
				}
			} else if !strings.Contains(err.Error(), tt.err) {
				t.Errorf("error %q, want it to contain %q", err, tt.err)
			}
			if diff := cmp.Diff(tt.dials, rec.got()); diff != "" {
				t.Errorf("sockets (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLocalBroadcastRefused dials the directed broadcast address of each
// of this machine's IPv4 networks, through dialers that record and refuse,
// so that nothing is sent even if the check failed: each is refused before
// any socket.
func TestLocalBroadcastRefused(t *testing.T) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	var tried int
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, _ := netip.AddrFromSlice(n.IP)
		ones, bits := n.Mask.Size()
		if ip = ip.Unmap(); !ip.Is4() || bits != 32 || ones >= 31 || ip.IsLoopback() {
			continue
		}
		b := ip.As4()
		for i := range 4 {
			b[i] |= ^n.Mask[len(n.Mask)-4+i]
		}
		bcast := netip.AddrFrom4(b).String()
		tried++
		rec := &recordingDialer{}
		_, err := recordingNBT(rec).Dial("tcp", bcast)
		if err == nil || !strings.Contains(err.Error(), "the broadcast address of a local network") {
			t.Errorf("dial %s: %v; want the broadcast address refused", bcast, err)
		}
		if got := rec.got(); len(got) != 0 {
			t.Errorf("dial %s opened %v", bcast, got)
		}
	}
	if tried == 0 {
		t.Skip("no IPv4 network with a broadcast address on this machine")
	}
}

// TestHostNameRefusedTargets resolves host names, through a DNS server in
// this process, to addresses that are not a host's: refused before any
// socket.
func TestHostNameRefusedTargets(t *testing.T) {
	for _, ip := range []string{"255.255.255.255", "224.0.0.251", "0.0.0.0"} {
		rec := &recordingDialer{}
		d := recordingNBT(rec)
		d.Resolver = &nbt.Resolver{DNS: fakeDNS(t, netip.MustParseAddr(ip)), NoBroadcast: true}
		_, err := d.Dial("tcp", "printer.example")
		if err == nil || !strings.Contains(err.Error(), "lookup printer.example") || !strings.Contains(err.Error(), "no unicast IPv4 address") {
			t.Errorf("%s: %v; want the lookup refused", ip, err)
		}
		if got := rec.got(); len(got) != 0 {
			t.Errorf("%s: opened %v", ip, got)
		}
	}
}
