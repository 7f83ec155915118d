//go:build interop

package nbt_test

// Interop tests of name resolution (issue 12) against the lab's real
// peers: nmbd A (198.18.0.2, LABSRV, a WINS client and so an H node),
// nmbd W (198.18.0.5, WINSSRV, wins support = yes: the WINS server that A
// registers LABSRV and LABGRP with), smbd A and B, and Samba's nmblookup
// as a client of nbttest's name service. Every broadcast goes to the lab
// link's 198.18.0.255 only, named explicitly; no test asks DNS (every
// Resolver here has an Order without "host").
//
// What crosses the wire is counted from a capture (dumpcap on the lab's
// root-side veth, decoded by tshark), not guessed from the clock.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/nbt"
)

// nmbdMaxTTL is nmbd's "max ttl", the TTL of its positive answers: 3 days.
// The WINS server gives what is left of a registration's TTL, at most this.
const nmbdMaxTTL = 259200 * time.Second

// Windows' name query timers, the Resolver's defaults (NAMES.md §3.2).
const (
	winsWait  = 1500 * time.Millisecond // NameSrvQueryTimeout, 3 attempts
	bcastWait = 750 * time.Millisecond  // BcastQueryTimeout, 3 attempts
)

// maxConflictWindow is the longest the Resolver goes on collecting after
// the first answer to a broadcast for a unique name, by default.
const maxConflictWindow = 250 * time.Millisecond

// lanSlack is the tolerance on a time the Resolver's timers fix: the lab
// link's round trip is a fraction of a millisecond, so this covers only the
// scheduling of the test process (the race detector, 2 vCPUs).
const lanSlack = 100 * time.Millisecond

// zeroAddr is what nmbd's WINS server gives for a normal group.
var zeroAddr = netip.MustParseAddr("0.0.0.0")

func (e sambaLab) groupName(suffix nbns.Suffix) nbns.Name { return nbns.MustName(e.Group, suffix) }

// ownerText prints an owner with every field but TTL, for cmp.Diff.
func ownerText(o nbt.NameOwner) string {
	kind := "unique"
	if o.Group {
		kind = "group"
	}
	return fmt.Sprintf("%v %v %s %v-node source=%v origin=%v server=%v responder=%v host=%v",
		o.Addr, o.Name, kind, o.NodeType, o.Source, o.Origin, o.Server, o.Responder, o.IsHost())
}

func ownersText(os []nbt.NameOwner) []string {
	out := make([]string, 0, len(os))
	for _, o := range os {
		out = append(out, ownerText(o))
	}
	return out
}

// checkTTL checks that every owner from a name query has a TTL of at most
// nmbd's max ttl and more than a minute left.
func checkTTL(t *testing.T, owners []nbt.NameOwner) {
	t.Helper()
	for _, o := range owners {
		if o.TTL < time.Minute || o.TTL > nmbdMaxTTL {
			t.Errorf("%v: TTL %v, want at most %v (nmbd's max ttl) and more than a minute", o, o.TTL, nmbdMaxTTL)
		}
	}
}

// stepTrace collects a lookup's steps through the ClientTrace.
type stepTrace struct {
	mu    sync.Mutex
	steps []nbt.LookupDoneInfo
}

func (st *stepTrace) context(ctx context.Context) context.Context {
	return nbt.WithClientTrace(ctx, &nbt.ClientTrace{LookupDone: func(i nbt.LookupDoneInfo) {
		st.mu.Lock()
		st.steps = append(st.steps, i)
		st.mu.Unlock()
	}})
}

func (st *stepTrace) get() []nbt.LookupDoneInfo {
	st.mu.Lock()
	defer st.mu.Unlock()
	return slices.Clone(st.steps)
}

// stepText prints a traced step: its source, servers, owners and error.
func stepText(i nbt.LookupDoneInfo) string {
	s := fmt.Sprintf("%v %v: %d owners", i.Source, i.Servers, len(i.Owners))
	if i.Err != nil {
		s += ", error"
	}
	return s
}

// waitBroadcastReady waits, at most 10 s, until nmbd A answers a
// broadcast query for its own name: nmbd answers broadcasts for its names
// only once its broadcast registration is done, 3 to 3.5 s after it
// starts (.ci/samba-lab up waits for it too, but a test may run right
// after a restart).
func (e sambaLab) waitBroadcastReady(t *testing.T) {
	t.Helper()
	c := nbns.Client{Timeout: 200 * time.Millisecond, Attempts: 1}
	deadline := time.Now().Add(10 * time.Second)
	for try := 1; ; try++ {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		for a, err := range c.QueryNameBroadcast(ctx, e.serverName(), netip.AddrPortFrom(e.Bcast, nbns.Port)) {
			if err == nil && a.From == netip.AddrPortFrom(e.Host, nbns.Port) {
				cancel()
				if try > 1 {
					t.Logf("nmbd A answered a broadcast on try %d", try)
				}
				return
			}
		}
		cancel()
		if time.Now().After(deadline) {
			t.Fatalf("nmbd A at %v did not answer a broadcast query for %v on %v within 10 s", e.Host, e.serverName(), e.Bcast)
		}
	}
}

// ---- captures of UDP 137 ----------------------------------------------------

