package session

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/netbios-go/netbios/nbns"
)

// DefaultHandshakeTimeout bounds the handshake of each connection a
// [Listener] accepts when [ListenConfig.HandshakeTimeout] is zero: the
// time from the accept to a complete session request, or to the first
// header of a session message, and the answer.
const DefaultHandshakeTimeout = 10 * time.Second

// DefaultMaxHandshakes bounds the connections a [Listener] holds before
// its Accept returns them when [ListenConfig.MaxHandshakes] is zero or
// negative.
const DefaultMaxHandshakes = 64

// SMBServer is *SMBSERVER<20>, the called name a client sends when it
// knows only the server's address (Microsoft KB Q251166); the same name
// as nbt.SMBServer.
var SMBServer = nbns.MustName("*SMBSERVER", nbns.FileServer)

// ErrEvicted is the error of a handshake that a [Listener] ended to make
// room for a newer connection: MaxHandshakes connections were in
// handshakes, none of them complete. See [ListenConfig.MaxHandshakes].
var ErrEvicted = errors.New("session: handshake ended to make room for a newer connection")

// A ListenConfig configures a [Listener]. A nil *ListenConfig is the zero
// ListenConfig, which answers as Samba's smbd does: every called name is
// accepted, and so is a connection that starts with an SMB message, a
// Direct-TCP client's, whose conn writes 24-bit lengths
// ([Config.LongMessages]) and sends no keep-alives.
type ListenConfig struct {
	// Decide answers each session request, as the decide function of
	// [Accept] does: nil accepts it, an [ErrorCode] refuses it with that
	// code, a *[RetargetError] sends the caller to another IPv4 address
	// and port, and any other error refuses it with [ErrUnspecified]. A
	// request whose names do not decode is refused with
	// [ErrCalledNameNotPresent] without a call. Nil means [AcceptAny].
	// Decide runs on the connection's own goroutine, within its
	// handshake's deadline, and may run concurrently with itself.
	Decide func(Request) error

	// RequireRequest refuses a connection that does not start with a
	// session request, as RFC 1002 §5.2.1.2 has it: the listener closes
	// it. By default a connection that starts with a SESSION MESSAGE, as
	// an SMB client of port 445 opens it, is accepted as smbd accepts it,
	// with the message's bytes intact.
	RequireRequest bool

	// HandshakeTimeout bounds each connection's handshake, from the
	// accept to the answer: a client that says nothing, or sends its
	// request a byte at a time, is closed when it passes. Zero means
	// DefaultHandshakeTimeout; negative means no bound.
	HandshakeTimeout time.Duration

	// MaxHandshakes bounds the connections the listener holds that its
	// Accept has not returned: those in their handshake and those ready.
	// When a connection arrives with MaxHandshakes held, the oldest
	// handshake in progress is ended (with ErrEvicted), so that a flood
	// of clients that say nothing pushes out only each other, never a
	// client that completes its handshake within MaxHandshakes newer
	// arrivals; when every held connection is ready, the listener stops
	// accepting until Accept takes one. Zero or negative means
	// DefaultMaxHandshakes.
	MaxHandshakes int

	// Config configures the conns returned. Its KeepAlive applies to
	// conns opened by a session request only: a connection that started
	// with an SMB message speaks Direct TCP, whose clients may not expect
	// SESSION KEEP ALIVEs, and gets none.
	Config *Config

	// HandshakeDone, if not nil, is called when a handshake ends, well or
	// not, before its conn is queued for Accept. It runs on the
	// connection's goroutine and may run concurrently with itself; it
	// must not call the Listener's Close.
	HandshakeDone func(HandshakeInfo)
}

// HandshakeInfo is passed to [ListenConfig.HandshakeDone].
type HandshakeInfo struct {
	RemoteAddr net.Addr

	// Request is the session request read, or the zero Request when
	// none was: for a direct connection, or one whose first packet was
	// not a session request that could be read.
	Request Request

	// Direct reports that the connection started with a SESSION MESSAGE,
	// not a session request.
	Direct bool

	// Response is the answer sent, or the zero Response when none was.
	Response Response

	// Err is nil when the conn is queued for Accept, and otherwise why
	// the listener closed the connection: an I/O error, a timeout at the
	// handshake's deadline (a [net.Error] whose Timeout is true), a
	// *[ParseError], a *[NegativeResponseError] or *[RetargetError] for
	// the answer sent, ErrEvicted, or an error that wraps
	// [net.ErrClosed] when the Listener closed.
	Err error

	// Duration is the time from the accept to the end of the handshake.
	Duration time.Duration
}

