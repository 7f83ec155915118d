package nbt_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/nbt"
	"github.com/netbios-go/netbios/nbt/nbttest"
	"github.com/netbios-go/netbios/session"
)

// closedPort returns a loopback TCP address that nothing listens on.
func closedPort(t *testing.T) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr).AddrPort()
	ln.Close()
	return addr
}

// TestDialErrorTellsTheTruth dials hosts where a step decides the outcome
// while another is still out: the error leads with the deciding step, and
// the steps the dial abandoned are listed as such but are not the
// context's error, since the caller never cancelled. The last rows are the
// negative cases: the caller's own cancel and deadline are the context's
// errors.
func TestDialErrorTellsTheTruth(t *testing.T) {
	tests := []struct {
		name      string
		policy    nbt.Policy
		tcpClosed bool // nothing listens on the session port
		handler   nbttest.Handler
		cancel    bool          // the caller cancels once node status is out
		timeout   time.Duration // the Dialer's Timeout
		wantIs    []error
		wantNotIs []error
		wantFirst string // the error text after "dial nbt ADDR: "
		abandoned bool   // node status is listed as abandoned
	}{
		{
			name: "Race/TCP 139 closed, UDP 137 silent", policy: nbt.Race, tcpClosed: true,
			wantIs: []error{syscall.ECONNREFUSED}, wantNotIs: []error{context.Canceled, nbns.ErrNoResponse},
			wantFirst: "Race: session at ", abandoned: true,
		},
		{
			name: "PreSP5/TCP 139 closed, UDP 137 silent", policy: nbt.PreSP5, tcpClosed: true,
			wantIs: []error{syscall.ECONNREFUSED}, wantNotIs: []error{context.Canceled},
			wantFirst: "PreSP5: session at ",
		},
		{
			name: "Race/0x83 with UDP 137 silent: at once", policy: nbt.Race,
			handler: nbttest.RefuseNames(session.ErrInsufficientResources, nbttest.SMBServer),
			wantIs:  []error{session.ErrInsufficientResources}, wantNotIs: []error{context.Canceled, context.DeadlineExceeded},
			wantFirst: `Race: session "*SMBSERVER<20>" at `, abandoned: true,
		},
		{
			name: "Race/0x81 with UDP 137 silent: at once", policy: nbt.Race,
			handler: nbttest.RefuseNames(session.ErrNotListeningForCallingName, nbttest.SMBServer),
			wantIs:  []error{session.ErrNotListeningForCallingName}, wantNotIs: []error{context.Canceled},
			wantFirst: `Race: session "*SMBSERVER<20>" at `, abandoned: true,
		},
		{
			name: "Race/the caller cancels", policy: nbt.Race, handler: nbttest.Blackhole, cancel: true,
			wantIs: []error{context.Canceled}, wantNotIs: []error{context.DeadlineExceeded},
		},
		{
			name: "Race/the Dialer's deadline", policy: nbt.Race, handler: nbttest.Blackhole, timeout: 50 * time.Millisecond,
			wantIs: []error{context.DeadlineExceeded}, wantNotIs: []error{context.Canceled},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := nbttest.NewUnstartedServer(tt.handler)
			s.NameService = nbttest.DropQueries
			s.Start()
			defer s.Close()
			d := s.Dialer()
			d.Policy = tt.policy
			d.Timeout = tt.timeout
			d.NameService = &nbns.Client{Timeout: time.Hour, Attempts: 1} // silent until the dial ends it
			addr := s.Addr
			if tt.tcpClosed {
				addr = closedPort(t)
			}
			ctx, stop := context.WithTimeout(t.Context(), 20*time.Second) // only a wrong dial waits this long
			defer stop()
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			if tt.cancel {
				ctx = nbt.WithClientTrace(ctx, &nbt.ClientTrace{SessionRequest: func(nbt.SessionRequestInfo) { cancel() }})
			}
			_, err := d.DialContext(ctx, "tcp", addr.String())
			if err == nil {
				t.Fatal("dial succeeded")
			}
			for _, want := range tt.wantIs {
				if !errors.Is(err, want) {
					t.Errorf("errors.Is(err, %v) = false; err = %v", want, err)
				}
			}
			for _, not := range tt.wantNotIs {
				if errors.Is(err, not) {
					t.Errorf("errors.Is(err, %v) = true; err = %v", not, err)
				}
			}
			de, ok := errors.AsType[*nbt.DialError](err)
			if !ok {
				t.Fatalf("error %v does not wrap a *nbt.DialError", err)
			}
			if !strings.HasPrefix(de.Error(), tt.wantFirst) {
				t.Errorf("DialError %q does not start with %q", de.Error(), tt.wantFirst)
			}
			var abandoned bool
			for _, a := range de.Attempts {
				if a.Step == nbt.StepNodeStatus && a.Err == nbt.ErrAbandoned {
					abandoned = true
				}
			}
			if abandoned != tt.abandoned {
				t.Errorf("node status abandoned: %v, want %v; attempts %v", abandoned, tt.abandoned, de.Attempts)
			}
			if tt.abandoned && !strings.Contains(de.Error(), "abandoned") {
				t.Errorf("DialError %q does not say which step was abandoned", de.Error())
			}
			if errors.Is(err, nbt.ErrAbandoned) {
				t.Errorf("errors.Is(err, ErrAbandoned): an abandoned step is in Unwrap: %v", err)
			}
		})
	}
}

