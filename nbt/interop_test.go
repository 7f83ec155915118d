//go:build interop

package nbt_test

// Interop tests against a real Samba 4 (issue 5): nmbd and smbd in the
// network namespace that .ci/samba-lab up creates, a test-only front that
// refuses *SMBSERVER, nftables rules that filter UDP 137, Samba's nmblookup
// as a client of nbttest, and tshark reading a capture of a full dial.
//
// Run as root:
//
//	.ci/samba-lab up
//	set -a; . /tmp/nbtlab/env; set +a
//	go test -tags interop -race -count=1 -v -run 'Lab|Interop' ./nbt/
//	.ci/samba-lab down
//
// Without NETBIOS_LAB=1 every test here skips.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/nbt"
	"github.com/netbios-go/netbios/session"
)

// sequentialPolicies are the dial policies every KB Q251166 case runs with.
var sequentialPolicies = []nbt.Policy{nbt.PreSP5, nbt.SP5}

// noCache is the name cache of every Dialer here but the cache test's: it
// remembers nothing, so that each dial takes all the steps of its policy
// (a nil Cache would share nbt.DefaultNameCache across the tests).
var noCache = nbt.NewNameCache(0)

// Case 1: node status against nmbd.
func TestInteropNodeStatus(t *testing.T) {
	env := needLab(t)
	env.logsOnFailure(t, "a")
	target := netip.AddrPortFrom(env.Host, nbns.Port)
	// Samba A is a WINS client (wins server = 198.18.0.5), so nmbd gives
	// its names the H node type (ONT 3).
	hNode := nbns.MaskOwnerNodeType
	unique := hNode | nbns.FlagActive                 // 0x6400: H node, ACT
	group := nbns.FlagGroup | hNode | nbns.FlagActive // 0xE400
	want := []nbns.NodeName{
		{Name: nbns.MustName(env.Name, 0x00), Flags: unique},
		{Name: nbns.MustName(env.Name, 0x03), Flags: unique},
		{Name: nbns.MustName(env.Name, 0x20), Flags: unique},
		{Name: nbns.MustName("LABGRP", 0x00), Flags: group},
		{Name: nbns.MustName("LABGRP", 0x1E), Flags: group},
	}

	t.Run("wildcard", func(t *testing.T) {
		var c nbns.Client
		start := time.Now()
		r, err := c.NodeStatus(stepContext(t, 10*time.Second), target)
		if err != nil {
			t.Fatalf("NodeStatus(%v): %v", target, err)
		}
		t.Logf("nmbd answered in %v: %d names", time.Since(start), len(r.Names))
		if diff := cmp.Diff(nameTableText(want), nameTableText(r.Names)); diff != "" {
			t.Errorf("name table (-want +got):\n%s", diff)
		}
		for _, e := range r.Names {
			if f := uint16(e.Flags); f != 0x6400 && f != 0xE400 {
				t.Errorf("%v: flags %#04x, want 0x6400 or 0xE400", e.Name, f)
			}
		}
		if mac, ok := r.MAC(); ok {
			t.Errorf("MAC() = %x, true; want unknown: nmbd sends all zeros", mac)
		}
		if r.MissingStatistics != 0 {
			t.Errorf("MissingStatistics = %d, want 0: nmbd sends the whole block", r.MissingStatistics)
		}
		if !r.Header.Authoritative || !r.Header.Response {
			t.Errorf("header %+v: want a response with AA set", r.Header)
		}
		name, err := r.ServerName()
		if err != nil || name != env.serverName() {
			t.Errorf("ServerName() = %v, %v; want %v", name, err, env.serverName())
		}
	})

	t.Run("own name", func(t *testing.T) {
		// nmbd answers NBSTAT for a name it has, too.
		var c nbns.Client
		r, err := c.NodeStatusName(stepContext(t, 10*time.Second), target, env.serverName())
		if err != nil {
			t.Fatalf("NodeStatusName(%v): %v", env.serverName(), err)
		}
		if diff := cmp.Diff(nameTableText(want), nameTableText(r.Names)); diff != "" {
			t.Errorf("name table (-want +got):\n%s", diff)
		}
	})

	t.Run("foreign name", func(t *testing.T) {
		// ... and never for one it lacks (RFC 1002 §5.1.1.5).
		c := nbns.Client{Timeout: 300 * time.Millisecond, Attempts: 2}
		_, err := c.NodeStatusName(stepContext(t, 10*time.Second), target, nbns.MustName("FOO", nbns.FileServer))
		if !errors.Is(err, nbns.ErrNoResponse) {
			t.Fatalf("NodeStatusName(FOO<20>) = %v; want an error wrapping nbns.ErrNoResponse", err)
		}
	})
}

