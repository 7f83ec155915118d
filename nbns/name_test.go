package nbns

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// raw builds a Name from a 15-byte-or-shorter body padded with pad, and a
// suffix.
func raw(body string, pad byte, suffix byte) Name {
	var n Name
	for i := range NameLen - 1 {
		n.b[i] = pad
	}
	copy(n.b[:], body)
	n.b[NameLen-1] = suffix
	return n
}

func TestNewName(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		suffix  Suffix
		want    Name
		wantErr error
	}{
		{name: "upper-cased and space padded", in: "labsrv", suffix: FileServer, want: raw("LABSRV", ' ', 0x20)},
		{name: "15 bytes", in: "ABCDEFGHIJKLMNO", suffix: Workstation, want: raw("ABCDEFGHIJKLMNO", ' ', 0)},
		{name: "SMBSERVER", in: "*SMBSERVER", suffix: FileServer, want: raw("*SMBSERVER", ' ', 0x20)},
		{name: "wildcard", in: "*", suffix: Workstation, want: raw("*", 0, 0)},
		{name: "non-ASCII kept", in: "caf\xe9", suffix: 0x20, want: raw("CAF\xe9", ' ', 0x20)},
		{name: "control bytes kept", in: "\x01\x02__MSBROWSE__\x02", suffix: Browse, want: raw("\x01\x02__MSBROWSE__\x02", ' ', 1)},
		{name: "empty", in: "", suffix: 0x20, wantErr: errNameEmpty},
		{name: "16 bytes", in: "ABCDEFGHIJKLMNOP", suffix: 0x20, wantErr: errNameTooLong},
		{name: "wildcard with suffix 20", in: "*", suffix: FileServer, wantErr: errWildcardType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NewName(tt.in, tt.suffix)
			if err != tt.wantErr {
				t.Fatalf("NewName(%q, %#v) error = %v, want %v", tt.in, tt.suffix, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want.b, got.b); diff != "" {
				t.Errorf("NewName(%q, %#v) bytes (-want +got):\n%s", tt.in, tt.suffix, diff)
			}
		})
	}
}

func TestNameString(t *testing.T) {
	tests := []struct {
		name Name
		want string
	}{
		{raw("LABSRV", ' ', 0x20), "LABSRV<20>"},
		{raw("LABGRP", ' ', 0x1e), "LABGRP<1E>"},
		{Wildcard(), "*<00>"},
		{raw("*", ' ', 0), `*\x20<00>`}, // not the wildcard
		{raw("*", 0, 0x20), `*\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00<20>`},
		{raw("\x01\x02__MSBROWSE__\x02", ' ', 1), `\x01\x02__MSBROWSE__\x02<01>`},
		{raw(`A\B`, ' ', 0), `A\x5CB<00>`},
		{raw("MY PC", ' ', 0), "MY PC<00>"},
		{raw("", ' ', 0x20), "<20>"},
		{raw("caf\xe9", ' ', 0), `caf\xE9<00>`},
		{raw("<0>", ' ', 0), "<0><00>"},
		{Name{}, `\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00<00>`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.name.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			back, err := ParseName(tt.want)
			if err != nil {
				t.Fatalf("ParseName(%q): %v", tt.want, err)
			}
			if back != tt.name {
				t.Errorf("ParseName(%q) = % x, want % x", tt.want, back.b, tt.name.b)
			}
		})
	}
}

func TestParseNameErrors(t *testing.T) {
	for _, s := range []string{
		"",
		"LABSRV",
		"LABSRV<2>",
		"LABSRV<2G>",
		"LABSRV[20]",
		"ABCDEFGHIJKLMNOP<20>", // 16 bytes
		`\x4<20>`,
		`A\y41<20>`,
		`A\x4G<20>`,
		`A\<20>`,
	} {
		if n, err := ParseName(s); err == nil {
			t.Errorf("ParseName(%q) = %v, want an error", s, n)
		}
	}
}

func TestNameAccessors(t *testing.T) {
	n := MustName("labsrv", Workstation)
	if got, want := n.WithSuffix(FileServer).String(), "LABSRV<20>"; got != want {
		t.Errorf("WithSuffix = %q, want %q", got, want)
	}
	if n.Suffix() != Workstation || n.IsZero() || n.IsWildcard() {
		t.Errorf("accessors of %v wrong", n)
	}
	if !(Name{}).IsZero() || !Wildcard().IsWildcard() {
		t.Error("zero or wildcard not recognised")
	}
	if NameFromBytes(n.Bytes()) != n {
		t.Error("NameFromBytes(Bytes()) changed the name")
	}
	if got, want := FileServer.String(), "<20>"; got != want {
		t.Errorf("Suffix.String = %q, want %q", got, want)
	}
	if got, want := MasterBrowser.GoString(), "nbns.Suffix(0x1D)"; got != want {
		t.Errorf("Suffix.GoString = %q, want %q", got, want)
	}
}

func TestNameJSON(t *testing.T) {
	in := []Name{MustName("labsrv", FileServer), Wildcard(), raw("\x01\x02__MSBROWSE__\x02", ' ', 1)}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `["LABSRV\u003c20\u003e","*\u003c00\u003e","\\x01\\x02__MSBROWSE__\\x02\u003c01\u003e"]`; got != want {
		t.Errorf("json = %s, want %s", got, want)
	}
	var out []Name
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, out, cmp.Comparer(func(a, b Name) bool { return a == b })); diff != "" {
		t.Errorf("json round trip (-want +got):\n%s", diff)
	}
	if err := json.Unmarshal([]byte(`["BAD"]`), &out); err == nil {
		t.Error("json.Unmarshal of a bad name succeeded")
	}
}

// TestEncodingsGolden checks the first- and second-level encodings against
// testdata/encodings.txt, which holds the RFC 1001 §14.1 example.
func TestEncodingsGolden(t *testing.T) {
	f, err := os.Open("testdata/encodings.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	rows := 0
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			t.Fatalf("bad line %q", line)
		}
		rows++
		n, err := ParseName(fields[0])
		if err != nil {
			t.Fatalf("ParseName(%q): %v", fields[0], err)
		}
		if got := string(n.AppendFirstLevel(nil)); got != fields[1] {
			t.Errorf("%s: first level = %s, want %s", fields[0], got, fields[1])
		}
		enc, err := n.AppendEncoded(nil, "")
		if err != nil {
			t.Fatal(err)
		}
		if want := "\x20" + fields[1] + "\x00"; string(enc) != want {
			t.Errorf("%s: second level = %q, want %q", fields[0], enc, want)
		}
		back, scope, length, err := ParseEncoded(enc)
		if err != nil || back != n || scope != "" || length != 34 {
			t.Errorf("ParseEncoded(%q) = %v, %q, %d, %v; want %v, \"\", 34, nil", enc, back, scope, length, err, n)
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if rows < 5 {
		t.Fatalf("only %d rows in encodings.txt", rows)
	}
}
