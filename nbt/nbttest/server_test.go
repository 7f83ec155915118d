package nbttest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/nbt"
	"github.com/netbios-go/netbios/session"
)

var nameCmp = cmp.Comparer(func(a, b nbns.Name) bool { return a == b })

// errAny stands for any error in a table.
var errAny = errors.New("any error")

var quick = &nbns.Client{Timeout: 100 * time.Millisecond, Attempts: 2}

func TestNameService(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(s *Server)
		query   nbns.Name
		client  *nbns.Client // nil: quick
		wantErr error
	}{
		{name: "answer wildcard", setup: func(*Server) {}, query: nbns.Wildcard()},
		{name: "answer own name", setup: func(*Server) {}, query: nbns.MustName("NBTTEST", nbns.FileServer)},
		{name: "unknown name is silence", setup: func(*Server) {}, query: nbns.MustName("OTHER", nbns.FileServer), wantErr: nbns.ErrNoResponse},
		{name: "drop", setup: func(s *Server) { s.NameService = DropQueries }, query: nbns.Wildcard(), wantErr: nbns.ErrNoResponse},
		{name: "reject", setup: func(s *Server) { s.NameService = RejectQueries }, query: nbns.Wildcard(), wantErr: nbns.ErrPortUnreachable},
		{name: "late, after the first attempts", setup: func(s *Server) { s.NameDelay = 100 * time.Millisecond }, query: nbns.Wildcard(),
			client: &nbns.Client{Timeout: 30 * time.Millisecond, Attempts: 100}},
		{name: "every forgery first", setup: func(s *Server) { s.Forgeries = Forgeries }, query: nbns.Wildcard()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewUnstartedServer(nil)
			tt.setup(s)
			s.Start()
			defer s.Close()
			c := tt.client
			if c == nil {
				c = quick
			}
			r, err := c.NodeStatusName(t.Context(), s.NameAddr, tt.query)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("NodeStatus error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(Table("NBTTEST", "WORKGROUP"), r.Names, nameCmp); diff != "" {
				t.Errorf("names (-want +got):\n%s", diff)
			}
			if r.Name != tt.query {
				t.Errorf("RR_NAME %v, want the question %v", r.Name, tt.query)
			}
			if got := s.NodeStatusQueries(); got < 1 {
				t.Errorf("NodeStatusQueries() = %d", got)
			}
		})
	}
}

// dial opens a session with the server's session service.
func dial(t *testing.T, s *Server, called nbns.Name) (*session.Conn, error) {
	t.Helper()
	req := session.Request{Called: called, Calling: nbns.MustName("TESTER", nbns.Workstation)}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	return (&session.Dialer{}).DialContext(ctx, s.Addr, req)
}

