package session

import (
	"encoding/binary"
	"net/netip"

	"github.com/netbios-go/netbios/nbns"
)

// Port is SSN_SRVC_TCP_PORT, the session service's TCP port (RFC 1002 §6).
const Port = 139

// Sizes of session service packets (RFC 1002 §4.3).
const (
	// HeaderLen is the length of a packet header: TYPE, FLAGS, LENGTH.
	HeaderLen = 4

	// MaxLength is the largest LENGTH: 16 bits plus the E flag bit,
	// "0 to 128K" in RFC 1002 §4.3.1.
	MaxLength = 1<<17 - 1

	// MaxLenientLength is the largest SESSION MESSAGE length that
	// [ParseHeaderLenient] accepts: 24 bits, as in a Direct-TCP header.
	MaxLenientLength = 1<<24 - 1

	// MaxRequestLength is the largest LENGTH of a SESSION REQUEST: two
	// names of at most 255 encoded bytes each.
	MaxRequestLength = 2 * nbns.MaxEncodedLen

	// minRequestLength is the LENGTH of a session request without scope.
	minRequestLength = 2 * (2 + nbns.EncodedLen)

	// RetargetLength is the LENGTH of a RETARGET SESSION RESPONSE: an IPv4
	// address and a port.
	RetargetLength = 6

	// flagE is the only defined bit of FLAGS, the 17th bit of LENGTH.
	flagE = 0x01
)

// PacketType is the TYPE of a session service packet (RFC 1002 §4.3.1).
type PacketType uint8

// Packet types.
const (
	TypeMessage          PacketType = 0x00 // SESSION MESSAGE
	TypeRequest          PacketType = 0x81 // SESSION REQUEST
	TypePositiveResponse PacketType = 0x82 // POSITIVE SESSION RESPONSE
	TypeNegativeResponse PacketType = 0x83 // NEGATIVE SESSION RESPONSE
	TypeRetargetResponse PacketType = 0x84 // RETARGET SESSION RESPONSE
	TypeKeepAlive        PacketType = 0x85 // SESSION KEEP ALIVE
)

// String returns the packet type as RFC 1002 §4.3 names it, in lower case,
// or "packet type 0xNN" for an undefined one.
func (t PacketType) String() string {
	switch t {
	case TypeMessage:
		return "session message"
	case TypeRequest:
		return "session request"
	case TypePositiveResponse:
		return "positive session response"
	case TypeNegativeResponse:
		return "negative session response"
	case TypeRetargetResponse:
		return "retarget session response"
	case TypeKeepAlive:
		return "session keep alive"
	}
	return "packet type " + hex8(uint8(t))
}

// GoString returns t as Go syntax.
func (t PacketType) GoString() string {
	switch t {
	case TypeMessage:
		return "session.TypeMessage"
	case TypeRequest:
		return "session.TypeRequest"
	case TypePositiveResponse:
		return "session.TypePositiveResponse"
	case TypeNegativeResponse:
		return "session.TypeNegativeResponse"
	case TypeRetargetResponse:
		return "session.TypeRetargetResponse"
	case TypeKeepAlive:
		return "session.TypeKeepAlive"
	}
	return "session.PacketType(" + hex8(uint8(t)) + ")"
}

// defined reports whether RFC 1002 §4.3.1 defines t.
func (t PacketType) defined() bool {
	switch t {
	case TypeMessage, TypeRequest, TypePositiveResponse, TypeNegativeResponse, TypeRetargetResponse, TypeKeepAlive:
		return true
	}
	return false
}

// Header is the 4-byte header of every session service packet (RFC 1002
// §4.3.1): TYPE, then FLAGS, whose E bit is folded into Length as its 17th
// bit, then the 16-bit LENGTH of the bytes that follow the header.
type Header struct {
	Type   PacketType
	Length int // bytes after the header: 0 to MaxLength
}

// checkLength reports whether length is allowed for t: every handshake
// packet has an exact length, or a range for a session request, and a
// session message has at most max bytes.
func checkLength(t PacketType, length, max int) error {
	var ok bool
	switch t {
	case TypeMessage:
		ok = length <= max
	case TypeRequest:
		ok = minRequestLength <= length && length <= MaxRequestLength
	case TypePositiveResponse, TypeKeepAlive:
		ok = length == 0
	case TypeNegativeResponse:
		ok = length == 1
	case TypeRetargetResponse:
		ok = length == RetargetLength
	default:
		return &typeError{t}
	}
	if !ok {
		return &lengthError{t, length}
	}
	return nil
}

