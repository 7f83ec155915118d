// Command nbtlookup finds the owners of NetBIOS names, as nmblookup does,
// with an nbt.Resolver: the LMHOSTS file, WINS servers, the hosts file and
// DNS, and broadcast, in the order given.
//
//	nbtlookup [-U ADDR[:PORT]]... [-B ADDR[:PORT]]... [-lmhosts FILE] [-order "lmhosts wins host bcast"]
//	          [-no-bcast] [-timeout 10s] [-json] [-v] NAME...
//
// NAME is NAME, NAME#xx (the suffix in hexadecimal, as nmblookup writes it)
// or NAME<xx>; a bare NAME has the suffix <20>, the file server's, which is
// what nbtdial and nbt.Dialer look up for a host given by its NetBIOS name.
// nmblookup's default is <00>: write NAME#00 for it. The name is
// upper-cased; a bare * is the wildcard *<00>.
//
// Each owner found is printed on a line of its own, as nbt.NameOwner
// prints it: the IPv4 address first, then the name, unique or group, the
// node type, and where it came from:
//
//	198.18.0.2 LABSRV<20> unique, B node, from WINS 198.18.0.5
//	198.18.0.7 LABSRV<20> unique, B node, from broadcast on 198.18.0.255, answered by 198.18.0.9
//	198.18.0.2 LABSRV<20> unique, B node, from LMHOSTS
//
// With -json each owner is a JSON object on a line of its own instead,
// with the fields addr, name, group, host (false for 0.0.0.0 and
// 255.255.255.255, which a WINS server gives for a group it keeps no
// members of), node_type, source (the step that answered: lmhosts, wins,
// host, bcast, or cache), origin (the step that first found it), server,
// responder and ttl (seconds), the last three left out when empty.
//
// A name that is not found is reported on standard error with every step
// tried and what each said. With -v each step of each lookup is printed on
// standard error as it starts and ends, and so are the warnings about the
// -lmhosts file; the lines that the file's parse skipped are printed
// always. The exit status is 0 when every name was found, 1 when one was
// not, and 2, looking up nothing, for a malformed flag or NAME.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
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
	fs := flag.NewFlagSet("nbtlookup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var rf nbtflags.ResolverFlags
	rf.Register(fs)
	timeout := fs.Duration("timeout", 10*time.Second, "bound on the lookup of each name; 0 for none")
	asJSON := fs.Bool("json", false, "print each owner as a JSON object on a line")
	verbose := fs.Bool("v", false, "print each step of each lookup on standard error")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: nbtlookup [flags] NAME...")
		fs.PrintDefaults()
		fmt.Fprint(stderr, nbtflags.ResolverUsage)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	if *timeout < 0 {
		fmt.Fprintf(stderr, "nbtlookup: invalid -timeout %v: want 0 or more\n", *timeout)
		return 2
	}
	names := make([]nbns.Name, 0, fs.NArg())
	for _, arg := range fs.Args() {
		if strings.HasPrefix(arg, "-") {
			fmt.Fprintf(stderr, "nbtlookup: %q after NAME: flags go before the names\n", arg)
			return 2
		}
		n, err := parseName(arg)
		if err != nil {
			fmt.Fprintf(stderr, "nbtlookup: name %q: %v\n", arg, err)
			return 2
		}
		names = append(names, n)
	}
	r, err := rf.Resolver()
	if err != nil {
		fmt.Fprintln(stderr, "nbtlookup:", err)
		return 2
	}
	for _, e := range rf.LMHosts().Errors() {
		fmt.Fprintln(stderr, "nbtlookup: skipped:", e)
	}
	if *verbose {
		for _, e := range rf.LMHosts().Warnings() {
			fmt.Fprintln(stderr, "nbtlookup: warning:", e)
		}
	}

	tr := &tracer{start: time.Now(), steps: make(map[nbns.Name]*trace)}
	if *verbose {
		tr.w = stderr
	}
	defer tr.close() // a step may end after its lookup was given up
	ctx = nbt.WithClientTrace(ctx, tr.clientTrace())
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false) // names read LABSRV<20>, not LABSRV\u003c20\u003e

	status := 0
	for _, n := range names {
		owners, err := lookup(ctx, r, n, *timeout, tr)
		if err != nil {
			fmt.Fprintln(stderr, "nbtlookup:", err)
			status = 1
			continue
		}
		for _, o := range owners {
			if *asJSON {
				enc.Encode(toJSON(o))
			} else {
				fmt.Fprintln(stdout, o)
			}
		}
	}
	return status
}

// lookup looks n up, within timeout when it is positive. Its error lists
// every step tried, those that a timeout cut short included.
func lookup(ctx context.Context, r *nbt.Resolver, n nbns.Name, timeout time.Duration, tr *tracer) ([]nbt.NameOwner, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	tr.begin(n)
	owners, err := r.LookupName(ctx, n)
	var le *nbt.LookupError
	if errors.As(err, &le) && len(le.Steps) == 0 {
		// LookupName returns no steps when ctx ends first: tell them
		// from the trace.
		err = &nbt.LookupError{Name: le.Name, Steps: tr.stepsOf(n, le.Err), Err: le.Err}
	}
	return owners, err
}

