package nbttest

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/nbt"
	"github.com/netbios-go/netbios/session"
)

// NameServiceMode says how a [Server]'s name service treats node status
// and name queries.
type NameServiceMode int

const (
	// AnswerQueries answers node status queries for the wildcard name
	// and for names in the table, as RFC 1002 §5.1.1.5 says; queries for
	// other names get no answer, as from a real host. It answers name
	// queries as nmbd does (see [Server]).
	AnswerQueries NameServiceMode = iota

	// DropQueries reads queries and never answers, like a host behind a
	// firewall that drops UDP 137.
	DropQueries

	// RejectQueries leaves the name service port closed, so that queries
	// draw an ICMP port unreachable, like a host without a name service
	// or behind a firewall that rejects UDP 137.
	RejectQueries
)

// Forgery is a kind of forged name service reply that a [Server] sends
// before its real answer, to test that a client drops it. Forged replies
// list the name FORGED<20>, which no real answer has.
type Forgery int

const (
	ForgeWrongID     Forgery = iota + 1 // a transaction ID one off
	ForgeWrongSource                    // the right ID, sent from another UDP port
	ForgeQuery                          // a query (R = 0), not a response
	ForgeWrongOpCode                    // OPCODE 5, registration
	ForgeTruncated                      // cut in the middle of RR_NAME
	ForgePointerLoop                    // RR_NAME a compression pointer to itself
	ForgeNumNamesLie                    // NUM_NAMES 255 with three entries
	ForgeGarbage                        // random bytes
)

// Forgeries lists every Forgery.
var Forgeries = []Forgery{
	ForgeWrongID, ForgeWrongSource, ForgeQuery, ForgeWrongOpCode,
	ForgeTruncated, ForgePointerLoop, ForgeNumNamesLie, ForgeGarbage,
}

// ForgedName is the name forged replies list.
var ForgedName = nbns.MustName("FORGED", nbns.FileServer)

// SMBServer is *SMBSERVER<20>, the called name of KB Q251166.
var SMBServer = nbt.SMBServer

