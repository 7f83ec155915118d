// Command smb reads a share of an SMB server over NetBIOS over TCP (port
// 139), with github.com/cloudsoda/go-smb2 running unchanged on a conn from
// nbt.Dialer.
//
//	smb [-policy race|presp5|sp5] [-name NAME] [-user U -password P] [-timeout D]
//	    [-ns-port N] [-U ADDR[:PORT]]... [-B ADDR[:PORT]]... [-lmhosts FILE]
//	    [-order "lmhosts wins host bcast"] [-no-bcast] [-list] [-o FILE] HOST[:PORT] [SHARE [PATH]]
//
// HOST is an IPv4 address, a NetBIOS name or a host name. A HOST of at
// most 15 bytes without a dot is a NetBIOS name, looked up as NAME<20>
// with the flags -U (WINS servers), -B (broadcast addresses), -lmhosts,
// -order and -no-bcast, which mean what they mean to nbtlookup; any other
// HOST is looked up in DNS. -ns-port is the port of the node status
// queries to the server; name queries go to the port of -U or -B, 137
// when absent.
//
// With -list, or with no SHARE, it prints the names of the shares, one a
// line. With SHARE and PATH it copies the file to standard output, or to
// FILE with -o. It logs on as guest unless -user is given. It prints to
// standard error the called name the NetBIOS session used and the SMB
// dialect negotiated. The exit status is 0 on success, 1 when a step
// fails (the message names it: "nbt dial" or "SMB ..."), and 2 on a usage
// error.
//
// SMB 3.1.1 is never offered: MS-SMB2 §2.1 allows only 2.0.2, 2.1, 3.0
// and 3.0.2 over NetBIOS. 3.0.2 is tried first, and older dialects only
// when the server answers that it does not support it.
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"github.com/cloudsoda/go-smb2"
	"github.com/netbios-go/netbios/examples/internal/nbtflags"
	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/nbt"
)

func main() {
	// An interrupt cancels the transfer, so that -o FILE is removed.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	status := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(status)
}

// options are the parsed command line.
type options struct {
	dialer   nbt.Dialer
	user     string
	password string
	list     bool
	out      string
	address  string // HOST[:PORT]
	host     string // HOST, the server in \\HOST\SHARE
	share    string
	path     string
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, timeout, status := parse(args, stderr)
	if status >= 0 {
		return status
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	if err := o.do(ctx, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "smb:", err)
		return 1
	}
	return 0
}

