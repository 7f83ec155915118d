//go:build unix

package nbt_test

// Hardening test of issue 7, at the level of the Dialer: retarget chains.

import (
	"context"
	"errors"
	"net"
	"net/netip"
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

// retargetHost is an nbttest host that retargets session requests to next,
// when set, and otherwise accepts them. With once set, it retargets only
// the first request for each called name and accepts the ones after.
type retargetHost struct {
	*nbttest.Server
	next atomic.Pointer[netip.AddrPort]
	once bool
	mu   sync.Mutex
	seen map[nbns.Name]bool
}

func newRetargetHost(t *testing.T, once bool) *retargetHost {
	h := &retargetHost{once: once, seen: make(map[nbns.Name]bool)}
	h.Server = nbttest.NewServer(nbttest.HandlerFunc(h.serve))
	t.Cleanup(h.Close)
	return h
}

func (h *retargetHost) serve(req session.Request) nbttest.Response {
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

func (h *retargetHost) retargetTo(a netip.AddrPort) { h.next.Store(&a) }

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
	dial := func(t *testing.T, d *nbt.Dialer, a *retargetHost, trace *nbt.ClientTrace) (*nbt.Conn, error) {
		t.Helper()
		d.Timeout = 10 * time.Second
		conns := &connCounter{}
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
	requests := func(hs ...*retargetHost) int {
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

	for _, p := range allPolicies {
		t.Run("A to B to A/"+p.String(), func(t *testing.T) {
			checkNoLeaks(t)
			a, b := newRetargetHost(t, false), newRetargetHost(t, false)
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
			hs := make([]*retargetHost, 5)
			for i := range hs {
				hs[i] = newRetargetHost(t, false)
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
			if err := echoRoundTrip(c); err != nil {
				t.Error(err)
			}
		})

		t.Run("not followed/"+p.String(), func(t *testing.T) {
			checkNoLeaks(t)
			a, b := newRetargetHost(t, false), newRetargetHost(t, false)
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
			a := newRetargetHost(t, true)
			closed := closedPort(t)
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
			if err := echoRoundTrip(c); err != nil {
				t.Error(err)
			}
		})

		t.Run("to a refusing port, every time/"+p.String(), func(t *testing.T) {
			checkNoLeaks(t)
			a := newRetargetHost(t, false)
			closed := closedPort(t)
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
				a := newRetargetHost(t, false)
				a.retargetTo(bad)
				d := a.Dialer()
				d.Policy = p
				var mu sync.Mutex
				var connects []string
				trace := &nbt.ClientTrace{ConnectStart: func(i nbt.ConnectStartInfo) {
					mu.Lock()
					connects = append(connects, i.Addr.String())
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
