package nbns

// This file holds the name query packets of RFC 1002 §4.2.12 to §4.2.16.

import (
	"encoding/binary"
	"net/netip"
	"strconv"
)

// Record types of the name query exchange (RFC 1002 §4.2.1.2, §4.2.1.3).
const (
	TypeNB   = 0x0020 // QUESTION_TYPE of a name query; RR_TYPE of a positive answer
	TypeNULL = 0x000A // RR_TYPE of a negative answer and of a WACK
	TypeNS   = 0x0002 // RR_TYPE of a REDIRECT's authority record
	TypeA    = 0x0001 // RR_TYPE of a REDIRECT's additional record
)

// Sizes in a name query response (RFC 1002 §4.2.13, §4.2.16).
const (
	// AddrEntryLen is the size of one ADDR_ENTRY: NB_FLAGS and NB_ADDRESS.
	AddrEntryLen = 6

	// MaxAddrEntries is the most entries RDLENGTH, a 16-bit count of
	// bytes, has room for.
	MaxAddrEntries = 0xFFFF / AddrEntryLen

	// wackDataLen is RDLENGTH of a WACK: the request's flag word.
	wackDataLen = 2
)

// NameQueryRequest is a NAME QUERY REQUEST (RFC 1002 §4.2.12): a query of
// type NB for one name, which asks for the addresses of its owners.
//
// A query to a WINS server (an NBNS) sets RecursionDesired; a broadcast
// query sets Broadcast and RecursionDesired (flags 0x0110), as Windows,
// Samba and every other sender do; a unicast query to a host that answers
// only for its own names sets neither, or RecursionDesired.
//
// The codec is one-to-one: what UnmarshalBinary decodes, AppendBinary
// writes back. The other header flags of a request are ignored when
// decoding and written as zero.
type NameQueryRequest struct {
	ID               uint16 // NAME_TRN_ID
	Name             Name   // QUESTION_NAME
	Scope            string // scope identifier, dotted; empty for none
	Broadcast        bool   // B: sent by broadcast
	RecursionDesired bool   // RD: ask an NBNS to answer for names of other hosts
}

// AppendBinary appends the request to b. Without scope it is 50 bytes.
func (q *NameQueryRequest) AppendBinary(b []byte) ([]byte, error) {
	h := Header{ID: q.ID, Broadcast: q.Broadcast, RecursionDesired: q.RecursionDesired, QDCount: 1}
	return appendQuestion(b, h, q.Name, q.Scope, TypeNB)
}

// MarshalBinary returns the request's wire form.
func (q *NameQueryRequest) MarshalBinary() ([]byte, error) {
	return q.AppendBinary(make([]byte, 0, 64))
}

// UnmarshalBinary decodes a name query request. It must be a query
// (R = 0, OPCODE 0) with one question of type NB and class IN; the other
// counts and any bytes after the question are ignored.
func (q *NameQueryRequest) UnmarshalBinary(msg []byte) error {
	var sb scopeBuf
	h, n, err := parseQuestion(msg, TypeNB, errTypeNB, &sb)
	if err != nil {
		return err
	}
	*q = NameQueryRequest{
		ID: h.ID, Name: n, Scope: sb.string(q.Scope),
		Broadcast: h.Broadcast, RecursionDesired: h.RecursionDesired,
	}
	return nil
}

// A ResponseKind tells which of the four answers to a name query a
// [NameQueryResponse] is.
type ResponseKind uint8

// Kinds of name query responses.
const (
	// PositiveResponse is a POSITIVE NAME QUERY RESPONSE (RFC 1002
	// §4.2.13): the owners of the name, one ADDR_ENTRY each. It is the
	// zero ResponseKind.
	PositiveResponse ResponseKind = iota

	// NegativeResponse is a NEGATIVE NAME QUERY RESPONSE (§4.2.14): the
	// name is not known, or the query failed, as RCODE says.
	NegativeResponse

	// RedirectResponse is a REDIRECT NAME QUERY RESPONSE (§4.2.15): ask
	// another NBNS, at NSD_IP_ADDR.
	RedirectResponse

	// WACKResponse is a WAIT FOR ACKNOWLEDGEMENT RESPONSE (§4.2.16): the
	// NBNS is working on it, and asks for TTL more seconds.
	WACKResponse
)

