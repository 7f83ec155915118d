package session

import (
	"bytes"
	"errors"
	"go/parser"
	"go/token"
	"io"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/netbios-go/netbios/nbns"
)

var (
	smbserver = nbns.MustName("*SMBSERVER", nbns.FileServer)
	nbtprobe  = nbns.MustName("NBTPROBE", nbns.Workstation)
)

func TestParseHeader(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		want    Header
		wantErr error // nil: both parsers accept; else ParseHeader fails
		lenient *Header
	}{
		{name: "positive", in: []byte{0x82, 0, 0, 0}, want: Header{TypePositiveResponse, 0}},
		{name: "keep-alive", in: []byte{0x85, 0, 0, 0}, want: Header{TypeKeepAlive, 0}},
		{name: "negative", in: []byte{0x83, 0, 0, 1}, want: Header{TypeNegativeResponse, 1}},
		{name: "retarget", in: []byte{0x84, 0, 0, 6}, want: Header{TypeRetargetResponse, 6}},
		{name: "request", in: []byte{0x81, 0, 0, 0x44}, want: Header{TypeRequest, 68}},
		{name: "request with scope", in: []byte{0x81, 0, 0x01, 0xFE}, want: Header{TypeRequest, 510}},
		{name: "empty message", in: []byte{0, 0, 0, 0}, want: Header{TypeMessage, 0}},
		{name: "message, 16 bits", in: []byte{0, 0, 0xFF, 0xFF}, want: Header{TypeMessage, 0xFFFF}},
		{name: "message, E bit", in: []byte{0, 1, 0xFF, 0xFF}, want: Header{TypeMessage, MaxLength}},
		{name: "message, 24 bits", in: []byte{0, 2, 0, 0}, wantErr: errReservedFlags, lenient: &Header{TypeMessage, 0x20000}},
		{name: "message, 24-bit max", in: []byte{0, 0xFF, 0xFF, 0xFF}, wantErr: errReservedFlags, lenient: &Header{TypeMessage, MaxLenientLength}},
		{name: "short", in: []byte{0x82, 0, 0}, wantErr: io.ErrUnexpectedEOF},
		{name: "reserved flag on positive", in: []byte{0x82, 0x80, 0, 0}, wantErr: errReservedFlags},
		{name: "E bit on keep-alive", in: []byte{0x85, 1, 0, 0}},
		{name: "positive claiming 64 KiB (Samba buffers it)", in: []byte{0x82, 0, 0xFF, 0xFF}},
		{name: "negative of 0 bytes", in: []byte{0x83, 0, 0, 0}},
		{name: "negative of 5 bytes", in: []byte{0x83, 0, 0, 5}},
		{name: "retarget of 4 bytes", in: []byte{0x84, 0, 0, 4}},
		{name: "keep-alive with a body", in: []byte{0x85, 0, 0, 1}},
		{name: "request too short", in: []byte{0x81, 0, 0, 67}},
		{name: "request too long", in: []byte{0x81, 0, 0x01, 0xFF}},
		{name: "undefined type 0x86", in: []byte{0x86, 0, 0, 0}, wantErr: ErrUnexpectedPacket},
		{name: "undefined type 0x89", in: []byte{0x89, 0, 0, 0}, wantErr: ErrUnexpectedPacket},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseHeader(tt.in)
			wantFail := tt.wantErr != nil || tt.want == (Header{}) && tt.in[0] != 0
			switch {
			case wantFail && err == nil:
				t.Fatalf("ParseHeader(% x) = %+v, want an error", tt.in, got)
			case !wantFail && err != nil:
				t.Fatalf("ParseHeader(% x): %v", tt.in, err)
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Fatalf("ParseHeader(% x) error = %v, want %v", tt.in, err, tt.wantErr)
			}
			if err != nil {
				var pe *ParseError
				if !errors.As(err, &pe) || !strings.HasPrefix(err.Error(), "session: parsing ") {
					t.Errorf("error %q is not a *ParseError", err)
				}
			} else {
				if got != tt.want {
					t.Errorf("ParseHeader(% x) = %+v, want %+v", tt.in, got, tt.want)
				}
				b, err := got.AppendBinary(nil)
				if err != nil || !bytes.Equal(b, tt.in) {
					t.Errorf("AppendBinary = % x, %v; want % x", b, err, tt.in)
				}
			}

			lgot, lerr := ParseHeaderLenient(tt.in)
			switch {
			case tt.lenient != nil:
				if lerr != nil || lgot != *tt.lenient {
					t.Errorf("ParseHeaderLenient(% x) = %+v, %v; want %+v", tt.in, lgot, lerr, *tt.lenient)
				}
				if _, err := lgot.AppendBinary(nil); err == nil {
					t.Errorf("AppendBinary wrote a %d-byte length", lgot.Length)
				}
			case (err == nil) != (lerr == nil) || lgot != got:
				t.Errorf("ParseHeaderLenient(% x) = %+v, %v; want the strict result %+v, %v", tt.in, lgot, lerr, got, err)
			}
		})
	}
}

