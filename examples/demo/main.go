// Command demo shows the called-name policies of package nbt against the
// hosts of Microsoft KB Q251166, played by nbttest servers on an in-memory
// network (nbttest.Network) with 10 ms of latency each way. It needs no
// root, no socket and no network.
//
//	go run ./examples/demo
//
// For each host and each policy it prints the outcome, the steps the dial
// took, the TCP connections it opened and the time it spent, in
// milliseconds and in round trips. Node status waits 100 ms after each of
// three transmissions here (the Dialer's default is 750 ms), so that a
// silent UDP 137 costs 0.3 s.
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

// oneWay is the network's latency in each direction.
const oneWay = 10 * time.Millisecond

func run(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "CASE\tPOLICY\tOUTCOME\tSTEPS\tCONNS\tTIME (RTT %v)\n", 2*oneWay)
	for _, sc := range nbttest.Scenarios() {
		network := nbttest.NewNetwork(oneWay)
		host := nbttest.NewUnstartedServer(sc.Handler)
		host.NameService = sc.NameService
		host.Network = network
		host.Start()
		for _, p := range policies {
			d := host.Dialer()
			d.Policy = p
			before := network.Connects(host.Addr)
			start := time.Now()
			conn, err := d.Dial("tcp", host.Addr.String())
			elapsed := time.Since(start)
			conns := network.Connects(host.Addr) - before
			var attempts []nbt.Attempt
			outcome := ""
			if err != nil {
				de, ok := errors.AsType[*nbt.DialError](err)
				if !ok {
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
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%v = %.1f RTT\n", sc.Name, p, outcome, steps(attempts), conns,
				elapsed.Round(time.Millisecond), float64(elapsed)/float64(network.RTT()))
		}
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
	case a.Err == nbt.ErrAbandoned && a.Step == nbt.StepNodeStatus:
		return "node status: abandoned"
	case a.Err == nbt.ErrAbandoned:
		return "connect abandoned"
	case errors.Is(a.Err, context.Canceled):
		return "cancelled"
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
