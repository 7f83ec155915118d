// Command nbtscan scans networks for NetBIOS name tables, as nbtscan does,
// with nbns.Scanner: node status queries to every target from one socket,
// a window of queries in flight, retransmissions to silent targets timed
// by the answers, and every answer matched on its transaction ID.
//
//	nbtscan [-q] [-v] [-json] [-rate PPS] [-window N] [-timeout D] [-retries N|auto]
//	        [-port N] [-stats] [-f FILE] TARGET...
//
// A TARGET is an IPv4 address (198.18.0.1), a CIDR block (198.18.0.0/24,
// every address of it), a range of the last octet (198.18.0.1-254) or of
// addresses (198.18.0.1-198.18.1.254); -f FILE reads more, one a line ("-"
// for standard input; blank lines and # comments are skipped). Queries go
// to these targets only.
//
// The output is nbtscan's: a header, then a line per host that answered,
// in the order the answers came, with its address, NetBIOS (computer) name,
// <server> when it has a unique <20> name, the user (the <03> name of the
// user logged on, or the computer's) and the MAC address it reported
// (Samba reports zeros). An answer from another address than the one
// queried ends with "answered from ADDR". -q drops the header and every
// other message but errors, so that each line starts with the host's
// address; -v prints each host's whole name table instead (with -q, one
// line a name, each starting with the address); -json prints one JSON
// object a line, with the name table.
//
// The scan sends at most -rate queries a second (300 by default; 0 for no
// fixed rate: the window alone paces it), keeps at most -window queries in
// flight (128; 0 for no bound), waits -timeout for each target from its
// first query (1s), and by default retransmits to a silent target while
// retransmissions find answers (-retries auto; a number fixes it, 0 for
// none). On a terminal, a progress line goes to standard error; -stats
// prints a summary there at the end. Interrupted, nbtscan prints what it
// has and exits with status 130; it exits with 1 when the scan fails, and
// 2, scanning nothing, when a flag or a target is malformed.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/netbios-go/netbios/nbns"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	out := bufio.NewWriterSize(os.Stdout, 64<<10)
	status := run(ctx, os.Args[1:], &env{
		stdin:    os.Stdin,
		stdout:   out,
		stderr:   os.Stderr,
		terminal: isTerminal(os.Stderr),
		flush:    isTerminal(os.Stdout),
	})
	out.Flush()
	stop()
	os.Exit(status)
}

// env is what run works with, so that tests can give their own.
type env struct {
	stdin    io.Reader
	stdout   io.Writer
	stderr   io.Writer
	terminal bool                // stderr is a terminal: show progress
	flush    bool                // flush stdout after each line
	listener nbns.PacketListener // nil: the real network
}

// retriesFlag is -retries: "auto" or a number.
type retriesFlag struct{ n int } // -1: auto

func (f *retriesFlag) String() string {
	if f.n < 0 {
		return "auto"
	}
	return strconv.Itoa(f.n)
}