// TestParseHeaderFields checks the field and offset each header error
// names: a length the type does not allow is a LENGTH error, not a TYPE
// one, and only an undefined type wraps ErrUnexpectedPacket.
func TestParseHeaderFields(t *testing.T) {
	tests := []struct {
		name   string
		in     []byte
		field  string
		offset int
	}{
		{"short", []byte{0x82, 0, 0}, "HEADER", 0},
		{"undefined type", []byte{0x86, 0, 0, 0}, "TYPE", 0},
		{"reserved flag", []byte{0x82, 0x02, 0, 0}, "FLAGS", 1},
		{"positive of 1 byte", []byte{0x82, 0, 0, 1}, "LENGTH", 2},
		{"negative of 0 bytes", []byte{0x83, 0, 0, 0}, "LENGTH", 2},
		{"retarget of 4 bytes", []byte{0x84, 0, 0, 4}, "LENGTH", 2},
		{"request of 67 bytes", []byte{0x81, 0, 0, 67}, "LENGTH", 2},
		{"request of 511 bytes", []byte{0x81, 0, 0x01, 0xFF}, "LENGTH", 2},
		{"E bit on a keep-alive", []byte{0x85, 1, 0, 0}, "LENGTH", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, parse := range []func([]byte) (Header, error){ParseHeader, ParseHeaderLenient} {
				_, err := parse(tt.in)
				pe, ok := errors.AsType[*ParseError](err)
				if !ok {
					t.Fatalf("error %v, want a *ParseError", err)
				}
				got := [...]any{pe.Field, pe.Offset, errors.Is(err, ErrUnexpectedPacket)}
				want := [...]any{tt.field, tt.offset, tt.field == "TYPE"}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("% x: field, offset, wraps ErrUnexpectedPacket (-want +got):\n%s", tt.in, diff)
				}
			}
		})
	}
}

func TestHeaderAppendErrors(t *testing.T) {
	for _, h := range []Header{
		{TypeMessage, -1},
		{TypeMessage, MaxLength + 1},
		{TypePositiveResponse, 1},
		{TypeNegativeResponse, 0},
		{TypeRequest, 600},
		{PacketType(0x86), 0},
	} {
		if b, err := h.AppendBinary([]byte("x")); err == nil || string(b) != "x" {
			t.Errorf("Header%+v.AppendBinary = % x, %v; want an error and nothing appended", h, b, err)
		}
	}
}

func TestRequestGolden(t *testing.T) {
	flows := ReadFlows(t, "testdata/samba-session.hex")
	req := Request{Called: smbserver, Calling: nbtprobe}
	got, err := req.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(flows[0], got); diff != "" {
		t.Errorf("MarshalBinary (-captured +ours):\n%s", diff)
	}
	var back Request
	if err := back.UnmarshalBinary(flows[0]); err != nil {
		t.Fatal(err)
	}
	if back != req {
		t.Errorf("UnmarshalBinary = %v, want %v", back, req)
	}
	var resp Response
	if err := resp.UnmarshalBinary(flows[1]); err != nil {
		t.Fatal(err)
	}
	if resp.Type != TypePositiveResponse || resp.Err(smbserver) != nil {
		t.Errorf("smbd's answer decoded as %v", resp.String())
	}
}

