package main

import (
	"bytes"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/nbt/nbttest"
)

func start(t *testing.T, setup func(*nbttest.Server)) *nbttest.Server {
	s := nbttest.NewUnstartedServer(nil)
	s.Names = nbttest.Table("LABSRV", "LABGRP")
	setup(s)
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// jsonName is one object of the names array, as nbtstat -json prints it.
func jsonName(name string, suffix int, group bool, nodeType string) string {
	return `      {
        "name": "` + name + `",
        "suffix": ` + strconv.Itoa(suffix) + `,
        "group": ` + strconv.FormatBool(group) + `,
        "node_type": "` + nodeType + `",
        "active": true
      }`
}

func TestNbtstat(t *testing.T) {
	samba := start(t, func(*nbttest.Server) {})
	windows := start(t, func(s *nbttest.Server) {
		s.Statistics.UnitID = [6]byte{0x00, 0x15, 0x5d, 0x01, 0x23, 0x08}
		s.Names = append(s.Names, nbns.NodeName{Name: nbns.MustName("\x01\x02__MSBROWSE__\x02", nbns.Browse), Flags: nbns.FlagGroup | nbns.FlagActive | 0x2000})
	})
	dropped := start(t, func(s *nbttest.Server) { s.NameService = nbttest.DropQueries })
	rejected := start(t, func(s *nbttest.Server) { s.NameService = nbttest.RejectQueries })

	sambaTable := "\tLABSRV<00>           UNIQUE  B <ACTIVE>\n" +
		"\tLABSRV<03>           UNIQUE  B <ACTIVE>\n" +
		"\tLABSRV<20>           UNIQUE  B <ACTIVE>\n" +
		"\tLABGRP<00>           GROUP   B <ACTIVE>\n" +
		"\tLABGRP<1E>           GROUP   B <ACTIVE>\n"
	tests := []struct {
		name       string
		s          *nbttest.Server
		args       []string // flags; "$PORT" is the server's UDP port
		target     string   // "$PORT" as in args; empty means 127.0.0.1
		wantStatus int
		wantOut    string
		wantErr    string // a prefix; "$PORT" as in args
	}{
		{
			name: "samba", s: samba,
			wantOut: "Looking up status of 127.0.0.1\n" + sambaTable + "\tMAC Address = unknown\n\n",
		},
		{
			name: "windows", s: windows,
			wantOut: "Looking up status of 127.0.0.1\n" + sambaTable +
				"\t\\x01\\x02__MSBROWSE__\\x02<01> GROUP   P <ACTIVE>\n" +
				"\tMAC Address = 00-15-5D-01-23-08\n\n",
		},
		{
			// The names print as they do in the table, with < and >, not
			// \u003c and \u003e (issue 11, defect 7).
			name: "json", s: windows, args: []string{"-json"},
			wantOut: `[
  {
    "host": "127.0.0.1",
    "names": [
` + strings.Join([]string{
				jsonName("LABSRV<00>", 0x00, false, "B"),
				jsonName("LABSRV<03>", 0x03, false, "B"),
				jsonName("LABSRV<20>", 0x20, false, "B"),
				jsonName("LABGRP<00>", 0x00, true, "B"),
				jsonName("LABGRP<1E>", 0x1E, true, "B"),
				jsonName(`\\x01\\x02__MSBROWSE__\\x02<01>`, 0x01, true, "P"),
			}, ",\n") + `
    ],
    "mac": "00-15-5D-01-23-08"
  }
]
`,
		},
		{
			name: "json, no answer", s: dropped, args: []string{"-json"}, wantStatus: 1,
			wantOut: "[]\n", wantErr: "nbtstat: 127.0.0.1: no answer to node status (UDP $PORT filtered",
		},
		{
			name: "port in target", s: samba, args: []string{"-port", "1"}, target: "127.0.0.1:$PORT",
			wantOut: "Looking up status of 127.0.0.1:$PORT\n" + sambaTable + "\tMAC Address = unknown\n\n",
		},
		{
			name: "IPv4-mapped", s: samba, target: "::ffff:127.0.0.1",
			wantOut: "Looking up status of ::ffff:127.0.0.1\n" + sambaTable + "\tMAC Address = unknown\n\n",
		},
		// The error names the port queried, not always 137.
		{name: "dropped", s: dropped, wantStatus: 1, wantErr: "nbtstat: 127.0.0.1: no answer to node status (UDP $PORT filtered, host down"},
		{name: "rejected", s: rejected, wantStatus: 1, wantErr: "nbtstat: 127.0.0.1: UDP $PORT is closed (ICMP port unreachable)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port := strconv.Itoa(int(tt.s.NameAddr.Port()))
			args := []string{"-port", port, "-timeout", "50ms", "-attempts", "2"}
			for _, a := range tt.args {
				args = append(args, strings.ReplaceAll(a, "$PORT", port))
			}
			target := "127.0.0.1"
			if tt.target != "" {
				target = strings.ReplaceAll(tt.target, "$PORT", port)
			}
			var stdout, stderr bytes.Buffer
			status := run(t.Context(), append(args, target), &stdout, &stderr)
			if status != tt.wantStatus {
				t.Errorf("status %d, want %d; stderr %s", status, tt.wantStatus, stderr.String())
			}
			if diff := cmp.Diff(strings.ReplaceAll(tt.wantOut, "$PORT", port), stdout.String()); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			wantErr := strings.ReplaceAll(tt.wantErr, "$PORT", port)
			if !strings.HasPrefix(stderr.String(), wantErr) || (wantErr == "") != (stderr.Len() == 0) {
				t.Errorf("stderr %q, want it to start with %q", stderr.String(), wantErr)
			}
		})
	}
}

