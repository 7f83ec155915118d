package nbns

import (
	"encoding/binary"
	"strconv"
)

// Record types and class of the node status exchange (RFC 1002 §4.2.17,
// §4.2.18).
const (
	TypeNBSTAT = 0x0021 // QUESTION_TYPE and RR_TYPE of node status
	ClassIN    = 0x0001 // QUESTION_CLASS and RR_CLASS
)

// Sizes in a node status response (RFC 1002 §4.2.18).
const (
	// NodeNameLen is the size of one NODE_NAME entry: 16 raw name bytes
	// and NAME_FLAGS.
	NodeNameLen = NameLen + 2

	// StatisticsLen is the size of the STATISTICS block.
	StatisticsLen = 46

	// MaxNames is the largest NUM_NAMES, a one-byte count.
	MaxNames = 255
)

// NodeStatusRequest is a NODE STATUS REQUEST (RFC 1002 §4.2.17): a query
// of type NBSTAT for one name. A host answers only if the name is in its
// local name table (RFC 1002 §5.1.1.5), and every host has the wildcard.
//
// The codec is one-to-one: Name goes on the wire as it is, and what
// UnmarshalBinary decodes AppendBinary writes back. To ask for a host's
// whole name table, set Name to [Wildcard]; the zero Name is 16 NUL bytes,
// which no host registers.
type NodeStatusRequest struct {
	ID        uint16 // NAME_TRN_ID
	Name      Name   // QUESTION_NAME, usually [Wildcard]
	Scope     string // scope identifier, dotted; empty for none
	Broadcast bool   // B flag; false for a unicast query to one host
}

// AppendBinary appends the request to b. Without scope it is 50 bytes.
func (q *NodeStatusRequest) AppendBinary(b []byte) ([]byte, error) {
	return appendQuestion(b, Header{ID: q.ID, Broadcast: q.Broadcast, QDCount: 1}, q.Name, q.Scope, TypeNBSTAT)
}

// MarshalBinary returns the request's wire form.
func (q *NodeStatusRequest) MarshalBinary() ([]byte, error) {
	return q.AppendBinary(make([]byte, 0, 64))
}

// UnmarshalBinary decodes a node status request. It must be a query
// (R = 0, OPCODE 0) with one question of type NBSTAT and class IN; the
// other counts and any bytes after the question are ignored.
func (q *NodeStatusRequest) UnmarshalBinary(msg []byte) error {
	var sb scopeBuf
	h, n, err := parseQuestion(msg, TypeNBSTAT, errType, &sb)
	if err != nil {
		return err
	}
	*q = NodeStatusRequest{ID: h.ID, Name: n, Scope: sb.string(q.Scope), Broadcast: h.Broadcast}
	return nil
}

// skipQuestions skips the n questions a response echoes after its
// header, checking that each is whole, and returns the offset after them.
func skipQuestions(msg []byte, n uint16, sb *scopeBuf) (int, error) {
	off := HeaderLen
	for range n {
		_, next, err := decodeName(msg, off, true, sb)
		if err != nil {
			return 0, parseErr("QUESTION_NAME", off, err)
		}
		if len(msg)-next < 4 {
			return 0, parseErr("QUESTION_TYPE", next, errShort)
		}
		off = next + 4
	}
	return off, nil
}

// appendQuestion appends a request of one question, name and scope of
// type qtype and class IN, with header h, to b.
func appendQuestion(b []byte, h Header, name Name, scope string, qtype uint16) ([]byte, error) {
	b, _ = h.AppendBinary(b)
	b, err := name.AppendEncoded(b, scope)
	if err != nil {
		return b[:len(b)-HeaderLen], err
	}
	b = binary.BigEndian.AppendUint16(b, qtype)
	return binary.BigEndian.AppendUint16(b, ClassIN), nil
}

// parseQuestion decodes the header and the one question of type qtype
// and class IN of a request, its scope into sb, and fails with errWrong
// for another type.
func parseQuestion(msg []byte, qtype uint16, errWrong error, sb *scopeBuf) (Header, Name, error) {
	var h Header
	if err := h.UnmarshalBinary(msg); err != nil {
		return h, Name{}, err
	}
	switch {
	case h.Response:
		return h, Name{}, parseErr("HEADER", 0, errNotRequest)
	case h.OpCode != OpQuery:
		return h, Name{}, parseErr("OPCODE", 2, errOpCode)
	case h.QDCount != 1:
		return h, Name{}, parseErr("QDCOUNT", 4, errQDCount)
	}
	n, off, err := decodeName(msg, HeaderLen, true, sb)
	if err != nil {
		return h, Name{}, parseErr("QUESTION_NAME", HeaderLen, err)
	}
	if err := checkTypeClass(msg, off, "QUESTION", qtype, errWrong); err != nil {
		return h, Name{}, err
	}
	return h, n, nil
}

