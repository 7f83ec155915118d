package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/netip"
	"strconv"
	"strings"
)

// An addrRange is an inclusive range of IPv4 addresses, first ≤ last.
type addrRange struct {
	first, last netip.Addr
}

// parseTarget reads a target as nbtscan does: an IPv4 address
// (198.18.0.1), a CIDR block (198.18.0.0/24, every address of the block,
// its first and last included; the host bits of the address are ignored),
// a range of the last octet (198.18.0.1-254) or a range of addresses
// (198.18.0.1-198.18.1.254).
func parseTarget(s string) (addrRange, error) {
	r, err := parseRange(s)
	if err != nil {
		return addrRange{}, fmt.Errorf("invalid target %q: %v", s, err)
	}
	return r, nil
}

var (
	errSyntax      = errors.New("want an IPv4 address (198.18.0.1), a CIDR block (198.18.0.0/24) or a range (198.18.0.1-254)")
	errIPv6        = errors.New("not an IPv4 address; NetBIOS is IPv4 only (RFC 1001/1002)")
	errPrefixLen   = errors.New("the prefix length must be 0 to 32")
	errRangeEnd    = errors.New("the end of the range must be 0 to 255, or an IPv4 address")
	errRangeBefore = errors.New("the range ends before it starts")
)

func parseRange(s string) (addrRange, error) {
	if addr, bits, ok := strings.Cut(s, "/"); ok {
		a, err := parseIPv4(addr)
		if err != nil {
			return addrRange{}, err
		}
		n, ok := parseDecimal(bits, 32)
		if !ok {
			return addrRange{}, errPrefixLen
		}
		p := netip.PrefixFrom(a, n).Masked()
		return addrRange{p.Addr(), lastOf(p)}, nil
	}
	if from, to, ok := strings.Cut(s, "-"); ok {
		a, err := parseIPv4(from)
		if err != nil {
			return addrRange{}, err
		}
		var b netip.Addr
		if strings.Contains(to, ".") {
			if b, err = parseIPv4(to); err != nil {
				return addrRange{}, err
			}
		} else {
			n, ok := parseDecimal(to, 255)
			if !ok {
				return addrRange{}, errRangeEnd
			}
			b4 := a.As4()
			b4[3] = byte(n)
			b = netip.AddrFrom4(b4)
		}
		if b.Less(a) {
			return addrRange{}, errRangeBefore
		}
		return addrRange{a, b}, nil
	}
	a, err := parseIPv4(s)
	if err != nil {
		return addrRange{}, err
	}
	return addrRange{a, a}, nil
}

// parseDecimal parses a decimal number from 0 to limit, with no sign and
// no leading zero.
func parseDecimal(s string, limit int) (int, bool) {
	if s == "" || len(s) > 1 && s[0] == '0' {
		return 0, false
	}
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n = 10*n + int(c-'0'); n > limit {
			return 0, false
		}
	}
	return n, true
}

// parseIPv4 parses a dotted IPv4 address.
func parseIPv4(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	switch {
	case err != nil:
		return netip.Addr{}, errSyntax
	case !a.Is4():
		return netip.Addr{}, errIPv6
	}
	return a, nil
}

// lastOf returns the last address of p, an IPv4 prefix.
func lastOf(p netip.Prefix) netip.Addr {
	a := p.Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= uint32(uint64(1)<<(32-p.Bits()) - 1)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// size returns how many addresses r holds.
func (r addrRange) size() uint64 {
	return uint64(toUint32(r.last)) - uint64(toUint32(r.first)) + 1
}

func toUint32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// String returns r in the shortest form parseTarget reads back: one
// address, a CIDR block, or a range.
func (r addrRange) String() string {
	if r.first == r.last {
		return r.first.String()
	}
	for bits := 0; bits <= 32; bits++ {
		if p := netip.PrefixFrom(r.first, bits); p.Masked().Addr() == r.first && lastOf(p) == r.last {
			return p.String()
		}
	}
	f, l := r.first.As4(), r.last.As4()
	if [3]byte(f[:3]) == [3]byte(l[:3]) {
		return r.first.String() + "-" + strconv.Itoa(int(l[3]))
	}
	return r.first.String() + "-" + r.last.String()
}

// all yields the addresses of r in order.
func (r addrRange) all() iter.Seq[netip.Addr] {
	return func(yield func(netip.Addr) bool) {
		for a := r.first; ; a = a.Next() {
			if !yield(a) || a == r.last {
				return
			}
		}
	}
}

// A fileError reports a bad line in a file of targets.
type fileError struct {
	file string
	line int
	err  error
}

func (e *fileError) Error() string { return e.file + ":" + strconv.Itoa(e.line) + ": " + e.err.Error() }

// readTargets reads the targets in r, one a line: blank lines and lines
// whose first non-blank character is # are skipped. It yields each range,
// or a *fileError for a bad line, and goes on; an error reading ends it.
func readTargets(r io.Reader, name string) iter.Seq2[addrRange, error] {
	return func(yield func(addrRange, error) bool) {
		sc := bufio.NewScanner(r)
		for line := 1; sc.Scan(); line++ {
			s := strings.TrimSpace(sc.Text())
			if s == "" || s[0] == '#' {
				continue
			}
			ar, err := parseTarget(s)
			if err != nil {
				err = &fileError{name, line, err}
			}
			if !yield(ar, err) {
				return
			}
		}
		if err := sc.Err(); err != nil {
			yield(addrRange{}, fmt.Errorf("%s: %w", name, err))
		}
	}
}

var errNoTargets = errors.New("no targets: give addresses, CIDR blocks or ranges, or -f FILE")
