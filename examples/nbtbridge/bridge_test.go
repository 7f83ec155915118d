package main

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"regexp"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/netbios-go/netbios/nbt/nbttest"
	"github.com/netbios-go/netbios/session"
)

// TestBridgeIdle runs the bridge on an in-memory network in virtual time,
// with -idle 1m, in front of a NetBIOS server that echoes, or that reads
// and never answers (a dead peer): a client that goes quiet loses its
// session exactly a minute after the last byte either way, a client that
// stays busy keeps its session, a session whose server is dead ends a
// minute after the client's last byte reached it, and the bridge serves a
// new session afterwards.
func TestBridgeIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const delay = 5 * time.Millisecond
		n := nbttest.NewNetwork(delay)
		srv := nbttest.NewUnstartedServer(nbttest.HandlerFunc(func(session.Request) nbttest.Response {
			return nbttest.Response{Serve: func(c *session.Conn) {
				first, err := c.ReadMessage(nil)
				if err != nil {
					return
				}
				if string(first) == "dead" {
					io.Copy(io.Discard, c)
					return
				}
				c.WriteMessage(first)
				io.Copy(c, c) // echo
			}}
		}))
		srv.Network = n
		srv.Start()
		defer srv.Close()

		const listen = "198.18.1.1:4450"
		o, status := parseFlags([]string{"-listen", listen, "-to", srv.Addr.String(), "-idle", "1m", "-policy", "presp5", "-v"}, io.Discard)
		if status >= 0 {
			t.Fatalf("parseFlags: status %d", status)
		}
		inner, err := n.Listen("tcp4", listen)
		if err != nil {
			t.Fatal(err)
		}
		logs := &syncBuffer{}
		b := newBridge(o, inner, o.dialer(n.Dialer()), log.New(logs, "", 0))
		ctx, cancel := context.WithCancel(t.Context())
		served := make(chan error, 1)
		go func() { served <- b.serve(ctx) }()
		defer func() {
			cancel()
			if err := <-served; err != nil {
				t.Errorf("serve: %v", err)
			}
		}()

		dial := func(first string) net.Conn {
			t.Helper()
			c, err := n.Dialer().DialContext(ctx, "tcp4", listen)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Write(message([]byte(first))); err != nil {
				t.Fatal(err)
			}
			return c
		}
		expectEcho := func(c net.Conn, want string) time.Time {
			t.Helper()
			got := make([]byte, 4+len(want))
			if _, err := io.ReadFull(c, got); err != nil {
				t.Fatalf("reading the echo of %q: %v", want, err)
			}
			if d := cmp.Diff(message([]byte(want)), got); d != "" {
				t.Errorf("echo (-want +got):\n%s", d)
			}
			return time.Now()
		}
		expectEOF := func(c net.Conn, name string) time.Time {
			t.Helper()
			if n, err := c.Read(make([]byte, 1)); err != io.EOF {
				t.Errorf("%s: Read = %d, %v; want io.EOF", name, n, err)
			}
			return time.Now()
		}

		quiet := dial("quiet")
		defer quiet.Close()
		lastEcho := expectEcho(quiet, "quiet")
		quietEnded := make(chan time.Time, 1)
		go func() { quietEnded <- expectEOF(quiet, "the quiet client") }()

		dead := dial("dead")
		defer dead.Close()
		sentDead := time.Now()
		deadEnded := make(chan time.Time, 1)
		go func() { deadEnded <- expectEOF(dead, "the client of a dead server") }()

		busy := dial("busy")
		defer busy.Close()
		expectEcho(busy, "busy")
		tick := time.NewTicker(30 * time.Second)
		defer tick.Stop()
		for range 6 { // three minutes
			<-tick.C
			busy.Write(message([]byte("still here")))
			expectEcho(busy, "still here")
		}

		// The relay looks at the time every sixteenth of the minute, and
		// knows that a byte moved by the end of the sixteenth it moved
		// in: it ends a session 1m to 1m + 2/16 after the echo crossed it.
		// Its FIN reaches the client one delay later, as the echo did.
		late := 2 * time.Minute / idleTicks
		if got := (<-quietEnded).Sub(lastEcho); got < time.Minute || got > time.Minute+late {
			t.Errorf("the quiet client's session ended %v after its last echo, want 1m to %v", got, time.Minute+late)
		}
		// The client's message reached the bridge one delay after it was
		// sent; the bridge's dial took four more (the TCP handshake, the
		// session request and its answer) before the relay moved it on;
		// the bridge's FIN reached the client one delay after the minute.
		if got, want := (<-deadEnded).Sub(sentDead), time.Minute+6*delay; got < want || got > want+late {
			t.Errorf("the dead server's session ended %v after the client's last byte, want %v to %v", got, want, want+late)
		}
		fresh := dial("fresh")
		defer fresh.Close()
		expectEcho(fresh, "fresh")
		if !regexp.MustCompile(`(?m)^session 1 from .*: idle for 1m0s$`).MatchString(logs.String()) ||
			!regexp.MustCompile(`(?m)^session 2 from .*: idle for 1m0s$`).MatchString(logs.String()) {
			t.Errorf("the log does not report sessions 1 and 2 idle:\n%s", logs)
		}
	})
}