// A Server is a NetBIOS host on loopback or on a [Network]: a name service
// on UDP that answers node status and name queries from Names, and a
// session service on TCP that answers session requests through Handler. On
// loopback both listen on ephemeral ports of 127.0.0.1 (or [::1] where
// IPv4 loopback is missing); on a Network, on the real ports 137 and 139
// of a host of its own.
//
// The name service answers a NAME QUERY REQUEST (RFC 1002 §4.2.12) as
// Samba's nmbd does (source3/nmbd/nmbd_incomingrequests.c,
// process_name_query_request):
//
//   - a unicast query (B clear) for a name in Names gets a positive
//     response (flags 0x8580, TTL 259200 s, nmbd's max ttl) with one entry:
//     the Server's IPv4 address, with the name's G and ONT flags;
//   - a unicast query for another name gets a NAM_ERR negative response
//     (flags 0x8583, record type NULL) when it has RD clear, and no answer
//     when it has RD set, unless the Server is a WINS server (see WINS);
//   - a broadcast query (B set) is answered only for a name in Names, and
//     never with a negative response.
//
// WACK, Redirect, AnswerBroadcastTwice and NameDelay change that.
//
// Set the fields before Start; NewServer starts at once with the defaults.
type Server struct {
	// Names is the name table the name service reports. Nil means
	// Table("NBTTEST", "WORKGROUP").
	Names []nbns.NodeName

	// Statistics is the node status statistics block; its UnitID is the
	// MAC address. The zero value reports an unknown MAC, as Samba does.
	Statistics nbns.Statistics

	// NameService is how the name service treats queries.
	NameService NameServiceMode

	// NameDelay delays each answer of the name service: node status, and
	// name query responses but a WACK.
	NameDelay time.Duration

	// Forgeries are sent, in order, before each node status answer.
	Forgeries []Forgery

	// WINS, when not nil, makes the name service a WINS server as well
	// (an NBNS, RFC 1001 §15.1.2), as nmbd with "wins support = yes": a
	// unicast name query with RD set is answered from Names and from
	// these names of other hosts, and a name in neither gets a NAM_ERR
	// negative response. The entries go out as they are: a WINS server
	// answers a normal group name with 255.255.255.255, and nmbd some with
	// 0.0.0.0. A broadcast query is not answered from WINS.
	WINS map[nbns.Name][]nbns.AddrEntry

	// WACK, when not zero, makes the name service send a WAIT FOR
	// ACKNOWLEDGEMENT RESPONSE (RFC 1002 §4.2.16) with this TTL, in
	// seconds, at once for each unicast name query it will answer, and
	// the answer NameDelay later. With a NameDelay longer than the
	// client waits, the client gets only WACKs.
	WACK uint32

	// Redirect, when valid, makes the name service answer each unicast
	// name query with a REDIRECT NAME QUERY RESPONSE (RFC 1002 §4.2.15)
	// to the NBNS at this IPv4 address, named RedirectNBNS (NSD_NAME), for
	// the domain of the query's scope.
	Redirect netip.Addr

	// AnswerBroadcastTwice sends each answer to a broadcast name query
	// twice, as nmbd does: it hears the broadcast on two sockets, one
	// bound to 0.0.0.0:137 and one to the subnet's broadcast address.
	AnswerBroadcastTwice bool

	// Handler answers session requests. Nil means accept every request
	// and echo the session messages back.
	Handler Handler

	// Config configures the session conns given to handlers.
	Config *session.Config

	// MaxSessions is at most how many connections are served at once;
	// zero means no limit. A connection that arrives while that many are
	// served is reset at once (an RST: SetLinger(0) and Close), as a host
	// that serves one connection at a time does: embedded stacks, or
	// Samba at "max smbd processes".
	MaxSessions int

	// Network, when not nil, is where the Server listens instead of
	// loopback: at the next free host address, 198.18.0.2, 198.18.0.3, …,
	// on UDP 137 and TCP 139. Inside a synctest bubble, the Server must
	// start and close in the Network's bubble.
	Network *Network

	// Addr is the session service's TCP address, set by Start; on a
	// Network its port is 139.
	Addr netip.AddrPort

	// NameAddr is the name service's UDP address, set by Start; on a
	// Network its port is 137. With RejectQueries it is a port that
	// nothing listens on.
	NameAddr netip.AddrPort

	mu          sync.Mutex
	ln          net.Listener
	pc          net.PacketConn // nil with RejectQueries
	rogue       net.PacketConn // the source of ForgeWrongSource
	conns       map[net.Conn]struct{}
	requests    []session.Request
	queries     int
	nameQueries int
	connections int
	closed      chan struct{}
	wg          sync.WaitGroup
	started     bool
}

// NewServer starts and returns a Server with Handler h.
func NewServer(h Handler) *Server {
	s := NewUnstartedServer(h)
	s.Start()
	return s
}

// NewUnstartedServer returns a Server with Handler h that is not started,
// so that its fields can be set before Start.
func NewUnstartedServer(h Handler) *Server {
	return &Server{Handler: h}
}

// Start starts the name and session services. It panics when it cannot
// listen, as httptest does.
func (s *Server) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		panic("nbttest: Server started twice")
	}
	s.started = true
	s.closed = make(chan struct{})
	s.conns = make(map[net.Conn]struct{})
	if s.Names == nil {
		s.Names = Table("NBTTEST", "WORKGROUP")
	}
	if s.Network != nil {
		s.listenNetwork()
	} else {
		s.listenLoopback()
	}
	if s.pc != nil {
		s.wg.Go(s.serveNames)
	}
	s.wg.Go(s.serveSessions)
}

// listenLoopback opens the Server's ports on loopback.
func (s *Server) listenLoopback() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		if ln, err = net.Listen("tcp6", "[::1]:0"); err != nil {
			panic("nbttest: failed to listen on a port: " + err.Error())
		}
	}
	s.ln = ln
	s.Addr = ln.Addr().(*net.TCPAddr).AddrPort()
	host := s.Addr.Addr()

	pc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(host, 0)))
	if err != nil {
		panic("nbttest: failed to listen on a UDP port: " + err.Error())
	}
	s.NameAddr = pc.LocalAddr().(*net.UDPAddr).AddrPort()
	if s.NameService == RejectQueries {
		pc.Close() // the port is now closed: queries draw ICMP unreachable
		return
	}
	s.pc = pc
	if s.rogue, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(host, 0))); err != nil {
		panic("nbttest: failed to listen on a UDP port: " + err.Error())
	}
}