// AcceptAny accepts every session request, whatever its names, as Samba's
// smbd does. It is the default of [ListenConfig.Decide].
func AcceptAny(Request) error { return nil }

// AcceptNames returns a [ListenConfig.Decide] that accepts a session
// request whose called name is one of names and refuses the others with
// [ErrCalledNameNotPresent], as Windows does. Letters compare without
// regard to case; the suffix must match exactly. For a file server named
// NAS01 that clients also reach by address:
//
//	session.AcceptNames(nbns.MustName("NAS01", nbns.FileServer), session.SMBServer)
func AcceptNames(names ...nbns.Name) func(Request) error {
	folded := make([]nbns.Name, len(names))
	for i, n := range names {
		folded[i] = foldName(n)
	}
	return func(r Request) error {
		called := foldName(r.Called)
		for _, n := range folded {
			if called == n {
				return nil
			}
		}
		return ErrCalledNameNotPresent
	}
}

// foldName upper-cases the ASCII letters of n's first 15 bytes.
func foldName(n nbns.Name) nbns.Name {
	b := n.Bytes()
	for i, c := range b[:nbns.NameLen-1] {
		if 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return nbns.NameFromBytes(b)
}

// A Listener is a [net.Listener] for the session service: it accepts TCP
// connections from an inner listener, runs the handshake of each one on a
// goroutine of its own, and returns from Accept the connections whose
// handshake succeeded, as *[Conn] values. Their byte stream is the
// Direct-TCP SMB framing with keep-alives removed, so that an SMB server
// written for port 445 serves port 139 through a Listener unchanged.
//
// Each handshake answers a SESSION REQUEST as [ListenConfig.Decide] says
// (RFC 1002 §5.2.1.2), or takes a connection that starts with a SESSION
// MESSAGE as it is, without a request, as smbd does. The conn's Request
// gives the called and calling names; it is the zero Request for such a
// direct connection.
//
// A handshake never holds up Accept or another handshake. It has its own
// deadline, [ListenConfig.HandshakeTimeout], and the connections held
// before Accept returns them are bounded by [ListenConfig.MaxHandshakes].
// Close stops accepting and ends the handshakes in progress; conns that
// Accept has returned are the caller's and stay open.
type Listener struct {
	ln      net.Listener
	cfg     ListenConfig
	max     int
	timeout time.Duration

	ready  chan *Conn    // conns for Accept; never more than max
	wake   chan struct{} // the accept loop may have room again
	done   chan struct{} // closed by Close
	failed chan struct{} // closed when the inner listener fails

	mu      sync.Mutex
	hs      []*handshake // in progress, oldest first
	nready  int          // conns in ready, or about to be
	closed  bool
	err     error // the inner listener's error, once failed is closed
	closeMu sync.Mutex
	wg      sync.WaitGroup
}

var _ net.Listener = (*Listener)(nil)

// handshake is a connection in its handshake.
type handshake struct {
	nc    net.Conn
	start time.Time
	ended error // set, under Listener.mu, when the Listener ends it
}

// NewListener returns a Listener that accepts connections from ln and
// starts accepting at once. The Listener owns ln: its Close closes ln.
func NewListener(ln net.Listener, cfg *ListenConfig) *Listener {
	l := &Listener{
		ln:     ln,
		wake:   make(chan struct{}, 1),
		done:   make(chan struct{}),
		failed: make(chan struct{}),
	}
	if cfg != nil {
		l.cfg = *cfg
	}
	if l.cfg.Decide == nil {
		l.cfg.Decide = AcceptAny
	}
	if l.max = l.cfg.MaxHandshakes; l.max <= 0 {
		l.max = DefaultMaxHandshakes
	}
	if l.timeout = l.cfg.HandshakeTimeout; l.timeout == 0 {
		l.timeout = DefaultHandshakeTimeout
	}
	l.ready = make(chan *Conn, l.max)
	l.wg.Go(l.serve)
	return l
}

// Listen listens on the TCP network address, as [net.Listen] does, and
// returns a Listener on it. network must be "tcp", "tcp4" or "tcp6".
func Listen(network, address string, cfg *ListenConfig) (*Listener, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, &net.OpError{Op: "listen", Net: network, Err: net.UnknownNetworkError(network)}
	}
	ln, err := net.Listen(network, address)
	if err != nil {
		return nil, err
	}
	return NewListener(ln, cfg), nil
}

// Addr returns the inner listener's address.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Accept waits for a connection whose handshake has succeeded and
// returns it, a *[Conn]. See [Listener.AcceptSession].
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.AcceptSession()
	if err != nil {
		return nil, err
	}
	return c, nil
}

