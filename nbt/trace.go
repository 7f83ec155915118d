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

	// ConnectStart is called when a TCP connection is started: to the
	// session service, or to Direct TCP's port.
	ConnectStart func(ConnectStartInfo)

	// ConnectDone is called when a TCP connection is open or has failed.
	ConnectDone func(ConnectDoneInfo)

	// SessionRequest is called when a session request has been sent.
	SessionRequest func(SessionRequestInfo)

	// SessionResponse is called with the answer to a session request:
	// positive, negative with its code, or a retarget.
	SessionResponse func(SessionResponseInfo)

	// LookupStart is called when a [Resolver] starts a step of a name
	// lookup: an LMHOSTS or DNS lookup, a query to a WINS server, or a
	// broadcast query.
	LookupStart func(LookupStartInfo)

	// LookupDone is called when the step has ended, with the owners it
	// found or why it found none.
	LookupDone func(LookupDoneInfo)
}

// LookupStartInfo is passed to ClientTrace.LookupStart.
type LookupStartInfo struct {
	Name    nbns.Name
	Source  Source
	Servers []netip.Addr // the WINS server, or the broadcast addresses
}

// LookupDoneInfo is passed to ClientTrace.LookupDone.
type LookupDoneInfo struct {
	Name     nbns.Name
	Source   Source
	Servers  []netip.Addr
	Owners   []NameOwner // what the step found; nil with Err
	Err      error
	Duration time.Duration
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

// ConnectStartInfo is passed to ClientTrace.ConnectStart. Its Request is
// the session request the connection is for, when it is known: it is
// zero for Race's first connection, opened before the called name is
// chosen, and for Direct TCP.
type ConnectStartInfo = session.ConnectStartInfo

// ConnectDoneInfo is passed to ClientTrace.ConnectDone.
type ConnectDoneInfo = session.ConnectDoneInfo

// SessionRequestInfo is passed to ClientTrace.SessionRequest.
type SessionRequestInfo = session.RequestInfo

// SessionResponseInfo is passed to ClientTrace.SessionResponse: the
// answer, and the error it means for the dial.
type SessionResponseInfo = session.ResponseInfo

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
	return &ClientTrace{
		NodeStatusStart: join(t.NodeStatusStart, old.NodeStatusStart),
		NodeStatusDone:  join(t.NodeStatusDone, old.NodeStatusDone),
		ConnectStart:    join(t.ConnectStart, old.ConnectStart),
		ConnectDone:     join(t.ConnectDone, old.ConnectDone),
		SessionRequest:  join(t.SessionRequest, old.SessionRequest),
		SessionResponse: join(t.SessionResponse, old.SessionResponse),
		LookupStart:     join(t.LookupStart, old.LookupStart),
		LookupDone:      join(t.LookupDone, old.LookupDone),
	}
}

// join returns a hook that calls a, then b; either may be nil.
func join[T any](a, b func(T)) func(T) {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return func(x T) { a(x); b(x) }
}