func TestRequest(t *testing.T) {
	tests := []struct {
		name string
		req  Request
		bs   [][]byte
	}{
		{
			name: "no scope",
			req:  Request{Called: smbserver, Calling: nbtprobe},
			bs: [][]byte{
				{0x81, 0, 0, 68},
				{0x20}, smbserver.AppendFirstLevel(nil), {0},
				{0x20}, nbtprobe.AppendFirstLevel(nil), {0},
			},
		},
		{
			name: "scope",
			req:  Request{Called: smbserver, Calling: nbtprobe, Scope: "lab.example"},
			bs: [][]byte{
				{0x81, 0, 0, 68 + 2*12},
				{0x20}, smbserver.AppendFirstLevel(nil), {3}, []byte("lab"), {7}, []byte("example"), {0},
				{0x20}, nbtprobe.AppendFirstLevel(nil), {3}, []byte("lab"), {7}, []byte("example"), {0},
			},
		},
		{
			name: "longest scope: 510 bytes with the E bit clear",
			req:  Request{Called: smbserver, Calling: nbtprobe, Scope: maxScope},
			bs: [][]byte{
				{0x81, 0, 0x01, 0xFE},
				{0x20}, smbserver.AppendFirstLevel(nil), encScope(maxScope),
				{0x20}, nbtprobe.AppendFirstLevel(nil), encScope(maxScope),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := bytes.Join(tt.bs, nil)
			got, err := tt.req.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("MarshalBinary (-want +got):\n%s", diff)
			}
			var back Request
			if err := back.UnmarshalBinary(got); err != nil {
				t.Fatal(err)
			}
			if back != tt.req {
				t.Errorf("UnmarshalBinary = %+v, want %+v", back, tt.req)
			}
		})
	}
}

// maxScope makes a name encode to exactly 255 bytes.
var maxScope = strings.Repeat("x", 63) + "." + strings.Repeat("x", 63) + "." + strings.Repeat("x", 63) + "." + strings.Repeat("y", 28)

func encScope(scope string) []byte {
	var b []byte
	for label := range strings.SplitSeq(scope, ".") {
		b = append(b, byte(len(label)))
		b = append(b, label...)
	}
	return append(b, 0)
}

func TestRequestErrors(t *testing.T) {
	ok, _ := (&Request{Called: smbserver, Calling: nbtprobe}).MarshalBinary()
	scoped, _ := (&Request{Called: smbserver, Calling: nbtprobe, Scope: "lab"}).MarshalBinary()
	withLen := func(b []byte, n int) []byte {
		b = bytes.Clone(b)
		b[2], b[3] = byte(n>>8), byte(n)
		return b
	}
	tests := []struct {
		name    string
		in      []byte
		field   string
		want    error
		badName bool // wraps ErrBadName: framed well, names wrong
	}{
		{"a positive response", []byte{0x82, 0, 0, 0}, "TYPE", ErrUnexpectedPacket, false},
		{"cut", ok[:71], "TRAILER", io.ErrUnexpectedEOF, false},
		{"trailing byte", append(bytes.Clone(ok), 0), "TRAILER", errTrailing, false},
		{"pointer in called name", withLen(append([]byte{0x81, 0, 0, 0, 0xC0, 0x04}, ok[38:]...), 36), "LENGTH", nil, false},
		{"pointer in called name, long enough", withLen(append([]byte{0x81, 0, 0, 0, 0xC0, 0x04}, append(bytes.Clone(ok[38:]), ok[38:]...)...), 70), "CALLED NAME", nil, true},
		{"called name label runs past the packet", append(append(bytes.Clone(ok[:37]), 0x3F), ok[38:]...), "CALLED NAME", io.ErrUnexpectedEOF, true},
		{"called name letter Q", append(append(bytes.Clone(ok[:5]), 'Q'), ok[6:]...), "CALLED NAME", nil, true},
		{"calling name first label 31", append(append(bytes.Clone(ok[:38]), 31), ok[39:]...), "CALLING NAME", nil, true},
		{"scopes differ", withLen(append(bytes.Clone(scoped[:4+38]), ok[38:]...), 38+34), "CALLING NAME", errScopeMismatch, true},
		{"a third name", withLen(append(bytes.Clone(ok), ok[38:]...), 68+34), "CALLING NAME", errTrailing, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Request
			err := r.UnmarshalBinary(tt.in)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("UnmarshalBinary error = %v, want a *ParseError", err)
			}
			if pe.Field != tt.field {
				t.Errorf("error %q names field %q, want %q", err, pe.Field, tt.field)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
			if got := errors.Is(err, ErrBadName); got != tt.badName {
				t.Errorf("errors.Is(%v, ErrBadName) = %v, want %v", err, got, tt.badName)
			}
		})
	}
	for _, bad := range []Request{
		{Called: smbserver, Calling: nbtprobe, Scope: "a..b"},
		{Called: smbserver, Calling: nbtprobe, Scope: strings.Repeat("x", 64)},
	} {
		if b, err := bad.AppendBinary([]byte("x")); err == nil || string(b) != "x" {
			t.Errorf("AppendBinary(scope %q) = %q, %v; want an error and nothing appended", bad.Scope, b, err)
		}
	}
}

