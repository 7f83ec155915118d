// Package nbns implements the parts of the NetBIOS name service (UDP port
// 137) that a client needs to reach a server: the name encodings, the node
// status exchange, which reads a host's name table, and the name query,
// which finds the addresses of a name's owners, from a WINS server or by
// broadcast.
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
//
// # Name queries
//
// [NameQueryRequest] is the NAME QUERY REQUEST of RFC 1002 §4.2.12, and
// [NameQueryResponse] every answer to it, as its [ResponseKind] says: the
// POSITIVE NAME QUERY RESPONSE of §4.2.13 with each owner's [AddrEntry]
// (NB_FLAGS of §4.2.1.3 and the IPv4 address; [AddrEntry.IsHost] flags
// 0.0.0.0 and 255.255.255.255), the NEGATIVE one of §4.2.14 with its
// RCODE, the REDIRECT of §4.2.15 and the WAIT FOR ACKNOWLEDGEMENT (WACK)
// of §4.2.16. The decoder takes what RFC 1002 and real servers send that
// a strict reading would refuse (a negative response with ANCOUNT 0, as
// the RFC draws it; record type NULL or NB where the RFC disagrees with
// itself) and refuses what no server sends (B set in a response, an
// RDLENGTH that is not a whole number of entries or runs past the
// datagram).
//
// # Clients
//
// A [Client] sends the queries over UDP, with the retransmission of RFC
// 1002 §5.1.1.3 and §5.1.2.3: [Client.NodeStatus] and [Client.QueryName]
// over a socket connected to one host or WINS server, which also sees an
// ICMP port unreachable; [Client.QueryNameBroadcast] over an unconnected
// socket, to the directed broadcast addresses the caller gives (RFC 1002
// §6's BROADCAST_ADDRESS), collecting every owner's answer. Replies are
// matched on the transaction ID and the question, and for unicast the
// source, and anything else is dropped (RFC 1001 §13.2.1). Errors are
// *[net.OpError] values that wrap [ErrNoResponse], [ErrPortUnreachable],
// a *[NegativeError] or a *[RedirectError].
//
// # Scanning
//
// A [Scanner] sends node status queries (RFC 1002 §4.2.17) to many hosts
// from one unconnected socket, as nbtscan does: a window of queries in
// flight paced by the answers and by a rate, a random transaction ID per
// target matched with the question and the source, retransmissions on a
// timeout estimated from the answers (RFC 6298), and answers from another
// address reported as aliases. Targets come from an iterator and results
// stream, so its memory is that of the queries in flight.
package nbns
