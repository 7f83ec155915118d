// Package nbns implements the parts of the NetBIOS name service (UDP port
// 137) that a client needs to reach a server it knows only by address: the
// name encodings and the node status exchange, which reads a host's name
// table.
//
// # Names
//
// A [Name] is the 16 raw bytes of a NetBIOS name: 15 name bytes, padded,
// and a [Suffix] that tells the service (RFC 1001 §14.1, MS-NBTE §1.8).
// [NewName] builds one from a computer name the way Windows does, [Wildcard]
// is the name every host answers node status for, and [Name.String] prints
// the NAME<XX> form that [ParseName] reads back. Names are bytes, not text.
//
// # Encodings
//
// [Name.AppendFirstLevel] and [Name.AppendEncoded] give the first- and
// second-level encodings of RFC 1001 §14.1 and RFC 1002 §4.1, with an
// optional scope identifier. Decoding treats its input as hostile: the first
// label must be exactly 32 bytes of 'A'..'P', scope labels at most 63 bytes
// and the whole name at most 255; compression pointers (RFC 1002 §4.1) are
// followed only in name service packets, only backwards, and at most ten
// times; the reserved label types 0x40 and 0x80 are rejected.
//
// # Packets
//
// [Header] is the 12-byte header of RFC 1002 §4.2.1.1 with every flag and
// the 4-bit RCODE. [NodeStatusRequest] and [NodeStatusResponse] are the
// NODE STATUS REQUEST and RESPONSE of RFC 1002 §4.2.17 and §4.2.18, encoded
// into the caller's buffer and decoded without allocating into a reused
// value. Decoding checks every length and count against the datagram
// before it uses it; errors are *[ParseError] values that name the field.
//
// [NodeStatusResponse.ServerName] picks the name a session request should
// call, the host's unique <20> name, as Microsoft KB Q251166 describes.
package nbns