func TestResponse(t *testing.T) {
	tests := []struct {
		resp Response
		wire []byte
		str  string
		err  string
	}{
		{Response{Type: TypePositiveResponse}, []byte{0x82, 0, 0, 0}, "positive", ""},
		{Response{Type: TypeNegativeResponse, Code: ErrNotListeningOnCalledName}, []byte{0x83, 0, 0, 1, 0x80},
			"negative: not listening on called name (0x80)", `session request "*SMBSERVER<20>": not listening on called name (0x80)`},
		{Response{Type: TypeNegativeResponse, Code: ErrNotListeningForCallingName}, []byte{0x83, 0, 0, 1, 0x81},
			"negative: not listening for calling name (0x81)", `session request "*SMBSERVER<20>": not listening for calling name (0x81)`},
		{Response{Type: TypeNegativeResponse, Code: ErrCalledNameNotPresent}, []byte{0x83, 0, 0, 1, 0x82},
			"negative: called name not present (0x82)", `session request "*SMBSERVER<20>": called name not present (0x82)`},
		{Response{Type: TypeNegativeResponse, Code: ErrInsufficientResources}, []byte{0x83, 0, 0, 1, 0x83},
			"negative: called name present, but insufficient resources (0x83)",
			`session request "*SMBSERVER<20>": called name present, but insufficient resources (0x83)`},
		{Response{Type: TypeNegativeResponse, Code: ErrUnspecified}, []byte{0x83, 0, 0, 1, 0x8F},
			"negative: unspecified error (0x8F)", `session request "*SMBSERVER<20>": unspecified error (0x8F)`},
		{Response{Type: TypeNegativeResponse, Code: 0x8A}, []byte{0x83, 0, 0, 1, 0x8A},
			"negative: negative response code 0x8A", `session request "*SMBSERVER<20>": negative response code 0x8A`},
		{Response{Type: TypeRetargetResponse, Retarget: netip.MustParseAddrPort("198.18.0.2:1139")},
			[]byte{0x84, 0, 0, 6, 0xc6, 0x12, 0x00, 0x02, 0x04, 0x73},
			"retarget to 198.18.0.2:1139", `session request "*SMBSERVER<20>": retarget to 198.18.0.2:1139`},
	}
	for _, tt := range tests {
		t.Run(tt.str, func(t *testing.T) {
			got, err := tt.resp.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wire, got); diff != "" {
				t.Errorf("MarshalBinary (-want +got):\n%s", diff)
			}
			var back Response
			if err := back.UnmarshalBinary(tt.wire); err != nil {
				t.Fatal(err)
			}
			if back != tt.resp {
				t.Errorf("UnmarshalBinary = %+v, want %+v", back, tt.resp)
			}
			if s := back.String(); s != tt.str {
				t.Errorf("String() = %q, want %q", s, tt.str)
			}
			err = back.Err(smbserver)
			if tt.err == "" {
				if err != nil {
					t.Errorf("Err() = %v, want nil", err)
				}
				return
			}
			if err == nil || err.Error() != tt.err {
				t.Errorf("Err() = %v, want %s", err, tt.err)
			}
			if tt.resp.Type == TypeNegativeResponse {
				if !errors.Is(err, tt.resp.Code) {
					t.Errorf("errors.Is(%v, %#v) = false", err, tt.resp.Code)
				}
				ne, ok := errors.AsType[*NegativeResponseError](err)
				if !ok || ne.Code != tt.resp.Code || ne.Called != smbserver {
					t.Errorf("errors.AsType[*NegativeResponseError](%v) = %+v, %v", err, ne, ok)
				}
			}
		})
	}
}

