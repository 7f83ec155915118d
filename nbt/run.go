package nbt

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/session"
)

// dial is the state of one dial. Its steps may run concurrently: mu
// guards what they share.
type dial struct {
	d        *Dialer
	policy   Policy
	addr     netip.AddrPort // the session service
	host     string         // the host name dialed, canonical; "" for an address
	called   nbns.Name      // the only name to call, when discovery is not needed
	resolver *Resolver      // the Resolver that found called, which forgets it when refused
	trace    *ClientTrace
	calling  nbns.Name
	cache    *NameCache
	caller   context.Context // the caller's context, with the Dialer's Timeout

	sd     session.Dialer  // the session step's dialer, its Trace the dial's adapter
	steps  context.Context // the context of the dial's steps, set by netbios
	hopped time.Time       // when the session step's current connection started

	mu       sync.Mutex
	attempts []Attempt
	table    *nbns.NodeStatusResponse
	hops     []int // indexes in attempts of the current session step's connections
}

// newDial returns the state of a dial by d, which the dial owns, to addr,
// one of t's addresses; prior are the attempts of the dial's earlier
// addresses.
func newDial(ctx context.Context, d *Dialer, t target, addr netip.AddrPort, prior []Attempt) *dial {
	s := &dial{
		d: d, policy: d.Policy, addr: addr, host: t.host, called: d.CalledName, trace: ContextClientTrace(ctx), calling: d.calling(),
		cache: d.nameCache(), caller: ctx, attempts: slices.Clone(prior),
	}
	if s.called.IsZero() && !t.called.IsZero() {
		s.called, s.resolver = t.called, d.resolver()
	}
	s.sd = session.Dialer{
		NetDialer:   d.NetDialer,
		MaxConnects: d.MaxConnects,
		Timeout:     d.Timeout, // the dial's context has it already: adds nothing
		Config:      d.Config,
		Trace:       s.sessionTrace(),
	}
	return s
}

// record adds an attempt to the dial's list and returns its index. Every
// step of a dial is recorded here, by the function that ran it, with the
// error it returned.
func (s *dial) record(a Attempt) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts = append(s.attempts, a)
	return len(s.attempts) - 1
}

// stepErr is the error a step ended with as the dial reports it: the
// caller's context's error when that context ended, ErrAbandoned when the
// dial cancelled the step itself, else err.
func (s *dial) stepErr(ctx context.Context, err error) error {
	switch {
	case err == nil:
		return nil
	case s.callerErr() != nil:
		return s.callerErr()
	case ctx.Err() != nil:
		return ErrAbandoned
	}
	return err
}

