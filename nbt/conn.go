package nbt

import (
	"io"
	"net"
	"strconv"

	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/session"
)

// Transport is how a [Conn] reaches the SMB server.
type Transport int

const (
	// TransportNetBIOS is a NetBIOS session on TCP 139 (RFC 1002 §4.3).
	// SMB2 dialects up to 3.0.2 only may be negotiated on it (MS-SMB2
	// §2.1), without multi-credit large MTU.
	TransportNetBIOS Transport = iota + 1

	// TransportDirect is Direct TCP on port 445 (MS-SMB2 §2.1), with no
	// NetBIOS session, which Dialer.Direct races against NetBIOS; every
	// SMB2 dialect, 3.1.1 included, may be negotiated.
	TransportDirect
)

// String returns "NetBIOS" or "Direct TCP".
func (t Transport) String() string {
	switch t {
	case TransportNetBIOS:
		return "NetBIOS"
	case TransportDirect:
		return "Direct TCP"
	}
	return "Transport(" + strconv.Itoa(int(t)) + ")"
}

// Conn is a connection to an SMB server as a [Dialer] returns it: a
// net.Conn whose byte stream is the Direct-TCP SMB framing (a 4-byte
// header, 0x00 and a 24-bit length, before each message), and what the
// dial learned on the way.
//
// Over NetBIOS it is the transparent *session.Conn, which removes
// keep-alives from what it reads and checks the framing of what it writes;
// over Direct TCP it is the TCP connection itself.
type Conn struct {
	net.Conn
	sess       *session.Conn
	nodeStatus *nbns.NodeStatusResponse
	attempts   []Attempt
}

// Transport returns how the conn reaches the server.
func (c *Conn) Transport() Transport {
	if c.sess == nil {
		return TransportDirect
	}
	return TransportNetBIOS
}

// Session returns the NetBIOS session, or nil for a Direct TCP conn.
func (c *Conn) Session() *session.Conn { return c.sess }

// WriteTo writes the conn's stream to w until it ends, for io.Copy. Over
// NetBIOS it is [session.Conn.WriteTo], which walks the framing once when
// w is a *session.Conn or a NetBIOS Conn; over Direct TCP it is the TCP
// connection's.
func (c *Conn) WriteTo(w io.Writer) (int64, error) {
	if c.sess != nil {
		return c.sess.WriteTo(w)
	}
	return io.Copy(w, c.Conn)
}

// CalledName returns the called name the server accepted, or the zero Name
// for a Direct TCP conn.
func (c *Conn) CalledName() nbns.Name {
	if c.sess == nil {
		return nbns.Name{}
	}
	return c.sess.Request().Called
}

// NodeStatus returns the host's name table when the dial fetched it, or
// nil.
func (c *Conn) NodeStatus() *nbns.NodeStatusResponse { return c.nodeStatus }

// Attempts returns the steps the dial took, in the order they ended;
// steps the dial no longer needed once the session was up, such as a node
// status query still out, end with [ErrAbandoned].
func (c *Conn) Attempts() []Attempt { return c.attempts }