// TestDialErrorText: the deciding step first, every other step once, in
// the order they ended; an error no step told comes first on its own.
func TestDialErrorText(t *testing.T) {
	host := netip.MustParseAddrPort("198.18.0.2:139")
	ns := netip.MustParseAddrPort("198.18.0.2:137")
	refused := &session.NegativeResponseError{Called: nbt.SMBServer, Code: session.ErrCalledNameNotPresent}
	stop := &session.NegativeResponseError{Called: nbt.SMBServer, Code: session.ErrInsufficientResources}
	silent := errors.New("no response to node status after 3 attempts in 2.25s")
	noServer := errors.New("nbns: no unique active <20> name in node status reply")
	smb := nbt.Attempt{Step: nbt.StepSession, Addr: host, Name: nbt.SMBServer, Err: refused, Duration: 2 * time.Millisecond}
	tests := []struct {
		name string
		e    nbt.DialError
		want string
	}{
		{
			name: "the deciding step last",
			e: nbt.DialError{Policy: nbt.PreSP5, Err: silent, Attempts: []nbt.Attempt{
				smb,
				{Step: nbt.StepNodeStatus, Addr: ns, Name: nbns.Wildcard(), Err: silent, Duration: 2250 * time.Millisecond},
			}},
			want: `PreSP5: node status at 198.18.0.2:137: no response to node status after 3 attempts in 2.25s (2.25s); ` +
				`other steps: session "*SMBSERVER<20>" at 198.18.0.2:139: called name not present (0x82) (2ms)`,
		},
		{
			name: "the deciding step first, an abandoned one after",
			e: nbt.DialError{Policy: nbt.Race, Err: stop, Attempts: []nbt.Attempt{
				{Step: nbt.StepSession, Addr: host, Name: nbt.SMBServer, Err: stop, Duration: time.Millisecond},
				{Step: nbt.StepNodeStatus, Addr: ns, Name: nbns.Wildcard(), Err: nbt.ErrAbandoned, Duration: time.Millisecond},
			}},
			want: `Race: session "*SMBSERVER<20>" at 198.18.0.2:139: called name present, but insufficient resources (0x83) (1ms); ` +
				`other steps: node status at 198.18.0.2:137: abandoned: the dial no longer needed it (1ms)`,
		},
		{
			name: "an error no step told",
			e: nbt.DialError{Policy: nbt.Race, Err: noServer, Attempts: []nbt.Attempt{
				{Step: nbt.StepNodeStatus, Addr: ns, Name: nbns.Wildcard(), Duration: time.Millisecond},
				smb,
			}},
			want: `Race: nbns: no unique active <20> name in node status reply; ` +
				`other steps: node status at 198.18.0.2:137: answered (1ms); ` +
				`session "*SMBSERVER<20>" at 198.18.0.2:139: called name not present (0x82) (2ms)`,
		},
		{
			name: "no steps",
			e:    nbt.DialError{Policy: nbt.SP5, Err: context.Canceled},
			want: `context canceled`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.e.Error()); diff != "" {
				t.Errorf("Error() (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDialErrorUnwrap: every step's error but an abandoned one.
func TestDialErrorUnwrap(t *testing.T) {
	refused := session.ErrCalledNameNotPresent
	e := &nbt.DialError{Err: syscall.ECONNREFUSED, Attempts: []nbt.Attempt{
		{Step: nbt.StepSession, Err: refused},
		{Step: nbt.StepNodeStatus, Err: nbt.ErrAbandoned},
		{Step: nbt.StepSession, Err: syscall.ECONNREFUSED},
		{Step: nbt.StepNodeStatus},
	}}
	want := []error{syscall.ECONNREFUSED, refused}
	if diff := cmp.Diff(want, e.Unwrap(), cmp.Comparer(func(a, b error) bool { return a == b })); diff != "" {
		t.Errorf("Unwrap (-want +got):\n%s", diff)
	}
}

// TestDialErrorRetargetRefused: a host that retargets, each time the dial
// comes back to it, to a port that refuses the connect ends the dial with
// an error that tells the refusal, not only that retargets did not end.
func TestDialErrorRetargetRefused(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().(*net.TCPAddr).AddrPort()
	l.Close()
	s := nbttest.NewServer(nbttest.Retarget(dead))
	defer s.Close()
	d := s.Dialer()
	d.CalledName = nbt.SMBServer
	_, err = d.Dial("tcp", s.Addr.String())
	want := "the retarget to " + dead.String() + " failed: connect: connection refused"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want it to contain %q", err, want)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("errors.Is(%v, ECONNREFUSED) = false", err)
	}
}