// TestBridgeDialFails: a server that refuses ends the client's session at
// once, and the bridge goes on serving.
func TestBridgeDialFails(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	addr, stderr := startBridge(t, "-direct", "-to", closed)
	for i := range 2 {
		c, err := net.Dial("tcp4", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c.Write(message([]byte("hello")))
		if n, err := c.Read(make([]byte, 1)); err != io.EOF && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
			t.Errorf("client %d: Read = %d, %v; want the connection closed", i, n, err)
		}
	}
	if !strings.Contains(stderr.String(), "connection refused") {
		t.Errorf("stderr does not report the refused dial:\n%s", stderr)
	}
}

// TestFlags checks the usage errors, which dial and listen nowhere.
func TestFlags(t *testing.T) {
	tests := []struct {
		args   []string
		status int
		stderr string // a regular expression
	}{
		{[]string{"-h"}, 0, `usage: nbtbridge -listen ADDR -to HOST\[:PORT\]`},
		{[]string{"-to", "192.0.2.1"}, 2, `-listen ADDR is required`},
		{[]string{"-listen", "127.0.0.1:0"}, 2, `-to HOST\[:PORT\] is required`},
		{[]string{"-listen", "127.0.0.1", "-to", "192.0.2.1"}, 2, `-listen "127.0.0.1": address 127.0.0.1: missing port`},
		{[]string{"-listen", "127.0.0.1:0", "-to", "192.0.2.1", "extra"}, 2, `unexpected arguments \["extra"\]`},
		{[]string{"-listen", "127.0.0.1:0", "-to", ":445"}, 2, `-to ":445": no host`},
		{[]string{"-listen", "127.0.0.1:0", "-to", "192.0.2.1:445", "-policy", "sp5"}, 2, `-policy is of no use with a Direct TCP -to 192.0.2.1:445`},
		{[]string{"-listen", "127.0.0.1:0", "-to", "192.0.2.1", "-direct", "-U", "192.0.2.5"}, 2, `-U is of no use with a Direct TCP -to 192.0.2.1:445`},
		{[]string{"-listen", "127.0.0.1:0", "-to", "192.0.2.1", "-policy", "nt5"}, 2, `invalid value "nt5" for flag -policy`},
		{[]string{"-listen", "127.0.0.1:0", "-to", "192.0.2.1", "-name", "MUCH-TOO-LONG-A-NAME"}, 2, `-name "MUCH-TOO-LONG-A-NAME": `},
		{[]string{"-listen", "127.0.0.1:0", "-to", "192.0.2.1", "-ns-port", "0"}, 2, `invalid -ns-port 0`},
		{[]string{"-listen", "127.0.0.1:0", "-to", "192.0.2.1", "-U", "::1"}, 2, `IPv6 address`},
		{[]string{"-listen", "127.0.0.1:0", "-to", "192.0.2.1", "-order", "wins"}, 2, `-order "wins" asks nothing`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stderr strings.Builder
			_, status := parseFlags(tt.args, &stderr)
			if status != tt.status || !regexp.MustCompile(tt.stderr).MatchString(stderr.String()) {
				t.Errorf("status %d, stderr:\n%s\nwant status %d, stderr matching %q", status, stderr.String(), tt.status, tt.stderr)
			}
		})
	}
}

// TestFlagsTransport checks which -to dials Direct TCP, and where.
func TestFlagsTransport(t *testing.T) {
	tests := []struct {
		args   []string
		direct bool
		to     string
	}{
		{[]string{"-to", "192.0.2.1"}, false, "192.0.2.1"},
		{[]string{"-to", "192.0.2.1:139"}, false, "192.0.2.1:139"},
		{[]string{"-to", "NAS01"}, false, "NAS01"},
		{[]string{"-to", "192.0.2.1:445"}, true, "192.0.2.1:445"},
		{[]string{"-to", "192.0.2.1:microsoft-ds"}, true, "192.0.2.1:microsoft-ds"},
		{[]string{"-to", "192.0.2.1", "-direct"}, true, "192.0.2.1:445"},
		{[]string{"-to", "192.0.2.1:1445", "-direct"}, true, "192.0.2.1:1445"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			o, status := parseFlags(append([]string{"-listen", "127.0.0.1:0"}, tt.args...), io.Discard)
			if status >= 0 {
				t.Fatalf("status %d", status)
			}
			if o.direct != tt.direct || o.to != tt.to {
				t.Errorf("direct %v, to %q; want %v, %q", o.direct, o.to, tt.direct, tt.to)
			}
		})
	}
}
