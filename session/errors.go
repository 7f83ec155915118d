package session

import (
	"errors"
	"io"
	"net/netip"
	"strconv"

	"github.com/netbios-go/netbios/nbns"
)

// ErrorCode is the ERROR_CODE of a NEGATIVE SESSION RESPONSE (RFC 1002
// §4.3.4). Each code is an error value itself, so that errors.Is can find
// it through any wrapping:
//
//	errors.Is(err, session.ErrCalledNameNotPresent)
type ErrorCode uint8

// Negative response codes (RFC 1002 §4.3.4). RFC 1002 §5.2.1.1 tells a
// caller to try other names after 0x82; jcifs does the same after 0x80.
const (
	ErrNotListeningOnCalledName   ErrorCode = 0x80 // not listening on called name
	ErrNotListeningForCallingName ErrorCode = 0x81 // not listening for calling name
	ErrCalledNameNotPresent       ErrorCode = 0x82 // called name not present
	ErrInsufficientResources      ErrorCode = 0x83 // called name present, but insufficient resources
	ErrUnspecified                ErrorCode = 0x8F // unspecified error
)

var _ error = ErrorCode(0)

// Error returns the code's meaning and its value, as
// "called name not present (0x82)". A code the RFC does not define gives
// "negative response code 0x8A".
func (c ErrorCode) Error() string {
	var text string
	switch c {
	case ErrNotListeningOnCalledName:
		text = "not listening on called name"
	case ErrNotListeningForCallingName:
		text = "not listening for calling name"
	case ErrCalledNameNotPresent:
		text = "called name not present"
	case ErrInsufficientResources:
		text = "called name present, but insufficient resources"
	case ErrUnspecified:
		text = "unspecified error"
	default:
		return "negative response code " + hex8(uint8(c))
	}
	return text + " (" + hex8(uint8(c)) + ")"
}

// String returns c.Error().
func (c ErrorCode) String() string { return c.Error() }

// GoString returns c as Go syntax.
func (c ErrorCode) GoString() string {
	switch c {
	case ErrNotListeningOnCalledName:
		return "session.ErrNotListeningOnCalledName"
	case ErrNotListeningForCallingName:
		return "session.ErrNotListeningForCallingName"
	case ErrCalledNameNotPresent:
		return "session.ErrCalledNameNotPresent"
	case ErrInsufficientResources:
		return "session.ErrInsufficientResources"
	case ErrUnspecified:
		return "session.ErrUnspecified"
	}
	return "session.ErrorCode(" + hex8(uint8(c)) + ")"
}

func hex8(v uint8) string {
	const digits = "0123456789ABCDEF"
	return string([]byte{'0', 'x', digits[v>>4], digits[v&0xF]})
}

// NegativeResponseError reports a NEGATIVE SESSION RESPONSE to a session
// request. It unwraps to its Code.
type NegativeResponseError struct {
	Called nbns.Name // the called name that was refused
	Code   ErrorCode
}

var _ error = (*NegativeResponseError)(nil)

// Error reads as
// `session request "*SMBSERVER<20>": called name not present (0x82)`.
func (e *NegativeResponseError) Error() string {
	return "session request " + strconv.Quote(e.Called.String()) + ": " + e.Code.Error()
}

// Unwrap returns e.Code.
func (e *NegativeResponseError) Unwrap() error { return e.Code }

// RetargetError reports a RETARGET SESSION RESPONSE: the called name is
// served at another address, where the caller should try again (RFC 1002
// §5.2.1.1).
type RetargetError struct {
	Called nbns.Name      // the called name that was retargeted
	Addr   netip.AddrPort // RETARGET_IP_ADDRESS and PORT
}

var _ error = (*RetargetError)(nil)

// Error reads as `session request "NAME<20>": retarget to 198.18.0.2:1139`.
func (e *RetargetError) Error() string {
	return "session request " + strconv.Quote(e.Called.String()) + ": retarget to " + e.Addr.String()
}

// ErrUnexpectedPacket is wrapped by errors about a packet whose type is
// undefined or out of place.
var ErrUnexpectedPacket = errors.New("session: unexpected packet type")

// ErrBadName is wrapped by the *[ParseError] of a SESSION REQUEST that is
// framed correctly but whose names are not: CALLED NAME or CALLING NAME
// does not decode (RFC 1002 §4.1, no compression pointers), the two names
// have different scopes, or they do not fill LENGTH exactly. The error
// still wraps the cause as well. [Accept] answers such a request with
// [ErrCalledNameNotPresent], as Samba does; test for it with
//
//	errors.Is(err, session.ErrBadName)
var ErrBadName = errors.New("session: malformed name in session request")

// A ParseError reports where a session service packet failed to decode:
// the field, named as in RFC 1002 §4.3, and its byte offset. A packet that
// ends too early gives [io.ErrUnexpectedEOF] as Err.
type ParseError struct {
	Field  string // e.g. "FLAGS", "LENGTH", "CALLED NAME"
	Offset int    // offset of the field in the packet
	Err    error
}

var _ error = (*ParseError)(nil)

// Error names the field, its offset and the cause.
func (e *ParseError) Error() string {
	return "session: parsing " + e.Field + " at offset " + strconv.Itoa(e.Offset) + ": " + e.Err.Error()
}

// Unwrap returns e.Err.
func (e *ParseError) Unwrap() error { return e.Err }

func parseErr(field string, off int, err error) error {
	return &ParseError{Field: field, Offset: off, Err: err}
}

// typeError wraps ErrUnexpectedPacket with the type that was seen.
type typeError struct {
	t PacketType
}

func (e *typeError) Error() string { return ErrUnexpectedPacket.Error() + " " + hex8(uint8(e.t)) }
func (e *typeError) Unwrap() error { return ErrUnexpectedPacket }

// lengthError reports a LENGTH that a packet type does not allow.
type lengthError struct {
	t      PacketType
	length int
}

func (e *lengthError) Error() string {
	return "length " + strconv.Itoa(e.length) + " not allowed for " + e.t.String()
}

var (
	errShort         = io.ErrUnexpectedEOF
	errReservedFlags = errors.New("reserved flag bits set")
	errTrailing      = errors.New("bytes after the packet")
	errScopeMismatch = errors.New("calling name scope differs from called name scope")
	errRetargetAddr  = errors.New("session: retarget address is not IPv4")
	errLengthRange   = errors.New("session: length out of range")
)
