//go:build interop

// Interop tests against a real Samba (smbd and nmbd) over NetBIOS, port
// 139. They run only with NETBIOS_LAB=1, against the lab that
// `.ci/samba-lab up` starts; its env file sets
//
//	NETBIOS_LAB_HOST   the Samba host, in 198.18.0.0/15 (default 198.18.0.2)
//	NETBIOS_LAB_NAME   its NetBIOS name (default LABSRV)
//	NETBIOS_LAB_SHARE  a guest-readable share (default pub) holding
//	                   hello.txt = "hello from samba\n" and big.bin,
//	                   1048576 bytes, byte i = byte((i*131 + (i>>11)) & 0xFF)
//
// Samba must map unknown users to guest (`map to guest = Bad User`): the
// program logs on as "guest" with an empty password.
package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/nbt"
	"github.com/netbios-go/netbios/session"
)

type lab struct {
	host  string
	name  nbns.Name
	share string
}

func labEnv(t *testing.T) lab {
	t.Helper()
	if os.Getenv("NETBIOS_LAB") != "1" {
		t.Skip("NETBIOS_LAB is not 1: no Samba lab (start one with .ci/samba-lab up)")
	}
	env := func(k, def string) string {
		if v := os.Getenv(k); v != "" {
			return v
		}
		return def
	}
	l := lab{host: env("NETBIOS_LAB_HOST", "198.18.0.2"), share: env("NETBIOS_LAB_SHARE", "pub")}
	// Traffic goes only to loopback or to the lab's range.
	ip, err := netip.ParseAddr(l.host)
	if err != nil || !(ip.IsLoopback() || netip.MustParsePrefix("198.18.0.0/15").Contains(ip)) {
		t.Fatalf("NETBIOS_LAB_HOST %q: want an IPv4 address in 198.18.0.0/15 or loopback", l.host)
	}
	if l.name, err = nbns.NewName(env("NETBIOS_LAB_NAME", "LABSRV"), nbns.FileServer); err != nil {
		t.Fatalf("NETBIOS_LAB_NAME: %v", err)
	}
	return l
}

// bigByte is byte i of big.bin.
func bigByte(i int) byte { return byte((i*131 + (i >> 11)) & 0xFF) }

const bigLen = 1 << 20

func TestInteropSamba(t *testing.T) {
	l := labEnv(t)
	// Each dial has an empty name cache of its own, so that it takes its
	// policy's steps.
	tests := []struct {
		name       string
		dialer     nbt.Dialer
		wantCalled []nbns.Name // one of these
	}{
		// Samba accepts *SMBSERVER, so PreSP5 stops at its first step.
		{name: "PreSP5", dialer: nbt.Dialer{Policy: nbt.PreSP5, Cache: nbt.NewNameCache(0)}, wantCalled: []nbns.Name{nbt.SMBServer}},
		{name: "SP5", dialer: nbt.Dialer{Policy: nbt.SP5, Cache: nbt.NewNameCache(0)}, wantCalled: []nbns.Name{l.name}},
		// Race asks for whichever name it knows first; Samba accepts both.
		{name: "Race", dialer: nbt.Dialer{Policy: nbt.Race, Cache: nbt.NewNameCache(0)}, wantCalled: []nbns.Name{nbt.SMBServer, l.name}},
		{name: "explicit name", dialer: nbt.Dialer{CalledName: l.name, Cache: nbt.NewNameCache(0)}, wantCalled: []nbns.Name{l.name}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			begin := time.Now()
			nc, err := tt.dialer.DialContext(ctx, "tcp", l.host) // port 139
			if err != nil {
				t.Fatalf("nbt dial: %v", err)
			}
			defer nc.Close()
			conn := nc.(*nbt.Conn)
			if got := conn.CalledName(); !slices.Contains(tt.wantCalled, got) {
				t.Errorf("called name %v, want %v; steps %v", got, tt.wantCalled, conn.Attempts())
			}
			if port := conn.RemoteAddr().(interface{ AddrPort() netip.AddrPort }).AddrPort().Port(); port != nbt.Port {
				t.Errorf("connected to port %d, want %d", port, nbt.Port)
			}
			dialed := time.Since(begin)
			conn.SetDeadline(time.Now().Add(30 * time.Second))

			tap := &smbTap{Conn: conn}
			sess, err := newSMBDialer(dialects[0], "", "").DialConn(ctx, tap, l.host)
			if err != nil {
				t.Fatalf("SMB guest logon: %v", err)
			}
			sess = sess.WithContext(ctx)
			defer sess.Logoff()
			dialect, status, ok := tap.Negotiated()
			if !ok || status != 0 || dialect == 0x0311 || dialect != 0x0302 {
				t.Errorf("NEGOTIATE response: dialect %s, status %#x (seen %v); want 3.0.2, never 3.1.1 over NetBIOS", dialectString(dialect), status, ok)
			}
			if flags, ok := tap.SessionFlags(); !ok || flags&sessionFlagIsGuest == 0 {
				t.Errorf("SESSION_SETUP response: flags %#x (seen %v), want a guest session", flags, ok)
			}
			loggedOn := time.Since(begin)

			names, err := sess.ListSharenames()
			if err != nil {
				t.Fatalf("list shares: %v", err)
			}
			if !slices.Contains(names, l.share) {
				t.Errorf("shares %q, want %q among them", names, l.share)
			}

			share, err := sess.Mount(l.share)
			if err != nil {
				t.Fatalf("tree connect %s: %v", l.share, err)
			}
			share = share.WithContext(ctx)
			defer share.Umount()
			hello, err := share.ReadFile("hello.txt")
			if err != nil || string(hello) != "hello from samba\n" {
				t.Errorf("hello.txt = %q, %v; want %q", hello, err, "hello from samba\n")
			}
			readStart := time.Now()
			big, err := share.ReadFile("big.bin")
			if err != nil {
				t.Fatalf("big.bin: %v", err)
			}
			readTime := time.Since(readStart)
			checkBig(t, big)
			t.Logf("called %v, dialect %s; dial %v, logon %v, 1 MiB read %v; steps: %v",
				conn.CalledName(), dialectString(dialect), dialed.Round(time.Millisecond), loggedOn.Round(time.Millisecond),
				readTime.Round(time.Millisecond), conn.Attempts())
		})
	}
}

