package nbt

import (
	"errors"
	"net"
	"strings"
)

// innermost strips *net.OpError layers, which repeat the address.
func innermost(err error) error {
	for {
		oe, ok := err.(*net.OpError)
		if !ok {
			return err
		}
		err = oe.Err
	}
}

// DialError reports a dial that failed: every step it took, and the error
// that ended it. errors.Is and errors.As see every step's error, so that
// errors.Is(err, session.ErrCalledNameNotPresent) and
// errors.Is(err, nbns.ErrNoResponse) work through the *net.OpError that
// wraps a DialError; steps the dial abandoned are not among them, so that
// only the caller's own cancellation or deadline is the context's error.
type DialError struct {
	Policy   Policy
	Attempts []Attempt // in the order they ended
	Err      error     // the error that ended the dial
}

var _ error = (*DialError)(nil)

// ErrAbandoned is the error of a step that the dial cancelled itself,
// because another step had decided the outcome: the node status query of a
// dial whose session is up, say. It is listed in Attempts, and not
// returned by DialError.Unwrap.
var ErrAbandoned = errors.New("nbt: abandoned: the dial no longer needed this step")

var errNoCandidate = errors.New("nbt: no called name left to try")

// Error names first the step that decided the outcome, then the others in
// the order they ended: `Race: node status at 198.18.0.2:137: no answer
// from UDP 137 ...; other steps: session "*SMBSERVER<20>" at
// 198.18.0.2:139: called name not present (0x82) (2ms)`.
//
// An error that came before any step, such as an address refused, is
// given alone, without the policy, which played no part.
func (e *DialError) Error() string {
	if len(e.Attempts) == 0 {
		return innermost(e.Err).Error()
	}
	var b strings.Builder
	b.WriteString(e.Policy.String())
	b.WriteString(": ")
	decided := -1
	for i, a := range e.Attempts {
		if a.Err != nil && a.Err == e.Err {
			decided = i // the last step with the dial's error
		}
	}
	if decided >= 0 {
		b.WriteString(e.Attempts[decided].String())
	} else {
		b.WriteString(innermost(e.Err).Error()) // an error no step has told, as a name table with no <20>
	}
	sep := "; other steps: "
	for i, a := range e.Attempts {
		if i != decided {
			b.WriteString(sep)
			b.WriteString(a.String())
			sep = "; "
		}
	}
	return b.String()
}

// Unwrap returns the error that ended the dial and every step's error but
// ErrAbandoned.
func (e *DialError) Unwrap() []error {
	errs := []error{e.Err}
	for _, a := range e.Attempts {
		if a.Err != nil && a.Err != e.Err && a.Err != ErrAbandoned {
			errs = append(errs, a.Err)
		}
	}
	return errs
}

// Timeout reports whether the dial ended because time ran out.
func (e *DialError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.Err, &t) && t.Timeout()
}

// Temporary reports false; it exists for net.Error.
func (e *DialError) Temporary() bool { return false }
