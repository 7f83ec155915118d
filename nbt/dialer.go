package nbt

import (
	"context"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/session"
)

// Port is the default session service port, TCP 139.
const Port = session.Port

// A Dialer connects to SMB servers over NetBIOS: it finds a called name
// the server accepts, following its Policy, opens a session, and returns a
// conn that Direct-TCP SMB clients use unchanged. The zero Dialer is ready
// to use. It is safe to call a Dialer's methods concurrently; dialing never
// changes the Dialer.
type Dialer struct {
	// Policy orders the called names tried. Zero is Race.
	Policy Policy

	// CalledName, when not zero, is the only called name tried: no
	// discovery happens.
	CalledName nbns.Name

	// CallingName is this client's name in session requests. Zero means
	// the first label of the host name, upper-cased, at most 15 bytes,
	// with suffix <00>, as Windows sends.
	CallingName nbns.Name

	// Timeout bounds the whole dial, with the context's deadline: the
	// earlier applies. Zero means DefaultTimeout; negative means no bound
	// but the context's (see [session.Bound]).
	Timeout time.Duration

	// NameService sends node status queries. Nil means a zero
	// nbns.Client: 750 ms after each of 3 transmissions, so a silent UDP
	// 137 costs 2.25 s. No query waits past the dial's deadline. Its
	// Scope is the scope of the session request's names too.
	NameService *nbns.Client

	// NameServicePort is the UDP port of the host's name service. Zero
	// means 137.
	NameServicePort uint16

	// NetDialer opens TCP connections. Nil means a zero *net.Dialer.
	NetDialer session.ContextDialer

	// Resolver looks up host names: a NetBIOS name (at most 15 bytes, no
	// dot) through its resolution order, as NAME<20>; any other name
	// through its DNS. Nil means DefaultResolver.
	Resolver *Resolver

	// MaxConnects bounds the TCP connections one session request opens,
	// the first and those that follow retargets. Zero means
	// session.SSNRetryCount (4); negative means retargets are not
	// followed.
	MaxConnects int

	// Config configures the session conns returned. Nil means the
	// defaults: no session keep-alives, 24-bit message lengths read.
	Config *session.Config

	// Cache remembers the called name that discovery found for each host
	// name and address dialed, so that the next dial to it asks for that
	// name first. Dials with a CalledName neither read nor fill it. Nil
	// means DefaultNameCache; NewNameCache(0) remembers nothing.
	Cache *NameCache

	// Direct also opens a Direct TCP connection to DirectPort at the
	// start of each dial, as Windows 2000 and later (KB 204279) and
	// Samba's "client smb transports" do, and returns it if it connects
	// before a NetBIOS session is up; Conn.Transport tells which won. Off
	// by default, for hosts that speak SMB on 139 only.
	Direct bool

	// DirectPort is the Direct TCP port. Zero means 445.
	DirectPort uint16
}

// DefaultTimeout bounds a dial when Dialer.Timeout is zero: it is
// [session.DefaultTimeout].
const DefaultTimeout = session.DefaultTimeout

func (d *Dialer) nameCache() *NameCache {
	if d.Cache == nil {
		return DefaultNameCache
	}
	return d.Cache
}

// Dial connects to address on the named network with a zero Dialer.
func Dial(network, address string) (net.Conn, error) {
	var d Dialer
	return d.Dial(network, address)
}

// Dial connects to address on the named network. See
// [Dialer.DialContext].
func (d *Dialer) Dial(network, address string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, address)
}

// DialContext connects to the SMB server at address over NetBIOS and
// returns a *[Conn]. network must be "tcp" or "tcp4": NetBIOS runs over
// IPv4 only. address is an IPv4 address or a host name, with an optional
// port, 139 when absent. For a host name, the first called name tried is
// its first label, upper-cased and cut to 15 bytes (KB Q161431), before the
// steps of the Policy.
//
// Negative session responses drive the next step as RFC 1002 §5.2.1.1
// says: 0x82 (called name not present) and 0x80 (not listening on called
// name) move on to the next name; any other code stops the dial.
// Retargets are followed.
//
// The context, and Timeout, bound the whole dial; once a conn is
// returned the context no longer affects it. Errors are *[net.OpError]
// values with Op "dial" and Net "nbt" that wrap a *[DialError] listing
// every step; errors.Is finds through it the session error codes, the
// context's errors and nbns.ErrNoResponse or nbns.ErrPortUnreachable.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if ctx == nil {
		panic("nbt: nil context")
	}
	dd := *d // the dial's own copy, as net.Dialer makes: a change to d does not reach dials in flight
	d = &dd
	policy := d.Policy
	opErr := func(addr net.Addr, err error) error {
		if _, ok := err.(*DialError); !ok {
			err = &DialError{Policy: policy, Err: err}
		}
		return &net.OpError{Op: "dial", Net: "nbt", Addr: addr, Err: err}
	}
	switch network {
	case "tcp", "tcp4":
	case "tcp6":
		return nil, opErr(nil, errIPv6Network)
	default:
		return nil, opErr(nil, net.UnknownNetworkError(network))
	}
	ctx, cancel := session.Bound(ctx, d.Timeout)
	defer cancel()
	tg, err := d.lookupTarget(ctx, address)
	if err != nil {
		return nil, opErr(nil, err)
	}
	var prior []Attempt
	for i := 0; ; i++ {
		s := newDial(ctx, d, tg, tg.addrs[i], prior)
		c, err := s.result(s.run(ctx, tg.label))
		if err == nil {
			return c, nil
		}
		if i+1 == len(tg.addrs) || ctx.Err() != nil {
			return nil, opErr(net.TCPAddrFromAddrPort(tg.addrs[0]), err)
		}
		prior = err.Attempts // on to the next address at once
	}
}

// DefaultResolver is the Resolver of Dialers whose Resolver is nil, as
// Windows keeps one NetBIOS name cache for the whole system.
var DefaultResolver = &Resolver{}

func (d *Dialer) resolver() *Resolver {
	if d.Resolver == nil {
		return DefaultResolver
	}
	return d.Resolver
}

// calling returns the calling name of a dial.
func (d *Dialer) calling() nbns.Name {
	if !d.CallingName.IsZero() {
		return d.CallingName
	}
	return hostCallingName()
}

// hostCallingName is this host's name as Windows would send it.
var hostCallingName = sync.OnceValue(func() nbns.Name {
	h, err := os.Hostname()
	if err == nil {
		label, _, _ := strings.Cut(h, ".")
		if len(label) > nbns.NameLen-1 {
			label = label[:nbns.NameLen-1]
		}
		if n, err := nbns.NewName(label, nbns.Workstation); err == nil {
			return n
		}
	}
	return nbns.MustName("NBT-CLIENT", nbns.Workstation)
})
