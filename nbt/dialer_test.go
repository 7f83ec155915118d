package nbt_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/net/proxy"

	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/nbt"
	"github.com/netbios-go/netbios/nbt/nbttest"
	"github.com/netbios-go/netbios/session"
)

var _ proxy.ContextDialer = (*nbt.Dialer)(nil)

var nbttestName = nbns.MustName("NBTTEST", nbns.FileServer)

// step is an attempt reduced to what the tests compare.
type step struct {
	Step nbt.Step
	Name string
	Code session.ErrorCode // 0: positive or answered; 0xFF: another error
}

func steps(as []nbt.Attempt) []step {
	var out []step
	for _, a := range as {
		s := step{Step: a.Step, Name: a.Name.String()}
		var code session.ErrorCode
		switch {
		case a.Err == nil:
		case errors.As(a.Err, &code):
			s.Code = code
		default:
			s.Code = 0xFF
		}
		out = append(out, s)
	}
	return out
}

var (
	sessSMB  = step{nbt.StepSession, "*SMBSERVER<20>", 0}
	refSMB   = step{nbt.StepSession, "*SMBSERVER<20>", session.ErrCalledNameNotPresent}
	status   = step{nbt.StepNodeStatus, "*<00>", 0}
	noStatus = step{nbt.StepNodeStatus, "*<00>", 0xFF}
	sessName = step{nbt.StepSession, "NBTTEST<20>", 0}
)

// policyCase is one row of TestPolicies.
type policyCase struct {
	name      string
	handler   nbttest.Handler
	ns        nbttest.NameServiceMode
	names     []nbns.NodeName
	policy    nbt.Policy
	wantSteps []step
	wantErr   []error // each must match with errors.Is
	wantText  []string
}

