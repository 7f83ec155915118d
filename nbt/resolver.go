package nbt

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/netbios-go/netbios/nbns"
)

// Source is one step of a [Resolver]'s resolution order, the way Samba's
// "name resolve order" names them.
type Source int

const (
	// SourceCache is the Resolver's cache of earlier answers, and the
	// LMHOSTS entries marked #PRE, loaded into it as Windows does. It is
	// always asked first.
	SourceCache Source = iota + 1

	// SourceLMHosts is the LMHOSTS file of Resolver.LMHosts.
	SourceLMHosts

	// SourceWINS is a name query to each WINS server of Resolver.WINS, in
	// order (RFC 1002 §4.2.12, §5.1.2.3).
	SourceWINS

	// SourceDNS is the hosts file and DNS, through Resolver.DNS: Samba's
	// "host".
	SourceDNS

	// SourceBroadcast is a broadcast name query on the local networks
	// (RFC 1002 §5.1.1.3): Samba's "bcast".
	SourceBroadcast
)

// String returns "cache", "lmhosts", "wins", "host" or "bcast".
func (s Source) String() string {
	switch s {
	case SourceCache:
		return "cache"
	case SourceLMHosts:
		return "lmhosts"
	case SourceWINS:
		return "wins"
	case SourceDNS:
		return "host"
	case SourceBroadcast:
		return "bcast"
	}
	return "Source(" + strconv.Itoa(int(s)) + ")"
}

// ParseOrder parses a resolution order as Samba's "name resolve order"
// writes it, names separated by spaces or commas: "lmhosts wins host
// bcast". "dns" is taken for "host". The cache is always asked first and
// is not named.
func ParseOrder(s string) ([]Source, error) {
	var order []Source
	for f := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' }) {
		var src Source
		switch strings.ToLower(f) {
		case "lmhosts":
			src = SourceLMHosts
		case "wins":
			src = SourceWINS
		case "host", "hosts", "dns":
			src = SourceDNS
		case "bcast", "broadcast":
			src = SourceBroadcast
		default:
			return nil, errors.New("nbt: unknown name resolution step " + strconv.Quote(f) + ": want lmhosts, wins, host or bcast")
		}
		if slices.Contains(order, src) {
			return nil, errors.New("nbt: name resolution step " + strconv.Quote(f) + " given twice")
		}
		order = append(order, src)
	}
	return order, nil
}

// DefaultOrder is the resolution order of a Resolver whose Order is nil,
// after the cache: LMHOSTS, WINS (when servers are configured), the hosts
// file and DNS, then broadcast. DNS comes before broadcast, unlike
// Windows' H-node order, so that "localhost" and every name DNS knows
// never cause a broadcast.
var DefaultOrder = []Source{SourceLMHosts, SourceWINS, SourceDNS, SourceBroadcast}

// Defaults of [Resolver].
const (
	// DefaultCacheTTL is how long a Resolver remembers an answer, at most:
	// Windows' remote name cache keeps one for 10 minutes (KB Q119493).
	DefaultCacheTTL = 10 * time.Minute

	// DefaultNegativeCacheTTL is how long a Resolver remembers that a
	// name was not found, so that a burst of dials to a dead name costs
	// one lookup; short, unlike jcifs's ten hours.
	DefaultNegativeCacheTTL = 15 * time.Second
)

// A NameOwner is one owner of a NetBIOS name, as a [Resolver] found it.
type NameOwner struct {
	Name     nbns.Name
	Addr     netip.Addr    // the owner's IPv4 address
	Group    bool          // the name is a group name
	NodeType nbns.NodeType // the owner's node type, from NB_FLAGS; only a name query tells it

	// Source is the step that found it; SourceCache for an answer
	// remembered (the Origin tells which step found it first).
	Source Source

	// Origin is the step that found the owner; for an owner from the
	// cache, the step that filled it.
	Origin Source

	// Server is the WINS server or the broadcast address the query went
	// to; zero for LMHOSTS and DNS.
	Server netip.Addr

	// Responder is the name service that answered: the WINS server, or
	// for a broadcast the host that answered, which is not always Addr
	// (a WINS proxy, a multihomed host, or a forger). Zero for LMHOSTS and
	// DNS.
	Responder netip.AddrPort

	// TTL is how long the answer is good for, as the answer gave it; zero
	// when it gave none.
	TTL time.Duration
}

