// Command nbtdial opens a NetBIOS session to an SMB server on TCP 139 the
// way Windows NT did, and shows each step.
//
//	nbtdial [-policy race|presp5|sp5] [-name NAME] [-v] [-smb2] [-timeout 10s] [-ns-port 137]
//	        [-U ADDR[:PORT]]... [-B ADDR[:PORT]]... [-lmhosts FILE] [-order "lmhosts wins host bcast"] [-no-bcast]
//	        HOST[:PORT]
//
// HOST is an IPv4 address, a NetBIOS name or a host name; PORT, a number or
// a service name such as netbios-ssn, is 139 when absent. NetBIOS over TCP
// has no IPv6 (RFC 1001/1002): an IPv6 address is refused, an IPv4-mapped
// one is read as IPv4.
//
// A HOST of at most 15 bytes without a dot is a NetBIOS name: it is looked
// up as NAME<20>, with the flags -U (WINS servers), -B (broadcast
// addresses), -lmhosts, -order and -no-bcast, which mean what they mean to
// nbtlookup, and when a NetBIOS step finds it, NAME<20> is the only called
// name tried. Any other HOST is looked up in DNS. -ns-port is the port of
// the node status queries to the server, not of name queries: those go to
// the port of -U or -B, 137 when absent.
//
// It prints one line per step and a last line starting "connected" with
// the called name the server accepted. With -v it prints every trace event
// with its time. With -smb2 it then sends an SMB2 NEGOTIATE for dialects
// 2.0.2 to 3.0.2 (3.1.1 is not allowed over NetBIOS, MS-SMB2 §2.1) and
// prints the dialect the server chose. The exit status is 0 on success, 1
// when the dial or the NEGOTIATE fails, and 2, dialing nothing, when a flag
// or HOST[:PORT] is malformed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/netbios-go/netbios/examples/internal/nbtflags"
	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/nbt"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("nbtdial", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var policy nbt.Policy
	fs.TextVar(&policy, "policy", nbt.Race, "called-name `policy`: race, presp5 or sp5")
	name := fs.String("name", "", "called `name` to use, with no discovery (suffix <20>, or NAME<XX>)")
	verbose := fs.Bool("v", false, "print every trace event with its time")
	smb2 := fs.Bool("smb2", false, "send an SMB2 NEGOTIATE after connecting and print the dialect")
	timeout := fs.Duration("timeout", 10*time.Second, fmt.Sprintf("bound on the whole dial, then on the SMB2 NEGOTIATE (0: %v, negative: none)", nbt.DefaultTimeout))
	nsPort := fs.Uint("ns-port", nbns.Port, "UDP `port` of the server's name service, for node status")
	var rf nbtflags.ResolverFlags
	rf.Register(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: nbtdial [flags] HOST[:PORT]")
		fs.PrintDefaults()
		fmt.Fprint(stderr, nbtflags.ResolverUsage)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	switch {
	case fs.NArg() == 0:
		fs.Usage()
		return 2
	case fs.NArg() > 1 && strings.HasPrefix(fs.Arg(1), "-"):
		fmt.Fprintf(stderr, "nbtdial: %q after HOST: flags go before HOST\n", fs.Arg(1))
		return 2
	case fs.NArg() > 1:
		fmt.Fprintf(stderr, "nbtdial: one HOST[:PORT] expected, got %d: %q\n", fs.NArg(), fs.Args())
		return 2
	case *nsPort == 0 || *nsPort > 65535:
		fmt.Fprintf(stderr, "nbtdial: invalid -ns-port %d: want 1 to 65535\n", *nsPort)
		return 2
	}
	r, err := rf.Resolver()
	if err != nil {
		fmt.Fprintln(stderr, "nbtdial:", err)
		return 2
	}
	d := &nbt.Dialer{Policy: policy, Timeout: *timeout, NameServicePort: uint16(*nsPort), Resolver: r}
	if *name != "" {
		n, err := parseName(*name)
		if err != nil {
			fmt.Fprintf(stderr, "nbtdial: -name %q: %v\n", *name, err)
			return 2
		}
		d.CalledName = n
	}
	if *verbose {
		t, stop := trace(stdout, time.Now())
		defer stop()
		ctx = nbt.WithClientTrace(ctx, t)
	}

	start := time.Now()
	conn, err := d.DialContext(ctx, "tcp", fs.Arg(0))
	elapsed := time.Since(start)
	var de *nbt.DialError
	switch {
	case err == nil:
		printSteps(stdout, conn.(*nbt.Conn).Attempts())
	case errors.As(err, &de):
		printSteps(stdout, de.Attempts)
	}
	if err != nil {
		fmt.Fprintln(stderr, "nbtdial:", err)
		if badAddress(err) {
			return 2
		}
		return 1
	}
	defer conn.Close()
	c := conn.(*nbt.Conn)
	fmt.Fprintf(stdout, "connected %s to %v as %v (%v, %s)\n", fs.Arg(0), c.RemoteAddr(), c.CalledName(), d.Policy, elapsed.Round(100*time.Microsecond))
	if *smb2 {
		// As the Dialer reads -timeout: 0 is its default, negative none.
		switch {
		case *timeout == 0:
			c.SetDeadline(time.Now().Add(nbt.DefaultTimeout))
		case *timeout > 0:
			c.SetDeadline(time.Now().Add(*timeout))
		}
		dialect, err := negotiate(c)
		if err != nil {
			fmt.Fprintln(stderr, "nbtdial: SMB2 NEGOTIATE:", err)
			return 1
		}
		fmt.Fprintf(stdout, "SMB2 dialect %s\n", dialect)
	}
	return 0
}

