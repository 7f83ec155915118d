package session

import (
	"encoding/binary"
	"errors"
	"io"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// KeepAliveTimeout is SSN_KEEP_ALIVE_TIMEOUT, the idle time after which
// RFC 1002 §6 sends a SESSION KEEP ALIVE "if configured". Windows waits an
// hour; see [Config.KeepAlive].
const KeepAliveTimeout = 60 * time.Second

// Config configures a [Conn]. A nil *Config is the zero Config.
type Config struct {
	// KeepAlive is how long the conn may stay idle, with no byte sent or
	// received, before it sends a SESSION KEEP ALIVE (RFC 1001 §16.3.2).
	// Zero or negative means never, the default: TCP keep-alives, which Go
	// turns on, do the same job (RFC 1001 §16.3.2 recommends session
	// keep-alives "only in the absence of TCP keep-alive").
	// [KeepAliveTimeout] is the RFC's value.
	KeepAlive time.Duration

	// Strict makes the conn read SESSION MESSAGE headers as RFC 1002
	// §4.3.1 defines them, with a 17-bit length, and fail on any other
	// flag bit. By default they are read as Direct-TCP headers with a
	// 24-bit length ([ParseHeaderLenient]), as Samba, Impacket, nmap and
	// Wireshark read SMB over port 139. Writes never exceed [MaxLength].
	Strict bool

	// LongMessages lets Write and WriteMessage send session messages of up
	// to 0xFFFFFF bytes, with the 24-bit length of Direct TCP, where RFC
	// 1002 allows 0x1FFFF. It is for a conn whose peer reads such
	// lengths, as Samba and Impacket do over port 139, and whose SMB
	// traffic needs them: a bridge to a port-445 server that grants SMB2
	// multi-credit large MTU, which a server on port 139 does not
	// (MS-SMB2 §3.3.5.3.1). Windows' NetBIOS clients never get such
	// messages, since they do not ask for large MTU over port 139.
	LongMessages bool
}

// maxLongLength is the longest message a conn with Config.LongMessages
// writes: the 24-bit length of Direct TCP.
const maxLongLength = 0xFFFFFF

// A Conn is an established NetBIOS session: the TCP connection after a
// positive session response.
//
// A Conn is a [net.Conn] whose byte stream is the stream of session
// messages, headers included, with keep-alives removed. Read fills its
// buffer with as much of that stream as one read of the TCP connection
// brings, across message boundaries, less the start of a header whose rest
// has not come, which may be a keep-alive's; Write takes the same framing,
// checks it (type 0x00, length at most [MaxLength]) and sends it. A
// session message header is byte-identical to the Direct-TCP header of
// port 445 for every length up to MaxLength, so an SMB client written for
// port 445 runs over a Conn unchanged.
//
// [Conn.ReadMessage] and [Conn.WriteMessage] move one payload at a time, and
// [Conn.Payload] is a net.Conn that carries payload bytes only. Reads share
// one state and writes another, so each direction should stick to one of
// these views, except that any view can be used at a message boundary
// (the start of a header that Read holds back is in that state).
//
// Reads and writes have their own locks: one Read and one Write may run at
// once, and Close unblocks both. Deadlines apply to the TCP connection
// directly; a read that times out in the middle of a header or a message
// loses no byte, and the next Read resumes where it stopped.
type Conn struct {
	nc     net.Conn
	req    Request
	strict bool
	long   bool // Config.LongMessages

	rmu  sync.Mutex
	rhdr [HeaderLen]byte // the current header, or the start of the next one
	rhN  int             // bytes of rhdr read; HeaderLen inside a message
	rhO  int             // bytes of rhdr handed to a transparent Read
	rrem int             // payload bytes left in the current message
	rerr error           // a framing error; the stream cannot be read past it

	wmu    sync.Mutex
	wf     framer // the framing of the bytes written so far; wf.hdr is unsent
	werr   error  // a write that left the framing unknown
	bufs   net.Buffers
	bufArr [2][]byte       // backs bufs, which WriteTo consumes
	whdr   [HeaderLen]byte // the header WriteMessage and Payload write
	wheld  [HeaderLen]byte // a copy of held header bytes, sent with the rest

	keepAlive time.Duration
	lastIO    atomic.Int64 // nanoseconds since start, at the last read or write
	start     time.Time
	timer     atomic.Pointer[time.Timer]
	closed    atomic.Bool
}

var _ net.Conn = (*Conn)(nil)

// ErrFraming is the error [Conn.Write] returns for bytes that are not a
// stream of session messages: a header of another type, such as a
// keep-alive, or with FLAGS other than the E bit, which would make its
// length exceed [MaxLength]. Write sends the bytes before the bad header,
// and none from it on.
var ErrFraming = errors.New("session: write is not a session message (type 0x00, length up to 0x1FFFF)")

// NewConn returns a Conn for nc, a connection on which a session has been
// established with req: the caller sent req and the listener answered with
// a positive response. [Dialer] and [Accept] return conns made this way.
func NewConn(nc net.Conn, req Request, cfg *Config) *Conn {
	c := &Conn{nc: nc, req: req, start: time.Now()}
	if cfg != nil {
		c.strict = cfg.Strict
		c.long = cfg.LongMessages
		c.wf.long = c.long
		c.keepAlive = cfg.KeepAlive
	}
	if c.keepAlive > 0 {
		// Publish the timer before it can fire: sendKeepAlive uses it.
		t := time.AfterFunc(time.Duration(math.MaxInt64), c.sendKeepAlive)
		c.timer.Store(t)
		t.Reset(c.keepAlive)
	}
	return c
}

// Request returns the session request that opened the conn: the called
// name the server accepted and the calling name.
func (c *Conn) Request() Request { return c.req }

// NetConn returns the underlying connection.
func (c *Conn) NetConn() net.Conn { return c.nc }

// LocalAddr returns the local network address.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// RemoteAddr returns the remote network address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// SetDeadline sets the read and write deadlines of the underlying
// connection.
func (c *Conn) SetDeadline(t time.Time) error { return c.nc.SetDeadline(t) }

// SetReadDeadline sets the read deadline of the underlying connection.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.nc.SetReadDeadline(t) }

// SetWriteDeadline sets the write deadline of the underlying connection.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.nc.SetWriteDeadline(t) }

// Close closes the connection, which unblocks any Read or Write.
func (c *Conn) Close() error {
	if t := c.timer.Load(); !c.closed.Swap(true) && t != nil {
		t.Stop()
	}
	return c.nc.Close()
}

func (c *Conn) touch() {
	if c.keepAlive > 0 {
		c.lastIO.Store(int64(time.Since(c.start)))
	}
}

// readHeader reads the next session message header into c.rhdr, skipping
// keep-alives, and sets c.rrem. It keeps partial headers across errors.
// The caller holds c.rmu.
func (c *Conn) readHeader() error {
	for {
		for c.rhN < HeaderLen {
			n, err := c.nc.Read(c.rhdr[c.rhN:])
			c.rhN += n
			if n > 0 {
				c.touch()
			}
			if c.rhN < HeaderLen && err != nil {
				if err == io.EOF && c.rhN > 0 {
					err = io.ErrUnexpectedEOF
				}
				return err
			}
		}
		h, err := c.parseHeader(c.rhdr[:])
		switch {
		case err != nil:
			c.rerr, c.rhN = err, 0
			return err
		case h.Type == TypeKeepAlive:
			c.rhN = 0 // discard (RFC 1002 §5.2.2.2)
			continue
		}
		c.rrem, c.rhO = h.Length, 0
		return nil
	}
}

// readPayload reads payload bytes of the current message into p, at most
// what the message has left. The caller holds c.rmu.
func (c *Conn) readPayload(p []byte) (int, error) {
	n, err := c.nc.Read(p[:min(len(p), c.rrem)])
	c.rrem -= n
	if n > 0 {
		c.touch()
	}
	if c.rrem == 0 {
		c.rhN = 0
		if err == io.EOF {
			err = nil // the message is whole; EOF comes again next time
		}
	} else if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// Read reads the session message stream: headers and payloads, without
// keep-alives. It reads the connection once, into p, and returns all the
// message bytes that brought, of as many messages as there are, less the
// keep-alives and less the start of a header whose rest has not come,
// which it holds for the next call. It reads again only when that leaves
// nothing to return. See [Conn].
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	n, _, err := c.read(p, true, 0)
	return n, err
}

// readPayloadView reads for [Conn.Payload]: payload bytes only.
func (c *Conn) readPayloadView(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	n, _, err := c.read(p, false, 0)
	return n, err
}

// read reads into p, which is not empty, the bytes of session messages
// that one read of the underlying connection brings, with their headers
// if headers is set, and reads again while that gives no byte to return
// and no error. The caller holds c.rmu.
//
// It reads into p itself and walks the framing in place. Between
// messages, when p has no room for a header, it reads the header into
// c.rhdr instead, as [Conn.ReadMessage] does, and hands it out from there.
//
// wmask is for [Conn.WriteTo]: the bits of a session message header that
// its destination refuses and c's reads let through, 0 for a plain read.
// cut is where in p[:n] the first header with one of them starts, or -1.
func (c *Conn) read(p []byte, headers bool, wmask uint32) (n, cut int, err error) {
	for {
		if c.rerr != nil {
			return 0, -1, c.rerr
		}
		if c.rhN == HeaderLen && c.rhO < HeaderLen { // a header in c.rhdr, not handed out
			if headers {
				cut = -1
				if binary.BigEndian.Uint32(c.rhdr[:])&wmask != 0 {
					cut = 0
				}
				n := copy(p, c.rhdr[c.rhO:])
				c.rhO += n
				if c.rhO == HeaderLen && c.rrem == 0 {
					c.rhN = 0
				}
				return n, cut, nil
			}
			c.rhO = HeaderLen
		}
		if c.rhN == HeaderLen && c.rrem == 0 { // the end of an empty message
			c.rhN = 0
		}
		if c.rhN < HeaderLen && len(p) < HeaderLen {
			if err := c.readHeader(); err != nil {
				return 0, -1, err
			}
			continue
		}
		if n, cut, err := c.fill(p, headers, wmask); n > 0 || err != nil {
			return n, cut, err
		}
	}
}

// fill makes one read of the underlying connection into p, after the
// start of a header that an earlier call held back, and returns the
// session message bytes that p then holds: keep-alives removed, message
// headers too unless headers is set, and the start of a header that is
// not complete held back in c.rhdr, since it may be a keep-alive's. Between
// messages p must have room for a header. wmask and cut are read's. The
// caller holds c.rmu.
func (c *Conn) fill(p []byte, headers bool, wmask uint32) (int, int, error) {
	k, rem := 0, c.rrem
	if c.rhN < HeaderLen { // between messages
		k, rem = copy(p, c.rhdr[:c.rhN]), 0
	}
	n, err := c.nc.Read(p[k:])
	if n > 0 {
		c.touch()
	}
	b := p[:k+n]
	r, w, cut := 0, 0, -1 // walk b[r:], keeping what to return in b[:w]
	mask := c.msgMask() | wmask
	if headers {
		r, rem = scanMessages(b, 0, rem, mask)
		w = r
	}
	for r < len(b) {
		if rem > 0 {
			m := min(rem, len(b)-r)
			if w != r {
				copy(b[w:], b[r:r+m])
			}
			r, w, rem = r+m, w+m, rem-m
			continue
		}
		if len(b)-r < HeaderLen {
			break
		}
		hdr := b[r : r+HeaderLen : r+HeaderLen]
		if v := binary.BigEndian.Uint32(hdr); v&mask == 0 {
			rem = int(v & 0xFFFFFF)
		} else {
			h, perr := c.parseHeader(hdr)
			if perr != nil {
				// The bytes before the bad header are good, and end
				// between messages.
				c.rerr, c.rhN, c.rrem = perr, 0, 0
				return w, cut, perr
			}
			if h.Type == TypeKeepAlive {
				r += HeaderLen // discard (RFC 1002 §5.2.2.2)
				continue
			}
			rem = h.Length
			if v&wmask != 0 && cut < 0 && headers {
				// A message that the destination refuses: note where,
				// and read on as a plain read does.
				cut, mask = w, c.msgMask()
			}
		}
		if headers {
			if w != r {
				copy(b[w:], hdr)
			}
			w += HeaderLen
		}
		r += HeaderLen
	}
	if rem > 0 {
		c.rhN, c.rhO, c.rrem = HeaderLen, HeaderLen, rem
	} else {
		c.rhN, c.rrem = copy(c.rhdr[:], b[r:]), 0
	}
	if err == io.EOF {
		switch {
		case c.rhN > 0: // inside a message or a header
			err = io.ErrUnexpectedEOF
		case w > 0:
			err = nil // the stream ends on a boundary; EOF comes again next time
		}
	}
	return w, cut, err
}

// Masks of a header read as a big-endian uint32: the bits that are 0 in
// a session message header that [ParseHeader] accepts (TYPE, and the bits
// of FLAGS but the E bit), or [ParseHeaderLenient] (TYPE). Its length,
// the low 24 bits, is then in range.
const (
	strictMessageMask  = 0xFF<<24 | (0xFF&^flagE)<<16
	lenientMessageMask = 0xFF << 24
)

// msgMask returns the mask of the session message headers that
// [Conn.parseHeader] accepts.
func (c *Conn) msgMask() uint32 {
	if c.strict {
		return strictMessageMask
	}
	return lenientMessageMask
}

// scanMessages walks b from r, which is rem bytes before the end of a
// payload, over whole session message headers that mask accepts (see
// strictMessageMask) and the payloads they announce. It returns where it
// stopped, at the end of b or at a header that is not complete or not
// accepted, and how many payload bytes are left there. It is the usual
// case of reading and writing, and must be fast: one header costs a load
// and two additions.
func scanMessages(b []byte, r, rem int, mask uint32) (int, int) {
	if rem >= len(b)-r {
		return len(b), rem - (len(b) - r)
	}
	for r += rem; r+HeaderLen <= len(b); {
		// Not binary.BigEndian.Uint32(b[r:]): slicing would lengthen the
		// chain of dependent instructions from one header to the next.
		v := uint32(b[r])<<24 | uint32(b[r+1])<<16 | uint32(b[r+2])<<8 | uint32(b[r+3])
		if v&mask != 0 {
			return r, 0
		}
		next := r + HeaderLen + int(v&0xFFFFFF)
		if next >= len(b) {
			return len(b), next - len(b)
		}
		r = next
	}
	return r, 0
}

// parseHeader parses the session message or keep-alive header in b, as
// the conn's Config says. Any other packet is a framing error.
func (c *Conn) parseHeader(b []byte) (Header, error) {
	var h Header
	var err error
	if c.strict {
		h, err = ParseHeader(b)
	} else {
		h, err = ParseHeaderLenient(b)
	}
	if err == nil && h.Type != TypeMessage && h.Type != TypeKeepAlive {
		err = parseErr("TYPE", 0, &typeError{h.Type})
	}
	return h, err
}

// ReadMessage reads the payload of the next session message, skipping
// keep-alives, and appends it to buf. The buffer grows only as bytes
// arrive, by 64 KiB or a quarter of what has arrived, so a length field
// that lies costs memory in proportion to the bytes received, not to the
// length it claims.
//
// When it fails part-way, for example at a read deadline, it returns the
// bytes of the message read so far appended to buf; the next ReadMessage
// appends the rest of the same message.
func (c *Conn) ReadMessage(buf []byte) ([]byte, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.rerr != nil {
		return buf, c.rerr
	}
	if c.rhN < HeaderLen {
		if err := c.readHeader(); err != nil {
			return buf, err
		}
	}
	c.rhO = HeaderLen
	for c.rrem > 0 {
		chunk := min(c.rrem, 64<<10)
		if cap(buf)-len(buf) < chunk {
			// Grow by a quarter of what has arrived, for amortized
			// linear copying, or by one chunk: never in proportion to
			// the length the header claims.
			nb := make([]byte, len(buf), len(buf)+max(chunk, min(len(buf)/4, c.rrem)))
			copy(nb, buf)
			buf = nb
		}
		n, err := c.readPayload(buf[len(buf) : len(buf)+chunk])
		buf = buf[:len(buf)+n]
		if err != nil {
			return buf, err
		}
	}
	c.rhN = 0
	return buf, nil
}

// framer follows the framing of a byte stream of session messages.
type framer struct {
	hdr  [HeaderLen]byte
	hdrN int  // bytes of hdr seen
	rem  int  // payload bytes left in the current message
	long bool // lengths of 24 bits allowed (Config.LongMessages)
}

// walk advances over p and returns how many of its bytes end on a point
// where sending them is safe: all of p, less a trailing incomplete header
// (kept in f.hdr), or up to the start of a header that is not a session
// message with a 17-bit length, in which case err is ErrFraming.
func (f *framer) walk(p []byte) (safe int, err error) {
	pos, hdrStart := 0, -f.hdrN
	for pos < len(p) {
		if f.hdrN == 0 {
			pos, f.rem = scanMessages(p, pos, f.rem, f.mask())
			if pos == len(p) {
				break
			}
			hdrStart = pos
		}
		// A header split across calls, or one that scanMessages refused.
		k := copy(f.hdr[f.hdrN:], p[pos:])
		f.hdrN += k
		pos += k
		if f.hdrN < HeaderLen {
			break
		}
		var h Header
		var err error
		if f.long {
			h, err = ParseHeaderLenient(f.hdr[:])
		} else {
			h, err = ParseHeader(f.hdr[:])
		}
		if err != nil || h.Type != TypeMessage {
			f.hdrN = 0
			return max(hdrStart, 0), ErrFraming
		}
		f.hdrN, f.rem = 0, h.Length
	}
	if f.hdrN > 0 {
		return max(hdrStart, 0), nil
	}
	return len(p), nil
}

// atBoundary reports whether the stream is between messages.
func (f *framer) atBoundary() bool { return f.hdrN == 0 && f.rem == 0 }

// mask returns the mask of the session message headers that the stream
// may have: see strictMessageMask.
func (f *framer) mask() uint32 { return writeMask(f.long) }

// writeMask returns the mask of the session message headers that Write
// sends, with Config.LongMessages or without.
func writeMask(long bool) uint32 {
	if long {
		return lenientMessageMask
	}
	return strictMessageMask
}

// Write writes session messages, headers included. It checks their framing
// first: every header must be a SESSION MESSAGE (type 0x00) with a length
// of at most [MaxLength] (0xFFFFFF, any FLAGS, with [Config.LongMessages]). The first bad header, and what follows it, is not
// sent: Write returns the bytes before it and [ErrFraming]. A header split
// across calls is held back until it is complete.
//
// A write that fails part-way, at a deadline for example, may be resumed
// with the bytes it did not send, unless it stopped inside a header; then
// the stream is broken and every later Write fails.
func (c *Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.write(p)
}

// write is Write. The caller holds c.wmu.
func (c *Conn) write(p []byte) (int, error) {
	if c.werr != nil {
		return 0, c.werr
	}
	entry := c.wf
	held := entry.hdrN // the start of a header, held back by the last call
	safe, ferr := c.wf.walk(p)

	var m int // bytes of p sent
	var err error
	switch {
	case held > 0 && safe > 0: // the held header turned out well: send it too
		c.wheld = entry.hdr
		c.bufs = append(c.bufArr[:0], c.wheld[:held], p[:safe])
		var total int64
		total, err = c.bufs.WriteTo(c.nc)
		m = max(int(total)-held, 0)
		if int(total) < held {
			c.wf = entry
			c.breakFraming(total > 0, err)
			return 0, err
		}
	case safe > 0:
		m, err = c.nc.Write(p[:safe])
	}
	if m > 0 {
		c.touch()
	}
	if err != nil {
		// Follow the framing of what was sent, not of what was given.
		c.wf = entry
		c.wf.walk(p[:m])
		c.breakFraming(c.wf.hdrN > 0, err)
		return m, err
	}
	if ferr != nil {
		return safe, ferr
	}
	return len(p), nil
}

// breakFraming marks the write side broken when a failed write left part
// of a header on the wire. The caller holds c.wmu.
func (c *Conn) breakFraming(broken bool, err error) {
	if broken {
		c.werr = &brokenError{err}
	}
}

// brokenError is the sticky error of a write side whose framing was lost.
type brokenError struct{ err error }

func (e *brokenError) Error() string {
	return "session: an earlier write stopped inside a message header: " + e.err.Error()
}
func (e *brokenError) Unwrap() error { return e.err }

// WriteMessage sends p as one session message. p may be at most
// [MaxLength] bytes, or 0xFFFFFF with [Config.LongMessages]. The header and payload go out in one write where the
// connection supports it. A WriteMessage that fails part-way, at a write
// deadline for example, leaves a message cut short on the wire: the conn
// cannot be written to afterwards.
func (c *Conn) WriteMessage(p []byte) error {
	if len(p) > MaxLength && (!c.long || len(p) > maxLongLength) {
		return errLengthRange
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.werr == nil && !c.wf.atBoundary() {
		return errMidMessage
	}
	n, err := c.writeFramed(p)
	if err != nil && c.werr == nil && c.wf.rem > 0 {
		c.werr = &brokenError{err}
	}
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	return err
}

// writePayloadView writes for [Conn.Payload]: p is framed as session
// messages of up to MaxLength bytes each.
func (c *Conn) writePayloadView(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	sent := 0
	for sent < len(p) {
		n, err := c.writeFramed(p[sent:min(len(p), sent+MaxLength)])
		sent += n
		if err != nil {
			return sent, err
		}
	}
	return sent, nil
}

// writeFramed sends p, at most MaxLength bytes, as the payload of a
// session message, or as the rest of one that a timed-out write left
// unfinished. It returns the payload bytes sent. The caller holds c.wmu.
func (c *Conn) writeFramed(p []byte) (int, error) {
	if c.werr != nil {
		return 0, c.werr
	}
	if c.wf.hdrN > 0 {
		return 0, errMidHeader
	}
	if c.wf.rem > 0 { // finish the message a timeout interrupted
		n, err := c.nc.Write(p[:min(len(p), c.wf.rem)])
		c.wf.rem -= n
		c.touch()
		return n, err
	}
	c.whdr = [HeaderLen]byte{byte(TypeMessage), byte(len(p) >> 16), byte(len(p) >> 8), byte(len(p))}
	c.bufs = append(c.bufArr[:0], c.whdr[:], p)
	total, err := c.bufs.WriteTo(c.nc)
	c.touch()
	n := int(total) - HeaderLen
	switch {
	case n < 0:
		c.breakFraming(total > 0, err)
		return 0, err
	case err != nil:
		c.wf.rem = len(p) - n
	}
	return n, err
}

var (
	errMidHeader  = errors.New("session: write in the middle of a message header")
	errMidMessage = errors.New("session: WriteMessage in the middle of a message written by Write or Payload")
)

// sendKeepAlive runs from c.timer: it sends a keep-alive when the conn has
// been idle for c.keepAlive, between messages, and re-arms the timer.
func (c *Conn) sendKeepAlive() {
	if c.closed.Load() {
		return
	}
	idle := time.Since(c.start) - time.Duration(c.lastIO.Load())
	if wait := c.keepAlive - idle; wait > 0 {
		c.timer.Load().Reset(wait)
		return
	}
	var err error
	if c.wmu.TryLock() {
		if c.werr == nil && c.wf.atBoundary() {
			ka := [HeaderLen]byte{byte(TypeKeepAlive)}
			var n int
			n, err = c.nc.Write(ka[:])
			c.breakFraming(err != nil && n > 0, err)
			c.touch()
		}
		c.wmu.Unlock()
	}
	if err == nil && !c.closed.Load() { // a conn that cannot be written to needs no keep-alive
		c.timer.Load().Reset(c.keepAlive)
	}
}

// Payload returns a view of the conn that carries payload bytes only:
// its Write sends p as session messages of up to MaxLength bytes, and its
// Read returns message payloads, without headers and keep-alives, as many
// as one read of the connection brings, as [Conn.Read] does. It shares the
// conn's state, deadlines and Close.
func (c *Conn) Payload() net.Conn { return payloadConn{c} }

type payloadConn struct{ *Conn }

func (p payloadConn) Read(b []byte) (int, error)  { return p.readPayloadView(b) }
func (p payloadConn) Write(b []byte) (int, error) { return p.writePayloadView(b) }