// String describes the owner in one line: "198.18.0.2 LABSRV<20> unique,
// B node, from WINS 198.18.0.5".
func (o NameOwner) String() string {
	var b strings.Builder
	b.WriteString(o.Addr.String())
	b.WriteString(" ")
	b.WriteString(o.Name.String())
	if o.Group {
		b.WriteString(" group")
	} else {
		b.WriteString(" unique")
	}
	b.WriteString(", ")
	if o.Origin == SourceWINS || o.Origin == SourceBroadcast {
		b.WriteString(o.NodeType.String())
		b.WriteString(" node, ")
	}
	b.WriteString(o.via())
	return b.String()
}

// via words where the owner came from.
func (o NameOwner) via() string {
	from := o.Origin
	s := "from "
	if o.Source == SourceCache {
		s = "cached, from "
	}
	switch from {
	case SourceWINS:
		s += "WINS " + o.Server.String()
	case SourceBroadcast:
		s += "broadcast on " + o.Server.String()
		if o.Responder.IsValid() && o.Responder.Addr() != o.Addr {
			s += ", answered by " + o.Responder.Addr().String()
		}
	case SourceLMHosts:
		s += "LMHOSTS"
	case SourceDNS:
		s += "DNS"
	default:
		s += from.String()
	}
	return s
}