// TestPolicies runs each KB Q251166 case with each policy.
func TestPolicies(t *testing.T) {
	refuseSMB := nbttest.RefuseNames(session.ErrCalledNameNotPresent, nbttest.SMBServer)
	tests := []policyCase{
		{name: "accepts *SMBSERVER/PreSP5", policy: nbt.PreSP5, wantSteps: []step{sessSMB}},
		{name: "accepts *SMBSERVER/SP5", policy: nbt.SP5, wantSteps: []step{status, sessName}},
		{name: "refuses *SMBSERVER/PreSP5", handler: refuseSMB, policy: nbt.PreSP5, wantSteps: []step{refSMB, status, sessName}},
		{name: "refuses *SMBSERVER/SP5", handler: refuseSMB, policy: nbt.SP5, wantSteps: []step{status, sessName}},
		{
			name: "refuses *SMBSERVER with 0x80/PreSP5", policy: nbt.PreSP5,
			handler:   nbttest.RefuseNames(session.ErrNotListeningOnCalledName, nbttest.SMBServer),
			wantSteps: []step{{nbt.StepSession, "*SMBSERVER<20>", 0x80}, status, sessName},
		},
		{name: "UDP 137 dropped/PreSP5", ns: nbttest.DropQueries, policy: nbt.PreSP5, wantSteps: []step{sessSMB}},
		{
			name: "UDP 137 dropped/SP5", ns: nbttest.DropQueries, policy: nbt.SP5,
			wantSteps: []step{noStatus},
			wantErr:   []error{nbns.ErrNoResponse},
			wantText:  []string{"no answer from UDP", "filtered by a firewall that drops"},
		},
		{name: "UDP 137 rejected/PreSP5", ns: nbttest.RejectQueries, policy: nbt.PreSP5, wantSteps: []step{sessSMB}},
		{
			name: "UDP 137 rejected/SP5", ns: nbttest.RejectQueries, policy: nbt.SP5,
			wantSteps: []step{noStatus},
			wantErr:   []error{nbns.ErrPortUnreachable},
			wantText:  []string{"is closed", "ICMP port unreachable"},
		},
		{
			name: "refuses *SMBSERVER and UDP 137 dropped/PreSP5", handler: refuseSMB, ns: nbttest.DropQueries, policy: nbt.PreSP5,
			wantSteps: []step{refSMB, noStatus},
			wantErr:   []error{session.ErrCalledNameNotPresent, nbns.ErrNoResponse},
			wantText:  []string{"called name not present (0x82)", "no answer from UDP"},
		},
		{
			name: "refuses *SMBSERVER and UDP 137 dropped/SP5", handler: refuseSMB, ns: nbttest.DropQueries, policy: nbt.SP5,
			wantSteps: []step{noStatus},
			wantErr:   []error{nbns.ErrNoResponse},
		},
		{
			name: "no <20> name/PreSP5", handler: refuseSMB, policy: nbt.PreSP5,
			names:     []nbns.NodeName{{Name: nbns.MustName("PRINTER", 0), Flags: nbns.FlagActive}, {Name: nbns.MustName("OFFICE", 0x20), Flags: nbns.FlagGroup | nbns.FlagActive}},
			wantSteps: []step{refSMB, status},
			wantText:  []string{"no unique active <20> name", "PRINTER<00> (unique), OFFICE<20> (group)"},
		},
	}
	// Codes that do not mean "try another name" stop the dial.
	for _, code := range []session.ErrorCode{0x81, 0x83, 0x8F, 0x8A} {
		tests = append(tests, policyCase{
			name:      "refuses *SMBSERVER with " + code.GoString() + "/PreSP5 stops",
			handler:   nbttest.RefuseNames(code, nbttest.SMBServer, nbttestName),
			policy:    nbt.PreSP5,
			wantSteps: []step{{nbt.StepSession, "*SMBSERVER<20>", code}},
			wantErr:   []error{code},
		}, policyCase{
			name:      "refuses the name with " + code.GoString() + "/SP5",
			handler:   nbttest.RefuseNames(code, nbttestName),
			policy:    nbt.SP5,
			wantSteps: []step{status, {nbt.StepSession, "NBTTEST<20>", code}},
			wantErr:   []error{code},
		})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := nbttest.NewUnstartedServer(tt.handler)
			s.NameService = tt.ns
			s.Names = tt.names
			s.Start()
			defer s.Close()
			d := s.Dialer()
			d.Policy = tt.policy
			c, err := d.DialContext(t.Context(), "tcp", s.Addr.String())
			var got []nbt.Attempt
			if err == nil {
				defer c.Close()
				nc := c.(*nbt.Conn)
				got = nc.Attempts()
				if tt.wantErr != nil || tt.wantText != nil {
					t.Fatalf("dial succeeded, want an error")
				}
				last := tt.wantSteps[len(tt.wantSteps)-1]
				if nc.CalledName().String() != last.Name {
					t.Errorf("CalledName() = %v, want %s", nc.CalledName(), last.Name)
				}
				if (nc.NodeStatus() != nil) != containsStep(tt.wantSteps, status) {
					t.Errorf("NodeStatus() = %v", nc.NodeStatus())
				}
				echo(t, nc)
			} else {
				if tt.wantErr == nil && tt.wantText == nil {
					t.Fatalf("dial: %v", err)
				}
				oe, ok := errors.AsType[*net.OpError](err)
				de, ok2 := errors.AsType[*nbt.DialError](err)
				if !ok || oe.Op != "dial" || !ok2 {
					t.Fatalf("error %v is not a dial *net.OpError wrapping a *nbt.DialError", err)
				}
				got = de.Attempts
				for _, want := range tt.wantErr {
					if !errors.Is(err, want) {
						t.Errorf("errors.Is(err, %v) = false; err = %v", want, err)
					}
				}
				for _, want := range tt.wantText {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not say %q", err, want)
					}
				}
			}
			if diff := cmp.Diff(tt.wantSteps, steps(got)); diff != "" {
				t.Errorf("steps (-want +got):\n%s", diff)
			}
			asked := containsStep(tt.wantSteps, status) || containsStep(tt.wantSteps, noStatus) && tt.ns != nbttest.RejectQueries
			if n := s.NodeStatusQueries(); (n > 0) != asked {
				t.Errorf("server saw %d node status queries", n)
			}
		})
	}
}

func containsStep(steps []step, s step) bool {
	for _, x := range steps {
		if x == s {
			return true
		}
	}
	return false
}

