package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/nbt/nbttest"
)

// lab starts, on a new in-memory network with 1 ms of delay each way, a
// Samba host at 198.18.0.2 (LABSRV, MAC unknown) and a Windows host at
// 198.18.0.3 (WS1, user JDOE logged on), which answers 1 ms later, so that
// the answers come in that order.
func lab(t *testing.T) *nbttest.Network {
	n := nbttest.NewNetwork(time.Millisecond)
	u := func(name string, s nbns.Suffix) nbns.NodeName {
		return nbns.NodeName{Name: nbns.MustName(name, s), Flags: nbns.FlagActive | 0x6000}
	}
	g := func(name string, s nbns.Suffix) nbns.NodeName {
		return nbns.NodeName{Name: nbns.MustName(name, s), Flags: nbns.FlagActive | nbns.FlagGroup | 0x6000}
	}
	for _, setup := range []func(s *nbttest.Server){
		func(s *nbttest.Server) { s.Names = nbttest.Table("LABSRV", "LABGRP") },
		func(s *nbttest.Server) {
			s.Names = []nbns.NodeName{u("WS1", 0), g("CORP", 0), u("WS1", 0x20), u("WS1", 3), u("JDOE", 3), g("CORP", 0x1e)}
			s.Statistics.UnitID = [6]byte{0x00, 0x15, 0x5d, 0x01, 0x23, 0x08}
			s.NameDelay = time.Millisecond
		},
	} {
		s := nbttest.NewUnstartedServer(nil)
		s.Network = n
		setup(s)
		s.Start()
		t.Cleanup(s.Close)
	}
	return n
}

const (
	labsrvLine = "198.18.0.2       LABSRV           <server>  LABSRV           00:00:00:00:00:00\n"
	ws1Line    = "198.18.0.3       WS1              <server>  JDOE             00:15:5d:01:23:08\n"
)