// nameTableText prints a name table entry by entry, as "LABSRV<20> 0x0400".
func nameTableText(names []nbns.NodeName) []string {
	var out []string
	for _, e := range names {
		out = append(out, fmt.Sprintf("%v %#04x", e.Name, uint16(e.Flags)))
	}
	return out
}

// Case 2: session requests with *SMBSERVER and with the real name against
// smbd on 139; SMB2 bytes flow afterwards.
func TestInteropSession(t *testing.T) {
	env := needLab(t)
	env.logsOnFailure(t, "a")
	addr := netip.AddrPortFrom(env.Host, nbt.Port)
	for _, called := range []nbns.Name{nbt.SMBServer, env.serverName()} {
		for _, p := range sequentialPolicies {
			t.Run(fmt.Sprintf("%v/%v", called, p), func(t *testing.T) {
				d := nbt.Dialer{Policy: p, CalledName: called, Cache: noCache}
				c, err := d.DialContext(stepContext(t, 10*time.Second), "tcp", addr.String())
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				defer c.Close()
				nc := c.(*nbt.Conn)
				if got := nc.CalledName(); got != called {
					t.Errorf("CalledName() = %v, want %v", got, called)
				}
				want := []stepOutcome{{nbt.StepSession, called.String(), addr.String(), "ok"}}
				if diff := cmp.Diff(want, stepOutcomes(nc.Attempts())); diff != "" {
					t.Errorf("attempts (-want +got):\n%s", diff)
				}
				t.Logf("dialect 0x%04X", smb2Negotiate(t, c))
			})
		}
	}
	// Without a called name: PreSP5 calls *SMBSERVER, which smbd accepts;
	// SP5 reads the name table first and calls LABSRV<20>.
	discovery := map[nbt.Policy][]stepOutcome{
		nbt.PreSP5: {{nbt.StepSession, "*SMBSERVER<20>", addr.String(), "ok"}},
		nbt.SP5: {
			{nbt.StepNodeStatus, "*<00>", netip.AddrPortFrom(env.Host, nbns.Port).String(), "ok"},
			{nbt.StepSession, env.serverName().String(), addr.String(), "ok"},
		},
	}
	for _, p := range sequentialPolicies {
		t.Run("discover/"+p.String(), func(t *testing.T) {
			d := nbt.Dialer{Policy: p, Cache: noCache}
			c, err := d.DialContext(stepContext(t, 10*time.Second), "tcp4", env.Host.String())
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer c.Close()
			if diff := cmp.Diff(discovery[p], stepOutcomes(c.(*nbt.Conn).Attempts())); diff != "" {
				t.Errorf("attempts (-want +got):\n%s", diff)
			}
			t.Logf("dialect 0x%04X", smb2Negotiate(t, c))
		})
	}
}