// IsHost reports whether the owner's address is one host's: not 0.0.0.0,
// nor 255.255.255.255, which a WINS server gives for a group name it keeps
// no members of (MS-NBTE §3.2.5.2), meaning "broadcast for it".
func (o NameOwner) IsHost() bool {
	return o.Addr.Is4() && !o.Addr.IsUnspecified() && o.Addr != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

// A Resolver finds the owners of NetBIOS names, asking its sources in
// order, as Windows and Samba do. The zero Resolver is ready to use: with
// no WINS server and no LMHOSTS file it asks the hosts file and DNS, then
// broadcasts on every local IPv4 network. A Resolver is safe for
// concurrent use; set its fields before its first use and do not change
// them after.
type Resolver struct {
	// WINS lists the WINS servers (NBNS, RFC 1001 §11), asked in order:
	// a server that is silent or answers that the name does not exist
	// moves the lookup on to the next, as Windows does since NT 4.0 SP3
	// (KB Q222840). Each is asked as WINSTimeout and WINSAttempts say.
	WINS []netip.Addr

	// Broadcast lists the directed broadcast addresses to query on (RFC
	// 1002 §6: BROADCAST_ADDRESS). Nil means the broadcast address of
	// every up, broadcast-capable IPv4 interface; never 255.255.255.255,
	// which leaves by one interface only and which stateful firewalls do
	// not match replies to.
	Broadcast []netip.Addr

	// NoBroadcast turns broadcast off, on a network whose hosts are not
	// trusted: any host there can answer a broadcast query for any name
	// (a Responder-style poisoner).
	NoBroadcast bool

	// LMHosts is the path of an LMHOSTS file, read as Windows reads it
	// ([LMHosts]). Its #PRE entries answer first, from the cache; the
	// others at LMHOSTS's place in the order. Empty means none.
	LMHosts string

	// DNS looks up names in the hosts file and DNS. Nil means
	// net.DefaultResolver.
	DNS *net.Resolver

	// Order is the resolution order after the cache. Nil means
	// DefaultOrder. A source that is not configured (WINS with no
	// server, LMHOSTS with no file, broadcast with NoBroadcast) is
	// skipped.
	Order []Source

	// CacheTTL bounds how long an answer is remembered; an answer whose
	// own TTL is shorter is remembered for that. Zero means
	// DefaultCacheTTL; negative turns the cache off.
	CacheTTL time.Duration

	// NegativeCacheTTL is how long a name that was not found is
	// remembered as such. Zero means DefaultNegativeCacheTTL; negative
	// means never.
	NegativeCacheTTL time.Duration

	// NameService sends the name queries: its Dialer, Listener and Scope
	// are used. Its Timeout and Attempts are overridden by the fields
	// below. Nil means a zero nbns.Client.
	NameService *nbns.Client

	// NameServicePort is the UDP port of the name services queried, every
	// WINS server's and the broadcast's alike. Zero means 137.
	NameServicePort uint16

	// WINSTimeout and WINSAttempts say how each WINS server is asked.
	// Zero means Windows' 1.5 s and 3 (NameSrvQueryTimeout,
	// NameSrvQueryCount); a negative timeout means no bound but the
	// context's.
	WINSTimeout  time.Duration
	WINSAttempts int

	// BroadcastTimeout and BroadcastAttempts say how a broadcast query is
	// sent. Zero means Windows' 750 ms and 3 (BcastQueryTimeout,
	// BcastNameQueryCount).
	BroadcastTimeout  time.Duration
	BroadcastAttempts int

	// ConflictWait is how long a broadcast lookup of a unique name goes
	// on collecting answers after the first owner answered, so that a
	// second owner, a conflict (RFC 1002 §5.1.1.3) or a forger, is
	// reported beside it. Zero means half the time the first answer took,
	// at least 2 ms and at most 250 ms; negative means none: the first
	// owner ends the lookup, as Windows and Samba do.
	ConflictWait time.Duration

	mu       sync.Mutex
	cache    map[resolveKey]resolved
	inflight map[resolveKey]*lookupCall
	lmhosts  *lmhostsState
}

// ErrNameNotFound is wrapped by the error of a lookup that no source
// answered: every step said the name does not exist, or said nothing.
var ErrNameNotFound = errors.New("nbt: NetBIOS name not found")

// A LookupError reports a lookup that found no owner: the name, each step
// tried and what each said.
type LookupError struct {
	Name  nbns.Name
	Steps []LookupStep
	Err   error // ErrNameNotFound, or the context's error
}

// LookupStep is one step of a lookup and how it ended.
type LookupStep struct {
	Source   Source
	Servers  []netip.Addr // the WINS server, or the broadcast addresses; nil for the other sources
	Owners   int          // owners found
	Err      error        // why it found none; nil when it found some
	Duration time.Duration
}

// String describes the step in one line, "wins 198.18.0.5: 1 owner (3ms)"
// or with the step's error in place of the count.
func (s LookupStep) String() string {
	var b strings.Builder
	b.WriteString(s.Source.String())
	for i, a := range s.Servers {
		if i == 0 {
			b.WriteString(" ")
		} else {
			b.WriteString(",")
		}
		b.WriteString(a.String())
	}
	b.WriteString(": ")
	if s.Err != nil {
		b.WriteString(innermost(s.Err).Error())
	} else {
		b.WriteString(strconv.Itoa(s.Owners))
		if s.Owners == 1 {
			b.WriteString(" owner")
		} else {
			b.WriteString(" owners")
		}
	}
	b.WriteString(" (")
	b.WriteString(s.Duration.Round(100 * time.Microsecond).String())
	b.WriteString(")")
	return b.String()
}

// Error names the name and every step: `lookup LABSRV<20>: nbt: NetBIOS
// name not found; wins 198.18.0.5: ...; bcast 198.18.0.255: ...`.
func (e *LookupError) Error() string {
	var b strings.Builder
	b.WriteString("lookup ")
	b.WriteString(e.Name.String())
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	for _, s := range e.Steps {
		b.WriteString("; ")
		b.WriteString(s.String())
	}
	return b.String()
}

// Unwrap returns Err and every step's error.
func (e *LookupError) Unwrap() []error {
	errs := []error{e.Err}
	for _, s := range e.Steps {
		if s.Err != nil {
			errs = append(errs, s.Err)
		}
	}
	return errs
}

// Timeout reports whether the lookup ended because time ran out.
func (e *LookupError) Timeout() bool { return errors.Is(e.Err, context.DeadlineExceeded) }

// Temporary reports false; it exists for net.Error.
func (e *LookupError) Temporary() bool { return false }

// IsNetBIOSName reports whether host is looked up as a NetBIOS name by a
// Dialer, rather than as a DNS name: at most 15 bytes, without a dot, and
// not an IP address. Samba's rule: a longer name or one with a dot "would
// not fit anyway".
func IsNetBIOSName(host string) bool {
	if host == "" || len(host) > nbns.NameLen-1 || strings.ContainsAny(host, ".:[]%") {
		return false
	}
	_, err := netip.ParseAddr(host)
	return err != nil
}

// resolveKey is what a lookup is for.
type resolveKey struct {
	name  nbns.Name
	scope string
}

// resolved is a cache entry: the owners, or none for a negative entry.
type resolved struct {
	owners  []NameOwner
	expires time.Time // zero: never (LMHOSTS #PRE)
}

// lookupCall is a lookup in flight, which later callers for the same name
// wait for instead of asking again.
type lookupCall struct {
	done    chan struct{}
	owners  []NameOwner
	err     error
	steps   []LookupStep // the steps ended so far, guarded by the Resolver's mu
	waiters int
	cancel  context.CancelFunc
}

// maxResolverCache bounds the entries of a Resolver's cache.
const maxResolverCache = 4096

func (r *Resolver) scope() string {
	if r.NameService == nil {
		return ""
	}
	return r.NameService.Scope
}

func (r *Resolver) dns() *net.Resolver {
	if r.DNS == nil {
		return net.DefaultResolver
	}
	return r.DNS
}

func (r *Resolver) order() []Source {
	if r.Order == nil {
		return DefaultOrder
	}
	return r.Order
}

func ttlOr(ttl, def time.Duration) time.Duration {
	if ttl == 0 {
		return def
	}
	return ttl
}

// LookupName returns every owner of name, asking the cache, then the
// sources of the Order in turn, until one finds an owner: for a unique
// name the first answer, for a group name every member an answer lists
// or, for a broadcast, every member that answers in time. Two different
// owners of one unique name, both answering a broadcast, are both
// returned (a conflict, RFC 1002 §5.1.1.3), in the order they answered;
// no NAME CONFLICT DEMAND is ever sent. Owners whose address is not a
// host's (see [NameOwner.IsHost]) are returned too, flagged.
//
// Concurrent lookups of one name make one lookup, which ends when every
// caller waiting for it has given up. The lookup's steps are reported to
// the ClientTrace of ctx. A lookup that finds no owner returns a
// *[LookupError] that lists every step, and wraps ErrNameNotFound or the
// context's error.
func (r *Resolver) LookupName(ctx context.Context, name nbns.Name) ([]NameOwner, error) {
	if ctx == nil {
		panic("nbt: nil context")
	}
	key := resolveKey{name, r.scope()}
	r.loadPreloaded()
	if owners, err, ok := r.cached(key, time.Now()); ok {
		return owners, err
	}
	r.mu.Lock()
	c := r.inflight[key]
	if c == nil {
		lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		c = &lookupCall{done: make(chan struct{}), cancel: cancel}
		if r.inflight == nil {
			r.inflight = make(map[resolveKey]*lookupCall)
		}
		r.inflight[key] = c
		go r.run(lctx, key, c)
	}
	c.waiters++
	r.mu.Unlock()

	select {
	case <-c.done:
		return slices.Clone(c.owners), c.err
	case <-ctx.Done():
		r.mu.Lock()
		steps := slices.Clone(c.steps)
		if c.waiters--; c.waiters == 0 {
			c.cancel() // nobody waits for it any more
			if r.inflight[key] == c {
				delete(r.inflight, key) // a new caller starts afresh
			}
		}
		r.mu.Unlock()
		return nil, &LookupError{Name: name, Steps: steps, Err: ctx.Err()}
	}
}

// run carries out the lookup of c, then caches and publishes its result.
func (r *Resolver) run(ctx context.Context, key resolveKey, c *lookupCall) {
	defer c.cancel()
	owners, err := r.lookup(ctx, key.name, c)
	now := time.Now()
	r.mu.Lock()
	if r.inflight[key] == c {
		delete(r.inflight, key)
	}
	switch {
	case err == nil:
		ttl := ttlOr(r.CacheTTL, DefaultCacheTTL)
		for _, o := range owners {
			if o.TTL > 0 && o.TTL < ttl {
				ttl = o.TTL
			}
		}
		r.store(key, owners, ttl, now)
	case errors.Is(err, ErrNameNotFound):
		r.store(key, nil, ttlOr(r.NegativeCacheTTL, DefaultNegativeCacheTTL), now)
	}
	c.owners, c.err = owners, err
	r.mu.Unlock()
	close(c.done)
}

// store remembers owners for key, for ttl; a non-positive ttl stores
// nothing. The caller holds r.mu.
func (r *Resolver) store(key resolveKey, owners []NameOwner, ttl time.Duration, now time.Time) {
	if ttl <= 0 || r.CacheTTL < 0 {
		return
	}
	if r.cache == nil {
		r.cache = make(map[resolveKey]resolved)
	}
	if _, ok := r.cache[key]; !ok && len(r.cache) >= maxResolverCache {
		for k, e := range r.cache {
			if !e.expires.IsZero() && !now.Before(e.expires) {
				delete(r.cache, k)
			}
		}
		for k, e := range r.cache {
			if len(r.cache) < maxResolverCache {
				break
			}
			if !e.expires.IsZero() {
				delete(r.cache, k)
			}
		}
	}
	cached := make([]NameOwner, len(owners))
	for i, o := range owners {
		o.Source = SourceCache
		cached[i] = o
	}
	r.cache[key] = resolved{owners: cached, expires: now.Add(ttl)}
}

// cached returns the cache's answer for key: its owners, or for a
// negative entry a *LookupError; ok is false when the cache has none.
func (r *Resolver) cached(key resolveKey, now time.Time) (owners []NameOwner, err error, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.cache[key]
	if !ok || (!e.expires.IsZero() && !now.Before(e.expires)) {
		return nil, nil, false
	}
	if len(e.owners) == 0 {
		return nil, &LookupError{Name: key.name, Err: ErrNameNotFound, Steps: []LookupStep{{Source: SourceCache, Err: errNegativeCached}}}, true
	}
	return slices.Clone(e.owners), nil, true
}

var errNegativeCached = errors.New("not found by a lookup moments ago (negative cache)")

// forget drops what the cache holds for name at addr, unless it came from
// LMHOSTS #PRE: the host at addr has just answered that it does not have
// name (0x82, RFC 1001 §15.1.8).
func (r *Resolver) forget(name nbns.Name, addr netip.Addr) {
	key := resolveKey{name, r.scope()}
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.cache[key]
	if !ok || e.expires.IsZero() {
		return
	}
	for _, o := range e.owners {
		if o.Addr == addr {
			delete(r.cache, key)
			return
		}
	}
}

// lookup asks the sources of the order in turn, for c.
func (r *Resolver) lookup(ctx context.Context, name nbns.Name, c *lookupCall) ([]NameOwner, error) {
	trace := ContextClientTrace(ctx)
	var steps []LookupStep
	for _, src := range r.order() {
		servers := r.servers(src)
		if servers == nil {
			continue // not configured
		}
		for _, group := range servers {
			if trace != nil && trace.LookupStart != nil {
				trace.LookupStart(LookupStartInfo{Name: name, Source: src, Servers: group})
			}
			start := time.Now()
			owners, err := r.ask(ctx, src, group, name)
			step := LookupStep{Source: src, Servers: group, Owners: len(owners), Err: err, Duration: time.Since(start)}
			if err == nil && len(owners) == 0 {
				step.Err = ErrNameNotFound
			}
			if trace != nil && trace.LookupDone != nil {
				trace.LookupDone(LookupDoneInfo{Name: name, Source: src, Servers: group, Owners: owners, Err: step.Err, Duration: step.Duration})
			}
			steps = append(steps, step)
			r.mu.Lock()
			c.steps = append(c.steps, step)
			r.mu.Unlock()
			if step.Err == nil {
				return owners, nil
			}
			if ctx.Err() != nil {
				return nil, &LookupError{Name: name, Steps: steps, Err: ctx.Err()}
			}
		}
	}
	return nil, &LookupError{Name: name, Steps: steps, Err: ErrNameNotFound}
}

// servers returns the sub-steps of src: the servers each asks, one WINS
// server a step, all the broadcast addresses in one; nil when src is not
// configured.
func (r *Resolver) servers(src Source) [][]netip.Addr {
	switch src {
	case SourceLMHosts:
		if r.LMHosts == "" {
			return nil
		}
	case SourceWINS:
		groups := make([][]netip.Addr, len(r.WINS))
		for i, s := range r.WINS {
			groups[i] = []netip.Addr{s}
		}
		return groups
	case SourceBroadcast:
		if r.NoBroadcast {
			return nil
		}
		addrs := r.Broadcast
		if addrs == nil {
			addrs = interfaceBroadcasts()
		}
		return [][]netip.Addr{addrs}
	case SourceDNS:
	default:
		return nil
	}
	return [][]netip.Addr{nil}
}

// ask runs one step of a lookup.
func (r *Resolver) ask(ctx context.Context, src Source, servers []netip.Addr, name nbns.Name) ([]NameOwner, error) {
	switch src {
	case SourceLMHosts:
		return r.askLMHosts(name)
	case SourceWINS:
		return r.askWINS(ctx, servers[0], name)
	case SourceDNS:
		return r.askDNS(ctx, name)
	case SourceBroadcast:
		return r.askBroadcast(ctx, servers, name)
	}
	return nil, errors.New("nbt: unknown name resolution step " + src.String())
}

// client returns the name service client of a step, with its timing.
func (r *Resolver) client(timeout time.Duration, attempts int) *nbns.Client {
	var c nbns.Client
	if r.NameService != nil {
		c = *r.NameService
	}
	c.Timeout, c.Attempts = timeout, attempts
	return &c
}

func (r *Resolver) port() uint16 {
	if r.NameServicePort == 0 {
		return nbns.Port
	}
	return r.NameServicePort
}

// Windows' name query timers (NetBT parameters, NAMES.md §3.2).
const (
	winsTimeout       = 1500 * time.Millisecond // NameSrvQueryTimeout
	winsAttempts      = 3                       // NameSrvQueryCount
	broadcastTimeout  = 750 * time.Millisecond  // BcastQueryTimeout
	broadcastAttempts = 3                       // BcastNameQueryCount
)

// askWINS asks one WINS server, with RD set, as a WINS server needs. A
// REDIRECT (RFC 1002 §4.2.15) to another NBNS is followed once: the query
// is sent there again; a second redirect ends the step with its error.
func (r *Resolver) askWINS(ctx context.Context, server netip.Addr, name nbns.Name) ([]NameOwner, error) {
	c := r.client(ttlOr(r.WINSTimeout, winsTimeout), cmpOr(r.WINSAttempts, winsAttempts))
	target := netip.AddrPortFrom(server, r.port())
	resp, err := c.QueryName(ctx, target, name, true)
	var re *nbns.RedirectError
	if errors.As(err, &re) {
		to := re.Redirect.Addr
		if !to.Is4() || to == server || checkUnicast(to) != nil {
			return nil, &redirectError{from: server, to: to, err: err}
		}
		target = netip.AddrPortFrom(to, nbns.Port) // NSD_IP_ADDR, port 137
		if resp, err = c.QueryName(ctx, target, name, true); err != nil {
			return nil, &redirectError{from: server, to: to, err: err}
		}
	}
	if err != nil {
		return nil, err
	}
	owners := make([]NameOwner, 0, len(resp.Entries))
	for _, e := range resp.Entries {
		owners = append(owners, NameOwner{
			Name: name, Addr: e.Addr, Group: e.Flags.Group(), NodeType: e.Flags.OwnerNodeType(),
			Source: SourceWINS, Origin: SourceWINS, Server: server, Responder: target,
			TTL: time.Duration(resp.TTL) * time.Second,
		})
	}
	return owners, nil
}

// redirectError reports a WINS server's redirect that did not lead to an
// answer.
type redirectError struct {
	from, to netip.Addr
	err      error
}

func (e *redirectError) Error() string {
	return "redirected by " + e.from.String() + " to " + e.to.String() + ": " + innermost(e.err).Error()
}

func (e *redirectError) Unwrap() error { return e.err }

// askBroadcast broadcasts a query to every address in addrs. For a group
// name it collects answers until the query's wait ends. For a unique name
// it stops after the first owner, once ConflictWait has passed, so that a
// second owner that answers about as fast, a conflict or a forger, is
// reported too.
func (r *Resolver) askBroadcast(ctx context.Context, addrs []netip.Addr, name nbns.Name) ([]NameOwner, error) {
	if len(addrs) == 0 {
		return nil, errNoBroadcast
	}
	c := r.client(ttlOr(r.BroadcastTimeout, broadcastTimeout), cmpOr(r.BroadcastAttempts, broadcastAttempts))
	targets := make([]netip.AddrPort, len(addrs))
	for i, a := range addrs {
		targets[i] = netip.AddrPortFrom(a, r.port())
	}
	qctx, stop := context.WithCancel(ctx)
	defer stop()
	start := time.Now()
	var window *time.Timer
	var owners []NameOwner
	for ans, err := range c.QueryNameBroadcast(qctx, name, targets...) {
		if err != nil {
			if len(owners) > 0 && ctx.Err() == nil {
				break // the wait, or the conflict window, ended after answers
			}
			return nil, err
		}
		for _, e := range ans.Entries {
			owners = append(owners, NameOwner{
				Name: name, Addr: e.Addr, Group: e.Flags.Group(), NodeType: e.Flags.OwnerNodeType(),
				Source: SourceBroadcast, Origin: SourceBroadcast, Server: broadcastOf(addrs, ans.From.Addr()),
				Responder: ans.From, TTL: time.Duration(ans.TTL) * time.Second,
			})
		}
		if ans.Unique() && window == nil {
			w := r.conflictWait(time.Since(start))
			if w <= 0 {
				break
			}
			window = time.AfterFunc(w, stop)
		}
	}
	if window != nil {
		window.Stop()
	}
	return owners, nil
}

// conflictWait is how long a broadcast lookup of a unique name goes on
// collecting after the first owner answered, took after the query went
// out.
func (r *Resolver) conflictWait(took time.Duration) time.Duration {
	if r.ConflictWait != 0 {
		return r.ConflictWait
	}
	return min(max(took/2, minConflictWait), maxConflictWait)
}

// Bounds of the default ConflictWait: half as long again as the first
// answer took, which a second owner on the same network takes too, as
// Race waits for node status (see [grace]).
const (
	minConflictWait = 2 * time.Millisecond
	maxConflictWait = 250 * time.Millisecond
)

var errNoBroadcast = errors.New("nbt: no IPv4 interface with a broadcast address to query on")

// broadcastOf returns the address of addrs whose network from is on, as
// far as can be told: the one whose network shares the longest prefix
// with from.
func broadcastOf(addrs []netip.Addr, from netip.Addr) netip.Addr {
	best, bestLen := addrs[0], -1
	for _, a := range addrs {
		n := commonPrefix(a, from)
		if n > bestLen {
			best, bestLen = a, n
		}
	}
	return best
}

func commonPrefix(a, b netip.Addr) int {
	x, y := a.As4(), b.As4()
	n := 0
	for i := range 4 {
		d := x[i] ^ y[i]
		for bit := 7; bit >= 0; bit-- {
			if d>>bit&1 != 0 {
				return n
			}
			n++
		}
	}
	return n
}

func cmpOr(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// askDNS looks the name up in the hosts file and DNS, for the names that
// a host name can be: a server's <20> or a workstation's <00> (Samba asks
// DNS for these and <1C> only).
func (r *Resolver) askDNS(ctx context.Context, name nbns.Name) ([]NameOwner, error) {
	switch name.Suffix() {
	case nbns.FileServer, nbns.Workstation:
	default:
		return nil, errors.New("nbt: a name with suffix <" + strconv.FormatUint(uint64(name.Suffix()), 16) + "> is not looked up in DNS")
	}
	host := nameLabel(name)
	if !IsNetBIOSName(host) || r.scope() != "" {
		return nil, errors.New("nbt: not a host name")
	}
	ips, err := r.dns().LookupNetIP(ctx, "ip4", host)
	if err != nil {
		return nil, err
	}
	var owners []NameOwner
	for _, ip := range ips {
		if ip = ip.Unmap(); ip.Is4() {
			owners = append(owners, NameOwner{Name: name, Addr: ip, Source: SourceDNS, Origin: SourceDNS})
		}
	}
	return owners, nil
}

// nameLabel returns the 15 name bytes of n without their space padding.
func nameLabel(n nbns.Name) string {
	b := n.Bytes()
	return strings.TrimRight(string(b[:nbns.NameLen-1]), " ")
}

// interfaceBroadcasts returns the directed broadcast address of every up,
// broadcast-capable IPv4 interface, but loopback and point-to-point ones.
func interfaceBroadcasts() []netip.Addr {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagBroadcast == 0 || ifc.Flags&(net.FlagLoopback|net.FlagPointToPoint) != 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(n.IP)
			ones, bits := n.Mask.Size()
			if !ok || !ip.Unmap().Is4() || bits != 32 || ones >= 31 {
				continue
			}
			b := directedBroadcast(netip.PrefixFrom(ip.Unmap(), ones))
			if !slices.Contains(out, b) {
				out = append(out, b)
			}
		}
	}
	return out
}