// TestNbtstatArgs checks the errors for malformed flags and targets, which
// are found before any query: no test here sends a datagram or looks up a
// name.
func TestNbtstatArgs(t *testing.T) {
	long := strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 63)
	tests := []struct {
		name       string
		args       []string
		wantStatus int
		wantErr    string // all of stderr, or its first line when it is the usage
	}{
		{name: "no args", wantStatus: 2, wantErr: "usage: nbtstat [flags] HOST[:PORT]..."},
		{name: "help", args: []string{"-h"}, wantStatus: 0, wantErr: "usage: nbtstat [flags] HOST[:PORT]..."},
		{name: "bad flag", args: []string{"-bogus", "127.0.0.1"}, wantStatus: 2, wantErr: "flag provided but not defined: -bogus"},
		{name: "port 0", args: []string{"-port", "0", "127.0.0.1"}, wantStatus: 2, wantErr: "nbtstat: invalid -port 0: want 1 to 65535\n"},
		{name: "port too big", args: []string{"-port", "65536", "127.0.0.1"}, wantStatus: 2, wantErr: "nbtstat: invalid -port 65536: want 1 to 65535\n"},
		{name: "negative timeout", args: []string{"-timeout", "-1s", "127.0.0.1"}, wantStatus: 2, wantErr: "nbtstat: invalid -timeout -1s: must not be negative\n"},
		{name: "port out of range", args: []string{"127.0.0.1:99999"}, wantStatus: 2, wantErr: "nbtstat: invalid port \"99999\" in \"127.0.0.1:99999\"\n"},
		{name: "port 0 in target", args: []string{"127.0.0.1:0"}, wantStatus: 2, wantErr: "nbtstat: invalid port \"0\" in \"127.0.0.1:0\"\n"},
		{name: "negative port", args: []string{"127.0.0.1:-1"}, wantStatus: 2, wantErr: "nbtstat: invalid port \"-1\" in \"127.0.0.1:-1\"\n"},
		{name: "unknown service", args: []string{"127.0.0.1:no-such-service"}, wantStatus: 2, wantErr: "nbtstat: unknown port \"no-such-service\" (not a number, nor a UDP service name) in \"127.0.0.1:no-such-service\"\n"},
		{name: "empty port", args: []string{"127.0.0.1:"}, wantStatus: 2, wantErr: "nbtstat: missing port after the colon in \"127.0.0.1:\"\n"},
		{name: "empty", args: []string{""}, wantStatus: 2, wantErr: "nbtstat: missing host in \"\"\n"},
		{name: "port only", args: []string{":137"}, wantStatus: 2, wantErr: "nbtstat: missing host in \":137\"\n"},
		{name: "empty brackets", args: []string{"[]:137"}, wantStatus: 2, wantErr: "nbtstat: missing host in \"[]:137\"\n"},
		{name: "IPv6", args: []string{"::1"}, wantStatus: 2, wantErr: "nbtstat: ::1 is an IPv6 address: NetBIOS is IPv4 only (RFC 1001/1002)\n"},
		{name: "IPv6 in brackets", args: []string{"[::1]"}, wantStatus: 2, wantErr: "nbtstat: ::1 is an IPv6 address: NetBIOS is IPv4 only (RFC 1001/1002)\n"},
		{name: "IPv6 with port", args: []string{"[fe80::1%eth0]:137"}, wantStatus: 2, wantErr: "nbtstat: fe80::1%eth0 is an IPv6 address: NetBIOS is IPv4 only (RFC 1001/1002)\n"},
		{name: "missing bracket", args: []string{"[::1:137"}, wantStatus: 2, wantErr: "nbtstat: invalid HOST[:PORT] \"[::1:137\": missing ']' in address\n"},
		{name: "too many colons", args: []string{"host:1:2"}, wantStatus: 2, wantErr: "nbtstat: invalid HOST[:PORT] \"host:1:2\": too many colons in address\n"},
		{name: "name too long", args: []string{long + ".e"}, wantStatus: 2, wantErr: "nbtstat: host name too long: 257 bytes, at most 253\n"},
		{name: "label too long", args: []string{strings.Repeat("x", 64) + ".example"}, wantStatus: 2, wantErr: "nbtstat: host name label \"" + strings.Repeat("x", 64) + "\" too long: 64 bytes, at most 63\n"},
		{name: "flag after host", args: []string{"127.0.0.1", "-json"}, wantStatus: 2, wantErr: "nbtstat: \"-json\" after HOST: flags go before the hosts\n"},
		{
			name: "every bad target, no query", args: []string{"127.0.0.1:99999", "::1"}, wantStatus: 2,
			wantErr: "nbtstat: invalid port \"99999\" in \"127.0.0.1:99999\"\n" +
				"nbtstat: ::1 is an IPv6 address: NetBIOS is IPv4 only (RFC 1001/1002)\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			status := run(t.Context(), tt.args, &stdout, &stderr)
			if status != tt.wantStatus {
				t.Errorf("status %d, want %d", status, tt.wantStatus)
			}
			got := stderr.String()
			if strings.HasPrefix(tt.wantErr, "usage:") || strings.HasPrefix(tt.wantErr, "flag ") {
				got, _, _ = strings.Cut(got, "\n")
			}
			if diff := cmp.Diff(tt.wantErr, got); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
		})
	}
}

