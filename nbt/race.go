package nbt

import (
	"context"
	"net"
	"slices"

	"github.com/netbios-go/netbios/nbns"
)

// Events of a racing dial; each goroutine the race starts sends one.
type (
	connUp struct {
		nc  net.Conn
		err error
	}
	statusDone struct {
		name nbns.Name
		err  error
	}
	sessionDone struct {
		name nbns.Name
		c    *Conn
		err  error
	}
)

// maxConnectFailures bounds the failed connects of one race, so that a
// host that was reached and then refuses connections ends the race.
const maxConnectFailures = 3

// race dials the way the Race policy says: node status and two TCP
// connections at once; the first connection up asks for the server's name
// if it is known by then, else for the best fallback (the host name's
// label, then *SMBSERVER), and the second waits for the server's name. The
// first positive session wins; everything else is cancelled, closed and
// waited for before race returns.
func (s *dial) race(ctx context.Context, label nbns.Name) (*Conn, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := make(chan any)
	running := 0 // goroutines that have not sent their event
	spawn := func(f func() any) {
		running++
		go func() { events <- f() }()
	}
	defer func() { // cancel and reap every goroutine, closing what they opened
		cancel()
		for ; running > 0; running-- {
			switch e := (<-events).(type) {
			case connUp:
				if e.nc != nil {
					e.nc.Close()
				}
			case sessionDone:
				if e.c != nil {
					e.c.Close()
				}
			}
		}
	}()

	var fallbacks []nbns.Name // tried in order when no better name is known
	var server nbns.Name      // the name from node status or the cache
	statusPending := false
	discover := func() {
		if !label.IsZero() {
			fallbacks = append(fallbacks, label)
		}
		fallbacks = append(fallbacks, SMBServer)
		statusPending = true
		spawn(func() any {
			name, err := s.nodeStatus(ctx)
			return statusDone{name, err}
		})
	}
	connects := 0 // pending TCP connects
	connect := func() {
		connects++
		spawn(func() any {
			nc, err := s.connect(ctx, s.addr, StepSession, nbns.Name{})
			return connUp{nc, err}
		})
	}
	cached, hit := s.cached()
	if hit {
		server = cached // a cache hit needs no node status and no spare
		connect()
	} else {
		discover()
		connect()
		connect() // the spare, ready for the server's name
	}

	var idle []net.Conn // connections up and not yet used
	defer func() {
		for _, nc := range idle {
			nc.Close()
		}
	}()
	var tried []nbns.Name
	inFlight := 0    // session requests sent and not answered
	reached := false // a connection has come up: the host is reachable
	failures := 0    // connects that failed
	stopped := false // a refusal said to stop: start nothing new
	var sessErr, nameErr error
	// next returns the name an idle connection should ask for now: the
	// server's name once known; else, when no request is in flight, the
	// next fallback.
	next := func() (nbns.Name, bool) {
		if stopped {
			return nbns.Name{}, false
		}
		if !server.IsZero() && !slices.Contains(tried, server) {
			return server, true
		}
		if inFlight > 0 {
			return nbns.Name{}, false // keep the spare for the server's name
		}
		for _, n := range fallbacks {
			if !slices.Contains(tried, n) {
				return n, true
			}
		}
		return nbns.Name{}, false
	}

	for {
		for len(idle) > 0 {
			name, ok := next()
			if !ok {
				break
			}
			nc := idle[0]
			idle = idle[1:]
			tried = append(tried, name)
			inFlight++
			spawn(func() any {
				c, err := s.session(ctx, nc, name)
				return sessionDone{name, c, err}
			})
		}
		if err := ctx.Err(); err != nil {
			return nil, err // start nothing more: the caller gave up
		}
		if inFlight == 0 && connects == 0 && len(idle) == 0 && !stopped {
			if _, ok := next(); ok || statusPending {
				connect() // a name is left, or may come, and no connection is
			}
		}
		if running == 0 {
			break
		}
		switch e := (<-events).(type) {
		case connUp:
			running--
			connects--
			if e.err != nil {
				failures++
				if sessErr == nil {
					sessErr = e.err
				}
				if (!reached || failures >= maxConnectFailures) && connects == 0 && len(idle) == 0 && inFlight == 0 {
					return nil, e.err // TCP does not reach the host, or no longer does
				}
				continue
			}
			reached = true
			idle = append(idle, e.nc)
		case statusDone:
			running--
			statusPending = false
			if e.err != nil {
				nameErr = e.err
				continue
			}
			server = e.name
		case sessionDone:
			running--
			inFlight--
			if e.err == nil {
				return e.c, nil
			}
			switch {
			case !tryNext(e.err):
				stopped = true // RFC 1002 §5.2.1.1: 0x81, 0x83, 0x8F stop
				sessErr = e.err
			case sessErr == nil || tryNext(sessErr):
				sessErr = e.err
			}
			if hit && e.name == cached && tryNext(e.err) && !stopped {
				hit = false // the cache was stale: discover afresh
				discover()
			}
		}
	}
	switch {
	case sessErr != nil && (stopped || nameErr == nil):
		return nil, sessErr
	case nameErr != nil:
		return nil, nameErr // no name left that the host might accept
	}
	return nil, errNoCandidate
}
