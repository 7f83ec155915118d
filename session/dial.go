package session

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/netbios-go/netbios/nbns"
)

// SSNRetryCount is SSN_RETRY_COUNT, "the maximum number TCP connection
// attempts" of one session call (RFC 1002 §5.2, §6).
const SSNRetryCount = 4

// maxKeepAlives bounds the keep-alives a server may send before it answers
// a session request; a server that sends more is not answering.
const maxKeepAlives = 16

// DefaultTimeout bounds a dial whose Timeout is zero, here and in package
// nbt, so that a server that accepts TCP and never answers cannot hold a
// dial forever. See [Bound].
const DefaultTimeout = 30 * time.Second

// A ContextDialer dials network connections; *net.Dialer and
// golang.org/x/net/proxy's dialers are ContextDialers. It is the
// name service's [nbns.ContextDialer], so that one dialer serves both.
type ContextDialer = nbns.ContextDialer

// Trace holds hooks that a [Dialer] calls at each step of a dial, in the
// manner of net/http/httptrace: each takes an info struct. Any hook may be
// nil. Hooks run on the dialing goroutine, in order.
type Trace struct {
	// ConnectStart is called before a TCP connection is opened.
	ConnectStart func(ConnectStartInfo)

	// ConnectDone is called when the connection is open or has failed.
	ConnectDone func(ConnectDoneInfo)

	// RequestSent is called when a session request has been written to
	// the connection, or has failed to be.
	RequestSent func(RequestInfo)

	// ResponseReceived is called with the answer to a session request, or
	// with the error that stopped it from arriving.
	ResponseReceived func(ResponseInfo)
}

// ConnectStartInfo is passed to Trace.ConnectStart.
type ConnectStartInfo struct {
	Addr    netip.AddrPort // the session service, "tcp4"
	Request Request        // the request the connection is for
}

// ConnectDoneInfo is passed to Trace.ConnectDone.
type ConnectDoneInfo struct {
	Addr    netip.AddrPort
	Request Request
	Err     error // nil when the connection is open
}

// RequestInfo is passed to Trace.RequestSent.
type RequestInfo struct {
	Addr    netip.AddrPort // the session service
	Request Request        // the called and calling names
	Err     error          // the error writing it, if any
}

// ResponseInfo is passed to Trace.ResponseReceived.
type ResponseInfo struct {
	Addr     netip.AddrPort
	Request  Request  // the request answered
	Response Response // positive, negative (with Code) or retarget

	// Err is the error the answer means for the dial: nil for a
	// positive response, the *NegativeResponseError or *RetargetError
	// that Response.Err gives, or the error that stopped a valid answer
	// from arriving. The Dialer returns this same error when the answer
	// ends the dial.
	Err error
}

// A Dialer opens NetBIOS sessions: a TCP connection, a session request,
// and the answer, following retargets. The zero Dialer is ready to use;
// its fields say what their zero values mean. A Dialer is safe for
// concurrent use and is not changed by dialing.
type Dialer struct {
	// NetDialer opens TCP connections. Nil means a zero *net.Dialer.
	NetDialer ContextDialer

	// MaxConnects bounds the TCP connections one dial opens, the first
	// and those that follow retargets. Zero means SSNRetryCount (4); a
	// negative value means one: a retarget is returned as an error.
	MaxConnects int

	// Timeout bounds a whole dial or handshake, with the context's
	// deadline: the earlier applies. Zero means DefaultTimeout; negative
	// means no bound but the context's (see [Bound]).
	Timeout time.Duration

	// Config configures the conns the Dialer returns. Nil means the
	// defaults.
	Config *Config

	// Trace, if not nil, is called at each step.
	Trace *Trace
}

func (d *Dialer) maxConnects() int {
	switch {
	case d.MaxConnects == 0:
		return SSNRetryCount
	case d.MaxConnects < 0:
		return 1
	}
	return d.MaxConnects
}

func (d *Dialer) netDialer() ContextDialer {
	if d.NetDialer == nil {
		return &net.Dialer{}
	}
	return d.NetDialer
}

// Dial connects to the session service at addr and requests a session
// with req. See [Dialer.DialContext].
func (d *Dialer) Dial(addr netip.AddrPort, req Request) (*Conn, error) {
	return d.DialContext(context.Background(), addr, req)
}

