// Command nbtstat prints the NetBIOS name table of hosts, as nmblookup -A
// and nbtstat -A do, from a node status query to their UDP port 137.
//
//	nbtstat [-port 137] [-timeout 750ms] [-attempts 3] [-json] HOST[:PORT]...
//
// HOST is an IPv4 address or a host name; PORT, a number or a service name
// such as netbios-ns, overrides -port for that host. NetBIOS has no IPv6
// (RFC 1001/1002): an IPv6 address is refused, an IPv4-mapped one is read
// as IPv4. Each name is printed with its suffix, UNIQUE or GROUP, and its
// flags, then the MAC address the host reported; Samba reports none, shown
// as unknown. With -json, the tables are printed as one JSON array with an
// object per host that answered. nbtstat exits with status 1 when a host
// does not answer, and 2, querying no host, when a flag or a HOST is
// malformed.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/netbios-go/netbios/nbns"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("nbtstat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	port := fs.Uint("port", nbns.Port, "UDP `port` of the name service")
	timeout := fs.Duration("timeout", nbns.DefaultTimeout, "wait after each query")
	attempts := fs.Int("attempts", nbns.DefaultAttempts, "queries sent before giving up")
	asJSON := fs.Bool("json", false, "print a JSON array, one object per host that answered")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: nbtstat [flags] HOST[:PORT]...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	switch {
	case fs.NArg() == 0:
		fs.Usage()
		return 2
	case *port == 0 || *port > 65535:
		fmt.Fprintf(stderr, "nbtstat: invalid -port %d: want 1 to 65535\n", *port)
		return 2
	case *timeout < 0:
		fmt.Fprintf(stderr, "nbtstat: invalid -timeout %v: must not be negative\n", *timeout)
		return 2
	}
	var targets []target
	for _, arg := range fs.Args() {
		t, err := parseTarget(ctx, arg, uint16(*port))
		if err != nil {
			fmt.Fprintln(stderr, "nbtstat:", err)
			continue
		}
		targets = append(targets, t)
	}
	if len(targets) < fs.NArg() {
		return 2
	}
	c := &nbns.Client{Timeout: *timeout, Attempts: *attempts}
	status := 0
	var out []hostJSON
	for _, t := range targets {
		r, err := query(ctx, c, t)
		if err != nil {
			fmt.Fprintf(stderr, "nbtstat: %s: %v\n", t.arg, describe(err, t.port))
			status = 1
			continue
		}
		if *asJSON {
			out = append(out, toJSON(t.arg, r))
			continue
		}
		printTable(stdout, t.arg, r)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false) // names read LABSRV<20>, not LABSRV\u003c20\u003e
		enc.SetIndent("", "  ")
		if out == nil {
			out = []hostJSON{}
		}
		if err := enc.Encode(out); err != nil {
			fmt.Fprintln(stderr, "nbtstat:", err)
			return 1
		}
	}
	return status
}

// A target is a HOST[:PORT] argument, checked by parseTarget.
type target struct {
	arg  string     // as given
	ip   netip.Addr // an IPv4 address, or invalid for a host name
	host string     // the host name, when ip is invalid
	port uint16
}

// parseTarget reads arg, HOST[:PORT], as net.Dial reads an address: PORT
// is a number or a UDP service name, def when absent. It checks what can
// be checked before any query, so that a typo is reported as such rather
// than as a failed lookup: the port, a missing host, an IPv6 address (an
// IPv4-mapped one is taken as IPv4), the length of a host name, and a flag
// given after the hosts, which the flag package leaves among them.
func parseTarget(ctx context.Context, arg string, def uint16) (target, error) {
	t := target{arg: arg, port: def}
	if strings.HasPrefix(arg, "-") {
		return t, fmt.Errorf("%q after HOST: flags go before the hosts", arg)
	}
	host := arg
	switch _, err := netip.ParseAddr(arg); {
	case err == nil: // a bare address, IPv6 included: no port
	case strings.HasPrefix(arg, "[") && strings.HasSuffix(arg, "]"):
		host = arg[1 : len(arg)-1] // [::1]: net.SplitHostPort wants a port
	case strings.ContainsAny(arg, ":[]"):
		h, ps, err := net.SplitHostPort(arg)
		if err != nil {
			var ae *net.AddrError
			if errors.As(err, &ae) {
				err = errors.New(ae.Err)
			}
			return t, fmt.Errorf("invalid HOST[:PORT] %q: %v", arg, err)
		}
		p, err := parsePort(ctx, ps)
		if err != nil {
			return t, fmt.Errorf("%v in %q", err, arg)
		}
		host, t.port = h, p
	}
	if host == "" {
		return t, fmt.Errorf("missing host in %q", arg)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if t.ip = ip.Unmap(); !t.ip.Is4() {
			return t, fmt.Errorf("%s is an IPv6 address: NetBIOS is IPv4 only (RFC 1001/1002)", ip)
		}
		return t, nil
	}
	if err := checkHostName(host); err != nil {
		return t, err
	}
	t.host = host
	return t, nil
}