// Case 3: smbd B retargets *SMBSERVER from 139 to 1139, and LOOPME to
// itself.
func TestInteropRetarget(t *testing.T) {
	env := needLab(t)
	env.logsOnFailure(t, "b")
	at139 := netip.AddrPortFrom(env.Retarget, 139)
	at1139 := netip.AddrPortFrom(env.Retarget, 1139)

	t.Run("raw", func(t *testing.T) {
		// What smbd B answers, byte for byte: on 139 a RETARGET to
		// 198.18.0.4:1139 then FIN; on 1139, where smbd never retargets,
		// a positive response.
		req := session.Request{Called: nbt.SMBServer, Calling: nbns.MustName("NBTPROBE", 0)}
		b, err := req.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		ip := env.Retarget.As4()
		for _, tc := range []struct {
			addr netip.AddrPort
			want []byte
		}{
			{at139, []byte{0x84, 0, 0, 6, ip[0], ip[1], ip[2], ip[3], 1139 >> 8, 1139 & 0xFF}},
			{at1139, []byte{0x82, 0, 0, 0}},
		} {
			c, err := net.DialTimeout("tcp4", tc.addr.String(), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Write(b); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, 64)
			n, err := readAtLeast(c, got, len(tc.want))
			c.Close()
			if err != nil {
				t.Errorf("%v: reading the answer: %v", tc.addr, err)
			}
			if !slices.Equal(got[:n], tc.want) {
				t.Errorf("%v answered % x, want % x", tc.addr, got[:n], tc.want)
			}
		}
	})

	t.Run("follow", func(t *testing.T) {
		// The default policy calls *SMBSERVER, which smbd B retargets to its
		// port 1139. It may also ask for node status, which fails: 198.18.0.4
		// runs no nmbd. (SP5 never calls *SMBSERVER: TestInteropKB/no_nmbd.)
		d := nbt.Dialer{Cache: noCache}
		c, err := d.DialContext(stepContext(t, 10*time.Second), "tcp", env.Retarget.String())
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer c.Close()
		if got := c.RemoteAddr().String(); got != at1139.String() {
			t.Errorf("RemoteAddr() = %s, want %s", got, at1139)
		}
		want := []stepOutcome{
			{nbt.StepSession, "*SMBSERVER<20>", at139.String(), "retarget " + at1139.String()},
			{nbt.StepSession, "*SMBSERVER<20>", at1139.String(), "ok"},
		}
		var sessions []stepOutcome
		for _, s := range stepOutcomes(c.(*nbt.Conn).Attempts()) {
			if s.Step == nbt.StepSession {
				sessions = append(sessions, s)
			} else if s.Step != nbt.StepNodeStatus {
				t.Errorf("unexpected step %+v", s)
			}
		}
		if diff := cmp.Diff(want, sessions); diff != "" {
			t.Errorf("session attempts (-want +got):\n%s", diff)
		}
		t.Logf("dialect 0x%04X", smb2Negotiate(t, c))
	})

	t.Run("loop", func(t *testing.T) {
		loopme := nbns.MustName("LOOPME", nbns.FileServer)
		d := nbt.Dialer{CalledName: loopme, Cache: noCache}
		start := time.Now()
		_, err := d.DialContext(stepContext(t, 10*time.Second), "tcp", at139.String())
		t.Logf("after %v: %v", time.Since(start), err)
		var le *session.RetargetLimitError
		if !errors.As(err, &le) {
			t.Fatalf("dial LOOPME<20> = %v; want an error wrapping *session.RetargetLimitError", err)
		}
		want := []netip.AddrPort{at139, at139, at139, at139}
		if diff := cmp.Diff(want, le.Chain, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
			t.Errorf("retarget chain (-want +got):\n%s", diff)
		}
		if msg := err.Error(); !strings.Contains(msg, "retargets did not end after 4 connects") {
			t.Errorf("error %q does not report the 4 connects", msg)
		}
		var de *nbt.DialError
		if errors.As(err, &de) {
			for i, s := range stepOutcomes(de.Attempts) {
				if s.End != "retarget "+at139.String() {
					t.Errorf("attempt %d: %+v, want a retarget to %v", i, s, at139)
				}
			}
			if len(de.Attempts) != 4 {
				t.Errorf("%d attempts, want 4", len(de.Attempts))
			}
		} else {
			t.Errorf("%v does not wrap a *nbt.DialError", err)
		}
	})
}

