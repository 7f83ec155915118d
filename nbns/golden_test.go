package nbns

// The one reader of the golden captures in testdata/*.hex, used by every
// test of the package; fuzz_test.go (package nbns_test) calls it as ReadFlows.

import (
	"encoding/hex"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// ReadFlows reads the golden capture at path and returns its packets in
// order. It fails tb unless the file is exactly what capture-samba.sh
// writes: for each packet a ">>> Flow N (client to server)" or ">>> Flow N
// (server to client)" line, N counting from 1, then the packet's bytes in
// [hex.Dump] form, dumping back to the very same text; no other line, no
// empty flow.
//
// It exists only in test builds, exported so that the external test
// package reads the captures the same way.
func ReadFlows(tb testing.TB, path string) [][]byte {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	flows, err := parseFlows(string(data))
	if err != nil {
		tb.Fatalf("%s:%v", path, err)
	}
	return flows
}

// flowError reports the line of a golden file that is wrong.
type flowError struct {
	line int // 1-based
	text string
	err  string
}

func (e *flowError) Error() string {
	return strconv.Itoa(e.line) + ": " + e.err + ": " + strconv.Quote(e.text)
}

// parseFlows parses a golden file; see ReadFlows.
func parseFlows(data string) ([][]byte, error) {
	var flows [][]byte
	var dump strings.Builder // the current flow's lines
	headerLine := 0          // of the current flow
	end := func() error {
		if len(flows) == 0 {
			return nil
		}
		f := flows[len(flows)-1]
		switch {
		case len(f) == 0:
			return &flowError{headerLine, "", "flow " + strconv.Itoa(len(flows)) + " is empty"}
		case hex.Dump(f) != dump.String():
			return &flowError{headerLine, "", "flow " + strconv.Itoa(len(flows)) + " does not hex.Dump back to its text"}
		}
		return nil
	}
	n := 0
	for line := range strings.Lines(data) {
		n++
		if strings.HasPrefix(line, ">") {
			if err := end(); err != nil {
				return nil, err
			}
			if !isFlowHeader(line, len(flows)+1) {
				return nil, &flowError{n, line, "want \">>> Flow " + strconv.Itoa(len(flows)+1) + " (client to server)\" or (server to client)"}
			}
			flows = append(flows, []byte{})
			dump.Reset()
			headerLine = n
			continue
		}
		if len(flows) == 0 {
			return nil, &flowError{n, line, "want a flow header first"}
		}
		f := &flows[len(flows)-1]
		b, err := parseDumpLine(line, len(*f))
		if err != nil {
			return nil, &flowError{n, line, err.Error()}
		}
		*f = append(*f, b...)
		dump.WriteString(line)
	}
	if len(flows) == 0 {
		return nil, &flowError{n, "", "no flows"}
	}
	if err := end(); err != nil {
		return nil, err
	}
	return flows, nil
}

// isFlowHeader reports whether line is the header of flow n.
func isFlowHeader(line string, n int) bool {
	rest, ok := strings.CutPrefix(line, ">>> Flow "+strconv.Itoa(n)+" ")
	return ok && (rest == "(client to server)\n" || rest == "(server to client)\n")
}

// parseDumpLine returns the bytes of one hex.Dump line, which must start
// at offset off: "00000010  41 41 ...  41 41  |AAAA|\n". The exact layout
// is checked when the whole flow is dumped back.
func parseDumpLine(line string, off int) ([]byte, error) {
	const offLen = 8
	if len(line) < offLen+2 || !strings.HasSuffix(line, "|\n") {
		return nil, errors.New("not a hex.Dump line")
	}
	want := strconv.FormatInt(int64(off), 16)
	want = strings.Repeat("0", offLen-len(want)) + want
	if line[:offLen] != want || line[offLen:offLen+2] != "  " {
		return nil, errors.New("want a hex.Dump line at offset " + want)
	}
	hexPart, _, ok := strings.Cut(line[offLen+2:], "|")
	if !ok {
		return nil, errors.New("no text column")
	}
	var b []byte
	for _, field := range strings.Fields(hexPart) {
		v, err := hex.DecodeString(field)
		if err != nil || len(v) != 1 {
			return nil, errors.New("bad byte " + strconv.Quote(field))
		}
		b = append(b, v[0])
	}
	if len(b) == 0 || len(b) > 16 {
		return nil, errors.New("want 1 to 16 bytes")
	}
	return b, nil
}

// TestReadFlows checks that the reader accepts only files in the exact
// format, and reads the committed captures.
func TestReadFlows(t *testing.T) {
	good := ">>> Flow 1 (client to server)\n" + hex.Dump([]byte("0123456789abcdefXYZ")) +
		">>> Flow 2 (server to client)\n" + hex.Dump([]byte{0x82, 0, 0, 0})
	if got, err := parseFlows(good); err != nil {
		t.Fatalf("parseFlows(good): %v", err)
	} else if diff := cmp.Diff([][]byte{[]byte("0123456789abcdefXYZ"), {0x82, 0, 0, 0}}, got); diff != "" {
		t.Errorf("parseFlows(good) (-want +got):\n%s", diff)
	}
	line1 := "00000000  82 00 00 00                                       |....|\n"
	tests := []struct {
		name string
		in   string
	}{
		{"empty file", ""},
		{"bytes before a header", line1},
		{"blank line", ">>> Flow 1 (client to server)\n\n" + line1},
		{"comment", "# capture\n>>> Flow 1 (client to server)\n" + line1},
		{"trailing blank line", ">>> Flow 1 (client to server)\n" + line1 + "\n"},
		{"no final newline", ">>> Flow 1 (client to server)\n" + strings.TrimSuffix(line1, "\n")},
		{"other marker", ">>> Packet 1 (client to server)\n" + line1},
		{"flow 0", ">>> Flow 0 (client to server)\n" + line1},
		{"flows out of order", ">>> Flow 2 (client to server)\n" + line1},
		{"other direction", ">>> Flow 1 (to server)\n" + line1},
		{"empty flow", ">>> Flow 1 (client to server)\n>>> Flow 2 (server to client)\n" + line1},
		{"upper-case hex", ">>> Flow 1 (client to server)\n" + strings.Replace(hex.Dump([]byte{0xab}), "ab", "AB", 1)},
		{"wrong text column", ">>> Flow 1 (client to server)\n" + strings.Replace(line1, "|....|", "|x...|", 1)},
		{"no text column", ">>> Flow 1 (client to server)\n00000000  82 00 00 00\n"},
		{"wrong offset", ">>> Flow 1 (client to server)\n" + strings.Replace(line1, "00000000", "00000010", 1)},
		{"one space less", ">>> Flow 1 (client to server)\n" + strings.Replace(line1, "82 00", "82  00", 1)},
		{"short line mid-flow", ">>> Flow 1 (client to server)\n" + line1 + "00000004  00                                                |.|\n"},
		{"bytes run together", ">>> Flow 1 (client to server)\n00000000  8200 0000                                         |....|\n"},
		{"CRLF", ">>> Flow 1 (client to server)\r\n" + line1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := parseFlows(tt.in); err == nil {
				t.Errorf("parseFlows(%q) = %x, want an error", tt.in, got)
			}
		})
	}
	for _, path := range []string{"testdata/samba-nodestatus.hex", "testdata/windows-nodestatus.hex"} {
		if len(ReadFlows(t, path)) == 0 {
			t.Errorf("%s: no flows", path)
		}
	}
}