// parsePort reads a port number or a UDP service name, as net does, with
// the NetBIOS name service known even where /etc/services is missing.
func parsePort(ctx context.Context, s string) (uint16, error) {
	if s == "" {
		return 0, errors.New("missing port after the colon")
	}
	if c := s[0]; '0' <= c && c <= '9' || c == '+' || c == '-' {
		p, err := strconv.ParseUint(s, 10, 16)
		if err != nil || p == 0 {
			return 0, fmt.Errorf("invalid port %q", s)
		}
		return uint16(p), nil
	}
	p, err := net.DefaultResolver.LookupPort(ctx, "udp", s)
	if err != nil {
		if s != "netbios-ns" {
			return 0, fmt.Errorf("unknown port %q (not a number, nor a UDP service name)", s)
		}
		p = nbns.Port
	}
	if p == 0 {
		return 0, fmt.Errorf("invalid port %q", s)
	}
	return uint16(p), nil
}

// checkHostName reports a host name that no resolver would accept for its
// length, which the resolver itself reports only as "no such host".
func checkHostName(host string) error {
	name := strings.TrimSuffix(host, ".")
	if len(name) > 253 {
		return fmt.Errorf("host name too long: %d bytes, at most 253", len(name))
	}
	for label := range strings.SplitSeq(name, ".") {
		if len(label) > 63 {
			return fmt.Errorf("host name label %q too long: %d bytes, at most 63", label, len(label))
		}
	}
	return nil
}

// query resolves t to an IPv4 address and asks it for its name table.
func query(ctx context.Context, c *nbns.Client, t target) (*nbns.NodeStatusResponse, error) {
	ip := t.ip
	if !ip.IsValid() {
		ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip4", t.host)
		if err != nil {
			return nil, err
		}
		if len(ips) == 0 {
			return nil, &net.DNSError{Err: "no IPv4 address", Name: t.host, IsNotFound: true}
		}
		ip = ips[0].Unmap()
	}
	return c.NodeStatus(ctx, netip.AddrPortFrom(ip, t.port))
}

// describe words a query error for the user, for a query to UDP port.
func describe(err error, port uint16) string {
	switch {
	case errors.Is(err, nbns.ErrNoResponse):
		return fmt.Sprintf("no answer to node status (UDP %d filtered, host down, or no NetBIOS name service)", port)
	case errors.Is(err, nbns.ErrPortUnreachable):
		return fmt.Sprintf("UDP %d is closed (ICMP port unreachable): no NetBIOS name service", port)
	}
	return err.Error()
}

// printTable prints r as nmblookup -A does.
func printTable(w io.Writer, host string, r *nbns.NodeStatusResponse) {
	fmt.Fprintf(w, "Looking up status of %s\n", host)
	for _, e := range r.Names {
		kind := "UNIQUE"
		if e.Flags.Group() {
			kind = "GROUP "
		}
		fmt.Fprintf(w, "\t%-20s %s  %s\n", e.Name, kind, flags(e.Flags))
	}
	fmt.Fprintf(w, "\tMAC Address = %s\n", mac(r))
	if r.Header.Truncated {
		fmt.Fprintln(w, "\t(the host truncated its reply)")
	}
	fmt.Fprintln(w)
}

// flags describes the name flags without the group bit, which the
// UNIQUE/GROUP column shows: "B <ACTIVE>".
func flags(f nbns.NameFlags) string {
	return (f &^ nbns.FlagGroup).String()
}

// mac formats the MAC as nmblookup does, "unknown" when the host did not
// report one.
func mac(r *nbns.NodeStatusResponse) string {
	m, ok := r.MAC()
	if !ok {
		return "unknown"
	}
	return fmt.Sprintf("%02X-%02X-%02X-%02X-%02X-%02X", m[0], m[1], m[2], m[3], m[4], m[5])
}

type hostJSON struct {
	Host      string     `json:"host"`
	Names     []nameJSON `json:"names"`
	MAC       string     `json:"mac,omitempty"`
	Truncated bool       `json:"truncated,omitempty"`
}

type nameJSON struct {
	Name          nbns.Name `json:"name"`
	Suffix        uint8     `json:"suffix"`
	Group         bool      `json:"group"`
	NodeType      string    `json:"node_type"`
	Active        bool      `json:"active"`
	Permanent     bool      `json:"permanent,omitempty"`
	Conflict      bool      `json:"conflict,omitempty"`
	Deregistering bool      `json:"deregistering,omitempty"`
}

func toJSON(host string, r *nbns.NodeStatusResponse) hostJSON {
	h := hostJSON{Host: host, Names: []nameJSON{}, Truncated: r.Header.Truncated}
	if m := mac(r); m != "unknown" {
		h.MAC = m
	}
	for _, e := range r.Names {
		h.Names = append(h.Names, nameJSON{
			Name: e.Name, Suffix: uint8(e.Name.Suffix()), Group: e.Flags.Group(),
			NodeType: e.Flags.OwnerNodeType().String(), Active: e.Flags.Active(),
			Permanent: e.Flags.Permanent(), Conflict: e.Flags.Conflict(), Deregistering: e.Flags.Deregistering(),
		})
	}
	return h
}
