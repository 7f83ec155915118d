//go:build interop

package nbt_test

// Helpers of the interop tests (interop_test.go): the lab's addresses, the
// test-only processes that run inside the lab's network namespace, nftables
// rules, an SMB2 NEGOTIATE, and Samba's logs on failure.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/nbt"
	"github.com/netbios-go/netbios/nbt/nbttest"
	"github.com/netbios-go/netbios/session"
)

// sambaLab is the lab that .ci/samba-lab up describes in $NETBIOS_LAB_DIR/env.
type sambaLab struct {
	NS       string     // network namespace
	Host     netip.Addr // Samba A: nmbd and smbd, TCP 139 and 445
	Front    netip.Addr // free for the tests' front (TCP 139, UDP 137)
	Retarget netip.Addr // Samba B: smbd, TCP 139 (retargets) and 1139
	WINS     netip.Addr // Samba W: nmbd with wins support = yes, A's WINS server
	Bcast    netip.Addr // the lab link's directed broadcast address
	Name     string     // Samba A's NetBIOS name
	Group    string     // the workgroup of A and W
	Share    string
	Dir      string // Samba's files and logs
}

// needLab returns the lab, or skips the test when NETBIOS_LAB is not 1.
func needLab(t *testing.T) sambaLab {
	t.Helper()
	if os.Getenv("NETBIOS_LAB") != "1" {
		t.Skip("no Samba lab: run `.ci/samba-lab up` as root, then `set -a; . /tmp/nbtlab/env; set +a` before go test -tags interop")
	}
	get := func(k string) string {
		v := os.Getenv(k)
		if v == "" {
			t.Fatalf("NETBIOS_LAB=1 but %s is not set; source the lab's env file", k)
		}
		return v
	}
	addr := func(k string) netip.Addr {
		a, err := netip.ParseAddr(get(k))
		if err != nil || !a.Is4() {
			t.Fatalf("%s=%q is not an IPv4 address", k, os.Getenv(k))
		}
		return a
	}
	env := sambaLab{
		NS:       get("NETBIOS_LAB_NS"),
		Host:     addr("NETBIOS_LAB_HOST"),
		Front:    addr("NETBIOS_LAB_FRONT"),
		Retarget: addr("NETBIOS_LAB_RETARGET"),
		WINS:     addr("NETBIOS_LAB_WINS"),
		Bcast:    addr("NETBIOS_LAB_BCAST"),
		Name:     get("NETBIOS_LAB_NAME"),
		Group:    get("NETBIOS_LAB_GROUP"),
		Share:    get("NETBIOS_LAB_SHARE"),
		Dir:      get("NETBIOS_LAB_DIR"),
	}
	for _, a := range []netip.Addr{env.Host, env.Front, env.Retarget, env.WINS, env.Bcast} {
		if !delayLineRange.Contains(a) {
			t.Fatalf("lab address %v is outside %v: the tests send nothing there", a, delayLineRange)
		}
	}
	if os.Geteuid() != 0 {
		t.Skip("the interop tests need root (ip netns exec, nft, dumpcap)")
	}
	return env
}

func (e sambaLab) serverName() nbns.Name { return nbns.MustName(e.Name, nbns.FileServer) }

// logsOnFailure logs the tail of Samba's logs when t fails: instance "a"
// (198.18.0.2), "b" (198.18.0.4) or "w" (198.18.0.5, the WINS server).
func (e sambaLab) logsOnFailure(t *testing.T, instances ...string) {
	t.Helper()
	start := time.Now()
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, inst := range instances {
			files, _ := filepath.Glob(filepath.Join(e.Dir, inst, "log", "*"))
			for _, f := range files {
				fi, err := os.Stat(f)
				if err != nil || fi.Size() == 0 || fi.ModTime().Before(start.Add(-time.Second)) {
					continue // not written during this test
				}
				t.Logf("tail of %s:\n%s", f, tail(f, 40))
			}
		}
	})
}