// listenNetwork opens the Server's ports on a host of its own on
// s.Network. With RejectQueries UDP 137 stays closed; the TCP listener
// keeps the host in existence, so that queries draw ICMP unreachable.
func (s *Server) listenNetwork() {
	n := s.Network
	host := n.newHost()
	s.Addr = netip.AddrPortFrom(host, nbt.Port)
	s.NameAddr = netip.AddrPortFrom(host, nbns.Port)
	var err error
	if s.ln, err = n.Listen("tcp4", s.Addr.String()); err != nil {
		panic("nbttest: failed to listen on a port: " + err.Error())
	}
	if s.NameService == RejectQueries {
		return
	}
	if s.pc, err = n.ListenPacket("udp4", s.NameAddr.String()); err != nil {
		panic("nbttest: failed to listen on a UDP port: " + err.Error())
	}
	if s.rogue, err = n.ListenPacket("udp4", netip.AddrPortFrom(host, 0).String()); err != nil {
		panic("nbttest: failed to listen on a UDP port: " + err.Error())
	}
}

// Close stops the services, closes every connection, and waits until all
// that the Server started has ended.
func (s *Server) Close() {
	s.mu.Lock()
	if !s.started || isClosed(s.closed) {
		s.mu.Unlock()
		return
	}
	close(s.closed)
	s.ln.Close()
	if s.pc != nil {
		s.pc.Close()
		s.rogue.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// Dialer returns an nbt.Dialer set up for the Server, as httptest's
// Server.Client is: its name service port is the Server's, node status
// waits 100 ms after each of 3 transmissions, plenty on loopback, and it
// has a name cache of its own. On a Network, its NetDialer and its name
// service's Dialer are the Network's, and the 100 ms must exceed the
// Network's round trip (or set NameService.Timeout). Dial it with
// s.Addr.String() as the address.
func (s *Server) Dialer() *nbt.Dialer {
	d := &nbt.Dialer{
		NameServicePort: s.NameAddr.Port(),
		NameService:     &nbns.Client{Timeout: 100 * time.Millisecond, Attempts: 3},
		Cache:           nbt.NewNameCache(nbt.DefaultNameCacheTTL),
	}
	if s.Network != nil {
		nd := s.Network.Dialer()
		d.NetDialer, d.NameService.Dialer = nd, nd
	}
	return d
}

// Requests returns the session requests the Server has received, in order.
func (s *Server) Requests() []session.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]session.Request(nil), s.requests...)
}

// NodeStatusQueries returns how many node status queries the name service
// has received, answered or not.
func (s *Server) NodeStatusQueries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries
}

// NameQueries returns how many name queries the name service has
// received, unicast and broadcast, answered or not.
func (s *Server) NameQueries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nameQueries
}

// Connections returns how many TCP connections the session service has
// accepted, served or reset because MaxSessions were being served.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connections
}

// Table returns a name table like the one Samba's nmbd reports for a host
// named computer in workgroup: computer<00>, <03> and <20> unique, and
// workgroup<00> and <1E> group, all active B-node names.
func Table(computer, workgroup string) []nbns.NodeName {
	unique := func(t nbns.Suffix) nbns.NodeName {
		return nbns.NodeName{Name: nbns.MustName(computer, t), Flags: nbns.FlagActive}
	}
	group := func(t nbns.Suffix) nbns.NodeName {
		return nbns.NodeName{Name: nbns.MustName(workgroup, t), Flags: nbns.FlagGroup | nbns.FlagActive}
	}
	return []nbns.NodeName{
		unique(nbns.Workstation), unique(nbns.Messenger), unique(nbns.FileServer),
		group(nbns.Workstation), group(nbns.BrowserElection),
	}
}

// wait waits for d, or until the server closes; it reports whether d
// passed.
func (s *Server) wait(d time.Duration) bool {
	if d <= 0 {
		return !isClosed(s.closed)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.closed:
		return false
	}
}

