//go:build unix

package nbt_test

// Hardening test of issue 7, at the level of the Dialer: cancellation at
// every step of every policy.

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/nbt"
	"github.com/netbios-go/netbios/nbt/nbttest"
	"github.com/netbios-go/netbios/session"
)

// cancelEnv is what one row of TestCancelEveryStep shares between the
// host's handler, the trace hooks and the test.
type cancelEnv struct {
	cancel    context.CancelFunc
	cancelled atomic.Int64   // UnixNano of the first cancelNow, 0 before
	target    netip.AddrPort // where the host retargets, in the rows that retarget
	primed    atomic.Bool    // the cache holds a name: the host now plays the row
}

// cancelNow cancels the dial's context and records when it first did.
func (e *cancelEnv) cancelNow() {
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
	refuseSMB := func(*cancelEnv) nbttest.Handler {
		return nbttest.RefuseNames(session.ErrCalledNameNotPresent, nbttest.SMBServer)
	}
	echoAll := func(*cancelEnv) nbttest.Handler { return nbttest.Echo }
	blackhole := func(*cancelEnv) nbttest.Handler { return nbttest.Blackhole }
	positive := func(i nbt.SessionResponseInfo) bool {
		return i.Err == nil && i.Response.Type == session.TypePositiveResponse
	}
	onNodeStatus := func(e *cancelEnv) *nbt.ClientTrace {
		return &nbt.ClientTrace{NodeStatusStart: func(nbt.NodeStatusStartInfo) { e.cancelNow() }}
	}
	onPositive := func(e *cancelEnv) *nbt.ClientTrace {
		return &nbt.ClientTrace{SessionResponse: func(i nbt.SessionResponseInfo) {
			if positive(i) {
				e.cancelNow()
			}
		}}
	}
	all := allPolicies
	tests := []struct {
		name      string
		policies  []nbt.Policy
		ns        nbttest.NameServiceMode
		nameDelay time.Duration
		handler   func(*cancelEnv) nbttest.Handler
		trace     func(*cancelEnv) *nbt.ClientTrace
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
			trace: func(e *cancelEnv) *nbt.ClientTrace {
				return &nbt.ClientTrace{ConnectStart: func(nbt.ConnectStartInfo) { e.cancelNow() }}
			},
		},
		{
			name: "session request/blackhole", policies: all, handler: blackhole,
			trace: func(e *cancelEnv) *nbt.ClientTrace {
				return &nbt.ClientTrace{SessionRequest: func(nbt.SessionRequestInfo) { e.cancelNow() }}
			},
		},
		{
			name: "session request/answered at once", policies: all, handler: echoAll,
			trace: func(e *cancelEnv) *nbt.ClientTrace {
				return &nbt.ClientTrace{SessionRequest: func(nbt.SessionRequestInfo) { e.cancelNow() }}
			},
		},
		{
			name: "session response/first positive", policies: all, handler: echoAll, trace: onPositive,
		},
		{
			name: "session response/negative", policies: []nbt.Policy{nbt.PreSP5}, handler: refuseSMB,
			trace: func(e *cancelEnv) *nbt.ClientTrace {
				return &nbt.ClientTrace{SessionResponse: func(i nbt.SessionResponseInfo) {
					if i.Response.Type == session.TypeNegativeResponse {
						e.cancelNow()
					}
				}}
			},
		},
		{
			name: "after connect", policies: all, handler: echoAll,
			trace: func(e *cancelEnv) *nbt.ClientTrace {
				return &nbt.ClientTrace{ConnectDone: func(i nbt.ConnectDoneInfo) {
					if i.Err == nil {
						e.cancelNow()
					}
				}}
			},
		},
		{
			name: "after node status", policies: []nbt.Policy{nbt.PreSP5, nbt.SP5}, handler: refuseSMB,
			trace: func(e *cancelEnv) *nbt.ClientTrace {
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
			handler: func(e *cancelEnv) nbttest.Handler { return nbttest.Retarget(e.target) },
			trace: func(e *cancelEnv) *nbt.ClientTrace {
				return &nbt.ClientTrace{ConnectStart: func(i nbt.ConnectStartInfo) {
					if i.Addr == e.target {
						e.cancelNow()
					}
				}}
			},
		},
		// With a name in the cache, Race makes one connection and asks
		// for that name; the sequential policies ask for it first.
		{
			name: "cached/before connect", policies: all, cached: true, handler: echoAll,
			trace: func(e *cancelEnv) *nbt.ClientTrace {
				return &nbt.ClientTrace{ConnectStart: func(nbt.ConnectStartInfo) { e.cancelNow() }}
			},
		},
		{
			name: "cached/session request/blackhole", policies: all, cached: true, handler: blackhole,
			trace: func(e *cancelEnv) *nbt.ClientTrace {
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
			handler: func(*cancelEnv) nbttest.Handler { return nbttest.AcceptOnly() },
		},
		{
			name: "after the dial", policies: all, handler: echoAll, after: true,
			trace: func(*cancelEnv) *nbt.ClientTrace { return &nbt.ClientTrace{} },
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
				e := &cancelEnv{cancel: cancelDial}

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
				conns := &connCounter{}
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
					if err := echoRoundTrip(c); err != nil {
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
