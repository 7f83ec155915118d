package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/nbt"
	"github.com/netbios-go/netbios/session"
)

// A bridge accepts clients on a session.Listener and relays each one to a
// connection of its own to the server.
type bridge struct {
	ln      *session.Listener
	dial    func(ctx context.Context) (net.Conn, error)
	to      string
	idle    time.Duration
	log     *log.Logger
	verbose bool

	next    atomic.Uint64 // session numbers
	wg      sync.WaitGroup
	mu      sync.Mutex
	live    map[net.Conn]struct{} // both sides of every session, for shutdown
	closing bool
}

// newBridge returns a bridge that serves the clients that come to inner,
// as o says, and reaches the server with dial.
func newBridge(o *options, inner net.Listener, dial func(context.Context) (net.Conn, error), logger *log.Logger) *bridge {
	b := &bridge{dial: dial, to: o.to, idle: o.idle, log: logger, verbose: o.verbose, live: map[net.Conn]struct{}{}}
	cfg := &session.ListenConfig{
		HandshakeTimeout: o.handshakeTimeout,
		MaxHandshakes:    o.maxHandshakes,
		// To a Direct-TCP server, which may grant SMB2 large MTU (a server
		// on port 139 does not), the NetBIOS clients get its long
		// messages with the 24-bit length they read.
		Config: &session.Config{KeepAlive: o.keepAlive, LongMessages: o.direct},
	}
	if !o.name.IsZero() {
		cfg.Decide = session.AcceptNames(o.name, session.SMBServer)
	}
	if o.verbose {
		cfg.HandshakeDone = func(i session.HandshakeInfo) {
			if i.Err != nil {
				b.log.Printf("client %v: handshake: %v", i.RemoteAddr, i.Err)
			}
		}
	}
	b.ln = session.NewListener(inner, cfg)
	return b
}

// dialer returns the function that dials the server as o says, through
// nd; nil nd means the default dialers.
func (o *options) dialer(nd session.ContextDialer) func(context.Context) (net.Conn, error) {
	if o.direct {
		if nd == nil {
			nd = &net.Dialer{}
		}
		return func(ctx context.Context) (net.Conn, error) {
			ctx, cancel := session.Bound(ctx, o.timeout)
			defer cancel()
			return nd.DialContext(ctx, "tcp", o.to)
		}
	}
	d := &nbt.Dialer{
		Policy:          o.policy,
		CalledName:      o.name,
		Timeout:         o.timeout,
		NameServicePort: o.nsPort,
		Resolver:        o.resolver,
		Config:          &session.Config{KeepAlive: o.keepAlive},
	}
	if nd != nil {
		d.NetDialer = nd
		d.NameService = &nbns.Client{Dialer: nd}
	}
	return func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, "tcp", o.to) }
}

// serve accepts and relays sessions until ctx ends, then closes the
// listener and every session and returns nil; or until the listener
// fails, and returns its error.
func (b *bridge) serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { b.ln.Close() })
	defer stop()
	sctx, cancel := context.WithCancel(ctx) // the sessions' dials
	for {
		c, err := b.ln.AcceptSession()
		if err != nil {
			cancel()
			b.shutdown()
			if ctx.Err() != nil && errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		id := b.next.Add(1)
		b.wg.Go(func() { b.session(sctx, id, c) })
	}
}