// echo checks that the conn carries SMB framing to the echo handler.
func echo(t *testing.T, c net.Conn) {
	t.Helper()
	msg := []byte{0, 0, 0, 5, 0xFE, 'S', 'M', 'B', '!'}
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := readFull(c, got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(msg, got); diff != "" {
		t.Errorf("echo (-want +got):\n%s", diff)
	}
}

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := c.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func TestExplicitCalledName(t *testing.T) {
	s := nbttest.NewServer(nbttest.AcceptOnly(nbns.MustName("EXPLICIT", nbns.FileServer)))
	defer s.Close()
	for _, p := range []nbt.Policy{nbt.PreSP5, nbt.SP5} {
		d := s.Dialer()
		d.Policy = p
		d.CalledName = nbns.MustName("EXPLICIT", nbns.FileServer)
		c, err := d.Dial("tcp4", s.Addr.String())
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		d.CalledName = nbns.MustName("WRONG", nbns.FileServer)
		if _, err := d.Dial("tcp4", s.Addr.String()); !errors.Is(err, session.ErrCalledNameNotPresent) {
			t.Errorf("%v: error %v, want 0x82 and no other step", p, err)
		}
	}
	if n := s.NodeStatusQueries(); n != 0 {
		t.Errorf("%d node status queries, want none", n)
	}
}

func TestRetarget(t *testing.T) {
	b := nbttest.NewServer(nil)
	defer b.Close()
	a := nbttest.NewServer(nbttest.Retarget(b.Addr))
	defer a.Close()
	d := a.Dialer()
	d.Policy = nbt.PreSP5 // one session attempt: a known list of steps
	c, err := d.Dial("tcp", a.Addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.RemoteAddr().(*net.TCPAddr).AddrPort(); got != b.Addr {
		t.Errorf("conn to %v, want the retarget %v", got, b.Addr)
	}
	var addrs []netip.AddrPort
	for _, at := range c.(*nbt.Conn).Attempts() {
		addrs = append(addrs, at.Addr)
	}
	if diff := cmp.Diff([]netip.AddrPort{a.Addr, b.Addr}, addrs, cmp.Comparer(func(x, y netip.AddrPort) bool { return x == y })); diff != "" {
		t.Errorf("attempt addresses (-want +got):\n%s", diff)
	}
	echo(t, c)
}

func TestRetargetLoop(t *testing.T) {
	// A server that retargets to itself.
	srv := nbttest.NewUnstartedServer(nil)
	var addr netip.AddrPort
	srv.Handler = nbttest.HandlerFunc(func(session.Request) nbttest.Response { return nbttest.Response{Retarget: addr} })
	srv.Start()
	defer srv.Close()
	addr = srv.Addr
	d := srv.Dialer()
	d.Policy = nbt.PreSP5 // one session attempt, so the server counts one chain
	_, err := d.Dial("tcp", srv.Addr.String())
	var rl *session.RetargetLimitError
	if !errors.As(err, &rl) {
		t.Fatalf("error %v, want a *session.RetargetLimitError", err)
	}
	if len(rl.Chain) != session.SSNRetryCount {
		t.Errorf("chain %v, want %d connects", rl.Chain, session.SSNRetryCount)
	}
	if got := len(srv.Requests()); got != session.SSNRetryCount {
		t.Errorf("server saw %d requests, want %d", got, session.SSNRetryCount)
	}
}

// TestHostName dials a host name through a fake DNS server: the first
// label, cut to 15 bytes and upper-cased, is the first called name.
func TestHostName(t *testing.T) {
	long := nbns.MustName("AVERYLONGHOSTNA", nbns.FileServer)
	s := nbttest.NewServer(nbttest.AcceptOnly(long))
	defer s.Close()
	d := s.Dialer()
	d.Policy = nbt.SP5
	d.Resolver = &nbt.Resolver{DNS: fakeDNS(t, netip.MustParseAddr("127.0.0.1")), NoBroadcast: true}
	c, err := d.DialContext(t.Context(), "tcp", "averylonghostname.example.test:"+portOf(s.Addr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.(*nbt.Conn).CalledName(); got != long {
		t.Errorf("called %v, want %v", got, long)
	}
	if n := s.NodeStatusQueries(); n != 0 {
		t.Errorf("%d node status queries, want none: the label was accepted", n)
	}
}

func portOf(a netip.AddrPort) string { return strconv.Itoa(int(a.Port())) }

// fakeDNS returns a resolver whose every query for an A record is answered
// with ip by a DNS server in this process; no query leaves it.
func fakeDNS(t *testing.T, ip netip.Addr) *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
			c1, c2 := net.Pipe() // not a PacketConn: DNS over a stream, length-prefixed
			go func() {
				defer c2.Close()
				for {
					var l [2]byte
					if _, err := io.ReadFull(c2, l[:]); err != nil {
						return
					}
					buf := make([]byte, int(l[0])<<8|int(l[1]))
					if _, err := io.ReadFull(c2, buf); err != nil {
						return
					}
					var p dnsmessage.Parser
					h, err := p.Start(buf)
					if err != nil {
						return
					}
					q, err := p.Question()
					if err != nil {
						return
					}
					b := dnsmessage.NewBuilder([]byte{0, 0}, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true})
					b.StartQuestions()
					b.Question(q)
					b.StartAnswers()
					if q.Type == dnsmessage.TypeA {
						b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}, dnsmessage.AResource{A: ip.As4()})
					}
					msg, err := b.Finish()
					if err != nil {
						t.Error(err)
						return
					}
					msg[0], msg[1] = byte((len(msg)-2)>>8), byte(len(msg)-2)
					if _, err := c2.Write(msg); err != nil {
						return
					}
				}
			}()
			return c1, nil
		},
	}
}

