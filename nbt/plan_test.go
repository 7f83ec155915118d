package nbt

import (
	"context"
	"errors"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/session"
)

// The plan's tests are event scripts: each line feeds the plan one event
// at a time since the dial's start and lists the actions it must return,
// written as the shell reads them.

var (
	real  = nbns.MustName("REAL", nbns.FileServer)  // the server's name, from node status
	alpha = nbns.MustName("ALPHA", nbns.FileServer) // a host name's label
	typo  = nbns.MustName("TYPO", nbns.FileServer)

	errRefused     = &session.NegativeResponseError{Code: session.ErrCalledNameNotPresent}
	errNotListen   = &session.NegativeResponseError{Code: session.ErrNotListeningOnCalledName}
	errConnRefused = syscall.ECONNREFUSED
	errReset       = syscall.ECONNRESET
	errSilent      = errors.New("no response to node status") // stands for nbns's error
	errICMP        = errors.New("port unreachable")
	errNo20        = errors.New("no unique active <20> name")
)

// line is one event of a script, at since the start, and the actions the
// plan must answer it with.
type line struct {
	at   time.Duration
	ev   event // nil: the start
	want []string
}

func up(conn int, took time.Duration) event { return connectDone{conn: conn, took: took} }
func connFailed(conn int, err error) event  { return connectDone{conn: conn, err: err} }
func status(name nbns.Name) event           { return statusDone{name: name} }
func statusErr(err error) event             { return statusDone{err: err} }
func positive(conn int) event               { return sessionDone{conn: conn} }
func answered(conn int, err error) event    { return sessionDone{conn: conn, err: err} }

// show writes an action as the scripts do: "connect 0", "query",
// "session 0 REAL<20>", "close 1", "wake 75ms".
func show(a action, t0 time.Time) string {
	switch a := a.(type) {
	case doConnect:
		return "connect " + strconv.Itoa(a.conn)
	case doQuery:
		return "query"
	case doSession:
		return "session " + strconv.Itoa(a.conn) + " " + a.name.String()
	case doClose:
		return "close " + strconv.Itoa(a.conn)
	case doWake:
		return "wake " + a.at.Sub(t0).String()
	}
	return "?"
}

