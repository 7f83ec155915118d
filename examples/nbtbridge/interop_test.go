//go:build interop

// Interop tests of nbtbridge against the lab's real Samba 4 (.ci/samba-lab)
// and the real smbclient. They run only with NETBIOS_LAB=1, as root, after
//
//	.ci/samba-lab up
//	set -a; . /tmp/nbtlab/env; set +a
//	go test -tags interop -v ./examples/nbtbridge/
//
// and not at the same time as the interop tests of ./nbt/ (use -p 1 when
// running both): the front of TestInteropBridgeToFront takes 198.18.0.3
// TCP 139 and UDP 137, as theirs does. Each test blocks what it needs
// blocked (Samba A's TCP 445, or its TCP 139) with nftables rules in a
// table of its own, "inet nbtbridge", inside the lab's namespace, and
// removes the table when it ends. Traffic goes only to loopback and to
// the lab's 198.18.0.0/15.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/nbt"
	"github.com/netbios-go/netbios/nbt/nbttest"
	"github.com/netbios-go/netbios/session"
)

// lab is the Samba lab that $NETBIOS_LAB_DIR/env describes.
type lab struct {
	ns          string
	host, front netip.Addr // Samba A (TCP 139 and 445), and the address left free for a front
	name, share string
}

var labRange = netip.MustParsePrefix("198.18.0.0/15")

func needLab(t *testing.T) lab {
	t.Helper()
	if os.Getenv("NETBIOS_LAB") != "1" {
		t.Skip("no Samba lab: run `.ci/samba-lab up` as root, then `set -a; . /tmp/nbtlab/env; set +a`")
	}
	if os.Geteuid() != 0 {
		t.Skip("the interop tests need root (ip netns exec, nft)")
	}
	if _, err := exec.LookPath("smbclient"); err != nil {
		t.Skip("no smbclient")
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
		if err != nil || !a.Is4() || !labRange.Contains(a) {
			t.Fatalf("%s=%q: want an IPv4 address in %v", k, os.Getenv(k), labRange)
		}
		return a
	}
	return lab{ns: get("NETBIOS_LAB_NS"), host: addr("NETBIOS_LAB_HOST"), front: addr("NETBIOS_LAB_FRONT"), name: get("NETBIOS_LAB_NAME"), share: get("NETBIOS_LAB_SHARE")}
}

const nftTable = "inet nbtbridge"

// block rejects, inside the lab, TCP connections to addr:port with a
// reset, until the test ends: Samba without that port.
func (l lab) block(t *testing.T, addr netip.Addr, port int) {
	t.Helper()
	ruleset := fmt.Sprintf(`table %s {
	chain input {
		type filter hook input priority 0; policy accept;
		ip daddr %s tcp dport %d counter reject with tcp reset
	}
}
`, nftTable, addr, port)
	command(t, 10*time.Second, "", "ip", "netns", "exec", l.ns, "nft", "delete", "table", nftTable) // left by a killed run
	if out, err := command(t, 10*time.Second, ruleset, "ip", "netns", "exec", l.ns, "nft", "-f", "-"); err != nil {
		t.Fatalf("nft -f: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := command(t, 10*time.Second, "", "ip", "netns", "exec", l.ns, "nft", "delete", "table", nftTable); err != nil {
			t.Errorf("removing the nftables table: %v: %s", err, out)
		}
	})
	// The port must now refuse, from here.
	if c, err := net.DialTimeout("tcp4", netip.AddrPortFrom(addr, uint16(port)).String(), 5*time.Second); err == nil {
		c.Close()
		t.Fatalf("%v:%d still accepts connections after the nftables rule", addr, port)
	}
}

