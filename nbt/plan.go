package nbt

import (
	"errors"
	"slices"
	"syscall"
	"time"

	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/session"
)

// A plan decides the steps of one dial over NetBIOS: when to open a TCP
// connection, when to ask the host's name service, which called name to
// send on which connection, and when the dial is over. It does no I/O,
// starts no goroutine and reads no clock. The shell ([dial.netbios]) feeds
// it the events of the steps it runs, with the time each happened, and
// carries out the actions it returns; so every policy can be tested as a
// script of events (plan_test.go).
//
// Every policy is the same machine with different names and two switches.
// Names in first are asked for one after another, a new connection each,
// before any node status. When they are all refused, discovery starts, if
// the policy has it: a node status query, and the server's name it
// returns. Race starts discovery at once (or after a cached name is
// refused), with the host name's label and *SMBSERVER as fallbacks, and
// opens a connection while the query is out; when the connection is up
// before the answer, it waits a grace period for it (see [grace]) and then
// asks for a fallback. At most one session request is out at a time, so a
// dial costs the server one connection whenever the first name it asks for
// is accepted.
type plan struct {
	first     []nbns.Name // asked for in order, before discovery
	fallbacks []nbns.Name // Race: asked for when node status has no name in time
	discover  bool        // node status may be asked, once first is used up
	race      bool        // Race: connect and query at once, retry failed connections

	conns []planConn // by connection id, the index
	asked []asked    // names asked for, in order

	query      queryState
	server     nbns.Name // the server's name, from node status
	queryErr   error     // why node status gave no name
	graceUntil time.Time // when a connection that is up stops waiting for node status
	retryAt    time.Time // no connect before this, after a failed connection

	reached  bool // a connection has come up: TCP reaches the host
	failures int  // connections that failed after the host was reached

	over     bool
	winner   int   // the connection whose session is up, or -1
	ctxErr   error // the caller's context ended
	stopErr  error // a session error that ends the dial
	failed   error // the connection failure that ended the dial
	lastFail error // the latest connection failure
}

// planConn is a connection as the plan sees it.
type planConn struct {
	state connState
	name  nbns.Name // the name asked for on it
}

type connState uint8

const (
	connecting connState = iota
	idle                 // up, no request sent
	requesting           // a session request is out
	gone                 // failed, refused, or handed back
)

type queryState uint8

const (
	queryNone queryState = iota
	queryPending
	queryDone
)

// asked is a name the plan asked for, and how the host answered.
type asked struct {
	name    nbns.Name
	refusal error // 0x82 or 0x80, when the host refused it
}

// Events, which the shell feeds the plan.
type (
	event interface{ isEvent() }

	// connectDone: a TCP connect ended, after took.
	connectDone struct {
		conn int
		took time.Duration
		err  error
	}

	// statusDone: node status ended, with the server's name, or why it
	// has none (no answer, a refusal, a table with no <20> name).
	statusDone struct {
		name nbns.Name
		err  error
	}

	// sessionDone: the session request on conn was answered: err is nil
	// for a positive answer, else a refusal, a retarget error, or the
	// I/O error that ended the connection.
	sessionDone struct {
		conn int
		err  error
	}

	// wake: the time the plan asked to be woken at has come.
	wake struct{}

	// cancelled: the caller's context ended, with err.
	cancelled struct{ err error }
)

func (connectDone) isEvent() {}
func (statusDone) isEvent()  {}
func (sessionDone) isEvent() {}
func (wake) isEvent()        {}
func (cancelled) isEvent()   {}

// Actions, which the plan returns for the shell to carry out.
type (
	action interface{ isAction() }

	// doConnect: open connection conn to the session service.
	doConnect struct{ conn int }

	// doQuery: ask the host's name service for its name table.
	doQuery struct{}

	// doSession: send a session request for name on conn, which is up.
	doSession struct {
		conn int
		name nbns.Name
	}

	// doClose: close conn, which is up and no longer needed.
	doClose struct{ conn int }

	// doWake: deliver a wake event at at, in place of any earlier one.
	doWake struct{ at time.Time }
)

func (doConnect) isAction() {}
func (doQuery) isAction()   {}
func (doSession) isAction() {}
func (doClose) isAction()   {}
func (doWake) isAction()    {}

// maxFailures bounds the connections of a Race dial that fail after the
// host was reached (refused connects, resets, connections closed before
// the answer), so that a host that stops accepting ends the dial.
const maxFailures = 3

// Grace bounds: see grace.
const (
	graceMin = 2 * time.Millisecond
	graceMax = 500 * time.Millisecond
)