// tail returns the last n lines of a file.
func tail(file string, n int) string {
	b, err := os.ReadFile(file)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// stepContext is a context for one network step of a test.
func stepContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// runCommand runs a command with a time bound and returns its combined output. It
// may run in a Cleanup, after t's context has ended.
func runCommand(d time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// ---- nftables ---------------------------------------------------------------

// The lab's veth pair, as .ci/samba-lab names it: vethHost in the root
// namespace, vethNS inside.
const (
	vethHost = "nbtlab0"
	vethNS   = "nbtlab1"
)

// nftTable is the tests' table inside the namespace; .ci/samba-lab down
// deletes it too.
const nftTable = "inet nbtlab"

// filterUDP137 adds an nftables rule inside the namespace that filters UDP
// datagrams that arrive from the root namespace, through the veth or the
// delay line's TUN device (interop_delayline_test.go), to addr:137 with
// verdict ("drop", or "reject with icmp type port-unreachable"), and
// removes it when t ends.
func (e sambaLab) filterUDP137(t *testing.T, addr netip.Addr, verdict string) {
	t.Helper()
	ruleset := fmt.Sprintf(`table %s {
	chain input {
		type filter hook input priority 0; policy accept;
		iifname { "%s", "%s" } ip daddr %s udp dport 137 counter %s
	}
}
`, nftTable, vethNS, tunNS, addr, verdict)
	e.deleteTable() // a table left by a killed run would add its rules
	e.nft(t, ruleset)
	t.Cleanup(func() {
		if out, err := runCommand(10*time.Second, "ip", "netns", "exec", e.NS, "nft", "delete", "table", nftTable); err != nil {
			t.Errorf("removing the nftables table: %v: %s", err, out)
		}
	})
}

func (e sambaLab) deleteTable() {
	runCommand(10*time.Second, "ip", "netns", "exec", e.NS, "nft", "delete", "table", nftTable)
}

func (e sambaLab) nft(t *testing.T, ruleset string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", e.NS, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(ruleset)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft -f: %v: %s\n%s", err, out, ruleset)
	}
}

// nftCounter returns the packets the tests' rule has matched.
func (e sambaLab) nftCounter() string {
	out, err := runCommand(10*time.Second, "ip", "netns", "exec", e.NS, "nft", "list", "table", nftTable)
	if err != nil {
		return "?"
	}
	if i := strings.Index(out, "counter "); i >= 0 {
		rest := out[i+len("counter "):]
		if j := strings.IndexAny(rest, "\n"); j >= 0 {
			rest = rest[:j]
		}
		return strings.TrimSpace(rest)
	}
	return "?"
}

// ---- processes inside the namespace -------------------------------------------

// helperEnv tells the test binary, run again inside the namespace, to serve
// as a lab helper instead of testing: its value is the role.
const helperEnv = "NETBIOS_LAB_HELPER"

// helperLifetime bounds a helper that its parent forgot.
const helperLifetime = 5 * time.Minute

// startHelper runs the test binary inside the lab's namespace as
// TestLabHelperProcess with the given role, waits until it is listening, and
// stops it when t ends. It returns the helper's ready line, without its
// prefix.
func (e sambaLab) startHelper(t *testing.T, role string) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// Not /proc/self/exe: ip netns exec would resolve that to ip itself.
	cmd := exec.Command("ip", "netns", "exec", e.NS, exe, "-test.run=^TestLabHelperProcess$", "-test.v")
	cmd.Env = append(os.Environ(),
		helperEnv+"="+role,
		"NETBIOS_LAB_HELPER_HOST="+e.Host.String(),
		"NETBIOS_LAB_HELPER_FRONT="+e.Front.String(),
		"NETBIOS_LAB_HELPER_BCAST="+e.Bcast.String(),
	)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan string, 1)
	cmd.Stdout = &readyWriter{ready: ready}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the %s helper: %v", role, err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		stdin.Close() // the helper exits when its stdin closes
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Errorf("the %s helper (pid %d) did not exit 10 s after its stdin closed; killing it", role, cmd.Process.Pid)
			cmd.Process.Kill()
			<-exited
		}
		if code := cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("the %s helper exited with status %d (a race report is 66)", role, code)
		}
		if t.Failed() {
			t.Logf("%s helper's log:\n%s", role, stderr.String())
		}
	})
	select {
	case line := <-ready:
		return line
	case <-exited:
		t.Fatalf("the %s helper exited before it was ready: %v\n%s", role, cmd.ProcessState, stderr.String())
	case <-time.After(15 * time.Second):
		t.Fatalf("the %s helper was not ready after 15 s\n%s", role, stderr.String())
	}
	return ""
}