func TestSessionService(t *testing.T) {
	labsrv := nbns.MustName("LABSRV", nbns.FileServer)
	other := NewServer(nil)
	defer other.Close()
	tests := []struct {
		name    string
		h       Handler
		called  nbns.Name
		wantErr error
	}{
		{name: "echo", h: nil, called: SMBServer},
		{name: "refuse *SMBSERVER", h: RefuseNames(session.ErrCalledNameNotPresent, SMBServer), called: SMBServer, wantErr: session.ErrCalledNameNotPresent},
		{name: "refuse *SMBSERVER, accept the name", h: RefuseNames(session.ErrCalledNameNotPresent, SMBServer), called: labsrv},
		{name: "accept only", h: AcceptOnly(labsrv), called: SMBServer, wantErr: session.ErrCalledNameNotPresent},
		{name: "insufficient resources", h: RefuseNames(session.ErrInsufficientResources, labsrv), called: labsrv, wantErr: session.ErrInsufficientResources},
		{name: "retarget", h: Retarget(other.Addr), called: labsrv},
		{name: "keep-alives, then late", h: HandlerFunc(func(session.Request) Response {
			return Response{KeepAlives: 3, Delay: 10 * time.Millisecond}
		}), called: labsrv},
		{name: "hostile length", h: HandlerFunc(func(session.Request) Response {
			return Response{Raw: []byte{0x82, 0, 0xFF, 0xFF}}
		}), called: labsrv, wantErr: errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewServer(tt.h)
			defer s.Close()
			c, err := dial(t, s, tt.called)
			if tt.wantErr != nil {
				if err == nil {
					c.Close()
				}
				if err == nil || tt.wantErr != errAny && !errors.Is(err, tt.wantErr) {
					t.Fatalf("dial error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.WriteMessage([]byte("hello")); err != nil {
				t.Fatal(err)
			}
			got, err := c.ReadMessage(nil)
			if err != nil || string(got) != "hello" {
				t.Fatalf("echo = %q, %v", got, err)
			}
			if reqs := s.Requests(); len(reqs) != 1 || reqs[0].Called != tt.called {
				t.Errorf("Requests() = %v, want one for %v", reqs, tt.called)
			}
			if got := s.Connections(); got != 1 {
				t.Errorf("Connections() = %d, want 1", got)
			}
		})
	}
}

// TestCloseEndsWaits checks that Close ends a session the handler holds
// open, and a late answer, without waiting for them.
func TestCloseEndsWaits(t *testing.T) {
	for _, resp := range []Response{{Silent: true}, {Delay: time.Hour}} {
		called := make(chan struct{})
		s := NewServer(HandlerFunc(func(session.Request) Response {
			close(called)
			return resp
		}))
		nc, err := net.Dial("tcp", s.Addr.String())
		if err != nil {
			t.Fatal(err)
		}
		req, _ := (&session.Request{Called: SMBServer, Calling: SMBServer}).MarshalBinary()
		if _, err := nc.Write(req); err != nil {
			t.Fatal(err)
		}
		<-called
		s.Close() // must not wait an hour
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if b, err := io.ReadAll(nc); err != nil || len(b) != 0 {
			t.Errorf("after Close: read % x, %v; want EOF and no answer", b, err)
		}
		nc.Close()
	}
}

func TestMalformedRequest(t *testing.T) {
	s := NewServer(nil)
	defer s.Close()
	nc, err := net.Dial("tcp", s.Addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	req, _ := (&session.Request{Called: SMBServer, Calling: SMBServer}).MarshalBinary()
	req[5] = 'Q' // not a first-level encoding letter
	nc.Write(req)
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(nc)
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{0x83, 0, 0, 1, 0x82}; !bytes.Equal(got, want) {
		t.Errorf("answer % x, want % x", got, want)
	}
}

func TestCloseIdempotent(t *testing.T) {
	s := NewServer(nil)
	s.Close()
	s.Close()
	NewUnstartedServer(nil).Close()
	if s.Addr == (netip.AddrPort{}) || s.NameAddr == (netip.AddrPort{}) {
		t.Error("addresses not set")
	}
}

// TestNameServiceOnNetwork checks in virtual time the name service of a
// Server on a Network: an answer takes one round trip, a refusal too.
func TestNameServiceOnNetwork(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(s *Server)
		query   nbns.Name
		want    time.Duration
		wantErr error
	}{
		{name: "answer", setup: func(*Server) {}, query: nbns.Wildcard(), want: 2 * delay},
		{name: "answer late", setup: func(s *Server) { s.NameDelay = 30 * time.Millisecond }, query: nbns.Wildcard(),
			want: 2*delay + 30*time.Millisecond},
		{name: "every forgery first", setup: func(s *Server) { s.Forgeries = Forgeries }, query: nbns.Wildcard(), want: 2 * delay},
		{name: "unknown name is silence", setup: func(*Server) {}, query: nbns.MustName("OTHER", nbns.FileServer),
			want: 300 * time.Millisecond, wantErr: nbns.ErrNoResponse},
		{name: "drop", setup: func(s *Server) { s.NameService = DropQueries }, query: nbns.Wildcard(),
			want: 300 * time.Millisecond, wantErr: nbns.ErrNoResponse},
		{name: "reject", setup: func(s *Server) { s.NameService = RejectQueries }, query: nbns.Wildcard(),
			want: 2 * delay, wantErr: nbns.ErrPortUnreachable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := NewNetwork(delay)
				s := NewUnstartedServer(nil)
				s.Network = n
				tt.setup(s)
				s.Start()
				defer s.Close()
				c := &nbns.Client{Timeout: 100 * time.Millisecond, Attempts: 3, Dialer: n.Dialer()}
				start := time.Now()
				r, err := c.NodeStatusName(t.Context(), s.NameAddr, tt.query)
				if got := time.Since(start); got != tt.want {
					t.Errorf("took %v, want %v", got, tt.want)
				}
				if tt.wantErr != nil {
					if !errors.Is(err, tt.wantErr) {
						t.Fatalf("NodeStatus error = %v, want %v", err, tt.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(Table("NBTTEST", "WORKGROUP"), r.Names, nameCmp); diff != "" {
					t.Errorf("names (-want +got):\n%s", diff)
				}
				if got := s.NodeStatusQueries(); got != 1 {
					t.Errorf("NodeStatusQueries() = %d, want 1", got)
				}
			})
		})
	}
}

// TestDialOnNetwork dials a Server on a Network with an nbt.Dialer and
// counts, in virtual time, the round trips, connections and queries each
// policy spends.
func TestDialOnNetwork(t *testing.T) {
	const rtt = 2 * delay
	nbttest := nbns.MustName("NBTTEST", nbns.FileServer)
	refuse := RefuseNames(session.ErrCalledNameNotPresent, SMBServer)
	tests := []struct {
		name        string
		policy      nbt.Policy
		h           Handler
		ns          NameServiceMode
		want        time.Duration
		wantErr     error
		connections int
		queries     int
		called      []nbns.Name
	}{
		{name: "PreSP5, accepts *SMBSERVER", policy: nbt.PreSP5, h: Echo,
			want: 2 * rtt, connections: 1, called: []nbns.Name{SMBServer}},
		{name: "PreSP5, accepts *SMBSERVER, UDP 137 dropped", policy: nbt.PreSP5, h: Echo, ns: DropQueries,
			want: 2 * rtt, connections: 1, called: []nbns.Name{SMBServer}},
		{name: "PreSP5, refuses *SMBSERVER", policy: nbt.PreSP5, h: refuse,
			want: 5 * rtt, connections: 2, queries: 1, called: []nbns.Name{SMBServer, nbttest}},
		{name: "SP5", policy: nbt.SP5, h: Echo,
			want: 3 * rtt, connections: 1, queries: 1, called: []nbns.Name{nbttest}},
		{name: "SP5, UDP 137 rejected", policy: nbt.SP5, h: Echo, ns: RejectQueries,
			want: rtt, wantErr: nbns.ErrPortUnreachable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := NewNetwork(delay)
				s := NewUnstartedServer(tt.h)
				s.NameService = tt.ns
				s.Network = n
				s.Start()
				defer s.Close()
				d := s.Dialer()
				d.Policy = tt.policy
				d.Cache = nbt.NewNameCache(0)
				start := time.Now()
				c, err := d.DialContext(t.Context(), "tcp4", s.Addr.String())
				if got := time.Since(start); got != tt.want {
					t.Errorf("dial took %v (%.1f round trips), want %v", got, float64(got)/float64(rtt), tt.want)
				}
				if tt.wantErr != nil {
					if !errors.Is(err, tt.wantErr) {
						t.Fatalf("dial error = %v, want %v", err, tt.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()

				start = time.Now()
				msg := []byte{0, 0, 0, 4, 'p', 'i', 'n', 'g'} // a session message
				if _, err := c.Write(msg); err != nil {
					t.Fatal(err)
				}
				echo := make([]byte, len(msg))
				if _, err := io.ReadFull(c, echo); err != nil || !bytes.Equal(echo, msg) {
					t.Fatalf("echo % x, %v; want % x", echo, err, msg)
				}
				if got := time.Since(start); got != rtt {
					t.Errorf("echo took %v, want %v", got, rtt)
				}

				var called []nbns.Name
				for _, r := range s.Requests() {
					called = append(called, r.Called)
				}
				type counts struct{ Connections, Connects, Queries int }
				want := counts{tt.connections, tt.connections, tt.queries}
				got := counts{s.Connections(), n.Connects(s.Addr), s.NodeStatusQueries()}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("counts (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(tt.called, called, nameCmp); diff != "" {
					t.Errorf("called names (-want +got):\n%s", diff)
				}
			})
		})
	}
}

// TestServerOnNetwork checks the addresses of Servers on a Network and
// the Dialer they return.
func TestServerOnNetwork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := NewNetwork(delay)
		var got []netip.AddrPort
		for _, ns := range []NameServiceMode{AnswerQueries, RejectQueries} {
			s := NewUnstartedServer(nil)
			s.Network = n
			s.NameService = ns
			s.Start()
			defer s.Close()
			got = append(got, s.Addr, s.NameAddr)
			d := s.Dialer()
			if d.NetDialer == nil || d.NameService == nil || d.NameService.Dialer == nil || d.NameServicePort != nbns.Port {
				t.Errorf("Dialer() = %+v, want the Network's dialers and port 137", d)
			}
		}
		want := []netip.AddrPort{
			netip.MustParseAddrPort("198.18.0.2:139"), netip.MustParseAddrPort("198.18.0.2:137"),
			netip.MustParseAddrPort("198.18.0.3:139"), netip.MustParseAddrPort("198.18.0.3:137"),
		}
		if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
			t.Errorf("addresses (-want +got):\n%s", diff)
		}
	})
}