// badAddress reports whether err refused the address given, before any
// step of the dial: a usage error.
func badAddress(err error) bool {
	var de *nbt.DialError
	var ae *net.AddrError
	return errors.As(err, &de) && len(de.Attempts) == 0 && errors.As(err, &ae)
}

// parseName reads -name: NAME<XX> as nbns.ParseName reads it, then
// upper-cased (but for its \xHH escapes), or a bare name, which gets
// suffix <20>.
func parseName(s string) (nbns.Name, error) {
	if !strings.HasSuffix(s, ">") {
		return nbns.NewName(s, nbns.FileServer)
	}
	n, err := nbns.ParseName(s)
	if err != nil {
		return n, err
	}
	b := n.Bytes()
	for i, c := range b[:nbns.NameLen-1] {
		if 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return nbns.NameFromBytes(b), nil
}

func printSteps(w io.Writer, attempts []nbt.Attempt) {
	for i, a := range attempts {
		fmt.Fprintf(w, "step %d: %v\n", i+1, a)
	}
}

// trace prints each event with the time since start, until stop is
// called: a lookup the dial gave up on may still end later.
func trace(w io.Writer, start time.Time) (t *nbt.ClientTrace, stop func()) {
	var mu sync.Mutex // hooks may run concurrently
	stopped := false
	at := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			fmt.Fprintf(w, "%9s  "+format+"\n", append([]any{time.Since(start).Round(10 * time.Microsecond)}, args...)...)
		}
	}
	stop = func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
	}
	return &nbt.ClientTrace{
		LookupStart: func(i nbt.LookupStartInfo) {
			s := nbt.LookupStep{Source: i.Source, Servers: i.Servers}.String()
			s, _, _ = strings.Cut(s, ": ") // the source and servers, without the outcome
			at("lookup %v: %s ...", i.Name, s)
		},
		LookupDone: func(i nbt.LookupDoneInfo) {
			at("lookup %v: %v", i.Name, nbt.LookupStep{Source: i.Source, Servers: i.Servers, Owners: len(i.Owners), Err: i.Err, Duration: i.Duration})
		},
		NodeStatusStart: func(i nbt.NodeStatusStartInfo) { at("node status query for %v to %v", i.Name, i.Addr) },
		NodeStatusDone: func(i nbt.NodeStatusDoneInfo) {
			if i.Err != nil {
				at("node status failed: %v", i.Err)
				return
			}
			server, err := i.Response.ServerName()
			if err != nil {
				at("node status: %d names, %v", len(i.Response.Names), err)
				return
			}
			at("node status: %d names, server %v", len(i.Response.Names), server)
		},
		ConnectStart: func(i nbt.ConnectStartInfo) { at("connect tcp4 %v", i.Addr) },
		ConnectDone: func(i nbt.ConnectDoneInfo) {
			if i.Err != nil {
				at("connect failed: %v", i.Err)
				return
			}
			at("connected %v", i.Addr)
		},
		SessionRequest: func(i nbt.SessionRequestInfo) {
			at("session request called %v calling %v", i.Request.Called, i.Request.Calling)
		},
		SessionResponse: func(i nbt.SessionResponseInfo) {
			if i.Response.Type == 0 { // no answer came
				at("session response: %v", i.Err)
				return
			}
			at("session response: %s", i.Response.String())
		},
	}, stop
}
