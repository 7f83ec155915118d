package nbns

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Builders for hand-made packets, one wire field per call.

func u16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func header(id, flags, qd, an, ns, ar uint16) []byte {
	return bytes.Join([][]byte{u16(id), u16(flags), u16(qd), u16(an), u16(ns), u16(ar)}, nil)
}

func encoded(n Name) []byte {
	b, err := n.AppendEncoded(nil, "")
	if err != nil {
		panic(err)
	}
	return b
}

func entry(n Name, flags uint16) []byte {
	return append(n.b[:], u16(flags)...)
}

func join(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

var (
	labsrv20 = MustName("LABSRV", FileServer)
	labsrv00 = MustName("LABSRV", Workstation)
	labgrp00 = MustName("LABGRP", Workstation)
	stats0   = make([]byte, StatisticsLen)
)

func TestNodeStatusGolden(t *testing.T) {
	labsrv03 := MustName("LABSRV", Messenger)
	labgrp1e := MustName("LABGRP", BrowserElection)
	win := MustName("WIN-VB75FK4K1S0", Workstation)
	tests := []struct {
		file    string
		flow    int
		want    NodeStatusResponse
		wantMAC [6]byte
		macOK   bool
		server  Name
	}{
		{
			file: "testdata/samba-nodestatus.hex", flow: 1,
			want: NodeStatusResponse{
				Header: Header{ID: 0x19d6, Response: true, Authoritative: true, ANCount: 1},
				Name:   Wildcard(),
				Names: []NodeName{
					{labsrv00, FlagActive},
					{labsrv03, FlagActive},
					{labsrv20, FlagActive},
					{labgrp00, FlagGroup | FlagActive},
					{labgrp1e, FlagGroup | FlagActive},
				},
			},
			server: labsrv20,
		},
		{
			file: "testdata/windows-nodestatus.hex", flow: 0,
			want: NodeStatusResponse{
				Header: Header{ID: 0xf973, Response: true, Authoritative: true, ANCount: 1},
				Name:   win,
				Names: []NodeName{
					{win, FlagActive},
					{win.WithSuffix(FileServer), FlagActive},
					{MustName("WORKGROUP", Workstation), FlagGroup | FlagActive},
				},
				Statistics: Statistics{UnitID: [6]byte{0x00, 0x15, 0x5d, 0x01, 0x23, 0x08}},
			},
			wantMAC: [6]byte{0x00, 0x15, 0x5d, 0x01, 0x23, 0x08},
			macOK:   true,
			server:  win.WithSuffix(FileServer),
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			pkt := ReadFlows(t, tt.file)[tt.flow]
			var got NodeStatusResponse
			if err := got.UnmarshalBinary(pkt); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, nameCmp); diff != "" {
				t.Errorf("UnmarshalBinary (-want +got):\n%s", diff)
			}
			if mac, ok := got.MAC(); mac != tt.wantMAC || ok != tt.macOK {
				t.Errorf("MAC() = % x, %v; want % x, %v", mac, ok, tt.wantMAC, tt.macOK)
			}
			if s, err := got.ServerName(); err != nil || s != tt.server {
				t.Errorf("ServerName() = %v, %v; want %v", s, err, tt.server)
			}
			// Our encoder reproduces the captured bytes exactly.
			out, err := got.AppendBinary(nil)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(pkt, out); diff != "" {
				t.Errorf("AppendBinary (-captured +ours):\n%s", diff)
			}
		})
	}
}

var nameCmp = cmp.Comparer(func(a, b Name) bool { return a == b })

// TestNodeStatusRequestGolden checks our request against the one nmblookup
// sent in the Samba capture.
func TestNodeStatusRequestGolden(t *testing.T) {
	pkt := ReadFlows(t, "testdata/samba-nodestatus.hex")[0]
	q := NodeStatusRequest{ID: 0x19d6, Name: Wildcard()}
	got, err := q.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(pkt, got); diff != "" {
		t.Errorf("AppendBinary (-nmblookup +ours):\n%s", diff)
	}
	if len(got) != 50 {
		t.Errorf("request is %d bytes, want 50", len(got))
	}
	var back NodeStatusRequest
	if err := back.UnmarshalBinary(pkt); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(NodeStatusRequest{ID: 0x19d6, Name: Wildcard()}, back, nameCmp); diff != "" {
		t.Errorf("UnmarshalBinary (-want +got):\n%s", diff)
	}
}

