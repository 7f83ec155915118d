// Tests of whole dials over nbttest.Network in virtual time
// (testing/synctest): round trips, connections and requests counted exactly.

package nbt_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/nbt"
	"github.com/netbios-go/netbios/nbt/nbttest"
	"github.com/netbios-go/netbios/session"
)

// rtt is the round-trip time of the in-memory network the round-trip
// tests dial over, in virtual time.
const rtt = 50 * time.Millisecond

// dialCost is what one dial cost, as TestRoundTrips compares it.
type dialCost struct {
	RTT      float64  // the dial's time in round trips; exact in virtual time
	Conns    int      // TCP connections opened (SYNs the host saw)
	Requests []string // the called names asked for, in order
	Called   string   // the name of the session returned; "" when the dial failed
}

// measure makes one dial with d to s, in virtual time, after warm dials
// that fill the cache, and returns what it cost.
func measure(t *testing.T, net *nbttest.Network, s *nbttest.Server, d *nbt.Dialer, warm int) dialCost {
	t.Helper()
	for range warm {
		c, err := d.Dial("tcp", s.Addr.String())
		if err != nil {
			t.Fatalf("warming the cache: %v", err)
		}
		c.Close()
	}
	var mu sync.Mutex
	var cost dialCost
	ctx := nbt.WithClientTrace(t.Context(), &nbt.ClientTrace{
		SessionRequest: func(i nbt.SessionRequestInfo) {
			mu.Lock()
			cost.Requests = append(cost.Requests, i.Request.Called.String())
			mu.Unlock()
		},
	})
	before := net.Connects(s.Addr)
	start := time.Now()
	c, err := d.DialContext(ctx, "tcp", s.Addr.String())
	cost.RTT = float64(time.Since(start)) / float64(rtt)
	if err == nil {
		cost.Called = c.(*nbt.Conn).CalledName().String()
		c.Close()
	}
	cost.Conns = net.Connects(s.Addr) - before
	return cost
}