// parse reads the command line. It returns a status of -1 when the
// command should run.
func parse(args []string, stderr io.Writer) (*options, time.Duration, int) {
	fs := flag.NewFlagSet("smb", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var policy nbt.Policy
	fs.TextVar(&policy, "policy", nbt.Race, "called-name `policy`: race, presp5 or sp5")
	name := fs.String("name", "", "called `name` to use, with no discovery (suffix <20>, or NAME<XX>)")
	user := fs.String("user", "", "`user` to log on as; guest when empty")
	password := fs.String("password", "", "`password` of -user")
	timeout := fs.Duration("timeout", time.Minute, "bound on the whole run, dial and transfer; 0 for none")
	nsPort := fs.Uint("ns-port", nbns.Port, "UDP `port` of the server's name service, for node status")
	var rf nbtflags.ResolverFlags
	rf.Register(fs)
	list := fs.Bool("list", false, "print the share names")
	out := fs.String("o", "", "write the file to `FILE` instead of standard output")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: smb [flags] HOST[:PORT] [SHARE [PATH]]")
		fs.PrintDefaults()
		fmt.Fprint(stderr, nbtflags.ResolverUsage)
	}
	usage := func(format string, args ...any) (*options, time.Duration, int) {
		fmt.Fprintf(stderr, "smb: "+format+"\n", args...)
		fs.Usage()
		return nil, 0, 2
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, 0, 0
		}
		return nil, 0, 2
	}
	o := &options{user: *user, password: *password, list: *list, out: *out}
	switch n := fs.NArg(); {
	case n == 0:
		return usage("missing HOST")
	case n > 3:
		return usage("too many arguments: %q", fs.Args()[3:])
	case n == 2 && !*list:
		return usage("missing PATH after SHARE %q (or use -list)", fs.Arg(1))
	case n > 1 && *list:
		return usage("-list takes no SHARE or PATH")
	}
	o.address, o.share, o.path = fs.Arg(0), strings.Trim(fs.Arg(1), `/\`), strings.TrimLeft(fs.Arg(2), `/\`)
	o.list = o.list || fs.NArg() == 1
	if fs.NArg() == 3 && (o.share == "" || o.path == "") {
		return usage("empty SHARE or PATH")
	}
	if o.out != "" && o.list {
		return usage("-o needs SHARE and PATH")
	}
	if o.password != "" && o.user == "" {
		return usage("-password needs -user")
	}
	if *nsPort == 0 || *nsPort > 65535 {
		return usage("-ns-port %d: want 1 to 65535", *nsPort)
	}
	if *timeout < 0 {
		return usage("-timeout %v: want 0 or more", *timeout)
	}
	o.host = o.address
	if h, _, err := net.SplitHostPort(o.address); err == nil {
		o.host = h
	}
	if o.host == "" {
		return usage("empty HOST in %q", o.address)
	}
	r, err := rf.Resolver()
	if err != nil {
		return usage("%v", err)
	}
	o.dialer.Resolver = r
	o.dialer.NameServicePort = uint16(*nsPort)
	o.dialer.Policy = policy
	if *name != "" {
		n, err := parseName(*name)
		if err != nil {
			return usage("-name %q: %v", *name, err)
		}
		o.dialer.CalledName = n
	}
	return o, *timeout, -1
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

// do runs the command: one NetBIOS session, one SMB session on it, then
// the share list or the file.
func (o *options) do(ctx context.Context, stdout, stderr io.Writer) error {
	sess, conn, err := o.logon(ctx, stderr)
	if err != nil {
		return err
	}
	defer conn.Close()
	sess = sess.WithContext(ctx)
	defer sess.Logoff() // best effort; it closes conn too

	if o.list {
		names, err := sess.ListSharenames()
		if err != nil {
			return fmt.Errorf("SMB list shares: %w", err)
		}
		for _, n := range names {
			fmt.Fprintln(stdout, n)
		}
		return nil
	}
	unc := `\\` + o.host + `\` + o.share
	share, err := sess.Mount(o.share)
	if err != nil {
		return fmt.Errorf("SMB tree connect %s: %w", unc, err)
	}
	share = share.WithContext(ctx)
	defer share.Umount()
	f, err := share.Open(o.path)
	if err != nil {
		return fmt.Errorf("SMB open %s\\%s: %w", unc, o.path, err)
	}
	defer f.Close()

	w, name := stdout, "standard output"
	var file *os.File
	if o.out != "" {
		if file, err = os.Create(o.out); err != nil {
			return fmt.Errorf("-o: %w", err)
		}
		w, name = file, o.out
	}
	n, err := f.WriteTo(w)
	if err == nil && file != nil {
		err = file.Close()
		file = nil
	}
	if file != nil {
		file.Close()
	}
	if err != nil {
		if o.out != "" {
			os.Remove(o.out)
		}
		return fmt.Errorf("SMB copy %s\\%s to %s, after %d bytes: %w", unc, o.path, name, n, err)
	}
	fmt.Fprintf(stderr, "copied %d bytes from %s\\%s to %s\n", n, unc, o.path, name)
	return nil
}

// dialects are the SMB2 dialects this program offers over NetBIOS, one at
// a time, newest first.
//
// MS-SMB2 §2.1: "SMB2 dialects 2.0.2, 2.1, 3.0, and 3.0.2 allow NetBIOS
// over TCP"; 3.1.1 is for Direct TCP (445), QUIC and RDMA only.
// go-smb2's default NEGOTIATE offers 3.1.1 first, and Samba picks it on
// port 139 too, so the dialect must be capped here. go-smb2's only knob is
// Negotiator.SpecifiedDialect, which offers exactly one dialect (and fails
// the dial if the server picks another), so the cap is 3.0.2 alone. A
// server that does not speak it answers STATUS_NOT_SUPPORTED (MS-SMB2
// §3.3.5.4), and the next dialect is tried on a new NetBIOS session, with
// the called name that worked.
var dialects = []uint16{0x0302, 0x0300, 0x0210, 0x0202}

// statusNotSupported is STATUS_NOT_SUPPORTED, the answer to a NEGOTIATE
// that offers no dialect the server speaks.
const statusNotSupported = 0xC00000BB

// logon opens a NetBIOS session and an SMB session on it.
func (o *options) logon(ctx context.Context, stderr io.Writer) (*smb2.Session, *nbt.Conn, error) {
	d := o.dialer
	for i, dialect := range dialects {
		start := time.Now()
		nc, err := d.DialContext(ctx, "tcp", o.address)
		if err != nil {
			return nil, nil, fmt.Errorf("nbt dial: %w", err)
		}
		conn := nc.(*nbt.Conn)
		if i == 0 {
			fmt.Fprintf(stderr, "NetBIOS session with %v, called name %v (%v, %s, %v)\n",
				conn.RemoteAddr(), conn.CalledName(), d.Policy, steps(len(conn.Attempts())), time.Since(start).Round(100*time.Microsecond))
			d.CalledName = conn.CalledName() // for the next dialect, if any
		}
		if dl, ok := ctx.Deadline(); ok {
			conn.SetDeadline(dl) // unblocks go-smb2's reader when time is up
		}
		tap := &smbTap{Conn: conn}
		sess, err := newSMBDialer(dialect, o.user, o.password).DialConn(ctx, tap, o.host)
		got, status, seen := tap.Negotiated()
		if err != nil {
			conn.Close() // go-smb2 leaves it open, and its reader running
			if seen && status == statusNotSupported && i+1 < len(dialects) {
				fmt.Fprintf(stderr, "SMB %s not supported by the server; trying %s\n", dialectString(dialect), dialectString(dialects[i+1]))
				continue
			}
			step := "SMB negotiate"
			if seen && status == 0 {
				step = "SMB session setup"
			}
			return nil, nil, fmt.Errorf("%s (dialect %s, user %q): %w", step, dialectString(dialect), logonUser(o.user), err)
		}
		flags, _ := tap.SessionFlags()
		fmt.Fprintf(stderr, "SMB dialect %s, user %q, %s session\n", dialectString(got), logonUser(o.user), sessionKind(flags))
		return sess, conn, nil
	}
	panic("unreachable")
}

// newSMBDialer returns a go-smb2 Dialer that offers only dialect and logs
// on as user, or as guest when user is empty.
//
// Guest is NTLM with user "guest" and an empty password. Samba with
// `map to guest = Bad User` maps a user it does not know to its guest
// account and grants a guest session (SMB2_SESSION_FLAG_IS_GUEST), which
// go-smb2 accepts as long as signing is not required. With Samba's
// default, `map to guest = Never`, that logon fails with
// STATUS_LOGON_FAILURE. An empty user would be an anonymous (null)
// session instead, a different thing that servers grant or refuse on
// their own terms.
func newSMBDialer(dialect uint16, user, password string) *smb2.Dialer {
	if user == "" {
		user, password = "guest", ""
	}
	return &smb2.Dialer{
		Negotiator: smb2.Negotiator{SpecifiedDialect: dialect},
		Initiator:  &smb2.NTLMInitiator{User: user, Password: password},
	}
}

func steps(n int) string {
	if n == 1 {
		return "1 step"
	}
	return fmt.Sprintf("%d steps", n)
}

func logonUser(user string) string {
	if user == "" {
		return "guest"
	}
	return user
}

// dialectString returns a dialect revision as "3.0.2".
func dialectString(d uint16) string {
	if d == 0x02FF {
		return "2.???"
	}
	s := fmt.Sprintf("%d.%d", d>>8, d>>4&0xF)
	if d&0xF != 0 {
		s += fmt.Sprintf(".%d", d&0xF)
	}
	return s
}

// smbTap is a net.Conn that watches the SMB2 responses the server sends
// until the logon is done, because go-smb2 reports neither the dialect it
// negotiated nor the kind of session the server granted: the status and
// DialectRevision of the NEGOTIATE response (MS-SMB2 §2.2.4), and the
// SessionFlags of the successful SESSION_SETUP response (§2.2.6).
type smbTap struct {
	net.Conn

	mu   sync.Mutex
	msg  []byte // the start of the current message, up to tapLen bytes
	rem  int    // bytes of the current message not read yet
	done bool   // logged on: the rest of the stream is not watched

	negotiated bool
	status     uint32 // of the NEGOTIATE response
	dialect    uint16
	loggedOn   bool
	flags      uint16 // of the SESSION_SETUP response
}

// tapLen covers the 4-byte frame header, the 64-byte SMB2 header and the
// first 8 bytes of the body, where NEGOTIATE and SESSION_SETUP responses
// keep what the tap reports.
const tapLen = 4 + 64 + 8

// Session flags of a SESSION_SETUP response (MS-SMB2 §2.2.6).
const (
	sessionFlagIsGuest = 0x0001
	sessionFlagIsNull  = 0x0002
)

// Read reads from the conn and watches the bytes.
func (t *smbTap) Read(p []byte) (int, error) {
	n, err := t.Conn.Read(p)
	t.mu.Lock()
	t.watch(p[:n])
	t.mu.Unlock()
	return n, err
}

// watch follows the Direct-TCP framing of b.
func (t *smbTap) watch(b []byte) {
	for len(b) > 0 && !t.done {
		if len(t.msg) < 4 {
			k := min(4-len(t.msg), len(b))
			t.msg, b = append(t.msg, b[:k]...), b[k:]
			if len(t.msg) == 4 {
				t.rem = int(binary.BigEndian.Uint32(t.msg) & 0xFFFFFF)
			}
		} else {
			k := min(t.rem, len(b))
			t.msg = append(t.msg, b[:min(k, tapLen-len(t.msg))]...)
			t.rem, b = t.rem-k, b[k:]
		}
		if len(t.msg) >= 4 && t.rem == 0 {
			t.message(t.msg)
			t.msg = t.msg[:0]
		}
	}
}

// message looks at the start of one message.
func (t *smbTap) message(m []byte) {
	if len(m) < tapLen || string(m[4:8]) != "\xfeSMB" {
		return // short, SMB1, or encrypted
	}
	status := binary.LittleEndian.Uint32(m[4+8:])
	switch binary.LittleEndian.Uint16(m[4+12:]) { // Command
	case 0: // NEGOTIATE
		if !t.negotiated {
			t.negotiated, t.status = true, status
			if status == 0 {
				t.dialect = binary.LittleEndian.Uint16(m[4+64+4:])
			}
		}
	case 1: // SESSION_SETUP
		if status == 0 {
			t.loggedOn, t.done = true, true
			t.flags = binary.LittleEndian.Uint16(m[4+64+2:])
		}
	}
}

// Negotiated returns the status and dialect of the NEGOTIATE response, and
// whether one was read. dialect is zero unless status is zero.
func (t *smbTap) Negotiated() (dialect uint16, status uint32, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.dialect, t.status, t.negotiated
}

// SessionFlags returns the SessionFlags of the successful SESSION_SETUP
// response, and whether one was read.
func (t *smbTap) SessionFlags() (flags uint16, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.flags, t.loggedOn
}

// sessionKind words session flags: "guest", "anonymous" or
// "authenticated".
func sessionKind(flags uint16) string {
	switch {
	case flags&sessionFlagIsNull != 0:
		return "anonymous"
	case flags&sessionFlagIsGuest != 0:
		return "guest"
	}
	return "authenticated"
}