// readAtLeast reads into b until it holds min bytes, EOF or an error.
func readAtLeast(c net.Conn, b []byte, min int) (int, error) {
	n := 0
	for n < min {
		m, err := c.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Case 4: KB Q251166, each case with each policy: PreSP5, SP5 and the
// default (the zero Policy), whose exact steps are its own business; for it
// only the outcome and the causes named are checked.
func TestInteropKB(t *testing.T) {
	env := needLab(t)
	env.logsOnFailure(t, "a")
	env.startHelper(t, "front")
	front := netip.AddrPortFrom(env.Front, nbt.Port)
	frontNS := netip.AddrPortFrom(env.Front, nbns.Port)
	host := netip.AddrPortFrom(env.Host, nbt.Port)
	hostNS := netip.AddrPortFrom(env.Host, nbns.Port)
	labsrv := env.serverName().String()
	smbserver := nbt.SMBServer.String()
	const budget = time.Duration(nbns.DefaultAttempts) * nbns.DefaultTimeout // 2.25 s
	const atOnce = 500 * time.Millisecond
	var (
		nsOK   = stepOutcome{nbt.StepNodeStatus, "*<00>", frontNS.String(), "ok"}
		nsLost = func(a netip.AddrPort) stepOutcome {
			return stepOutcome{nbt.StepNodeStatus, "*<00>", a.String(), "error"}
		}
		refused   = stepOutcome{nbt.StepSession, smbserver, front.String(), "0x82"}
		viaFront  = stepOutcome{nbt.StepSession, labsrv, front.String(), "ok"}
		acceptSMB = stepOutcome{nbt.StepSession, smbserver, host.String(), "ok"}
		noAnswer  = []error{nbns.ErrNoResponse}
		closed    = []error{nbns.ErrPortUnreachable, syscall.ECONNREFUSED}
		both      = []error{session.ErrCalledNameNotPresent, nbns.ErrNoResponse}
		bothFast  = []error{session.ErrCalledNameNotPresent, nbns.ErrPortUnreachable}
	)
	// kbWant is what one policy must do in one case.
	type kbWant struct {
		called   string        // success: the called name accepted; "": the dial fails
		steps    []stepOutcome // the exact steps; nil: not checked
		is       []error       // failure: errors.Is must find each
		words    []string      // failure: the message must say each
		notWords []string
		min, max time.Duration // how long the dial takes; zero: no bound
	}
	tests := []struct {
		name    string
		target  netip.Addr
		filter  netip.Addr // whose UDP 137 the nftables rule filters; zero: none
		verdict string
		want    map[nbt.Policy]kbWant
	}{{
		name:   "front refuses *SMBSERVER",
		target: env.Front,
		want: map[nbt.Policy]kbWant{
			nbt.PreSP5: {called: labsrv, steps: []stepOutcome{refused, nsOK, viaFront}},
			nbt.SP5:    {called: labsrv, steps: []stepOutcome{nsOK, viaFront}},
			0:          {called: labsrv},
		},
	}, {
		name:   "udp137 dropped",
		target: env.Host, filter: env.Host, verdict: "drop",
		want: map[nbt.Policy]kbWant{
			nbt.PreSP5: {called: smbserver, steps: []stepOutcome{acceptSMB}},
			nbt.SP5: {
				steps: []stepOutcome{nsLost(hostNS)}, is: noAnswer,
				words:    []string{"SP5", "node status at " + hostNS.String(), "no answer from UDP 137"},
				notWords: []string{"SMBSERVER"},
				min:      budget - 100*time.Millisecond, max: budget + time.Second,
			},
			0: {called: smbserver},
		},
	}, {
		name:   "udp137 rejected",
		target: env.Host, filter: env.Host, verdict: "reject with icmp type port-unreachable",
		want: map[nbt.Policy]kbWant{
			nbt.PreSP5: {called: smbserver, steps: []stepOutcome{acceptSMB}},
			nbt.SP5: {
				steps: []stepOutcome{nsLost(hostNS)}, is: closed,
				words: []string{"SP5", "node status at " + hostNS.String(), "UDP 137", "closed"},
				max:   atOnce,
			},
			0: {called: smbserver},
		},
	}, {
		name:   "front refuses *SMBSERVER and udp137 dropped",
		target: env.Front, filter: env.Front, verdict: "drop",
		want: map[nbt.Policy]kbWant{
			nbt.PreSP5: {
				steps: []stepOutcome{refused, nsLost(frontNS)}, is: both,
				words: []string{"PreSP5", `session "*SMBSERVER<20>" at ` + front.String(), "called name not present (0x82)",
					"node status at " + frontNS.String(), "no answer from UDP 137"},
				max: budget + time.Second,
			},
			nbt.SP5: {
				steps: []stepOutcome{nsLost(frontNS)}, is: noAnswer,
				words:    []string{"SP5", "node status at " + frontNS.String(), "no answer from UDP 137"},
				notWords: []string{"SMBSERVER"},
				min:      budget - 100*time.Millisecond, max: budget + time.Second,
			},
			0: {
				is:    both,
				words: []string{"called name not present (0x82)", "no answer from UDP 137"},
				max:   budget + time.Second,
			},
		},
	}, {
		name:   "front refuses *SMBSERVER and udp137 rejected",
		target: env.Front, filter: env.Front, verdict: "reject with icmp type port-unreachable",
		want: map[nbt.Policy]kbWant{
			nbt.PreSP5: {
				steps: []stepOutcome{refused, nsLost(frontNS)}, is: bothFast,
				words: []string{"called name not present (0x82)", "UDP 137", "closed"},
				max:   atOnce,
			},
			nbt.SP5: {
				steps: []stepOutcome{nsLost(frontNS)}, is: closed,
				words: []string{"node status at " + frontNS.String(), "closed"},
				max:   atOnce,
			},
			0: {
				is:    bothFast,
				words: []string{"called name not present (0x82)", "closed"},
				max:   atOnce,
			},
		},
	}, {
		// 198.18.0.4 runs smbd only: nothing listens on its UDP 137, so
		// its kernel answers ICMP port unreachable, with no firewall.
		// (PreSP5 succeeds there through a retarget: TestInteropRetarget.)
		name:   "no nmbd",
		target: env.Retarget,
		want: map[nbt.Policy]kbWant{
			nbt.SP5: {
				steps: []stepOutcome{nsLost(netip.AddrPortFrom(env.Retarget, nbns.Port))}, is: closed,
				words: []string{"SP5", "node status", "closed"},
				max:   atOnce,
			},
		},
	}}

	t.Run("name cache", func(t *testing.T) {
		// The second dial asks for the name the first one learned at
		// once: no *SMBSERVER, no node status.
		cache := nbt.NewNameCache(time.Minute)
		for i, want := range [][]stepOutcome{{refused, nsOK, viaFront}, {viaFront}} {
			d := nbt.Dialer{Policy: nbt.PreSP5, Cache: cache}
			c, err := d.DialContext(stepContext(t, 10*time.Second), "tcp", env.Front.String())
			if err != nil {
				t.Fatalf("dial %d: %v", i+1, err)
			}
			if diff := cmp.Diff(want, stepOutcomes(c.(*nbt.Conn).Attempts())); diff != "" {
				t.Errorf("dial %d: attempts (-want +got):\n%s", i+1, diff)
			}
			smb2Negotiate(t, c)
			c.Close()
		}
	})

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.filter.IsValid() {
				env.filterUDP137(t, tc.filter, tc.verdict)
			}
			for _, p := range []nbt.Policy{nbt.PreSP5, nbt.SP5, 0} {
				want, ok := tc.want[p]
				if !ok {
					continue
				}
				name := p.String()
				if p == 0 {
					name = "default"
				}
				t.Run(name, func(t *testing.T) {
					d := nbt.Dialer{Policy: p, Cache: noCache} // node status: the defaults, 3 x 750 ms
					start := time.Now()
					c, err := d.DialContext(stepContext(t, 20*time.Second), "tcp", tc.target.String())
					elapsed := time.Since(start)
					var attempts []nbt.Attempt
					if err == nil {
						defer c.Close()
						attempts = c.(*nbt.Conn).Attempts()
						t.Logf("%v: succeeded after %v: %v", name, elapsed, attempts)
					} else {
						if de, ok := errors.AsType[*nbt.DialError](err); ok {
							attempts = de.Attempts
						}
						t.Logf("%v: failed after %v: %v", name, elapsed, err)
					}
					if tc.filter.IsValid() {
						t.Logf("nft rule: %s", env.nftCounter())
					}
					if want.steps != nil {
						if diff := cmp.Diff(want.steps, stepOutcomes(attempts)); diff != "" {
							t.Errorf("attempts (-want +got):\n%s", diff)
						}
					}
					if (want.min != 0 && elapsed < want.min) || (want.max != 0 && elapsed > want.max) {
						t.Errorf("the dial took %v, want %v to %v", elapsed, want.min, want.max)
					}
					if want.called != "" {
						if err != nil {
							t.Fatalf("dial failed; want a session with %s", want.called)
						}
						if got := c.(*nbt.Conn).CalledName().String(); got != want.called {
							t.Errorf("CalledName() = %s, want %s", got, want.called)
						}
						t.Logf("dialect 0x%04X", smb2Negotiate(t, c))
						return
					}
					if err == nil {
						t.Fatal("dial succeeded; want it to fail")
					}
					for _, target := range want.is {
						if !errors.Is(err, target) {
							t.Errorf("errors.Is(err, %#v) = false", target)
						}
					}
					if slices.Contains(want.is, nbns.ErrNoResponse) {
						if ne, ok := errors.AsType[net.Error](err); !ok || !ne.Timeout() {
							t.Errorf("want a net.Error whose Timeout() is true")
						}
					}
					for _, w := range want.words {
						if !strings.Contains(err.Error(), w) {
							t.Errorf("the error does not say %q", w)
						}
					}
					for _, w := range want.notWords {
						if strings.Contains(err.Error(), w) {
							t.Errorf("the error says %q", w)
						}
					}
				})
			}
		})
	}
}