func TestPlan(t *testing.T) {
	const rtt = 50 * time.Millisecond
	tests := []struct {
		name                  string
		policy                Policy
		called, cached, label nbns.Name
		script                []line
		winner                int   // -1: the dial fails
		err                   error // the error it reports, compared with ==
	}{
		{
			name: "Race/cache hit: one connection, no node status", cached: real,
			script: []line{
				{0, nil, []string{"connect 0"}},
				{rtt, up(0, rtt), []string{"session 0 REAL<20>"}},
				{2 * rtt, positive(0), nil},
			},
			winner: 0,
		},
		{
			name: "Race/stale cache: refused, then discovery", cached: typo,
			script: []line{
				{0, nil, []string{"connect 0"}},
				{rtt, up(0, rtt), []string{"session 0 TYPO<20>"}},
				{2 * rtt, answered(0, errRefused), []string{"query", "connect 1"}},
				{3 * rtt, up(1, rtt), []string{"wake 175ms"}},
				{3*rtt + 1, status(real), []string{"session 1 REAL<20>"}},
				{4 * rtt, positive(1), nil},
			},
			winner: 1,
		},
		{
			name: "Race/node status before the connect",
			script: []line{
				{0, nil, []string{"query", "connect 0"}},
				{rtt - 1, status(real), nil},
				{rtt, up(0, rtt), []string{"session 0 REAL<20>"}},
				{2 * rtt, positive(0), nil},
			},
			winner: 0,
		},
		{
			name: "Race/node status just after the connect, within the grace",
			script: []line{
				{0, nil, []string{"query", "connect 0"}},
				{rtt, up(0, rtt), []string{"wake 75ms"}},
				{rtt + 3*time.Millisecond, status(real), []string{"session 0 REAL<20>"}},
				{75 * time.Millisecond, wake{}, nil},
				{2*rtt + 3*time.Millisecond, positive(0), nil},
			},
			winner: 0,
		},
		{
			name: "Race/silent UDP: *SMBSERVER after the grace, on the one connection",
			script: []line{
				{0, nil, []string{"query", "connect 0"}},
				{rtt, up(0, rtt), []string{"wake 75ms"}},
				{75 * time.Millisecond, wake{}, []string{"session 0 *SMBSERVER<20>"}},
				{125 * time.Millisecond, positive(0), nil},
			},
			winner: 0,
		},
		{
			name: "Race/0x82, then the server's name on a second connection",
			script: []line{
				{0, nil, []string{"query", "connect 0"}},
				{rtt, up(0, rtt), []string{"wake 75ms"}},
				{75 * time.Millisecond, wake{}, []string{"session 0 *SMBSERVER<20>"}},
				{125 * time.Millisecond, answered(0, errRefused), []string{"connect 1"}},
				{130 * time.Millisecond, status(real), nil},
				{175 * time.Millisecond, up(1, rtt), []string{"session 1 REAL<20>"}},
				{225 * time.Millisecond, positive(1), nil},
			},
			winner: 1,
		},
		{
			name: "Race/0x80 also moves on",
			script: []line{
				{0, nil, []string{"query", "connect 0"}},
				{rtt, statusErr(errICMP), nil},
				{rtt, up(0, rtt), []string{"session 0 *SMBSERVER<20>"}},
				{2 * rtt, answered(0, errNotListen), nil},
			},
			winner: -1, err: errICMP,
		},
		{
			name: "Race/ICMP before the connect: *SMBSERVER at once",
			script: []line{
				{0, nil, []string{"query", "connect 0"}},
				{rtt - 1, statusErr(errICMP), nil},
				{rtt, up(0, rtt), []string{"session 0 *SMBSERVER<20>"}},
				{2 * rtt, positive(0), nil},
			},
			winner: 0,
		},
		{
			name: "Race/ICMP within the grace: *SMBSERVER at once",
			script: []line{
				{0, nil, []string{"query", "connect 0"}},
				{rtt, up(0, rtt), []string{"wake 75ms"}},
				{rtt + 1, statusErr(errICMP), []string{"session 0 *SMBSERVER<20>"}},
				{2 * rtt, positive(0), nil},
			},
			winner: 0,
		},
		{
			name: "Race/a host name: its label, then *SMBSERVER", label: alpha,
			script: []line{
				{0, nil, []string{"query", "connect 0"}},
				{rtt, up(0, rtt), []string{"wake 75ms"}},
				{75 * time.Millisecond, wake{}, []string{"session 0 ALPHA<20>"}},
				{125 * time.Millisecond, answered(0, errRefused), []string{"connect 1"}},
				{175 * time.Millisecond, up(1, rtt), []string{"session 1 *SMBSERVER<20>"}},
				{225 * time.Millisecond, positive(1), nil},
			},
			winner: 1,
		},
		{
			name: "Race/the server's name comes first, before the label", label: alpha,
			script: []line{
				{0, nil, []string{"query", "connect 0"}},
				{rtt - 1, status(real), nil},
				{rtt, up(0, rtt), []string{"session 0 REAL<20>"}},
				{2 * rtt, positive(0), nil},
			},
			winner: 0,
		},
		{
			name: "Race/a LAN's round trip: the grace has a floor",
			script: []line{
				{0, nil, []string{"query", "connect 0"}},
				{100 * time.Microsecond, up(0, 100*time.Microsecond), []string{"wake 2.1ms"}},
				{time.Millisecond, status(real), []string{"session 0 REAL<20>"}},
				{1200 * time.Microsecond, positive(0), nil},
			},
			winner: 0,
		},
		{
			name: "Race/a slow connect: the grace has a ceiling",
			script: []line{
				{0, nil, []string{"query", "connect 0"}},
				{3 * time.Second, up(0, 3*time.Second), []string{"wake 3.5s"}},
				{3500 * time.Millisecond, wake{}, []string{"session 0 *SMBSERVER<20>"}},
				{3600 * time.Millisecond, positive(0), nil},
			},
			winner: 0,
		},
		{
			name: "Race/0x83 stops at once, node status pending",
			script: []line{
				{0, nil, []string{"query", "connect 0"}},
				{rtt, up(0, rtt), []string{"wake 75ms"}},
				{75 * time.Millisecond, wake{}, []string{"session 0 *SMBSERVER<20>"}},
				{125 * time.Millisecond, answered(0, session.ErrInsufficientResources), nil},
			},
			winner: -1, err: session.ErrInsufficientResources,
		},
		{
			name: "Race/0x81 stops", cached: real,
			script: []line{
				{0, nil, []string{"connect 0"}},
				{rtt, up(0, rtt), []string{"session 0 REAL<20>"}},
				{2 * rtt, answered(0, session.ErrNotListeningForCallingName), nil},
			},
			winner: -1, err: session.ErrNotListeningForCallingName,
		},
		{
			name: "Race/0x8F stops",
			script: []line{
				{0, nil, []string{"query", "connect 0"}},
				{rtt - 1, status(real), nil},
				{rtt, up(0, rtt), []string{"session 0 REAL<20>"}},
				{2 * rtt, answered(0, session.ErrUnspecified), nil},
			},
			winner: -1, err: session.ErrUnspecified,
		},
		{
			name: "Race/TCP refused: the connect decides at once, not node status",
			script: []line{
				{0, nil, []string{"query", "connect 0"}},
				{rtt, connFailed(0, errConnRefused), nil},
			},
			winner: -1, err: errConnRefused,
		},
		{
			name: "Race/a host that stops accepting: three failed connects",
			script: []line{
				{0, nil, []string{"query", "connect 0"}},
				{rtt, up(0, rtt), []string{"wake 75ms"}},
				{75 * time.Millisecond, wake{}, []string{"session 0 *SMBSERVER<20>"}},
				{125 * time.Millisecond, answered(0, errRefused), []string{"connect 1"}},
				{175 * time.Millisecond, connFailed(1, errConnRefused), []string{"wake 185ms"}},
				{185 * time.Millisecond, wake{}, []string{"connect 2"}},
				{235 * time.Millisecond, connFailed(2, errConnRefused), []string{"wake 255ms"}},
				{255 * time.Millisecond, wake{}, []string{"connect 3"}},
				{305 * time.Millisecond, connFailed(3, errConnRefused), nil},
			},
			winner: -1, err: errConnRefused,
		},
		{
			name: "Race/a host that serves one connection at a time: reset, asked again",
			script: []line{
				{0, nil, []string{"query", "connect 0"}},
				{rtt - 1, status(real), nil},
				{rtt, up(0, rtt), []string{"session 0 REAL<20>"}},
				{2 * rtt, answered(0, errReset), []string{"wake 110ms"}},
				{2*rtt + 5*time.Millisecond, status(real), nil}, // no connect before the backoff
				{110 * time.Millisecond, wake{}, []string{"connect 1"}},
				{160 * time.Millisecond, up(1, rtt), []string{"session 1 REAL<20>"}},
				{210 * time.Millisecond, positive(1), nil},
			},
			winner: 1,
		},
		{
			name: "Race/a host busy with another connection resets the connect: connect again",
			script: []line{
				{0, nil, []string{"query", "connect 0"}},
				{rtt, connFailed(0, errReset), []string{"wake 60ms"}},
				{rtt, status(real), nil},
				{60 * time.Millisecond, wake{}, []string{"connect 1"}},
				{110 * time.Millisecond, up(1, rtt), []string{"session 1 REAL<20>"}},
				{160 * time.Millisecond, positive(1), nil},
			},
			winner: 1,
		},
		{
			name: "Race/closed before the answer, three times",
			script: []line{
				{0, nil, []string{"query", "connect 0"}},
				{rtt - 1, status(real), nil},
				{rtt, up(0, rtt), []string{"session 0 REAL<20>"}},
				{2 * rtt, answered(0, session.ErrClosedBeforeAnswer), []string{"wake 110ms"}},
				{110 * time.Millisecond, wake{}, []string{"connect 1"}},
				{160 * time.Millisecond, up(1, rtt), []string{"session 1 REAL<20>"}},
				{210 * time.Millisecond, answered(1, session.ErrClosedBeforeAnswer), []string{"wake 230ms"}},
				{230 * time.Millisecond, wake{}, []string{"connect 2"}},
				{280 * time.Millisecond, up(2, rtt), []string{"session 2 REAL<20>"}},
				{330 * time.Millisecond, answered(2, session.ErrClosedBeforeAnswer), nil},
			},
			winner: -1, err: session.ErrClosedBeforeAnswer,
		},
		{
			name: "Race/a late connection, after a stop code, gets no request",
			script: []line{
				{0, nil, []string{"query", "connect 0"}},
				{rtt, up(0, rtt), []string{"wake 75ms"}},
				{75 * time.Millisecond, wake{}, []string{"session 0 *SMBSERVER<20>"}},
				{125 * time.Millisecond, answered(0, errRefused), []string{"connect 1"}},
				{126 * time.Millisecond, cancelled{context.DeadlineExceeded}, nil},
				{175 * time.Millisecond, up(1, rtt), nil},
			},
			winner: -1, err: context.DeadlineExceeded,
		},
		{
			name: "Race/the spare waits for node status, which fails",
			script: []line{
				{0, nil, []string{"query", "connect 0"}},
				{rtt, up(0, rtt), []string{"wake 75ms"}},
				{75 * time.Millisecond, wake{}, []string{"session 0 *SMBSERVER<20>"}},
				{125 * time.Millisecond, answered(0, errRefused), []string{"connect 1"}},
				{175 * time.Millisecond, up(1, rtt), nil},
				{2250 * time.Millisecond, statusErr(errSilent), []string{"close 1"}},
			},
			winner: -1, err: errSilent,
		},
		{
			name: "Race/no <20> name in the table, *SMBSERVER refused",
			script: []line{
				{0, nil, []string{"query", "connect 0"}},
				{rtt - 1, statusErr(errNo20), nil},
				{rtt, up(0, rtt), []string{"session 0 *SMBSERVER<20>"}},
				{2 * rtt, answered(0, errRefused), nil},
			},
			winner: -1, err: errNo20,
		},
		{
			name: "Race/the host refuses its own name, then *SMBSERVER: the last refusal",
			script: []line{
				{0, nil, []string{"query", "connect 0"}},
				{rtt - 1, status(real), nil},
				{rtt, up(0, rtt), []string{"session 0 REAL<20>"}},
				{2 * rtt, answered(0, errNotListen), []string{"connect 1"}},
				{3 * rtt, up(1, rtt), []string{"session 1 *SMBSERVER<20>"}},
				{4 * rtt, answered(1, errRefused), nil},
			},
			winner: -1, err: errRefused,
		},
		{
			name: "Race/the caller cancels",
			script: []line{
				{0, nil, []string{"query", "connect 0"}},
				{rtt, up(0, rtt), []string{"wake 75ms"}},
				{60 * time.Millisecond, cancelled{context.Canceled}, []string{"close 0"}},
			},
			winner: -1, err: context.Canceled,
		},
		{
			name: "Race/a stale wake is ignored",
			script: []line{
				{0, nil, []string{"query", "connect 0"}},
				{rtt, up(0, rtt), []string{"wake 75ms"}},
				{rtt + 1, status(real), []string{"session 0 REAL<20>"}},
				{75 * time.Millisecond, wake{}, nil},
				{2 * rtt, positive(0), nil},
				{2 * rtt, wake{}, nil},
			},
			winner: 0,
		},

		{
			name: "PreSP5/*SMBSERVER accepted: no node status", policy: PreSP5,
			script: []line{
				{0, nil, []string{"connect 0"}},
				{rtt, up(0, rtt), []string{"session 0 *SMBSERVER<20>"}},
				{2 * rtt, positive(0), nil},
			},
			winner: 0,
		},
		{
			name: "PreSP5/*SMBSERVER refused: node status, then the server's name", policy: PreSP5,
			script: []line{
				{0, nil, []string{"connect 0"}},
				{rtt, up(0, rtt), []string{"session 0 *SMBSERVER<20>"}},
				{2 * rtt, answered(0, errRefused), []string{"query"}},
				{3 * rtt, status(real), []string{"connect 1"}},
				{4 * rtt, up(1, rtt), []string{"session 1 REAL<20>"}},
				{5 * rtt, positive(1), nil},
			},
			winner: 1,
		},
		{
			name: "PreSP5/a host name: the label, *SMBSERVER, node status", policy: PreSP5, label: alpha,
			script: []line{
				{0, nil, []string{"connect 0"}},
				{rtt, up(0, rtt), []string{"session 0 ALPHA<20>"}},
				{2 * rtt, answered(0, errRefused), []string{"connect 1"}},
				{3 * rtt, up(1, rtt), []string{"session 1 *SMBSERVER<20>"}},
				{4 * rtt, answered(1, errRefused), []string{"query"}},
				{5 * rtt, status(alpha), nil},
			},
			winner: -1, err: errRefused,
		},
		{
			name: "PreSP5/silent UDP after the refusal", policy: PreSP5,
			script: []line{
				{0, nil, []string{"connect 0"}},
				{rtt, up(0, rtt), []string{"session 0 *SMBSERVER<20>"}},
				{2 * rtt, answered(0, errRefused), []string{"query"}},
				{2*rtt + 2250*time.Millisecond, statusErr(errSilent), nil},
			},
			winner: -1, err: errSilent,
		},
		{
			name: "PreSP5/an I/O error stops it, as the KB sequence does", policy: PreSP5,
			script: []line{
				{0, nil, []string{"connect 0"}},
				{rtt, up(0, rtt), []string{"session 0 *SMBSERVER<20>"}},
				{2 * rtt, answered(0, errReset), nil},
			},
			winner: -1, err: errReset,
		},
		{
			name: "PreSP5/cache hit first", policy: PreSP5, cached: real,
			script: []line{
				{0, nil, []string{"connect 0"}},
				{rtt, up(0, rtt), []string{"session 0 REAL<20>"}},
				{2 * rtt, positive(0), nil},
			},
			winner: 0,
		},
		{
			name: "SP5/node status, then the server's name", policy: SP5,
			script: []line{
				{0, nil, []string{"query"}},
				{rtt, status(real), []string{"connect 0"}},
				{2 * rtt, up(0, rtt), []string{"session 0 REAL<20>"}},
				{3 * rtt, positive(0), nil},
			},
			winner: 0,
		},
		{
			name: "SP5/silent UDP: no connection at all", policy: SP5,
			script: []line{
				{0, nil, []string{"query"}},
				{2250 * time.Millisecond, statusErr(errSilent), nil},
			},
			winner: -1, err: errSilent,
		},
		{
			name: "SP5/TCP refused", policy: SP5,
			script: []line{
				{0, nil, []string{"query"}},
				{rtt, status(real), []string{"connect 0"}},
				{2 * rtt, connFailed(0, errConnRefused), nil},
			},
			winner: -1, err: errConnRefused,
		},
		{
			name: "SP5/a stale cache entry, then node status", policy: SP5, cached: typo,
			script: []line{
				{0, nil, []string{"connect 0"}},
				{rtt, up(0, rtt), []string{"session 0 TYPO<20>"}},
				{2 * rtt, answered(0, errRefused), []string{"query"}},
				{3 * rtt, status(real), []string{"connect 1"}},
				{4 * rtt, up(1, rtt), []string{"session 1 REAL<20>"}},
				{5 * rtt, positive(1), nil},
			},
			winner: 1,
		},

		{
			name: "CalledName/refused: no discovery", called: typo,
			script: []line{
				{0, nil, []string{"connect 0"}},
				{rtt, up(0, rtt), []string{"session 0 TYPO<20>"}},
				{2 * rtt, answered(0, errRefused), nil},
			},
			winner: -1, err: errRefused,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPlan(tt.policy, tt.called, tt.cached, tt.label)
			t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
			for i, l := range tt.script {
				var acts []action
				if l.ev == nil {
					acts = p.start(t0.Add(l.at))
				} else {
					acts = p.handle(l.ev, t0.Add(l.at))
				}
				var got []string
				for _, a := range acts {
					got = append(got, show(a, t0))
				}
				if diff := cmp.Diff(l.want, got); diff != "" {
					t.Fatalf("line %d (%v, %#v): actions (-want +got):\n%s", i, l.at, l.ev, diff)
				}
			}
			if !p.over {
				t.Fatal("the dial is not over at the end of the script")
			}
			if p.winner != tt.winner {
				t.Errorf("winner = %d, want %d", p.winner, tt.winner)
			}
			if err := p.err(); err != tt.err {
				t.Errorf("err() = %v, want %v", err, tt.err)
			}
		})
	}
}