func TestCancelAndDeadline(t *testing.T) {
	t.Run("cancel during the session request", func(t *testing.T) {
		called := make(chan struct{})
		var once sync.Once
		s := nbttest.NewServer(nbttest.HandlerFunc(func(session.Request) nbttest.Response {
			once.Do(func() { close(called) })
			return nbttest.Response{Silent: true}
		}))
		defer s.Close()
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			<-called
			cancel()
		}()
		_, err := s.Dialer().DialContext(ctx, "tcp", s.Addr.String())
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want context.Canceled", err)
		}
	})
	t.Run("cancel during node status", func(t *testing.T) {
		s := nbttest.NewUnstartedServer(nil)
		s.NameService = nbttest.DropQueries
		s.Start()
		defer s.Close()
		d := s.Dialer()
		d.Policy = nbt.SP5
		d.NameService = &nbns.Client{Timeout: time.Hour}
		ctx, cancel := context.WithCancel(t.Context())
		trace := &nbt.ClientTrace{NodeStatusStart: func(nbt.NodeStatusStartInfo) { cancel() }}
		_, err := d.DialContext(nbt.WithClientTrace(ctx, trace), "tcp", s.Addr.String())
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want context.Canceled", err)
		}
	})
	t.Run("Dialer.Timeout", func(t *testing.T) {
		s := nbttest.NewServer(nbttest.Blackhole)
		defer s.Close()
		d := s.Dialer()
		d.Timeout = 50 * time.Millisecond
		_, err := d.Dial("tcp", s.Addr.String())
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error %v, want context.DeadlineExceeded", err)
		}
		if ne, ok := errors.AsType[net.Error](err); !ok || !ne.Timeout() {
			t.Errorf("error %v is not a net.Error timeout", err)
		}
	})
	t.Run("deadline during a silent node status", func(t *testing.T) {
		s := nbttest.NewUnstartedServer(nil)
		s.NameService = nbttest.DropQueries
		s.Start()
		defer s.Close()
		d := s.Dialer()
		d.Policy, d.Timeout = nbt.SP5, 50*time.Millisecond
		d.NameService = &nbns.Client{Timeout: time.Hour}
		_, err := d.Dial("tcp", s.Addr.String())
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no answer from UDP") {
			t.Fatalf("error %v, want a deadline that names the silent UDP port", err)
		}
	})
	t.Run("the context ends after the dial", func(t *testing.T) {
		s := nbttest.NewServer(nil)
		defer s.Close()
		ctx, cancel := context.WithCancel(t.Context())
		c, err := s.Dialer().DialContext(ctx, "tcp", s.Addr.String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cancel()
		echo(t, c)
	})
}

// TestBadAddresses checks the error and its *net.OpError of addresses and
// networks that are refused; TestAddressForms has the forms accepted.
func TestBadAddresses(t *testing.T) {
	var d nbt.Dialer
	for _, tt := range []struct{ network, address, want string }{
		{"tcp6", "127.0.0.1:139", "IPv4 only"},
		{"udp", "127.0.0.1:139", "unknown network"},
		{"tcp", "[::1]:139", "IPv4 only"},
		{"tcp", "::1", "IPv4 only"},
		{"tcp", "127.0.0.1:0", "invalid port"},
		{"tcp", "127.0.0.1:no-such-service", "unknown port"},
		{"tcp", "127.0.0.1:", "missing port"},
	} {
		_, err := d.Dial(tt.network, tt.address)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Dial(%q, %q) error = %v, want one saying %q", tt.network, tt.address, err, tt.want)
		}
		if oe, ok := errors.AsType[*net.OpError](err); !ok || oe.Op != "dial" {
			t.Errorf("Dial(%q, %q) error %v is not a dial *net.OpError", tt.network, tt.address, err)
		}
	}
}

