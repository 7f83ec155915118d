// Command nbtstat prints the NetBIOS name table of hosts, as nmblookup -A
// and nbtstat -A do, from a node status query to their UDP port 137.
//
//	nbtstat [-port 137] [-timeout 750ms] [-attempts 3] [-json] HOST...
//
// HOST is an IPv4 address or a host name. Each name is printed with its
// suffix, UNIQUE or GROUP, and its flags, then the MAC address the host
// reported; Samba reports none, shown as unknown. nbtstat exits with
// status 1 when a host does not answer.
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
	asJSON := fs.Bool("json", false, "print JSON, one object per host")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: nbtstat [flags] HOST...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 || *port == 0 || *port > 65535 {
		fs.Usage()
		return 2
	}
	c := &nbns.Client{Timeout: *timeout, Attempts: *attempts}
	status := 0
	var out []hostJSON
	for _, host := range fs.Args() {
		r, err := query(ctx, c, host, uint16(*port))
		if err != nil {
			fmt.Fprintf(stderr, "nbtstat: %s: %v\n", host, describe(err))
			status = 1
			continue
		}
		if *asJSON {
			out = append(out, toJSON(host, r))
			continue
		}
		printTable(stdout, host, r)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
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

// query resolves host to an IPv4 address and asks it for its name table.
func query(ctx context.Context, c *nbns.Client, host string, port uint16) (*nbns.NodeStatusResponse, error) {
	ip, err := netip.ParseAddr(host)
	if err != nil {
		ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip4", host)
		if err != nil {
			return nil, err
		}
		ip = ips[0]
	}
	return c.NodeStatus(ctx, netip.AddrPortFrom(ip.Unmap(), port))
}

// describe words a query error for the user.
func describe(err error) string {
	switch {
	case errors.Is(err, nbns.ErrNoResponse):
		return "no answer to node status (UDP 137 filtered, host down, or no NetBIOS name service)"
	case errors.Is(err, nbns.ErrPortUnreachable):
		return "UDP 137 is closed (ICMP port unreachable): no NetBIOS name service"
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
