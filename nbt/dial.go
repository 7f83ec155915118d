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
	d       *Dialer
	policy  Policy
	addr    netip.AddrPort // the session service
	trace   *ClientTrace
	calling nbns.Name
	cache   *NameCache

	mu       sync.Mutex
	attempts []Attempt
	table    *nbns.NodeStatusResponse
}

func (s *dial) record(a Attempt) {
	s.mu.Lock()
	s.attempts = append(s.attempts, a)
	s.mu.Unlock()
}

// result wraps up the dial: the conn with what the dial learned, or a
// DialError listing every step.
func (s *dial) result(c *Conn, err error) (*Conn, error) {
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

// cached returns the called name the cache holds for the host.
func (s *dial) cached() (nbns.Name, bool) {
	return s.cache.get(s.addr, time.Now())
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
		cancel()
		r := <-direct
		if first.err != nil && r.err == nil {
			return r.c, nil // NetBIOS failed, Direct TCP made it
		}
		if r.c != nil {
			r.c.Close()
		}
	}
	return first.c, first.err
}

// netbios dials over NetBIOS by the policy.
func (s *dial) netbios(ctx context.Context, label nbns.Name) (*Conn, error) {
	switch {
	case !s.d.CalledName.IsZero():
		return s.session(ctx, nil, s.d.CalledName)
	case s.policy == Race:
		return s.race(ctx, label)
	case s.policy == PreSP5 || s.policy == SP5:
		return s.sequential(ctx, label)
	}
	return nil, errors.New("nbt: unknown policy " + s.policy.String())
}

// sequential tries the called names in the order of PreSP5 or SP5, one
// step at a time: a cached name, the host name's first label, *SMBSERVER
// for PreSP5, then node status and the server name.
func (s *dial) sequential(ctx context.Context, label nbns.Name) (*Conn, error) {
	var names []nbns.Name
	if name, ok := s.cached(); ok {
		names = append(names, name)
	}
	if !label.IsZero() {
		names = append(names, label)
	}
	if s.policy == PreSP5 {
		names = append(names, SMBServer)
	}
	var last error
	var tried []nbns.Name
	for _, name := range names {
		if slices.Contains(tried, name) {
			continue
		}
		tried = append(tried, name)
		c, err := s.session(ctx, nil, name)
		if err == nil || !tryNext(err) {
			return c, err
		}
		last = err
	}
	name, err := s.nodeStatus(ctx)
	if err != nil {
		return nil, err
	}
	if slices.Contains(tried, name) {
		return nil, last // the host refused its own name already
	}
	return s.session(ctx, nil, name)
}

// tryNext reports whether a refusal means "try another called name"
// (RFC 1002 §5.2.1.1; 0x80 as jcifs treats it).
func tryNext(err error) bool {
	return errors.Is(err, session.ErrCalledNameNotPresent) || errors.Is(err, session.ErrNotListeningOnCalledName)
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
// when it fails, recording the attempt under step and name.
func (s *dial) connect(ctx context.Context, addr netip.AddrPort, step Step, name nbns.Name) (net.Conn, error) {
	t := s.trace
	if t != nil && t.ConnectStart != nil {
		t.ConnectStart("tcp4", addr.String())
	}
	start := time.Now()
	nd := s.d.NetDialer
	if nd == nil {
		nd = &net.Dialer{}
	}
	nc, err := nd.DialContext(ctx, "tcp4", addr.String())
	if err != nil {
		err = innermost(err)
	}
	if t != nil && t.ConnectDone != nil {
		t.ConnectDone("tcp4", addr.String(), err)
	}
	if err != nil {
		s.record(Attempt{Step: step, Addr: addr, Name: name, Err: ctxErr(ctx, err), Duration: time.Since(start)})
	}
	return nc, err
}

// ctxErr returns the context's error in place of the error it caused.
func ctxErr(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// session requests a session with called, following retargets, on nc when
// it is not nil, else on a new connection. It remembers in the cache the
// name the host accepted, and forgets one the host refused.
func (s *dial) session(ctx context.Context, nc net.Conn, called nbns.Name) (*Conn, error) {
	req := session.Request{Called: called, Calling: s.calling}
	start := time.Now()
	t := s.trace
	sd := session.Dialer{
		NetDialer:   s.d.NetDialer,
		MaxConnects: s.d.MaxConnects,
		Timeout:     -1, // the dial's context carries the Dialer's bound
		Config:      s.d.Config,
		Trace: &session.Trace{
			ConnectStart: func(addr netip.AddrPort) {
				start = time.Now()
				if t != nil && t.ConnectStart != nil {
					t.ConnectStart("tcp4", addr.String())
				}
			},
			ConnectDone: func(addr netip.AddrPort, err error) {
				if t != nil && t.ConnectDone != nil {
					t.ConnectDone("tcp4", addr.String(), err)
				}
				if err != nil {
					s.record(Attempt{Step: StepSession, Addr: addr, Name: called, Err: err, Duration: time.Since(start)})
				}
			},
			RequestSent: func(addr netip.AddrPort, req session.Request, err error) {
				if t != nil && t.SessionRequest != nil {
					t.SessionRequest(SessionRequestInfo{Addr: addr, Request: req, Err: err})
				}
				if err != nil {
					s.record(Attempt{Step: StepSession, Addr: addr, Name: called, Err: err, Duration: time.Since(start)})
				}
			},
			ResponseReceived: func(addr netip.AddrPort, resp session.Response, err error) {
				if t != nil && t.SessionResponse != nil {
					t.SessionResponse(SessionResponseInfo{Addr: addr, Called: called, Response: resp, Err: err})
				}
				if err == nil {
					err = resp.Err(called)
				}
				s.record(Attempt{Step: StepSession, Addr: addr, Name: called, Err: err, Duration: time.Since(start)})
			},
		},
	}
	var sc *session.Conn
	var err error
	if nc == nil {
		sc, err = sd.Dial(ctx, s.addr, req)
	} else {
		sc, err = sd.DialConn(ctx, nc, req)
	}
	if err != nil {
		err = innermost(err)
		if tryNext(err) {
			s.cache.forget(s.addr, called)
		}
		return nil, err
	}
	s.cache.put(s.addr, called, time.Now())
	return &Conn{Conn: sc, sess: sc}, nil
}

// direct opens a Direct TCP connection to port of the host.
func (s *dial) direct(ctx context.Context, port uint16) (*Conn, error) {
	addr := netip.AddrPortFrom(s.addr.Addr(), port)
	start := time.Now()
	nc, err := s.connect(ctx, addr, StepDirect, nbns.Name{})
	if err != nil {
		return nil, err
	}
	s.record(Attempt{Step: StepDirect, Addr: addr, Duration: time.Since(start)})
	return &Conn{Conn: nc}, nil
}