func TestParseTarget(t *testing.T) {
	tests := []struct {
		arg      string
		wantIP   string
		wantHost string
		wantPort uint16
	}{
		{arg: "127.0.0.1", wantIP: "127.0.0.1", wantPort: 137},
		{arg: "127.0.0.1:1137", wantIP: "127.0.0.1", wantPort: 1137},
		{arg: "127.0.0.1:netbios-ns", wantIP: "127.0.0.1", wantPort: 137}, // a service name, as net reads it
		{arg: "[127.0.0.1]:138", wantIP: "127.0.0.1", wantPort: 138},
		{arg: "::ffff:127.0.0.1", wantIP: "127.0.0.1", wantPort: 137},
		{arg: "[::ffff:127.0.0.2]:5000", wantIP: "127.0.0.2", wantPort: 5000},
		{arg: "labsrv", wantHost: "labsrv", wantPort: 137},
		{arg: "labsrv.example.:netbios-ns", wantHost: "labsrv.example.", wantPort: 137},
	}
	for _, tt := range tests {
		t.Run(tt.arg, func(t *testing.T) {
			got, err := parseTarget(t.Context(), tt.arg, nbns.Port)
			if err != nil {
				t.Fatal(err)
			}
			want := target{arg: tt.arg, host: tt.wantHost, port: tt.wantPort}
			if tt.wantIP != "" {
				want.ip = netip.MustParseAddr(tt.wantIP)
			}
			if diff := cmp.Diff(want, got, cmp.AllowUnexported(target{}), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("parseTarget(%q) (-want +got):\n%s", tt.arg, diff)
			}
		})
	}
}
