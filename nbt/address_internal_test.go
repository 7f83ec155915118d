package nbt

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestSortNearest: the addresses on a local network come first, each part
// in the order the answer gave.
func TestSortNearest(t *testing.T) {
	nets := []netip.Prefix{netip.MustParsePrefix("198.18.0.0/24"), netip.MustParsePrefix("10.1.0.0/16")}
	ap := func(s string) netip.AddrPort { return netip.AddrPortFrom(netip.MustParseAddr(s), 139) }
	for _, tt := range []struct{ in, want []string }{
		{in: []string{"192.0.2.1", "198.18.0.7", "203.0.113.9", "10.1.200.3"}, want: []string{"198.18.0.7", "10.1.200.3", "192.0.2.1", "203.0.113.9"}},
		{in: []string{"198.18.0.7", "198.18.0.2"}, want: []string{"198.18.0.7", "198.18.0.2"}},
		{in: []string{"192.0.2.1", "192.0.2.2"}, want: []string{"192.0.2.1", "192.0.2.2"}},
		{in: []string{"192.0.2.1"}, want: []string{"192.0.2.1"}},
	} {
		var addrs, want []netip.AddrPort
		for _, s := range tt.in {
			addrs = append(addrs, ap(s))
		}
		for _, s := range tt.want {
			want = append(want, ap(s))
		}
		sortNearest(addrs, nets)
		if diff := cmp.Diff(want, addrs, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
			t.Errorf("sortNearest(%v) (-want +got):\n%s", tt.in, diff)
		}
	}
}

// TestDirectedBroadcast: the last address of a prefix.
func TestDirectedBroadcast(t *testing.T) {
	for in, want := range map[string]string{
		"198.18.0.1/24": "198.18.0.255", "198.18.7.9/15": "198.19.255.255", "10.0.0.1/8": "10.255.255.255", "192.0.2.5/30": "192.0.2.7",
	} {
		if got := directedBroadcast(netip.MustParsePrefix(in)); got.String() != want {
			t.Errorf("directedBroadcast(%s) = %v, want %s", in, got, want)
		}
	}
}
