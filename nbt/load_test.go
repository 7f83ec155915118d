//go:build unix

package nbt_test

// Hardening tests of issue 7, at the level of the Dialer: load and leaks,
// with concurrent and sequential dials.

import (
	"context"
	"fmt"
	"io"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/nbt"
	"github.com/netbios-go/netbios/nbt/nbttest"
	"github.com/netbios-go/netbios/session"
)

// ensureFDs makes sure that the process may open need file
// descriptors, raising the soft limit to the hard limit if it must, and
// skips the test when even the hard limit is too low.
func ensureFDs(t *testing.T, need uint64) {
	t.Helper()
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Skipf("cannot read RLIMIT_NOFILE: %v", err)
	}
	if rl.Cur >= need {
		return
	}
	if rl.Max < need {
		t.Skipf("needs %d file descriptors; the hard limit (ulimit -Hn) is %d", need, rl.Max)
	}
	old := rl
	rl.Cur = rl.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Skipf("needs %d file descriptors; the soft limit is %d and raising it to %d failed: %v", need, old.Cur, rl.Max, err)
	}
	t.Logf("raised the soft RLIMIT_NOFILE from %d to %d", old.Cur, rl.Cur)
	t.Cleanup(func() { syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) })
}

// dialEcho dials address with d, checks that the conn is a NetBIOS
// session that carries a message to the echo handler and back, and closes
// it. It returns what went wrong, for use off the test's goroutine.
func dialEcho(ctx context.Context, d *nbt.Dialer, address string, tag byte) error {
	c, err := d.DialContext(ctx, "tcp", address)
	if err != nil {
		return err
	}
	defer c.Close()
	nc := c.(*nbt.Conn)
	if nc.Transport() != nbt.TransportNetBIOS || nc.CalledName().IsZero() {
		return fmt.Errorf("conn over %v with called name %v", nc.Transport(), nc.CalledName())
	}
	msg := []byte{0, 0, 0, 2, 0xFE, tag}
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	if _, err := c.Write(msg); err != nil {
		return err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("reading the echo: %w", err)
	}
	if string(got) != string(msg) {
		return fmt.Errorf("echo %x, want %x", got, msg)
	}
	return nil
}

// TestLoadConcurrent opens 1,000 sessions at once against one nbttest host,
// with the name cache off so that every Race dial races node status and
// its connection; every dial must succeed, and once the host is closed
// nothing is left running or open. One more Race run forces, on every
// dial, its longest path: the host refuses *SMBSERVER, and node status
// answers only once it has, so that each dial asks for *SMBSERVER after
// the grace, then for the server's name on a second connection.
func TestLoadConcurrent(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 100
	}
	// Per dial at its peak: a TCP and a UDP socket on the client, and the
	// accepted connection on the host; twice that, for slack.
	ensureFDs(t, uint64(6*n+256))
	tests := []struct {
		name    string
		policy  nbt.Policy
		handler nbttest.Handler
		trace   func(wait func(*signal)) *nbt.ClientTrace // per dial
		ns      *nbns.Client                              // nil: the host's Dialer's
	}{
		{name: "Race", policy: nbt.Race},
		{name: "PreSP5", policy: nbt.PreSP5},
		{
			name: "Race/*SMBSERVER refused, then the server's name", policy: nbt.Race,
			handler: nbttest.RefuseNames(session.ErrCalledNameNotPresent, nbttest.SMBServer), trace: nodeStatusAfterRefusal,
			// 1,000 queries leave at once, after the refusals: the host's
			// socket drops some, and they are sent again.
			ns: &nbns.Client{Timeout: time.Second, Attempts: 5},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkNoLeaks(t) // runs after s.Close
			s := nbttest.NewServer(tt.handler)
			defer s.Close()
			d := s.Dialer()
			d.Policy = tt.policy
			d.Cache = nbt.NewNameCache(0) // every dial discovers afresh
			if tt.ns != nil {
				d.NameService = tt.ns
			}
			conns := &connCounter{}
			d.NetDialer = conns
			ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
			defer cancel()
			release := make(chan struct{})
			defer close(release)
			wait := func(s *signal) {
				timer := time.NewTimer(10 * time.Second)
				defer timer.Stop()
				select {
				case <-s.c:
				case <-release:
				case <-timer.C:
				}
			}

			start := make(chan struct{})
			errs := make(chan error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					ctx := ctx
					if tt.trace != nil {
						ctx = nbt.WithClientTrace(ctx, tt.trace(wait))
					}
					<-start
					errs <- dialEcho(ctx, d, s.Addr.String(), byte(i))
				})
			}
			t0 := time.Now()
			close(start)
			wg.Wait()
			elapsed := time.Since(t0)
			close(errs)
			failed := 0
			for err := range errs {
				if err != nil {
					if failed++; failed <= 5 {
						t.Error(err)
					}
				}
			}
			if failed > 0 {
				t.Fatalf("%d of %d concurrent dials failed", failed, n)
			}
			conns.check(t)
			if got := len(s.Requests()); got < n {
				t.Errorf("the host saw %d session requests for %d dials", got, n)
			}
			t.Logf("%d concurrent dials in %v; %d TCP connections, %d session requests, %d node status queries",
				n, elapsed.Round(time.Millisecond), conns.total.Load(), len(s.Requests()), s.NodeStatusQueries())
		})
	}
}