func (f *retriesFlag) Set(s string) error {
	if s == "auto" {
		f.n = -1
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 31 {
		return errors.New(`want "auto" or 0 to 31`)
	}
	f.n = n
	return nil
}

// options are the parsed flags.
type options struct {
	quiet, verbose, json, stats bool
	scanner                     nbns.Scanner
	what                        []string // the targets and files, as given
}

func run(ctx context.Context, args []string, e *env) int {
	fs := flag.NewFlagSet("nbtscan", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var o options
	fs.BoolVar(&o.quiet, "q", false, "no header and no messages but errors: each line starts with the address")
	fs.BoolVar(&o.verbose, "v", false, "print each host's whole name table")
	fs.BoolVar(&o.json, "json", false, "print one JSON object a line")
	fs.BoolVar(&o.stats, "stats", false, "print a summary of the scan on standard error at the end")
	rate := fs.Int("rate", nbns.DefaultScanRate, "queries a second at most, retransmissions included; 0 for no fixed rate")
	window := fs.Int("window", nbns.DefaultScanWindow, "queries in flight at most; 0 for no bound")
	timeout := fs.Duration("timeout", nbns.DefaultScanTimeout, "how long to wait for each target, from its first query")
	retries := retriesFlag{n: -1}
	fs.Var(&retries, "retries", `retransmissions to a silent target: "auto" (while they find answers, at most 9) or 0 to 31`)
	port := fs.Uint("port", nbns.Port, "UDP `port` to query")
	file := fs.String("f", "", "read more targets from `FILE`, one a line (- for standard input)")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: nbtscan [flags] TARGET...   (198.18.0.1, 198.18.0.0/24, 198.18.0.1-254, 198.18.0.1-198.18.1.254)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(e.stderr, "nbtscan: "+format+"\n", a...)
		return 2
	}
	switch {
	case *rate < 0:
		return usage("invalid -rate %d: want 0 (no fixed rate) or more", *rate)
	case *window < 0:
		return usage("invalid -window %d: want 0 (no bound) or more", *window)
	case *timeout <= 0:
		return usage("invalid -timeout %v: must be positive", *timeout)
	case *port == 0 || *port > 65535:
		return usage("invalid -port %d: want 1 to 65535", *port)
	case o.json && o.verbose:
		return usage("-json already lists every name; -v is for the text output")
	}
	var ranges []addrRange
	var total uint64
	o.what = fs.Args()
	if *file != "" {
		o.what = append(o.what, *file)
	}
	for _, arg := range fs.Args() {
		if strings.HasPrefix(arg, "-") {
			return usage("%q after a target: flags go before the targets", arg)
		}
		r, err := parseTarget(arg)
		if err != nil {
			return usage("%v", err)
		}
		ranges = append(ranges, r)
		total += r.size()
	}
	var fileTargets iter.Seq2[addrRange, error]
	switch *file {
	case "":
		if len(ranges) == 0 {
			return usage("%v", errNoTargets)
		}
	case "-":
		fileTargets, total = readTargets(e.stdin, "standard input"), 0
	default:
		n, err := checkFile(*file)
		if err != nil {
			return usage("%v", err)
		}
		total += n
		fileTargets = func(yield func(addrRange, error) bool) {
			f, err := os.Open(*file)
			if err != nil {
				yield(addrRange{}, err)
				return
			}
			defer f.Close()
			readTargets(f, *file)(yield)
		}
	}

	o.scanner = nbns.Scanner{
		Listener: e.listener,
		Port:     uint16(*port),
		Rate:     *rate,
		Window:   *window,
		Timeout:  *timeout,
	}
	if *rate == 0 {
		o.scanner.Rate = -1
	}
	if *window == 0 {
		o.scanner.Window = -1
	}
	switch retries.n {
	case -1:
		o.scanner.Retries = 0
	case 0:
		o.scanner.Retries = -1
	default:
		o.scanner.Retries = retries.n
	}
	badFile := false
	targets := func(yield func(netip.Addr) bool) {
		for _, r := range ranges {
			for a := range r.all() {
				if !yield(a) {
					return
				}
			}
		}
		if fileTargets == nil {
			return
		}
		for r, err := range fileTargets {
			if err != nil {
				fmt.Fprintln(e.stderr, "nbtscan:", err)
				badFile = true
				continue
			}
			for a := range r.all() {
				if !yield(a) {
					return
				}
			}
		}
	}
	return scan(ctx, e, &o, targets, total, &badFile)
}

// checkFile reads a file of targets through, to report a bad line before
// the scan starts, and returns how many addresses it lists.
func checkFile(name string) (uint64, error) {
	f, err := os.Open(name)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var n uint64
	for r, err := range readTargets(f, name) {
		if err != nil {
			return 0, err
		}
		n += r.size()
	}
	return n, nil
}

// scan runs the scan and prints the results.
func scan(ctx context.Context, e *env, o *options, targets iter.Seq[netip.Addr], total uint64, badFile *bool) int {
	var last nbns.ScanStats
	var mem runtime.MemStats
	if o.stats {
		runtime.ReadMemStats(&mem)
	}
	mallocs := mem.Mallocs
	prog := progress{w: e.stderr, total: total, timeout: o.scanner.Timeout, show: e.terminal && !o.quiet}
	o.scanner.Progress = func(st nbns.ScanStats) {
		last = st
		if f, ok := e.stdout.(interface{ Flush() error }); ok {
			f.Flush()
		}
		prog.update(st)
	}
	if !o.quiet && !o.json {
		if o.verbose {
			fmt.Fprintf(e.stdout, "Doing NBT name scan for addresses from %s\n", strings.Join(o.what, ", "))
		} else {
			io.WriteString(e.stdout, header)
		}
	}
	p := printer{w: e.stdout, quiet: o.quiet, verbose: o.verbose, json: o.json, flush: e.flush}
	status := 0
	for r, err := range o.scanner.Scan(ctx, targets) {
		if err != nil {
			prog.clear()
			if ctx.Err() != nil {
				fmt.Fprintln(e.stderr, "nbtscan: interrupted")
				status = 130
			} else {
				fmt.Fprintln(e.stderr, "nbtscan:", err)
				status = 1
			}
			break
		}
		if err := p.print(r); err != nil {
			fmt.Fprintln(e.stderr, "nbtscan:", err)
			status = 1
			break
		}
	}
	if f, ok := e.stdout.(interface{ Flush() error }); ok {
		f.Flush()
	}
	prog.clear()
	if o.stats {
		runtime.ReadMemStats(&mem)
		fmt.Fprintln(e.stderr, summary(last, mem.Mallocs-mallocs))
	}
	if status == 0 && *badFile {
		status = 2
	}
	return status
}

// summary is the -stats line: key=value pairs.
func summary(st nbns.ScanStats, mallocs uint64) string {
	hosts := st.Answered + st.Aliases
	perHost := "n/a"
	if hosts > 0 {
		perHost = strconv.FormatFloat(float64(mallocs)/float64(hosts), 'f', 2, 64)
	}
	return fmt.Sprintf("stats targets=%d answered=%d aliases=%d silent=%d sent=%d retransmissions=%d send_errors=%d "+
		"received=%d ignored=%d duplicates=%d elapsed=%s rto=%s srtt=%s allocs_per_host=%s",
		st.Targets, st.Answered, st.Aliases, st.Silent, st.Sent, st.Retransmissions, st.SendErrors,
		st.Received, st.Ignored, st.Duplicates, st.Elapsed.Round(time.Millisecond), st.RTO, st.SRTT.Round(time.Microsecond), perHost)
}

// progress writes the progress line on a terminal.
type progress struct {
	w       io.Writer
	total   uint64        // targets in all; 0 if unknown
	timeout time.Duration // the scan's wait for each target
	show    bool
	shown   bool
	prev    nbns.ScanStats
}

func (p *progress) update(st nbns.ScanStats) {
	defer func() { p.prev = st }()
	if !p.show || st.Done {
		return
	}
	line := fmt.Sprintf("sent %d, answered %d, in flight %d", st.Sent, st.Answered+st.Aliases, st.InFlight)
	if dt := st.Elapsed - p.prev.Elapsed; dt > 0 {
		line += fmt.Sprintf(", %.0f/s", float64(st.Sent-p.prev.Sent)/dt.Seconds())
		switch {
		case p.total > uint64(st.Targets) && st.Targets > 0:
			// The targets to go at the pace so far, and the last one's wait.
			perTarget := st.Elapsed / time.Duration(st.Targets)
			left := time.Duration(p.total-uint64(st.Targets))*perTarget + p.timeout
			line += ", " + left.Round(100*time.Millisecond).String() + " left"
		case p.total > 0:
			line += ", at most " + p.timeout.String() + " left"
		}
	}
	fmt.Fprintf(p.w, "\r%-72s", line)
	p.shown = true
}

func (p *progress) clear() {
	if p.shown {
		fmt.Fprintf(p.w, "\r%72s\r", "")
		p.shown = false
	}
}

const header = "IP address       NetBIOS Name     Server    User             MAC address\n" +
	"------------------------------------------------------------------------------\n"

// printer prints results.
type printer struct {
	w                    io.Writer
	quiet, verbose, json bool
	flush                bool
	buf                  []byte
}

func (p *printer) print(r *nbns.ScanResult) error {
	switch {
	case p.json:
		return p.printJSON(r)
	case p.verbose:
		p.buf = p.appendTable(p.buf[:0], r)
	default:
		p.buf = appendLine(p.buf[:0], r)
	}
	_, err := p.w.Write(p.buf)
	if p.flush {
		if f, ok := p.w.(interface{ Flush() error }); ok {
			f.Flush()
		}
	}
	return err
}

// appendLine appends nbtscan's line for r: address, computer name,
// <server>, user, MAC.
func appendLine(b []byte, r *nbns.ScanResult) []byte {
	start := len(b)
	b = r.Target.Addr().AppendTo(b)
	b = pad(b, start+17)
	start = len(b)
	if n, ok := r.Computer(); ok {
		b = appendBase(b, n)
	} else {
		b = append(b, "<unknown>"...)
	}
	b = pad(b, start+17)
	start = len(b)
	if _, ok := r.Server(); ok {
		b = append(b, "<server>"...)
	}
	b = pad(b, start+10)
	start = len(b)
	if n, ok := r.User(); ok {
		b = appendBase(b, n)
	} else {
		b = append(b, "<unknown>"...)
	}
	b = pad(b, start+17)
	b = appendMAC(b, r.Response.Statistics.UnitID)
	if r.Alias() {
		b = append(b, "  answered from "...)
		b = r.Responder.AppendTo(b)
	}
	return append(b, '\n')
}

// appendTable appends r's name table: as nbtscan -v prints it, or, with
// -q, a line a name that starts with the address.
func (p *printer) appendTable(b []byte, r *nbns.ScanResult) []byte {
	if p.quiet {
		for _, e := range r.Response.Names {
			start := len(b)
			b = r.Target.Addr().AppendTo(b)
			b = pad(b, start+17)
			start = len(b)
			b = appendBase(b, e.Name)
			b = pad(b, start+17)
			b = appendEntry(b, e)
			b = append(b, '\n')
		}
		start := len(b)
		b = r.Target.Addr().AppendTo(b)
		b = pad(b, start+17)
		b = append(b, "MAC "...)
		b = appendMAC(b, r.Response.Statistics.UnitID)
		return append(b, '\n')
	}
	b = append(b, "\nNetBIOS Name Table for Host "...)
	b = r.Target.Addr().AppendTo(b)
	b = append(b, ":\n"...)
	if r.Alias() {
		b = append(b, "(answered from "...)
		b = r.Responder.AppendTo(b)
		b = append(b, ")\n"...)
	}
	if r.Response.Header.Truncated || r.Response.MissingStatistics > 0 {
		b = append(b, "Incomplete packet\n"...)
	}
	b = append(b, "\nName             Service          Type\n----------------------------------------\n"...)
	for _, e := range r.Response.Names {
		start := len(b)
		b = appendBase(b, e.Name)
		b = pad(b, start+17)
		start = len(b)
		b = appendSuffix(b, e.Name.Suffix())
		b = pad(b, start+17)
		if e.Flags.Group() {
			b = append(b, "GROUP"...)
		} else {
			b = append(b, "UNIQUE"...)
		}
		b = append(b, '\n')
	}
	b = append(b, "\nAdapter address: "...)
	b = appendMAC(b, r.Response.Statistics.UnitID)
	return append(b, "\n----------------------------------------\n"...)
}

const hex = "0123456789abcdef"

// appendSuffix appends a suffix as nbtscan does, "<20>".
func appendSuffix(b []byte, s nbns.Suffix) []byte {
	return append(b, '<', hex[s>>4], hex[s&0xF], '>')
}

// appendEntry appends the suffix, the kind and the flags of a name:
// "<20> UNIQUE B <ACTIVE>".
func appendEntry(b []byte, e nbns.NodeName) []byte {
	b = appendSuffix(b, e.Name.Suffix())
	if e.Flags.Group() {
		b = append(b, " GROUP  "...)
	} else {
		b = append(b, " UNIQUE "...)
	}
	return append(b, (e.Flags &^ nbns.FlagGroup).String()...)
}

// appendBase appends the 15 name bytes of n, without the padding and the
// suffix, as Name.String escapes them.
func appendBase(b []byte, n nbns.Name) []byte {
	start := len(b)
	b, _ = n.AppendText(b)
	if i := strings.LastIndexByte(string(b[start:]), '<'); i >= 0 {
		b = b[:start+i]
	}
	return b
}

func appendMAC(b []byte, mac [6]byte) []byte {
	for i, x := range mac {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, hex[x>>4], hex[x&0xF])
	}
	return b
}