func TestPackageDial(t *testing.T) {
	s := nbttest.NewServer(nil) // accepts *SMBSERVER: no name service needed
	defer s.Close()
	c, err := nbt.Dial("tcp", s.Addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	echo(t, c)
	if got := s.Requests()[0].Calling; got.Suffix() != nbns.Workstation || got.IsZero() {
		t.Errorf("calling name %v, want this host's <00> name", got)
	}
}

func TestClientTrace(t *testing.T) {
	s := nbttest.NewServer(nbttest.RefuseNames(session.ErrCalledNameNotPresent, nbttest.SMBServer))
	defer s.Close()
	var events []string
	add := func(e string) { events = append(events, e) }
	outer := &nbt.ClientTrace{ConnectStart: func(nbt.ConnectStartInfo) { add("outer connect") }}
	trace := &nbt.ClientTrace{
		NodeStatusStart: func(i nbt.NodeStatusStartInfo) { add("node status " + i.Name.String()) },
		NodeStatusDone: func(i nbt.NodeStatusDoneInfo) {
			name, _ := i.Response.ServerName()
			add("node status done " + name.String())
		},
		ConnectStart: func(i nbt.ConnectStartInfo) { add("connect") },
		ConnectDone: func(i nbt.ConnectDoneInfo) {
			if i.Err == nil {
				add("connected")
			}
		},
		SessionRequest:  func(i nbt.SessionRequestInfo) { add("request " + i.Request.Called.String()) },
		SessionResponse: func(i nbt.SessionResponseInfo) { add("response " + i.Response.String()) },
	}
	ctx := nbt.WithClientTrace(nbt.WithClientTrace(t.Context(), outer), trace)
	d := s.Dialer()
	d.Policy = nbt.PreSP5 // one step at a time: the events come in a known order
	c, err := d.DialContext(ctx, "tcp", s.Addr.String())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	want := []string{
		"connect", "outer connect", "connected", "request *SMBSERVER<20>", "response negative: called name not present (0x82)",
		"node status *<00>", "node status done NBTTEST<20>",
		"connect", "outer connect", "connected", "request NBTTEST<20>", "response positive",
	}
	if diff := cmp.Diff(want, events); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func TestWithClientTraceNil(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("WithClientTrace(ctx, nil) did not panic")
		}
	}()
	nbt.WithClientTrace(t.Context(), nil)
}