// checkTypeClass checks that msg[off:] holds the type typ and the class
// IN, and fails with errWrong for another type.
func checkTypeClass(msg []byte, off int, field string, typ uint16, errWrong error) error {
	if len(msg)-off < 4 {
		return parseErr(field+"_TYPE", off, errShort)
	}
	if binary.BigEndian.Uint16(msg[off:]) != typ {
		return parseErr(field+"_TYPE", off, errWrong)
	}
	if binary.BigEndian.Uint16(msg[off+2:]) != ClassIN {
		return parseErr(field+"_CLASS", off+2, errClass)
	}
	return nil
}

// NodeStatusResponse is a NODE STATUS RESPONSE (RFC 1002 §4.2.18): the
// responder's name table and its statistics.
//
// Decoding into a reused value does not allocate when the value's Names
// has room for the reply's names; see [NodeStatusResponse.UnmarshalBinary].
type NodeStatusResponse struct {
	Header Header
	Name   Name   // RR_NAME, usually the question name echoed
	Scope  string // scope identifier of RR_NAME
	TTL    uint32 // TTL, zero in practice

	// Names is the name table, in the order the responder sent it.
	Names []NodeName

	// Statistics is the STATISTICS block. Its first six bytes, UNIT_ID,
	// are the responder's MAC address.
	Statistics Statistics

	// MissingStatistics is how many bytes of the 46-byte STATISTICS block
	// were absent from a short reply, whose missing fields read as zero.
	// Zero for a complete reply. See [NodeStatusResponse.MAC].
	MissingStatistics int
}

// NodeName is one entry of a node status name table.
type NodeName struct {
	Name  Name      // 16 raw bytes, not encoded (RFC 1001 §14)
	Flags NameFlags // NAME_FLAGS
}

// IsServer reports whether e is the kind of entry a file server registers
// for its Server service: a unique, active name with suffix <20>.
func (e NodeName) IsServer() bool {
	return e.Name.Suffix() == FileServer && !e.Flags.Group() && e.Flags.Active()
}

// NameFlags is the NAME_FLAGS field of a node status entry (RFC 1002
// §4.2.18). Reserved bits are kept as they came and never cause an error.
type NameFlags uint16

// Bits of NAME_FLAGS.
const (
	FlagGroup         NameFlags = 0x8000 // G: group name
	FlagDeregistering NameFlags = 0x1000 // DRG: being deregistered
	FlagConflict      NameFlags = 0x0800 // CNF: in conflict
	FlagActive        NameFlags = 0x0400 // ACT: active; set on every entry
	FlagPermanent     NameFlags = 0x0200 // PRM: the permanent node name
	MaskOwnerNodeType NameFlags = 0x6000 // ONT
	MaskReserved      NameFlags = 0x01FF // reserved, zero by the RFC
)

// Group reports whether the G bit is set.
func (f NameFlags) Group() bool { return f&FlagGroup != 0 }

// OwnerNodeType returns the ONT field.
func (f NameFlags) OwnerNodeType() NodeType { return NodeType(f & MaskOwnerNodeType >> 13) }

// Deregistering reports whether the DRG bit is set.
func (f NameFlags) Deregistering() bool { return f&FlagDeregistering != 0 }

// Conflict reports whether the CNF bit is set.
func (f NameFlags) Conflict() bool { return f&FlagConflict != 0 }

// Active reports whether the ACT bit is set.
func (f NameFlags) Active() bool { return f&FlagActive != 0 }

// Permanent reports whether the PRM bit is set.
func (f NameFlags) Permanent() bool { return f&FlagPermanent != 0 }

