// Package session implements the NetBIOS session service (TCP port 139) of
// RFC 1002 §4.3 and §5.2: the packets a caller and a listener exchange to
// open a session, and the framing of the data that follows.
//
// # Packets
//
// Every packet starts with a [Header]: TYPE, FLAGS with the E bit folded into
// a 17-bit LENGTH (RFC 1002 §4.3.1). [ParseHeader] enforces the exact length
// of each handshake packet and rejects reserved flag bits, so a reader knows
// after four bytes how much it may read. [ParseHeaderLenient] reads a
// SESSION MESSAGE header as a 24-bit Direct-TCP length, as Samba, Impacket
// and Wireshark do for SMB.
//
// [Request] is the SESSION REQUEST of §4.3.2, with the called and calling
// names second-level encoded (RFC 1001 §14.1, no compression pointers).
// [Response] is a POSITIVE (§4.3.3), NEGATIVE (§4.3.4) or RETARGET (§4.3.5)
// SESSION RESPONSE. A SESSION KEEP ALIVE (§4.3.7) is a bare header, and a
// SESSION MESSAGE (§4.3.6) a header and its payload.
//
// # Dialing and listening
//
// A [Dialer] opens a session as a caller (RFC 1002 §5.2.1.1), following
// retargets; [Accept] answers one caller on an open connection, and a
// [Listener] serves a port as the called side (§5.2.1.2): each
// connection's handshake runs off the Accept path, with its own deadline,
// and a connection that starts with an SMB message is taken as smbd takes
// it. Both return a [Conn], whose byte stream is Direct-TCP SMB framing
// with keep-alives removed.
//
// # Errors
//
// Each negative response code is an [ErrorCode], itself an error, and a
// [NegativeResponseError] unwraps to it, so that
//
//	errors.Is(err, session.ErrCalledNameNotPresent)
//
// works through any wrapping. RFC 1002 §5.2.1.1 says which codes mean "try
// another name". A [RetargetError] carries the address a retarget names.
package session