// TestRace runs the Race policy against every KB Q251166 host. Which
// steps end first varies, so the test checks the outcome and that no
// refused name was the one returned.
func TestRace(t *testing.T) {
	refuseSMB := nbttest.RefuseNames(session.ErrCalledNameNotPresent, nbttest.SMBServer)
	anyName := []string{"*SMBSERVER<20>", "NBTTEST<20>"}
	tests := []struct {
		name       string
		handler    nbttest.Handler
		ns         nbttest.NameServiceMode
		names      []nbns.NodeName
		wantCalled []string // one of these
		wantErr    []error
		wantText   []string
	}{
		{name: "accepts *SMBSERVER", wantCalled: anyName},
		{name: "refuses *SMBSERVER", handler: refuseSMB, wantCalled: []string{"NBTTEST<20>"}},
		{name: "UDP 137 dropped", ns: nbttest.DropQueries, wantCalled: []string{"*SMBSERVER<20>"}},
		{name: "UDP 137 rejected", ns: nbttest.RejectQueries, wantCalled: []string{"*SMBSERVER<20>"}},
		{
			name: "refuses *SMBSERVER, UDP 137 dropped", handler: refuseSMB, ns: nbttest.DropQueries,
			wantErr:  []error{session.ErrCalledNameNotPresent, nbns.ErrNoResponse},
			wantText: []string{"called name not present (0x82)", "no answer from UDP"},
		},
		{
			name: "refuses *SMBSERVER, no <20> name", handler: refuseSMB,
			names:    []nbns.NodeName{{Name: nbns.MustName("PRINTER", 0), Flags: nbns.FlagActive}},
			wantErr:  []error{session.ErrCalledNameNotPresent},
			wantText: []string{"no unique active <20> name", "PRINTER<00> (unique)"},
		},
		{
			name: "refuses everything with 0x83", handler: nbttest.RefuseNames(session.ErrInsufficientResources, nbttest.SMBServer, nbttestName),
			wantErr: []error{session.ErrInsufficientResources},
		},
		{
			name:    "accepts the server name only",
			handler: nbttest.AcceptOnly(nbttestName), wantCalled: []string{"NBTTEST<20>"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := nbttest.NewUnstartedServer(tt.handler)
			s.NameService = tt.ns
			s.Names = tt.names
			s.Start()
			defer s.Close()
			d := s.Dialer()
			if d.Policy != nbt.Race {
				t.Fatalf("the zero Policy is %v, want Race", d.Policy)
			}
			c, err := d.DialContext(t.Context(), "tcp", s.Addr.String())
			if tt.wantErr != nil {
				if err == nil {
					c.Close()
					t.Fatal("dial succeeded, want an error")
				}
				for _, want := range tt.wantErr {
					if !errors.Is(err, want) {
						t.Errorf("errors.Is(err, %v) = false; err = %v", want, err)
					}
				}
				for _, want := range tt.wantText {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not say %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			nc := c.(*nbt.Conn)
			if got := nc.CalledName().String(); !slices.Contains(tt.wantCalled, got) {
				t.Errorf("CalledName() = %s, want one of %v", got, tt.wantCalled)
			}
			echo(t, nc)
		})
	}
}

// TestRaceCache: the second dial to an address asks for the name the first
// was accepted with, and sends no node status; a stale entry is forgotten
// at the host's refusal.
func TestRaceCache(t *testing.T) {
	var accept atomic.Value
	accept.Store(nbttestName)
	s := nbttest.NewServer(nbttest.HandlerFunc(func(req session.Request) nbttest.Response {
		if req.Called == accept.Load().(nbns.Name) {
			return nbttest.Response{}
		}
		return nbttest.Response{Reject: session.ErrCalledNameNotPresent}
	}))
	defer s.Close()
	d := s.Dialer()
	dial := func() (*nbt.Conn, error) {
		c, err := d.Dial("tcp", s.Addr.String())
		if err != nil {
			return nil, err
		}
		c.Close()
		return c.(*nbt.Conn), nil
	}
	if _, err := dial(); err != nil {
		t.Fatal(err)
	}
	queries := s.NodeStatusQueries()
	c, err := dial()
	if err != nil {
		t.Fatal(err)
	}
	if got := s.NodeStatusQueries(); got != queries || len(c.Attempts()) != 1 || c.CalledName() != nbttestName {
		t.Errorf("cached dial: %d new node status queries, attempts %v", got-queries, c.Attempts())
	}

	// The host now accepts *SMBSERVER only: the cached name is refused,
	// forgotten, and the dial discovers afresh.
	accept.Store(nbttest.SMBServer)
	if c, err = dial(); err != nil {
		t.Fatal(err)
	}
	if c.CalledName() != nbttest.SMBServer {
		t.Errorf("after a stale entry: called %v", c.CalledName())
	}

	if name, ok := d.Cache.Lookup("", s.Addr); !ok || name != nbttest.SMBServer {
		t.Errorf("Lookup = %v, %v; want *SMBSERVER<20>", name, ok)
	}

	// A cache turned off sends node status every time.
	d.Cache = nbt.NewNameCache(0)
	queries = s.NodeStatusQueries()
	dial()
	dial()
	if got := s.NodeStatusQueries() - queries; got != 2 {
		t.Errorf("without a cache: %d node status queries for 2 dials, want 2", got)
	}
}

// TestRaceLeavesNothing dials each KB host with the Race policy, many
// times: the losing steps are cancelled and their connections closed, and
// no goroutine or socket outlives the dials.
func TestRaceLeavesNothing(t *testing.T) {
	for _, sc := range nbttest.Scenarios() {
		t.Run(sc.Name, func(t *testing.T) {
			s := sc.Start()
			defer s.Close()
			checkNoLeaks(t) // runs after s.Close
			d := s.Dialer()
			d.Cache = nbt.NewNameCache(0) // race every time
			d.NameService = &nbns.Client{Timeout: 20 * time.Millisecond, Attempts: 1}
			for range 20 {
				c, err := d.Dial("tcp", s.Addr.String())
				if err == nil {
					c.Close()
				}
			}
		})
	}
}

// failAfter is a dialer whose connects succeed n times, then fail; past
// 100 failures it calls stop, to end a dial that does not end by itself.
type failAfter struct {
	mu   sync.Mutex
	n    int
	stop func()
	nd   net.Dialer
}

func (f *failAfter) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	f.mu.Lock()
	ok := f.n > 0
	f.n--
	if f.n < -100 {
		f.stop()
	}
	f.mu.Unlock()
	if !ok {
		return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("connection refused by the test")}
	}
	return f.nd.DialContext(ctx, network, address)
}