// String describes the flags the way nmblookup -A does: "B <ACTIVE>" for a
// unique name, "<GROUP> B <ACTIVE>" for a group, then <DEREGISTERING>,
// <CONFLICT> and <PERMANENT> when set, and any reserved bits in hex.
func (f NameFlags) String() string {
	b := make([]byte, 0, 48)
	if f.Group() {
		b = append(b, "<GROUP> "...)
	}
	b = append(b, f.OwnerNodeType().String()...)
	for _, x := range [...]struct {
		set  bool
		text string
	}{
		{f.Active(), " <ACTIVE>"},
		{f.Deregistering(), " <DEREGISTERING>"},
		{f.Conflict(), " <CONFLICT>"},
		{f.Permanent(), " <PERMANENT>"},
	} {
		if x.set {
			b = append(b, x.text...)
		}
	}
	if r := f & MaskReserved; r != 0 {
		b = append(b, " reserved=0x"...)
		b = strconv.AppendUint(b, uint64(r), 16)
	}
	return string(b)
}

// NodeType is the owner node type (ONT) of a name: how the owner resolves
// names (RFC 1001 §10).
type NodeType uint8

// Owner node types. RFC 1002 §4.2.18 calls the value 3 reserved; Windows
// uses it for H (hybrid) nodes, as in NB_FLAGS (MS-NBTE §2.2.1).
const (
	BNode NodeType = 0 // broadcast node
	PNode NodeType = 1 // point-to-point node
	MNode NodeType = 2 // mixed node
	HNode NodeType = 3 // hybrid node
)

// String returns "B", "P", "M" or "H".
func (t NodeType) String() string {
	if t > HNode {
		return "NodeType(" + strconv.Itoa(int(t)) + ")"
	}
	return "BPMH"[t : t+1]
}

// Statistics is the 46-byte STATISTICS block of a node status response
// (RFC 1002 §4.2.18), field by field.
type Statistics struct {
	UnitID                [6]byte // UNIT_ID: the MAC address; all zero from Samba
	Jumpers               uint8   // JUMPERS
	TestResult            uint8   // TEST_RESULT
	VersionNumber         uint16  // VERSION_NUMBER
	PeriodOfStatistics    uint16  // PERIOD_OF_STATISTICS
	CRCs                  uint16  // NUMBER_OF_CRCs
	AlignmentErrors       uint16  // NUMBER_ALIGNMENT_ERRORS
	Collisions            uint16  // NUMBER_OF_COLLISIONS
	SendAborts            uint16  // NUMBER_SEND_ABORTS
	GoodSends             uint32  // NUMBER_GOOD_SENDS
	GoodReceives          uint32  // NUMBER_GOOD_RECEIVES
	Retransmits           uint16  // NUMBER_RETRANSMITS
	NoResourceConditions  uint16  // NUMBER_NO_RESOURCE_CONDITIONS
	FreeCommandBlocks     uint16  // NUMBER_FREE_COMMAND_BLOCKS
	TotalCommandBlocks    uint16  // TOTAL_NUMBER_COMMAND_BLOCKS
	MaxTotalCommandBlocks uint16  // MAX_TOTAL_NUMBER_COMMAND_BLOCKS
	PendingSessions       uint16  // NUMBER_PENDING_SESSIONS
	MaxPendingSessions    uint16  // MAX_NUMBER_PENDING_SESSIONS
	MaxTotalSessions      uint16  // MAX_TOTAL_SESSIONS_POSSIBLE
	SessionDataPacketSize uint16  // SESSION_DATA_PACKET_SIZE
}

func (s *Statistics) marshal(b *[StatisticsLen]byte) {
	be := binary.BigEndian
	copy(b[0:6], s.UnitID[:])
	b[6] = s.Jumpers
	b[7] = s.TestResult
	be.PutUint16(b[8:], s.VersionNumber)
	be.PutUint16(b[10:], s.PeriodOfStatistics)
	be.PutUint16(b[12:], s.CRCs)
	be.PutUint16(b[14:], s.AlignmentErrors)
	be.PutUint16(b[16:], s.Collisions)
	be.PutUint16(b[18:], s.SendAborts)
	be.PutUint32(b[20:], s.GoodSends)
	be.PutUint32(b[24:], s.GoodReceives)
	be.PutUint16(b[28:], s.Retransmits)
	be.PutUint16(b[30:], s.NoResourceConditions)
	be.PutUint16(b[32:], s.FreeCommandBlocks)
	be.PutUint16(b[34:], s.TotalCommandBlocks)
	be.PutUint16(b[36:], s.MaxTotalCommandBlocks)
	be.PutUint16(b[38:], s.PendingSessions)
	be.PutUint16(b[40:], s.MaxPendingSessions)
	be.PutUint16(b[42:], s.MaxTotalSessions)
	be.PutUint16(b[44:], s.SessionDataPacketSize)
}

