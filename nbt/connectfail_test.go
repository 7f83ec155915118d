//go:build unix

package nbt_test

// Hardening test of issue 7, at the level of the Dialer: a connect that
// fails in the middle of a Race dial.

import (
	"context"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/netbios-go/netbios/nbt"
	"github.com/netbios-go/netbios/nbt/nbttest"
	"github.com/netbios-go/netbios/session"
)

// refuseSecond is a NetDialer whose second connect waits for before
// and then fails with ECONNREFUSED, as a
// connect that a rate-limiting firewall or a proxy refuses late; it fires
// failed as it does. Every other connect goes through.
type refuseSecond struct {
	before, failed *signal
	n              atomic.Int32
	connCounter
}

func (d *refuseSecond) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
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
	return d.connCounter.DialContext(ctx, network, addr)
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
	refused, failed := newSignal(), newSignal()
	nd := &refuseSecond{before: refused, failed: failed}
	d.NetDialer = nd
	trace := &nbt.ClientTrace{
		SessionResponse: func(i nbt.SessionResponseInfo) {
			if i.Response.Type == session.TypeNegativeResponse {
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
	if got := c.(*nbt.Conn).CalledName(); got != nbttestName {
		t.Errorf("called name %v, want %v", got, nbttestName)
	}
}