// Case 6: Samba's nmblookup as a client of nbttest's name service.
//
// nmblookup has no option for the destination port: it always sends to UDP
// 137 (--option='nbt port=N' is ignored by it; -r only sets the source
// port). So an nbttest.Server runs inside the namespace, on its loopback,
// and a relay on 198.18.0.3:137 forwards the datagrams to it unchanged.
func TestInteropNmblookup(t *testing.T) {
	env := needLab(t)
	nmblookup, err := exec.LookPath("nmblookup")
	if err != nil {
		t.Fatalf("nmblookup: %v (apt-get install smbclient)", err)
	}
	nameAddr := env.startHelper(t, "names")
	t.Logf("nbttest name service at %s (in %s), relayed from %s:137", nameAddr, env.NS, env.Front)

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
	out, err := runCommand(30*time.Second, nmblookup, "-s", conf, "-A", env.Front.String())
	t.Logf("nmblookup -A %s:\n%s", env.Front, out)
	if err != nil {
		t.Fatalf("nmblookup: %v", err)
	}
	var got []string
	for line := range strings.SplitSeq(out, "\n") {
		if line = strings.TrimSpace(line); strings.Contains(line, "<") && !strings.HasPrefix(line, "Looking") {
			got = append(got, strings.Join(strings.Fields(line), " "))
		}
	}
	want := []string{
		"NBTTEST <00> - B <ACTIVE>",
		"NBTTEST <03> - P <ACTIVE>",
		"NBTTEST <20> - M <ACTIVE> <PERMANENT>",
		"NBTTEST <6a> - H <ACTIVE>",
		"NBTTEST <7f> - B <DEREGISTERING>",
		"NBTTEST <bf> - B <CONFLICT>",
		"LABGRP <00> - <GROUP> B <ACTIVE>",
		"LABGRP <1e> - <GROUP> H <ACTIVE>",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("nmblookup's name table (-want +got):\n%s", diff)
	}
	m := nmblookupMAC
	if mac := fmt.Sprintf("MAC Address = %02X-%02X-%02X-%02X-%02X-%02X", m[0], m[1], m[2], m[3], m[4], m[5]); !strings.Contains(out, mac) {
		t.Errorf("nmblookup does not print %q", mac)
	}
}