func (s *Server) serveNames() {
	buf := make([]byte, 2048)
	for {
		n, from, err := s.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		var nq nbns.NameQueryRequest
		if nq.UnmarshalBinary(buf[:n]) == nil {
			s.serveNameQuery(nq, from)
			continue
		}
		var q nbns.NodeStatusRequest
		if q.UnmarshalBinary(buf[:n]) != nil {
			continue
		}
		s.mu.Lock()
		s.queries++
		s.mu.Unlock()
		if s.NameService == DropQueries || !s.has(q.Name) {
			continue
		}
		s.wg.Go(func() {
			if !s.wait(s.NameDelay) {
				return
			}
			for _, f := range s.Forgeries {
				s.forge(f, q, from)
			}
			r := nbns.NodeStatusResponse{
				Header:     nbns.Header{ID: q.ID, Authoritative: true},
				Name:       q.Name,
				Scope:      q.Scope,
				Names:      s.Names,
				Statistics: s.Statistics,
			}
			if b, err := r.MarshalBinary(); err == nil {
				s.pc.WriteTo(b, from)
			}
		})
	}
}

// NameTTL is the TTL of a Server's positive name query responses: 259200
// s, three days, nmbd's default "max ttl".
const NameTTL = 259200

// RedirectNBNS is the NSD_NAME of a Server's redirects.
const RedirectNBNS = "nbns.nbttest"

// serveNameQuery answers the name query q from from, as the Server's doc
// says.
func (s *Server) serveNameQuery(q nbns.NameQueryRequest, from net.Addr) {
	s.mu.Lock()
	s.nameQueries++
	s.mu.Unlock()
	if s.NameService == DropQueries {
		return
	}
	r := s.nameAnswer(q)
	if r == nil {
		return
	}
	b, err := r.MarshalBinary()
	if err != nil {
		return
	}
	switch {
	case q.Broadcast && s.AnswerBroadcastTwice:
		s.sendAfter(s.NameDelay, from, b, b)
	case q.Broadcast:
		s.sendAfter(s.NameDelay, from, b)
	default:
		if s.WACK != 0 {
			w := nbns.NameQueryResponse{
				Header:    nbns.Header{ID: q.ID, Authoritative: true},
				Kind:      nbns.WACKResponse,
				Name:      q.Name,
				Scope:     q.Scope,
				TTL:       s.WACK,
				WACKFlags: wackFlags(q),
			}
			if wb, err := w.MarshalBinary(); err == nil {
				s.pc.WriteTo(wb, from)
			}
		}
		s.sendAfter(s.NameDelay, from, b)
	}
}

// sendAfter sends the datagrams bs to to, d from now, unless the Server
// closes first.
func (s *Server) sendAfter(d time.Duration, to net.Addr, bs ...[]byte) {
	s.wg.Go(func() {
		if !s.wait(d) {
			return
		}
		for _, b := range bs {
			s.pc.WriteTo(b, to)
		}
	})
}

// wackFlags returns the RDATA of a WACK for q: its OPCODE and NM_FLAGS.
func wackFlags(q nbns.NameQueryRequest) uint16 {
	h := nbns.Header{RecursionDesired: q.RecursionDesired, Broadcast: q.Broadcast}
	b, _ := h.AppendBinary(nil)
	return uint16(b[2])<<8 | uint16(b[3])
}

