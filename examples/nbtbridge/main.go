// Command nbtbridge relays SMB sessions between Direct TCP, the framing of
// port 445, and NetBIOS over TCP, the session service of port 139 (RFC
// 1001/1002), so that clients of either reach servers of the other.
//
//	nbtbridge -listen ADDR -to HOST[:PORT] [-name NAME] [-policy race|presp5|sp5] [-timeout 10s] [-ns-port 137]
//	          [-U ADDR[:PORT]]... [-B ADDR[:PORT]]... [-lmhosts FILE] [-order "lmhosts wins host bcast"] [-no-bcast]
//	          [-direct] [-idle 15m] [-keepalive D] [-handshake-timeout D] [-max-handshakes N] [-v]
//
// Its two uses:
//
//	nbtbridge -listen 127.0.0.1:4450 -to HOST
//
// lets modern SMB clients reach a host that speaks SMB on port 139 only,
// without knowing its NetBIOS name: the bridge dials HOST (port 139 when
// absent) with an nbt.Dialer, which finds a called name the host accepts,
// and relays. `smbclient -p 4450 -I 127.0.0.1 //ANY/share` and
// `mount -t cifs -o port=4450` then work. -name, -policy, -timeout,
// -ns-port and the resolver flags mean what they mean to nbtdial: HOST may
// be a NetBIOS name.
//
//	nbtbridge -listen :139 -name NAME -to HOST:445
//
// lets clients that speak only NetBIOS (DOS, Windows 9x and NT4) reach a
// server that dropped port 139: the bridge answers session requests for
// NAME<20> and *SMBSERVER<20>, refuses other called names with 0x82, and
// relays to HOST over Direct TCP. -to with port 445, or -direct, dials
// Direct TCP; any other -to dials NetBIOS.
//
// Either way the listening side takes both kinds of client: a session
// request is answered (for NAME and *SMBSERVER when -name is given, for
// any name otherwise, as smbd does), and a connection that starts with an
// SMB message is taken as it is. With -name, a NetBIOS dial calls NAME
// with no discovery.
//
// Every byte of the SMB messages goes through, and nothing else: session
// keep-alives are removed on the NetBIOS side, and sent there every
// -keepalive when it is set. A half-close of either side is carried to the
// other. A session ends when both sides have closed, when either fails,
// or after -idle with no byte either way (looked at every sixteenth of it,
// so up to an eighth later); the bridge goes on serving the others. A
// message of more than 0x1FFFF bytes from a Direct-TCP client cannot be
// framed toward a NetBIOS server: the session ends there. Toward the
// NetBIOS clients of a Direct-TCP server, which may grant SMB2 large MTU,
// such messages go with the 24-bit length of Direct TCP.
//
// It prints "listening on ADDR" when ready, and with -v a line for each
// session. It stops on SIGINT or SIGTERM. The exit status is 2 when a flag
// is malformed, 1 when it cannot listen.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/netbios-go/netbios/examples/internal/nbtflags"
	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/nbt"
	"github.com/netbios-go/netbios/session"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// options are the bridge's settings, from its flags.
type options struct {
	listen, to       string
	direct           bool
	name             nbns.Name // zero: any called name, and discovery
	policy           nbt.Policy
	timeout          time.Duration
	nsPort           uint16
	resolver         *nbt.Resolver
	idle             time.Duration
	keepAlive        time.Duration
	handshakeTimeout time.Duration
	maxHandshakes    int
	verbose          bool
}