// nbnsPacket is one NBNS datagram of a capture, as tshark decodes it.
type nbnsPacket struct {
	At       time.Duration // since the capture began
	Src, Dst netip.AddrPort
	ID       uint16
	Flags    uint16
}

func (p nbnsPacket) String() string {
	return fmt.Sprintf("%v -> %v id=%#04x flags=%#04x", p.Src, p.Dst, p.ID, p.Flags)
}

// nbnsCapture captures the UDP 137 datagrams to and from the root
// namespace's lab address on the lab's veth.
type nbnsCapture struct {
	t    *testing.T
	file string
	stop func()
}

func startNBNSCapture(t *testing.T) *nbnsCapture {
	t.Helper()
	for _, tool := range []string{"dumpcap", "tshark"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s: %v (apt-get install tshark)", tool, err)
		}
	}
	file := filepath.Join(t.TempDir(), "nbns.pcap")
	stop := startCapture(t, vethHost, fmt.Sprintf("udp port 137 and host %s", rootAddr), file)
	return &nbnsCapture{t: t, file: file, stop: stop}
}

// packets stops the capture, once every packet sent has reached the file,
// and returns the NBNS datagrams in it. (dumpcap hands packets over in
// blocks, on a timer: the file must have stopped growing, quiet for
// 500 ms, before it stops; see waitCapture.)
func (c *nbnsCapture) packets(sent int) []nbnsPacket {
	t := c.t
	t.Helper()
	if sent > 0 {
		waitCapture(t, c.file, 500*time.Millisecond, 10*time.Second)
	} else {
		// Nothing is expected: give dumpcap its block timer's worth
		// (waitCapture cannot wait for a first frame that never comes).
		waitQuiet(c.file, 500*time.Millisecond)
	}
	c.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "tshark", "-n", "-r", c.file, "-Y", "nbns", "-T", "fields", "-E", "separator=,",
		"-e", "frame.time_relative", "-e", "ip.src", "-e", "udp.srcport", "-e", "ip.dst", "-e", "udp.dstport",
		"-e", "nbns.id", "-e", "nbns.flags")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, stderr.String())
	}
	out := string(b)
	var ps []nbnsPacket
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, ",")
		if len(f) != 7 {
			t.Fatalf("tshark line %q: want 7 fields", line)
		}
		sec, err1 := strconv.ParseFloat(f[0], 64)
		sp, err2 := strconv.ParseUint(f[2], 10, 16)
		dp, err3 := strconv.ParseUint(f[4], 10, 16)
		id, err4 := strconv.ParseUint(f[5], 0, 16)
		fl, err5 := strconv.ParseUint(f[6], 0, 16)
		src, err6 := netip.ParseAddr(f[1])
		dst, err7 := netip.ParseAddr(f[3])
		if err := errors.Join(err1, err2, err3, err4, err5, err6, err7); err != nil {
			t.Fatalf("tshark line %q: %v", line, err)
		}
		ps = append(ps, nbnsPacket{
			At:  time.Duration(sec * float64(time.Second)),
			Src: netip.AddrPortFrom(src, uint16(sp)), Dst: netip.AddrPortFrom(dst, uint16(dp)),
			ID: uint16(id), Flags: uint16(fl),
		})
	}
	return ps
}

