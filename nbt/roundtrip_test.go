package nbt_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/nbt"
	"github.com/netbios-go/netbios/nbt/nbttest"
)

// rtt is the round-trip time the relay adds: large enough that scheduling
// noise on loopback, well under a millisecond, does not change the count.
const rtt = 40 * time.Millisecond

// TestRoundTrips measures each policy's dial, in round trips, against each
// KB Q251166 host behind a latency relay, and fails when a policy spends
// more than it should: PreSP5 2 when *SMBSERVER is accepted and 5 when it
// is refused, SP5 3, Race 2 whenever the host accepts some name, and every
// policy 2 when the name is in the cache. It prints the table that
// README.md shows.
func TestRoundTrips(t *testing.T) {
	if testing.Short() {
		t.Skip("takes a few seconds of relay latency")
	}
	type want map[nbt.Policy]float64 // round trips; 0: the dial must fail
	cases := []struct {
		scenario nbttest.Scenario
		cached   bool
		want     want
	}{
		{scenario: nbttest.Scenarios()[0], want: want{nbt.PreSP5: 2, nbt.SP5: 3, nbt.Race: 2}},
		{scenario: nbttest.Scenarios()[1], want: want{nbt.PreSP5: 5, nbt.SP5: 3, nbt.Race: 2}},
		{scenario: nbttest.Scenarios()[2], want: want{nbt.PreSP5: 2, nbt.SP5: 0, nbt.Race: 2}},
		{scenario: nbttest.Scenarios()[3], want: want{nbt.PreSP5: 2, nbt.SP5: 0, nbt.Race: 2}},
		{scenario: nbttest.Scenarios()[1], cached: true, want: want{nbt.PreSP5: 2, nbt.SP5: 2, nbt.Race: 2}},
	}
	policies := []nbt.Policy{nbt.PreSP5, nbt.SP5, nbt.Race}
	var table strings.Builder
	fmt.Fprintf(&table, "| host | PreSP5 | SP5 | Race |\n| --- | --- | --- | --- |\n")
	for _, tc := range cases {
		name := tc.scenario.Name
		if tc.cached {
			name = "name in cache (host refuses *SMBSERVER)"
		}
		row := "| " + name + " |"
		for _, p := range policies {
			s := tc.scenario.Start()
			relay := nbttest.RelayServer(s, rtt/2)
			d := &nbt.Dialer{
				Policy:          p,
				NetDialer:       relay.Dialer(),
				NameServicePort: relay.NameAddr.Port(),
				NameService:     &nbns.Client{Timeout: 3 * rtt, Attempts: 2},
				Cache:           nbt.NewNameCache(time.Minute),
			}
			if tc.cached { // a first dial fills the cache
				c, err := d.Dial("tcp", relay.Addr.String())
				if err != nil {
					t.Fatalf("%s/%v: warming the cache: %v", name, p, err)
				}
				c.Close()
			}
			start := time.Now()
			c, err := d.Dial("tcp", relay.Addr.String())
			trips := float64(time.Since(start)) / float64(rtt)
			if err == nil {
				c.Close()
			}
			relay.Close()
			s.Close()

			wantTrips := tc.want[p]
			switch {
			case wantTrips == 0 && err == nil:
				t.Errorf("%s/%v: dial succeeded, want a failure", name, p)
			case wantTrips == 0:
				row += " fails |"
				continue
			case err != nil:
				t.Errorf("%s/%v: %v", name, p, err)
			case trips > wantTrips+0.5:
				t.Errorf("%s/%v: %.1f round trips, want %.0f", name, p, trips, wantTrips)
			}
			row += fmt.Sprintf(" %.1f |", trips)
		}
		table.WriteString(row + "\n")
	}
	t.Logf("dial time in round trips (RTT %v):\n%s", rtt, table.String())
}
