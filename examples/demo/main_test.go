package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// TestDemo checks every row of the demo's table. It runs in real time, so
// where a Race dial's choice depends on whether node status answered within
// the grace, its rows allow either outcome.
func TestDemo(t *testing.T) {
	var buf bytes.Buffer
	if err := run(&buf); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", buf.String())
	var got []string
	for line := range strings.Lines(buf.String()) {
		var kept []string
		for c := range strings.SplitSeq(strings.TrimSpace(line), "  ") {
			if c = strings.TrimSpace(c); c != "" {
				kept = append(kept, c)
			}
		}
		got = append(got, strings.Join(kept[:len(kept)-1], " | ")) // drop TIME
	}
	want := []string{
		`CASE \| POLICY \| OUTCOME \| STEPS \| CONNS`,
		`accepts \*SMBSERVER \| Race \| connected (\*SMBSERVER|NBTTEST)<20> \| .*positive.* \| 1`,
		`accepts \*SMBSERVER \| PreSP5 \| connected \*SMBSERVER<20> \| \*SMBSERVER<20> positive \| 1`,
		`accepts \*SMBSERVER \| SP5 \| connected NBTTEST<20> \| node status -> NBTTEST<20> positive \| 1`,
		`refuses \*SMBSERVER \| Race \| connected NBTTEST<20> \| .*NBTTEST<20> positive.* \| [12]`,
		`refuses \*SMBSERVER \| PreSP5 \| connected NBTTEST<20> \| \*SMBSERVER<20> refused 0x82 -> node status -> NBTTEST<20> positive \| 2`,
		`refuses \*SMBSERVER \| SP5 \| connected NBTTEST<20> \| node status -> NBTTEST<20> positive \| 1`,
		`UDP 137 dropped \| Race \| connected \*SMBSERVER<20> \| \*SMBSERVER<20> positive -> node status: abandoned \| 1`,
		`UDP 137 dropped \| PreSP5 \| connected \*SMBSERVER<20> \| \*SMBSERVER<20> positive \| 1`,
		`UDP 137 dropped \| SP5 \| failed \| node status: no answer \| 0`,
		`UDP 137 rejected \| Race \| connected \*SMBSERVER<20> \| node status: port unreachable -> \*SMBSERVER<20> positive \| 1`,
		`UDP 137 rejected \| PreSP5 \| connected \*SMBSERVER<20> \| \*SMBSERVER<20> positive \| 1`,
		`UDP 137 rejected \| SP5 \| failed \| node status: port unreachable \| 0`,
		`refuses \*SMBSERVER, UDP 137 dropped \| Race \| failed \| \*SMBSERVER<20> refused 0x82 -> node status: no answer \| 2`,
		`refuses \*SMBSERVER, UDP 137 dropped \| PreSP5 \| failed \| \*SMBSERVER<20> refused 0x82 -> node status: no answer \| 1`,
		`refuses \*SMBSERVER, UDP 137 dropped \| SP5 \| failed \| node status: no answer \| 0`,
	}
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	for i, re := range want {
		if !regexp.MustCompile("^" + re + "$").MatchString(got[i]) {
			t.Errorf("row %d:\n got  %s\n want %s", i, got[i], re)
		}
	}
}