func checkBig(t *testing.T, big []byte) {
	t.Helper()
	if len(big) != bigLen {
		t.Errorf("big.bin is %d bytes, want %d", len(big), bigLen)
	}
	for i, b := range big {
		if want := bigByte(i); b != want {
			t.Errorf("big.bin byte %d = %#02x, want %#02x", i, b, want)
			return
		}
	}
}

// TestInteropRun runs the program end to end: list the shares, then copy
// big.bin to a file.
func TestInteropRun(t *testing.T) {
	l := labEnv(t)
	var stdout, stderr bytes.Buffer
	if status := run(t.Context(), []string{"-policy", "sp5", "-timeout", "30s", l.host}, &stdout, &stderr); status != 0 {
		t.Fatalf("smb -list: status %d; stderr:\n%s", status, stderr.String())
	}
	if !slices.Contains(strings.Split(stdout.String(), "\n"), l.share) {
		t.Errorf("smb -list printed %q, want the line %q", stdout.String(), l.share)
	}
	t.Logf("smb -list: %s", stderr.String())

	out := filepath.Join(t.TempDir(), "big.bin")
	stdout.Reset()
	stderr.Reset()
	if status := run(t.Context(), []string{"-timeout", "30s", "-o", out, l.host, l.share, "big.bin"}, &stdout, &stderr); status != 0 {
		t.Fatalf("smb: status %d; stderr:\n%s", status, stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout %q with -o", stdout.String())
	}
	// The -list run left LABSRV<20> in the process's name cache: the
	// default policy, Race, asks for it at once.
	for _, want := range []string{"called name LABSRV<20> (Race, 1 step, ", "SMB dialect 3.0.2, user \"guest\", guest session\n", "copied 1048576 bytes from \\\\" + l.host + "\\" + l.share + "\\big.bin to " + out} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr %q does not contain %q", stderr.String(), want)
		}
	}
	big, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	checkBig(t, big)
	t.Logf("smb: %s", stderr.String())
}