// TestResponseErrors: every handshake reply has an exact length, and the
// bytes a hostile server sends beyond it are never accepted.
func TestResponseErrors(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, io.ErrUnexpectedEOF},
		{"half a header", []byte{0x82, 0}, io.ErrUnexpectedEOF},
		{"positive claiming 64 KiB", []byte{0x82, 0, 0xFF, 0xFF}, nil},
		{"positive with a trailing byte", []byte{0x82, 0, 0, 0, 0}, errTrailing},
		{"negative of 0 bytes", []byte{0x83, 0, 0, 0}, nil},
		{"negative of 5 bytes", []byte{0x83, 0, 0, 5, 0x82, 0, 0, 0, 0}, nil},
		{"negative without its code", []byte{0x83, 0, 0, 1}, io.ErrUnexpectedEOF},
		{"retarget cut", []byte{0x84, 0, 0, 6, 198, 18, 0, 2, 0}, io.ErrUnexpectedEOF},
		{"keep-alive", []byte{0x85, 0, 0, 0}, ErrUnexpectedPacket},
		{"session message", []byte{0, 0, 0, 0}, ErrUnexpectedPacket},
		{"session request", []byte{0x81, 0, 0, 0x44}, io.ErrUnexpectedEOF},
		{"reserved flags", []byte{0x82, 0x02, 0, 0}, errReservedFlags},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Response
			err := r.UnmarshalBinary(tt.in)
			if err == nil {
				t.Fatalf("UnmarshalBinary(% x) = %+v, want an error", tt.in, r)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("UnmarshalBinary(% x) error = %v, want %v", tt.in, err, tt.want)
			}
		})
	}
	for _, bad := range []Response{
		{Type: TypeRetargetResponse, Retarget: netip.MustParseAddrPort("[2001:db8::1]:139")},
		{Type: TypeRetargetResponse},
		{Type: TypeKeepAlive},
		{},
	} {
		if b, err := bad.AppendBinary([]byte("x")); err == nil || string(b) != "x" {
			t.Errorf("AppendBinary(%+v) = % x, %v; want an error and nothing appended", bad, b, err)
		}
	}
}

func TestErrorCodeStrings(t *testing.T) {
	for _, x := range []struct{ got, want string }{
		{ErrCalledNameNotPresent.GoString(), "session.ErrCalledNameNotPresent"},
		{ErrorCode(0x42).GoString(), "session.ErrorCode(0x42)"},
		{ErrorCode(0x42).String(), "negative response code 0x42"},
		{TypeKeepAlive.String(), "session keep alive"},
		{TypeRetargetResponse.GoString(), "session.TypeRetargetResponse"},
		{PacketType(0x86).String(), "packet type 0x86"},
		{PacketType(0x86).GoString(), "session.PacketType(0x86)"},
		{(&typeError{0x86}).Error(), "session: unexpected packet type 0x86"},
	} {
		if x.got != x.want {
			t.Errorf("got %q, want %q", x.got, x.want)
		}
	}
}

// TestNoFmt keeps fmt and reflect out of the codec.
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

func TestAllocs(t *testing.T) {
	buf := make([]byte, 0, 1024)
	req := Request{Called: smbserver, Calling: nbtprobe, Scope: "lab"}
	wire, _ := (&Request{Called: smbserver, Calling: nbtprobe}).MarshalBinary()
	retarget := []byte{0x84, 0, 0, 6, 0xc6, 0x12, 0x00, 0x02, 0x04, 0x73}
	var back Request
	var resp Response
	tests := []struct {
		name string
		f    func()
	}{
		{"Request.AppendBinary", func() { buf, _ = req.AppendBinary(buf[:0]) }},
		{"Request.UnmarshalBinary", func() { _ = back.UnmarshalBinary(wire) }},
		{"Response.UnmarshalBinary", func() { _ = resp.UnmarshalBinary(retarget) }},
		{"Response.AppendBinary", func() { buf, _ = resp.AppendBinary(buf[:0]) }},
		{"ParseHeader", func() { _, _ = ParseHeader(wire) }},
		{"Header.AppendBinary", func() { buf, _ = Header{TypeMessage, 1000}.AppendBinary(buf[:0]) }},
	}
	for _, tt := range tests {
		if n := testing.AllocsPerRun(100, tt.f); n != 0 {
			t.Errorf("%s: %v allocations, want 0", tt.name, n)
		}
	}
}

func BenchmarkAppendRequest(b *testing.B) {
	buf := make([]byte, 0, 128)
	req := Request{Called: smbserver, Calling: nbtprobe}
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = req.AppendBinary(buf[:0])
	}
}

func BenchmarkParseRequest(b *testing.B) {
	wire, _ := (&Request{Called: smbserver, Calling: nbtprobe}).MarshalBinary()
	var r Request
	b.ReportAllocs()
	b.SetBytes(int64(len(wire)))
	for b.Loop() {
		if err := r.UnmarshalBinary(wire); err != nil {
			b.Fatal(err)
		}
	}
}