// DialContext connects to the session service at addr, an IPv4 address
// and port, and requests a session with req. It follows a RETARGET as RFC
// 1002 §5.2.1.1 says: it closes the connection and dials the address and
// port the server named; when that connect fails, it goes back to the
// original address. It stops after MaxConnects connects in all.
//
// The context and Timeout bound the whole dial; once DialContext returns
// a conn, the context no longer affects it. Errors are *[net.OpError]
// values with Op "dial", wrapping a *[NegativeResponseError] for a refusal
// (so that errors.Is finds its [ErrorCode]), a *[RetargetLimitError] when
// the retargets did not end, the context's error, or the I/O error of the
// step that failed.
func (d *Dialer) DialContext(ctx context.Context, addr netip.AddrPort, req Request) (*Conn, error) {
	ctx, cancel := Bound(ctx, d.Timeout)
	defer cancel()
	return d.dial(ctx, nil, addr, req)
}

// Bound applies timeout to ctx as every Timeout field of this module
// means it: zero means [DefaultTimeout], negative means no bound but the
// context's, and the earlier of ctx's deadline and the timeout applies. A
// timeout that would end after ctx's deadline adds nothing, so that a
// caller that bounds a dial and the steps it composes, each with the same
// Timeout, bounds it once.
func Bound(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	if timeout < 0 {
		return ctx, func() {}
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Add(timeout).Before(dl) {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, timeout)
}

// dial runs the call loop of RFC 1002 §5.2.1.1 from addr; nc, when not
// nil, is the first connection, already open to addr.
func (d *Dialer) dial(ctx context.Context, nc net.Conn, addr netip.AddrPort, req Request) (*Conn, error) {
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	orig, cur := addr, addr
	var chain []netip.AddrPort
	opErr := func(err error) error {
		return &net.OpError{Op: "dial", Net: "tcp4", Addr: net.TCPAddrFromAddrPort(orig), Err: err}
	}
	if err := checkAddr(addr); err != nil {
		if nc != nil {
			nc.Close()
		}
		return nil, opErr(err)
	}
	var lastErr error // the last retarget target's failure
	for connects := 0; ; connects++ {
		if connects == d.maxConnects() {
			return nil, opErr(&RetargetLimitError{Chain: chain, Err: lastErr})
		}
		chain = append(chain, cur)
		if nc == nil {
			var err error
			if nc, err = d.connect(ctx, cur, req); err != nil {
				if cur != orig && ctx.Err() == nil {
					lastErr = &RetargetFailedError{Addr: cur, Err: err}
					cur = orig // the retarget target failed: back to the start
					continue
				}
				return nil, opErr(err)
			}
		}
		c, err := d.handshake(ctx, nc, cur, req)
		nc = nil
		var re *RetargetError
		if !errors.As(err, &re) || d.maxConnects() == 1 {
			if err != nil {
				return nil, opErr(err)
			}
			return c, nil
		}
		if err := checkRetarget(orig, re.Addr); err != nil {
			return nil, opErr(&badRetargetError{re, err})
		}
		cur = re.Addr
	}
}

func (d *Dialer) connect(ctx context.Context, addr netip.AddrPort, req Request) (net.Conn, error) {
	if t := d.Trace; t != nil && t.ConnectStart != nil {
		t.ConnectStart(ConnectStartInfo{Addr: addr, Request: req})
	}
	nc, err := d.netDialer().DialContext(ctx, "tcp4", addr.String())
	if err != nil {
		err = unwrapOp(err)
	}
	if t := d.Trace; t != nil && t.ConnectDone != nil {
		t.ConnectDone(ConnectDoneInfo{Addr: addr, Request: req, Err: err})
	}
	return nc, err
}

// DialConn requests a session with req on nc, an established connection
// to a session service, and reads the answer. It returns a *Conn after a
// positive response; otherwise it closes nc and returns the error, as
// [Dialer.DialContext] does. When nc is a TCP connection to an IPv4
// address, DialConn follows retargets as DialContext does, nc being the
// first connect; on any other connection a retarget is returned as a
// *[RetargetError]. Keep-alives before the answer are skipped, up to a
// bound, and each reply is read with the exact length its type has, so no
// more than 10 bytes are ever buffered.
//
// The context and Timeout bound the whole call, retargets included; after
// DialConn returns, they no longer affect the conn. A caller that opened nc itself knows the
// server's address better than nc does: see [Dialer.DialWithConn].
func (d *Dialer) DialConn(ctx context.Context, nc net.Conn, req Request) (*Conn, error) {
	if ta, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		if addr := ta.AddrPort(); addr.Addr().Unmap().Is4() {
			return d.DialWithConn(ctx, nc, netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port()), req)
		}
	}
	ctx, cancel := Bound(ctx, d.Timeout)
	defer cancel()
	ra := nc.RemoteAddr()
	c, err := d.handshake(ctx, nc, netip.AddrPort{}, req)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: ra.Network(), Addr: ra, Err: err}
	}
	return c, nil
}