// TestRoundTrips dials each KB Q251166 host with each policy over an
// in-memory network with a 50 ms round trip, in virtual time
// (testing/synctest), so that a dial's time, its TCP connections and its
// session requests are counted exactly, whatever the machine's load. It
// fails on any difference from the expected cost, and prints the table
// README.md shows.
func TestRoundTrips(t *testing.T) {
	const (
		smb  = "*SMBSERVER<20>"
		name = "NBTTEST<20>"
	)
	refuse := nbttest.RefuseNames(session.ErrCalledNameNotPresent, nbttest.SMBServer)
	type want map[nbt.Policy]dialCost
	cases := []struct {
		name    string
		handler nbttest.Handler
		ns      nbttest.NameServiceMode
		max     int  // Server.MaxSessions
		cached  bool // one dial first, with the cache on
		want    want
	}{
		{
			name: "accepts *SMBSERVER", handler: nbttest.Echo,
			want: want{
				nbt.Race:   {RTT: 2, Conns: 1, Requests: []string{name}, Called: name},
				nbt.PreSP5: {RTT: 2, Conns: 1, Requests: []string{smb}, Called: smb},
				nbt.SP5:    {RTT: 3, Conns: 1, Requests: []string{name}, Called: name},
			},
		},
		{
			name: "refuses *SMBSERVER", handler: refuse,
			want: want{
				nbt.Race:   {RTT: 2, Conns: 1, Requests: []string{name}, Called: name},
				nbt.PreSP5: {RTT: 5, Conns: 2, Requests: []string{smb, name}, Called: name},
				nbt.SP5:    {RTT: 3, Conns: 1, Requests: []string{name}, Called: name},
			},
		},
		{
			name: "UDP 137 dropped", handler: nbttest.Echo, ns: nbttest.DropQueries,
			want: want{
				nbt.Race:   {RTT: 2.5, Conns: 1, Requests: []string{smb}, Called: smb},
				nbt.PreSP5: {RTT: 2, Conns: 1, Requests: []string{smb}, Called: smb},
				nbt.SP5:    {RTT: 6}, // 3 node status queries, 100 ms apart
			},
		},
		{
			name: "UDP 137 rejected (ICMP)", handler: nbttest.Echo, ns: nbttest.RejectQueries,
			want: want{
				nbt.Race:   {RTT: 2, Conns: 1, Requests: []string{smb}, Called: smb},
				nbt.PreSP5: {RTT: 2, Conns: 1, Requests: []string{smb}, Called: smb},
				nbt.SP5:    {RTT: 1},
			},
		},
		{
			name: "refuses *SMBSERVER, UDP 137 dropped", handler: refuse, ns: nbttest.DropQueries,
			want: want{
				nbt.Race:   {RTT: 6, Conns: 2, Requests: []string{smb}},
				nbt.PreSP5: {RTT: 8, Conns: 1, Requests: []string{smb}},
				nbt.SP5:    {RTT: 6},
			},
		},
		{
			name: "one connection at a time, refuses *SMBSERVER", handler: refuse, max: 1,
			want: want{
				nbt.Race:   {RTT: 2, Conns: 1, Requests: []string{name}, Called: name},
				nbt.PreSP5: {RTT: 5, Conns: 2, Requests: []string{smb, name}, Called: name},
				nbt.SP5:    {RTT: 3, Conns: 1, Requests: []string{name}, Called: name},
			},
		},
		{
			name: "name in cache (refuses *SMBSERVER)", handler: refuse, cached: true,
			want: want{
				nbt.Race:   {RTT: 2, Conns: 1, Requests: []string{name}, Called: name},
				nbt.PreSP5: {RTT: 2, Conns: 1, Requests: []string{name}, Called: name},
				nbt.SP5:    {RTT: 2, Conns: 1, Requests: []string{name}, Called: name},
			},
		},
	}
	policies := []nbt.Policy{nbt.Race, nbt.PreSP5, nbt.SP5}
	var table strings.Builder
	fmt.Fprintf(&table, "| host | Race | PreSP5 | SP5 |\n| --- | --- | --- | --- |\n")
	for _, tc := range cases {
		row := "| " + tc.name + " |"
		for _, p := range policies {
			var got dialCost
			synctest.Test(t, func(t *testing.T) {
				net := nbttest.NewNetwork(rtt / 2)
				s := nbttest.NewUnstartedServer(tc.handler)
				s.Network = net
				s.NameService = tc.ns
				s.MaxSessions = tc.max
				s.Start()
				defer s.Close()
				d := s.Dialer()
				d.Policy = p
				d.NameService.Timeout = 2 * rtt // keeps the Network's Dialer
				warm := 0
				if tc.cached {
					warm = 1
				} else {
					d.Cache = nbt.NewNameCache(0)
				}
				got = measure(t, net, s, d, warm)
			})
			if diff := cmp.Diff(tc.want[p], got); diff != "" {
				t.Errorf("%s/%v: cost (-want +got):\n%s", tc.name, p, diff)
			}
			cell := fmt.Sprintf(" %g RTT, %d conn", got.RTT, got.Conns)
			if got.Called == "" {
				cell = fmt.Sprintf(" fails (%g RTT, %d conn)", got.RTT, got.Conns)
			}
			row += cell + " |"
		}
		table.WriteString(row + "\n")
	}
	t.Logf("dial time in round trips and TCP connections per dial (RTT %v, virtual time):\n%s", rtt, table.String())
}

// TestRaceRetriesIO: a host that closes the first connection of each dial
// before it answers (as one that serves one connection at a time, at its
// limit, does) is reached by Race on a second connection; PreSP5 stops at
// the I/O error, as the KB sequence does.
func TestRaceRetriesIO(t *testing.T) {
	for _, tt := range []struct {
		policy nbt.Policy
		want   dialCost
	}{
		{nbt.Race, dialCost{RTT: 4.2, Conns: 2, // two round trips each, and 10 ms of backoff
			Requests: []string{"NBTTEST<20>", "NBTTEST<20>"}, Called: "NBTTEST<20>"}},
		{nbt.PreSP5, dialCost{RTT: 2, Conns: 1, Requests: []string{"*SMBSERVER<20>"}}},
	} {
		t.Run(tt.policy.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var mu sync.Mutex
				served := 0
				net := nbttest.NewNetwork(rtt / 2)
				s := nbttest.NewUnstartedServer(nbttest.HandlerFunc(func(session.Request) nbttest.Response {
					mu.Lock()
					defer mu.Unlock()
					if served++; served == 1 {
						return nbttest.Response{Raw: []byte{}} // closed before the answer
					}
					return nbttest.Response{}
				}))
				s.Network = net
				s.Start()
				defer s.Close()
				d := s.Dialer()
				d.Policy = tt.policy
				d.Cache = nbt.NewNameCache(0)
				got := measure(t, net, s, d, 0)
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("cost (-want +got):\n%s", diff)
				}
			})
		})
	}
}