// lmhostsState is the LMHOSTS file as last read, read again when it or a
// file it includes changes.
type lmhostsState struct {
	mu      sync.Mutex
	stamps  []fileStamp // of every file read, the main one first; nil before the first read
	file    *LMHosts
	err     error
	preload []resolveKey // the cache entries its #PRE entries filled
}

// fileStamp tells whether a file changed.
type fileStamp struct {
	path string
	mod  time.Time
	size int64
	err  bool // it could not be read
}

func stampOf(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{path: path, err: true}
	}
	return fileStamp{path: path, mod: fi.ModTime(), size: fi.Size()}
}

// stale reports whether a file of stamps changed since they were taken.
func stale(stamps []fileStamp) bool {
	if stamps == nil {
		return true
	}
	for _, st := range stamps {
		if stampOf(st.path) != st {
			return true
		}
	}
	return false
}

// lmhostsFile returns the LMHOSTS file, read anew when a file it is made
// of changed, with its #PRE entries loaded into the cache (they stay
// there, with no expiry, until the file changes).
func (r *Resolver) lmhostsFile() (*LMHosts, error) {
	if r.LMHosts == "" {
		return nil, nil
	}
	r.mu.Lock()
	if r.lmhosts == nil {
		r.lmhosts = &lmhostsState{}
	}
	st := r.lmhosts
	r.mu.Unlock()

	st.mu.Lock()
	defer st.mu.Unlock()
	if !stale(st.stamps) {
		return st.file, st.err
	}
	st.stamps = []fileStamp{stampOf(r.LMHosts)}
	st.file, st.err = ReadLMHosts(r.LMHosts)
	for _, f := range st.file.Files() {
		if f != st.stamps[0].path {
			st.stamps = append(st.stamps, stampOf(f))
		}
	}
	r.setPreloaded(st, st.file)
	return st.file, st.err
}