// waitQuiet waits until file has not grown for quiet, at most 5 s.
func waitQuiet(file string, quiet time.Duration) {
	deadline := time.Now().Add(5 * time.Second)
	last, since := int64(-1), time.Now()
	for time.Now().Before(deadline) {
		if n := fileSize(file); n != last {
			last, since = n, time.Now()
		} else if time.Since(since) >= quiet {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// packetText prints packets without their ports on our side (ephemeral)
// and IDs (random), for cmp.Diff: "198.18.0.1 -> 198.18.0.5:137 0x0100".
func packetText(ps []nbnsPacket) []string {
	var out []string
	for _, p := range ps {
		src, dst := p.Src.String(), p.Dst.String()
		if p.Src.Addr() == rootAddr {
			src = p.Src.Addr().String()
		}
		if p.Dst.Addr() == rootAddr {
			dst = p.Dst.Addr().String()
		}
		out = append(out, fmt.Sprintf("%s -> %s %#04x", src, dst, p.Flags))
	}
	return out
}

// checkExchanges checks that every response carries the ID of a query
// sent before it from the port it goes to.
func checkExchanges(t *testing.T, ps []nbnsPacket) {
	t.Helper()
	for i, p := range ps {
		if p.Flags&0x8000 == 0 {
			continue
		}
		ok := false
		for _, q := range ps[:i] {
			ok = ok || q.Flags&0x8000 == 0 && q.ID == p.ID && q.Src == p.Dst
		}
		if !ok {
			t.Errorf("response %v answers no query sent before it", p)
		}
	}
}

// Flag words on the wire (RFC 1002 §4.2.1.1): the query's RD and B bits,
// nmbd's R|AA|RD|RA (0x8580), and NAM_ERR (RCODE 3).
const (
	flagsQueryRD      = 0x0100
	flagsBroadcast    = 0x0110
	flagsNmbdPositive = 0x8580
	flagsNmbdNegative = 0x8583
)

// ---- WINS -----------------------------------------------------------------------

// TestInteropNameWINS resolves names through nmbd W, a real WINS server,
// which knows them from nmbd A's registrations: LABSRV<20> is A's unique
// name, LABGRP<1E> a normal group. The query has RD set (nmbd's WINS
// server takes only those), one datagram each way; the second lookup comes
// from the cache and sends nothing.
func TestInteropNameWINS(t *testing.T) {
	env := needLab(t)
	env.logsOnFailure(t, "a", "w")
	winsNS := netip.AddrPortFrom(env.WINS, nbns.Port)

	t.Run("unique", func(t *testing.T) {
		r := &nbt.Resolver{WINS: []netip.Addr{env.WINS}, Order: []nbt.Source{nbt.SourceWINS}}
		capture := startNBNSCapture(t)
		var st stepTrace
		start := time.Now()
		owners, err := r.LookupName(st.context(stepContext(t, 10*time.Second)), env.serverName())
		took := time.Since(start)
		if err != nil {
			t.Fatalf("LookupName(%v): %v", env.serverName(), err)
		}
		t.Logf("WINS answered in %v: %v", took, owners)
		want := []string{fmt.Sprintf("%v %v unique H-node source=wins origin=wins server=%v responder=%v host=true", env.Host, env.serverName(), env.WINS, winsNS)}
		if diff := cmp.Diff(want, ownersText(owners)); diff != "" {
			t.Errorf("owners (-want +got):\n%s", diff)
		}
		checkTTL(t, owners)
		if got, want := owners[0].String(), fmt.Sprintf("%v %v unique, H node, from WINS %v", env.Host, env.serverName(), env.WINS); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
		if diff := cmp.Diff([]string{fmt.Sprintf("wins [%v]: 1 owners", env.WINS)}, stepsText(st.get())); diff != "" {
			t.Errorf("steps (-want +got):\n%s", diff)
		}

		// The cache answers now: owner Source cache, Origin WINS.
		cached, err := r.LookupName(stepContext(t, 10*time.Second), env.serverName())
		if err != nil {
			t.Fatalf("second LookupName: %v", err)
		}
		want = []string{fmt.Sprintf("%v %v unique H-node source=cache origin=wins server=%v responder=%v host=true", env.Host, env.serverName(), env.WINS, winsNS)}
		if diff := cmp.Diff(want, ownersText(cached)); diff != "" {
			t.Errorf("cached owners (-want +got):\n%s", diff)
		}

		ps := capture.packets(2)
		wantPackets := []string{
			fmt.Sprintf("%v -> %v %#04x", rootAddr, winsNS, flagsQueryRD),
			fmt.Sprintf("%v -> %v %#04x", winsNS, rootAddr, flagsNmbdPositive),
		}
		if diff := cmp.Diff(wantPackets, packetText(ps)); diff != "" {
			t.Errorf("datagrams on the wire, both lookups (-want +got):\n%s", diff)
		}
		checkExchanges(t, ps)
	})

	t.Run("group", func(t *testing.T) {
		// NAMES.md §1.2 (from MS-NBTE note 11 and a reading of
		// nmbd_winsserver.c) expects 255.255.255.255 for a group but <1C>.
		// nmbd 4.17 sends 0.0.0.0, with the group's G and ONT flags (0xE000).
		// Either way the owner is no host.
		r := &nbt.Resolver{WINS: []netip.Addr{env.WINS}, Order: []nbt.Source{nbt.SourceWINS}}
		name := env.groupName(0x1E)
		owners, err := r.LookupName(stepContext(t, 10*time.Second), name)
		if err != nil {
			t.Fatalf("LookupName(%v): %v", name, err)
		}
		t.Logf("WINS: %v", owners)
		want := []string{fmt.Sprintf("%v %v group H-node source=wins origin=wins server=%v responder=%v host=false", zeroAddr, name, env.WINS, winsNS)}
		if diff := cmp.Diff(want, ownersText(owners)); diff != "" {
			t.Errorf("owners (-want +got):\n%s", diff)
		}
		checkTTL(t, owners)
		for _, o := range owners {
			if o.IsHost() {
				t.Errorf("%v: IsHost() = true for a WINS group answer", o)
			}
		}
	})

	t.Run("RD clear", func(t *testing.T) {
		// Without RD, nmbd W answers from its own names (its unicast
		// subnet), not from the WINS database: LABSRV<20> is unknown there.
		c := nbns.Client{Timeout: 500 * time.Millisecond, Attempts: 2}
		_, err := c.QueryName(stepContext(t, 10*time.Second), winsNS, env.serverName(), false)
		var ne *nbns.NegativeError
		if !errors.As(err, &ne) || ne.RCode != nbns.RCodeNameError || ne.Name != env.serverName() {
			t.Fatalf("QueryName(%v, RD clear) = %v; want a NAM_ERR negative response for it", env.serverName(), err)
		}
	})

	t.Run("own name", func(t *testing.T) {
		// nmbd's WINS database holds what was registered with it, not the
		// server's own names: WINSSRV<20> with RD set is NAM_ERR, and with
		// RD clear W answers for itself.
		c := nbns.Client{Timeout: 500 * time.Millisecond, Attempts: 2}
		own := nbns.MustName("WINSSRV", nbns.FileServer)
		_, err := c.QueryName(stepContext(t, 10*time.Second), winsNS, own, true)
		if !errors.Is(err, nbns.RCodeNameError) {
			t.Errorf("QueryName(%v, RD) = %v; want NAM_ERR", own, err)
		}
		resp, err := c.QueryName(stepContext(t, 10*time.Second), winsNS, own, false)
		if err != nil {
			t.Fatalf("QueryName(%v, RD clear): %v", own, err)
		}
		if len(resp.Entries) != 1 || resp.Entries[0].Addr != env.WINS || resp.Entries[0].Flags.Group() {
			t.Errorf("QueryName(%v, RD clear) entries %v, want one unique entry for %v", own, resp.Entries, env.WINS)
		}
	})
}

func stepsText(steps []nbt.LookupDoneInfo) []string {
	var out []string
	for _, s := range steps {
		out = append(out, stepText(s))
	}
	return out
}

// ---- broadcast ------------------------------------------------------------------

// TestInteropNameBroadcast resolves names by a broadcast query on the lab
// link, 198.18.0.255, from the root namespace (198.18.0.1): the unique
// LABSRV<20>, which nmbd A answers (and W, which does not own it, does
// not), and the group LABGRP<1E>, of which A and W are both members: the
// lookup collects both, for the whole wait (3 x 750 ms).
func TestInteropNameBroadcast(t *testing.T) {
	env := needLab(t)
	env.logsOnFailure(t, "a", "w")
	env.waitBroadcastReady(t)
	bcastNS := netip.AddrPortFrom(env.Bcast, nbns.Port)
	hostNS := netip.AddrPortFrom(env.Host, nbns.Port)
	winsNS := netip.AddrPortFrom(env.WINS, nbns.Port)
	newResolver := func() *nbt.Resolver {
		return &nbt.Resolver{Broadcast: []netip.Addr{env.Bcast}, Order: []nbt.Source{nbt.SourceBroadcast}}
	}

	t.Run("unique", func(t *testing.T) {
		capture := startNBNSCapture(t)
		start := time.Now()
		owners, err := newResolver().LookupName(stepContext(t, 10*time.Second), env.serverName())
		took := time.Since(start)
		if err != nil {
			t.Fatalf("LookupName(%v): %v", env.serverName(), err)
		}
		t.Logf("answered in %v: %v", took, owners)
		want := []string{fmt.Sprintf("%v %v unique H-node source=bcast origin=bcast server=%v responder=%v host=true", env.Host, env.serverName(), env.Bcast, hostNS)}
		if diff := cmp.Diff(want, ownersText(owners)); diff != "" {
			t.Errorf("owners (-want +got):\n%s", diff)
		}
		checkTTL(t, owners)
		if got, want := owners[0].String(), fmt.Sprintf("%v %v unique, H node, from broadcast on %v", env.Host, env.serverName(), env.Bcast); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
		// The first unique answer ends the lookup after the conflict
		// window: half the time the answer took, at least 2 ms.
		if took > lanSlack {
			t.Errorf("the lookup took %v; want the first answer, a LAN round trip, and a window of 2 ms, within %v", took, lanSlack)
		}
		ps := capture.packets(2)
		wantPackets := []string{
			fmt.Sprintf("%v -> %v %#04x", rootAddr, bcastNS, flagsBroadcast),
			fmt.Sprintf("%v -> %v %#04x", hostNS, rootAddr, flagsNmbdPositive),
		}
		if diff := cmp.Diff(wantPackets, packetText(ps)); diff != "" {
			t.Errorf("datagrams on the wire (-want +got):\n%s", diff)
		}
		checkExchanges(t, ps)
	})

	t.Run("group", func(t *testing.T) {
		name := env.groupName(0x1E)
		capture := startNBNSCapture(t)
		start := time.Now()
		owners, err := newResolver().LookupName(stepContext(t, 10*time.Second), name)
		took := time.Since(start)
		if err != nil {
			t.Fatalf("LookupName(%v): %v", name, err)
		}
		t.Logf("collected in %v: %v", took, owners)
		slices.SortFunc(owners, func(a, b nbt.NameOwner) int { return a.Addr.Compare(b.Addr) })
		want := []string{
			fmt.Sprintf("%v %v group H-node source=bcast origin=bcast server=%v responder=%v host=true", env.Host, name, env.Bcast, hostNS),
			fmt.Sprintf("%v %v group H-node source=bcast origin=bcast server=%v responder=%v host=true", env.WINS, name, env.Bcast, winsNS),
		}
		if diff := cmp.Diff(want, ownersText(owners)); diff != "" {
			t.Errorf("owners (-want +got):\n%s", diff)
		}
		checkTTL(t, owners)
		// A group is collected until the wait of the last attempt would
		// have ended: 3 x 750 ms after the query, though the answers came
		// at once and no retransmission went out.
		if lo, hi := 3*bcastWait, 3*bcastWait+lanSlack; took < lo || took > hi {
			t.Errorf("the group lookup took %v, want %v to %v", took, lo, hi)
		}
		ps := capture.packets(3)
		got := packetText(ps)
		slices.Sort(got[1:]) // the two answers come in either order
		wantPackets := []string{
			fmt.Sprintf("%v -> %v %#04x", rootAddr, bcastNS, flagsBroadcast),
			fmt.Sprintf("%v -> %v %#04x", hostNS, rootAddr, flagsNmbdPositive),
			fmt.Sprintf("%v -> %v %#04x", winsNS, rootAddr, flagsNmbdPositive),
		}
		if diff := cmp.Diff(wantPackets, got); diff != "" {
			t.Errorf("datagrams on the wire (-want +got):\n%s", diff)
		}
		checkExchanges(t, ps)
	})
}

// ---- LMHOSTS ----------------------------------------------------------------------

// TestInteropNameLMHosts resolves names from an LMHOSTS file, with no
// datagram sent: a #PRE entry (from the cache, loaded from the file) and
// a plain one, then dials smbd B by the name the file gives it.
func TestInteropNameLMHosts(t *testing.T) {
	env := needLab(t)
	env.logsOnFailure(t, "b")
	file := filepath.Join(t.TempDir(), "lmhosts")
	text := fmt.Sprintf("# LMHOSTS for the interop tests\n%v\t%s\t#PRE\n%v\tRETSRV\t# Samba B\n", env.Host, env.Name, env.Retarget)
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &nbt.Resolver{LMHosts: file, Order: []nbt.Source{nbt.SourceLMHosts}}
	capture := startNBNSCapture(t)

	retsrv := nbns.MustName("RETSRV", nbns.FileServer)
	for _, tc := range []struct {
		name nbns.Name
		want string
	}{
		{env.serverName(), fmt.Sprintf("%v %v unique B-node source=cache origin=lmhosts server=invalid IP responder=invalid AddrPort host=true", env.Host, env.serverName())},
		{retsrv, fmt.Sprintf("%v %v unique B-node source=lmhosts origin=lmhosts server=invalid IP responder=invalid AddrPort host=true", env.Retarget, retsrv)},
	} {
		owners, err := r.LookupName(stepContext(t, 10*time.Second), tc.name)
		if err != nil {
			t.Fatalf("LookupName(%v): %v", tc.name, err)
		}
		if diff := cmp.Diff([]string{tc.want}, ownersText(owners)); diff != "" {
			t.Errorf("%v: owners (-want +got):\n%s", tc.name, diff)
		}
	}
	_, err := r.LookupName(stepContext(t, 10*time.Second), nbns.MustName("NOSUCH", nbns.FileServer))
	if !errors.Is(err, nbt.ErrNameNotFound) || !strings.Contains(err.Error(), "lmhosts: not in LMHOSTS") {
		t.Errorf("LookupName(NOSUCH<20>) = %v; want ErrNameNotFound, saying lmhosts: not in LMHOSTS", err)
	}

	// smbd B accepts RETSRV<20> on 139 (it retargets only *SMBSERVER and
	// LOOPME).
	d := nbt.Dialer{Resolver: r, Cache: noCache}
	c, err := d.DialContext(stepContext(t, 10*time.Second), "tcp", "RETSRV")
	if err != nil {
		t.Fatalf("dial RETSRV: %v", err)
	}
	defer c.Close()
	at := netip.AddrPortFrom(env.Retarget, nbt.Port)
	want := []stepOutcome{{nbt.StepSession, retsrv.String(), at.String(), "ok"}}
	if diff := cmp.Diff(want, stepOutcomes(c.(*nbt.Conn).Attempts())); diff != "" {
		t.Errorf("attempts (-want +got):\n%s", diff)
	}
	t.Logf("dialect 0x%04X", smb2Negotiate(t, c))
	if ps := capture.packets(0); len(ps) != 0 {
		t.Errorf("LMHOSTS lookups sent name service datagrams: %v", ps)
	}
}

// ---- not found ------------------------------------------------------------------

// TestInteropNameNotFound looks up a name nobody has: WINS answers NAM_ERR
// at once (one datagram each way), and the broadcast, which nmbd never
// answers negatively, is sent 3 times 750 ms apart under one transaction
// ID and ends 3 x 750 ms after the first, with nothing back. The error
// names both steps; the second lookup comes from the negative cache.
func TestInteropNameNotFound(t *testing.T) {
	env := needLab(t)
	env.logsOnFailure(t, "a", "w")
	winsNS := netip.AddrPortFrom(env.WINS, nbns.Port)
	bcastNS := netip.AddrPortFrom(env.Bcast, nbns.Port)
	nosuch := nbns.MustName("NOSUCH", nbns.FileServer)
	r := &nbt.Resolver{
		WINS: []netip.Addr{env.WINS}, Broadcast: []netip.Addr{env.Bcast},
		Order: []nbt.Source{nbt.SourceWINS, nbt.SourceBroadcast},
	}
	capture := startNBNSCapture(t)
	start := time.Now()
	_, err := r.LookupName(stepContext(t, 20*time.Second), nosuch)
	took := time.Since(start)
	t.Logf("after %v: %v", took, err)
	le, ok := errors.AsType[*nbt.LookupError](err)
	if !ok {
		t.Fatalf("LookupName(%v) = %v; want a *nbt.LookupError", nosuch, err)
	}
	for _, target := range []error{nbt.ErrNameNotFound, nbns.RCodeNameError, nbns.ErrNoResponse} {
		if !errors.Is(err, target) {
			t.Errorf("errors.Is(err, %v) = false", target)
		}
	}
	if len(le.Steps) != 2 {
		t.Fatalf("steps %v, want wins then bcast", le.Steps)
	}
	wins, bcast := le.Steps[0], le.Steps[1]
	var ne *nbns.NegativeError
	switch {
	case wins.Source != nbt.SourceWINS || !slices.Equal(wins.Servers, []netip.Addr{env.WINS}):
		t.Errorf("step 1 %v: want wins %v", wins, env.WINS)
	case !errors.As(wins.Err, &ne) || ne.RCode != nbns.RCodeNameError:
		t.Errorf("step 1 %v: want a NAM_ERR negative response", wins)
	case wins.Duration > lanSlack:
		t.Errorf("step 1 took %v; WINS answers in a LAN round trip", wins.Duration)
	}
	switch {
	case bcast.Source != nbt.SourceBroadcast || !slices.Equal(bcast.Servers, []netip.Addr{env.Bcast}):
		t.Errorf("step 2 %v: want bcast %v", bcast, env.Bcast)
	case !errors.Is(bcast.Err, nbns.ErrNoResponse):
		t.Errorf("step 2 %v: want no response", bcast)
	case bcast.Duration < 3*bcastWait || bcast.Duration > 3*bcastWait+lanSlack:
		t.Errorf("step 2 took %v, want %v to %v", bcast.Duration, 3*bcastWait, 3*bcastWait+lanSlack)
	}
	// 1 RTT (WINS) + 3 x 750 ms (broadcast).
	if lo, hi := 3*bcastWait, 3*bcastWait+lanSlack; took < lo || took > hi {
		t.Errorf("the lookup took %v, want %v to %v", took, lo, hi)
	}
	for _, w := range []string{
		"lookup NOSUCH<20>: nbt: NetBIOS name not found; ",
		fmt.Sprintf("; wins %v: nbns: negative name query response for NOSUCH<20>: ", env.WINS),
		fmt.Sprintf("; bcast %v: no response to broadcast name query after 3 attempts in 2.2", env.Bcast),
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("the error does not say %q", w)
		}
	}

	// Within the negative cache's 15 s the name is not asked again.
	_, err = r.LookupName(stepContext(t, 10*time.Second), nosuch)
	if le2, ok := errors.AsType[*nbt.LookupError](err); !ok || len(le2.Steps) != 1 || le2.Steps[0].Source != nbt.SourceCache || !errors.Is(err, nbt.ErrNameNotFound) {
		t.Errorf("second LookupName = %v; want a negative answer from the cache alone", err)
	}

	ps := capture.packets(5)
	wantPackets := []string{
		fmt.Sprintf("%v -> %v %#04x", rootAddr, winsNS, flagsQueryRD),
		fmt.Sprintf("%v -> %v %#04x", winsNS, rootAddr, flagsNmbdNegative),
		fmt.Sprintf("%v -> %v %#04x", rootAddr, bcastNS, flagsBroadcast),
		fmt.Sprintf("%v -> %v %#04x", rootAddr, bcastNS, flagsBroadcast),
		fmt.Sprintf("%v -> %v %#04x", rootAddr, bcastNS, flagsBroadcast),
	}
	if diff := cmp.Diff(wantPackets, packetText(ps)); diff != "" {
		t.Fatalf("datagrams on the wire, both lookups (-want +got):\n%s", diff)
	}
	checkExchanges(t, ps)
	b := ps[2:]
	for i := 1; i < len(b); i++ {
		if b[i].ID != b[0].ID || b[i].Src != b[0].Src {
			t.Errorf("broadcast %d: %v; want the ID and port of the first, %v", i+1, b[i], b[0])
		}
		if gap := b[i].At - b[i-1].At; gap < bcastWait-lanSlack/4 || gap > bcastWait+lanSlack/4 {
			t.Errorf("broadcast %d went out %v after the one before, want %v (±%v)", i+1, gap, bcastWait, lanSlack/4)
		}
	}
	if ps[0].ID == b[0].ID {
		t.Errorf("the WINS query and the broadcast share the ID %#04x", ps[0].ID)
	}
}

// ---- silent WINS ------------------------------------------------------------------

// TestInteropNameSilentWINS drops UDP 137 to the WINS server with an
// nftables rule: the lookup waits out WINS (3 x 1.5 s, 3 datagrams that
// the rule counts), then falls back to broadcast, which nmbd A answers;
// the steps say so, and for a name nobody has the error names both.
func TestInteropNameSilentWINS(t *testing.T) {
	env := needLab(t)
	env.logsOnFailure(t, "a", "w")
	env.waitBroadcastReady(t)
	env.filterUDP137(t, env.WINS, "drop")
	hostNS := netip.AddrPortFrom(env.Host, nbns.Port)

	r := &nbt.Resolver{
		WINS: []netip.Addr{env.WINS}, Broadcast: []netip.Addr{env.Bcast},
		Order: []nbt.Source{nbt.SourceWINS, nbt.SourceBroadcast},
	}
	var st stepTrace
	start := time.Now()
	owners, err := r.LookupName(st.context(stepContext(t, 20*time.Second)), env.serverName())
	took := time.Since(start)
	t.Logf("after %v: %v, %v; nft rule: %s", took, owners, err, env.nftCounter())
	if err != nil {
		t.Fatalf("LookupName(%v): %v", env.serverName(), err)
	}
	want := []string{fmt.Sprintf("%v %v unique H-node source=bcast origin=bcast server=%v responder=%v host=true", env.Host, env.serverName(), env.Bcast, hostNS)}
	if diff := cmp.Diff(want, ownersText(owners)); diff != "" {
		t.Errorf("owners (-want +got):\n%s", diff)
	}
	steps := st.get()
	wantSteps := []string{
		fmt.Sprintf("wins [%v]: 0 owners, error", env.WINS),
		fmt.Sprintf("bcast [%v]: 1 owners", env.Bcast),
	}
	if diff := cmp.Diff(wantSteps, stepsText(steps)); diff != "" {
		t.Fatalf("steps (-want +got):\n%s", diff)
	}
	w, b := steps[0], steps[1]
	t.Logf("steps: wins %v: %v; bcast %v", w.Duration, w.Err, b.Duration)
	if !errors.Is(w.Err, nbns.ErrNoResponse) || w.Duration < 3*winsWait || w.Duration > 3*winsWait+lanSlack {
		t.Errorf("WINS step: %v after %v; want no response after %v (+%v)", w.Err, w.Duration, 3*winsWait, lanSlack)
	}
	// The broadcast step: nmbd's answer, then the conflict window, half
	// the time the answer took, at most 250 ms.
	if maxB := maxConflictWindow + lanSlack; b.Duration > maxB {
		t.Errorf("broadcast step took %v, want at most %v", b.Duration, maxB)
	}
	if hi := w.Duration + b.Duration + lanSlack/10; took < 3*winsWait || took > hi {
		t.Errorf("the lookup took %v, want %v to %v: the two steps and nothing else", took, 3*winsWait, hi)
	}
	if got := env.nftCounter(); !strings.HasPrefix(got, "packets 3 ") {
		t.Errorf("the nft rule dropped %q, want the 3 WINS queries", got)
	}

	// Quicker timers for a name nobody has: both steps in the error.
	r = &nbt.Resolver{
		WINS: []netip.Addr{env.WINS}, Broadcast: []netip.Addr{env.Bcast},
		Order:       []nbt.Source{nbt.SourceWINS, nbt.SourceBroadcast},
		WINSTimeout: 200 * time.Millisecond, WINSAttempts: 1,
		BroadcastTimeout: 200 * time.Millisecond, BroadcastAttempts: 1,
	}
	_, err = r.LookupName(stepContext(t, 10*time.Second), nbns.MustName("NOSUCH", nbns.FileServer))
	t.Logf("NOSUCH<20>: %v", err)
	for _, w := range []string{
		fmt.Sprintf("; wins %v: no response to name query after 1 attempt in 20", env.WINS),
		fmt.Sprintf("; bcast %v: no response to broadcast name query after 1 attempt in 20", env.Bcast),
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("the error does not say %q", w)
		}
	}
	if !errors.Is(err, nbt.ErrNameNotFound) || !errors.Is(err, nbns.ErrNoResponse) {
		t.Errorf("errors.Is(err, ErrNameNotFound) and (err, nbns.ErrNoResponse) must both hold")
	}
}

// ---- nmblookup against nbttest ------------------------------------------------------

// TestInteropNmblookupNames runs Samba's nmblookup against nbttest's name
// service, unicast with RD (nbttest as a WINS server), without RD, and by
// broadcast on the lab link, and checks what nmblookup makes of our
// answers, flags included (-f).
func TestInteropNmblookupNames(t *testing.T) {
	env := needLab(t)
	nmblookup, err := exec.LookPath("nmblookup")
	if err != nil {
		t.Fatalf("nmblookup: %v (apt-get install smbclient)", err)
	}
	nameAddr := env.startHelper(t, "names")
	t.Logf("nbttest name service at %s (in %s), relayed from %s:137 and %s:137", nameAddr, env.NS, env.Front, env.Bcast)
	conf := nmblookupConf(t)
	front := env.Front.String()
	flagsLine := "Flags: Response Authoritative Recursion_Desired Recursion_Available"

	tests := []struct {
		args []string
		fail bool
		want []string
	}{
		// Samba 4.17's nmblookup spells RD --recursion; its -R is
		// --name-resolve, the common option.
		{args: []string{"-U", front, "--recursion", "-f", "LABSRV#20"},
			want: []string{"querying LABSRV on " + front, flagsLine, "198.18.0.2 LABSRV<20>"}},
		{args: []string{"-U", front, "--recursion", "-f", "MULTIHOMED#20"},
			want: []string{"querying MULTIHOMED on " + front, flagsLine, "198.18.0.2 MULTIHOMED<20>", "198.18.0.4 MULTIHOMED<20>"}},
		{args: []string{"-U", front, "--recursion", "BCASTGRP#1e"},
			want: []string{"querying BCASTGRP on " + front, "255.255.255.255 BCASTGRP<1e>"}},
		// Samba's client skips 0.0.0.0 (name_query_validator), so an
		// answer that lists nothing else is no answer to it.
		{args: []string{"-U", front, "--recursion", "ZEROGRP#1e"}, fail: true,
			want: []string{"querying ZEROGRP on " + front, "name_query failed to find name ZEROGRP#1e"}},
		// A WINS server answers NAM_ERR for a name it lacks.
		{args: []string{"-U", front, "--recursion", "NOSUCH#20"}, fail: true,
			want: []string{"querying NOSUCH on " + front, "name_query failed to find name NOSUCH#20"}},
		// Without RD the host answers for its own names only: LABSRV<20>
		// is no name of the nbttest host, which says NAM_ERR.
		{args: []string{"-U", front, "LABSRV#20"}, fail: true,
			want: []string{"querying LABSRV on " + front, "name_query failed to find name LABSRV#20"}},
		// By broadcast, nbttest answers (twice, as nmbd does) for a name
		// in its table, with the address it listens on: the namespace's
		// loopback, where the relay delivers to it.
		{args: []string{"-B", env.Bcast.String(), "-f", "NBTTEST#20"},
			want: []string{"querying NBTTEST on " + env.Bcast.String(), flagsLine, "127.0.0.1 NBTTEST<20>"}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out, err := runCommand(30*time.Second, nmblookup, append([]string{"-s", conf}, tc.args...)...)
			t.Logf("nmblookup %s:\n%s", strings.Join(tc.args, " "), out)
			if tc.fail != (err != nil) {
				t.Errorf("nmblookup: error %v, want failure %v", err, tc.fail)
			}
			var got []string
			for line := range strings.SplitSeq(out, "\n") {
				if line = strings.TrimSpace(line); line != "" {
					got = append(got, line)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("nmblookup's output (-want +got):\n%s", diff)
			}
		})
	}
}

// nmblookupConf writes a private smb.conf for nmblookup, so that it reads
// neither /etc/samba/smb.conf nor the system's Samba state.
func nmblookupConf(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "smb.conf")
	var b strings.Builder
	b.WriteString("[global]\n\tnetbios name = NBTLOOKUP\n\tworkgroup = LABGRP\n")
	for _, k := range []string{"pid directory", "lock directory", "state directory", "cache directory", "private dir", "ncalrpc dir"} {
		fmt.Fprintf(&b, "\t%s = %s\n", k, dir)
	}
	fmt.Fprintf(&b, "\tlog file = %s/log\n", dir)
	if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return conf
}