// ParseHeader decodes the header at the start of b, as RFC 1002 §4.3.1
// defines it: FLAGS must be 0 or 1 (the E bit), and the length must be the
// one the packet type has: 0 for a positive response or a keep-alive, 1 for
// a negative response, 6 for a retarget, 68 to 510 for a session request
// and at most [MaxLength] for a session message. An undefined type gives an
// error that wraps [ErrUnexpectedPacket]. A reader that has parsed the
// header therefore knows how many bytes it may read next.
func ParseHeader(b []byte) (Header, error) {
	return parseHeader(b, false)
}

// ParseHeaderLenient is like [ParseHeader], except that the header of a
// SESSION MESSAGE is read as a Direct-TCP header (MS-SMB2 §2.1): FLAGS is
// the high byte of a 24-bit length of up to [MaxLenientLength]. SMB servers
// and clients are read this way by Samba, Impacket, nmap and Wireshark,
// because SMB1 Unix extensions and SMB2 multi-credit can exceed 17 bits.
// Every other packet type is read strictly.
func ParseHeaderLenient(b []byte) (Header, error) {
	return parseHeader(b, true)
}

func parseHeader(b []byte, lenient bool) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, parseErr("HEADER", 0, errShort)
	}
	h := Header{Type: PacketType(b[0])}
	if !h.Type.defined() {
		return Header{}, parseErr("TYPE", 0, &typeError{h.Type})
	}
	max := MaxLength
	if lenient && h.Type == TypeMessage {
		max = MaxLenientLength
		h.Length = int(b[1])<<16 | int(binary.BigEndian.Uint16(b[2:]))
	} else {
		if b[1]&^flagE != 0 {
			return Header{}, parseErr("FLAGS", 1, errReservedFlags)
		}
		h.Length = int(b[1]&flagE)<<16 | int(binary.BigEndian.Uint16(b[2:]))
	}
	if err := checkLength(h.Type, h.Length, max); err != nil {
		return Header{}, parseErr("LENGTH", 2, err) // with the E bit of FLAGS
	}
	return h, nil
}

// AppendBinary appends the header to b. It refuses what [ParseHeader]
// refuses: an undefined type, or a length the type does not allow.
func (h Header) AppendBinary(b []byte) ([]byte, error) {
	if h.Length < 0 {
		return b, errLengthRange
	}
	if err := checkLength(h.Type, h.Length, MaxLength); err != nil {
		return b, err
	}
	return append(b, byte(h.Type), byte(h.Length>>16), byte(h.Length>>8), byte(h.Length)), nil
}

// Request is a SESSION REQUEST (RFC 1002 §4.3.2): the name the caller wants
// to reach and its own name, both second-level encoded in the same scope,
// without compression pointers.
type Request struct {
	Called  nbns.Name // CALLED NAME
	Calling nbns.Name // CALLING NAME
	Scope   string    // scope identifier of both names; empty for none
}

// AppendBinary appends the request, header included, to b. Without scope it
// is 72 bytes.
func (r *Request) AppendBinary(b []byte) ([]byte, error) {
	start := len(b)
	b = append(b, byte(TypeRequest), 0, 0, 0)
	b, err := r.Called.AppendEncoded(b, r.Scope)
	if err != nil {
		return b[:start], err
	}
	if b, err = r.Calling.AppendEncoded(b, r.Scope); err != nil {
		return b[:start], err
	}
	binary.BigEndian.PutUint16(b[start+2:], uint16(len(b)-start-HeaderLen))
	return b, nil
}

// MarshalBinary returns the request's wire form.
func (r *Request) MarshalBinary() ([]byte, error) {
	return r.AppendBinary(make([]byte, 0, HeaderLen+minRequestLength))
}

// UnmarshalBinary decodes a whole session request, header included. The
// header's LENGTH must match the bytes given, and the two names must fill
// them exactly.
func (r *Request) UnmarshalBinary(b []byte) error {
	h, err := ParseHeader(b)
	if err != nil {
		return err
	}
	if h.Type != TypeRequest {
		return parseErr("TYPE", 0, &typeError{h.Type})
	}
	if err := checkSize(b, h); err != nil {
		return err
	}
	off := HeaderLen
	called, scope, n, err := nbns.ParseEncoded(b[off:])
	if err != nil {
		return nameErr("CALLED NAME", off, err)
	}
	off += n
	calling, scope2, n, err := nbns.ParseEncoded(b[off:])
	if err != nil {
		return nameErr("CALLING NAME", off, err)
	}
	if scope2 != scope {
		return nameErr("CALLING NAME", off, errScopeMismatch)
	}
	if off+n != len(b) {
		return nameErr("CALLING NAME", off+n, errTrailing)
	}
	*r = Request{Called: called, Calling: calling, Scope: scope}
	return nil
}