// helperReady starts the line a helper prints when it is listening.
const helperReady = "LAB HELPER READY "

// readyWriter is a helper's stdout: it sends the rest of the first line
// that starts with helperReady to ready.
type readyWriter struct {
	line  []byte
	sent  bool
	ready chan<- string
}

func (w *readyWriter) Write(p []byte) (int, error) {
	for _, c := range p {
		if c != '\n' {
			if len(w.line) < 4096 {
				w.line = append(w.line, c)
			}
			continue
		}
		if rest, ok := strings.CutPrefix(string(w.line), helperReady); ok && !w.sent {
			w.ready <- rest // buffered, sent once
			w.sent = true
		}
		w.line = w.line[:0]
	}
	return len(p), nil
}

// lockedBuffer is a bytes.Buffer safe for concurrent use.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// helperProcess is a lab helper process: what it listens on and what it serves.
type helperProcess struct {
	log    *os.File
	mu     sync.Mutex
	closed bool
	closer []io.Closer
	wg     sync.WaitGroup
}

func (h *helperProcess) logf(format string, args ...any) {
	fmt.Fprintf(h.log, time.Now().Format("15:04:05.000")+" "+format+"\n", args...)
}

// track registers c to be closed at shutdown; it reports false, and closes
// c, when shutdown has begun.
func (h *helperProcess) track(c io.Closer) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		c.Close()
		return false
	}
	h.closer = append(h.closer, c)
	return true
}

func (h *helperProcess) shutdown() {
	h.mu.Lock()
	h.closed = true
	cs := h.closer
	h.closer = nil
	h.mu.Unlock()
	for _, c := range cs {
		c.Close()
	}
	h.wg.Wait()
}

// maxHelperConns bounds what a helper accepts in its lifetime.
const maxHelperConns = 1000

// serveFront is the KB Q251166 host that Samba cannot be made into: on
// front:139 it refuses *SMBSERVER with 0x82 (83 00 00 01 82, then FIN) and
// for any other called name replays the session request to host:139 and
// splices both directions, so that smbd answers it.
func (h *helperProcess) serveFront(front, host netip.Addr) error {
	ln, err := net.ListenTCP("tcp4", net.TCPAddrFromAddrPort(netip.AddrPortFrom(front, session.Port)))
	if err != nil {
		return err
	}
	h.track(ln)
	upstream := netip.AddrPortFrom(host, session.Port)
	h.wg.Go(func() {
		for range maxHelperConns {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if !h.track(c) {
				return
			}
			h.wg.Go(func() { h.frontSession(c, upstream) })
		}
		h.logf("front: %d connections served; not accepting more", maxHelperConns)
	})
	return nil
}

func (h *helperProcess) frontSession(c net.Conn, upstream netip.AddrPort) {
	defer c.Close()
	var raw bytes.Buffer
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	req, err := session.ReadRequest(io.TeeReader(c, &raw))
	c.SetReadDeadline(time.Time{})
	if err != nil {
		h.logf("front: %s: bad session request: %v", c.RemoteAddr(), err)
		return
	}
	if req.Called == nbt.SMBServer {
		h.logf("front: %s: called %s calling %s: refused 0x82", c.RemoteAddr(), req.Called, req.Calling)
		c.Write([]byte{0x83, 0x00, 0x00, 0x01, 0x82})
		return
	}
	up, err := net.DialTimeout("tcp4", upstream.String(), 5*time.Second)
	if err != nil {
		h.logf("front: %s: called %s: dialing smbd: %v", c.RemoteAddr(), req.Called, err)
		return
	}
	if !h.track(up) {
		return
	}
	defer up.Close()
	h.logf("front: %s: called %s calling %s: replayed to %s", c.RemoteAddr(), req.Called, req.Calling, upstream)
	if _, err := up.Write(raw.Bytes()); err != nil {
		h.logf("front: replaying: %v", err)
		return
	}
	done := make(chan struct{}, 2)
	splice := func(dst, src net.Conn) {
		io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go splice(up, c)
	go splice(c, up)
	<-done
	<-done
}

// serveUDPRelay listens on listen (UDP) and relays each datagram to target
// from a socket of its own per client, bound to from:0, and the replies
// back to the client: node status to the front reaches nmbd.
func (h *helperProcess) serveUDPRelay(listen netip.AddrPort, target netip.AddrPort, from netip.Addr) error {
	pc, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(listen))
	if err != nil {
		return err
	}
	h.track(pc)
	h.wg.Go(func() {
		clients := make(map[netip.AddrPort]*net.UDPConn)
		buf := make([]byte, 9000)
		for {
			n, client, err := pc.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			up, ok := clients[client]
			if !ok {
				if len(clients) >= maxHelperConns {
					h.logf("relay: %d clients; dropping %s", maxHelperConns, client)
					continue
				}
				up, err = net.DialUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(from, 0)), net.UDPAddrFromAddrPort(target))
				if err != nil {
					h.logf("relay: %v", err)
					continue
				}
				if !h.track(up) {
					return
				}
				clients[client] = up
				h.wg.Go(func() {
					b := make([]byte, 9000)
					for {
						up.SetReadDeadline(time.Now().Add(helperLifetime))
						n, err := up.Read(b)
						if err != nil {
							if !errors.Is(err, net.ErrClosed) {
								h.logf("relay: reply for %s: %v", client, err)
							}
							return
						}
						h.logf("relay: %s -> %s: %d bytes", target, client, n)
						pc.WriteToUDPAddrPort(b[:n], client)
					}
				})
			}
			h.logf("relay: %s -> %s: %d bytes", client, target, n)
			up.Write(buf[:n])
		}
	})
	return nil
}