// grace is how long a Race connection that came up before node status
// answered waits for the answer before it asks for a fallback name. The
// query left with the connect, and a node status exchange takes a round
// trip, as a TCP handshake does: the answer is due about when the
// connection is up. Waiting half of what the connect took catches answers
// that jitter or a busy name service delay, at a cost of half a round trip
// where UDP 137 is silent; the floor covers a LAN's sub-millisecond round
// trips, where the name service's own latency dominates. Asking for the
// right name the first time saves a host that refuses *SMBSERVER a second
// connection.
func grace(took time.Duration) time.Duration {
	return min(max(took/2, graceMin), graceMax)
}

// newPlan returns the plan of a dial by policy. called, when not zero, is
// the only name asked for: no discovery. cached is the name the cache holds
// for the host, label the host name's first label; either may be zero.
func newPlan(policy Policy, called, cached, label nbns.Name) *plan {
	p := &plan{winner: -1}
	add := func(names *[]nbns.Name, n nbns.Name) {
		if !n.IsZero() && !slices.Contains(p.first, n) && !slices.Contains(p.fallbacks, n) {
			*names = append(*names, n)
		}
	}
	if !called.IsZero() {
		add(&p.first, called)
		return p
	}
	p.discover = true
	add(&p.first, cached)
	switch policy {
	case Race:
		p.race = true
		add(&p.fallbacks, label)
		add(&p.fallbacks, SMBServer)
	case PreSP5:
		add(&p.first, label)
		add(&p.first, SMBServer)
	case SP5:
		add(&p.first, label)
	}
	return p
}

// start returns the first actions of the dial.
func (p *plan) start(now time.Time) []action { return p.pump(now, nil) }

// handle takes in one event that happened at now and returns what to do
// next.
func (p *plan) handle(e event, now time.Time) []action {
	if p.over {
		return nil
	}
	var acts []action
	switch e := e.(type) {
	case connectDone:
		c := &p.conns[e.conn]
		if e.err != nil {
			c.state = gone
			acts = p.fail(e.err, !p.reached && !isReset(e.err), now, acts) // a reset comes from the host: it was reached
			break
		}
		c.state = idle
		p.reached = true
		if p.race && p.query == queryPending && p.graceUntil.IsZero() {
			p.graceUntil = now.Add(grace(e.took))
			acts = append(acts, doWake{p.graceUntil})
		}
	case statusDone:
		p.query = queryDone
		p.server, p.queryErr = e.name, e.err
	case sessionDone:
		c := &p.conns[e.conn]
		c.state = gone
		i := slices.IndexFunc(p.asked, func(a asked) bool { return a.name == c.name && a.refusal == nil })
		switch {
		case e.err == nil:
			p.winner = e.conn
			p.end()
		case tryNext(e.err): // RFC 1002 §5.2.1.1: another name may do
			p.asked[i].refusal = e.err
		case p.race && retryable(e.err): // ask again on a new connection
			p.asked = slices.Delete(p.asked, i, i+1)
			acts = p.fail(e.err, false, now, acts)
		default: // 0x81, 0x83, 0x8F, a retarget that failed, a protocol error
			p.stopErr = e.err
			p.end()
		}
	case wake:
	case cancelled:
		p.ctxErr = e.err
		p.end()
	}
	return p.pump(now, acts)
}

// fail counts a failed connection: fatal ends the dial at once, and so
// does the last failure allowed; otherwise the next connect waits
// [backoff], so that a host busy with another connection can free it.
func (p *plan) fail(err error, fatal bool, now time.Time, acts []action) []action {
	p.lastFail = err
	if !p.race {
		fatal = true // the KB sequences stop at the first failure
	}
	if p.failures++; fatal || p.failures >= maxFailures {
		p.failed = err
		p.end()
		return acts
	}
	p.retryAt = now.Add(backoff(p.failures))
	return append(acts, doWake{p.retryAt})
}

// backoff is how long a Race dial waits before it connects again after
// its nth failed connection: 10 ms, then 20 ms.
func backoff(n int) time.Duration { return 10 * time.Millisecond << (n - 1) }

func (p *plan) end() { p.over = true }