var responseKindNames = [...]string{
	PositiveResponse: "positive",
	NegativeResponse: "negative",
	RedirectResponse: "redirect",
	WACKResponse:     "WACK",
}

var responseKindGo = [...]string{
	PositiveResponse: "nbns.PositiveResponse",
	NegativeResponse: "nbns.NegativeResponse",
	RedirectResponse: "nbns.RedirectResponse",
	WACKResponse:     "nbns.WACKResponse",
}

// String returns "positive", "negative", "redirect" or "WACK", and
// "ResponseKind(N)" for any other value.
func (k ResponseKind) String() string {
	if int(k) < len(responseKindNames) {
		return responseKindNames[k]
	}
	return "ResponseKind(" + strconv.Itoa(int(k)) + ")"
}

// GoString returns k as Go syntax.
func (k ResponseKind) GoString() string {
	if int(k) < len(responseKindGo) {
		return responseKindGo[k]
	}
	return "nbns.ResponseKind(" + strconv.Itoa(int(k)) + ")"
}

// NBFlags is the NB_FLAGS field of an address entry (RFC 1002 §4.2.1.3):
// whether the name is a group, and the owner's node type. The 13
// reserved bits are kept as they came and never cause an error.
type NBFlags uint16

// Bits of NB_FLAGS.
const (
	NBFlagGroup         NBFlags = 0x8000 // G: group name
	NBMaskOwnerNodeType NBFlags = 0x6000 // ONT: 0 B, 1 P, 2 M, 3 H (Windows)
	NBMaskReserved      NBFlags = 0x1FFF // reserved, zero by the RFC
)

// NewNBFlags returns the flags of an entry for a group or unique name
// whose owner is a node of type ont.
func NewNBFlags(group bool, ont NodeType) NBFlags {
	f := NBFlags(ont&3) << 13
	if group {
		f |= NBFlagGroup
	}
	return f
}

// Group reports whether the G bit is set.
func (f NBFlags) Group() bool { return f&NBFlagGroup != 0 }

// OwnerNodeType returns the ONT field. Windows sets 3 for an H node, which
// the RFC calls reserved.
func (f NBFlags) OwnerNodeType() NodeType { return NodeType(f & NBMaskOwnerNodeType >> 13) }

// String describes the flags as nmblookup prints them: "B" for a unique
// name of a B node, "<GROUP> H" for a group name of an H node, then any
// reserved bits in hex.
func (f NBFlags) String() string {
	b := make([]byte, 0, 32)
	if f.Group() {
		b = append(b, "<GROUP> "...)
	}
	b = append(b, f.OwnerNodeType().String()...)
	if r := f & NBMaskReserved; r != 0 {
		b = append(b, " reserved=0x"...)
		b = strconv.AppendUint(b, uint64(r), 16)
	}
	return string(b)
}

// AddrEntry is one ADDR_ENTRY of a positive name query response (RFC 1002
// §4.2.13): an owner of the name, with its IPv4 address.
type AddrEntry struct {
	Flags NBFlags    // NB_FLAGS
	Addr  netip.Addr // NB_ADDRESS, an IPv4 address
}

// IsHost reports whether e names a host that can be reached: its address
// is neither 0.0.0.0 nor 255.255.255.255. A WINS server answers a query
// for a normal group name (any but <1C>) with 255.255.255.255, meaning
// "broadcast for it" (MS-NBTE note 11; nmbd does the same), and nmbd's WINS
// server answers some group names with 0.0.0.0, which Samba's own client
// skips. Such entries are kept in the response, not dropped, so that a
// caller sees what the server said.
func (e AddrEntry) IsHost() bool {
	return e.Addr.Is4() && !e.Addr.IsUnspecified() && e.Addr != limitedBroadcast
}

var limitedBroadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// NameQueryResponse is an answer to a name query: a POSITIVE, NEGATIVE or
// REDIRECT NAME QUERY RESPONSE or a WAIT FOR ACKNOWLEDGEMENT RESPONSE
// (RFC 1002 §4.2.13 to §4.2.16), as Kind says. The fields that do not
// belong to Kind are zero.
//
// Decoding into a reused value does not allocate when the value's Entries
// has room for the reply's entries; see [NameQueryResponse.UnmarshalBinary].
type NameQueryResponse struct {
	// Header is the packet header as it came. The encoder writes R, the
	// OPCODE and the counts of Kind's packet, and B clear; the other
	// flags and RCODE as they are here.
	Header Header

	// Kind is the kind of response, told by OPCODE, RCODE and the
	// counts: OPCODE 7 is a WACK, a non-zero RCODE a negative response,
	// no answer record but an authority record a redirect, and anything
	// else a positive response.
	Kind ResponseKind

	// Name and Scope are RR_NAME of the answer record: the name the query
	// asked for. Zero in a redirect, which carries domain names instead.
	Name  Name
	Scope string

	// TTL is the answer record's TTL, in seconds: how long a positive
	// answer may be kept (RFC 1002 §4.2.13), how much longer to wait for
	// the answer after a WACK (§4.2.16; zero means unknown), zero as a
	// negative response sends it, and the TTL of both records of a
	// redirect.
	TTL uint32

	// Entries are the ADDR_ENTRY array of a positive response, in the
	// order sent. A group name may have many; the list may be incomplete
	// when the response has the TC flag (§4.2.13).
	Entries []AddrEntry

	// WACKFlags is the RDATA of a WACK: the OPCODE and NM_FLAGS of the
	// request it answers, in the place they have in a header's flag word.
	WACKFlags uint16

	// Redirect is what a REDIRECT NAME QUERY RESPONSE says.
	Redirect Redirect
}

// Redirect is the content of a REDIRECT NAME QUERY RESPONSE (RFC 1002
// §4.2.15): the NBNS to ask instead. Its names are domain names, dotted,
// with no NetBIOS encoding: the RFC leaves them free. Labels are 1 to 63
// bytes without a dot, and the empty string is the root.
type Redirect struct {
	// Domain is RR_NAME of the authority (NS) record: the domain the
	// other NBNS has authority over.
	Domain string

	// Server is NSD_NAME, the other NBNS's name, which is also RR_NAME of
	// the additional (A) record.
	Server string

	// Addr is NSD_IP_ADDR, the other NBNS's IPv4 address. The query is to
	// be sent there again, to UDP port 137.
	Addr netip.Addr
}

// AppendBinary appends the response to b. The header is r.Header with R
// set, B clear, and the OPCODE and counts of r.Kind's packet: OPCODE 0 and
// one answer record for a positive or negative response, OPCODE 7 and one
// answer record for a WACK, OPCODE 0 with one authority and one additional
// record for a redirect; QDCOUNT is zero. A negative response and a WACK
// have RR_TYPE NULL, as RFC 1002 §4.2.14 and nmbd give them; names are
// written without compression.
//
// It fails when r cannot be sent as its Kind or would not decode back to
// r: a positive response or redirect with a non-zero RCODE, a negative one
// with RCODE 0, more than [MaxAddrEntries] entries or an entry whose Addr
// is not IPv4, or an invalid name or address in a redirect.
func (r *NameQueryResponse) AppendBinary(b []byte) ([]byte, error) {
	start := len(b)
	h := r.Header
	h.Response, h.Broadcast, h.OpCode = true, false, OpQuery
	h.QDCount, h.ANCount, h.NSCount, h.ARCount = 0, 1, 0, 0
	switch r.Kind {
	case PositiveResponse:
		if h.RCode != RCodeSuccess {
			return b, errPositiveRCode
		}
		if len(r.Entries) > MaxAddrEntries {
			return b, errTooManyEntries
		}
	case NegativeResponse:
		if h.RCode == RCodeSuccess {
			return b, errNegativeRCode
		}
	case WACKResponse:
		h.OpCode = OpWACK
	case RedirectResponse:
		if h.RCode != RCodeSuccess {
			return b, errPositiveRCode
		}
		h.ANCount, h.NSCount, h.ARCount = 0, 1, 1
		return r.appendRedirect(b, h)
	default:
		return b, errResponseKind
	}
	b, err := h.AppendBinary(b)
	if err != nil {
		return b, err
	}
	if b, err = r.Name.AppendEncoded(b, r.Scope); err != nil {
		return b[:start], err
	}
	typ := uint16(TypeNULL)
	if r.Kind == PositiveResponse {
		typ = TypeNB
	}
	b = binary.BigEndian.AppendUint16(b, typ)
	b = binary.BigEndian.AppendUint16(b, ClassIN)
	b = binary.BigEndian.AppendUint32(b, r.TTL)
	switch r.Kind {
	case PositiveResponse:
		b = binary.BigEndian.AppendUint16(b, uint16(AddrEntryLen*len(r.Entries)))
		for _, e := range r.Entries {
			if !e.Addr.Is4() {
				return b[:start], errEntryAddr
			}
			a := e.Addr.As4()
			b = binary.BigEndian.AppendUint16(b, uint16(e.Flags))
			b = append(b, a[:]...)
		}
	case NegativeResponse:
		b = binary.BigEndian.AppendUint16(b, 0)
	case WACKResponse:
		b = binary.BigEndian.AppendUint16(b, wackDataLen)
		b = binary.BigEndian.AppendUint16(b, r.WACKFlags)
	}
	return b, nil
}