// pad appends spaces up to column n, and one at least when the field
// reached it.
func pad(b []byte, n int) []byte {
	if len(b) >= n {
		return append(b, ' ')
	}
	for len(b) < n {
		b = append(b, ' ')
	}
	return b
}

// hostJSON is the -json object of one host.
type hostJSON struct {
	IP        string     `json:"ip"`
	Responder string     `json:"responder"`
	RTTMillis float64    `json:"rtt_ms"`
	Sent      int        `json:"sent"`
	Computer  nbns.Name  `json:"computer,omitzero"`
	Server    nbns.Name  `json:"server,omitzero"`
	User      nbns.Name  `json:"user,omitzero"`
	Workgroup nbns.Name  `json:"workgroup,omitzero"`
	MAC       string     `json:"mac,omitempty"`
	Names     []nameJSON `json:"names"`
	Truncated bool       `json:"truncated,omitempty"`
}

type nameJSON struct {
	Name  nbns.Name `json:"name"`
	Group bool      `json:"group"`
	Flags string    `json:"flags"`
}

func (p *printer) printJSON(r *nbns.ScanResult) error {
	h := hostJSON{
		IP:        r.Target.Addr().String(),
		Responder: r.Responder.String(),
		RTTMillis: float64(r.RTT.Microseconds()) / 1000,
		Sent:      r.Sent,
		Names:     []nameJSON{},
		Truncated: r.Response.Header.Truncated || r.Response.MissingStatistics > 0,
	}
	h.Computer, _ = r.Computer()
	h.Server, _ = r.Server()
	h.User, _ = r.User()
	h.Workgroup, _ = r.Workgroup()
	if mac, ok := r.MAC(); ok {
		h.MAC = string(appendMAC(nil, mac))
	}
	for _, e := range r.Response.Names {
		h.Names = append(h.Names, nameJSON{Name: e.Name, Group: e.Flags.Group(), Flags: (e.Flags &^ nbns.FlagGroup).String()})
	}
	enc := json.NewEncoder(p.w)
	enc.SetEscapeHTML(false) // names read LABSRV<20>, not LABSRV\u003c20\u003e
	return enc.Encode(h)
}
