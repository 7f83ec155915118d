//go:build interop

package nbt_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/nbt"
	"github.com/netbios-go/netbios/nbt/nbttest"
)

// TestInteropRoundTrips puts the latency relay in front of a real Samba and
// counts each policy's round trips, as TestRoundTrips does against nbttest.
// smbd forks a child for each connection and answers 10 to 25 ms after it;
// with a 100 ms RTT that think time stays within the half round trip of
// slack the bounds allow.
func TestInteropRoundTrips(t *testing.T) {
	env := lab(t)
	env.logsOnFailure(t, "a")
	env.startHelper(t, "front")
	const oneWay = 50 * time.Millisecond
	rtt := 2 * oneWay
	type want map[nbt.Policy]float64 // round trips; 0: the dial must fail
	cases := []struct {
		name   string
		target netip.Addr
		drop   bool // drop UDP 137 to the target
		cached bool
		want   want
	}{
		{name: "Samba (accepts *SMBSERVER)", target: env.Host, want: want{nbt.PreSP5: 2, nbt.SP5: 3, nbt.Race: 2}},
		{name: "front refusing *SMBSERVER", target: env.Front, want: want{nbt.PreSP5: 5, nbt.SP5: 3, nbt.Race: 2}},
		{name: "Samba, UDP 137 dropped", target: env.Host, drop: true, want: want{nbt.PreSP5: 2, nbt.SP5: 0, nbt.Race: 2}},
		{name: "front, name in cache", target: env.Front, cached: true, want: want{nbt.PreSP5: 2, nbt.SP5: 2, nbt.Race: 2}},
	}
	var table strings.Builder
	fmt.Fprintf(&table, "| host | PreSP5 | SP5 | Race |\n| --- | --- | --- | --- |\n")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.drop {
				env.filterUDP137(t, tc.target, "drop")
			}
			row := "| " + tc.name + " |"
			for _, p := range []nbt.Policy{nbt.PreSP5, nbt.SP5, nbt.Race} {
				relay, err := nbttest.NewRelay(netip.AddrPortFrom(tc.target, nbt.Port), netip.AddrPortFrom(tc.target, nbns.Port), oneWay)
				if err != nil {
					t.Fatal(err)
				}
				d := &nbt.Dialer{
					Policy:          p,
					NetDialer:       relay.Dialer(),
					NameServicePort: relay.NameAddr.Port(),
					NameService:     &nbns.Client{Timeout: 3 * rtt, Attempts: 2},
					Cache:           nbt.NewNameCache(time.Minute),
				}
				if tc.cached {
					c, err := d.Dial("tcp", relay.Addr.String())
					if err != nil {
						relay.Close()
						t.Fatalf("%v: warming the cache: %v", p, err)
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
				switch w := tc.want[p]; {
				case w == 0 && err == nil:
					t.Errorf("%v: dial succeeded, want a failure", p)
				case w == 0:
					row += " fails |"
					continue
				case err != nil:
					t.Errorf("%v: %v", p, err)
				case trips > w+0.5:
					t.Errorf("%v: %.1f round trips, want %.0f", p, trips, w)
				}
				row += fmt.Sprintf(" %.1f |", trips)
			}
			table.WriteString(row + "\n")
		})
	}
	t.Logf("dial time in round trips against Samba (RTT %v):\n%s", rtt, table.String())
}