// nameAnswer returns the Server's answer to the name query q, or nil for
// none.
func (s *Server) nameAnswer(q nbns.NameQueryRequest) *nbns.NameQueryResponse {
	// nmbd's flags: R, AA, RD and RA (0x8580, RFC 1002 §4.2.15 asks for AA
	// and RA from an end node).
	h := nbns.Header{ID: q.ID, Authoritative: true, RecursionDesired: true, RecursionAvailable: true}
	if !q.Broadcast && s.Redirect.IsValid() {
		return &nbns.NameQueryResponse{
			Header: nbns.Header{ID: q.ID, RecursionDesired: true},
			Kind:   nbns.RedirectResponse,
			TTL:    NameTTL,
			Redirect: nbns.Redirect{
				Domain: q.Scope,
				Server: RedirectNBNS,
				Addr:   s.Redirect,
			},
		}
	}
	if entries, ok := s.owners(q.Name); ok {
		if entries == nil {
			return nil // no IPv4 address to give
		}
		return &nbns.NameQueryResponse{Header: h, Name: q.Name, Scope: q.Scope, TTL: NameTTL, Entries: entries}
	}
	if !q.Broadcast && q.RecursionDesired && s.WINS != nil {
		if entries, ok := s.WINS[q.Name]; ok {
			return &nbns.NameQueryResponse{Header: h, Name: q.Name, Scope: q.Scope, TTL: NameTTL, Entries: entries}
		}
	}
	if q.Broadcast || q.RecursionDesired && s.WINS == nil {
		return nil // nmbd never answers a broadcast negatively, nor an RD query without WINS
	}
	h.RCode = nbns.RCodeNameError
	return &nbns.NameQueryResponse{Header: h, Kind: nbns.NegativeResponse, Name: q.Name, Scope: q.Scope}
}

// owners reports whether n is in Names, and returns its entry: the
// Server's address with the name's flags, or nil when the Server has no
// IPv4 address.
func (s *Server) owners(n nbns.Name) ([]nbns.AddrEntry, bool) {
	for _, e := range s.Names {
		if e.Name != n {
			continue
		}
		addr := s.NameAddr.Addr().Unmap()
		if !addr.Is4() {
			return nil, true
		}
		return []nbns.AddrEntry{{Flags: nbns.NewNBFlags(e.Flags.Group(), e.Flags.OwnerNodeType()), Addr: addr}}, true
	}
	return nil, false
}

// has reports whether the host answers node status for name: the wildcard
// and the names in its table.
func (s *Server) has(name nbns.Name) bool {
	if name.IsWildcard() {
		return true
	}
	for _, e := range s.Names {
		if e.Name == name {
			return true
		}
	}
	return false
}

// forge sends one forged reply to q.
func (s *Server) forge(f Forgery, q nbns.NodeStatusRequest, to net.Addr) {
	fake := nbns.NodeStatusResponse{
		Header: nbns.Header{ID: q.ID, Authoritative: true},
		Name:   q.Name,
		Scope:  q.Scope,
		Names: []nbns.NodeName{
			{Name: ForgedName, Flags: nbns.FlagActive},
			{Name: ForgedName.WithSuffix(nbns.Workstation), Flags: nbns.FlagActive},
			{Name: nbns.MustName("FORGEDGRP", nbns.Workstation), Flags: nbns.FlagGroup | nbns.FlagActive},
		},
	}
	b, err := fake.MarshalBinary()
	if err != nil {
		return
	}
	src := s.pc
	switch f {
	case ForgeWrongID:
		b[1]++
	case ForgeWrongSource:
		src = s.rogue
	case ForgeQuery:
		b[2] &^= 0x80
	case ForgeWrongOpCode:
		b[2] |= 0x28
	case ForgeTruncated:
		b = b[:nbns.HeaderLen+20]
	case ForgePointerLoop:
		b = append(b[:nbns.HeaderLen], 0xC0, nbns.HeaderLen)
	case ForgeNumNamesLie:
		b[len(b)-nbns.StatisticsLen-3*nbns.NodeNameLen-1] = 255
	case ForgeGarbage:
		b = []byte("\x13\x37 garbage, not a name service packet")
	}
	src.WriteTo(b, to)
}

func (s *Server) serveSessions() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if isClosed(s.closed) {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.connections++
		if s.MaxSessions > 0 && len(s.conns) >= s.MaxSessions {
			s.mu.Unlock()
			reset(c)
			continue
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Go(func() {
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
			}()
			s.serveSession(c)
		})
	}
}

// reset closes c with an RST, where c can (*net.TCPConn and the conns of a
// Network can), and with a FIN otherwise.
func reset(c net.Conn) {
	if l, ok := c.(interface{ SetLinger(sec int) error }); ok {
		l.SetLinger(0)
	}
	c.Close()
}