// appendRedirect appends the header h and the two records of a redirect.
func (r *NameQueryResponse) appendRedirect(b []byte, h Header) ([]byte, error) {
	start := len(b)
	rd := &r.Redirect
	serverLen, err := domainLen(rd.Server)
	if err != nil {
		return b, err
	}
	if _, err := domainLen(rd.Domain); err != nil {
		return b, err
	}
	if !rd.Addr.Is4() {
		return b, errRedirectAddr
	}
	if b, err = h.AppendBinary(b); err != nil {
		return b[:start], err
	}
	b = appendDomain(b, rd.Domain)
	b = binary.BigEndian.AppendUint16(b, TypeNS)
	b = binary.BigEndian.AppendUint16(b, ClassIN)
	b = binary.BigEndian.AppendUint32(b, r.TTL)
	b = binary.BigEndian.AppendUint16(b, uint16(serverLen))
	b = appendDomain(b, rd.Server)
	b = appendDomain(b, rd.Server)
	b = binary.BigEndian.AppendUint16(b, TypeA)
	b = binary.BigEndian.AppendUint16(b, ClassIN)
	b = binary.BigEndian.AppendUint32(b, r.TTL)
	b = binary.BigEndian.AppendUint16(b, 4)
	a := rd.Addr.As4()
	return append(b, a[:]...), nil
}

// MarshalBinary returns the response's wire form.
func (r *NameQueryResponse) MarshalBinary() ([]byte, error) {
	return r.AppendBinary(make([]byte, 0, HeaderLen+MaxEncodedLen+10+AddrEntryLen*len(r.Entries)))
}

