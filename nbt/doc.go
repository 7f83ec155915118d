// Package nbt connects to SMB servers over NetBIOS over TCP (RFC 1001,
// RFC 1002), for hosts that speak SMB only on TCP port 139: NT4 and Windows
// 9x, old NAS boxes and printers, industrial PCs, Samba with port 445 off.
//
// Such a host needs a NetBIOS session before any SMB byte flows, requested
// with a called name it accepts (RFC 1002 §4.3.2, §5.2.1.1). A [Dialer]
// finds that name from nothing but an address, the way Microsoft KB
// Q251166 describes Windows NT 4.0 doing it, or better, with the order of
// steps chosen by its [Policy]:
//
//   - [Race], the default: node status on UDP 137 (RFC 1002 §4.2.17,
//     §4.2.18) and a TCP 139 connection at once, two round trips and one
//     connection wherever UDP 137 answers or is rejected;
//   - [PreSP5]: *SMBSERVER<20> first, node status only when it is refused;
//   - [SP5]: node status first, then the name it gives.
//
// The doc of each constant gives its steps and their cost; this is the one
// place they are written out.
//
// Each policy is a plan, a state machine with no I/O that the dial feeds
// the end of each step and that says what to do next, so that the order of
// steps can be tested event by event, and round trips counted exactly.
//
// For a host name, its first label is tried first (KB Q161431). Negative
// responses drive the next step as RFC 1002 §5.2.1.1 says, and retargets
// (§4.3.5) are followed. A [NameCache] remembers the name discovery found
// for each host dialed. With [Dialer.Direct], a Direct TCP connection to
// port 445 is raced against NetBIOS, as Windows 2000 and later do.
//
// # Dialing by NetBIOS name
//
// A host known only by its NetBIOS name ("NAS01": at most 15 bytes, no dot)
// is looked up as NAS01<20> by a [Resolver], whose order follows Samba's
// "name resolve order" and Windows' H node: the cache and LMHOSTS #PRE
// entries, an LMHOSTS file ([LMHosts]), WINS servers with a name query
// (RFC 1002 §4.2.12–§4.2.16, §5.1.2.3), the hosts file and DNS, and a
// broadcast name query on the local networks (RFC 1002 §5.1.1.3, §6). The
// Dialer then calls that name directly at each address found.
//
// The conn returned is a *[Conn] whose byte stream is the Direct-TCP SMB
// framing of port 445 (a session message header is byte-identical to it for
// lengths up to 0x1FFFF) with keep-alives removed, so that SMB clients
// written for port 445 run over port 139 unchanged:
//
//	conn, err := nbt.Dial("tcp", "192.0.2.10") // port 139, the Race policy
//	if err != nil {
//		return err
//	}
//	session, err := smbDialer.DialConn(ctx, conn, "192.0.2.10:139")
//
// SMB 3.1.1 must not be negotiated over NetBIOS (MS-SMB2 §2.1), and
// multi-credit large MTU is off on port 139 (MS-SMB2 §3.3.5.3.1).
//
// # Errors and tracing
//
// A failed dial returns a *net.OpError wrapping a *[DialError] that lists
// every step with its address, name, outcome and duration, and through
// which errors.Is finds the session error codes ([session.ErrorCode]),
// [nbns.ErrNoResponse], [nbns.ErrPortUnreachable] and the context's
// errors. [WithClientTrace] attaches hooks to each step, in the manner of
// net/http/httptrace.
//
// Package nbttest provides a fake NetBIOS host to test against.
package nbt