func (s *Server) serveSession(c net.Conn) {
	req, err := session.ReadRequest(c)
	if err != nil {
		if errors.Is(err, session.ErrBadName) {
			s.respond(c, session.Response{Type: session.TypeNegativeResponse, Code: session.ErrCalledNameNotPresent})
		}
		return
	}
	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.mu.Unlock()

	h := s.Handler
	if h == nil {
		h = Echo
	}
	resp := h.ServeSession(req)
	for range resp.KeepAlives {
		if _, err := c.Write([]byte{byte(session.TypeKeepAlive), 0, 0, 0}); err != nil {
			return
		}
	}
	if !s.wait(resp.Delay) {
		return
	}
	switch {
	case resp.Silent:
		<-s.closed
		return
	case resp.Raw != nil:
		c.Write(resp.Raw)
		return
	case resp.Reject != 0:
		s.respond(c, session.Response{Type: session.TypeNegativeResponse, Code: resp.Reject})
		return
	case resp.Retarget.IsValid():
		s.respond(c, session.Response{Type: session.TypeRetargetResponse, Retarget: resp.Retarget})
		return
	}
	if !s.respond(c, session.Response{Type: session.TypePositiveResponse}) {
		return
	}
	conn := session.NewConn(c, req, s.Config)
	defer conn.Close() // stops its keep-alive timer too
	if resp.Serve != nil {
		resp.Serve(conn)
		return
	}
	io.Copy(conn, conn)
}

func (s *Server) respond(c net.Conn, r session.Response) bool {
	b, err := r.MarshalBinary()
	if err != nil {
		return false
	}
	_, err = c.Write(b)
	return err == nil
}

// Handler answers session requests for a [Server].
type Handler interface {
	// ServeSession returns how to answer req. It runs on the
	// connection's goroutine; several may run at once.
	ServeSession(req session.Request) Response
}

// HandlerFunc adapts a function to a Handler.
type HandlerFunc func(req session.Request) Response

// ServeSession returns f(req).
func (f HandlerFunc) ServeSession(req session.Request) Response { return f(req) }

// Response is how a [Server] answers a session request. The zero Response
// accepts it and echoes the session messages back.
type Response struct {
	// KeepAlives is how many SESSION KEEP ALIVEs to send before the
	// answer.
	KeepAlives int

	// Delay is how long to wait before the answer.
	Delay time.Duration

	// Silent holds the connection open without an answer until the
	// Server closes.
	Silent bool

	// Raw, when not nil, is sent instead of an answer, and the connection
	// is closed: a malformed or hostile reply.
	Raw []byte

	// Reject, when not zero, refuses the request with this code.
	Reject session.ErrorCode

	// Retarget, when valid and Reject is zero, sends the caller to this
	// IPv4 address and port.
	Retarget netip.AddrPort

	// Serve runs the session after a positive response; the conn is
	// closed when it returns. Nil means echo.
	Serve func(c *session.Conn)
}

// Echo accepts every session request and echoes the session messages
// back; it is what a nil Handler does.
var Echo Handler = HandlerFunc(func(session.Request) Response { return Response{} })

// Blackhole never answers a session request.
var Blackhole Handler = HandlerFunc(func(session.Request) Response { return Response{Silent: true} })

// RefuseNames refuses the listed called names with code and accepts the
// rest: RefuseNames(session.ErrCalledNameNotPresent, SMBServer) is the
// host of KB Q251166 that does not accept *SMBSERVER.
func RefuseNames(code session.ErrorCode, names ...nbns.Name) Handler {
	return HandlerFunc(func(req session.Request) Response {
		for _, n := range names {
			if req.Called == n {
				return Response{Reject: code}
			}
		}
		return Response{}
	})
}

// AcceptOnly accepts the listed called names and refuses the rest with
// [session.ErrCalledNameNotPresent], as Windows 9x and strict NetBIOS
// servers do.
func AcceptOnly(names ...nbns.Name) Handler {
	return HandlerFunc(func(req session.Request) Response {
		for _, n := range names {
			if req.Called == n {
				return Response{}
			}
		}
		return Response{Reject: session.ErrCalledNameNotPresent}
	})
}

// Retarget retargets every session request to addr.
func Retarget(addr netip.AddrPort) Handler {
	return HandlerFunc(func(session.Request) Response { return Response{Retarget: addr} })
}