// TestMaxSessions checks that a Server serving MaxSessions resets the
// next connection, on loopback and on a Network, where the reset comes
// exactly when it should: the session request goes out with the ACK at
// 2d, the server accepts and resets at 3d, and the RST is back at 4d.
func TestMaxSessions(t *testing.T) {
	t.Run("loopback", func(t *testing.T) { testMaxSessions(t, nil) })
	t.Run("network", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) { testMaxSessions(t, NewNetwork(delay)) })
	})
}

func testMaxSessions(t *testing.T, n *Network) {
	s := NewUnstartedServer(nil)
	s.MaxSessions = 1
	s.Network = n
	s.Start()
	defer s.Close()
	var d session.Dialer
	if n != nil {
		d.NetDialer = n.Dialer()
	}
	req := session.Request{Called: SMBServer, Calling: nbns.MustName("TESTER", nbns.Workstation)}
	c1, err := d.DialContext(t.Context(), s.Addr, req)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()

	start := time.Now()
	c2, err := d.DialContext(t.Context(), s.Addr, req)
	if err == nil {
		c2.Close()
		t.Fatal("second session while the first is served: no error")
	}
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		t.Errorf("second session: %v, want a reset", err)
	}
	if got := time.Since(start); n != nil && got != 4*delay {
		t.Errorf("reset after %v, want %v", got, 4*delay)
	}
	if err := c1.WriteMessage([]byte("still here")); err != nil {
		t.Fatal(err)
	}
	if got, err := c1.ReadMessage(nil); err != nil || string(got) != "still here" {
		t.Fatalf("first session after the reset: %q, %v", got, err)
	}
	if got := s.Connections(); got != 2 {
		t.Errorf("Connections() = %d, want 2", got)
	}
	if n == nil {
		return // on loopback, when the server sees the first one end is a race
	}

	// The FIN of c1 reaches the server at d; the next connection at 3d.
	c1.Close()
	c3, err := d.DialContext(t.Context(), s.Addr, req)
	if err != nil {
		t.Fatalf("session after the first one ended: %v", err)
	}
	c3.Close()
	if got := s.Connections(); got != 3 {
		t.Errorf("Connections() = %d, want 3", got)
	}
}