// AcceptSession waits for a connection whose handshake has succeeded and
// returns it. After Close it returns a *[net.OpError] that wraps
// [net.ErrClosed]; after the inner listener failed, with an error that is
// not temporary, it returns that error once the conns ready before have
// been returned.
func (l *Listener) AcceptSession() (*Conn, error) {
	select {
	case c := <-l.ready:
		return l.took(c), nil
	case <-l.done:
		return nil, l.opErr(net.ErrClosed)
	case <-l.failed:
		select {
		case c := <-l.ready:
			return l.took(c), nil
		default:
			return nil, l.err
		}
	}
}

// took accounts for c, which Accept takes from l.ready.
func (l *Listener) took(c *Conn) *Conn {
	l.mu.Lock()
	l.nready--
	l.mu.Unlock()
	l.signal()
	return c
}

func (l *Listener) opErr(err error) error {
	a := l.ln.Addr()
	return &net.OpError{Op: "accept", Net: a.Network(), Addr: a, Err: err}
}

// signal tells the accept loop that it may have room.
func (l *Listener) signal() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Close closes the inner listener, ends the handshakes in progress and
// closes the conns ready that Accept has not returned, and waits for the
// goroutines the Listener started, [ListenConfig.Decide] and
// HandshakeDone calls included. Conns that Accept has returned stay open.
func (l *Listener) Close() error {
	l.closeMu.Lock()
	defer l.closeMu.Unlock()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return &net.OpError{Op: "close", Net: l.ln.Addr().Network(), Addr: l.ln.Addr(), Err: net.ErrClosed}
	}
	l.closed = true
	close(l.done)
	for _, h := range l.hs {
		h.ended = l.opErr(net.ErrClosed)
		h.nc.Close()
	}
	l.hs = nil
	l.mu.Unlock()
	err := l.ln.Close()
	l.wg.Wait()
	for {
		select {
		case c := <-l.ready:
			c.Close()
		default:
			if l.isFailed() {
				err = nil // the inner listener had failed: its Close has nothing to say
			}
			return err
		}
	}
}

func (l *Listener) isFailed() bool {
	select {
	case <-l.failed:
		return true
	default:
		return false
	}
}

// serve is the accept loop.
func (l *Listener) serve() {
	var backoff time.Duration
	for {
		if !l.waitRoom() {
			return
		}
		nc, err := l.ln.Accept()
		if err != nil {
			if l.isClosed() {
				return
			}
			var te interface{ Temporary() bool }
			if errors.As(err, &te) && te.Temporary() {
				// Out of file descriptors, or the like: try again later,
				// as net/http's Server does.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				t := time.NewTimer(backoff)
				select {
				case <-t.C:
				case <-l.done:
					t.Stop()
					return
				}
				continue
			}
			l.mu.Lock()
			l.err = err
			l.mu.Unlock()
			close(l.failed)
			return
		}
		backoff = 0
		if h := l.hold(nc); h != nil {
			l.wg.Go(func() { l.handshake(h) })
		}
	}
}

func (l *Listener) isClosed() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// waitRoom waits until a new connection can be held: fewer than max are
// held, or one of them is in its handshake and can be evicted. It reports
// false when the Listener closes.
func (l *Listener) waitRoom() bool {
	for {
		l.mu.Lock()
		room := len(l.hs) > 0 || l.nready < l.max
		closed := l.closed
		l.mu.Unlock()
		switch {
		case closed:
			return false
		case room:
			return true
		}
		select {
		case <-l.wake:
		case <-l.done:
			return false
		}
	}
}

// hold adds nc to the handshakes in progress, evicting the oldest when
// max connections are held, and returns it; or closes nc and returns nil
// when the Listener is closed.
func (l *Listener) hold(nc net.Conn) *handshake {
	for {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			nc.Close()
			return nil
		}
		if len(l.hs)+l.nready < l.max || len(l.hs) > 0 {
			if len(l.hs)+l.nready >= l.max {
				old := l.hs[0]
				l.hs[0] = nil
				l.hs = l.hs[1:]
				old.ended = ErrEvicted
				old.nc.Close()
			}
			h := &handshake{nc: nc, start: time.Now()}
			l.hs = append(l.hs, h)
			l.mu.Unlock()
			return h
		}
		l.mu.Unlock()
		// Every held connection became ready since waitRoom: wait for
		// Accept to take one.
		if !l.waitRoom() {
			nc.Close()
			return nil
		}
	}
}