// UnmarshalBinary decodes a name query response from msg, which is not
// retained. Entries is reused, so decoding into the same value again does
// not allocate once Entries has grown to the reply's size.
//
// The header must say response (R = 1), with B clear (a response is never
// broadcast) and OPCODE 0 or 7 (WACK); Kind is then told as its doc says.
// Any questions are skipped and names may use compression pointers. Every
// length is checked against the datagram before it is used:
//
//   - a positive response's record must be of type NB and class IN, and
//     its RDLENGTH a multiple of 6 that fits in the datagram;
//   - a negative response's record, type NULL (or NB) and class IN, is
//     read by its length whatever ANCOUNT says: the diagram of RFC 1002
//     §4.2.14 shows ANCOUNT 0 with a record after it, and RCODE is the
//     verdict; its RDATA, empty in practice, is skipped;
//   - a WACK's record must be of type NULL or NB (the RFC's diagram says
//     "NULL (0x0020)"), class IN, with a 2-byte RDATA;
//   - a redirect must have NSCOUNT 1 and an additional record: an NS
//     record whose RDATA is exactly NSD_NAME, then an A record of 4 bytes.
//
// Bytes after the records read are ignored.
func (r *NameQueryResponse) UnmarshalBinary(msg []byte) error {
	var h Header
	if err := h.UnmarshalBinary(msg); err != nil {
		return err
	}
	kind := PositiveResponse
	switch {
	case !h.Response:
		return parseErr("HEADER", 0, errNotResponse)
	case h.Broadcast:
		return parseErr("NM_FLAGS", 2, errBroadcastResponse)
	case h.OpCode == OpWACK:
		kind = WACKResponse
	case h.OpCode != OpQuery:
		return parseErr("OPCODE", 2, errOpCode)
	case h.RCode != RCodeSuccess:
		kind = NegativeResponse
	case h.ANCount == 0 && h.NSCount > 0:
		kind = RedirectResponse
	case h.ANCount == 0:
		return parseErr("ANCOUNT", 6, errNoAnswer)
	}
	var sb scopeBuf
	off, err := skipQuestions(msg, h.QDCount, &sb)
	if err != nil {
		return err
	}
	if kind == RedirectResponse {
		return r.unmarshalRedirect(msg, off, h)
	}

	name, next, err := decodeName(msg, off, true, &sb)
	if err != nil {
		return parseErr("RR_NAME", off, err)
	}
	off = next
	if len(msg)-off < 4 {
		return parseErr("RR_TYPE", off, errShort)
	}
	switch typ := binary.BigEndian.Uint16(msg[off:]); {
	case kind == PositiveResponse && typ != TypeNB:
		return parseErr("RR_TYPE", off, errTypeNB)
	case kind != PositiveResponse && typ != TypeNULL && typ != TypeNB:
		return parseErr("RR_TYPE", off, errTypeNULL)
	}
	if binary.BigEndian.Uint16(msg[off+2:]) != ClassIN {
		return parseErr("RR_CLASS", off+2, errClass)
	}
	if len(msg)-off < 10 {
		return parseErr("RDLENGTH", off, errShort)
	}
	ttl := binary.BigEndian.Uint32(msg[off+4:])
	rdlen := int(binary.BigEndian.Uint16(msg[off+8:]))
	off += 10
	if rdlen > len(msg)-off {
		return parseErr("RDATA", off, errShort)
	}
	rdata := msg[off : off+rdlen]

	entries := r.Entries[:0]
	var wack uint16
	switch kind {
	case PositiveResponse:
		if rdlen%AddrEntryLen != 0 {
			return parseErr("RDLENGTH", off-2, errAddrEntryLen)
		}
		n := rdlen / AddrEntryLen // at most len(msg)/6: checked above
		if cap(entries) < n {
			entries = make([]AddrEntry, 0, n)
		}
		for i := 0; i < rdlen; i += AddrEntryLen {
			e := rdata[i : i+AddrEntryLen]
			entries = append(entries, AddrEntry{
				Flags: NBFlags(binary.BigEndian.Uint16(e)),
				Addr:  netip.AddrFrom4([4]byte(e[2:6])),
			})
		}
	case WACKResponse:
		if rdlen != wackDataLen {
			return parseErr("RDLENGTH", off-2, errWACKLen)
		}
		wack = binary.BigEndian.Uint16(rdata)
	}
	*r = NameQueryResponse{
		Header:    h,
		Kind:      kind,
		Name:      name,
		Scope:     sb.string(r.Scope),
		TTL:       ttl,
		Entries:   entries,
		WACKFlags: wack,
	}
	return nil
}