func TestNbtscan(t *testing.T) {
	dir := t.TempDir()
	list := filepath.Join(dir, "list")
	if err := os.WriteFile(list, []byte("# the lab\n198.18.0.2\n\n198.18.0.3-4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("198.18.0.2\n198.18.0.300\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		stdin      string
		cancelAt   time.Duration // cancel the scan then; 0: never
		wantOut    string
		wantErr    string // a prefix of standard error
		wantStatus int
		wantTook   time.Duration
	}{
		{
			// 300 queries a second, 4 at once, retransmissions first:
			// the last target is first asked 9 intervals of the rate in,
			// and given up a second later.
			name:     "default",
			args:     []string{"198.18.0.0/29"},
			wantOut:  header + labsrvLine + ws1Line,
			wantTook: time.Second + 9*(time.Second/300),
		},
		{
			name:     "no fixed rate",
			args:     []string{"-rate", "0", "198.18.0.0/29"},
			wantOut:  header + labsrvLine + ws1Line,
			wantTook: time.Second,
		},
		{
			name:     "quiet",
			args:     []string{"-q", "198.18.0.2", "198.18.0.3"},
			wantOut:  labsrvLine + ws1Line,
			wantTook: 3 * time.Millisecond,
		},
		{
			name:     "range",
			args:     []string{"-q", "198.18.0.3-4"},
			wantOut:  ws1Line,
			wantTook: time.Second,
		},
		{
			name: "verbose",
			args: []string{"-v", "198.18.0.2"},
			wantOut: "Doing NBT name scan for addresses from 198.18.0.2\n" +
				"\nNetBIOS Name Table for Host 198.18.0.2:\n" +
				"\nName             Service          Type\n" +
				"----------------------------------------\n" +
				"LABSRV           <00>             UNIQUE\n" +
				"LABSRV           <03>             UNIQUE\n" +
				"LABSRV           <20>             UNIQUE\n" +
				"LABGRP           <00>             GROUP\n" +
				"LABGRP           <1e>             GROUP\n" +
				"\nAdapter address: 00:00:00:00:00:00\n" +
				"----------------------------------------\n",
			wantTook: 2 * time.Millisecond,
		},
		{
			name: "quiet verbose",
			args: []string{"-q", "-v", "198.18.0.3"},
			wantOut: "198.18.0.3       WS1              <00> UNIQUE H <ACTIVE>\n" +
				"198.18.0.3       CORP             <00> GROUP  H <ACTIVE>\n" +
				"198.18.0.3       WS1              <20> UNIQUE H <ACTIVE>\n" +
				"198.18.0.3       WS1              <03> UNIQUE H <ACTIVE>\n" +
				"198.18.0.3       JDOE             <03> UNIQUE H <ACTIVE>\n" +
				"198.18.0.3       CORP             <1e> GROUP  H <ACTIVE>\n" +
				"198.18.0.3       MAC 00:15:5d:01:23:08\n",
			wantTook: 3 * time.Millisecond,
		},
		{
			name: "json",
			args: []string{"-json", "198.18.0.2", "198.18.0.3"},
			wantOut: `{"ip":"198.18.0.2","responder":"198.18.0.2:137","rtt_ms":2,"sent":1,"computer":"LABSRV<00>","server":"LABSRV<20>","user":"LABSRV<03>","workgroup":"LABGRP<00>","names":[` +
				`{"name":"LABSRV<00>","group":false,"flags":"B <ACTIVE>"},{"name":"LABSRV<03>","group":false,"flags":"B <ACTIVE>"},` +
				`{"name":"LABSRV<20>","group":false,"flags":"B <ACTIVE>"},{"name":"LABGRP<00>","group":true,"flags":"B <ACTIVE>"},` +
				`{"name":"LABGRP<1E>","group":true,"flags":"B <ACTIVE>"}]}` + "\n" +
				`{"ip":"198.18.0.3","responder":"198.18.0.3:137","rtt_ms":3,"sent":1,"computer":"WS1<00>","server":"WS1<20>","user":"JDOE<03>","workgroup":"CORP<00>","mac":"00:15:5d:01:23:08","names":[` +
				`{"name":"WS1<00>","group":false,"flags":"H <ACTIVE>"},{"name":"CORP<00>","group":true,"flags":"H <ACTIVE>"},` +
				`{"name":"WS1<20>","group":false,"flags":"H <ACTIVE>"},{"name":"WS1<03>","group":false,"flags":"H <ACTIVE>"},` +
				`{"name":"JDOE<03>","group":false,"flags":"H <ACTIVE>"},{"name":"CORP<1E>","group":true,"flags":"H <ACTIVE>"}]}` + "\n",
			wantTook: 3 * time.Millisecond,
		},
		{
			// A silent target with no retransmission: one query.
			name:     "stats",
			args:     []string{"-q", "-stats", "-retries", "0", "-rate", "0", "-window", "0", "198.18.0.2", "198.18.0.9"},
			wantOut:  labsrvLine,
			wantErr:  "stats targets=2 answered=1 aliases=0 silent=1 sent=2 retransmissions=0 send_errors=0 received=1 ignored=0 duplicates=0 elapsed=1s",
			wantTook: time.Second,
		},
		{
			// No answer timed: the RTO is 250 ms, and a retransmission
			// then can be answered within 600 ms.
			name:     "timeout",
			args:     []string{"-q", "-stats", "-timeout", "600ms", "-retries", "1", "198.18.0.9"},
			wantErr:  "stats targets=1 answered=0 aliases=0 silent=1 sent=2 retransmissions=1 ",
			wantTook: 600 * time.Millisecond,
		},
		{
			name:     "file",
			args:     []string{"-q", "-f", list},
			wantOut:  labsrvLine + ws1Line,
			wantTook: time.Second,
		},
		{
			name:     "file and targets",
			args:     []string{"-q", "-f", list, "198.18.0.2"},
			wantOut:  labsrvLine + labsrvLine + ws1Line, // the arguments first
			wantTook: time.Second,
		},
		{
			name:       "bad line in a file: nothing scanned",
			args:       []string{"-q", "-f", bad},
			wantErr:    "nbtscan: " + bad + `:2: invalid target "198.18.0.300": want an IPv4 address`,
			wantStatus: 2,
		},
		{
			name:       "bad line on standard input: reported, the rest scanned",
			args:       []string{"-q", "-f", "-"},
			stdin:      "198.18.0.300\n198.18.0.2\n",
			wantOut:    labsrvLine,
			wantErr:    `nbtscan: standard input:1: invalid target "198.18.0.300"`,
			wantStatus: 2,
			wantTook:   2 * time.Millisecond,
		},
		{
			name:       "interrupted",
			args:       []string{"-q", "198.18.0.9", "198.18.0.2"},
			cancelAt:   100 * time.Millisecond,
			wantOut:    labsrvLine,
			wantErr:    "nbtscan: interrupted",
			wantStatus: 130,
			wantTook:   100 * time.Millisecond,
		},
		{name: "no targets", args: []string{"-q"}, wantErr: "nbtscan: no targets", wantStatus: 2},
		{name: "IPv6", args: []string{"::1"}, wantErr: `nbtscan: invalid target "::1": not an IPv4 address`, wantStatus: 2},
		{name: "bad range", args: []string{"198.18.0.9-1"}, wantErr: "nbtscan: invalid target", wantStatus: 2},
		{name: "flag after a target", args: []string{"198.18.0.2", "-q"}, wantErr: `nbtscan: "-q" after a target`, wantStatus: 2},
		{name: "negative rate", args: []string{"-rate", "-1", "198.18.0.2"}, wantErr: "nbtscan: invalid -rate -1", wantStatus: 2},
		{name: "zero timeout", args: []string{"-timeout", "0s", "198.18.0.2"}, wantErr: "nbtscan: invalid -timeout 0s", wantStatus: 2},
		{name: "bad retries", args: []string{"-retries", "many", "198.18.0.2"}, wantErr: `invalid value "many" for flag -retries`, wantStatus: 2},
		{name: "json and verbose", args: []string{"-json", "-v", "198.18.0.2"}, wantErr: "nbtscan: -json already lists", wantStatus: 2},
		{name: "missing file", args: []string{"-f", filepath.Join(dir, "none")}, wantErr: "nbtscan: open ", wantStatus: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := lab(t)
				ctx := t.Context()
				if tt.cancelAt > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithCancel(ctx)
					time.AfterFunc(tt.cancelAt, cancel)
				}
				var stdout, stderr bytes.Buffer
				start := time.Now()
				status := run(ctx, tt.args, &env{stdin: strings.NewReader(tt.stdin), stdout: &stdout, stderr: &stderr, listener: n.Listener()})
				took := time.Since(start)
				if status != tt.wantStatus {
					t.Errorf("status %d, want %d; stderr:\n%s", status, tt.wantStatus, stderr.String())
				}
				if diff := cmp.Diff(tt.wantOut, stdout.String()); diff != "" {
					t.Errorf("standard output (-want +got):\n%s", diff)
				}
				if !strings.HasPrefix(stderr.String(), tt.wantErr) || tt.wantErr == "" && stderr.Len() > 0 {
					t.Errorf("standard error %q, want it to start with %q", stderr.String(), tt.wantErr)
				}
				if took != tt.wantTook {
					t.Errorf("took %v, want %v", took, tt.wantTook)
				}
			})
		})
	}
}