// callerErr returns the caller's context's error, or DeadlineExceeded once
// its deadline has passed, even before its own timer has fired: a socket
// deadline set from it may fire first.
func (s *dial) callerErr() error {
	if err := s.caller.Err(); err != nil {
		return err
	}
	if d, ok := s.caller.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

// result wraps up the dial: the conn with what the dial learned, or a
// DialError listing every step.
func (s *dial) result(c *Conn, err error) (*Conn, *DialError) {
	s.mu.Lock()
	attempts := slices.Clone(s.attempts)
	table := s.table
	s.mu.Unlock()
	if err != nil {
		return nil, &DialError{Policy: s.policy, Attempts: attempts, Err: err}
	}
	c.nodeStatus = table
	c.attempts = attempts
	return c, nil
}

// scope is the NetBIOS scope of the dial's names: the name service's, so
// that the session request's names are those node status found (RFC 1001
// §5.2: names are only unique within a scope).
func (s *dial) scope() string {
	if ns := s.d.NameService; ns != nil {
		return ns.Scope
	}
	return ""
}

// cacheKey is the dial's key in the name cache.
func (s *dial) cacheKey() cacheKey { return cacheKey{host: s.host, addr: s.addr} }

// cached returns the called name the cache holds for the host, unless the
// caller chose the name.
func (s *dial) cached() nbns.Name {
	if !s.called.IsZero() {
		return nbns.Name{}
	}
	n, _ := s.cache.get(s.cacheKey(), time.Now())
	return n
}

// run dials by the policy, racing Direct TCP when asked to.
func (s *dial) run(ctx context.Context, label nbns.Name) (*Conn, error) {
	if !s.d.Direct {
		return s.netbios(ctx, label)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	port := s.d.DirectPort
	if port == 0 {
		port = 445
	}
	type result struct {
		c   *Conn
		err error
	}
	direct, nbt := make(chan result, 1), make(chan result, 1)
	go func() { c, err := s.direct(ctx, port); direct <- result{c, err} }()
	go func() { c, err := s.netbios(ctx, label); nbt <- result{c, err} }()
	var first result
	select {
	case first = <-direct:
		if first.err != nil {
			first = <-nbt // 445 is closed: NetBIOS decides
			return first.c, first.err
		}
		cancel()
		if r := <-nbt; r.c != nil {
			r.c.Close()
		}
	case first = <-nbt:
		if first.err == nil {
			cancel()
		}
		r := <-direct // when NetBIOS failed, Direct TCP may still make it
		if first.err != nil && r.err == nil {
			return r.c, nil
		}
		if r.c != nil {
			r.c.Close()
		}
	}
	return first.c, first.err
}

// netbios dials over NetBIOS: it runs the dial's plan, carrying out its
// actions, each I/O step on a goroutine of its own, and feeding it as
// events the steps' ends, its timer and the end of ctx. It owns every
// connection until the plan picks the winner, and before it returns it
// abandons the steps still running, waits for each, and closes what they
// opened.
func (s *dial) netbios(ctx context.Context, label nbns.Name) (*Conn, error) {
	p := newPlan(s.policy, s.called, s.cached(), label)
	steps, abandon := context.WithCancel(ctx)
	defer abandon()
	s.steps = steps

	// A step's outcome: the event for the plan, and what the step opened.
	type outcome struct {
		ev event
		nc net.Conn // a connection that is up (doConnect)
		c  *Conn    // a session (doSession)
	}
	outcomes := make(chan outcome)
	running := 0
	spawn := func(f func() outcome) {
		running++
		go func() { outcomes <- f() }()
	}
	conns := make(map[int]net.Conn) // up, and not handed to a session
	var won *Conn
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer func() {
		timer.Stop()
		abandon()
		for ; running > 0; running-- {
			o := <-outcomes
			if o.nc != nil {
				o.nc.Close()
			}
			if o.c != nil && o.c != won {
				o.c.Close()
			}
		}
		for _, nc := range conns {
			nc.Close()
		}
	}()

	acts := p.start(time.Now())
	for {
		for _, a := range acts {
			switch a := a.(type) {
			case doConnect:
				spawn(func() outcome {
					start := time.Now()
					nc, err := s.connect(steps, s.addr, StepSession)
					return outcome{ev: connectDone{conn: a.conn, took: time.Since(start), err: err}, nc: nc}
				})
			case doQuery:
				spawn(func() outcome {
					name, err := s.nodeStatus(steps)
					return outcome{ev: statusDone{name: name, err: err}}
				})
			case doSession:
				nc := conns[a.conn]
				delete(conns, a.conn)
				spawn(func() outcome {
					c, err := s.session(steps, nc, a.name)
					return outcome{ev: sessionDone{conn: a.conn, err: err}, c: c}
				})
			case doClose:
				conns[a.conn].Close()
				delete(conns, a.conn)
			case doWake:
				timer.Reset(time.Until(a.at))
			}
		}
		if p.over {
			break
		}
		var ev event
		select {
		case o := <-outcomes:
			running--
			ev = o.ev
			switch e := ev.(type) {
			case connectDone:
				if e.err == nil {
					conns[e.conn] = o.nc
				}
			case sessionDone:
				if e.err == nil {
					won = o.c
				}
			}
			if err := s.callerErr(); err != nil {
				ev = cancelled{err} // the step ended because the caller gave up
			}
		case <-timer.C:
			ev = wake{}
		case <-ctx.Done():
			ev = cancelled{s.stepErr(ctx, ctx.Err())}
		}
		acts = p.handle(ev, time.Now())
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return won, nil
}

// nodeStatus asks the host for its name table and returns its server name.
func (s *dial) nodeStatus(ctx context.Context) (nbns.Name, error) {
	port := s.d.NameServicePort
	if port == 0 {
		port = nbns.Port
	}
	target := netip.AddrPortFrom(s.addr.Addr(), port)
	wildcard := nbns.Wildcard()
	if t := s.trace; t != nil && t.NodeStatusStart != nil {
		t.NodeStatusStart(NodeStatusStartInfo{Addr: target, Name: wildcard})
	}
	start := time.Now()
	r, err := s.d.NameService.NodeStatus(ctx, target)
	elapsed := time.Since(start)
	err = s.stepErr(ctx, err)
	if t := s.trace; t != nil && t.NodeStatusDone != nil {
		t.NodeStatusDone(NodeStatusDoneInfo{Addr: target, Response: r, Err: err, Duration: elapsed})
	}
	s.record(Attempt{Step: StepNodeStatus, Addr: target, Name: wildcard, Err: err, Duration: elapsed})
	if err != nil {
		return nbns.Name{}, err
	}
	s.mu.Lock()
	s.table = r
	s.mu.Unlock()
	return r.ServerName()
}

// connect opens a TCP connection to addr, reporting it to the trace and,
// when it fails, recording the attempt under step.
func (s *dial) connect(ctx context.Context, addr netip.AddrPort, step Step) (net.Conn, error) {
	t := s.trace
	if t != nil && t.ConnectStart != nil {
		t.ConnectStart(ConnectStartInfo{Addr: addr})
	}
	start := time.Now()
	nd := s.d.NetDialer
	if nd == nil {
		nd = &net.Dialer{}
	}
	nc, err := nd.DialContext(ctx, "tcp4", addr.String())
	if err != nil {
		err = s.stepErr(ctx, innermost(err))
	}
	if t != nil && t.ConnectDone != nil {
		t.ConnectDone(ConnectDoneInfo{Addr: addr, Err: err})
	}
	if err != nil {
		s.record(Attempt{Step: step, Addr: addr, Err: err, Duration: time.Since(start)})
	}
	return nc, err
}

// sessionTrace is the adapter between the session step's dialer and the
// dial: it passes each event on to the caller's trace and records an
// attempt for each connection the session request went to. A dial runs
// one session step at a time (the plan sends one request at a time), so
// the hops it records are the current step's.
func (s *dial) sessionTrace() *session.Trace {
	t := s.trace
	if t == nil {
		t = &ClientTrace{}
	}
	hop := func(addr netip.AddrPort, called nbns.Name, err error) {
		i := s.record(Attempt{Step: StepSession, Addr: addr, Name: called, Err: s.stepErr(s.steps, err), Duration: time.Since(s.hopped)})
		s.mu.Lock()
		s.hops = append(s.hops, i)
		s.mu.Unlock()
	}
	return &session.Trace{
		ConnectStart: func(i session.ConnectStartInfo) {
			s.hopped = time.Now()
			if t.ConnectStart != nil {
				t.ConnectStart(i)
			}
		},
		ConnectDone: func(i session.ConnectDoneInfo) {
			if t.ConnectDone != nil {
				t.ConnectDone(i)
			}
			if i.Err != nil {
				hop(i.Addr, i.Request.Called, i.Err)
			}
		},
		RequestSent: func(i session.RequestInfo) {
			if t.SessionRequest != nil {
				t.SessionRequest(i)
			}
			if i.Err != nil {
				hop(i.Addr, i.Request.Called, i.Err)
			}
		},
		ResponseReceived: func(i session.ResponseInfo) {
			if t.SessionResponse != nil {
				t.SessionResponse(i)
			}
			hop(i.Addr, i.Request.Called, i.Err)
		},
	}
}

// session requests a session with called on nc, a connection to the
// dial's address, following retargets. Through sessionTrace it records an
// attempt for each connection the request went to; the last one ends with
// the error session returns. It remembers in the cache the name discovery
// found and the host accepted, and forgets one the host refused.
func (s *dial) session(ctx context.Context, nc net.Conn, called nbns.Name) (*Conn, error) {
	s.mu.Lock()
	s.hops = s.hops[:0]
	s.mu.Unlock()
	s.hopped = time.Now()
	sc, err := s.sd.DialWithConn(ctx, nc, s.addr, session.Request{Called: called, Calling: s.calling, Scope: s.scope()})
	if err != nil {
		err = s.stepErr(ctx, innermost(err))
		s.mu.Lock()
		var limit *session.RetargetLimitError
		switch {
		case len(s.hops) == 0: // refused before any hook
			s.mu.Unlock()
			s.record(Attempt{Step: StepSession, Addr: s.addr, Name: called, Err: err, Duration: time.Since(s.hopped)})
			s.mu.Lock()
		case !errors.As(err, &limit): // the last connection's answer, as the dial reports it
			s.attempts[s.hops[len(s.hops)-1]].Err = err
		}
		s.mu.Unlock()
	}
	discovered := s.called.IsZero() // the caller's choice, or the name looked up, is not learned
	if err != nil {
		switch {
		case !tryNext(err):
		case discovered:
			s.cache.forget(s.cacheKey(), called)
		case s.resolver != nil:
			s.resolver.forget(called, s.addr.Addr()) // the host does not have the name it was found under
		}
		return nil, err
	}
	if discovered {
		s.cache.put(s.cacheKey(), called, time.Now())
	}
	return &Conn{Conn: sc, sess: sc}, nil
}

// direct opens a Direct TCP connection to port of the host.
func (s *dial) direct(ctx context.Context, port uint16) (*Conn, error) {
	addr := netip.AddrPortFrom(s.addr.Addr(), port)
	start := time.Now()
	nc, err := s.connect(ctx, addr, StepDirect)
	if err != nil {
		return nil, err
	}
	s.record(Attempt{Step: StepDirect, Addr: addr, Duration: time.Since(start)})
	return &Conn{Conn: nc}, nil
}