// serveNameRelay is serveUDPRelay for a name service that broadcasts
// reach too: it listens on listen and on bcast (with SO_REUSEADDR, beside
// the sockets nmbd A and W bind there) and relays each datagram to target
// from a socket of its own per client, bound to from:0; every reply goes
// back from listen, the front's unicast address, as nmbd answers a
// broadcast from its unicast socket (a socket bound to a broadcast address
// cannot send).
func (h *helperProcess) serveNameRelay(listen, bcast, target netip.AddrPort, from netip.Addr) error {
	pc, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(listen))
	if err != nil {
		return err
	}
	h.track(pc)
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
		})
		return errors.Join(err, serr)
	}}
	bc, err := lc.ListenPacket(context.Background(), "udp4", bcast.String())
	if err != nil {
		return fmt.Errorf("listening on %v beside nmbd: %w", bcast, err)
	}
	h.track(bc)
	var mu sync.Mutex
	clients := make(map[netip.AddrPort]*net.UDPConn)
	// upstream returns the client's socket to target, opening it and its
	// reply pump on first use; nil when no more clients are served.
	upstream := func(client netip.AddrPort) *net.UDPConn {
		mu.Lock()
		defer mu.Unlock()
		if up, ok := clients[client]; ok {
			return up
		}
		if len(clients) >= maxHelperConns {
			h.logf("names relay: %d clients; dropping %s", maxHelperConns, client)
			return nil
		}
		up, err := net.DialUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(from, 0)), net.UDPAddrFromAddrPort(target))
		if err != nil {
			h.logf("names relay: %v", err)
			return nil
		}
		if !h.track(up) {
			return nil
		}
		clients[client] = up
		h.wg.Go(func() {
			b := make([]byte, 9000)
			for {
				up.SetReadDeadline(time.Now().Add(helperLifetime))
				n, err := up.Read(b)
				if err != nil {
					if !errors.Is(err, net.ErrClosed) {
						h.logf("names relay: reply for %s: %v", client, err)
					}
					return
				}
				h.logf("names relay: %s -> %s: %d bytes, from %s", target, client, n, listen)
				pc.WriteToUDPAddrPort(b[:n], client)
			}
		})
		return up
	}
	serve := func(in net.PacketConn, what string) {
		buf := make([]byte, 9000)
		for {
			n, addr, err := in.ReadFrom(buf)
			if err != nil {
				return
			}
			client := addr.(*net.UDPAddr).AddrPort()
			if up := upstream(client); up != nil {
				h.logf("names relay: %s -> %s (%s): %d bytes", client, target, what, n)
				up.Write(buf[:n])
			}
		}
	}
	h.wg.Go(func() { serve(pc, "unicast") })
	h.wg.Go(func() { serve(bc, "broadcast") })
	return nil
}

