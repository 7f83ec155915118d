package nbt

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/session"
)

// SMBServer is *SMBSERVER<20>, the called name that a server "must accept"
// whatever its own name (the CIFS specification), and the first one the
// PreSP5 policy tries.
var SMBServer = nbns.MustName("*SMBSERVER", nbns.FileServer)

// Policy is the order in which a [Dialer] looks for a called name that the
// server accepts, when it has only an address (Microsoft KB Q251166).
type Policy int

const (
	// PreSP5 is what Windows NT 4.0 did before Service Pack 5:
	//  1. TCP 139, session request with called name *SMBSERVER<20>;
	//  2. if the server refuses it with a code that means "try another
	//     name" (0x82, or 0x80 as jcifs treats it): node status over
	//     UDP 137 for the wildcard *<00>, and take the first unique,
	//     active <20> name in the table;
	//  3. a new TCP 139 connection with a session request for that name.
	// It needs UDP 137 only when *SMBSERVER is refused, so it reaches
	// hosts whose UDP 137 is filtered. It is the default.
	PreSP5 Policy = iota + 1

	// SP5 is what Windows NT 4.0 did from Service Pack 5 on:
	//  1. node status over UDP 137 for *<00>, and take the first unique,
	//     active <20> name in the table;
	//  2. TCP 139, session request with that name.
	// It never sends *SMBSERVER, and it fails where UDP 137 is filtered,
	// though PreSP5 would succeed there.
	SP5
)

// String returns "PreSP5" or "SP5"; the zero Policy is the default,
// "PreSP5".
func (p Policy) String() string {
	switch p.orDefault() {
	case PreSP5:
		return "PreSP5"
	case SP5:
		return "SP5"
	}
	return "Policy(" + strconv.Itoa(int(p)) + ")"
}

func (p Policy) orDefault() Policy {
	if p == 0 {
		return PreSP5
	}
	return p
}

// Port is the default session service port, TCP 139.
const Port = session.Port

// A Dialer connects to SMB servers over NetBIOS: it finds a called name
// the server accepts, following its Policy, opens a session, and returns a
// conn that Direct-TCP SMB clients use unchanged. The zero Dialer is ready
// to use. It is safe to call a Dialer's methods concurrently; dialing never
// changes the Dialer.
type Dialer struct {
	// Policy orders the called names tried. Zero means PreSP5.
	Policy Policy

	// CalledName, when not zero, is the only called name tried: no
	// discovery happens.
	CalledName nbns.Name

	// CallingName is this client's name in session requests. Zero means
	// the first label of the host name, upper-cased, at most 15 bytes,
	// with suffix <00>, as Windows sends.
	CallingName nbns.Name

	// Timeout bounds the whole dial. Zero means no bound but the
	// context's; the earlier of the two applies.
	Timeout time.Duration

	// NameService sends node status queries. Nil means a zero
	// nbns.Client: 750 ms after each of 3 transmissions, so a silent UDP
	// 137 costs 2.25 s. No query waits past the dial's deadline.
	NameService *nbns.Client

	// NameServicePort is the UDP port of the host's name service. Zero
	// means 137.
	NameServicePort uint16

	// NetDialer opens TCP connections. Nil means a zero *net.Dialer.
	NetDialer session.ContextDialer

	// Resolver looks up host names. Nil means net.DefaultResolver.
	Resolver *net.Resolver

	// MaxConnects bounds the TCP connections one session request opens,
	// the first and those that follow retargets. Zero means
	// session.SSNRetryCount (4); negative means retargets are not
	// followed.
	MaxConnects int

	// Config configures the session conns returned. Nil means the
	// defaults: no session keep-alives, 24-bit message lengths read.
	Config *session.Config
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
	policy := d.Policy.orDefault()
	opErr := func(addr net.Addr, err error) error {
		if _, ok := err.(*DialError); !ok {
			err = &DialError{Policy: policy, Err: err}
		}
		return &net.OpError{Op: "dial", Net: "nbt", Addr: addr, Err: err}
	}
	switch network {
	case "tcp", "tcp4":
	case "tcp6":
		return nil, opErr(nil, errIPv6)
	default:
		return nil, opErr(nil, net.UnknownNetworkError(network))
	}
	if d.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.Timeout)
		defer cancel()
	}
	host, port, err := splitHostPort(address)
	if err != nil {
		return nil, opErr(nil, err)
	}
	ip, label, err := d.resolve(ctx, host)
	if err != nil {
		return nil, opErr(nil, err)
	}
	addr := netip.AddrPortFrom(ip, port)
	s := &dial{d: d, policy: policy, addr: addr, trace: ContextClientTrace(ctx), calling: d.calling()}
	c, err := s.run(ctx, label)
	if err != nil {
		return nil, opErr(net.TCPAddrFromAddrPort(addr), err)
	}
	return c, nil
}