// DialWithConn is [Dialer.DialConn] on nc, a connection the caller opened
// to the session service at addr, an IPv4 address and port. addr, not
// nc.RemoteAddr(), is the address that errors and the Trace name and that
// a retarget whose target fails comes back to, so that retargets are
// followed, through NetDialer, when nc comes through a proxy or a wrapper
// whose RemoteAddr is the proxy's or not TCP. nc is the first of
// MaxConnects connects. On error nc is closed.
func (d *Dialer) DialWithConn(ctx context.Context, nc net.Conn, addr netip.AddrPort, req Request) (*Conn, error) {
	ctx, cancel := Bound(ctx, d.Timeout)
	defer cancel()
	return d.dial(ctx, nc, addr, req)
}

func (d *Dialer) handshake(ctx context.Context, nc net.Conn, addr netip.AddrPort, req Request) (c *Conn, err error) {
	defer func() {
		if err != nil {
			nc.Close()
		}
	}()
	stop := bindContext(ctx, nc)
	t := d.Trace

	b, err := req.AppendBinary(make([]byte, 0, HeaderLen+minRequestLength))
	if err == nil {
		_, err = nc.Write(b)
		err = ctxErr(ctx, err)
	}
	if t != nil && t.RequestSent != nil {
		t.RequestSent(RequestInfo{Addr: addr, Request: req, Err: err})
	}
	if err != nil {
		stop()
		return nil, err
	}

	resp, err := readResponse(nc)
	err = ctxErr(ctx, err)
	if err == nil {
		err = resp.Err(req.Called)
	}
	if t != nil && t.ResponseReceived != nil {
		t.ResponseReceived(ResponseInfo{Addr: addr, Request: req, Response: resp, Err: err})
	}
	if !stop() { // the context ended: its deadline may be poisoned
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, err
	}
	return NewConn(nc, req, d.Config), nil
}

// readResponse reads the answer to a session request. It reads the header,
// then only the trailer its type allows, skipping up to maxKeepAlives
// keep-alives.
func readResponse(r io.Reader) (Response, error) {
	var b [HeaderLen + RetargetLength]byte
	for range maxKeepAlives + 1 {
		if _, err := io.ReadFull(r, b[:HeaderLen]); err != nil {
			return Response{}, responseErr(err)
		}
		h, err := ParseHeader(b[:HeaderLen])
		if err != nil {
			return Response{}, err
		}
		if h.Type == TypeKeepAlive {
			continue
		}
		if h.Type != TypePositiveResponse && h.Type != TypeNegativeResponse && h.Type != TypeRetargetResponse {
			return Response{}, parseErr("TYPE", 0, &typeError{h.Type})
		}
		if _, err := io.ReadFull(r, b[HeaderLen:HeaderLen+h.Length]); err != nil {
			return Response{}, responseErr(err)
		}
		var resp Response
		err = resp.UnmarshalBinary(b[:HeaderLen+h.Length])
		return resp, err
	}
	return Response{}, errKeepAlives
}

// responseErr names a connection that ended before the answer.
func responseErr(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return ErrClosedBeforeAnswer
	}
	return err
}

// ErrClosedBeforeAnswer is the error of a session request whose connection
// ended before a whole answer arrived: the server closed it, or reset it,
// as a host that serves one connection at a time does with the next.
var ErrClosedBeforeAnswer = errors.New("session: connection closed before the answer to the session request")

var (
	errNotIPv4    = errors.New("session: NetBIOS sessions run over IPv4 only")
	errKeepAlives = errors.New("session: more than " + strconv.Itoa(maxKeepAlives) + " keep-alives and no answer to the session request")
)

// aLongTimeAgo is a deadline in the past, to unblock I/O at once.
var aLongTimeAgo = time.Unix(1, 0)

