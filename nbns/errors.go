package nbns

import (
	"errors"
	"io"
	"strconv"
)

// A ParseError reports where a packet failed to decode: the field, named as
// in RFC 1002 §4.2, and the byte offset at which it starts. Err is the cause;
// a packet that ends too early gives [io.ErrUnexpectedEOF].
type ParseError struct {
	Field  string // e.g. "QUESTION_NAME", "NUM_NAMES"
	Offset int    // offset of the field in the packet
	Err    error
}

var _ error = (*ParseError)(nil)

// Error names the field, its offset and the cause.
func (e *ParseError) Error() string {
	return "nbns: parsing " + e.Field + " at offset " + strconv.Itoa(e.Offset) + ": " + e.Err.Error()
}

// Unwrap returns e.Err.
func (e *ParseError) Unwrap() error { return e.Err }

func parseErr(field string, off int, err error) error {
	return &ParseError{Field: field, Offset: off, Err: err}
}

// Decoding errors. They are wrapped in a *ParseError that names the field.
var (
	errShort          = io.ErrUnexpectedEOF
	errFirstLabel     = errors.New("first label is not 32 bytes")
	errLabelChar      = errors.New("first-level encoding outside 'A'..'P'")
	errReservedLabel  = errors.New("reserved label type 0x40 or 0x80")
	errPointer        = errors.New("compression pointer where none is allowed")
	errPointerForward = errors.New("compression pointer does not point backwards")
	errPointerHops    = errors.New("too many compression pointers")
	errEncodedTooLong = errors.New("encoded name longer than 255 bytes")
	errDotInLabel     = errors.New("scope label contains a dot")
	errNotResponse    = errors.New("not a response")
	errNotRequest     = errors.New("not a request")
	errOpCode         = errors.New("not a query")
	errQDCount        = errors.New("question count is not 1")
	errNoAnswer       = errors.New("no answer record")
	errType           = errors.New("not NBSTAT (0x0021)")
	errClass          = errors.New("not IN (0x0001)")
	errNumNames       = errors.New("NUM_NAMES does not fit RDLENGTH")

	errTypeNB            = errors.New("not NB (0x0020)")
	errTypeNULL          = errors.New("not NULL (0x000A) or NB (0x0020)")
	errTypeNS            = errors.New("not NS (0x0002)")
	errTypeA             = errors.New("not A (0x0001)")
	errBroadcastResponse = errors.New("broadcast flag set in a response")
	errAddrEntryLen      = errors.New("RDLENGTH is not a multiple of 6, the size of ADDR_ENTRY")
	errWACKLen           = errors.New("RDLENGTH of a WACK is not 2")
	errNSCount           = errors.New("authority count of a redirect is not 1")
	errNoAdditional      = errors.New("redirect without an additional record")
	errNSDNameLen        = errors.New("RDLENGTH does not match NSD_NAME")
	errALen              = errors.New("RDLENGTH of an A record is not 4")
)

// Encoding errors.
var (
	errScopeLabel   = errors.New("nbns: scope label empty or longer than 63 bytes")
	errScopeTooLong = errors.New("nbns: name and scope encode to more than 255 bytes")
	errTooManyNames = errors.New("nbns: more than 255 names in a node status response")
	errHeaderField  = errors.New("nbns: OPCODE or RCODE out of range")
	errStatsMissing = errors.New("nbns: StatisticsMissing out of range 0..46")

	errPositiveRCode  = errors.New("nbns: positive response or redirect with a non-zero RCODE")
	errNegativeRCode  = errors.New("nbns: negative response with RCODE 0")
	errResponseKind   = errors.New("nbns: unknown ResponseKind")
	errTooManyEntries = errors.New("nbns: more address entries than RDLENGTH can count")
	errEntryAddr      = errors.New("nbns: address entry without an IPv4 address")
	errRedirectAddr   = errors.New("nbns: redirect without an IPv4 NSD_IP_ADDR")
	errDomainLabel    = errors.New("nbns: domain name label empty or longer than 63 bytes")
	errDomainTooLong  = errors.New("nbns: domain name longer than 255 bytes")
)