var errIPv6 = errors.New("nbt: NetBIOS over TCP runs over IPv4 only (RFC 1001/1002); use network tcp4")

// splitHostPort splits address into host and port, the port 139 when
// absent.
func splitHostPort(address string) (string, uint16, error) {
	host, ps, err := net.SplitHostPort(address)
	if err != nil {
		if strings.Count(address, ":") > 1 && !strings.HasPrefix(address, "[") {
			return "", 0, errIPv6 // a bare IPv6 address
		}
		if strings.Contains(address, ":") || strings.HasPrefix(address, "[") {
			return "", 0, err
		}
		return address, Port, nil
	}
	p, err := strconv.ParseUint(ps, 10, 16)
	if err != nil || p == 0 {
		return "", 0, errors.New("nbt: invalid port " + strconv.Quote(ps))
	}
	return host, uint16(p), nil
}

// resolve returns the IPv4 address of host and, for a host name, the
// called name made of its first label.
func (d *Dialer) resolve(ctx context.Context, host string) (netip.Addr, nbns.Name, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip = ip.Unmap(); !ip.Is4() {
			return netip.Addr{}, nbns.Name{}, errIPv6
		}
		return ip, nbns.Name{}, nil
	}
	r := d.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	ips, err := r.LookupNetIP(ctx, "ip4", host)
	if err != nil {
		return netip.Addr{}, nbns.Name{}, err
	}
	if len(ips) == 0 {
		return netip.Addr{}, nbns.Name{}, &net.DNSError{Err: "no IPv4 address", Name: host, IsNotFound: true}
	}
	label, _ := labelName(host)
	return ips[0].Unmap(), label, nil
}