// labWINS is the lab's WINS server (NETBIOS_LAB_WINS, default 198.18.0.5),
// which knows the Samba host's name from its registration.
func labWINS(t *testing.T) netip.Addr {
	t.Helper()
	s := os.Getenv("NETBIOS_LAB_WINS")
	if s == "" {
		s = "198.18.0.5"
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !netip.MustParsePrefix("198.18.0.0/15").Contains(a) {
		t.Fatalf("NETBIOS_LAB_WINS %q: want an IPv4 address in 198.18.0.0/15", s)
	}
	return a
}

// TestInteropByName dials the Samba host by its NetBIOS name, found by the
// lab's WINS server, and reads hello.txt through go-smb2: in process, with
// an nbt.Dialer whose Resolver asks only that WINS server, then as the
// program runs it, `smb -U 198.18.0.5 -order wins LABSRV pub hello.txt`.
// Nothing else is asked: no broadcast, no DNS.
func TestInteropByName(t *testing.T) {
	l := labEnv(t)
	wins := labWINS(t)
	nb := l.name.Bytes()
	name := strings.TrimRight(string(nb[:nbns.NameLen-1]), " ")

	t.Run("in process", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		d := nbt.Dialer{
			Resolver: &nbt.Resolver{WINS: []netip.Addr{wins}, Order: []nbt.Source{nbt.SourceWINS}},
			Cache:    nbt.NewNameCache(0),
		}
		begin := time.Now()
		nc, err := d.DialContext(ctx, "tcp", name)
		if err != nil {
			t.Fatalf("nbt dial %s: %v", name, err)
		}
		defer nc.Close()
		conn := nc.(*nbt.Conn)
		dialed := time.Since(begin)
		if got, want := conn.RemoteAddr().String(), l.host+":139"; got != want {
			t.Errorf("RemoteAddr() = %s, want %s (what the WINS server gives for %v)", got, want, l.name)
		}
		if got := conn.CalledName(); got != l.name {
			t.Errorf("called name %v, want %v", got, l.name)
		}
		if n := len(conn.Attempts()); n != 1 {
			t.Errorf("steps %v, want one session request", conn.Attempts())
		}
		conn.SetDeadline(time.Now().Add(30 * time.Second))
		sess, err := newSMBDialer(dialects[0], "", "").DialConn(ctx, conn, name)
		if err != nil {
			t.Fatalf("SMB guest logon: %v", err)
		}
		sess = sess.WithContext(ctx)
		defer sess.Logoff()
		share, err := sess.Mount(l.share)
		if err != nil {
			t.Fatalf("tree connect \\\\%s\\%s: %v", name, l.share, err)
		}
		share = share.WithContext(ctx)
		defer share.Umount()
		hello, err := share.ReadFile("hello.txt")
		if err != nil || string(hello) != "hello from samba\n" {
			t.Errorf("hello.txt = %q, %v; want %q", hello, err, "hello from samba\n")
		}
		t.Logf("dial %s by WINS %v: %v (%v); hello.txt read %v after the dial began", name, wins,
			dialed.Round(100*time.Microsecond), conn.Attempts(), time.Since(begin).Round(100*time.Microsecond))
	})

	t.Run("program", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "hello.txt")
		var stdout, stderr bytes.Buffer
		args := []string{"-U", wins.String(), "-order", "wins", "-timeout", "30s", "-o", out, name, l.share, "hello.txt"}
		if status := run(t.Context(), args, &stdout, &stderr); status != 0 {
			t.Fatalf("smb %s: status %d; stderr:\n%s", strings.Join(args, " "), status, stderr.String())
		}
		for _, want := range []string{
			"NetBIOS session with " + l.host + ":139, called name " + l.name.String() + " (Race, 1 step, ",
			"copied 17 bytes from \\\\" + name + "\\" + l.share + "\\hello.txt to " + out,
		} {
			if !strings.Contains(stderr.String(), want) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), want)
			}
		}
		b, err := os.ReadFile(out)
		if err != nil || string(b) != "hello from samba\n" {
			t.Errorf("%s = %q, %v; want %q", out, b, err, "hello from samba\n")
		}
		t.Logf("smb %s: %s", strings.Join(args, " "), stderr.String())
	})
}

// TestInteropListener puts our session.Listener in front of Samba's port
// 445, relaying each session to it, and reads the share through it with
// go-smb2 over our Dialer: NetBIOS on both of our ends, Direct TCP to
// Samba, whose SMB2 large MTU READ responses (over 0x1FFFF bytes) cross
// with 24-bit lengths (Config.LongMessages).
func TestInteropListener(t *testing.T) {
	l := labEnv(t)
	ln, err := session.Listen("tcp4", "127.0.0.1:0", &session.ListenConfig{
		Decide: session.AcceptNames(l.name, session.SMBServer),
		Config: &session.Config{LongMessages: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()  // last: the relays end when the client's conn closes
	defer ln.Close() // ends the accept loop
	wg.Go(func() {
		for {
			c, err := ln.AcceptSession()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				up, err := net.DialTimeout("tcp4", net.JoinHostPort(l.host, "445"), 10*time.Second)
				if err != nil {
					t.Errorf("front: dial Samba's 445: %v", err)
					return
				}
				defer up.Close()
				done := make(chan struct{})
				go func() { io.Copy(up, c); up.(*net.TCPConn).CloseWrite(); close(done) }()
				io.Copy(c, up)
				c.NetConn().(*net.TCPConn).CloseWrite()
				<-done
			})
		}
	})

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	d := nbt.Dialer{Policy: nbt.PreSP5, Cache: nbt.NewNameCache(0), NameService: &nbns.Client{Timeout: 100 * time.Millisecond, Attempts: 1}}
	nc, err := d.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("nbt dial of our listener: %v", err)
	}
	defer nc.Close()
	if got := nc.(*nbt.Conn).CalledName(); got != session.SMBServer {
		t.Errorf("called %v, want *SMBSERVER<20>, which the listener accepts", got)
	}
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	sess, err := newSMBDialer(dialects[0], "", "").DialConn(ctx, nc, l.host)
	if err != nil {
		t.Fatalf("SMB guest logon through the listener: %v", err)
	}
	sess = sess.WithContext(ctx)
	defer sess.Logoff()
	share, err := sess.Mount(l.share)
	if err != nil {
		t.Fatalf("tree connect %s: %v", l.share, err)
	}
	share = share.WithContext(ctx)
	defer share.Umount()
	hello, err := share.ReadFile("hello.txt")
	if err != nil || string(hello) != "hello from samba\n" {
		t.Errorf("hello.txt = %q, %v; want %q", hello, err, "hello from samba\n")
	}
	big, err := share.ReadFile("big.bin")
	if err != nil {
		t.Fatalf("big.bin: %v", err)
	}
	checkBig(t, big)
}