// nodeStatusAfterRefusal returns a trace for one Race dial that holds node
// status until the host has refused *SMBSERVER, so that the dial asks for
// *SMBSERVER once the grace is over, and for the server's name on a
// second connection.
func nodeStatusAfterRefusal(wait func(*signal)) *nbt.ClientTrace {
	refused := newSignal()
	return &nbt.ClientTrace{
		SessionResponse: func(i nbt.SessionResponseInfo) {
			if i.Request.Called == nbttest.SMBServer && i.Response.Type == session.TypeNegativeResponse {
				refused.fire()
			}
		},
		NodeStatusStart: func(nbt.NodeStatusStartInfo) { wait(refused) },
	}
}

// TestLoadSequential dials 10,000 times, one dial after the other, with
// every policy, cached and not, against a host that accepts every name and
// one that refuses *SMBSERVER: every dial gets a name the host accepts, and
// afterwards nothing is left running or open.
func TestLoadSequential(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 1000
	}
	checkNoLeaks(t) // runs after the hosts are closed
	accept := nbttest.NewServer(nbttest.Echo)
	defer accept.Close()
	refuse := nbttest.NewServer(nbttest.RefuseNames(session.ErrCalledNameNotPresent, nbttest.SMBServer))
	defer refuse.Close()

	type combo struct {
		s      *nbttest.Server
		d      *nbt.Dialer
		name   string
		dials  int
		taken  time.Duration
		wantOK func(nbns.Name) bool
	}
	var combos []*combo
	conns := &connCounter{}
	for _, s := range []*nbttest.Server{accept, refuse} {
		for _, p := range allPolicies {
			for _, cached := range []bool{true, false} {
				d := s.Dialer()
				d.Policy = p
				d.Timeout = 10 * time.Second
				d.NetDialer = conns
				name := p.String()
				if !cached {
					d.Cache = nbt.NewNameCache(0)
					name += "/uncached"
				}
				want := func(got nbns.Name) bool { return got == nbttestName }
				if s == accept {
					name = "accepts all/" + name
					want = func(got nbns.Name) bool { return got == nbttestName || got == nbttest.SMBServer }
				} else {
					name = "refuses *SMBSERVER/" + name
				}
				combos = append(combos, &combo{s: s, d: d, name: name, wantOK: want})
			}
		}
	}
	t0 := time.Now()
	for i := range n {
		cb := combos[i%len(combos)]
		start := time.Now()
		c, err := cb.d.DialContext(t.Context(), "tcp", cb.s.Addr.String())
		cb.taken += time.Since(start)
		cb.dials++
		if err != nil {
			t.Fatalf("dial %d (%s): %v", i, cb.name, err)
		}
		called := c.(*nbt.Conn).CalledName()
		c.Close()
		if !cb.wantOK(called) {
			t.Fatalf("dial %d (%s): called name %v", i, cb.name, called)
		}
	}
	elapsed := time.Since(t0)
	conns.check(t)
	t.Logf("%d sequential dials in %v (%v per dial)", n, elapsed.Round(time.Millisecond), (elapsed / time.Duration(n)).Round(time.Microsecond))
	for _, cb := range combos {
		t.Logf("  %-34s %5d dials, %v per dial", cb.name, cb.dials, (cb.taken / time.Duration(max(cb.dials, 1))).Round(time.Microsecond))
	}
}