// command runs a command with a time bound and returns its combined
// output; stdin, when not empty, is its input.
func command(t *testing.T, d time.Duration, stdin, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = time.Second
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// smbclient runs smbclient with args, anonymously, and returns its output.
func smbclient(t *testing.T, args ...string) string {
	t.Helper()
	out, err := command(t, 60*time.Second, "", "smbclient", append([]string{"-N", "--option=client min protocol=SMB2"}, args...)...)
	if err != nil {
		t.Fatalf("smbclient %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// bridgeFor runs nbtbridge in this process with args until the test ends,
// and returns its address and its log.
func bridgeFor(t *testing.T, args ...string) (netip.AddrPort, *syncBuffer) {
	t.Helper()
	addr, logs := startBridge(t, append([]string{"-v"}, args...)...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("nbtbridge's log:\n%s", logs)
		}
	})
	return netip.MustParseAddrPort(addr), logs
}

// checkShares lists the shares through addr and gets hello.txt and
// big.bin, checking their bytes. service is the //NAME/share to ask for.
func (l lab) checkShares(t *testing.T, addr netip.AddrPort, service string) {
	t.Helper()
	port := fmt.Sprint(addr.Port())
	if out := smbclient(t, "-L", "//"+strings.Split(strings.TrimPrefix(service, "//"), "/")[0], "-I", addr.Addr().String(), "-p", port); !strings.Contains(out, l.share) {
		t.Errorf("the share list does not name %q:\n%s", l.share, out)
	}
	dir := t.TempDir()
	smbclient(t, service, "-I", addr.Addr().String(), "-p", port, "-c", "lcd "+dir+"; get hello.txt; get big.bin")
	if b, err := os.ReadFile(dir + "/hello.txt"); err != nil || string(b) != "hello from samba\n" {
		t.Errorf("hello.txt: %q, %v", b, err)
	}
	big, err := os.ReadFile(dir + "/big.bin")
	if err != nil || len(big) != 1<<20 {
		t.Fatalf("big.bin: %d bytes, %v; want 1 MiB", len(big), err)
	}
	for i, c := range big {
		if c != byte((i*131+(i>>11))&0xFF) {
			t.Fatalf("big.bin: byte %d is %#x, want %#x", i, c, byte((i*131+(i>>11))&0xFF))
		}
	}
}

// TestInteropBridgeToNetBIOSHost: smbclient, a Direct-TCP client on a
// port of the bridge's, reaches Samba A with its port 445 closed (a
// 139-only host), by any name: the bridge finds LABSRV by itself, with
// each policy.
func TestInteropBridgeToNetBIOSHost(t *testing.T) {
	l := needLab(t)
	l.block(t, l.host, 445)
	for _, policy := range []string{"race", "presp5", "sp5"} {
		t.Run(policy, func(t *testing.T) {
			addr, logs := bridgeFor(t, "-to", l.host.String(), "-policy", policy)
			l.checkShares(t, addr, "//ANY/"+l.share)
			if !strings.Contains(logs.String(), "(direct): relaying to "+l.host.String()+":139") {
				t.Errorf("the log has no direct session relayed to %v:139:\n%s", l.host, logs)
			}
		})
	}
}

// TestInteropBridgeToFront: through the bridge, smbclient reaches a front
// that refuses *SMBSERVER (in the lab, at the front address, relaying to
// Samba A's port 445): Race and SP5 call LABSRV, which node status gives,
// and PreSP5 after the front's 0x82 to *SMBSERVER.
func TestInteropBridgeToFront(t *testing.T) {
	l := needLab(t)
	l.startFront(t)
	for _, policy := range []string{"race", "presp5", "sp5"} {
		t.Run(policy, func(t *testing.T) {
			addr, _ := bridgeFor(t, "-to", l.front.String(), "-policy", policy)
			l.checkShares(t, addr, "//ANY/"+l.share)
		})
	}
}

// TestInteropNetBIOSClientToDirect: smbclient over NetBIOS (port 139,
// a called name) reaches Samba A with its port 139 closed, through
// `nbtbridge -listen 127.0.0.1:139 -name LABSRV -to HOST:445`: by name,
// and by address, for which smbclient calls 127.0.0.1, is refused, and
// calls *SMBSERVER again.
func TestInteropNetBIOSClientToDirect(t *testing.T) {
	l := needLab(t)
	if c, err := net.Dial("tcp4", "127.0.0.1:139"); err == nil {
		c.Close()
		t.Skip("127.0.0.1:139 is taken")
	}
	l.block(t, l.host, 139)
	addr, logs := startBridgeAt(t, "127.0.0.1:139", "-v", "-name", l.name, "-to", netip.AddrPortFrom(l.host, 445).String())
	l.checkShares(t, addr, "//"+l.name+"/"+l.share)
	if !strings.Contains(logs.String(), "called "+l.name+"<20> calling ") {
		t.Errorf("the log has no session request for %s<20>:\n%s", l.name, logs)
	}
	out := smbclient(t, "//127.0.0.1/"+l.share, "-p", "139", "-c", "ls")
	if !strings.Contains(out, "hello.txt") {
		t.Errorf("ls by address:\n%s", out)
	}
	if !strings.Contains(logs.String(), "called name not present (0x82)") || !strings.Contains(logs.String(), "called *SMBSERVER<20> calling ") {
		t.Errorf("the log has no refusal of 127.0.0.1<20> and no *SMBSERVER session:\n%s", logs)
	}
}

// TestInteropDialerToListener: our nbt.Dialer, over NetBIOS, to our
// listener in front of Samba A's port 445 negotiates SMB2 with Samba.
func TestInteropDialerToListener(t *testing.T) {
	l := needLab(t)
	addr, _ := bridgeFor(t, "-name", l.name, "-to", netip.AddrPortFrom(l.host, 445).String())
	for _, policy := range []nbt.Policy{nbt.PreSP5, nbt.Race} {
		t.Run(policy.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			// 127.0.0.1 has no name service: node status draws a port
			// unreachable, and *SMBSERVER is called.
			d := &nbt.Dialer{Policy: policy, Cache: nbt.NewNameCache(0)}
			c, err := d.DialContext(ctx, "tcp", addr.String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			dialect, err := negotiate(c)
			if err != nil {
				t.Fatal(err)
			}
			if dialect != "3.0.2" {
				t.Errorf("dialect %s, want 3.0.2", dialect)
			}
		})
	}
}

// startBridgeAt is startBridge on a given address.
func startBridgeAt(t *testing.T, listen string, args ...string) (netip.AddrPort, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	logs := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		rc := run(ctx, append([]string{"-listen", listen}, args...), pw, logs)
		pw.Close()
		done <- rc
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("nbtbridge's log:\n%s", logs)
		}
	})
	line, _ := bufio.NewReader(pr).ReadString('\n')
	go io.Copy(io.Discard, pr)
	m := listeningRE.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("nbtbridge printed %q; log:\n%s", line, logs)
	}
	return netip.MustParseAddrPort(m[1]), logs
}