func TestNodeStatusRequest(t *testing.T) {
	tests := []struct {
		name string
		req  NodeStatusRequest
		bs   [][]byte
	}{
		{
			name: "named, scoped, broadcast",
			req:  NodeStatusRequest{ID: 7, Name: labsrv20, Scope: "corp.example", Broadcast: true},
			bs: [][]byte{
				header(7, 0x0010, 1, 0, 0, 0),
				{0x20}, labsrv20.AppendFirstLevel(nil), {4}, []byte("corp"), {7}, []byte("example"), {0},
				u16(TypeNBSTAT), u16(ClassIN),
			},
		},
		{
			name: "wildcard",
			req:  NodeStatusRequest{ID: 0xffff, Name: Wildcard()},
			bs:   [][]byte{header(0xffff, 0, 1, 0, 0, 0), {0x20}, []byte("CK" + strings.Repeat("A", 30)), {0}, u16(0x21), u16(1)},
		},
		{
			// The zero Name is not the wildcard: it goes out as it is, 16
			// NUL bytes, and decodes back to the zero Name.
			name: "zero name as it is",
			req:  NodeStatusRequest{ID: 0xffff},
			bs:   [][]byte{header(0xffff, 0, 1, 0, 0, 0), {0x20}, []byte(strings.Repeat("A", 32)), {0}, u16(0x21), u16(1)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := join(tt.bs...)
			got, err := tt.req.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("MarshalBinary (-want +got):\n%s", diff)
			}
			var back NodeStatusRequest
			if err := back.UnmarshalBinary(got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.req, back, nameCmp); diff != "" {
				t.Errorf("UnmarshalBinary (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNodeStatusRequestErrors(t *testing.T) {
	q := join(header(1, 0, 1, 0, 0, 0), encoded(Wildcard()), u16(0x21), u16(1))
	tests := []struct {
		name string
		bs   [][]byte
		want error
	}{
		{"short header", [][]byte{q[:11]}, io.ErrUnexpectedEOF},
		{"a response", [][]byte{header(1, 0x8000, 1, 0, 0, 0), q[12:]}, errNotRequest},
		{"a registration", [][]byte{header(1, 0x2800, 1, 0, 0, 0), q[12:]}, errOpCode},
		{"no question", [][]byte{header(1, 0, 0, 0, 0, 0), q[12:]}, errQDCount},
		{"name query, not NBSTAT", [][]byte{q[:46], u16(0x20), u16(1)}, errType},
		{"class not IN", [][]byte{q[:48], u16(3)}, errClass},
		{"cut in QUESTION_CLASS", [][]byte{q[:49]}, io.ErrUnexpectedEOF},
		{"cut in QUESTION_NAME", [][]byte{q[:30]}, io.ErrUnexpectedEOF},
		{"dot in scope label", [][]byte{q[:12], {0x20}, Wildcard().AppendFirstLevel(nil), {3}, []byte("a.b"), {0}, q[46:]}, errDotInLabel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r NodeStatusRequest
			err := r.UnmarshalBinary(join(tt.bs...))
			if !errors.Is(err, tt.want) {
				t.Fatalf("UnmarshalBinary error = %v, want %v", err, tt.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Errorf("error %v is not a *ParseError", err)
			}
		})
	}
}

// okResponse is a well-formed reply: the question name echoed by pointer,
// three names and full statistics.
func okResponse(flags uint16) [][]byte {
	return [][]byte{
		header(0x1234, flags, 0, 1, 0, 0),
		encoded(Wildcard()),
		u16(0x21), u16(1), u32(0), u16(1 + 3*18 + 46),
		{3},
		entry(labsrv00, 0x0400), entry(labsrv20, 0x0400), entry(labgrp00, 0x8400),
		stats0,
	}
}

// TestNodeStatusResponseTraps feeds the decoder the inputs that broke
// Samba, Impacket, nbtscan, nmap, Wireshark and pysmb (PROTOCOL.md c). Each
// must end in the named error, without a panic and without allocating more
// than the input's size.
func TestNodeStatusResponseTraps(t *testing.T) {
	ok := join(okResponse(0x8400)...)
	nameOff := HeaderLen
	afterName := HeaderLen + 34
	// A name whose scope runs past 255 bytes: 4 labels of 63.
	long := []byte{0x20}
	long = append(long, Wildcard().AppendFirstLevel(nil)...)
	for range 4 {
		long = append(long, 63)
		long = append(long, bytes.Repeat([]byte{'s'}, 63)...)
	}
	long = append(long, 0)
	loop := join(header(1, 0x8400, 0, 1, 0, 0), []byte{0xC0, 0x0C}) // points at itself
	tests := []struct {
		name string
		bs   [][]byte
		want error
	}{
		{"empty", nil, io.ErrUnexpectedEOF},
		{"header cut", [][]byte{ok[:11]}, io.ErrUnexpectedEOF},
		{"a request (R = 0)", [][]byte{header(0x1234, 0x0400, 0, 1, 0, 0), ok[12:]}, errNotResponse},
		{"opcode 5", [][]byte{header(0x1234, 0xAC00, 0, 1, 0, 0), ok[12:]}, errOpCode},
		{"no answer", [][]byte{header(0x1234, 0x8400, 0, 0, 0, 0), ok[12:]}, errNoAnswer},
		{"RR_NAME cut (Impacket reads NUL-terminated)", [][]byte{ok[:nameOff+20]}, io.ErrUnexpectedEOF},
		{"RR_NAME pointer cut at the end", [][]byte{ok[:12], {0xC0}}, io.ErrUnexpectedEOF},
		{"pointer to itself", [][]byte{loop}, errPointerForward},
		{"forward pointer", [][]byte{ok[:12], {0xC0, 0x20}, ok[afterName:]}, errPointerForward},
		{"pointer loop (label then pointer back)", [][]byte{
			header(1, 0x8400, 0, 1, 0, 0), {0x20}, Wildcard().AppendFirstLevel(nil), {3}, []byte("abc"), {0xC0, 0x2D},
		}, errPointerHops},
		{"reserved label 0x40", [][]byte{ok[:12], {0x60}, ok[13:]}, errReservedLabel},
		{"reserved label 0x80", [][]byte{ok[:12], {0xA0}, ok[13:]}, errReservedLabel},
		{"first label 31 bytes", [][]byte{ok[:12], {31}, ok[13:]}, errFirstLabel},
		{"first label empty", [][]byte{ok[:12], {0}, ok[13:]}, errFirstLabel},
		{"letter Q (Wireshark, zeek)", [][]byte{ok[:13], {'Q'}, ok[14:]}, errLabelChar},
		{"letter Z", [][]byte{ok[:44], {'Z'}, ok[45:]}, errLabelChar},
		{"lower case a", [][]byte{ok[:13], {'a'}, ok[14:]}, errLabelChar},
		{"scope label cut", [][]byte{ok[:45], {10}, []byte("abc")}, io.ErrUnexpectedEOF},
		{"name over 255 bytes", [][]byte{ok[:12], long, ok[afterName:]}, errEncodedTooLong},
		{"not NBSTAT (NB)", [][]byte{ok[:afterName], u16(0x20), ok[afterName+2:]}, errType},
		{"class not IN", [][]byte{ok[:afterName+2], u16(2), ok[afterName+4:]}, errClass},
		{"cut in RR_TYPE", [][]byte{ok[:afterName+1]}, io.ErrUnexpectedEOF},
		{"cut in RDLENGTH", [][]byte{ok[:afterName+9]}, io.ErrUnexpectedEOF},
		{"no RDATA", [][]byte{ok[:afterName+8], u16(0)}, io.ErrUnexpectedEOF},
		{"RDLENGTH past the datagram (nmap)", [][]byte{ok[:afterName+8], u16(0xFFFF), ok[afterName+10:]}, io.ErrUnexpectedEOF},
		{"NUM_NAMES 255 with 3 entries", [][]byte{ok[:afterName+10], {255}, ok[afterName+11:]}, errNumNames},
		{"NUM_NAMES 255 with TC set, nothing cut", [][]byte{header(0x1234, 0x8600, 0, 1, 0, 0), ok[12 : afterName+10], {255}, ok[afterName+11:]}, errNumNames},
		{"RDLENGTH shorter than NUM_NAMES needs", [][]byte{ok[:afterName+8], u16(1 + 2*18), ok[afterName+10:]}, errNumNames},
		{"question cut", [][]byte{header(1, 0x8400, 1, 1, 0, 0), encoded(Wildcard()), {0}}, io.ErrUnexpectedEOF},
		{"65535 questions", [][]byte{header(1, 0x8400, 0xFFFF, 1, 0, 0), ok[12:]}, errFirstLabel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := join(tt.bs...)
			var r NodeStatusResponse
			err := r.UnmarshalBinary(in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("UnmarshalBinary error = %v, want %v", err, tt.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) || !strings.HasPrefix(err.Error(), "nbns: parsing ") {
				t.Errorf("error %q is not a *ParseError naming the field", err)
			}
			if n := allocBytes(func() { (&NodeStatusResponse{}).UnmarshalBinary(in) }); n > uint64(len(in))+256 {
				t.Errorf("decoding %d bytes allocated %d bytes", len(in), n)
			}
		})
	}
}

// allocBytes returns the bytes f allocates, averaged over 100 runs.
func allocBytes(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range 100 {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / 100
}

// TestNodeStatusResponseLenient covers the replies a strict parser would
// refuse but real hosts send, and the forms other parsers got wrong.
func TestNodeStatusResponseLenient(t *testing.T) {
	ok := okResponse(0x8400)
	tests := []struct {
		name        string
		bs          [][]byte
		wantNames   int
		wantMissing int
		wantScope   string
		wantTrunc   bool
		wantName    Name
	}{
		{name: "complete", bs: ok, wantNames: 3, wantName: Wildcard()},
		{
			name: "RR_NAME as a pointer to the question (nmap compares bytes)",
			bs: [][]byte{
				header(0x1234, 0x8400, 1, 1, 0, 0), encoded(labsrv20), u16(0x21), u16(1),
				{0xC0, 0x0C}, u16(0x21), u16(1), u32(0), u16(1 + 18 + 46), {1}, entry(labsrv20, 0x0400), stats0,
			},
			wantNames: 1, wantName: labsrv20,
		},
		{
			name: "scope (Impacket decodes scopes from the wrong offset)",
			bs: [][]byte{
				header(0x1234, 0x8400, 0, 1, 0, 0),
				{0x20}, labsrv20.AppendFirstLevel(nil), {4}, []byte("corp"), {7}, []byte("example"), {0},
				u16(0x21), u16(1), u32(0), u16(1 + 46), {0}, stats0,
			},
			wantScope: "corp.example", wantName: labsrv20,
		},
		{
			name:      "pointer into the scope of the question",
			wantScope: "corp.example", wantName: labsrv20, wantNames: 0,
			bs: [][]byte{
				header(0x1234, 0x8400, 1, 1, 0, 0),
				{0x20}, labsrv20.AppendFirstLevel(nil), {4}, []byte("corp"), {7}, []byte("example"), {0}, u16(0x21), u16(1),
				{0x20}, labsrv20.AppendFirstLevel(nil), {0xC0, 12 + 33},
				u16(0x21), u16(1), u32(0), u16(1 + 46), {0}, stats0,
			},
		},
		{
			name:      "50-byte NCB footer (nbtscan): extra bytes ignored",
			bs:        [][]byte{join(ok[:5]...), u16(1 + 3*18 + 50), join(ok[6:10]...), stats0, {1, 2, 3, 4}},
			wantNames: 3, wantName: Wildcard(),
		},
		{
			name:      "statistics with the MAC only",
			bs:        [][]byte{join(ok[:5]...), u16(1 + 3*18 + 6), join(ok[6:10]...), stats0[:6]},
			wantNames: 3, wantMissing: 40, wantName: Wildcard(),
		},
		{
			name:      "no statistics at all",
			bs:        [][]byte{join(ok[:5]...), u16(1 + 3*18), join(ok[6:10]...)},
			wantNames: 3, wantMissing: 46, wantName: Wildcard(),
		},
		{
			name:      "TC set, datagram cut inside the second entry",
			bs:        [][]byte{header(0x1234, 0x8600, 0, 1, 0, 0), join(ok[1:10]...)[:34+10+1+18+5]},
			wantNames: 1, wantMissing: 46, wantTrunc: true, wantName: Wildcard(),
		},
		{
			name:      "trailing additional record ignored",
			bs:        append(append([][]byte{}, ok...), []byte{0xde, 0xad}),
			wantNames: 3, wantName: Wildcard(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r NodeStatusResponse
			if err := r.UnmarshalBinary(join(tt.bs...)); err != nil {
				t.Fatal(err)
			}
			got := [...]any{len(r.Names), r.MissingStatistics, r.Scope, r.Header.Truncated, r.Name}
			want := [...]any{tt.wantNames, tt.wantMissing, tt.wantScope, tt.wantTrunc, tt.wantName}
			if diff := cmp.Diff(want, got, nameCmp); diff != "" {
				t.Errorf("names, missing statistics, scope, TC, RR_NAME (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNodeStatusResponseEncode(t *testing.T) {
	r := NodeStatusResponse{
		Header: Header{ID: 9, Authoritative: true},
		Name:   labsrv20,
		Scope:  "lab",
		Names:  []NodeName{{labsrv20, FlagActive | FlagPermanent | 0x2000}},
		Statistics: Statistics{
			UnitID: [6]byte{2, 0, 0, 0, 0, 1}, Jumpers: 1, TestResult: 2, VersionNumber: 0x0300,
			PeriodOfStatistics: 4, CRCs: 5, AlignmentErrors: 6, Collisions: 7, SendAborts: 8,
			GoodSends: 0x01020304, GoodReceives: 0x05060708, Retransmits: 9, NoResourceConditions: 10,
			FreeCommandBlocks: 11, TotalCommandBlocks: 12, MaxTotalCommandBlocks: 13, PendingSessions: 14,
			MaxPendingSessions: 15, MaxTotalSessions: 16, SessionDataPacketSize: 1460,
		},
	}
	want := join(
		header(9, 0x8400, 0, 1, 0, 0),
		[]byte{0x20}, labsrv20.AppendFirstLevel(nil), []byte{3}, []byte("lab"), []byte{0},
		u16(0x21), u16(1), u32(0), u16(1+18+46),
		[]byte{1}, entry(labsrv20, 0x2600),
		[]byte{2, 0, 0, 0, 0, 1}, []byte{1, 2}, u16(0x0300), u16(4), u16(5), u16(6), u16(7), u16(8),
		u32(0x01020304), u32(0x05060708), u16(9), u16(10), u16(11), u16(12), u16(13), u16(14), u16(15), u16(16), u16(1460),
	)
	got, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("MarshalBinary (-want +got):\n%s", diff)
	}
	var back NodeStatusResponse
	if err := back.UnmarshalBinary(got); err != nil {
		t.Fatal(err)
	}
	r.Header.Response, r.Header.ANCount = true, 1
	if diff := cmp.Diff(r, back, nameCmp); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if mac, ok := back.MAC(); !ok || mac != r.Statistics.UnitID {
		t.Errorf("MAC() = % x, %v", mac, ok)
	}
	if f := back.Names[0].Flags; f.OwnerNodeType() != PNode || !f.Permanent() || !f.Active() || f.Group() {
		t.Errorf("flags %v decoded wrong", f)
	}

	for _, bad := range []NodeStatusResponse{
		{Names: make([]NodeName, 256)},
		{MissingStatistics: -1},
		{MissingStatistics: 47},
		{Scope: ".lab"},
		{Header: Header{RCode: 16}},
	} {
		if b, err := bad.AppendBinary(nil); err == nil || len(b) != 0 {
			t.Errorf("AppendBinary(%+v) = %d bytes, %v; want an error and no bytes", bad.Header, len(b), err)
		}
	}
}

func TestNameFlags(t *testing.T) {
	tests := []struct {
		f    NameFlags
		want string
	}{
		{0x0400, "B <ACTIVE>"},
		{0x8400, "<GROUP> B <ACTIVE>"},
		{0x2400, "P <ACTIVE>"},
		{0x4400, "M <ACTIVE>"},
		{0xc400, "<GROUP> M <ACTIVE>"},
		{0x6000, "H"},
		{0x1e00, "B <ACTIVE> <DEREGISTERING> <CONFLICT> <PERMANENT>"},
		{0x0401, "B <ACTIVE> reserved=0x1"},
	}
	for _, tt := range tests {
		if got := tt.f.String(); got != tt.want {
			t.Errorf("NameFlags(%#04x).String() = %q, want %q", uint16(tt.f), got, tt.want)
		}
	}
}

func TestServerName(t *testing.T) {
	tests := []struct {
		name    string
		names   []NodeName
		want    Name
		wantErr string
	}{
		{
			name:  "first unique active <20>",
			names: []NodeName{{labsrv00, 0x0400}, {labgrp00.WithSuffix(0x20), 0x8400}, {labsrv20, 0x0400}, {MustName("OTHER", 0x20), 0x0400}},
			want:  labsrv20,
		},
		{
			name:    "only group names",
			names:   []NodeName{{labgrp00, 0x8400}, {labgrp00.WithSuffix(0x20), 0x8400}},
			wantErr: "nbns: no unique active <20> name in node status reply; the host has LABGRP<00> (group), LABGRP<20> (group)",
		},
		{
			name:    "<20> not active",
			names:   []NodeName{{labsrv20, 0x0000}, {labsrv00, 0x0400}},
			wantErr: "nbns: no unique active <20> name in node status reply; the host has LABSRV<20> (unique, inactive), LABSRV<00> (unique)",
		},
		{
			name:    "no names",
			wantErr: "nbns: node status reply lists no names",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NodeStatusResponse{Names: tt.names}
			got, err := r.ServerName()
			if tt.wantErr != "" {
				var ne *NoServerNameError
				if !errors.As(err, &ne) || err.Error() != tt.wantErr {
					t.Fatalf("ServerName() error = %v, want %s", err, tt.wantErr)
				}
				if len(tt.names) > 0 && &ne.Names[0] == &r.Names[0] {
					t.Error("NoServerNameError.Names aliases the response")
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ServerName() = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestHeaderFlags(t *testing.T) {
	tests := []struct {
		flags uint16
		want  Header
	}{
		{0x8000, Header{Response: true}},
		{0x7800, Header{OpCode: OpMultihomedRegistration}},
		{0x4000, Header{OpCode: OpRefresh}},
		{0x0400, Header{Authoritative: true}},
		{0x0200, Header{Truncated: true}},
		{0x0100, Header{RecursionDesired: true}},
		{0x0080, Header{RecursionAvailable: true}},
		{0x0010, Header{Broadcast: true}},
		{0x000F, Header{RCode: 15}}, // nmap masks RCODE with 0x7
		{0x0008, Header{RCode: 8}},
		{0x0060, Header{}}, // the two zero bits are ignored
	}
	for _, tt := range tests {
		var h Header
		if err := h.UnmarshalBinary(header(0, tt.flags, 0, 0, 0, 0)); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, h); diff != "" {
			t.Errorf("flags %#04x (-want +got):\n%s", tt.flags, diff)
		}
		b, err := h.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := binary.BigEndian.Uint16(b[2:]); got != tt.flags&^0x0060 {
			t.Errorf("flags %#04x encoded as %#04x", tt.flags, got)
		}
	}
	h := Header{ID: 1, QDCount: 2, ANCount: 3, NSCount: 4, ARCount: 5}
	b, _ := h.AppendBinary(nil)
	if diff := cmp.Diff(header(1, 0, 2, 3, 4, 5), b); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	if _, err := (&Header{OpCode: 16}).AppendBinary(nil); err == nil {
		t.Error("OpCode 16 encoded")
	}
	for _, x := range []struct{ got, want string }{
		{OpQuery.String(), "query"}, {OpCode(3).String(), "opcode 3"}, {OpWACK.GoString(), "nbns.OpCode(7)"},
		{RCodeActive.String(), "name active"}, {RCode(9).String(), "rcode 9"}, {RCodeRefused.GoString(), "nbns.RCode(5)"},
		{HNode.String(), "H"}, {NodeType(4).String(), "NodeType(4)"},
	} {
		if x.got != x.want {
			t.Errorf("got %q, want %q", x.got, x.want)
		}
	}
}