// unmarshalRedirect decodes the records of a redirect from msg[off:].
func (r *NameQueryResponse) unmarshalRedirect(msg []byte, off int, h Header) error {
	switch {
	case h.NSCount != 1:
		return parseErr("NSCOUNT", 8, errNSCount)
	case h.ARCount == 0:
		return parseErr("ARCOUNT", 10, errNoAdditional)
	}
	var domain, server scopeBuf
	next, err := decodeDomain(msg, off, &domain)
	if err != nil {
		return parseErr("RR_NAME", off, err)
	}
	off = next
	if err := checkTypeClass(msg, off, "RR", TypeNS, errTypeNS); err != nil {
		return err
	}
	if len(msg)-off < 10 {
		return parseErr("RDLENGTH", off, errShort)
	}
	ttl := binary.BigEndian.Uint32(msg[off+4:])
	rdlen := int(binary.BigEndian.Uint16(msg[off+8:]))
	off += 10
	if rdlen > len(msg)-off {
		return parseErr("RDATA", off, errShort)
	}
	next, err = decodeDomain(msg, off, &server)
	switch {
	case err != nil:
		return parseErr("NSD_NAME", off, err)
	case next != off+rdlen:
		return parseErr("RDLENGTH", off-2, errNSDNameLen)
	}
	off = next
	var ignored scopeBuf // RR_NAME of the A record: NSD_NAME again
	if next, err = decodeDomain(msg, off, &ignored); err != nil {
		return parseErr("RR_NAME", off, err)
	}
	off = next
	if err := checkTypeClass(msg, off, "RR", TypeA, errTypeA); err != nil {
		return err
	}
	if len(msg)-off < 10 {
		return parseErr("RDLENGTH", off, errShort)
	}
	if binary.BigEndian.Uint16(msg[off+8:]) != 4 {
		return parseErr("RDLENGTH", off+8, errALen)
	}
	off += 10
	if len(msg)-off < 4 {
		return parseErr("NSD_IP_ADDR", off, errShort)
	}
	*r = NameQueryResponse{
		Header:  h,
		Kind:    RedirectResponse,
		TTL:     ttl,
		Entries: r.Entries[:0],
		Redirect: Redirect{
			Domain: domain.string(r.Redirect.Domain),
			Server: server.string(r.Redirect.Server),
			Addr:   netip.AddrFrom4([4]byte(msg[off : off+4])),
		},
	}
	return nil
}

// domainLen returns the length of the encoding of the dotted domain name
// s, or an error if s is not one: labels of 1 to 63 bytes, 255 bytes in
// all. The empty string is the root, one zero byte.
func domainLen(s string) (int, error) {
	if s == "" {
		return 1, nil
	}
	l, label := 1, 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			if label == 0 || label > MaxLabelLen {
				return 0, errDomainLabel
			}
			l += 1 + label
			label = 0
			continue
		}
		label++
	}
	if l > MaxEncodedLen {
		return 0, errDomainTooLong
	}
	return l, nil
}

// appendDomain appends the encoding of s, which domainLen has accepted.
func appendDomain(b []byte, s string) []byte {
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != '.' {
			i++
		}
		b = append(b, byte(i))
		b = append(b, s[:i]...)
		if i < len(s) {
			i++ // the dot
		}
		s = s[i:]
	}
	return append(b, 0)
}

// decodeDomain decodes the domain name at msg[off:] into buf as dotted
// text, following compression pointers as decodeName does: only
// backwards, at most maxPointerHops times. Labels must be 1 to 63 bytes
// without a dot, and the name at most 255 bytes. It returns the offset
// just after the name as it stands at off.
func decodeDomain(msg []byte, off int, buf *scopeBuf) (int, error) {
	buf.n = 0
	pos := off
	next := -1
	hops := 0
	total := 0
	for {
		if pos >= len(msg) {
			return 0, errShort
		}
		c := msg[pos]
		switch c & 0xC0 {
		case 0xC0:
			if pos+1 >= len(msg) {
				return 0, errShort
			}
			ptr := int(c&0x3F)<<8 | int(msg[pos+1])
			if ptr >= pos {
				return 0, errPointerForward
			}
			if hops++; hops > maxPointerHops {
				return 0, errPointerHops
			}
			if next < 0 {
				next = pos + 2
			}
			pos = ptr
			continue
		case 0x40, 0x80:
			return 0, errReservedLabel
		}
		l := int(c)
		pos++
		if l == 0 {
			if next < 0 {
				next = pos
			}
			return next, nil
		}
		if pos+l > len(msg) {
			return 0, errShort
		}
		if total += 1 + l; total+1 > MaxEncodedLen {
			return 0, errEncodedTooLong
		}
		if buf.n > 0 {
			buf.b[buf.n] = '.'
			buf.n++
		}
		for _, c := range msg[pos : pos+l] {
			if c == '.' {
				return 0, errDotInLabel
			}
		}
		buf.n += copy(buf.b[buf.n:], msg[pos:pos+l])
		pos += l
	}
}