// pump appends to acts what the state calls for: a name on an idle
// connection, a node status query, a new connection; or, when nothing is
// left to do or wait for, the end of the dial.
func (p *plan) pump(now time.Time, acts []action) []action {
	if !p.over {
		for id := range p.conns {
			if p.conns[id].state != idle {
				continue
			}
			name, ok := p.pick(now)
			if !ok {
				break
			}
			p.conns[id] = planConn{state: requesting, name: name}
			p.asked = append(p.asked, asked{name: name})
			acts = append(acts, doSession{conn: id, name: name})
		}
		if p.discovering() && p.query == queryNone {
			p.query = queryPending
			acts = append(acts, doQuery{})
		}
		if p.wantConn() && !now.Before(p.retryAt) {
			p.conns = append(p.conns, planConn{state: connecting})
			acts = append(acts, doConnect{conn: len(p.conns) - 1})
		}
		if p.query != queryPending && !now.Before(p.retryAt) && !slices.ContainsFunc(p.conns, func(c planConn) bool {
			return c.state == connecting || c.state == requesting
		}) {
			p.end() // nothing is out, and nothing more will be
		}
	}
	if p.over {
		for id, c := range p.conns {
			if c.state == idle {
				p.conns[id].state = gone
				acts = append(acts, doClose{conn: id})
			}
		}
	}
	return acts
}

// pick returns the name an idle connection should ask for now, if any.
func (p *plan) pick(now time.Time) (nbns.Name, bool) {
	if slices.ContainsFunc(p.conns, func(c planConn) bool { return c.state == requesting }) {
		return nbns.Name{}, false // one request at a time
	}
	if n, ok := p.next(p.first); ok {
		return n, true
	}
	if !p.discover {
		return nbns.Name{}, false
	}
	if !p.server.IsZero() && !p.hasAsked(p.server) {
		return p.server, true
	}
	n, ok := p.next(p.fallbacks)
	if ok && p.query == queryPending && now.Before(p.graceUntil) {
		return nbns.Name{}, false // node status is due: wait for the server's name
	}
	return n, ok
}

// wantConn reports whether to open a connection now: none is open or
// opening, and a name is ready to ask for or, in a race, may come.
func (p *plan) wantConn() bool {
	if slices.ContainsFunc(p.conns, func(c planConn) bool { return c.state != gone }) {
		return false
	}
	if _, ok := p.next(p.first); ok {
		return true
	}
	if !p.discover {
		return false
	}
	if !p.server.IsZero() && !p.hasAsked(p.server) {
		return true
	}
	_, ok := p.next(p.fallbacks)
	return p.race && (ok || p.query == queryPending)
}

// discovering reports whether the host has refused every name in first,
// so that node status may be asked.
func (p *plan) discovering() bool {
	return p.discover && !slices.ContainsFunc(p.first, func(n nbns.Name) bool {
		return !slices.ContainsFunc(p.asked, func(a asked) bool { return a.name == n && a.refusal != nil })
	})
}

// next returns the first of names not asked for yet.
func (p *plan) next(names []nbns.Name) (nbns.Name, bool) {
	for _, n := range names {
		if !p.hasAsked(n) {
			return n, true
		}
	}
	return nbns.Name{}, false
}

func (p *plan) hasAsked(n nbns.Name) bool {
	return slices.ContainsFunc(p.asked, func(a asked) bool { return a.name == n })
}

// err returns the error the dial reports once it is over, or nil when a
// session is up. The step that decided the outcome comes first: the
// caller's context; a session answer that stops the dial; the connection
// failure that ended it; then, every name having been refused, node status
// when it gave no name, and otherwise the last refusal.
func (p *plan) err() error {
	switch {
	case p.winner >= 0:
		return nil
	case p.ctxErr != nil:
		return p.ctxErr
	case p.stopErr != nil:
		return p.stopErr
	case p.failed != nil:
		return p.failed
	case p.queryErr != nil && p.server.IsZero():
		return p.queryErr
	}
	for i := len(p.asked) - 1; i >= 0; i-- {
		if p.asked[i].refusal != nil {
			return p.asked[i].refusal
		}
	}
	if p.lastFail != nil {
		return p.lastFail
	}
	return errNoCandidate
}

// tryNext reports whether a refusal means "try another called name"
// (RFC 1002 §5.2.1.1; 0x80 as jcifs treats it).
func tryNext(err error) bool {
	return errors.Is(err, session.ErrCalledNameNotPresent) || errors.Is(err, session.ErrNotListeningOnCalledName)
}

// retryable reports whether a session request failed for a reason that a
// new connection may not have: the connection was reset, broken, or closed
// before the answer, as by a host that serves one connection at a time.
// Answers, retargets and malformed packets are not retried.
func retryable(err error) bool {
	var errno syscall.Errno
	return errors.Is(err, session.ErrClosedBeforeAnswer) || errors.As(err, &errno)
}

// isReset reports whether a connect failed because the host reset the
// connection, as one that serves one connection at a time does while it
// serves another: unlike a refusal, that says something listens.
func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNABORTED)
}