// bindContext makes ctx bound the I/O on nc: its deadline becomes nc's,
// and its end unblocks nc at once. stop undoes that and reports whether
// ctx is still live; when it is not, nc's deadline may be poisoned.
func bindContext(ctx context.Context, nc net.Conn) (stop func() bool) {
	if d, ok := ctx.Deadline(); ok {
		nc.SetDeadline(d)
	}
	after := context.AfterFunc(ctx, func() { nc.SetDeadline(aLongTimeAgo) })
	return func() bool {
		if !after() {
			return false
		}
		nc.SetDeadline(time.Time{})
		return true
	}
}

// ctxErr returns ctx's error in place of the I/O error that its end
// caused, including a timeout at its deadline that came before its own
// timer fired.
func ctxErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if e := ctx.Err(); e != nil {
		return e
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return context.DeadlineExceeded
		}
	}
	return err
}

func unwrapOp(err error) error {
	if oe, ok := err.(*net.OpError); ok {
		return oe.Err
	}
	return err
}

// checkAddr refuses an address that cannot be a session service's: not
// IPv4, not one host's, or port 0.
func checkAddr(a netip.AddrPort) error {
	ip := a.Addr()
	switch {
	case !ip.Is4():
		return errNotIPv4
	case ip.IsUnspecified():
		return &net.AddrError{Err: "the unspecified address, not a host's", Addr: a.String()}
	case ip.IsMulticast() || ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return &net.AddrError{Err: "not a unicast address", Addr: a.String()}
	case a.Port() == 0:
		return &net.AddrError{Err: "port 0", Addr: a.String()}
	}
	return nil
}

// checkRetarget refuses the addresses a retarget from the server at orig
// cannot name: those checkAddr refuses, and addresses on this host's
// loopback or on a link-local network unless orig is there too, so that a
// server elsewhere cannot use retargets to probe the client's own ports,
// or send a session request to its local services.
func checkRetarget(orig, a netip.AddrPort) error {
	if err := checkAddr(a); err != nil {
		return err
	}
	ip, from := a.Addr(), orig.Addr()
	switch {
	case ip.IsLoopback() && !from.IsLoopback():
		return errors.New("a loopback address, and " + from.String() + " is not on loopback: only a server on this host may send a dial to it")
	case ip.IsLinkLocalUnicast() && !from.IsLinkLocalUnicast():
		return errors.New("a link-local address, and " + from.String() + " is not link-local: only a server on that link may send a dial to it")
	}
	return nil
}

// badRetargetError reports a retarget to an address that cannot be dialed.
type badRetargetError struct {
	*RetargetError
	why error
}

func (e *badRetargetError) Error() string {
	return e.RetargetError.Error() + ": refusing to follow: " + e.why.Error()
}

func (e *badRetargetError) Unwrap() error { return e.RetargetError }

// RetargetLimitError reports a dial whose retargets did not end within
// [Dialer.MaxConnects] connects, for example two servers that retarget to
// each other, or one that retargets to a target that fails, again after
// each return to it.
type RetargetLimitError struct {
	Chain []netip.AddrPort // the address of each connect, in order

	// Err is the last failure of a retarget's target, a
	// *RetargetFailedError, or nil when every target answered.
	Err error
}

// Error lists the chain of addresses and the last target's failure.
func (e *RetargetLimitError) Error() string {
	var b strings.Builder
	b.WriteString("session: retargets did not end after ")
	b.WriteString(strconv.Itoa(len(e.Chain)))
	b.WriteString(" connects: ")
	for i, a := range e.Chain {
		if i > 0 {
			b.WriteString(" -> ")
		}
		b.WriteString(a.String())
	}
	if e.Err != nil {
		b.WriteString("; ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns Err.
func (e *RetargetLimitError) Unwrap() error { return e.Err }

// RetargetFailedError reports that the connect to a retarget's target
// failed, after which the dial went back to the original address, as RFC
// 1002 §5.2.1.1 says.
type RetargetFailedError struct {
	Addr netip.AddrPort // the retarget's target
	Err  error          // the connect's error
}

// Error names the target and its error.
func (e *RetargetFailedError) Error() string {
	return "the retarget to " + e.Addr.String() + " failed: " + e.Err.Error()
}

// Unwrap returns Err.
func (e *RetargetFailedError) Unwrap() error { return e.Err }