// The front: a helper process inside the lab's namespace, this test
// binary run again with frontEnv set, that answers node status on the
// front address's UDP 137 with Samba A's names and session requests on
// its TCP 139 for LABSRV<20> only (refusing *SMBSERVER with 0x82), and
// relays accepted sessions to Samba A's port 445.
const frontEnv = "NBTBRIDGE_INTEROP_FRONT"

func (l lab) startFront(t *testing.T) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", l.ns, exe, "-test.run=^TestInteropFrontProcess$")
	cmd.Env = append(os.Environ(), frontEnv+"="+l.front.String()+","+l.host.String()+","+l.name)
	cmd.WaitDelay = 2 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel() // kills the process this test started, by its own handle
		cmd.Wait()
		if t.Failed() {
			t.Logf("the front's stderr:\n%s", &stderr)
		}
	})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "front ready") {
				ready <- sc.Text()
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(20 * time.Second):
		t.Fatalf("the front is not ready after 20s; stderr:\n%s", &stderr)
	}
}

// TestInteropFrontProcess is the front's body; it runs only in the helper
// process.
func TestInteropFrontProcess(t *testing.T) {
	spec := os.Getenv(frontEnv)
	if spec == "" {
		t.Skip("only in the front's helper process")
	}
	parts := strings.Split(spec, ",")
	front, host, name := netip.MustParseAddr(parts[0]), netip.MustParseAddr(parts[1]), parts[2]
	if !labRange.Contains(front) || !labRange.Contains(host) {
		t.Fatalf("addresses %v, %v outside %v", front, host, labRange)
	}
	pc, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(front, nbns.Port)))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go answerNodeStatus(pc, nbttest.Table(name, "LABGRP"))
	ln, err := session.Listen("tcp4", netip.AddrPortFrom(front, session.Port).String(), &session.ListenConfig{
		Decide: session.AcceptNames(nbns.MustName(name, nbns.FileServer)),
		Config: &session.Config{LongMessages: true}, // Samba's 445 grants large MTU
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fmt.Println("front ready")
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.AcceptSession()
		if err != nil {
			return
		}
		wg.Go(func() {
			defer c.Close()
			s, err := net.DialTimeout("tcp4", netip.AddrPortFrom(host, 445).String(), 10*time.Second)
			if err != nil {
				log.Print(err)
				return
			}
			defer s.Close()
			relay(c, s, time.Minute)
		})
	}
}