// parseName reads NAME, NAME#xx or NAME<xx>, upper-cased; a bare NAME has
// the suffix <20>, and a bare * is the wildcard.
func parseName(s string) (nbns.Name, error) {
	if strings.HasSuffix(s, ">") {
		n, err := nbns.ParseName(s)
		if err != nil {
			return n, fmt.Errorf("%v: want NAME, NAME#xx or NAME<xx>", err)
		}
		b := n.Bytes()
		for i, c := range b[:nbns.NameLen-1] {
			if 'a' <= c && c <= 'z' {
				b[i] = c - ('a' - 'A')
			}
		}
		return nbns.NameFromBytes(b), nil
	}
	if s == "*" {
		return nbns.Wildcard(), nil
	}
	if i := strings.LastIndexByte(s, '#'); i >= 0 {
		v, err := strconv.ParseUint(s[i+1:], 16, 8)
		if err != nil || len(s)-i-1 > 2 {
			return nbns.Name{}, fmt.Errorf("the suffix after # must be 1 or 2 hexadecimal digits, as in %s#20", s[:i])
		}
		return nbns.NewName(s[:i], nbns.Suffix(v))
	}
	return nbns.NewName(s, nbns.FileServer)
}

// ownerJSON is the -json form of an nbt.NameOwner.
type ownerJSON struct {
	Addr      string    `json:"addr"`
	Name      nbns.Name `json:"name"`
	Group     bool      `json:"group"`
	Host      bool      `json:"host"`
	NodeType  string    `json:"node_type"`
	Source    string    `json:"source"`
	Origin    string    `json:"origin"`
	Server    string    `json:"server,omitempty"`
	Responder string    `json:"responder,omitempty"`
	TTL       int64     `json:"ttl,omitempty"`
}

func toJSON(o nbt.NameOwner) ownerJSON {
	j := ownerJSON{
		Addr: o.Addr.String(), Name: o.Name, Group: o.Group, Host: o.IsHost(), NodeType: o.NodeType.String(),
		Source: o.Source.String(), Origin: o.Origin.String(), TTL: int64(o.TTL / time.Second),
	}
	if o.Server.IsValid() {
		j.Server = o.Server.String()
	}
	if o.Responder.IsValid() {
		j.Responder = o.Responder.String()
	}
	return j
}

// A tracer prints the steps of lookups with -v, and remembers them for
// the error of a lookup cut short. Its hooks may run after the lookup
// they belong to has returned, and once it is closed they do nothing.
type tracer struct {
	w     io.Writer // nil without -v
	start time.Time

	mu     sync.Mutex
	steps  map[nbns.Name]*trace
	closed bool
}

// trace is what the tracer saw of the lookup of one name.
type trace struct {
	done    []nbt.LookupStep
	running *nbt.LookupStartInfo // the step started and not ended
	since   time.Time
}

// begin starts remembering the steps of a lookup of n.
func (t *tracer) begin(n nbns.Name) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.steps[n] = &trace{}
}

// stepsOf returns the steps of the lookup of n, with the one running
// ended by err.
func (t *tracer) stepsOf(n nbns.Name, err error) []nbt.LookupStep {
	t.mu.Lock()
	defer t.mu.Unlock()
	tr := t.steps[n]
	if tr == nil {
		return nil
	}
	steps := append([]nbt.LookupStep(nil), tr.done...)
	if s := tr.running; s != nil {
		steps = append(steps, nbt.LookupStep{Source: s.Source, Servers: s.Servers, Err: err, Duration: time.Since(tr.since)})
	}
	return steps
}

func (t *tracer) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
}

// printf prints one line with the time since the start. The caller holds
// t.mu.
func (t *tracer) printf(format string, args ...any) {
	if t.w != nil {
		fmt.Fprintf(t.w, "%9s  "+format+"\n", append([]any{time.Since(t.start).Round(10 * time.Microsecond)}, args...)...)
	}
}

func (t *tracer) clientTrace() *nbt.ClientTrace {
	return &nbt.ClientTrace{
		LookupStart: func(i nbt.LookupStartInfo) {
			t.mu.Lock()
			defer t.mu.Unlock()
			if t.closed {
				return
			}
			if tr := t.steps[i.Name]; tr != nil {
				tr.running, tr.since = &i, time.Now()
			}
			s := nbt.LookupStep{Source: i.Source, Servers: i.Servers}.String()
			s, _, _ = strings.Cut(s, ": ") // the source and servers, without the outcome
			t.printf("lookup %v: %s ...", i.Name, s)
		},
		LookupDone: func(i nbt.LookupDoneInfo) {
			t.mu.Lock()
			defer t.mu.Unlock()
			if t.closed {
				return
			}
			step := nbt.LookupStep{Source: i.Source, Servers: i.Servers, Owners: len(i.Owners), Err: i.Err, Duration: i.Duration}
			if tr := t.steps[i.Name]; tr != nil {
				tr.done, tr.running = append(tr.done, step), nil
			}
			t.printf("lookup %v: %v", i.Name, step)
		},
	}
}