// parseFlags reads args; it returns the exit status to stop with, or -1.
func parseFlags(args []string, stderr io.Writer) (*options, int) {
	fs := flag.NewFlagSet("nbtbridge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	fs.StringVar(&o.listen, "listen", "", "TCP `address` to listen on, HOST:PORT")
	fs.StringVar(&o.to, "to", "", "server to relay to, `HOST[:PORT]`: NetBIOS (port 139 when absent), or Direct TCP with port 445 or -direct")
	fs.BoolVar(&o.direct, "direct", false, "dial -to over Direct TCP (port 445 when absent), not NetBIOS")
	name := fs.String("name", "", "NetBIOS `name` of the server (suffix <20>, or NAME<XX>): the listener answers it and *SMBSERVER only, and a NetBIOS dial calls it with no discovery")
	fs.TextVar(&o.policy, "policy", nbt.Race, "called-name `policy` of a NetBIOS dial: race, presp5 or sp5")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, fmt.Sprintf("bound on each dial to the server (0: %v, negative: none)", nbt.DefaultTimeout))
	nsPort := fs.Uint("ns-port", nbns.Port, "UDP `port` of the server's name service, for node status")
	fs.DurationVar(&o.idle, "idle", 15*time.Minute, "end a session after this long with no byte either way (0: never)")
	fs.DurationVar(&o.keepAlive, "keepalive", 0, "send a session keep-alive on each NetBIOS side idle this long (0: never; RFC 1002: 60s)")
	fs.DurationVar(&o.handshakeTimeout, "handshake-timeout", 0, fmt.Sprintf("bound on each client's session request (0: %v, negative: none)", session.DefaultHandshakeTimeout))
	fs.IntVar(&o.maxHandshakes, "max-handshakes", 0, fmt.Sprintf("connections held in their handshake at most; a newcomer ends the oldest (0 or negative: %d)", session.DefaultMaxHandshakes))
	fs.BoolVar(&o.verbose, "v", false, "print a line for each session and each failed handshake")
	var rf nbtflags.ResolverFlags
	rf.Register(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: nbtbridge -listen ADDR -to HOST[:PORT] [flags]")
		fs.PrintDefaults()
		fmt.Fprint(stderr, nbtflags.ResolverUsage)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, 0
		}
		return nil, 2
	}
	usage := func(format string, args ...any) (*options, int) {
		fmt.Fprintf(stderr, "nbtbridge: "+format+"\n", args...)
		return nil, 2
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case fs.NArg() > 0:
		return usage("unexpected arguments %q: every setting is a flag", fs.Args())
	case o.listen == "":
		return usage("-listen ADDR is required")
	case o.to == "":
		return usage("-to HOST[:PORT] is required")
	case *nsPort == 0 || *nsPort > 65535:
		return usage("invalid -ns-port %d: want 1 to 65535", *nsPort)
	}
	if _, _, err := net.SplitHostPort(o.listen); err != nil {
		return usage("-listen %q: %v", o.listen, err)
	}
	o.nsPort = uint16(*nsPort)
	if host, port, err := net.SplitHostPort(o.to); err == nil {
		if host == "" {
			return usage("-to %q: no host", o.to)
		}
		o.direct = o.direct || port == "445" || port == "microsoft-ds"
	} else if o.direct {
		o.to = net.JoinHostPort(o.to, "445")
	}
	if o.direct {
		for _, f := range []string{"policy", "ns-port", "U", "B", "lmhosts", "order", "no-bcast"} {
			if set[f] {
				return usage("-%s is of no use with a Direct TCP -to %s: it configures NetBIOS dials", f, o.to)
			}
		}
	} else {
		r, err := rf.Resolver()
		if err != nil {
			return usage("%v", err)
		}
		o.resolver = r
	}
	if *name != "" {
		n, err := parseName(*name)
		if err != nil {
			return usage("-name %q: %v", *name, err)
		}
		o.name = n
	}
	return o, -1
}

// parseName reads -name: NAME<XX> as nbns.ParseName reads it, then
// upper-cased (but for its \xHH escapes), or a bare name, which gets
// suffix <20>. It is nbtdial's.
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

// transport names how the bridge dials the server.
func (o *options) transport() string {
	if o.direct {
		return "Direct TCP"
	}
	return "NetBIOS"
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, status := parseFlags(args, stderr)
	if status >= 0 {
		return status
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		fmt.Fprintln(stderr, "nbtbridge:", err)
		return 1
	}
	logger := log.New(stderr, "nbtbridge: ", log.LstdFlags|log.Lmicroseconds)
	b := newBridge(o, ln, o.dialer(nil), logger)
	fmt.Fprintf(stdout, "listening on %v, relaying to %s over %s\n", ln.Addr(), o.to, o.transport())
	if err := b.serve(ctx); err != nil {
		fmt.Fprintln(stderr, "nbtbridge:", err)
		return 1
	}
	return 0
}