// nmblookupTable is the name table of the nbttest host nmblookup reads:
// every owner node type and every flag, so that nmblookup's decoding of
// each bit is checked.
var nmblookupTable = []nbns.NodeName{
	{Name: nbns.MustName("NBTTEST", 0x00), Flags: nbns.FlagActive},
	{Name: nbns.MustName("NBTTEST", 0x03), Flags: nbns.FlagActive | 1<<13},
	{Name: nbns.MustName("NBTTEST", 0x20), Flags: nbns.FlagActive | nbns.FlagPermanent | 2<<13},
	{Name: nbns.MustName("NBTTEST", 0x6A), Flags: nbns.FlagActive | 3<<13},
	{Name: nbns.MustName("NBTTEST", 0x7F), Flags: nbns.FlagDeregistering},
	{Name: nbns.MustName("NBTTEST", 0xBF), Flags: nbns.FlagConflict},
	{Name: nbns.MustName("LABGRP", 0x00), Flags: nbns.FlagGroup | nbns.FlagActive},
	{Name: nbns.MustName("LABGRP", 0x1E), Flags: nbns.FlagGroup | nbns.FlagActive | 3<<13},
}

// nmblookupMAC is the nbttest host's UNIT_ID.
var nmblookupMAC = [6]byte{0x02, 0x00, 0x5E, 0x10, 0x20, 0x30}