func (s *Statistics) unmarshal(b *[StatisticsLen]byte) {
	be := binary.BigEndian
	*s = Statistics{
		Jumpers:               b[6],
		TestResult:            b[7],
		VersionNumber:         be.Uint16(b[8:]),
		PeriodOfStatistics:    be.Uint16(b[10:]),
		CRCs:                  be.Uint16(b[12:]),
		AlignmentErrors:       be.Uint16(b[14:]),
		Collisions:            be.Uint16(b[16:]),
		SendAborts:            be.Uint16(b[18:]),
		GoodSends:             be.Uint32(b[20:]),
		GoodReceives:          be.Uint32(b[24:]),
		Retransmits:           be.Uint16(b[28:]),
		NoResourceConditions:  be.Uint16(b[30:]),
		FreeCommandBlocks:     be.Uint16(b[32:]),
		TotalCommandBlocks:    be.Uint16(b[34:]),
		MaxTotalCommandBlocks: be.Uint16(b[36:]),
		PendingSessions:       be.Uint16(b[38:]),
		MaxPendingSessions:    be.Uint16(b[40:]),
		MaxTotalSessions:      be.Uint16(b[42:]),
		SessionDataPacketSize: be.Uint16(b[44:]),
	}
	copy(s.UnitID[:], b[0:6])
}

// MAC returns the responder's MAC address, UNIT_ID, and whether it is
// known: it is not when the reply was too short to hold it, or when it is
// all zero, as Samba's nmbd always sends.
func (r *NodeStatusResponse) MAC() ([6]byte, bool) {
	mac := r.Statistics.UnitID
	return mac, r.MissingStatistics <= StatisticsLen-6 && mac != [6]byte{}
}

// AppendBinary appends the response to b. The header is written from
// r.Header with R set, OPCODE 0 and the counts a node status response has
// (QDCOUNT 0, ANCOUNT 1, NSCOUNT 0, ARCOUNT 0); RR_NAME is written without
// compression; RDLENGTH is computed; the last MissingStatistics bytes of the
// statistics block are left out.
func (r *NodeStatusResponse) AppendBinary(b []byte) ([]byte, error) {
	if len(r.Names) > MaxNames {
		return b, errTooManyNames
	}
	if r.MissingStatistics < 0 || r.MissingStatistics > StatisticsLen {
		return b, errStatsMissing
	}
	start := len(b)
	h := r.Header
	h.Response, h.OpCode = true, OpQuery
	h.QDCount, h.ANCount, h.NSCount, h.ARCount = 0, 1, 0, 0
	b, err := h.AppendBinary(b)
	if err != nil {
		return b, err
	}
	if b, err = r.Name.AppendEncoded(b, r.Scope); err != nil {
		return b[:start], err
	}
	b = binary.BigEndian.AppendUint16(b, TypeNBSTAT)
	b = binary.BigEndian.AppendUint16(b, ClassIN)
	b = binary.BigEndian.AppendUint32(b, r.TTL)
	stats := StatisticsLen - r.MissingStatistics
	b = binary.BigEndian.AppendUint16(b, uint16(1+NodeNameLen*len(r.Names)+stats))
	b = append(b, byte(len(r.Names)))
	for _, e := range r.Names {
		b = append(b, e.Name.b[:]...)
		b = binary.BigEndian.AppendUint16(b, uint16(e.Flags))
	}
	var sb [StatisticsLen]byte
	r.Statistics.marshal(&sb)
	return append(b, sb[:stats]...), nil
}

// MarshalBinary returns the response's wire form.
func (r *NodeStatusResponse) MarshalBinary() ([]byte, error) {
	return r.AppendBinary(make([]byte, 0, HeaderLen+MaxEncodedLen+10+1+NodeNameLen*len(r.Names)+StatisticsLen))
}

