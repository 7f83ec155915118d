package nbttest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/netbios-go/netbios/nbns"
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
	return (&session.Dialer{}).Dial(ctx, s.Addr, req)
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
