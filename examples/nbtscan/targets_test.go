package main

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in       string
		first    string
		last     string
		size     uint64
		wantErr  string // a substring
		wantForm string // String(); "" means in
	}{
		{in: "198.18.0.1", first: "198.18.0.1", last: "198.18.0.1", size: 1},
		{in: "198.18.0.0/24", first: "198.18.0.0", last: "198.18.0.255", size: 256},
		{in: "198.18.0.77/24", first: "198.18.0.0", last: "198.18.0.255", size: 256, wantForm: "198.18.0.0/24"},
		{in: "127.0.0.0/16", first: "127.0.0.0", last: "127.0.255.255", size: 65536},
		{in: "10.0.0.0/8", first: "10.0.0.0", last: "10.255.255.255", size: 1 << 24},
		{in: "0.0.0.0/0", first: "0.0.0.0", last: "255.255.255.255", size: 1 << 32},
		{in: "198.18.0.5/32", first: "198.18.0.5", last: "198.18.0.5", size: 1, wantForm: "198.18.0.5"},
		{in: "198.18.0.1-254", first: "198.18.0.1", last: "198.18.0.254", size: 254},
		{in: "198.18.0.7-7", first: "198.18.0.7", last: "198.18.0.7", size: 1, wantForm: "198.18.0.7"},
		{in: "198.18.0.0-255", first: "198.18.0.0", last: "198.18.0.255", size: 256, wantForm: "198.18.0.0/24"},
		{in: "198.18.0.250-198.18.1.4", first: "198.18.0.250", last: "198.18.1.4", size: 11},
		{in: "198.18.0.0-198.18.1.255", first: "198.18.0.0", last: "198.18.1.255", size: 512, wantForm: "198.18.0.0/23"},
		{in: "198.18.0.9-1", wantErr: `invalid target "198.18.0.9-1": the range ends before it starts`},
		{in: "198.18.0.1-256", wantErr: "the end of the range must be 0 to 255"},
		{in: "198.18.0.1-01", wantErr: "the end of the range must be 0 to 255"},
		{in: "198.18.0.1-+1", wantErr: "the end of the range must be 0 to 255"},
		{in: "198.18.0.1-", wantErr: "the end of the range must be 0 to 255"},
		{in: "198.18.0.1-198.18.0.300", wantErr: "want an IPv4 address"},
		{in: "198.18.0.0/33", wantErr: "the prefix length must be 0 to 32"},
		{in: "198.18.0.0/", wantErr: "the prefix length must be 0 to 32"},
		{in: "198.18.0.0/024", wantErr: "the prefix length must be 0 to 32"},
		{in: "::1", wantErr: `invalid target "::1": not an IPv4 address`},
		{in: "2001:db8::/64", wantErr: "not an IPv4 address"},
		{in: "::ffff:198.18.0.1", wantErr: "not an IPv4 address"},
		{in: "host.example", wantErr: `invalid target "host.example": want an IPv4 address`},
		{in: "not-an-address", wantErr: `invalid target "not-an-address": want an IPv4 address`},
		{in: "", wantErr: "want an IPv4 address"},
	}
	for _, tt := range tests {
		r, err := parseTarget(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseTarget(%q) = %v, %v; want an error containing %q", tt.in, r, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseTarget(%q): %v", tt.in, err)
			continue
		}
		type got struct {
			First, Last, Form string
			Size              uint64
		}
		form := tt.wantForm
		if form == "" {
			form = tt.in
		}
		if diff := cmp.Diff(got{tt.first, tt.last, form, tt.size}, got{r.first.String(), r.last.String(), r.String(), r.size()}); diff != "" {
			t.Errorf("parseTarget(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestAddrRangeAll(t *testing.T) {
	r, err := parseTarget("198.18.0.254-198.18.1.1")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for a := range r.all() {
		got = append(got, a.String())
	}
	if diff := cmp.Diff([]string{"198.18.0.254", "198.18.0.255", "198.18.1.0", "198.18.1.1"}, got); diff != "" {
		t.Errorf("addresses (-want +got):\n%s", diff)
	}
	// The last address of the space ends the range, not an overflow.
	r = addrRange{netip.MustParseAddr("255.255.255.254"), netip.MustParseAddr("255.255.255.255")}
	if n := len(slices.Collect(r.all())); n != 2 {
		t.Errorf("%d addresses at the end of the space, want 2", n)
	}
}

func TestReadTargets(t *testing.T) {
	in := "# lab\n198.18.0.1\n\n  198.18.0.8/30  \nnot-an-address\n198.18.0.20-22\n"
	var got []string
	for r, err := range readTargets(strings.NewReader(in), "list") {
		if err != nil {
			got = append(got, "error: "+err.Error())
			continue
		}
		got = append(got, r.String())
	}
	want := []string{
		"198.18.0.1", "198.18.0.8/30",
		`error: list:5: invalid target "not-an-address": want an IPv4 address (198.18.0.1), a CIDR block (198.18.0.0/24) or a range (198.18.0.1-254)`,
		"198.18.0.20-22",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("targets (-want +got):\n%s", diff)
	}
}

// FuzzParseTarget checks that any target parseTarget accepts is a
// non-empty IPv4 range, and that its String form parses back to the same
// range.
func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{
		"198.18.0.1", "198.18.0.0/24", "198.18.0.1-254", "198.18.0.1-198.18.1.254",
		"0.0.0.0/0", "255.255.255.255", "1.2.3.4/32", "1.2.3.4-1.2.3.4", "::1", "1.2.3.4/", "1.2.3.4--5",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := parseTarget(s)
		if err != nil {
			return
		}
		if !r.first.Is4() || !r.last.Is4() || r.last.Less(r.first) || r.size() == 0 || r.size() > 1<<32 {
			t.Fatalf("parseTarget(%q) = %v..%v (%d addresses)", s, r.first, r.last, r.size())
		}
		again, err := parseTarget(r.String())
		if err != nil || again != r {
			t.Fatalf("parseTarget(%q) = %v, whose String %q parses as %v, %v", s, r, r.String(), again, err)
		}
	})
}
