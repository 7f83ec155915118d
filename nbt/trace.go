package nbt

import (
	"context"
	"net/netip"
	"time"

	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/session"
)

// ClientTrace is a set of hooks that a [Dialer] calls at each step of a
// dial, in the manner of net/http/httptrace. Any hook may be nil. Hooks
// may be called concurrently from different goroutines, and some may be
// called after the dial has returned; they must not block for long.
type ClientTrace struct {
	// NodeStatusStart is called when a node status query is sent.
	NodeStatusStart func(NodeStatusStartInfo)

	// NodeStatusDone is called with the answer to a node status query,
	// or the error that ended it.
	NodeStatusDone func(NodeStatusDoneInfo)

	// ConnectStart is called when a TCP connection is started, as in
	// httptrace, with network "tcp4" and addr "ip:port".
	ConnectStart func(network, addr string)

	// ConnectDone is called when a TCP connection is open or has failed.
	ConnectDone func(network, addr string, err error)

	// SessionRequest is called when a session request has been sent.
	SessionRequest func(SessionRequestInfo)

	// SessionResponse is called with the answer to a session request:
	// positive, negative with its code, or a retarget.
	SessionResponse func(SessionResponseInfo)
}

// NodeStatusStartInfo is passed to ClientTrace.NodeStatusStart.
type NodeStatusStartInfo struct {
	Addr netip.AddrPort // the name service queried
	Name nbns.Name      // the name asked for, usually the wildcard
}

// NodeStatusDoneInfo is passed to ClientTrace.NodeStatusDone.
type NodeStatusDoneInfo struct {
	Addr     netip.AddrPort
	Response *nbns.NodeStatusResponse // nil on error
	Err      error
	Duration time.Duration
}

// SessionRequestInfo is passed to ClientTrace.SessionRequest.
type SessionRequestInfo struct {
	Addr    netip.AddrPort  // the session service
	Request session.Request // the called and calling names
	Err     error           // the error writing it, if any
}

// SessionResponseInfo is passed to ClientTrace.SessionResponse.
type SessionResponseInfo struct {
	Addr     netip.AddrPort
	Called   nbns.Name
	Response session.Response // positive, negative (with Code) or retarget
	Err      error            // set when no valid answer arrived
}

type clientEventContextKey struct{}

// ContextClientTrace returns the ClientTrace associated with ctx, or nil.
func ContextClientTrace(ctx context.Context) *ClientTrace {
	t, _ := ctx.Value(clientEventContextKey{}).(*ClientTrace)
	return t
}

// WithClientTrace returns a context based on ctx whose dials call the
// hooks of t. A trace already in ctx is kept: its hooks are called after
// those of t. A nil t panics.
func WithClientTrace(ctx context.Context, t *ClientTrace) context.Context {
	if t == nil {
		panic("nbt: nil *ClientTrace")
	}
	old := ContextClientTrace(ctx)
	t = t.compose(old)
	return context.WithValue(ctx, clientEventContextKey{}, t)
}

// compose returns a trace whose hooks call t's, then old's.
func (t *ClientTrace) compose(old *ClientTrace) *ClientTrace {
	if old == nil {
		return t
	}
	n := *t
	n.NodeStatusStart = join1(t.NodeStatusStart, old.NodeStatusStart)
	n.NodeStatusDone = join1(t.NodeStatusDone, old.NodeStatusDone)
	n.SessionRequest = join1(t.SessionRequest, old.SessionRequest)
	n.SessionResponse = join1(t.SessionResponse, old.SessionResponse)
	n.ConnectStart = join2(t.ConnectStart, old.ConnectStart)
	n.ConnectDone = join3(t.ConnectDone, old.ConnectDone)
	return &n
}

func join1[T any](a, b func(T)) func(T) {
	if a == nil || b == nil {
		if a == nil {
			return b
		}
		return a
	}
	return func(x T) { a(x); b(x) }
}

func join2(a, b func(string, string)) func(string, string) {
	if a == nil || b == nil {
		if a == nil {
			return b
		}
		return a
	}
	return func(x, y string) { a(x, y); b(x, y) }
}

func join3(a, b func(string, string, error)) func(string, string, error) {
	if a == nil || b == nil {
		if a == nil {
			return b
		}
		return a
	}
	return func(x, y string, e error) { a(x, y, e); b(x, y, e) }
}