// setPreloaded replaces the cache entries of st's #PRE entries with those
// of file: for each name a #PRE entry answers, what file's Lookup gives,
// which puts #PRE entries first and follows #MH and #DOM. The caller holds
// st.mu.
func (r *Resolver) setPreloaded(st *lmhostsState, file *LMHosts) {
	byKey := make(map[resolveKey][]NameOwner)
	var keys []resolveKey
	for _, e := range file.Preloaded() {
		for _, n := range e.Names() {
			k := resolveKey{n, r.scope()}
			if _, ok := byKey[k]; ok {
				continue
			}
			keys = append(keys, k)
			for _, m := range file.Lookup(n) {
				byKey[k] = append(byKey[k], lmhostsOwner(n, m, SourceCache))
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range st.preload {
		if e, ok := r.cache[k]; ok && e.expires.IsZero() {
			delete(r.cache, k)
		}
	}
	if len(keys) > 0 && r.cache == nil {
		r.cache = make(map[resolveKey]resolved)
	}
	for _, k := range keys {
		r.cache[k] = resolved{owners: byKey[k]} // no expiry
	}
	st.preload = keys
}

// loadPreloaded reads the LMHOSTS file, if there is one, so that its #PRE
// entries are in the cache before the cache is asked.
func (r *Resolver) loadPreloaded() {
	if r.LMHosts != "" {
		r.lmhostsFile()
	}
}

func lmhostsOwner(name nbns.Name, e LMHostsEntry, src Source) NameOwner {
	return NameOwner{Name: name, Addr: e.Addr, Group: name.Suffix() == nbns.DomainControllers, Source: src, Origin: SourceLMHosts}
}

// askLMHosts looks name up in the LMHOSTS file.
func (r *Resolver) askLMHosts(name nbns.Name) ([]NameOwner, error) {
	file, err := r.lmhostsFile()
	if err != nil {
		return nil, err
	}
	var owners []NameOwner
	for _, e := range file.Lookup(name) {
		owners = append(owners, lmhostsOwner(name, e, SourceLMHosts))
	}
	if len(owners) == 0 {
		return nil, &notInLMHosts{skipped: len(file.Errors())}
	}
	return owners, nil
}

// notInLMHosts is the error of an LMHOSTS lookup that found nothing. It
// counts the file's lines that were skipped, which [LMHosts.Errors]
// lists, since the name may be on one of them.
type notInLMHosts struct{ skipped int }

func (e *notInLMHosts) Error() string {
	switch e.skipped {
	case 0:
		return "not in LMHOSTS"
	case 1:
		return "not in LMHOSTS, which has a line skipped as bad"
	}
	return "not in LMHOSTS, which has " + strconv.Itoa(e.skipped) + " lines skipped as bad"
}

func (e *notInLMHosts) Unwrap() error { return ErrNameNotFound }
