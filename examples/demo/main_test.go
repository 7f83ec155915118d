package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestDemo checks every column of the demo's table but the time.
func TestDemo(t *testing.T) {
	var buf bytes.Buffer
	if err := run(&buf); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", buf.String())
	var got []string
	for line := range strings.Lines(buf.String()) {
		cols := strings.Split(strings.TrimSpace(line), "  ")
		var kept []string
		for _, c := range cols {
			if c = strings.TrimSpace(c); c != "" {
				kept = append(kept, c)
			}
		}
		got = append(got, strings.Join(kept[:len(kept)-1], " | ")) // drop TIME
	}
	want := []string{
		"CASE | POLICY | OUTCOME | STEPS",
		"accepts *SMBSERVER | PreSP5 | connected *SMBSERVER<20> | *SMBSERVER<20> positive",
		"accepts *SMBSERVER | SP5 | connected NBTTEST<20> | node status -> NBTTEST<20> positive",
		"refuses *SMBSERVER | PreSP5 | connected NBTTEST<20> | *SMBSERVER<20> refused 0x82 -> node status -> NBTTEST<20> positive",
		"refuses *SMBSERVER | SP5 | connected NBTTEST<20> | node status -> NBTTEST<20> positive",
		"UDP 137 dropped | PreSP5 | connected *SMBSERVER<20> | *SMBSERVER<20> positive",
		"UDP 137 dropped | SP5 | failed | node status: no answer",
		"UDP 137 rejected | PreSP5 | connected *SMBSERVER<20> | *SMBSERVER<20> positive",
		"UDP 137 rejected | SP5 | failed | node status: port unreachable",
		"refuses *SMBSERVER, UDP 137 dropped | PreSP5 | failed | *SMBSERVER<20> refused 0x82 -> node status: no answer",
		"refuses *SMBSERVER, UDP 137 dropped | SP5 | failed | node status: no answer",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("demo table (-want +got):\n%s", diff)
	}
}
