// Package nbttest provides a fake NetBIOS host for tests and demos, in the
// manner of net/http/httptest: a [Server] serves on loopback both halves of
// NetBIOS over TCP that a client needs to reach a file server,
//
//   - a name service (RFC 1002 §4.2.17, §4.2.18, §5.1.1.5) that answers
//     node status queries from a name table, drops them, or rejects them
//     with an ICMP port unreachable, optionally late or after forged
//     replies ([Forgery]);
//   - a session service (RFC 1002 §4.3, §5.2.1.2) whose [Handler] accepts,
//     refuses with a negative response code, retargets, sends keep-alives,
//     answers late, never answers, or sends hostile bytes, and after a
//     positive response echoes or runs the session.
//
// Both listen on ephemeral ports, so that tests run unprivileged; point a
// client's name service port at [Server.NameAddr]. Close waits for every
// goroutine the Server started.
package nbttest
