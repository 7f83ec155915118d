// Package nbttest provides a fake NetBIOS host for tests and demos, in the
// manner of net/http/httptest: a [Server] serves on loopback both halves of
// NetBIOS over TCP that a client needs to reach a file server,
//
//   - a name service (RFC 1002 §4.2.12–§4.2.18, §5.1.1.5) that answers
//     node status and name queries from a name table, as nmbd does, and
//     as a WINS server ([Server.WINS]) with WACKs and redirects if asked;
//     or drops them, or rejects them with an ICMP port unreachable,
//     optionally late or after forged node status replies ([Forgery]);
//   - a session service (RFC 1002 §4.3, §5.2.1.2) whose [Handler] accepts,
//     refuses with a negative response code, retargets, sends keep-alives,
//     answers late, never answers, or sends hostile bytes, and after a
//     positive response echoes or runs the session.
//
// Both listen on ephemeral ports, so that tests run unprivileged; point a
// client's name service port at [Server.NameAddr]. Close waits for every
// goroutine the Server started.
//
// A Server can also serve on a [Network], an in-memory IPv4 network whose
// every byte and datagram takes a fixed delay, with TCP handshakes, FINs,
// RSTs and ICMP port unreachables where a real link has them. Under
// testing/synctest a dial over it takes an exact virtual time, so that
// tests count round trips, connections and queries deterministically,
// whatever the machine's load. A datagram to its broadcast address
// ([Network.BroadcastAddr]) reaches every host, so broadcast name queries
// are tested in memory too, never on a real link. A [Relay] adds latency
// in front of a loopback Server instead, in real time.
package nbttest