// TestRaceOneRequestAtATime: in no KB case does a Race dial have two
// session requests out at once.
func TestRaceOneRequestAtATime(t *testing.T) {
	for _, sc := range nbttest.Scenarios() {
		t.Run(sc.Name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				net := nbttest.NewNetwork(rtt / 2)
				s := nbttest.NewUnstartedServer(sc.Handler)
				s.Network = net
				s.NameService = sc.NameService
				s.Start()
				defer s.Close()
				d := s.Dialer()
				d.Cache = nbt.NewNameCache(0)
				var mu sync.Mutex
				out, most := 0, 0
				ctx := nbt.WithClientTrace(t.Context(), &nbt.ClientTrace{
					SessionRequest: func(nbt.SessionRequestInfo) {
						mu.Lock()
						out++
						most = max(most, out)
						mu.Unlock()
					},
					SessionResponse: func(nbt.SessionResponseInfo) {
						mu.Lock()
						out--
						mu.Unlock()
					},
				})
				c, err := d.DialContext(ctx, "tcp", s.Addr.String())
				if err == nil {
					c.Close()
				}
				if most > 1 {
					t.Errorf("%d session requests out at once", most)
				}
			})
		})
	}
}

// slowPort delays the connects that its dialer makes to one port.
type slowPort struct {
	d     session.ContextDialer
	port  string
	delay time.Duration
}

func (s slowPort) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if strings.HasSuffix(address, ":"+s.port) {
		t := time.NewTimer(s.delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return s.d.DialContext(ctx, network, address)
}

// TestDirectWhenNetBIOSFails: with Dialer.Direct, a host with TCP 139
// closed and 445 open (Windows with NetBIOS over TCP off) is reached over
// Direct TCP even when 445's connect ends after NetBIOS has failed.
func TestDirectWhenNetBIOSFails(t *testing.T) {
	for _, slower := range []time.Duration{0, 2 * time.Millisecond, rtt} {
		t.Run(slower.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := nbttest.NewNetwork(rtt / 2)
				ln, err := n.Listen("tcp4", "198.18.0.2:445")
				if err != nil {
					t.Fatal(err)
				}
				defer ln.Close()
				go func() {
					for {
						c, err := ln.Accept()
						if err != nil {
							return
						}
						c.Close()
					}
				}()
				d := &nbt.Dialer{
					NetDialer:   slowPort{n.Dialer(), "445", slower},
					NameService: &nbns.Client{Dialer: n.Dialer()},
					Cache:       nbt.NewNameCache(0),
					Direct:      true,
				}
				c, err := d.Dial("tcp", "198.18.0.2")
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				defer c.Close()
				if got := c.(*nbt.Conn).Transport(); got != nbt.TransportDirect {
					t.Errorf("transport %v, want Direct TCP", got)
				}
			})
		})
	}
}

// TestDirect: with Direct set, a Direct TCP listener on 445 wins over
// NetBIOS, one round trip against two; once 445 is closed, NetBIOS decides.
func TestDirect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := nbttest.NewNetwork(rtt / 2)
		s := nbttest.NewUnstartedServer(nil)
		s.Network = n
		s.Start()
		defer s.Close()
		ln, err := n.Listen("tcp4", netip.AddrPortFrom(s.Addr.Addr(), 445).String())
		if err != nil {
			t.Fatal(err)
		}
		accepted := make(chan net.Conn, 1)
		go func() {
			c, err := ln.Accept()
			if err == nil {
				accepted <- c
			}
		}()
		d := s.Dialer()
		d.Direct = true
		start := time.Now()
		c, err := d.Dial("tcp", s.Addr.String())
		if err != nil {
			t.Fatal(err)
		}
		if got := time.Since(start); got != rtt {
			t.Errorf("Direct TCP dial took %v, want one round trip", got)
		}
		nc := c.(*nbt.Conn)
		if nc.Transport() != nbt.TransportDirect || nc.Session() != nil || !nc.CalledName().IsZero() {
			t.Errorf("transport %v, called %v; want Direct TCP", nc.Transport(), nc.CalledName())
		}
		srv := <-accepted
		c.Write([]byte("x"))
		b := make([]byte, 1)
		srv.Read(b)
		if b[0] != 'x' {
			t.Errorf("direct conn carried %q", b)
		}
		c.Close()
		srv.Close()
		ln.Close() // now 445 refuses

		c, err = d.Dial("tcp", s.Addr.String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if got := c.(*nbt.Conn).Transport(); got != nbt.TransportNetBIOS {
			t.Errorf("with 445 closed: transport %v, want NetBIOS", got)
		}
		echo(t, c)
	})
}
