package nbt

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/session"
)

// Step is the kind of one step of a dial.
type Step int

const (
	// StepNodeStatus is a node status query to the host's name service,
	// UDP 137, to learn the name its Server service registered.
	StepNodeStatus Step = iota + 1

	// StepSession is a TCP connection to the session service, TCP 139,
	// and a session request with one called name.
	StepSession

	// StepDirect is a Direct TCP connection to port 445, raced against
	// the NetBIOS steps when Dialer.Direct is set.
	StepDirect
)

// String returns "node status", "session" or "direct TCP".
func (s Step) String() string {
	switch s {
	case StepNodeStatus:
		return "node status"
	case StepSession:
		return "session"
	case StepDirect:
		return "direct TCP"
	}
	return "Step(" + strconv.Itoa(int(s)) + ")"
}

// Attempt records one step of a dial and how it ended.
type Attempt struct {
	Step Step
	Addr netip.AddrPort // the address the step went to
	Name nbns.Name      // the called name, or the name a node status asked for

	// Err is how the step ended: nil for a node status answer or a
	// positive session response; a *session.NegativeResponseError, a
	// *session.RetargetError (which the dial followed), or the error of
	// the connection or the query.
	Err error

	Duration time.Duration
}

// String describes the attempt in one line:
// `session "*SMBSERVER<20>" at 198.18.0.2:139: called name not present (0x82) (2ms)`.
func (a Attempt) String() string {
	var b strings.Builder
	b.WriteString(a.Step.String())
	if !a.Name.IsZero() && (a.Step == StepSession || !a.Name.IsWildcard()) {
		b.WriteString(" ")
		b.WriteString(strconv.Quote(a.Name.String()))
	}
	b.WriteString(" at ")
	b.WriteString(a.Addr.String())
	b.WriteString(": ")
	switch {
	case a.Err != nil:
		b.WriteString(a.explain())
	case a.Step == StepSession:
		b.WriteString("positive")
	case a.Step == StepDirect:
		b.WriteString("connected")
	default:
		b.WriteString("answered")
	}
	b.WriteString(" (")
	b.WriteString(a.Duration.Round(time.Microsecond * 100).String())
	b.WriteString(")")
	return b.String()
}

// explain words an attempt's error for a network administrator.
func (a Attempt) explain() string {
	err, step := a.Err, a.Step
	udp := "UDP " + strconv.Itoa(int(a.Addr.Port()))
	var ne *session.NegativeResponseError
	re, isRetarget := innermost(err).(*session.RetargetError)
	switch {
	case errors.As(err, &ne):
		return ne.Code.Error()
	case isRetarget:
		return "retarget to " + re.Addr.String()
	case step == StepNodeStatus && errors.Is(err, nbns.ErrNoResponse):
		return "no answer from " + udp + " (NetBIOS name service) in " + a.Duration.Round(time.Millisecond).String() +
			": the port is filtered by a firewall that drops, the host is down, or it runs no name service"
	case err == ErrAbandoned:
		return "abandoned: the dial no longer needed it"
	case step == StepNodeStatus && errors.Is(err, context.DeadlineExceeded):
		return "no answer from " + udp + " (NetBIOS name service) before the dial's deadline: " +
			"the port is filtered by a firewall that drops, the host is down, or it runs no name service"
	case step == StepNodeStatus && errors.Is(err, nbns.ErrPortUnreachable):
		return udp + " (NetBIOS name service) is closed: the host answered ICMP port unreachable, " +
			"so nothing listens there or a firewall rejects it"
	}
	return innermost(err).Error()
}
