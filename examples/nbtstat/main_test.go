package main

import (
	"bytes"
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

func TestNbtstat(t *testing.T) {
	samba := start(t, func(*nbttest.Server) {})
	windows := start(t, func(s *nbttest.Server) {
		s.Statistics.UnitID = [6]byte{0x00, 0x15, 0x5d, 0x01, 0x23, 0x08}
		s.Names = append(s.Names, nbns.NodeName{Name: nbns.MustName("\x01\x02__MSBROWSE__\x02", nbns.Browse), Flags: nbns.FlagGroup | nbns.FlagActive | 0x2000})
	})
	dropped := start(t, func(s *nbttest.Server) { s.NameService = nbttest.DropQueries })
	rejected := start(t, func(s *nbttest.Server) { s.NameService = nbttest.RejectQueries })

	tests := []struct {
		name       string
		s          *nbttest.Server
		json       bool
		wantStatus int
		wantOut    string
		wantErr    string
	}{
		{
			name: "samba", s: samba,
			wantOut: "Looking up status of 127.0.0.1\n" +
				"\tLABSRV<00>           UNIQUE  B <ACTIVE>\n" +
				"\tLABSRV<03>           UNIQUE  B <ACTIVE>\n" +
				"\tLABSRV<20>           UNIQUE  B <ACTIVE>\n" +
				"\tLABGRP<00>           GROUP   B <ACTIVE>\n" +
				"\tLABGRP<1E>           GROUP   B <ACTIVE>\n" +
				"\tMAC Address = unknown\n\n",
		},
		{
			name: "windows", s: windows,
			wantOut: "Looking up status of 127.0.0.1\n" +
				"\tLABSRV<00>           UNIQUE  B <ACTIVE>\n" +
				"\tLABSRV<03>           UNIQUE  B <ACTIVE>\n" +
				"\tLABSRV<20>           UNIQUE  B <ACTIVE>\n" +
				"\tLABGRP<00>           GROUP   B <ACTIVE>\n" +
				"\tLABGRP<1E>           GROUP   B <ACTIVE>\n" +
				"\t\\x01\\x02__MSBROWSE__\\x02<01> GROUP   P <ACTIVE>\n" +
				"\tMAC Address = 00-15-5D-01-23-08\n\n",
		},
		{
			name: "json", s: windows, json: true,
			wantOut: `"name": "\\x01\\x02__MSBROWSE__\\x02\u003c01\u003e",`,
		},
		{name: "dropped", s: dropped, wantStatus: 1, wantErr: "nbtstat: 127.0.0.1: no answer to node status"},
		{name: "rejected", s: rejected, wantStatus: 1, wantErr: "nbtstat: 127.0.0.1: UDP 137 is closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"-port", strconv.Itoa(int(tt.s.NameAddr.Port())), "-timeout", "50ms", "-attempts", "2"}
			if tt.json {
				args = append(args, "-json")
			}
			var stdout, stderr bytes.Buffer
			status := run(t.Context(), append(args, "127.0.0.1"), &stdout, &stderr)
			if status != tt.wantStatus {
				t.Errorf("status %d, want %d; stderr %s", status, tt.wantStatus, stderr.String())
			}
			if tt.json {
				if !strings.Contains(stdout.String(), tt.wantOut) || !strings.Contains(stdout.String(), `"mac": "00-15-5D-01-23-08"`) {
					t.Errorf("json output lacks %s:\n%s", tt.wantOut, stdout.String())
				}
			} else if diff := cmp.Diff(tt.wantOut, stdout.String()); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			if !strings.HasPrefix(stderr.String(), tt.wantErr) || (tt.wantErr == "") != (stderr.Len() == 0) {
				t.Errorf("stderr %q, want it to start with %q", stderr.String(), tt.wantErr)
			}
		})
	}
}

func TestNbtstatUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if status := run(t.Context(), nil, &stdout, &stderr); status != 2 || !strings.Contains(stderr.String(), "usage: nbtstat") {
		t.Errorf("no args: status %d, stderr %q", status, stderr.String())
	}
}