// shutdown closes the listener and every session, and waits for them.
func (b *bridge) shutdown() {
	b.ln.Close()
	b.mu.Lock()
	b.closing = true
	for c := range b.live {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// track adds c to the conns shutdown closes, or closes it and reports
// false when the bridge is shutting down.
func (b *bridge) track(c net.Conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closing {
		c.Close()
		return false
	}
	b.live[c] = struct{}{}
	return true
}

func (b *bridge) untrack(c net.Conn) {
	b.mu.Lock()
	delete(b.live, c)
	b.mu.Unlock()
	c.Close()
}

// session relays the client c to a new connection to the server.
func (b *bridge) session(ctx context.Context, id uint64, c *session.Conn) {
	if !b.track(c) {
		return
	}
	defer b.untrack(c)
	start := time.Now()
	who := "direct"
	if r := c.Request(); !r.Called.IsZero() {
		who = "called " + r.Called.String() + " calling " + r.Calling.String()
	}
	server, err := b.dial(ctx)
	if err != nil {
		b.log.Printf("session %d from %v (%s): %v", id, c.RemoteAddr(), who, err)
		return
	}
	if !b.track(server) {
		return
	}
	defer b.untrack(server)
	if b.verbose {
		b.log.Printf("session %d from %v (%s): relaying to %v", id, c.RemoteAddr(), who, server.RemoteAddr())
	}
	st := relay(c, server, b.idle)
	if b.verbose || st.err != nil {
		b.log.Printf("session %d from %v: %d bytes to the server, %d to the client, %v: %s",
			id, c.RemoteAddr(), st.up, st.down, time.Since(start).Round(time.Millisecond), st.end())
	}
}

// relayStats is how a relay went.
type relayStats struct {
	up, down int64 // bytes written to the server and to the client
	err      error // the first error, nil when both sides closed
	idle     time.Duration
}

// end describes how the relay ended.
func (s relayStats) end() string {
	switch {
	case s.idle > 0:
		return "idle for " + s.idle.String()
	case s.err != nil:
		return s.err.Error()
	}
	return "closed"
}

// relay copies client to server and server to client until both have
// closed their side, or one fails, or nothing moves either way for idle
// (when positive). A side's EOF is carried to the other as a half-close
// (CloseWrite), where the other can make one; where it cannot, the relay
// ends. It closes neither conn.
//
// Each direction is an io.Copy, so that between two *session.Conn
// (NetBIOS on one side, a Listener's Direct-TCP conn on the other) the
// framing is walked once, by session.Conn.WriteTo, not once by Read and
// again by Write. With idle, each copy reads with a deadline a sixteenth
// of idle ahead (idleTicks), and between copies the relay looks at how
// long both directions have been quiet: a session ends between idle and
// idle + idle/8 after its last byte.
func relay(client, server net.Conn, idle time.Duration) relayStats {
	r := &relayRun{conns: [2]net.Conn{client, server}, idle: idle, tick: max(idle/idleTicks, time.Millisecond), start: time.Now()}
	type result struct {
		n   int64
		err error
	}
	upc, downc := make(chan result, 1), make(chan result, 1)
	go func() { n, err := r.pump(server, client); upc <- result{n, err} }()
	go func() { n, err := r.pump(client, server); downc <- result{n, err} }()
	var st relayStats
	for got := 0; got < 2; got++ {
		var res result
		select {
		case res = <-upc:
			upc, st.up = nil, res.n
		case res = <-downc:
			downc, st.down = nil, res.n
		}
		if res.err != nil && st.err == nil {
			st.err = res.err // the first: the other pump's is the stop's
			r.stop()
		}
	}
	if r.idled.Load() {
		st.idle, st.err = idle, nil
	}
	return st
}

// idleTicks is how many times per idle period each direction of a relay
// stops to look at the time (at most every millisecond): each costs a
// wake-up and a 32 KiB buffer.
const idleTicks = 16

// relayRun is the state that a relay's two pumps share.
type relayRun struct {
	conns      [2]net.Conn // client and server
	idle, tick time.Duration
	start      time.Time
	last       atomic.Int64 // since start, when a copy that moved bytes returned
	idled      atomic.Bool
	stopped    atomic.Bool
	once       sync.Once
}

// stop unblocks both pumps; the conns are closed by their owner.
func (r *relayRun) stop() {
	r.once.Do(func() {
		r.stopped.Store(true)
		for _, c := range r.conns {
			c.SetDeadline(aLongTimeAgo)
		}
	})
}

// quiet returns how long the relay has moved nothing, as far as the
// copies that have returned tell.
func (r *relayRun) quiet() time.Duration {
	return time.Since(r.start) - time.Duration(r.last.Load())
}

// aLongTimeAgo is a deadline in the past, which unblocks I/O at once.
var aLongTimeAgo = time.Unix(1, 0)

// pump copies src to dst until src ends, then half-closes dst. It returns
// the bytes written and the first error, with the direction it came from.
func (r *relayRun) pump(dst, src net.Conn) (int64, error) {
	var total int64
	for {
		if r.idle > 0 {
			src.SetReadDeadline(time.Now().Add(r.tick))
			if r.stopped.Load() { // after the deadline: stop's must stand
				return total, &sideError{src, dst, net.ErrClosed}
			}
		}
		n, err := io.Copy(dst, src)
		total += n
		if n > 0 {
			r.last.Store(int64(time.Since(r.start)))
		}
		switch {
		case err == nil: // src ended
			if err := closeWrite(dst); err != nil {
				return total, &sideError{src, dst, fmt.Errorf("half-closing: %w", err)}
			}
			return total, nil
		case r.idle > 0 && errors.Is(err, os.ErrDeadlineExceeded) && !r.stopped.Load():
			if r.quiet() >= r.idle {
				r.idled.Store(true)
				r.stop()
				return total, nil
			}
		default:
			return total, &sideError{src, dst, err}
		}
	}
}

// sideError is an error of one direction of a relay.
type sideError struct {
	src, dst net.Conn
	err      error
}

func (e *sideError) Error() string {
	return "relaying " + e.src.RemoteAddr().String() + " to " + e.dst.RemoteAddr().String() + ": " + e.err.Error()
}
func (e *sideError) Unwrap() error { return e.err }

// closeWrite shuts down the writing side of c, or of the TCP connection
// under it.
func closeWrite(c net.Conn) error {
	for {
		switch x := c.(type) {
		case interface{ CloseWrite() error }:
			return x.CloseWrite()
		case *nbt.Conn:
			c = x.Conn
		case interface{ NetConn() net.Conn }:
			c = x.NetConn()
		default:
			return errors.ErrUnsupported
		}
	}
}
