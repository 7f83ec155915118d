package nbns

import (
	"encoding/binary"
	"strconv"
)

// HeaderLen is the length of a name service packet header (RFC 1002
// §4.2.1.1).
const HeaderLen = 12

// OpCode is the 4-bit OPCODE of a name service packet.
type OpCode uint8

// Operation codes (RFC 1002 §4.2.1.1; 9 as Wireshark names it; 0xF in
// MS-NBTE §2.2.2).
const (
	OpQuery                  OpCode = 0x0
	OpRegistration           OpCode = 0x5
	OpRelease                OpCode = 0x6
	OpWACK                   OpCode = 0x7
	OpRefresh                OpCode = 0x8
	OpRefreshAlt             OpCode = 0x9
	OpMultihomedRegistration OpCode = 0xF
)

var opCodeNames = [16]string{
	OpQuery:                  "query",
	OpRegistration:           "registration",
	OpRelease:                "release",
	OpWACK:                   "WACK",
	OpRefresh:                "refresh",
	OpRefreshAlt:             "refresh (alternate)",
	OpMultihomedRegistration: "multi-homed registration",
}

// String returns the operation's name, or "opcode N" for an unnamed one.
func (o OpCode) String() string {
	if int(o) < len(opCodeNames) && opCodeNames[o] != "" {
		return opCodeNames[o]
	}
	return "opcode " + strconv.Itoa(int(o))
}

// GoString returns o as Go syntax.
func (o OpCode) GoString() string {
	return "nbns.OpCode(" + strconv.Itoa(int(o)) + ")"
}

// RCode is the 4-bit RCODE of a name service response.
type RCode uint8

// Response codes (RFC 1002 §4.2.6, §4.2.14).
const (
	RCodeSuccess        RCode = 0
	RCodeFormatError    RCode = 1 // FMT_ERR
	RCodeServerFailure  RCode = 2 // SRV_ERR
	RCodeNameError      RCode = 3 // NAM_ERR
	RCodeNotImplemented RCode = 4 // IMP_ERR
	RCodeRefused        RCode = 5 // RFS_ERR
	RCodeActive         RCode = 6 // ACT_ERR
	RCodeConflict       RCode = 7 // CFT_ERR
)

var rcodeNames = [16]string{
	RCodeSuccess:        "success",
	RCodeFormatError:    "format error",
	RCodeServerFailure:  "server failure",
	RCodeNameError:      "name error",
	RCodeNotImplemented: "not implemented",
	RCodeRefused:        "refused",
	RCodeActive:         "name active",
	RCodeConflict:       "name in conflict",
}

// String returns the code's meaning, or "rcode N" for an undefined one.
func (r RCode) String() string {
	if int(r) < len(rcodeNames) && rcodeNames[r] != "" {
		return rcodeNames[r]
	}
	return "rcode " + strconv.Itoa(int(r))
}

var _ error = RCode(0)

// Error returns r.String(). An RCode is an error value, as a
// syscall.Errno is, so that errors.Is finds the code in the error of a
// negative name query response: errors.Is(err, nbns.RCodeNameError). See
// [NegativeError].
func (r RCode) Error() string { return r.String() }

// GoString returns r as Go syntax.
func (r RCode) GoString() string {
	return "nbns.RCode(" + strconv.Itoa(int(r)) + ")"
}

// Masks of the flag word, the second 16 bits of the header.
const (
	flagResponse    = 0x8000 // R
	maskOpCode      = 0x7800 // OPCODE
	flagAA          = 0x0400 // authoritative answer
	flagTC          = 0x0200 // truncation
	flagRD          = 0x0100 // recursion desired
	flagRA          = 0x0080 // recursion available
	flagBroadcast   = 0x0010 // B
	maskRCode       = 0x000F // RCODE
	shiftOpCode     = 11
	headerCountsOff = 4
)

// Header is the 12-byte header of a name service packet (RFC 1002 §4.2.1.1).
// The two always-zero bits of the flag word (0x0060) are ignored when
// parsing and written as zero.
type Header struct {
	ID                 uint16 // NAME_TRN_ID
	Response           bool   // R: response, not request
	OpCode             OpCode // OPCODE, 4 bits
	Authoritative      bool   // AA
	Truncated          bool   // TC: the packet did not fit in a datagram
	RecursionDesired   bool   // RD
	RecursionAvailable bool   // RA
	Broadcast          bool   // B: sent by broadcast
	RCode              RCode  // RCODE, 4 bits
	QDCount            uint16 // QDCOUNT: entries in the question section
	ANCount            uint16 // ANCOUNT: resource records in the answer section
	NSCount            uint16 // NSCOUNT: authority records
	ARCount            uint16 // ARCOUNT: additional records
}

// AppendBinary appends the 12 header bytes to b. It fails only when OpCode
// or RCode does not fit in 4 bits.
func (h *Header) AppendBinary(b []byte) ([]byte, error) {
	if h.OpCode > 0xF || h.RCode > 0xF {
		return b, errHeaderField
	}
	f := uint16(h.OpCode)<<shiftOpCode | uint16(h.RCode)
	for _, x := range [...]struct {
		set  bool
		mask uint16
	}{
		{h.Response, flagResponse},
		{h.Authoritative, flagAA},
		{h.Truncated, flagTC},
		{h.RecursionDesired, flagRD},
		{h.RecursionAvailable, flagRA},
		{h.Broadcast, flagBroadcast},
	} {
		if x.set {
			f |= x.mask
		}
	}
	b = binary.BigEndian.AppendUint16(b, h.ID)
	b = binary.BigEndian.AppendUint16(b, f)
	b = binary.BigEndian.AppendUint16(b, h.QDCount)
	b = binary.BigEndian.AppendUint16(b, h.ANCount)
	b = binary.BigEndian.AppendUint16(b, h.NSCount)
	return binary.BigEndian.AppendUint16(b, h.ARCount), nil
}

// UnmarshalBinary decodes the header at the start of b; bytes after the
// first 12 are ignored.
func (h *Header) UnmarshalBinary(b []byte) error {
	if len(b) < HeaderLen {
		return parseErr("HEADER", 0, errShort)
	}
	f := binary.BigEndian.Uint16(b[2:])
	*h = Header{
		ID:                 binary.BigEndian.Uint16(b),
		Response:           f&flagResponse != 0,
		OpCode:             OpCode(f & maskOpCode >> shiftOpCode),
		Authoritative:      f&flagAA != 0,
		Truncated:          f&flagTC != 0,
		RecursionDesired:   f&flagRD != 0,
		RecursionAvailable: f&flagRA != 0,
		Broadcast:          f&flagBroadcast != 0,
		RCode:              RCode(f & maskRCode),
		QDCount:            binary.BigEndian.Uint16(b[headerCountsOff:]),
		ANCount:            binary.BigEndian.Uint16(b[headerCountsOff+2:]),
		NSCount:            binary.BigEndian.Uint16(b[headerCountsOff+4:]),
		ARCount:            binary.BigEndian.Uint16(b[headerCountsOff+6:]),
	}
	return nil
}