// handshake runs h's handshake and queues its conn for Accept.
func (l *Listener) handshake(h *handshake) {
	if l.timeout > 0 {
		h.nc.SetDeadline(h.start.Add(l.timeout))
	}
	opened, info := openSession(h.nc, &l.cfg)
	c := opened
	if c != nil {
		if err := h.nc.SetDeadline(time.Time{}); err != nil {
			c, info.Err = nil, err
		}
	}
	l.mu.Lock()
	if h.ended == nil {
		for i, x := range l.hs {
			if x == h {
				l.hs = append(l.hs[:i], l.hs[i+1:]...)
				break
			}
		}
	}
	switch {
	case h.ended != nil: // the Listener closed h.nc: its error says why the handshake failed
		c, info.Err = nil, h.ended
	case c != nil:
		l.nready++
	}
	l.mu.Unlock()
	info.Duration = time.Since(h.start)
	switch {
	case c != nil:
	case opened != nil:
		opened.Close() // and its keep-alive timer
	default:
		h.nc.Close()
	}
	if l.cfg.HandshakeDone != nil {
		l.cfg.HandshakeDone(info)
	}
	if c != nil {
		l.ready <- c // never blocks: l.ready holds max, and at most max are held
	}
	l.signal()
}

// openSession runs the called side of the handshake on nc, as cfg says,
// and returns the conn, or nil after a refusal or a failure, with what
// happened. It does not close nc.
func openSession(nc net.Conn, cfg *ListenConfig) (*Conn, HandshakeInfo) {
	info := HandshakeInfo{RemoteAddr: nc.RemoteAddr()}
	var hdr [HeaderLen]byte
	for keepAlives := 0; ; keepAlives++ {
		if _, err := io.ReadFull(nc, hdr[:]); err != nil {
			if err == io.EOF && keepAlives > 0 {
				err = io.ErrUnexpectedEOF
			}
			info.Err = err
			return nil, info
		}
		switch PacketType(hdr[0]) {
		case TypeRequest:
			return openRequest(nc, hdr, cfg, info)
		case TypeMessage:
			return openDirect(nc, hdr, cfg, info)
		case TypeKeepAlive:
			if _, err := ParseHeader(hdr[:]); err != nil {
				info.Err = err
				return nil, info
			}
			if keepAlives == maxKeepAlives {
				info.Err = parseErr("TYPE", 0, &typeError{TypeKeepAlive})
				return nil, info
			}
		default:
			info.Err = parseErr("TYPE", 0, &typeError{PacketType(hdr[0])})
			return nil, info
		}
	}
}

// openRequest answers the session request whose header is hdr.
func openRequest(nc net.Conn, hdr [HeaderLen]byte, cfg *ListenConfig, info HandshakeInfo) (*Conn, HandshakeInfo) {
	req, resp, err := answer(prefixedConn{nc, io.MultiReader(bytes.NewReader(hdr[:]), nc)}, cfg.Decide)
	info.Request = req
	if err == nil || resp.Type != 0 {
		b, werr := resp.AppendBinary(make([]byte, 0, HeaderLen+RetargetLength))
		if werr == nil {
			_, werr = nc.Write(b)
		}
		if werr == nil {
			info.Response = resp
		}
		if err == nil {
			err = werr
		}
	}
	if err != nil {
		info.Err = err
		return nil, info
	}
	return NewConn(nc, req, cfg.Config), info
}

// openDirect takes a connection that starts with the session message
// header hdr as it is: the header is the first thing the conn reads.
func openDirect(nc net.Conn, hdr [HeaderLen]byte, cfg *ListenConfig, info HandshakeInfo) (*Conn, HandshakeInfo) {
	info.Direct = true
	var conf Config
	if cfg.Config != nil {
		conf = *cfg.Config
	}
	conf.KeepAlive = 0       // Direct TCP has no keep-alives
	conf.LongMessages = true // and its lengths have 24 bits (MS-SMB2 §2.1)
	if cfg.RequireRequest {
		info.Err = parseErr("TYPE", 0, &typeError{TypeMessage})
		return nil, info
	}
	c := NewConn(nc, Request{}, &conf)
	h, err := c.parseHeader(hdr[:])
	if err != nil {
		info.Err = err
		return nil, info
	}
	// The state readHeader leaves: a header read, none of it handed out.
	c.rhdr, c.rhN, c.rhO, c.rrem = hdr, HeaderLen, 0, h.Length
	return c, info
}

// prefixedConn is a net.Conn whose reads come from r: bytes already read
// from the Conn, then the Conn.
type prefixedConn struct {
	net.Conn
	r io.Reader
}

func (p prefixedConn) Read(b []byte) (int, error) { return p.r.Read(b) }
