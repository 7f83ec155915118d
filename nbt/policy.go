package nbt

import (
	"errors"
	"strconv"
	"strings"

	"github.com/netbios-go/netbios/session"
)

// SMBServer is *SMBSERVER<20>, the called name that a server "must accept"
// whatever its own name (the CIFS specification), and the first one the
// PreSP5 policy tries.
var SMBServer = session.SMBServer

// Policy is the order in which a [Dialer] looks for a called name that the
// server accepts, when it has only an address (Microsoft KB Q251166).
type Policy int

const (
	// Race, the default, costs about what a dial that knows the name
	// costs: two round trips and, wherever UDP 137 answers or is
	// rejected, one TCP connection.
	//  1. At once, a node status query to UDP 137 and one TCP connection
	//     to port 139.
	//  2. When the connection is up, a session request for the name the
	//     host's Server service registered, if node status has told it;
	//     else, after waiting for the answer half the time the connect
	//     took (at least 2 ms, at most 500 ms), for the host name's first
	//     label (for a host name) and then *SMBSERVER<20>.
	//  3. If that is refused, a second connection, with a request for the
	//     server's name when node status gives it.
	// One session request is out at a time. Two and a half round trips,
	// still one connection, where UDP 137 is silent. A name the cache
	// holds for the host is asked for first, with no node status. A
	// connection reset or closed before the answer is retried on a new
	// one after 10 ms, then 20 ms, at most 3 failures in all, so that a
	// host that serves one connection at a time is reached; 0x81, 0x83
	// and 0x8F end the dial at once.
	Race Policy = iota

	// PreSP5 is what Windows NT 4.0 did before Service Pack 5:
	//  1. TCP 139, session request with called name *SMBSERVER<20>;
	//  2. if the server refuses it with a code that means "try another
	//     name" (0x82, or 0x80 as jcifs treats it): node status over
	//     UDP 137 for the wildcard *<00>, and take the first unique,
	//     active <20> name in the table;
	//  3. a new TCP 139 connection with a session request for that name.
	// It needs UDP 137 only when *SMBSERVER is refused, so it reaches
	// hosts whose UDP 137 is filtered. Two round trips when *SMBSERVER is
	// accepted, five when it is refused.
	PreSP5

	// SP5 is what Windows NT 4.0 did from Service Pack 5 on:
	//  1. node status over UDP 137 for *<00>, and take the first unique,
	//     active <20> name in the table;
	//  2. TCP 139, session request with that name.
	// It never sends *SMBSERVER, and it fails where UDP 137 is filtered,
	// though PreSP5 would succeed there. Three round trips.
	SP5
)

// String returns "Race", "PreSP5" or "SP5".
func (p Policy) String() string {
	switch p {
	case Race:
		return "Race"
	case PreSP5:
		return "PreSP5"
	case SP5:
		return "SP5"
	}
	return "Policy(" + strconv.Itoa(int(p)) + ")"
}

// MarshalText returns the policy's name in lower case: "race", "presp5"
// or "sp5".
func (p Policy) MarshalText() ([]byte, error) {
	switch p {
	case Race, PreSP5, SP5:
		return []byte(strings.ToLower(p.String())), nil
	}
	return nil, errors.New("nbt: unknown policy " + p.String())
}

// UnmarshalText sets p from its name, in any case: "race", "presp5" or
// "sp5". With flag.TextVar it gives a command a -policy flag.
func (p *Policy) UnmarshalText(text []byte) error {
	for _, q := range []Policy{Race, PreSP5, SP5} {
		if strings.EqualFold(string(text), q.String()) {
			*p = q
			return nil
		}
	}
	return errors.New("nbt: unknown policy " + strconv.Quote(string(text)) + ": want race, presp5 or sp5")
}
