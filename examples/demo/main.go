// Command demo shows the called-name policies of package nbt against the
// hosts of Microsoft KB Q251166, played by nbttest servers on loopback. It
// needs no root and no network.
//
//	go run ./examples/demo
//
// For each host and each policy it prints the outcome, the steps the dial
// took and the time it spent, in milliseconds and in round trips: each host
// sits behind a relay that adds 10 ms of latency each way. Node status
// waits 100 ms after each of three transmissions here (the Dialer's
// default is 750 ms), so that a silent UDP 137 costs 0.3 s.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/nbt"
	"github.com/netbios-go/netbios/nbt/nbttest"
	"github.com/netbios-go/netbios/session"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// Policies are the policies the demo compares.
var policies = []nbt.Policy{nbt.Race, nbt.PreSP5, nbt.SP5}

// oneWay is the latency the relay adds in each direction.
const oneWay = 10 * time.Millisecond

func run(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "CASE\tPOLICY\tOUTCOME\tSTEPS\tTIME (RTT %v)\n", 2*oneWay)
	for _, sc := range nbttest.Scenarios() {
		host := sc.Start()
		relay := nbttest.RelayServer(host, oneWay)
		for _, p := range policies {
			d := host.Dialer()
			d.Policy = p
			d.NetDialer = relay.Dialer()
			d.NameServicePort = relay.NameAddr.Port()
			start := time.Now()
			conn, err := d.Dial("tcp", relay.Addr.String())
			elapsed := time.Since(start)
			var attempts []nbt.Attempt
			outcome := ""
			if err != nil {
				de, ok := errors.AsType[*nbt.DialError](err)
				if !ok {
					relay.Close()
					host.Close()
					return err
				}
				attempts = de.Attempts
				outcome = "failed"
			} else {
				c := conn.(*nbt.Conn)
				attempts = c.Attempts()
				outcome = "connected " + c.CalledName().String()
				conn.Close()
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v = %.1f RTT\n", sc.Name, p, outcome, steps(attempts),
				elapsed.Round(time.Millisecond), float64(elapsed)/float64(relay.RTT()))
		}
		relay.Close()
		host.Close()
	}
	return tw.Flush()
}

// steps describes the attempts of a dial in one line.
func steps(attempts []nbt.Attempt) string {
	var parts []string
	for _, a := range attempts {
		parts = append(parts, step(a))
	}
	return strings.Join(parts, " -> ")
}

func hex(b byte) string { return fmt.Sprintf("0x%02X", b) }

func step(a nbt.Attempt) string {
	var code session.ErrorCode
	switch {
	case errors.Is(a.Err, context.Canceled) && a.Step == nbt.StepNodeStatus:
		return "node status: cancelled"
	case errors.Is(a.Err, context.Canceled):
		return "connect cancelled"
	case a.Step == nbt.StepNodeStatus && a.Err == nil:
		return "node status"
	case errors.Is(a.Err, nbns.ErrNoResponse):
		return "node status: no answer"
	case errors.Is(a.Err, nbns.ErrPortUnreachable):
		return "node status: port unreachable"
	case a.Step == nbt.StepNodeStatus:
		return "node status: error"
	case a.Err == nil:
		return a.Name.String() + " positive"
	case errors.As(a.Err, &code):
		return a.Name.String() + " refused " + hex(byte(code))
	case errors.As(a.Err, new(*session.RetargetError)):
		return a.Name.String() + " retarget"
	}
	return a.Name.String() + " error"
}