// ---- dial by name -----------------------------------------------------------------

// TestInteropNameDial dials Samba A by its NetBIOS name, found through the
// WINS server: the Dialer calls LABSRV<20> at 198.18.0.2:139 at once, no
// node status; a name the WINS server lacks fails the dial with the
// lookup's error.
func TestInteropNameDial(t *testing.T) {
	env := needLab(t)
	env.logsOnFailure(t, "a", "w")
	r := &nbt.Resolver{WINS: []netip.Addr{env.WINS}, Order: []nbt.Source{nbt.SourceWINS}}
	at := netip.AddrPortFrom(env.Host, nbt.Port)
	for _, p := range []nbt.Policy{0, nbt.PreSP5, nbt.SP5} {
		t.Run(fmt.Sprintf("policy %d", p), func(t *testing.T) {
			d := nbt.Dialer{Resolver: r, Policy: p, Cache: noCache}
			c, err := d.DialContext(stepContext(t, 10*time.Second), "tcp", env.Name)
			if err != nil {
				t.Fatalf("dial %s: %v", env.Name, err)
			}
			defer c.Close()
			nc := c.(*nbt.Conn)
			if got := nc.RemoteAddr().String(); got != at.String() {
				t.Errorf("RemoteAddr() = %s, want %s", got, at)
			}
			want := []stepOutcome{{nbt.StepSession, env.serverName().String(), at.String(), "ok"}}
			if diff := cmp.Diff(want, stepOutcomes(nc.Attempts())); diff != "" {
				t.Errorf("attempts (-want +got):\n%s", diff)
			}
			t.Logf("dialect 0x%04X", smb2Negotiate(t, c))
		})
	}

	t.Run("unknown", func(t *testing.T) {
		d := nbt.Dialer{Resolver: r, Cache: noCache}
		_, err := d.DialContext(stepContext(t, 10*time.Second), "tcp", "NOSUCH")
		var oe *net.OpError
		if !errors.As(err, &oe) || oe.Op != "dial" {
			t.Errorf("dial NOSUCH = %v; want a *net.OpError with Op dial", err)
		}
		if !errors.Is(err, nbt.ErrNameNotFound) || !errors.Is(err, nbns.RCodeNameError) {
			t.Errorf("dial NOSUCH = %v; want it to wrap ErrNameNotFound and NAM_ERR", err)
		}
		if _, ok := errors.AsType[*nbt.LookupError](err); !ok {
			t.Errorf("dial NOSUCH = %v; want it to wrap the *nbt.LookupError", err)
		}
	})
}