// UnmarshalBinary decodes a node status response from msg, which is not
// retained. Names is reused, so decoding into the same value again does
// not allocate once Names has grown to the reply's size.
//
// The header must say response (R = 1), OPCODE 0, and have an answer
// record; any questions are skipped; RR_NAME may use compression pointers;
// RR_TYPE must be NBSTAT and RR_CLASS IN. NUM_NAMES entries must fit in
// RDLENGTH and RDLENGTH in the datagram: a count that lies is an error, with
// one exception. When the TC flag says the responder truncated the reply
// and RDLENGTH runs past the datagram, RDATA is what arrived: the whole
// entries in it are kept, and the statistics are missing if the name table
// was cut (RFC 1001 §15.6 returns such partial status to the user). A statistics block
// shorter than 46 bytes is accepted: see MissingStatistics. Bytes after
// RDATA are ignored.
func (r *NodeStatusResponse) UnmarshalBinary(msg []byte) error {
	var h Header
	if err := h.UnmarshalBinary(msg); err != nil {
		return err
	}
	switch {
	case !h.Response:
		return parseErr("HEADER", 0, errNotResponse)
	case h.OpCode != OpQuery:
		return parseErr("OPCODE", 2, errOpCode)
	case h.ANCount == 0:
		return parseErr("ANCOUNT", 6, errNoAnswer)
	}
	var sb scopeBuf
	off, err := skipQuestions(msg, h.QDCount, &sb)
	if err != nil {
		return err
	}
	name, off2, err := decodeName(msg, off, true, &sb)
	if err != nil {
		return parseErr("RR_NAME", off, err)
	}
	off = off2
	if err := checkTypeClass(msg, off, "RR", TypeNBSTAT, errType); err != nil {
		return err
	}
	if len(msg)-off < 10 {
		return parseErr("RDLENGTH", off, errShort)
	}
	ttl := binary.BigEndian.Uint32(msg[off+4:])
	rdlen := int(binary.BigEndian.Uint16(msg[off+8:]))
	off += 10
	cut := false // the responder truncated the datagram, and said so
	if rdlen > len(msg)-off {
		if !h.Truncated {
			return parseErr("RDATA", off, errShort)
		}
		rdlen, cut = len(msg)-off, true
	}
	rdata := msg[off : off+rdlen]
	if len(rdata) < 1 {
		return parseErr("NUM_NAMES", off, errShort)
	}
	n := int(rdata[0])
	statsOff := 1 + NodeNameLen*n
	if statsOff > len(rdata) {
		if !cut {
			return parseErr("NUM_NAMES", off, errNumNames)
		}
		// Keep the whole entries that arrived; the statistics did not.
		n = (len(rdata) - 1) / NodeNameLen
		statsOff = len(rdata)
	}
	names := r.Names[:0]
	if cap(names) < n {
		names = make([]NodeName, 0, n)
	}
	for i := range n {
		e := rdata[1+NodeNameLen*i:]
		var nn NodeName
		copy(nn.Name.b[:], e[:NameLen])
		nn.Flags = NameFlags(binary.BigEndian.Uint16(e[NameLen:]))
		names = append(names, nn)
	}
	var stats [StatisticsLen]byte
	present := copy(stats[:], rdata[statsOff:])
	*r = NodeStatusResponse{
		Header:            h,
		Name:              name,
		Scope:             sb.string(r.Scope),
		TTL:               ttl,
		Names:             names,
		MissingStatistics: StatisticsLen - present,
	}
	r.Statistics.unmarshal(&stats)
	return nil
}

// ServerName returns the name to call for a host's Server service: the
// first unique, active name with suffix <20> in the table, which is what a
// Windows or Samba file server registers as <computername><20>. A table
// without one gives a *NoServerNameError that lists what the host did
// register.
func (r *NodeStatusResponse) ServerName() (Name, error) {
	for _, e := range r.Names {
		if e.IsServer() {
			return e.Name, nil
		}
	}
	return Name{}, &NoServerNameError{Names: append([]NodeName(nil), r.Names...)}
}

// NoServerNameError reports a node status reply with no unique, active <20>
// name: the host does not run a file server under a name it will accept, or
// lists only group names.
type NoServerNameError struct {
	Names []NodeName // the host's name table, as it answered
}

var _ error = (*NoServerNameError)(nil)

// Error lists the names the host registered.
func (e *NoServerNameError) Error() string {
	if len(e.Names) == 0 {
		return "nbns: node status reply lists no names"
	}
	b := []byte("nbns: no unique active <20> name in node status reply; the host has ")
	for i, n := range e.Names {
		if i > 0 {
			b = append(b, ", "...)
		}
		b, _ = n.Name.AppendText(b)
		switch {
		case n.Flags.Group():
			b = append(b, " (group"...)
		default:
			b = append(b, " (unique"...)
		}
		if !n.Flags.Active() {
			b = append(b, ", inactive"...)
		}
		b = append(b, ')')
	}
	return string(b)
}