// labelName returns the called name made of the first label of a host
// name: upper-cased, cut to 15 bytes, suffix <20> (KB Q161431).
func labelName(host string) (nbns.Name, error) {
	label, _, _ := strings.Cut(host, ".")
	if len(label) > nbns.NameLen-1 {
		label = label[:nbns.NameLen-1]
	}
	return nbns.NewName(label, nbns.FileServer)
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

// dial is the state of one dial.
type dial struct {
	d        *Dialer
	policy   Policy
	addr     netip.AddrPort
	trace    *ClientTrace
	calling  nbns.Name
	mu       sync.Mutex // guards attempts: trace hooks may run late
	attempts []Attempt
	table    *nbns.NodeStatusResponse
	tried    []nbns.Name
}

// run tries the called names in the policy's order.
func (s *dial) run(ctx context.Context, label nbns.Name) (*Conn, error) {
	if !s.d.CalledName.IsZero() {
		return s.finish(s.session(ctx, s.d.CalledName))
	}
	var names []nbns.Name
	if !label.IsZero() {
		names = append(names, label)
	}
	if s.policy == PreSP5 {
		names = append(names, SMBServer)
	}
	var last error
	for _, name := range names {
		c, err := s.session(ctx, name)
		if err == nil || !tryNext(err) {
			return s.finish(c, err)
		}
		last = err
	}
	name, err := s.nodeStatus(ctx)
	if err != nil {
		return s.finish(nil, err)
	}
	if slicesContains(s.tried, name) {
		return s.finish(nil, last) // the host refused its own name already
	}
	return s.finish(s.session(ctx, name))
}

func slicesContains(names []nbns.Name, n nbns.Name) bool {
	for _, x := range names {
		if x == n {
			return true
		}
	}
	return false
}

// tryNext reports whether a refusal means "try another called name"
// (RFC 1002 §5.2.1.1; 0x80 as jcifs treats it).
func tryNext(err error) bool {
	return errors.Is(err, session.ErrCalledNameNotPresent) || errors.Is(err, session.ErrNotListeningOnCalledName)
}

func (s *dial) finish(c *Conn, err error) (*Conn, error) {
	s.mu.Lock()
	attempts := append([]Attempt(nil), s.attempts...)
	s.mu.Unlock()
	if err != nil {
		return nil, &DialError{Policy: s.policy, Attempts: attempts, Err: err}
	}
	c.nodeStatus = s.table
	c.attempts = attempts
	return c, nil
}

func (s *dial) record(a Attempt) {
	s.mu.Lock()
	s.attempts = append(s.attempts, a)
	s.mu.Unlock()
}

// nodeStatus asks the host for its name table and returns its server name.
func (s *dial) nodeStatus(ctx context.Context) (nbns.Name, error) {
	port := s.d.NameServicePort
	if port == 0 {
		port = nbns.Port
	}
	target := netip.AddrPortFrom(s.addr.Addr(), port)
	wildcard := nbns.Wildcard()
	if t := s.trace; t != nil && t.NodeStatusStart != nil {
		t.NodeStatusStart(NodeStatusStartInfo{Addr: target, Name: wildcard})
	}
	start := time.Now()
	r, err := s.d.NameService.NodeStatus(ctx, target)
	elapsed := time.Since(start)
	if t := s.trace; t != nil && t.NodeStatusDone != nil {
		t.NodeStatusDone(NodeStatusDoneInfo{Addr: target, Response: r, Err: err, Duration: elapsed})
	}
	s.record(Attempt{Step: StepNodeStatus, Addr: target, Name: wildcard, Err: err, Duration: elapsed})
	if err != nil {
		return nbns.Name{}, err
	}
	s.table = r
	return r.ServerName()
}

// session requests a session with called, following retargets.
func (s *dial) session(ctx context.Context, called nbns.Name) (*Conn, error) {
	s.tried = append(s.tried, called)
	req := session.Request{Called: called, Calling: s.calling}
	var start time.Time
	t := s.trace
	sd := session.Dialer{
		NetDialer:   s.d.NetDialer,
		MaxConnects: s.d.MaxConnects,
		Config:      s.d.Config,
		Trace: &session.Trace{
			ConnectStart: func(addr netip.AddrPort) {
				start = time.Now()
				if t != nil && t.ConnectStart != nil {
					t.ConnectStart("tcp4", addr.String())
				}
			},
			ConnectDone: func(addr netip.AddrPort, err error) {
				if t != nil && t.ConnectDone != nil {
					t.ConnectDone("tcp4", addr.String(), err)
				}
				if err != nil {
					s.record(Attempt{Step: StepSession, Addr: addr, Name: called, Err: err, Duration: time.Since(start)})
				}
			},
			RequestSent: func(addr netip.AddrPort, req session.Request, err error) {
				if t != nil && t.SessionRequest != nil {
					t.SessionRequest(SessionRequestInfo{Addr: addr, Request: req, Err: err})
				}
				if err != nil {
					s.record(Attempt{Step: StepSession, Addr: addr, Name: called, Err: err, Duration: time.Since(start)})
				}
			},
			ResponseReceived: func(addr netip.AddrPort, resp session.Response, err error) {
				if t != nil && t.SessionResponse != nil {
					t.SessionResponse(SessionResponseInfo{Addr: addr, Called: called, Response: resp, Err: err})
				}
				if err == nil {
					err = resp.Err(called)
				}
				s.record(Attempt{Step: StepSession, Addr: addr, Name: called, Err: err, Duration: time.Since(start)})
			},
		},
	}
	sc, err := sd.Dial(ctx, s.addr, req)
	if err != nil {
		return nil, innermost(err)
	}
	return &Conn{Conn: sc}, nil
}

// Conn is a NetBIOS session to an SMB server, as a [Dialer] returns it:
// the transparent *session.Conn, whose byte stream is the Direct-TCP SMB
// framing with keep-alives removed, and what the dial learned.
type Conn struct {
	*session.Conn
	nodeStatus *nbns.NodeStatusResponse
	attempts   []Attempt
}

// CalledName returns the called name the server accepted.
func (c *Conn) CalledName() nbns.Name { return c.Request().Called }

// NodeStatus returns the host's name table when the dial fetched it, or
// nil.
func (c *Conn) NodeStatus() *nbns.NodeStatusResponse { return c.nodeStatus }

// Attempts returns the steps the dial took, the last one the session
// that succeeded.
func (c *Conn) Attempts() []Attempt { return c.attempts }