// nameErr returns the ParseError for a request whose names are wrong
// although its framing is sound: it names the session request field and
// wraps both ErrBadName and the cause, taken out of an nbns.ParseError
// from nbns.ParseEncoded.
func nameErr(field string, off int, err error) error {
	if pe, ok := err.(*nbns.ParseError); ok {
		off, err = off+pe.Offset, pe.Err
	}
	return parseErr(field, off, &badNameError{err})
}

// badNameError is the cause of a bad name in a session request. It reads
// as the cause and unwraps to both ErrBadName and the cause.
type badNameError struct {
	err error
}

func (e *badNameError) Error() string   { return e.err.Error() }
func (e *badNameError) Unwrap() []error { return []error{ErrBadName, e.err} }

// checkSize checks that b holds exactly the packet its header announces.
func checkSize(b []byte, h Header) error {
	switch {
	case len(b) < HeaderLen+h.Length:
		return parseErr("TRAILER", HeaderLen, errShort)
	case len(b) > HeaderLen+h.Length:
		return parseErr("TRAILER", HeaderLen+h.Length, errTrailing)
	}
	return nil
}

// Response is the answer to a session request (RFC 1002 §4.3.3 to §4.3.5):
// a positive response, a negative response with its error code, or a
// retarget to another IPv4 address and port.
type Response struct {
	Type     PacketType     // TypePositiveResponse, TypeNegativeResponse or TypeRetargetResponse
	Code     ErrorCode      // ERROR_CODE of a negative response
	Retarget netip.AddrPort // RETARGET_IP_ADDRESS and PORT of a retarget response
}

// AppendBinary appends the response, header included, to b: 4 bytes for a
// positive response, 5 for a negative one, 10 for a retarget, whose address
// must be IPv4.
func (r *Response) AppendBinary(b []byte) ([]byte, error) {
	switch r.Type {
	case TypePositiveResponse:
		return append(b, byte(TypePositiveResponse), 0, 0, 0), nil
	case TypeNegativeResponse:
		return append(b, byte(TypeNegativeResponse), 0, 0, 1, byte(r.Code)), nil
	case TypeRetargetResponse:
		ip := r.Retarget.Addr()
		if !ip.Is4() {
			return b, errRetargetAddr
		}
		a := ip.As4()
		b = append(b, byte(TypeRetargetResponse), 0, 0, RetargetLength)
		b = append(b, a[:]...)
		return binary.BigEndian.AppendUint16(b, r.Retarget.Port()), nil
	}
	return b, &typeError{r.Type}
}

// MarshalBinary returns the response's wire form.
func (r *Response) MarshalBinary() ([]byte, error) {
	return r.AppendBinary(make([]byte, 0, HeaderLen+RetargetLength))
}

// UnmarshalBinary decodes a whole session response, header included, of
// exactly the length its type has. Any other packet type gives an error
// that wraps [ErrUnexpectedPacket]; a keep-alive, which a server may send
// before it answers, is such an error here and is skipped by a reader.
func (r *Response) UnmarshalBinary(b []byte) error {
	h, err := ParseHeader(b)
	if err != nil {
		return err
	}
	if err := checkSize(b, h); err != nil {
		return err
	}
	switch h.Type {
	case TypePositiveResponse:
		*r = Response{Type: h.Type}
	case TypeNegativeResponse:
		*r = Response{Type: h.Type, Code: ErrorCode(b[HeaderLen])}
	case TypeRetargetResponse:
		ip := netip.AddrFrom4([4]byte(b[HeaderLen : HeaderLen+4]))
		*r = Response{Type: h.Type, Retarget: netip.AddrPortFrom(ip, binary.BigEndian.Uint16(b[HeaderLen+4:]))}
	default:
		return parseErr("TYPE", 0, &typeError{h.Type})
	}
	return nil
}

// Err returns the response as an error for a request to called: nil for a
// positive response, a *NegativeResponseError, or a *RetargetError.
func (r *Response) Err(called nbns.Name) error {
	switch r.Type {
	case TypePositiveResponse:
		return nil
	case TypeNegativeResponse:
		return &NegativeResponseError{Called: called, Code: r.Code}
	case TypeRetargetResponse:
		return &RetargetError{Called: called, Addr: r.Retarget}
	}
	return &typeError{r.Type}
}

// String describes the response: "positive", "negative: called name not
// present (0x82)" or "retarget to 198.18.0.2:1139".
func (r *Response) String() string {
	switch r.Type {
	case TypePositiveResponse:
		return "positive"
	case TypeNegativeResponse:
		return "negative: " + r.Code.Error()
	case TypeRetargetResponse:
		return "retarget to " + r.Retarget.String()
	}
	return r.Type.String()
}
