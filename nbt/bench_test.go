package nbt_test

import (
	"testing"

	"github.com/netbios-go/netbios/nbt"
	"github.com/netbios-go/netbios/nbt/nbttest"
)

// BenchmarkDial measures a whole dial's time and allocations on loopback,
// per policy, against a host that refuses *SMBSERVER (so that PreSP5 takes
// its five steps) and against one that accepts it, and the TCP connections
// and session requests the host saw per dial; the name cache is off, except
// in the "cached" runs.
func BenchmarkDial(b *testing.B) {
	for _, sc := range nbttest.Scenarios()[:2] {
		for _, p := range []nbt.Policy{nbt.Race, nbt.PreSP5, nbt.SP5} {
			for _, cached := range []bool{false, true} {
				name := sc.Name + "/" + p.String()
				if cached {
					name += "/cached"
				}
				b.Run(name, func(b *testing.B) {
					s := sc.Start()
					defer s.Close()
					d := s.Dialer()
					d.Policy = p
					if !cached {
						d.Cache = nbt.NewNameCache(0)
					}
					b.ReportAllocs()
					conns, requests := s.Connections(), len(s.Requests())
					for b.Loop() {
						c, err := d.Dial("tcp", s.Addr.String())
						if err != nil {
							b.Fatal(err)
						}
						c.Close()
					}
					b.ReportMetric(float64(s.Connections()-conns)/float64(b.N), "conns/op")
					b.ReportMetric(float64(len(s.Requests())-requests)/float64(b.N), "requests/op")
				})
			}
		}
	}
}
