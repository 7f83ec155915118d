package nbt_test

// Helpers of the Dialer's hardening tests (issue 7), in load_test.go,
// cancel_test.go, hostile_test.go, retarget_test.go and
// connectfail_test.go: every one of them ends with checkNoLeaks (the
// goroutines and file descriptors are back where they started) and counts
// the TCP connections its Dialer opened through connCounter, so that a
// connection dropped without Close is seen even when a finalizer closes it.

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netbios-go/netbios/nbt"
)

// allPolicies are the policies, in the order the tests run them.
var allPolicies = []nbt.Policy{nbt.Race, nbt.PreSP5, nbt.SP5}

// connCounter is a Dialer's NetDialer that counts the TCP connections
// it opened and that nobody closed. A net.Conn dropped without Close is
// closed by a finalizer at some garbage collection, which hides the leak
// from a file descriptor count; this count does not depend on the
// collector.
type connCounter struct {
	nd    net.Dialer
	open  atomic.Int64
	total atomic.Int64
}

func (d *connCounter) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := d.nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	d.open.Add(1)
	d.total.Add(1)
	return &countedConn{Conn: c, d: d}, nil
}

// check fails t if a connection the dialer opened is still open.
func (d *connCounter) check(t *testing.T) {
	t.Helper()
	if n := d.open.Load(); n != 0 {
		t.Errorf("%d of the %d TCP connections the Dialer opened were never closed", n, d.total.Load())
	}
}

type countedConn struct {
	net.Conn
	d    *connCounter
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.d.open.Add(-1) })
	return c.Conn.Close()
}

// signal is an event that happens at most once.
type signal struct {
	once sync.Once
	c    chan struct{}
}

func newSignal() *signal { return &signal{c: make(chan struct{})} }

func (s *signal) fire() { s.once.Do(func() { close(s.c) }) }

// echoRoundTrip checks that c carries a session message to the echo handler
// and back.
func echoRoundTrip(c net.Conn) error {
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