// answerNodeStatus answers node status queries on pc with names.
func answerNodeStatus(pc net.PacketConn, names []nbns.NodeName) {
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		var q nbns.NodeStatusRequest
		if q.UnmarshalBinary(buf[:n]) != nil {
			continue
		}
		r := nbns.NodeStatusResponse{Header: nbns.Header{ID: q.ID, Authoritative: true}, Name: q.Name, Scope: q.Scope, Names: names}
		if b, err := r.MarshalBinary(); err == nil {
			pc.WriteTo(b, from)
		}
	}
}

// negotiate sends an SMB2 NEGOTIATE for dialects 2.0.2 to 3.0.2 on rw and
// returns the dialect the server chose, as "3.0.2" (nbtdial's).
func negotiate(rw io.ReadWriter) (string, error) {
	dialects := []uint16{0x0202, 0x0210, 0x0300, 0x0302}
	const headerLen, bodyLen = 64, 36
	b := make([]byte, 4+headerLen+bodyLen+2*len(dialects))
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	h := b[4:]
	copy(h, "\xfeSMB")
	binary.LittleEndian.PutUint16(h[4:], headerLen)
	binary.LittleEndian.PutUint16(h[14:], 1)
	body := h[headerLen:]
	binary.LittleEndian.PutUint16(body[0:], bodyLen)
	binary.LittleEndian.PutUint16(body[2:], uint16(len(dialects)))
	binary.LittleEndian.PutUint16(body[4:], 1)
	copy(body[12:28], "netbios-go brdg!")
	for i, d := range dialects {
		binary.LittleEndian.PutUint16(body[bodyLen+2*i:], d)
	}
	if _, err := rw.Write(b); err != nil {
		return "", err
	}
	var hdr [4]byte
	if _, err := io.ReadFull(rw, hdr[:]); err != nil {
		return "", err
	}
	n := int(binary.BigEndian.Uint32(hdr[:]) & 0xFFFFFF)
	if hdr[0] != 0 || n < 64+8 || n > 1<<20 {
		return "", fmt.Errorf("unexpected frame % x", hdr)
	}
	resp := make([]byte, n)
	if _, err := io.ReadFull(rw, resp); err != nil {
		return "", err
	}
	if !bytes.HasPrefix(resp, []byte("\xfeSMB")) {
		return "", errors.New("not an SMB2 response")
	}
	if status := binary.LittleEndian.Uint32(resp[8:]); status != 0 {
		return "", fmt.Errorf("NEGOTIATE failed with status 0x%08X", status)
	}
	d := binary.LittleEndian.Uint16(resp[64+4:])
	return fmt.Sprintf("%d.%d.%d", d>>8, d>>4&0xF, d&0xF), nil
}