// Case 7: tshark reads a capture of a full PreSP5 dial against the front
// (*SMBSERVER refused, node status relayed to nmbd, LABSRV<20> spliced to
// smbd, an SMB2 NEGOTIATE): every NBNS and NBSS packet dissects, nothing is
// malformed, and the called names on the wire are those the trace saw.
func TestInteropTshark(t *testing.T) {
	env := needLab(t)
	env.logsOnFailure(t, "a")
	for _, tool := range []string{"dumpcap", "tshark"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s: %v (apt-get install tshark)", tool, err)
		}
	}
	env.startHelper(t, "front")
	pcap := filepath.Join(t.TempDir(), "dial.pcap")
	filter := fmt.Sprintf("host %s and (udp port 137 or tcp port 139)", env.Front)
	stop := startCapture(t, vethHost, filter, pcap)

	var mu sync.Mutex
	var traced []string
	ctx := nbt.WithClientTrace(stepContext(t, 20*time.Second), &nbt.ClientTrace{
		SessionRequest: func(i nbt.SessionRequestInfo) {
			mu.Lock()
			traced = append(traced, i.Request.Called.String())
			mu.Unlock()
		},
	})
	d := nbt.Dialer{Policy: nbt.PreSP5, Cache: noCache}
	c, err := d.DialContext(ctx, "tcp", env.Front.String())
	if err != nil {
		stop()
		t.Fatalf("dial: %v", err)
	}
	smb2Negotiate(t, c)
	c.Close()
	// dumpcap drops what the kernel has not handed it yet when it stops,
	// and the kernel hands packets over in blocks, on a timer: wait until
	// the file has stopped growing.
	waitCapture(t, pcap, time.Second, 10*time.Second)
	stop()

	mu.Lock()
	defer mu.Unlock()
	if want := []string{"*SMBSERVER<20>", env.serverName().String()}; !slices.Equal(traced, want) {
		t.Errorf("the trace saw called names %q, want %q", traced, want)
	}

	tshark := func(args ...string) []string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "tshark", append([]string{"-n", "-r", pcap}, args...)...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		b, err := cmd.Output()
		if err != nil {
			t.Fatalf("tshark %v: %v\n%s", args, err, stderr.String())
		}
		out := string(b)
		var lines []string
		for l := range strings.SplitSeq(strings.TrimRight(out, "\n"), "\n") {
			if l = strings.TrimRight(l, "\t"); l != "" {
				lines = append(lines, l)
			}
		}
		return lines
	}
	all := tshark("-T", "fields", "-e", "frame.number", "-e", "frame.protocols", "-e", "_ws.col.Info")
	t.Logf("capture, %d frames:\n%s", len(all), strings.Join(all, "\n"))

	if bad := tshark("-Y", "_ws.malformed || _ws.expert.severity >= 0x00600000",
		"-T", "fields", "-e", "frame.number", "-e", "_ws.expert.message", "-e", "_ws.col.Info"); len(bad) > 0 {
		t.Errorf("malformed packets or expert warnings:\n%s", strings.Join(bad, "\n"))
	}

	nbns := tshark("-Y", "nbns", "-T", "fields", "-e", "nbns.flags.response", "-e", "nbns.number_of_names")
	if len(nbns) != 2 {
		t.Errorf("%d NBNS packets, want a node status request and its response: %q", len(nbns), nbns)
	} else if resp := strings.Fields(nbns[1]); len(resp) != 2 || resp[1] != "5" {
		t.Errorf("NBNS response %q: want a response with 5 names", nbns[1])
	}

	var wire []string
	for _, l := range tshark("-Y", "nbss.type == 0x81", "-T", "fields", "-e", "nbss.called_name") {
		wire = append(wire, strings.TrimSpace(l))
	}
	if !slices.Equal(wire, traced) {
		t.Errorf("called names on the wire %q, the trace reported %q", wire, traced)
	}
	answers := tshark("-Y", "nbss.type != 0x00", "-T", "fields", "-e", "nbss.type", "-e", "nbss.error_code")
	want := []string{"0x81", "0x83\t0x82", "0x81", "0x82"}
	if diff := cmp.Diff(want, answers); diff != "" {
		t.Errorf("NBSS handshake packets, type and code (-want +got):\n%s", diff)
	}
	if n := len(tshark("-Y", "smb2")); n != 2 {
		t.Errorf("%d SMB2 packets, want the NEGOTIATE request and response", n)
	}
}