// TestRaceHostStopsAccepting: a host reached once that then refuses every
// connection ends the race after a bounded number of connects, not at the
// deadline.
func TestRaceHostStopsAccepting(t *testing.T) {
	s := nbttest.NewServer(nbttest.RefuseNames(session.ErrCalledNameNotPresent, nbttest.SMBServer, nbttestName))
	defer s.Close()
	d := s.Dialer()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	fa := &failAfter{n: 1, stop: cancel}
	d.NetDialer = fa
	_, err := d.DialContext(ctx, "tcp", s.Addr.String())
	if fa.n < -10 {
		t.Fatalf("%d connects refused: the race did not stop", -fa.n)
	}
	if err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want the refused connects, before the deadline", err)
	}
}

// proxyDialer stands for a SOCKS-style proxy: it reaches the address asked
// for, but its conns report the proxy's address, or one that is not TCP, as
// their RemoteAddr. It refuses to connect to its own address, which a dial
// that trusted RemoteAddr would ask for.
type proxyDialer struct {
	self  net.Addr
	mu    sync.Mutex
	asked []string
}

func (p *proxyDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	p.mu.Lock()
	p.asked = append(p.asked, address)
	p.mu.Unlock()
	if address == p.self.String() {
		return nil, errors.New("the proxy was asked to connect to itself")
	}
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return proxiedConn{c, p.self}, nil
}

type proxiedConn struct {
	net.Conn
	remote net.Addr
}

func (c proxiedConn) RemoteAddr() net.Addr { return c.remote }

// socksAddr is a RemoteAddr that is not a *net.TCPAddr.
type socksAddr string

func (a socksAddr) Network() string { return "socks" }
func (a socksAddr) String() string  { return string(a) }