// TestNbtscanProgress checks the progress line: on a terminal only, not
// with -q, and erased at the end.
func TestNbtscanProgress(t *testing.T) {
	for _, tt := range []struct {
		name     string
		args     []string
		terminal bool
		want     bool
	}{
		{"terminal", []string{"198.18.0.0/28"}, true, true},
		{"not a terminal", []string{"198.18.0.0/28"}, false, false},
		{"quiet", []string{"-q", "198.18.0.0/28"}, true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := lab(t)
				var stdout, stderr bytes.Buffer
				run(t.Context(), tt.args, &env{stdout: &stdout, stderr: &stderr, listener: n.Listener(), terminal: tt.terminal})
				got := stderr.String()
				if !tt.want {
					if got != "" {
						t.Errorf("standard error %q, want nothing", got)
					}
					return
				}
				// Progress every 100 ms of the 1-s scan, then a line of
				// spaces that erases it.
				if !strings.Contains(got, "\rsent 34, answered 2, in flight 8, 340/s, at most 1s left") {
					t.Errorf("no progress line in %q", got)
				}
				if erase := "\r" + strings.Repeat(" ", 72) + "\r"; !strings.HasSuffix(got, erase) {
					t.Errorf("standard error %q does not end by erasing the line", got)
				}
			})
		})
	}
}