// startCapture runs dumpcap on iface until the returned stop is called (or
// t ends), and waits until it captures. dumpcap prints "Capturing on"
// before it opens the interface; it writes the pcap file header only after,
// so the test waits for both.
func startCapture(t *testing.T, iface, filter, file string) (stop func()) {
	t.Helper()
	cmd := exec.Command("dumpcap", "-q", "-P", "-i", iface, "-f", filter, "-w", file)
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("dumpcap: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cmd.Process.Signal(os.Interrupt)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				t.Errorf("dumpcap did not stop 10 s after SIGINT; killing it\n%s", stderr.String())
				cmd.Process.Kill()
				<-exited
			}
		})
	}
	t.Cleanup(stop)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stderr.String(), "Capturing on") || fileSize(file) < 24 {
		select {
		case <-exited:
			t.Fatalf("dumpcap exited: %s", stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("dumpcap did not start capturing within 10 s: %s", stderr.String())
		}
	}
	return stop
}

// waitCapture waits until the pcap file holds at least one frame and no
// more arrive for quiet, at most limit.
func waitCapture(t *testing.T, file string, quiet, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	last, since := -1, time.Now()
	for time.Now().Before(deadline) {
		n := pcapFrames(file)
		if n != last {
			last, since = n, time.Now()
		} else if n > 0 && time.Since(since) >= quiet {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("the capture was still growing (or empty: %d frames) after %v", last, limit)
}

// pcapFrames counts the complete records of a classic pcap file.
func pcapFrames(file string) int {
	b, err := os.ReadFile(file)
	if err != nil || len(b) < 24 {
		return 0
	}
	var order binary.ByteOrder = binary.LittleEndian
	if m := binary.BigEndian.Uint32(b); m == 0xa1b2c3d4 || m == 0xa1b23c4d {
		order = binary.BigEndian
	}
	n := 0
	for off := 24; off+16 <= len(b); n++ {
		off += 16 + int(order.Uint32(b[off+8:]))
		if off > len(b) {
			break
		}
	}
	return n
}

func fileSize(name string) int64 {
	fi, err := os.Stat(name)
	if err != nil {
		return 0
	}
	return fi.Size()
}
