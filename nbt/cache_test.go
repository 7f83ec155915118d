package nbt_test

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/nbt"
	"github.com/netbios-go/netbios/nbt/nbttest"
)

// calledNames returns the called names of requests, as strings.
func calledNames(s *nbttest.Server, from int) []string {
	var names []string
	for _, r := range s.Requests()[from:] {
		names = append(names, r.Called.String())
	}
	return names
}

// TestCacheKeyedByHostName dials two host names that resolve to one
// address, then the address itself, under each policy: a dial for one
// never asks first for the name learned for another. Race's host has no
// name service, so that it too calls the host name's label.
func TestCacheKeyedByHostName(t *testing.T) {
	cases := []struct {
		policy nbt.Policy
		want   [][]string // the called names of each dial: alpha, beta, the address, alpha again
	}{
		{nbt.Race, [][]string{
			{"ALPHA<20>"}, {"BETA<20>"}, {"*SMBSERVER<20>"}, {"ALPHA<20>"},
		}},
		{nbt.PreSP5, [][]string{
			{"ALPHA<20>"}, {"BETA<20>"}, {"*SMBSERVER<20>"}, {"ALPHA<20>"},
		}},
		{nbt.SP5, [][]string{
			{"ALPHA<20>"}, {"BETA<20>"}, {"NBTTEST<20>"}, {"ALPHA<20>"},
		}},
	}
	for _, tt := range cases {
		t.Run(tt.policy.String(), func(t *testing.T) {
			s := nbttest.NewUnstartedServer(nbttest.Echo) // accepts any name
			if tt.policy == nbt.Race {
				s.NameService = nbttest.RejectQueries
			}
			s.Start()
			defer s.Close()
			d := s.Dialer()
			d.Policy = tt.policy
			d.Resolver = &nbt.Resolver{DNS: fakeDNS(t, s.Addr.Addr()), NoBroadcast: true}
			port := portOf(s.Addr)
			var got [][]string
			for _, host := range []string{"alpha.example", "beta.example", s.Addr.Addr().String(), "ALPHA.example."} {
				from := len(s.Requests())
				c, err := d.Dial("tcp", host+":"+port)
				if err != nil {
					t.Fatalf("%s: %v", host, err)
				}
				c.Close()
				got = append(got, calledNames(s, from))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("called names of each dial (-want +got):\n%s", diff)
			}
			for _, host := range []string{"alpha.example", "Beta.Example."} {
				if _, ok := d.Cache.Lookup(host, s.Addr); !ok {
					t.Errorf("Lookup(%q) found nothing", host)
				}
			}
			if n, ok := d.Cache.Lookup("gamma.example", s.Addr); ok {
				t.Errorf("Lookup(gamma.example) = %v: a host never dialed", n)
			}
		})
	}
}

// TestCacheIgnoresCalledName dials once with a CalledName the host
// accepts, as Samba accepts any name: later dials that discover the name
// must not call it, and a refusal of it must not forget what discovery
// learned.
func TestCacheIgnoresCalledName(t *testing.T) {
	typo := nbns.MustName("TYPO", nbns.FileServer)
	for _, policy := range []nbt.Policy{nbt.Race, nbt.PreSP5, nbt.SP5} {
		t.Run(policy.String(), func(t *testing.T) {
			s := nbttest.NewServer(nbttest.Echo)
			defer s.Close()
			d := s.Dialer()
			d.Policy = policy
			discover := func() []string {
				from := len(s.Requests())
				c, err := d.Dial("tcp", s.Addr.String())
				if err != nil {
					t.Fatal(err)
				}
				c.Close()
				return calledNames(s, from)
			}
			learned := discover()

			typed := *d
			typed.CalledName = typo
			c, err := typed.Dial("tcp", s.Addr.String())
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
			if n, _ := d.Cache.Lookup("", s.Addr); n == typo {
				t.Errorf("the cache holds %v, the caller's CalledName", n)
			}
			if diff := cmp.Diff(learned, discover()); diff != "" {
				t.Errorf("after a dial with CalledName %v, discovery called (-before +after):\n%s", typo, diff)
			}
		})
	}
}

// TestCacheLookupAddressOnly checks that a dial by address fills the entry
// of the address, not of a host name.
func TestCacheLookupAddressOnly(t *testing.T) {
	s := nbttest.NewServer(nbttest.Echo)
	defer s.Close()
	d := s.Dialer()
	c, err := d.Dial("tcp", s.Addr.String())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if n, ok := d.Cache.Lookup("", s.Addr); !ok || n != nbttestName {
		t.Errorf(`Lookup("") = %v, %v; want %v`, n, ok, nbttestName)
	}
	other := netip.AddrPortFrom(s.Addr.Addr(), s.Addr.Port()+1)
	if n, ok := d.Cache.Lookup("", other); ok {
		t.Errorf("Lookup(%v) = %v: another port", other, n)
	}
}