// namesWINS is what the nbttest host of the names helper answers as a
// WINS server (to unicast queries with RD set): Samba A's name with its
// real address, a multihomed name, a normal group as a WINS server gives
// it (255.255.255.255, MS-NBTE note 11) and one as nmbd's WINS server
// gives it (0.0.0.0).
var namesWINS = map[nbns.Name][]nbns.AddrEntry{
	nbns.MustName("LABSRV", nbns.FileServer): {
		{Flags: nbns.NewNBFlags(false, nbns.HNode), Addr: netip.MustParseAddr("198.18.0.2")},
	},
	nbns.MustName("MULTIHOMED", nbns.FileServer): {
		{Flags: nbns.NewNBFlags(false, nbns.MNode), Addr: netip.MustParseAddr("198.18.0.2")},
		{Flags: nbns.NewNBFlags(false, nbns.MNode), Addr: netip.MustParseAddr("198.18.0.4")},
	},
	nbns.MustName("BCASTGRP", 0x1E): {
		{Flags: nbns.NewNBFlags(true, nbns.BNode), Addr: netip.MustParseAddr("255.255.255.255")},
	},
	nbns.MustName("ZEROGRP", 0x1E): {
		{Flags: nbns.NewNBFlags(true, nbns.HNode), Addr: netip.MustParseAddr("0.0.0.0")},
	},
}

// TestLabHelperProcess is not a test: the interop tests run the test binary
// again inside the lab's namespace with NETBIOS_LAB_HELPER set, and it
// serves until its stdin closes.
//
//   - front: TCP front:139 that refuses *SMBSERVER and splices other names
//     to host:139, and UDP front:137 relayed to nmbd at host:137;
//   - names: an nbttest.Server on the namespace's 127.0.0.1, a WINS
//     server for namesWINS too, that answers each broadcast twice, as
//     nmbd does; its name service relayed from UDP front:137 and from the
//     lab's broadcast address, port 137 (nmblookup only sends to port 137).
func TestLabHelperProcess(t *testing.T) {
	role := os.Getenv(helperEnv)
	if role == "" {
		t.Skip("a helper process of the interop tests, run by them inside the lab's namespace")
	}
	host := netip.MustParseAddr(os.Getenv("NETBIOS_LAB_HELPER_HOST"))
	front := netip.MustParseAddr(os.Getenv("NETBIOS_LAB_HELPER_FRONT"))
	h := &helperProcess{log: os.Stderr}
	var ready string
	switch role {
	case "front":
		if err := h.serveFront(front, host); err != nil {
			t.Fatal(err)
		}
		if err := h.serveUDPRelay(netip.AddrPortFrom(front, nbns.Port), netip.AddrPortFrom(host, nbns.Port), front); err != nil {
			t.Fatal(err)
		}
		ready = front.String()
	case "names":
		s := nbttest.NewUnstartedServer(nil)
		s.Names = nmblookupTable
		s.Statistics.UnitID = nmblookupMAC
		s.WINS = namesWINS
		s.AnswerBroadcastTwice = true
		s.Start()
		defer s.Close()
		bcast := netip.AddrPortFrom(netip.MustParseAddr(os.Getenv("NETBIOS_LAB_HELPER_BCAST")), nbns.Port)
		if err := h.serveNameRelay(netip.AddrPortFrom(front, nbns.Port), bcast, s.NameAddr, s.NameAddr.Addr()); err != nil {
			t.Fatal(err)
		}
		ready = s.NameAddr.String()
	default:
		t.Fatalf("unknown helper role %q", role)
	}
	fmt.Printf("%s%s\n", helperReady, ready)
	h.logf("%s: serving; pid %d", role, os.Getpid())

	eof := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(eof)
	}()
	select {
	case <-eof:
	case <-time.After(helperLifetime):
		h.logf("%s: still running after %v; exiting", role, helperLifetime)
	}
	h.shutdown()
}

// ---- SMB2 NEGOTIATE ----------------------------------------------------------------

// smb2Dialects are the SMB2 dialects allowed over NetBIOS (MS-SMB2 §2.1):
// 2.0.2, 2.1, 3.0 and 3.0.2; never 3.1.1.
var smb2Dialects = []uint16{0x0202, 0x0210, 0x0300, 0x0302}

