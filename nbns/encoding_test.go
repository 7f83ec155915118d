package nbns

import (
	"errors"
	"go/parser"
	"go/token"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAppendEncodedScope(t *testing.T) {
	label63 := strings.Repeat("x", 63)
	tests := []struct {
		scope   string
		wantLen int
		wantErr error
	}{
		{"", 34, nil},
		{"lab", 34 + 4, nil},
		{"corp.example.com", 34 + 5 + 8 + 4, nil},
		{label63, 34 + 64, nil},
		{label63 + "." + label63 + "." + label63, 34 + 3*64, nil},                                      // 226
		{label63 + "." + label63 + "." + label63 + "." + strings.Repeat("y", 28), 34 + 3*64 + 29, nil}, // 255
		{label63 + "." + label63 + "." + label63 + "." + strings.Repeat("y", 29), 0, errScopeTooLong},  // 256
		{label63 + "x", 0, errScopeLabel},
		{".lab", 0, errScopeLabel},
		{"lab.", 0, errScopeLabel},
		{"a..b", 0, errScopeLabel}, // Impacket ends the name early here
	}
	for _, tt := range tests {
		t.Run(strconv.Quote(tt.scope), func(t *testing.T) {
			prefix := []byte("keep")
			b, err := labsrv20.AppendEncoded(prefix, tt.scope)
			if err != tt.wantErr {
				t.Fatalf("AppendEncoded error = %v, want %v", err, tt.wantErr)
			}
			if string(b[:4]) != "keep" {
				t.Fatalf("AppendEncoded clobbered the caller's bytes: %q", b[:4])
			}
			if err != nil {
				if len(b) != 4 {
					t.Errorf("AppendEncoded appended %d bytes on error", len(b)-4)
				}
				return
			}
			if got := len(b) - 4; got != tt.wantLen {
				t.Errorf("encoded length = %d, want %d", got, tt.wantLen)
			}
			n, scope, length, err := ParseEncoded(b[4:])
			if err != nil || n != labsrv20 || scope != tt.scope || length != tt.wantLen {
				t.Errorf("ParseEncoded = %v, %q, %d, %v; want %v, %q, %d", n, scope, length, err, labsrv20, tt.scope, tt.wantLen)
			}
		})
	}
}

// TestParseEncodedErrors covers the rules of session service names: no
// compression pointers at all (RFC 1002 §4.1).
func TestParseEncodedErrors(t *testing.T) {
	enc := encoded(labsrv20)
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, io.ErrUnexpectedEOF},
		{"pointer", []byte{0xC0, 0x00}, errPointer},
		{"pointer in scope", join(enc[:33], []byte{0xC0, 0x00}), errPointer},
		{"cut before the terminator", enc[:33], io.ErrUnexpectedEOF},
		{"first label 33", join([]byte{33}, enc[1:], []byte{'A'}), errFirstLabel},
		{"Mac OS X 10.1 long name (Wireshark)", join([]byte{40}, []byte(strings.Repeat("A", 40)), []byte{0}), errFirstLabel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, _, err := ParseEncoded(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ParseEncoded error = %v, want %v", err, tt.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Field != "NAME" {
				t.Errorf("error %v is not a *ParseError for NAME", err)
			}
		})
	}
	// Bytes after the name are not part of it.
	n, _, length, err := ParseEncoded(join(enc, []byte("tail")))
	if err != nil || n != labsrv20 || length != 34 {
		t.Errorf("ParseEncoded with a tail = %v, %d, %v", n, length, err)
	}
}

// TestNoFmt keeps fmt and reflect out of the codec, as dnsmessage does.
func TestNoFmt(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range ast.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == "fmt" || p == "reflect" {
				t.Errorf("%s imports %s", f, p)
			}
		}
	}
}

// TestAllocs holds the codec to its promise: encoding into the caller's
// buffer and decoding into a reused value allocate nothing.
func TestAllocs(t *testing.T) {
	samba := ReadFlows(t, "testdata/samba-nodestatus.hex")[1]
	scoped, err := (&NodeStatusResponse{Name: labsrv20, Scope: "corp.example", Names: make([]NodeName, 3)}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 1024)
	var r NodeStatusResponse
	var q NodeStatusRequest
	reqScoped, _ := (&NodeStatusRequest{Name: labsrv20, Scope: "corp.example"}).MarshalBinary()
	tests := []struct {
		name string
		f    func()
	}{
		{"NodeStatusRequest.AppendBinary", func() {
			buf, _ = (&NodeStatusRequest{ID: 1, Name: Wildcard(), Scope: "corp"}).AppendBinary(buf[:0])
		}},
		{"NodeStatusResponse.AppendBinary", func() { buf, _ = r.AppendBinary(buf[:0]) }},
		{"NodeStatusResponse.UnmarshalBinary", func() { r.UnmarshalBinary(samba) }},
		{"NodeStatusResponse.UnmarshalBinary scoped", func() { r.UnmarshalBinary(scoped) }},
		{"NodeStatusRequest.UnmarshalBinary scoped", func() { q.UnmarshalBinary(reqScoped) }},
		{"Name.AppendText", func() { buf, _ = labsrv20.AppendText(buf[:0]) }},
		{"Name.AppendEncoded", func() { buf, _ = labsrv20.AppendEncoded(buf[:0], "corp.example") }},
		{"NewName", func() { _, _ = NewName("labsrv", FileServer) }},
	}
	for _, tt := range tests {
		tt.f() // grow the reused values first
		if n := testing.AllocsPerRun(100, tt.f); n != 0 {
			t.Errorf("%s: %v allocations, want 0", tt.name, n)
		}
	}
	if diff := cmp.Diff("corp.example", q.Scope); diff != "" {
		t.Errorf("scope (-want +got):\n%s", diff)
	}
}
