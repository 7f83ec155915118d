// Package nbtflags holds the command-line flags that the examples share,
// so that the flags that configure an nbt.Resolver have the same names
// and meanings in nbtlookup, nbtdial, nbtbridge and smb.
package nbtflags

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/netbios-go/netbios/nbt"
)

// ResolverFlags are the command-line flags of the nbt.Resolver that looks
// up NetBIOS names:
//
//	-U ADDR[:PORT]  a WINS server, asked in order; repeatable or comma-separated
//	-B ADDR[:PORT]  a directed broadcast address to query on, in place of every interface's
//	-lmhosts FILE   an LMHOSTS file
//	-order LIST     the resolution order, as Samba's "name resolve order"
//	-no-bcast       never broadcast
//
// The Resolver has one name service port for all its queries: a PORT
// given with -U or -B is it (every PORT given must be the same), and it
// is 137 when none is given.
type ResolverFlags struct {
	wins    []netip.AddrPort // port 0 when not given
	bcast   []netip.AddrPort
	lmhosts string
	order   string
	orderOK bool // -order was given
	noBcast bool

	lmfile *nbt.LMHosts // the -lmhosts file, as read by Resolver
}

// Register defines the flags on fs.
func (f *ResolverFlags) Register(fs *flag.FlagSet) {
	fs.Func("U", "WINS `server` ADDR[:PORT] to ask, an IPv4 address; repeatable or comma-separated, asked in order", func(s string) error {
		return addAddrs(&f.wins, s, "WINS server")
	})
	fs.Func("B", "directed broadcast `address` ADDR[:PORT] to query on, in place of every interface's; repeatable or comma-separated", func(s string) error {
		return addAddrs(&f.bcast, s, "broadcast address")
	})
	fs.StringVar(&f.lmhosts, "lmhosts", "", "LMHOSTS `file` to read")
	fs.Func("order", "resolution `steps`, as Samba's \"name resolve order\" (default \""+orderString(nbt.DefaultOrder)+"\")", func(s string) error {
		if _, err := nbt.ParseOrder(s); err != nil {
			return errors.New(strings.TrimPrefix(err.Error(), "nbt: "))
		}
		if strings.TrimSpace(s) == "" {
			return errors.New("empty: want steps among lmhosts, wins, host and bcast")
		}
		f.order, f.orderOK = s, true
		return nil
	})
	fs.BoolVar(&f.noBcast, "no-bcast", false, "never broadcast a name query")
}

// addAddrs appends the comma-separated ADDR[:PORT] list s to list.
func addAddrs(list *[]netip.AddrPort, s, what string) error {
	for a := range strings.SplitSeq(s, ",") {
		a = strings.TrimSpace(a)
		var ap netip.AddrPort
		var err error
		if strings.Contains(a, "]") || strings.Count(a, ":") == 1 {
			ap, err = netip.ParseAddrPort(a)
			if err == nil && ap.Port() == 0 {
				return fmt.Errorf("%s %q: port 0", what, a)
			}
		} else {
			var ip netip.Addr
			ip, err = netip.ParseAddr(a)
			ap = netip.AddrPortFrom(ip, 0)
		}
		if err != nil {
			return fmt.Errorf("%s %q: want an IPv4 address, with an optional :PORT", what, a)
		}
		ip := ap.Addr().Unmap()
		switch {
		case !ip.Is4() || ip.Zone() != "":
			return fmt.Errorf("%s %q: an IPv6 address: NetBIOS runs over IPv4 only", what, a)
		case ip.IsUnspecified() || ip.IsMulticast():
			return fmt.Errorf("%s %q: not a host or broadcast address", what, a)
		}
		*list = append(*list, netip.AddrPortFrom(ip, ap.Port()))
	}
	return nil
}

// orderString writes order as -order takes it.
func orderString(order []nbt.Source) string {
	s := make([]string, len(order))
	for i, src := range order {
		s[i] = src.String()
	}
	return strings.Join(s, " ")
}

// Resolver returns the Resolver the flags configure. Its error, a usage
// error, names the flag: a flag that sets up a step the order does not
// have, ports that differ, or an LMHOSTS file that cannot be read.
func (f *ResolverFlags) Resolver() (*nbt.Resolver, error) {
	r := &nbt.Resolver{LMHosts: f.lmhosts, NoBroadcast: f.noBcast}
	order := nbt.DefaultOrder
	if f.orderOK {
		var err error
		if r.Order, err = nbt.ParseOrder(f.order); err != nil {
			return nil, fmt.Errorf("-order %q: %v", f.order, err)
		}
		order = r.Order
	}
	var port uint16
	for _, a := range slices.Concat(f.wins, f.bcast) {
		switch {
		case a.Port() == 0:
		case port == 0:
			port = a.Port()
		case port != a.Port():
			return nil, fmt.Errorf("-U and -B give UDP ports %d and %d: all name queries go to one port", port, a.Port())
		}
	}
	r.NameServicePort = port
	for _, a := range f.wins {
		r.WINS = append(r.WINS, a.Addr())
	}
	for _, a := range f.bcast {
		r.Broadcast = append(r.Broadcast, a.Addr())
	}
	unused := func(flag string, src nbt.Source) error {
		return fmt.Errorf("%s is of no use: -order %q has no %v", flag, f.order, src)
	}
	switch {
	case len(f.wins) > 0 && !slices.Contains(order, nbt.SourceWINS):
		return nil, unused("-U", nbt.SourceWINS)
	case f.lmhosts != "" && !slices.Contains(order, nbt.SourceLMHosts):
		return nil, unused("-lmhosts", nbt.SourceLMHosts)
	case len(f.bcast) > 0 && f.noBcast:
		return nil, errors.New("-B is of no use with -no-bcast")
	case len(f.bcast) > 0 && !slices.Contains(order, nbt.SourceBroadcast):
		return nil, unused("-B", nbt.SourceBroadcast)
	}
	asks := false
	for _, src := range order {
		switch src {
		case nbt.SourceLMHosts:
			asks = asks || f.lmhosts != ""
		case nbt.SourceWINS:
			asks = asks || len(f.wins) > 0
		case nbt.SourceBroadcast:
			asks = asks || !f.noBcast
		default:
			asks = true
		}
	}
	if !asks {
		return nil, fmt.Errorf("-order %q asks nothing: give -lmhosts for lmhosts, -U for wins, or drop -no-bcast", f.order)
	}
	if f.lmhosts != "" {
		var err error
		if f.lmfile, err = nbt.ReadLMHosts(f.lmhosts); err != nil {
			return nil, fmt.Errorf("-lmhosts: %v", err)
		}
	}
	return r, nil
}

// LMHosts returns the -lmhosts file as Resolver read it, or nil, so that a
// command can report its skipped lines and warnings.
func (f *ResolverFlags) LMHosts() *nbt.LMHosts { return f.lmfile }

// ResolverUsage is the help text that follows the flags.
var ResolverUsage = `
A NetBIOS name (at most 15 bytes, no dot) is looked up by the steps of
-order: lmhosts (the -lmhosts file), wins (each -U server in turn), host
(the hosts file and DNS) and bcast (a broadcast query on the -B addresses,
or on every IPv4 interface's), each skipped when not set up; the first step
that finds the name ends the lookup. The port of -U and -B, 137 when absent,
is that of every name query.
`
