//go:build unix

package nbt_test

// Hardening tests of issue 7, at the level of the Dialer: load and leaks
// (concurrent and sequential dials), cancellation at every step of every
// policy, forged name service replies, hostile name tables, retarget
// chains, and the memory an idle conn holds. Every test ends with
// checkNoLeaks (the goroutines and file descriptors are back where they
// started) and counts the TCP connections its Dialer opened through
// hardConnCounter, so that a connection dropped without Close is seen even
// when a finalizer closes it.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/nbt"
	"github.com/netbios-go/netbios/nbt/nbttest"
	"github.com/netbios-go/netbios/session"
)

// hardServerName is the server name in nbttest's default name table.
var hardServerName = nbns.MustName("NBTTEST", nbns.FileServer)

// hardPolicies are the policies, in the order the tests run them.
var hardPolicies = []nbt.Policy{nbt.Race, nbt.PreSP5, nbt.SP5}

// hardEnsureFDs makes sure that the process may open need file
// descriptors, raising the soft limit to the hard limit if it must, and
// skips the test when even the hard limit is too low.
func hardEnsureFDs(t *testing.T, need uint64) {
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

// hardDialEcho dials address with d, checks that the conn is a NetBIOS
// session that carries a message to the echo handler and back, and closes
// it. It returns what went wrong, for use off the test's goroutine.
func hardDialEcho(ctx context.Context, d *nbt.Dialer, address string, tag byte) error {
	c, err := d.DialContext(ctx, "tcp", address)
	if err != nil {
		return err
	}
	defer c.Close()
	nc := c.(*nbt.Conn)
	if nc.Transport() != nbt.NetBIOS || nc.CalledName().IsZero() {
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
	hardEnsureFDs(t, uint64(6*n+256))
	tests := []struct {
		name    string
		policy  nbt.Policy
		handler nbttest.Handler
		trace   func(wait func(*hardSignal)) *nbt.ClientTrace // per dial
		ns      *nbns.Client                                  // nil: the host's Dialer's
	}{
		{name: "Race", policy: nbt.Race},
		{name: "PreSP5", policy: nbt.PreSP5},
		{
			name: "Race/*SMBSERVER refused, then the server's name", policy: nbt.Race,
			handler: nbttest.RefuseNames(session.ErrCalledNameNotPresent, nbttest.SMBServer), trace: hardAfterRefusal,
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
			conns := &hardConnCounter{}
			d.NetDialer = conns
			ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
			defer cancel()
			release := make(chan struct{})
			defer close(release)
			wait := func(s *hardSignal) {
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
					errs <- hardDialEcho(ctx, d, s.Addr.String(), byte(i))
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

// hardConnCounter is a Dialer's NetDialer that counts the TCP connections
// it opened and that nobody closed. A net.Conn dropped without Close is
// closed by a finalizer at some garbage collection, which hides the leak
// from a file descriptor count; this count does not depend on the
// collector.
type hardConnCounter struct {
	nd    net.Dialer
	open  atomic.Int64
	total atomic.Int64
}

func (d *hardConnCounter) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := d.nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	d.open.Add(1)
	d.total.Add(1)
	return &hardCountedConn{Conn: c, d: d}, nil
}

// check fails t if a connection the dialer opened is still open.
func (d *hardConnCounter) check(t *testing.T) {
	t.Helper()
	if n := d.open.Load(); n != 0 {
		t.Errorf("%d of the %d TCP connections the Dialer opened were never closed", n, d.total.Load())
	}
}

type hardCountedConn struct {
	net.Conn
	d    *hardConnCounter
	once sync.Once
}

func (c *hardCountedConn) Close() error {
	c.once.Do(func() { c.d.open.Add(-1) })
	return c.Conn.Close()
}

// hardAfterRefusal returns a trace for one Race dial that holds node
// status until the host has refused *SMBSERVER, so that the dial asks for
// *SMBSERVER once the grace is over, and for the server's name on a
// second connection.
func hardAfterRefusal(wait func(*hardSignal)) *nbt.ClientTrace {
	refused := newHardSignal()
	return &nbt.ClientTrace{
		SessionResponse: func(i nbt.SessionResponseInfo) {
			if i.Err == nil && i.Called == nbttest.SMBServer && i.Response.Type == session.TypeNegativeResponse {
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
	conns := &hardConnCounter{}
	for _, s := range []*nbttest.Server{accept, refuse} {
		for _, p := range hardPolicies {
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
				want := func(got nbns.Name) bool { return got == hardServerName }
				if s == accept {
					name = "accepts all/" + name
					want = func(got nbns.Name) bool { return got == hardServerName || got == nbttest.SMBServer }
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

// hardSignal is an event that happens at most once.
type hardSignal struct {
	once sync.Once
	c    chan struct{}
}

func newHardSignal() *hardSignal { return &hardSignal{c: make(chan struct{})} }

func (s *hardSignal) fire() { s.once.Do(func() { close(s.c) }) }

// hardCancelEnv is what one row of TestCancelEveryStep shares between the
// host's handler, the trace hooks and the test.
type hardCancelEnv struct {
	cancel    context.CancelFunc
	cancelled atomic.Int64   // UnixNano of the first cancelNow, 0 before
	target    netip.AddrPort // where the host retargets, in the rows that retarget
	primed    atomic.Bool    // the cache holds a name: the host now plays the row
}

// cancelNow cancels the dial's context and records when it first did.
func (e *hardCancelEnv) cancelNow() {
	e.cancelled.CompareAndSwap(0, time.Now().UnixNano())
	e.cancel()
}

// TestCancelEveryStep cancels the dial's context at each step of each
// policy, from a ClientTrace hook, so that the cancel lands exactly there:
// when node status has started (the host drops or delays its answer),
// before the TCP connect, once it is up, once the session request is sent
// (the host never answers, or answers at once), when the first session
// response arrives, after node status, while following a retarget, and the
// same with a name in the cache (fresh or stale). A cancel that comes
// before DialContext returns a conn always
// wins: the dial returns promptly with context.Canceled, even when a
// positive response was already read, and that session is closed. A cancel
// after DialContext has returned does not touch the conn.
func TestCancelEveryStep(t *testing.T) {
	refuseSMB := func(*hardCancelEnv) nbttest.Handler {
		return nbttest.RefuseNames(session.ErrCalledNameNotPresent, nbttest.SMBServer)
	}
	echoAll := func(*hardCancelEnv) nbttest.Handler { return nbttest.Echo }
	blackhole := func(*hardCancelEnv) nbttest.Handler { return nbttest.Blackhole }
	positive := func(i nbt.SessionResponseInfo) bool {
		return i.Err == nil && i.Response.Type == session.TypePositiveResponse
	}
	onNodeStatus := func(e *hardCancelEnv) *nbt.ClientTrace {
		return &nbt.ClientTrace{NodeStatusStart: func(nbt.NodeStatusStartInfo) { e.cancelNow() }}
	}
	onPositive := func(e *hardCancelEnv) *nbt.ClientTrace {
		return &nbt.ClientTrace{SessionResponse: func(i nbt.SessionResponseInfo) {
			if positive(i) {
				e.cancelNow()
			}
		}}
	}
	all := hardPolicies
	tests := []struct {
		name      string
		policies  []nbt.Policy
		ns        nbttest.NameServiceMode
		nameDelay time.Duration
		handler   func(*hardCancelEnv) nbttest.Handler
		trace     func(*hardCancelEnv) *nbt.ClientTrace
		retarget  bool // start a second host, for the handler to retarget to
		cached    bool // a first dial, which the host accepts, fills the name cache
		stale     bool // the host refuses the cached name: the cache must forget it
		after     bool // cancel once DialContext has returned: the conn must work
	}{
		{
			name: "node status/dropped", policies: all, ns: nbttest.DropQueries,
			handler: refuseSMB, trace: onNodeStatus,
		},
		{
			name: "node status/delayed", policies: all, nameDelay: time.Hour,
			handler: refuseSMB, trace: onNodeStatus,
		},
		{
			name: "before connect", policies: all, handler: echoAll,
			trace: func(e *hardCancelEnv) *nbt.ClientTrace {
				return &nbt.ClientTrace{ConnectStart: func(string, string) { e.cancelNow() }}
			},
		},
		{
			name: "session request/blackhole", policies: all, handler: blackhole,
			trace: func(e *hardCancelEnv) *nbt.ClientTrace {
				return &nbt.ClientTrace{SessionRequest: func(nbt.SessionRequestInfo) { e.cancelNow() }}
			},
		},
		{
			name: "session request/answered at once", policies: all, handler: echoAll,
			trace: func(e *hardCancelEnv) *nbt.ClientTrace {
				return &nbt.ClientTrace{SessionRequest: func(nbt.SessionRequestInfo) { e.cancelNow() }}
			},
		},
		{
			name: "session response/first positive", policies: all, handler: echoAll, trace: onPositive,
		},
		{
			name: "session response/negative", policies: []nbt.Policy{nbt.PreSP5}, handler: refuseSMB,
			trace: func(e *hardCancelEnv) *nbt.ClientTrace {
				return &nbt.ClientTrace{SessionResponse: func(i nbt.SessionResponseInfo) {
					if i.Err == nil && i.Response.Type == session.TypeNegativeResponse {
						e.cancelNow()
					}
				}}
			},
		},
		{
			name: "after connect", policies: all, handler: echoAll,
			trace: func(e *hardCancelEnv) *nbt.ClientTrace {
				return &nbt.ClientTrace{ConnectDone: func(_, _ string, err error) {
					if err == nil {
						e.cancelNow()
					}
				}}
			},
		},
		{
			name: "after node status", policies: []nbt.Policy{nbt.PreSP5, nbt.SP5}, handler: refuseSMB,
			trace: func(e *hardCancelEnv) *nbt.ClientTrace {
				return &nbt.ClientTrace{NodeStatusDone: func(i nbt.NodeStatusDoneInfo) {
					if i.Err == nil {
						e.cancelNow()
					}
				}}
			},
		},
		{
			// The host retargets to a second one; the cancel comes as the
			// dial connects to it.
			name: "following a retarget", policies: all, retarget: true,
			handler: func(e *hardCancelEnv) nbttest.Handler { return nbttest.Retarget(e.target) },
			trace: func(e *hardCancelEnv) *nbt.ClientTrace {
				return &nbt.ClientTrace{ConnectStart: func(_, addr string) {
					if addr == e.target.String() {
						e.cancelNow()
					}
				}}
			},
		},
		// With a name in the cache, Race makes one connection and asks
		// for that name; the sequential policies ask for it first.
		{
			name: "cached/before connect", policies: all, cached: true, handler: echoAll,
			trace: func(e *hardCancelEnv) *nbt.ClientTrace {
				return &nbt.ClientTrace{ConnectStart: func(string, string) { e.cancelNow() }}
			},
		},
		{
			name: "cached/session request/blackhole", policies: all, cached: true, handler: blackhole,
			trace: func(e *hardCancelEnv) *nbt.ClientTrace {
				return &nbt.ClientTrace{SessionRequest: func(nbt.SessionRequestInfo) { e.cancelNow() }}
			},
		},
		{
			name: "cached/session response/positive", policies: all, cached: true, handler: echoAll, trace: onPositive,
		},
		{
			// The host now refuses every name: the cached one is stale,
			// and the dial goes on to node status, where the cancel comes.
			name: "cached/stale, node status", policies: all, cached: true, stale: true, trace: onNodeStatus,
			handler: func(*hardCancelEnv) nbttest.Handler { return nbttest.AcceptOnly() },
		},
		{
			name: "after the dial", policies: all, handler: echoAll, after: true,
			trace: func(*hardCancelEnv) *nbt.ClientTrace { return &nbt.ClientTrace{} },
		},
	}
	for _, tt := range tests {
		for _, p := range tt.policies {
			t.Run(tt.name+"/"+p.String(), func(t *testing.T) {
				checkNoLeaks(t) // runs after s.Close
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
				defer cancel()
				ctx, cancelDial := context.WithCancel(ctx)
				defer cancelDial()
				e := &hardCancelEnv{cancel: cancelDial}

				if tt.retarget {
					b := nbttest.NewServer(nbttest.Echo)
					defer b.Close()
					e.target = b.Addr
				}
				h := tt.handler(e)
				if tt.cached {
					row := h
					h = nbttest.HandlerFunc(func(req session.Request) nbttest.Response {
						if !e.primed.Load() {
							return nbttest.Response{}
						}
						return row.ServeSession(req)
					})
				}
				s := nbttest.NewUnstartedServer(h)
				s.NameService = tt.ns
				s.NameDelay = tt.nameDelay
				s.Start()
				defer s.Close()
				d := s.Dialer()
				d.Policy = p
				conns := &hardConnCounter{}
				d.NetDialer = conns
				if tt.ns == nbttest.DropQueries {
					d.NameService = &nbns.Client{Timeout: time.Hour, Attempts: 1} // only the cancel ends it
				}

				if tt.cached {
					c, err := d.DialContext(ctx, "tcp", s.Addr.String())
					if err != nil {
						t.Fatalf("priming the cache: %v", err)
					}
					c.Close()
					if _, ok := d.Cache.Lookup("", s.Addr); !ok {
						t.Fatal("the cache holds no name after a dial that succeeded")
					}
					e.primed.Store(true)
				}

				c, err := d.DialContext(nbt.WithClientTrace(ctx, tt.trace(e)), "tcp", s.Addr.String())
				returned := time.Now()
				if tt.after {
					if err != nil {
						t.Fatalf("dial: %v", err)
					}
					defer c.Close()
					e.cancelNow()
					if err := hardEcho(c); err != nil {
						t.Fatalf("after a cancel that came once the dial had returned: %v", err)
					}
					c.Close()
					conns.check(t)
					return
				}
				if err == nil {
					c.Close()
					t.Fatalf("dial succeeded with %v, want context.Canceled", c.(*nbt.Conn).CalledName())
				}
				conns.check(t)
				if _, ok := d.Cache.Lookup("", s.Addr); tt.cached && ok == tt.stale {
					t.Errorf("after the cancel, the cache holds a name: %v; want %v", ok, !tt.stale)
				}
				at := e.cancelled.Load()
				if at == 0 {
					t.Fatalf("the hook never cancelled; the dial ended with %v", err)
				}
				if !errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("error %v, want context.Canceled", err)
				}
				if _, ok := errors.AsType[*nbt.DialError](err); !ok {
					t.Errorf("error %v does not wrap a *nbt.DialError", err)
				}
				if oe, ok := errors.AsType[*net.OpError](err); !ok || oe.Op != "dial" {
					t.Errorf("error %v is not a dial *net.OpError", err)
				}
				latency := returned.Sub(time.Unix(0, at))
				if latency > 2*time.Second {
					t.Errorf("the dial returned %v after the cancel", latency)
				}
				t.Logf("returned %v after the cancel: %v", latency.Round(time.Microsecond), err)
			})
		}
	}
}

// hardEcho checks that c carries a session message to the echo handler
// and back.
func hardEcho(c net.Conn) error {
	msg := []byte{0, 0, 0, 3, 0xFE, 'h', 'i'}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write(msg); err != nil {
		return err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if string(got) != string(msg) {
		return fmt.Errorf("echo %x, want %x", got, msg)
	}
	return nil
}

// TestForgedRepliesNeverUsed runs a host whose name service sends every
// kind of forged reply (each listing nbttest.ForgedName) before its real
// answer. The dial must take the server's name from the real answer and
// never ask for the forged one, whether the host accepts only its own name
// or any name at all (where a forged name would be accepted, and the
// mistake would otherwise go unseen). The "accepts any name" host refuses
// *SMBSERVER alone, so that Race, which asks for it when node status is
// late, has to win with the name node status gave it.
func TestForgedRepliesNeverUsed(t *testing.T) {
	anyName := nbttest.RefuseNames(session.ErrCalledNameNotPresent, nbttest.SMBServer)
	tests := []struct {
		name     string
		handler  nbttest.Handler
		policies []nbt.Policy
	}{
		{"accepts only NBTTEST<20>", nbttest.AcceptOnly(hardServerName), hardPolicies},
		{"accepts any name but *SMBSERVER", anyName, []nbt.Policy{nbt.Race, nbt.SP5}},
	}
	const dials = 10
	for _, tt := range tests {
		for _, p := range tt.policies {
			t.Run(tt.name+"/"+p.String(), func(t *testing.T) {
				checkNoLeaks(t)
				s := nbttest.NewUnstartedServer(tt.handler)
				s.Forgeries = nbttest.Forgeries
				s.Start()
				defer s.Close()
				d := s.Dialer()
				d.Policy = p
				d.Timeout = 5 * time.Second
				d.Cache = nbt.NewNameCache(0) // node status on every dial
				conns := &hardConnCounter{}
				d.NetDialer = conns
				for i := range dials {
					c, err := d.DialContext(t.Context(), "tcp", s.Addr.String())
					if err != nil {
						t.Fatalf("dial %d: %v", i, err)
					}
					nc := c.(*nbt.Conn)
					called, table := nc.CalledName(), nc.NodeStatus()
					c.Close()
					if called != hardServerName {
						t.Errorf("dial %d: called name %v, want %v", i, called, hardServerName)
					}
					if table == nil {
						t.Fatalf("dial %d: no node status table on the conn", i)
					}
					if slices.ContainsFunc(table.Names, func(e nbns.NodeName) bool { return strings.HasPrefix(e.Name.String(), "FORGED") }) {
						t.Errorf("dial %d: the conn's name table is a forged one: %v", i, table.Names)
					}
				}
				conns.check(t)
				for _, r := range s.Requests() {
					if r.Called == nbttest.ForgedName {
						t.Fatalf("the dialer sent a session request for the forged name %v; requests %v", r.Called, s.Requests())
					}
				}
				if q := s.NodeStatusQueries(); q < dials {
					t.Errorf("%d node status queries for %d dials", q, dials)
				}
			})
		}
	}
}

// TestHostileNameTables answers node status with tables that name no
// server: no unique <20> name, only group names, no names at all, a <20>
// name that is not active. The host refuses *SMBSERVER, so no policy can
// find a name; each must fail well before its deadline with an error that
// lists what the host registered, must never ask for a name that is not a
// unique active <20> name, and must leave nothing behind.
func TestHostileNameTables(t *testing.T) {
	unique := func(s string, suffix nbns.Suffix) nbns.NodeName {
		return nbns.NodeName{Name: nbns.MustName(s, suffix), Flags: nbns.FlagActive}
	}
	group := func(s string, suffix nbns.Suffix) nbns.NodeName {
		return nbns.NodeName{Name: nbns.MustName(s, suffix), Flags: nbns.FlagGroup | nbns.FlagActive}
	}
	tests := []struct {
		name  string
		names []nbns.NodeName // not nil: nil would be nbttest's default table
		want  []string
	}{
		{
			name:  "no unique <20> name",
			names: []nbns.NodeName{unique("PRINTER", nbns.Workstation), unique("PRINTER", nbns.Messenger), group("OFFICE", nbns.Workstation)},
			want:  []string{"PRINTER<00> (unique)", "PRINTER<03> (unique)", "OFFICE<00> (group)"},
		},
		{
			name:  "only group names",
			names: []nbns.NodeName{group("OFFICE", nbns.Workstation), group("OFFICE", nbns.FileServer), group("OFFICE", nbns.BrowserElection)},
			want:  []string{"OFFICE<00> (group)", "OFFICE<20> (group)", "OFFICE<1E> (group)"},
		},
		{
			name:  "no names",
			names: []nbns.NodeName{},
			want:  []string{"lists no names"},
		},
		{
			name:  "<20> name not active",
			names: []nbns.NodeName{{Name: hardServerName}, unique("NBTTEST", nbns.Workstation)},
			want:  []string{"NBTTEST<20> (unique, inactive)", "NBTTEST<00> (unique)"},
		},
	}
	for _, tt := range tests {
		for _, p := range hardPolicies {
			t.Run(tt.name+"/"+p.String(), func(t *testing.T) {
				checkNoLeaks(t)
				s := nbttest.NewUnstartedServer(nbttest.RefuseNames(session.ErrCalledNameNotPresent, nbttest.SMBServer))
				s.Names = tt.names
				s.Start()
				defer s.Close()
				d := s.Dialer()
				d.Policy = p
				d.Timeout = 5 * time.Second
				conns := &hardConnCounter{}
				d.NetDialer = conns
				start := time.Now()
				c, err := d.DialContext(t.Context(), "tcp", s.Addr.String())
				elapsed := time.Since(start)
				if err == nil {
					c.Close()
					t.Fatalf("dial succeeded with %v", c.(*nbt.Conn).CalledName())
				}
				if elapsed > d.Timeout/2 || errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("the dial took %v and ended with %v; it should fail as soon as the table is read", elapsed, err)
				}
				conns.check(t)
				nse, ok := errors.AsType[*nbns.NoServerNameError](err)
				if !ok {
					t.Fatalf("error %v does not wrap a *nbns.NoServerNameError", err)
				}
				if !slices.Equal(nse.Names, tt.names) {
					t.Errorf("NoServerNameError.Names = %v, want %v", nse.Names, tt.names)
				}
				for _, w := range tt.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				if p != nbt.SP5 && !errors.Is(err, session.ErrCalledNameNotPresent) {
					t.Errorf("error %v does not report the refusal of *SMBSERVER", err)
				}
				for _, r := range s.Requests() {
					if r.Called != nbttest.SMBServer {
						t.Errorf("session request for %v, which the table does not name as a server", r.Called)
					}
				}
				t.Logf("failed in %v: %v", elapsed.Round(time.Microsecond), err)
			})
		}
	}
}

// hardHost is an nbttest host that retargets session requests to next,
// when set, and otherwise accepts them. With once set, it retargets only
// the first request for each called name and accepts the ones after.
type hardHost struct {
	*nbttest.Server
	next atomic.Pointer[netip.AddrPort]
	once bool
	mu   sync.Mutex
	seen map[nbns.Name]bool
}

func newHardHost(t *testing.T, once bool) *hardHost {
	h := &hardHost{once: once, seen: make(map[nbns.Name]bool)}
	h.Server = nbttest.NewServer(nbttest.HandlerFunc(h.serve))
	t.Cleanup(h.Close)
	return h
}

func (h *hardHost) serve(req session.Request) nbttest.Response {
	next := h.next.Load()
	if next == nil {
		return nbttest.Response{}
	}
	if h.once {
		h.mu.Lock()
		seen := h.seen[req.Called]
		h.seen[req.Called] = true
		h.mu.Unlock()
		if seen {
			return nbttest.Response{}
		}
	}
	return nbttest.Response{Retarget: *next}
}

func (h *hardHost) retargetTo(a netip.AddrPort) { h.next.Store(&a) }

// hardClosedPort returns a loopback TCP address that nothing listens on.
func hardClosedPort(t *testing.T) netip.AddrPort {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().(*net.TCPAddr).AddrPort()
	ln.Close()
	return a
}

// TestRetargetChains follows retargets through the Dialer, for each
// policy: a loop between two hosts, a chain longer than the 4 connects
// SSN_RETRY_COUNT allows (and the same with MaxConnects raised), retargets
// not followed at all, a retarget to a port that refuses (the dial goes
// back to the first host, which then accepts, or retargets there again
// until the connects run out), and retargets to addresses that cannot be
// dialed. Every case ends within a bound, with the chain in
// the error, and leaves nothing behind. (A retarget carries an IPv4 address
// on the wire, so there is no IPv6 case to send.)
func TestRetargetChains(t *testing.T) {
	chains := func(p nbt.Policy) int {
		if p == nbt.Race {
			return 2 // *SMBSERVER and the server's name, each with its chain
		}
		return 1
	}
	dial := func(t *testing.T, d *nbt.Dialer, a *hardHost, trace *nbt.ClientTrace) (*nbt.Conn, error) {
		t.Helper()
		d.Timeout = 10 * time.Second
		conns := &hardConnCounter{}
		d.NetDialer = conns
		ctx := t.Context()
		if trace != nil {
			ctx = nbt.WithClientTrace(ctx, trace)
		}
		start := time.Now()
		c, err := d.DialContext(ctx, "tcp", a.Addr.String())
		if elapsed := time.Since(start); elapsed > 5*time.Second {
			t.Errorf("the dial took %v", elapsed)
		}
		if err != nil {
			conns.check(t)
			if errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("the dial ran into its deadline: %v", err)
			}
			return nil, err
		}
		if n := conns.open.Load(); n != 1 {
			t.Errorf("%d TCP connections open after a dial that returned one conn", n)
		}
		return c.(*nbt.Conn), nil
	}
	requests := func(hs ...*hardHost) int {
		n := 0
		for _, h := range hs {
			n += len(h.Requests())
		}
		return n
	}
	wantLimit := func(t *testing.T, err error, want []netip.AddrPort) {
		t.Helper()
		rl, ok := errors.AsType[*session.RetargetLimitError](err)
		if !ok {
			t.Fatalf("error %v, want a *session.RetargetLimitError", err)
		}
		if !slices.Equal(rl.Chain, want) {
			t.Errorf("chain %v, want %v", rl.Chain, want)
		}
		var hops []string
		for _, a := range want {
			hops = append(hops, a.String())
		}
		if s := strings.Join(hops, " -> "); !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not list the chain %s", err, s)
		}
	}

	for _, p := range hardPolicies {
		t.Run("A to B to A/"+p.String(), func(t *testing.T) {
			checkNoLeaks(t)
			a, b := newHardHost(t, false), newHardHost(t, false)
			a.retargetTo(b.Addr)
			b.retargetTo(a.Addr)
			d := a.Dialer()
			d.Policy = p
			_, err := dial(t, d, a, nil)
			wantLimit(t, err, []netip.AddrPort{a.Addr, b.Addr, a.Addr, b.Addr})
			if n := requests(a, b); n > session.SSNRetryCount*chains(p) {
				t.Errorf("the hosts saw %d session requests", n)
			}
		})

		t.Run("A to B to C to D to E/"+p.String(), func(t *testing.T) {
			checkNoLeaks(t)
			hs := make([]*hardHost, 5)
			for i := range hs {
				hs[i] = newHardHost(t, false)
			}
			for i := range 4 {
				hs[i].retargetTo(hs[i+1].Addr)
			}
			d := hs[0].Dialer()
			d.Policy = p
			_, err := dial(t, d, hs[0], nil)
			wantLimit(t, err, []netip.AddrPort{hs[0].Addr, hs[1].Addr, hs[2].Addr, hs[3].Addr})
			if n := len(hs[4].Requests()); n != 0 {
				t.Errorf("E saw %d session requests, beyond the 4 connects allowed", n)
			}
			if n := requests(hs...); n > session.SSNRetryCount*chains(p) {
				t.Errorf("the hosts saw %d session requests", n)
			}

			// MaxConnects 5 reaches E.
			d.MaxConnects = 5
			c, err := dial(t, d, hs[0], nil)
			if err != nil {
				t.Fatalf("with MaxConnects 5: %v", err)
			}
			defer c.Close()
			if got := c.RemoteAddr().(*net.TCPAddr).AddrPort(); got != hs[4].Addr {
				t.Errorf("with MaxConnects 5: conn to %v, want E at %v", got, hs[4].Addr)
			}
			if err := hardEcho(c); err != nil {
				t.Error(err)
			}
		})

		t.Run("not followed/"+p.String(), func(t *testing.T) {
			checkNoLeaks(t)
			a, b := newHardHost(t, false), newHardHost(t, false)
			a.retargetTo(b.Addr)
			d := a.Dialer()
			d.Policy = p
			d.MaxConnects = -1
			_, err := dial(t, d, a, nil)
			re, ok := errors.AsType[*session.RetargetError](err)
			if !ok || re.Addr != b.Addr {
				t.Fatalf("error %v, want a *session.RetargetError to %v", err, b.Addr)
			}
			if !strings.Contains(err.Error(), "retarget to "+b.Addr.String()) {
				t.Errorf("error %q does not name the retarget", err)
			}
			if n := len(b.Requests()); n != 0 {
				t.Errorf("B saw %d session requests; the retarget was followed", n)
			}
		})

		t.Run("to a refusing port, back to A/"+p.String(), func(t *testing.T) {
			checkNoLeaks(t)
			a := newHardHost(t, true)
			closed := hardClosedPort(t)
			a.retargetTo(closed)
			d := a.Dialer()
			d.Policy = p
			c, err := dial(t, d, a, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if got := c.RemoteAddr().(*net.TCPAddr).AddrPort(); got != a.Addr {
				t.Errorf("conn to %v, want the first host %v", got, a.Addr)
			}
			refused := slices.ContainsFunc(c.Attempts(), func(at nbt.Attempt) bool {
				return at.Addr == closed && at.Err != nil
			})
			if !refused {
				t.Errorf("attempts %v do not record the refused connect to %v", c.Attempts(), closed)
			}
			if err := hardEcho(c); err != nil {
				t.Error(err)
			}
		})

		t.Run("to a refusing port, every time/"+p.String(), func(t *testing.T) {
			checkNoLeaks(t)
			a := newHardHost(t, false)
			closed := hardClosedPort(t)
			a.retargetTo(closed)
			d := a.Dialer()
			d.Policy = p
			_, err := dial(t, d, a, nil)
			wantLimit(t, err, []netip.AddrPort{a.Addr, closed, a.Addr, closed})
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Errorf("error %v does not report the refused connects", err)
			}
		})

		for _, bad := range []netip.AddrPort{
			netip.MustParseAddrPort("0.0.0.0:139"),
			netip.MustParseAddrPort("127.0.0.1:0"),
			netip.MustParseAddrPort("255.255.255.255:139"),
			netip.MustParseAddrPort("224.0.0.1:139"),
		} {
			t.Run("to "+bad.String()+"/"+p.String(), func(t *testing.T) {
				checkNoLeaks(t)
				a := newHardHost(t, false)
				a.retargetTo(bad)
				d := a.Dialer()
				d.Policy = p
				var mu sync.Mutex
				var connects []string
				trace := &nbt.ClientTrace{ConnectStart: func(_, addr string) {
					mu.Lock()
					connects = append(connects, addr)
					mu.Unlock()
				}}
				_, err := dial(t, d, a, trace)
				re, ok := errors.AsType[*session.RetargetError](err)
				if !ok || re.Addr != bad {
					t.Fatalf("error %v, want a *session.RetargetError to %v", err, bad)
				}
				if !strings.Contains(err.Error(), "refusing to follow") {
					t.Errorf("error %q does not say the retarget was refused", err)
				}
				mu.Lock()
				defer mu.Unlock()
				if slices.Contains(connects, bad.String()) {
					t.Errorf("the dialer connected to %v: %v", bad, connects)
				}
				if n := len(a.Requests()); n > chains(p) {
					t.Errorf("the host saw %d session requests, want at most %d", n, chains(p))
				}
			})
		}
	}
}

// hardRefuseSecond is a NetDialer whose second connect waits for before
// and then fails with ECONNREFUSED, as a
// connect that a rate-limiting firewall or a proxy refuses late; it fires
// failed as it does. Every other connect goes through.
type hardRefuseSecond struct {
	before, failed *hardSignal
	n              atomic.Int32
	hardConnCounter
}

func (d *hardRefuseSecond) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if d.n.Add(1) == 2 {
		timer := time.NewTimer(10 * time.Second)
		defer timer.Stop()
		select {
		case <-d.before.c:
		case <-timer.C:
		}
		d.failed.fire()
		return nil, &net.OpError{Op: "dial", Net: network, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	}
	return d.hardConnCounter.DialContext(ctx, network, addr)
}

// TestRaceSecondConnectFails: a Race dial to a host that refuses
// *SMBSERVER<20> and accepts NBTTEST<20>, whose second connection, opened
// once *SMBSERVER was refused, fails (ECONNREFUSED) before node status has
// answered. The host was reached and node status is about to name
// NBTTEST<20>: one refused connect is no reason to give up, so the dial
// connects again and asks for the server's name.
func TestRaceSecondConnectFails(t *testing.T) {
	checkNoLeaks(t)
	s := nbttest.NewServer(nbttest.RefuseNames(session.ErrCalledNameNotPresent, nbttest.SMBServer))
	defer s.Close()
	d := s.Dialer()
	d.Cache = nbt.NewNameCache(0)
	d.Timeout = 10 * time.Second
	refused, failed := newHardSignal(), newHardSignal()
	nd := &hardRefuseSecond{before: refused, failed: failed}
	d.NetDialer = nd
	trace := &nbt.ClientTrace{
		SessionResponse: func(i nbt.SessionResponseInfo) {
			if i.Err == nil && i.Response.Type == session.TypeNegativeResponse {
				refused.fire() // *SMBSERVER refused on the first connection
			}
		},
		NodeStatusStart: func(nbt.NodeStatusStartInfo) {
			timer := time.NewTimer(10 * time.Second)
			defer timer.Stop()
			select { // node status answers only once the spare has failed
			case <-failed.c:
			case <-timer.C:
			}
		},
	}
	c, err := d.DialContext(nbt.WithClientTrace(t.Context(), trace), "tcp", s.Addr.String())
	if err == nil {
		c.Close()
	}
	nd.check(t)
	if err != nil {
		t.Fatalf("Race gave up when its second connection failed, with node status still pending: %v", err)
	}
	if got := c.(*nbt.Conn).CalledName(); got != hardServerName {
		t.Errorf("called name %v, want %v", got, hardServerName)
	}
}

// hardHelperEnv makes the test binary, run again by
// BenchmarkIdleConnMemory, serve as its peer instead of testing.
const hardHelperEnv = "NBT_HARDENING_HELPER"

// hardHelperReady starts the line the helper prints when it listens:
// the session service, the name service and a raw TCP port follow it.
const hardHelperReady = "HARDENING HELPER READY "

// TestHardeningHelperProcess is not a test: BenchmarkIdleConnMemory runs
// the test binary as a separate process with it, so that the peer's memory
// is not counted with the client's. It serves an nbttest host whose
// sessions stay open, reading nothing, until the client closes them, and a
// TCP port that does the same for raw connections, until its stdin
// closes.
func TestHardeningHelperProcess(t *testing.T) {
	if os.Getenv(hardHelperEnv) == "" {
		t.Skip("a helper process of BenchmarkIdleConnMemory")
	}
	s := nbttest.NewServer(nbttest.HandlerFunc(func(session.Request) nbttest.Response {
		return nbttest.Response{Serve: func(c *session.Conn) {
			var b [1]byte
			c.Read(b[:]) // returns when the client closes
		}}
	}))
	defer s.Close()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
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
			go func() {
				var b [1]byte
				c.Read(b[:])
				c.Close()
			}()
		}
	}()
	fmt.Printf("%s%s %s %s\n", hardHelperReady, s.Addr, s.NameAddr, ln.Addr())
	eof := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(eof)
	}()
	select {
	case <-eof:
	case <-time.After(10 * time.Minute):
	}
}

// hardStartHelper starts TestHardeningHelperProcess and returns its
// session service, name service and raw TCP addresses.
func hardStartHelper(b *testing.B) (sess, names, raw netip.AddrPort) {
	b.Helper()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestHardeningHelperProcess$")
	cmd.Env = append(os.Environ(), hardHelperEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan struct{})
	b.Cleanup(func() {
		stdin.Close() // the helper exits when its stdin closes
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	ready := make(chan string, 1)
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), hardHelperReady); ok {
				ready <- rest
			}
		}
		cmd.Wait()
	}()
	var line string
	select {
	case line = <-ready:
	case <-exited:
		b.Fatalf("the helper exited before it was ready: %v", cmd.ProcessState)
	case <-time.After(15 * time.Second):
		b.Fatal("the helper was not ready after 15 s")
	}
	f := strings.Fields(line)
	if len(f) != 3 {
		b.Fatalf("helper said %q", line)
	}
	for i, p := range []*netip.AddrPort{&sess, &names, &raw} {
		if *p, err = netip.ParseAddrPort(f[i]); err != nil {
			b.Fatalf("helper said %q: %v", line, err)
		}
	}
	return sess, names, raw
}

// hardHeap returns, after a full collection, the heap bytes in use (whole
// spans, so fragmentation included), the bytes of live heap objects, and
// the stack bytes in use.
func hardHeap() (inuse, live, stack uint64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse, m.HeapAlloc, m.StackInuse
}

// BenchmarkIdleConnMemory measures the memory an idle established conn
// holds on the client: it opens 1,000 conns to a peer in another process
// (TestHardeningHelperProcess), so that only the client's memory is
// counted, and reports the growth per conn of HeapInuse (B/conn), of the
// live heap objects, HeapAlloc (live-B/conn), and of StackInuse:
// for plain TCP conns, the baseline, and for NetBIOS sessions through a
// Dialer with each policy. "Race uncached" keeps the name cache off, so
// every conn carries its node status table and its list of attempts. The
// "in-process" run keeps an nbttest host in this process, so it counts the
// host's side (a goroutine and a session.Conn per conn) as well. Kernel
// socket buffers are not in these numbers.
func BenchmarkIdleConnMemory(b *testing.B) {
	const n = 1000
	sess, names, raw := hardStartHelper(b)
	local := nbttest.NewServer(nbttest.HandlerFunc(func(session.Request) nbttest.Response {
		return nbttest.Response{Serve: func(c *session.Conn) {
			var b [1]byte
			c.Read(b[:])
		}}
	}))
	defer local.Close()

	dialer := func(p nbt.Policy, cached bool, nameAddr netip.AddrPort) *nbt.Dialer {
		d := &nbt.Dialer{
			Policy:          p,
			NameServicePort: nameAddr.Port(),
			NameService:     &nbns.Client{Timeout: time.Second, Attempts: 3},
			Cache:           nbt.NewNameCache(nbt.DefaultNameCacheTTL),
			Timeout:         10 * time.Second,
		}
		if !cached {
			d.Cache = nbt.NewNameCache(0)
		}
		return d
	}
	nbtDial := func(d *nbt.Dialer, addr netip.AddrPort) func(context.Context) (net.Conn, error) {
		return func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr.String()) }
	}
	var nd net.Dialer
	tests := []struct {
		name string
		dial func(context.Context) (net.Conn, error)
	}{
		{"raw TCP", func(ctx context.Context) (net.Conn, error) { return nd.DialContext(ctx, "tcp4", raw.String()) }},
		{"Race", nbtDial(dialer(nbt.Race, true, names), sess)},
		{"Race uncached", nbtDial(dialer(nbt.Race, false, names), sess)},
		{"PreSP5", nbtDial(dialer(nbt.PreSP5, true, names), sess)},
		{"SP5 uncached", nbtDial(dialer(nbt.SP5, false, names), sess)},
		{"in-process/Race", nbtDial(dialer(nbt.Race, true, local.NameAddr), local.Addr)},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			conns := make([]net.Conn, 0, n)
			var inuse, live, stack float64
			runs := 0
			for b.Loop() {
				i0, l0, s0 := hardHeap()
				for range n {
					c, err := tt.dial(b.Context())
					if err != nil {
						b.Fatal(err)
					}
					conns = append(conns, c)
				}
				i1, l1, s1 := hardHeap()
				inuse += (float64(i1) - float64(i0)) / n
				live += (float64(l1) - float64(l0)) / n
				stack += (float64(s1) - float64(s0)) / n
				runs++
				for _, c := range conns {
					c.Close()
				}
				clear(conns)
				conns = conns[:0]
			}
			b.ReportMetric(inuse/float64(runs), "B/conn")
			b.ReportMetric(live/float64(runs), "live-B/conn")
			b.ReportMetric(stack/float64(runs), "stack-B/conn")
		})
	}
}