// TestProxyNetDialer: through a NetDialer whose conns carry another
// address, the dial's own target is the address that retargets come back
// to and that attempts, trace and errors name. The host first retargets to
// a closed port, so that the dial must come back to it; then it retargets
// to a second host, which must be followed whatever RemoteAddr says.
func TestProxyNetDialer(t *testing.T) {
	dead := closedPort(t)
	b := nbttest.NewServer(nil)
	defer b.Close()
	for _, self := range []net.Addr{
		&net.TCPAddr{IP: net.IPv4(127, 0, 0, 9), Port: 1080},
		socksAddr("proxy.example:1080"),
	} {
		for _, p := range allPolicies {
			t.Run(self.Network()+"/"+p.String(), func(t *testing.T) {
				var n atomic.Int32
				a := nbttest.NewServer(nbttest.HandlerFunc(func(session.Request) nbttest.Response {
					switch n.Add(1) {
					case 1:
						return nbttest.Response{Retarget: dead}
					case 2:
						return nbttest.Response{Retarget: b.Addr}
					}
					return nbttest.Response{Reject: session.ErrUnspecified} // b accepts before this
				}))
				defer a.Close()
				pd := &proxyDialer{self: self}
				d := a.Dialer()
				d.Policy = p
				d.NetDialer = pd
				var traced []string
				var mu sync.Mutex
				ctx := nbt.WithClientTrace(t.Context(), &nbt.ClientTrace{ConnectStart: func(i nbt.ConnectStartInfo) {
					mu.Lock()
					traced = append(traced, i.Addr.String())
					mu.Unlock()
				}})
				c, err := d.DialContext(ctx, "tcp", a.Addr.String())
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				var attempted []string
				for _, at := range c.(*nbt.Conn).Attempts() {
					if at.Step == nbt.StepSession {
						attempted = append(attempted, at.Addr.String())
					}
				}
				// a, retargeted to dead; dead refuses; back to a, retargeted to b; b accepts.
				want := []string{a.Addr.String(), dead.String(), a.Addr.String(), b.Addr.String()}
				if diff := cmp.Diff(want, attempted); diff != "" {
					t.Errorf("session attempts (-want +got):\n%s", diff)
				}
				mu.Lock()
				defer mu.Unlock()
				if diff := cmp.Diff(want, traced); diff != "" {
					t.Errorf("ConnectStart (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(want, pd.asked); diff != "" {
					t.Errorf("connects asked of the proxy (-want +got):\n%s", diff)
				}
				echo(t, c)
			})
		}
	}
}

// TestRaceOneConnectionAtATime: a host that serves one connection at a
// time and resets any other (embedded stacks; Samba at max smbd
// processes), refusing *SMBSERVER with 0x82 and accepting its own name, on
// loopback: every one of 30 Race dials gets a session, as PreSP5's do.
func TestRaceOneConnectionAtATime(t *testing.T) {
	s := nbttest.NewUnstartedServer(nbttest.RefuseNames(session.ErrCalledNameNotPresent, nbttest.SMBServer))
	s.MaxSessions = 1
	s.Start()
	defer s.Close()
	d := s.Dialer()
	d.Cache = nbt.NewNameCache(0)
	for i := range 30 {
		c, err := d.Dial("tcp", s.Addr.String())
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		if got := c.(*nbt.Conn).CalledName(); got != nbttestName {
			t.Errorf("dial %d: called %v", i, got)
		}
		echo(t, c)
		c.Close()
	}
}

// TestDialerChangedDuringDial changes every field of a Dialer while a dial
// it started is in flight: the dial goes on with the Dialer as it was
// when it started, and (under -race) reads none of the Dialer's fields
// after it started.
func TestDialerChangedDuringDial(t *testing.T) {
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	s := nbttest.NewServer(nbttest.HandlerFunc(func(req session.Request) nbttest.Response {
		if req.Called == nbttest.SMBServer {
			once.Do(func() { close(held) })
			<-release
			return nbttest.Response{Reject: session.ErrCalledNameNotPresent}
		}
		return nbttest.Response{}
	}))
	defer s.Close()
	d := s.Dialer()
	d.Policy = nbt.PreSP5 // *SMBSERVER, refused, then node status and a second connect
	type result struct {
		c   net.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := d.Dial("tcp", s.Addr.String())
		done <- result{c, err}
	}()
	<-held
	*d = nbt.Dialer{
		Policy: nbt.SP5, CalledName: nbns.MustName("CHANGED", nbns.FileServer), Timeout: time.Nanosecond,
		NameServicePort: 1, NetDialer: &recordingDialer{}, MaxConnects: -1, Cache: nbt.NewNameCache(0),
	}
	close(release)
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.c.Close()
	if got := r.c.(*nbt.Conn).CalledName(); got != nbttestName {
		t.Errorf("called %v, want %v as the Dialer said when the dial started", got, nbttestName)
	}
}

// TestScope dials with a NetBIOS scope: node status asks within it and the
// session request's names carry it, so that the name node status found is
// the name called.
func TestScope(t *testing.T) {
	for _, p := range allPolicies {
		t.Run(p.String(), func(t *testing.T) {
			s := nbttest.NewServer(nbttest.RefuseNames(session.ErrCalledNameNotPresent, nbttest.SMBServer))
			defer s.Close()
			d := s.Dialer()
			d.Policy = p
			d.NameService.Scope = "LAB.EXAMPLE"
			c, err := d.Dial("tcp", s.Addr.String())
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
			var scopes []string
			for _, r := range s.Requests() {
				scopes = append(scopes, r.Scope)
			}
			want := []string{"LAB.EXAMPLE"}
			if p == nbt.PreSP5 {
				want = append(want, "LAB.EXAMPLE") // *SMBSERVER, refused, then NBTTEST
			}
			if diff := cmp.Diff(want, scopes); diff != "" {
				t.Errorf("scopes of the session requests (-want +got):\n%s", diff)
			}
			if got := c.(*nbt.Conn).CalledName(); got != nbttestName {
				t.Errorf("called %v, want %v", got, nbttestName)
			}
		})
	}
}