// TestGrace: half the connect's time, within its floor and ceiling.
func TestGrace(t *testing.T) {
	for _, tt := range []struct{ took, want time.Duration }{
		{0, graceMin},
		{100 * time.Microsecond, graceMin},
		{50 * time.Millisecond, 25 * time.Millisecond},
		{600 * time.Millisecond, 300 * time.Millisecond},
		{3 * time.Second, graceMax},
	} {
		if got := grace(tt.took); got != tt.want {
			t.Errorf("grace(%v) = %v, want %v", tt.took, got, tt.want)
		}
	}
}

// TestBackoff: 10 ms, then twice as long.
func TestBackoff(t *testing.T) {
	for n, want := range []time.Duration{10 * time.Millisecond, 20 * time.Millisecond} {
		if got := backoff(n + 1); got != want {
			t.Errorf("backoff(%d) = %v, want %v", n+1, got, want)
		}
	}
}

// TestRetryable: I/O errors are retried; answers and protocol errors are
// not.
func TestRetryable(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{syscall.ECONNRESET, true},
		{syscall.EPIPE, true},
		{session.ErrClosedBeforeAnswer, true},
		{errRefused, false},
		{session.ErrInsufficientResources, false},
		{&session.RetargetLimitError{}, false},
		{&session.ParseError{Field: "TYPE", Err: session.ErrUnexpectedPacket}, false},
		{context.Canceled, false},
		{ErrAbandoned, false},
	} {
		if got := retryable(tt.err); got != tt.want {
			t.Errorf("retryable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