// smb2NegotiateRequest returns an SMB2 NEGOTIATE request (MS-SMB2 §2.2.3)
// in a session message frame, which is the Direct-TCP frame.
func smb2NegotiateRequest() []byte {
	const headerLen, bodyLen = 64, 36
	b := make([]byte, 4+headerLen+bodyLen+2*len(smb2Dialects))
	binary.BigEndian.PutUint32(b, uint32(len(b)-4)) // type 0x00 and length
	h := b[4:]
	copy(h, "\xfeSMB")
	binary.LittleEndian.PutUint16(h[4:], headerLen) // StructureSize
	binary.LittleEndian.PutUint16(h[14:], 1)        // CreditRequest; Command 0 is NEGOTIATE
	body := h[headerLen:]
	binary.LittleEndian.PutUint16(body[0:], bodyLen)                   // StructureSize
	binary.LittleEndian.PutUint16(body[2:], uint16(len(smb2Dialects))) // DialectCount
	binary.LittleEndian.PutUint16(body[4:], 1)                         // SecurityMode: signing enabled
	copy(body[12:28], "netbios-go lab!!")                              // ClientGuid
	for i, d := range smb2Dialects {
		binary.LittleEndian.PutUint16(body[bodyLen+2*i:], d)
	}
	return b
}

// smb2Negotiate sends a NEGOTIATE on c, reads the response, checks it, and
// returns the dialect the server chose.
func smb2Negotiate(t *testing.T, c net.Conn) uint16 {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write(smb2NegotiateRequest()); err != nil {
		t.Fatalf("writing SMB2 NEGOTIATE: %v", err)
	}
	var hdr [4]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		t.Fatalf("reading the NEGOTIATE response frame: %v", err)
	}
	n := int(binary.BigEndian.Uint32(hdr[:]) & 0xFFFFFF)
	if hdr[0] != 0 || n < 64+65 || n > 1<<17 {
		t.Fatalf("NEGOTIATE response frame header % x: want type 0x00 and a length of 129..0x1FFFF", hdr)
	}
	resp := make([]byte, n)
	if _, err := io.ReadFull(c, resp); err != nil {
		t.Fatalf("reading the NEGOTIATE response: %v", err)
	}
	le := binary.LittleEndian
	switch {
	case string(resp[:4]) != "\xfeSMB":
		t.Fatalf("not an SMB2 response: % x", resp[:4])
	case le.Uint16(resp[4:]) != 64:
		t.Fatalf("SMB2 header StructureSize %d, want 64", le.Uint16(resp[4:]))
	case le.Uint32(resp[8:]) != 0:
		t.Fatalf("NEGOTIATE status 0x%08X, want STATUS_SUCCESS", le.Uint32(resp[8:]))
	case le.Uint16(resp[12:]) != 0:
		t.Fatalf("response to command %d, want 0 (NEGOTIATE)", le.Uint16(resp[12:]))
	case le.Uint32(resp[16:])&1 == 0:
		t.Fatalf("SMB2_FLAGS_SERVER_TO_REDIR not set: flags 0x%08X", le.Uint32(resp[16:]))
	case le.Uint16(resp[64:]) != 65:
		t.Fatalf("NEGOTIATE response StructureSize %d, want 65", le.Uint16(resp[64:]))
	}
	d := le.Uint16(resp[64+4:])
	for _, want := range smb2Dialects {
		if d == want {
			return d
		}
	}
	t.Fatalf("the server chose dialect 0x%04X, which we did not offer", d)
	return 0
}

// ---- checks on dial results --------------------------------------------------

// stepOutcome is an attempt reduced to what the interop tests compare: the
// step, the name, the address and how it ended.
type stepOutcome struct {
	Step nbt.Step
	Name string
	Addr string
	End  string // "ok", a session error code as "0x82", "retarget ADDR", or "error"
}

func stepOutcomes(as []nbt.Attempt) []stepOutcome {
	var out []stepOutcome
	for _, a := range as {
		s := stepOutcome{Step: a.Step, Name: a.Name.String(), Addr: a.Addr.String(), End: "ok"}
		var code session.ErrorCode
		var re *session.RetargetError
		switch {
		case a.Err == nil:
		case errors.As(a.Err, &re):
			s.End = "retarget " + re.Addr.String()
		case errors.As(a.Err, &code):
			s.End = fmt.Sprintf("0x%02X", uint8(code))
		default:
			s.End = "error"
		}
		out = append(out, s)
	}
	return out
}
