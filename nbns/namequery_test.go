package nbns

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var (
	labsrvIP = netip.MustParseAddr("198.18.0.2")
	bcastAll = netip.MustParseAddr("255.255.255.255")
	zeroIP   = netip.MustParseAddr("0.0.0.0")
	fooName  = MustName("FOO", FileServer)
	labgrp1e = MustName("LABGRP", BrowserElection)
)

// nqCmp compares names and addresses by value, and treats a nil entry list
// like an empty one.
var nqCmp = cmp.Options{
	nameCmp,
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmpopts.EquateEmpty(),
}

func addrEntry(flags uint16, a netip.Addr) []byte {
	b := a.As4()
	return append(u16(flags), b[:]...)
}

// TestNameQueryGolden checks the codec against the packets Samba sends, as
// NAMES.md §1 gives them. They are constructed from the cited code (nmbd's
// reply_netbios_packet, nmblookup's name_query_send; samba-team/samba
// source3/nmbd/nmbd_packets.c, source3/libsmb/namequery.c) and the RFC, not
// captured: a capture from the lab replaces them later. Both directions are
// checked byte for byte: decoding gives the value, and encoding the value
// gives the bytes.
func TestNameQueryGolden(t *testing.T) {
	t.Run("broadcast request, flags 0x0110", func(t *testing.T) {
		// NAMES.md §1.1: a broadcast query for LABSRV<20>, TRN 0x1234,
		// as nmblookup and Windows send it.
		pkt := join(
			[]byte{0x12, 0x34, 0x01, 0x10, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
			[]byte{0x20}, []byte("EMEBECFDFCFGCACACACACACACACACACA"), []byte{0x00},
			[]byte{0x00, 0x20, 0x00, 0x01},
		)
		want := NameQueryRequest{ID: 0x1234, Name: labsrv20, Broadcast: true, RecursionDesired: true}
		var got NameQueryRequest
		if err := got.UnmarshalBinary(pkt); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got, nqCmp); diff != "" {
			t.Errorf("UnmarshalBinary (-want +got):\n%s", diff)
		}
		out, err := want.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(pkt, out); diff != "" {
			t.Errorf("AppendBinary (-NAMES.md +ours):\n%s", diff)
		}
		if len(out) != 50 {
			t.Errorf("request is %d bytes, want 50", len(out))
		}
	})
	tests := []struct {
		name string
		pkt  []byte
		want NameQueryResponse
	}{
		{
			// NAMES.md §1.2: nmbd answers LABSRV<20> at 198.18.0.2 with
			// flags 0x8580 and TTL 259200 (max ttl); 62 bytes.
			name: "nmbd positive, flags 0x8580, TTL 259200",
			pkt: join(
				[]byte{0x12, 0x34, 0x85, 0x80, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00},
				[]byte{0x20}, []byte("EMEBECFDFCFGCACACACACACACACACACA"), []byte{0x00},
				[]byte{0x00, 0x20, 0x00, 0x01},             // NB, IN
				[]byte{0x00, 0x03, 0xf4, 0x80},             // TTL 259200
				[]byte{0x00, 0x06},                         // RDLENGTH: one ADDR_ENTRY
				[]byte{0x00, 0x00, 0xc6, 0x12, 0x00, 0x02}, // unique, B node, 198.18.0.2
			),
			want: NameQueryResponse{
				Header: Header{ID: 0x1234, Response: true, Authoritative: true, RecursionDesired: true,
					RecursionAvailable: true, ANCount: 1},
				Kind:    PositiveResponse,
				Name:    labsrv20,
				TTL:     259200,
				Entries: []AddrEntry{{Flags: 0, Addr: labsrvIP}},
			},
		},
		{
			// NAMES.md §1.3: nmbd's NAM_ERR, flags 0x8583, ANCOUNT 1,
			// RR_NAME the question, type NULL, TTL 0, RDLENGTH 0.
			name: "nmbd negative, flags 0x8583, type NULL",
			pkt: join(
				[]byte{0x12, 0x34, 0x85, 0x83, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00},
				encoded(fooName),
				[]byte{0x00, 0x0a, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
			),
			want: NameQueryResponse{
				Header: Header{ID: 0x1234, Response: true, Authoritative: true, RecursionDesired: true,
					RecursionAvailable: true, RCode: RCodeNameError, ANCount: 1},
				Kind: NegativeResponse,
				Name: fooName,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got NameQueryResponse
			if err := got.UnmarshalBinary(tt.pkt); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, nqCmp); diff != "" {
				t.Errorf("UnmarshalBinary (-want +got):\n%s", diff)
			}
			out, err := got.AppendBinary(nil)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.pkt, out); diff != "" {
				t.Errorf("AppendBinary (-NAMES.md +ours):\n%s", diff)
			}
		})
	}
}

func TestNameQueryRequest(t *testing.T) {
	tests := []struct {
		name string
		req  NameQueryRequest
		bs   [][]byte
	}{
		{
			name: "unicast to the host, RD clear",
			req:  NameQueryRequest{ID: 1, Name: labsrv20},
			bs:   [][]byte{header(1, 0x0000, 1, 0, 0, 0), encoded(labsrv20), u16(TypeNB), u16(ClassIN)},
		},
		{
			name: "unicast to a WINS server, RD set",
			req:  NameQueryRequest{ID: 0xbeef, Name: labgrp1e, RecursionDesired: true},
			bs:   [][]byte{header(0xbeef, 0x0100, 1, 0, 0, 0), encoded(labgrp1e), u16(0x0020), u16(0x0001)},
		},
		{
			name: "broadcast, scoped",
			req:  NameQueryRequest{ID: 7, Name: labsrv20, Scope: "corp.example", Broadcast: true, RecursionDesired: true},
			bs: [][]byte{
				header(7, 0x0110, 1, 0, 0, 0),
				{0x20}, labsrv20.AppendFirstLevel(nil), {4}, []byte("corp"), {7}, []byte("example"), {0},
				u16(TypeNB), u16(ClassIN),
			},
		},
		{
			name: "broadcast without RD (pysmb)",
			req:  NameQueryRequest{ID: 8, Name: labsrv00, Broadcast: true},
			bs:   [][]byte{header(8, 0x0010, 1, 0, 0, 0), encoded(labsrv00), u16(TypeNB), u16(ClassIN)},
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
			var back NameQueryRequest
			if err := back.UnmarshalBinary(got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.req, back, nqCmp); diff != "" {
				t.Errorf("UnmarshalBinary (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := (&NameQueryRequest{Scope: "a..b"}).MarshalBinary(); err == nil {
		t.Error("a bad scope encoded")
	}
}

func TestNameQueryRequestErrors(t *testing.T) {
	q := join(header(1, 0x0110, 1, 0, 0, 0), encoded(labsrv20), u16(TypeNB), u16(ClassIN))
	tests := []struct {
		name  string
		bs    [][]byte
		field string
		want  error
	}{
		{"short header", [][]byte{q[:11]}, "HEADER", io.ErrUnexpectedEOF},
		{"a response", [][]byte{header(1, 0x8110, 1, 0, 0, 0), q[12:]}, "HEADER", errNotRequest},
		{"a registration", [][]byte{header(1, 0x2910, 1, 0, 0, 0), q[12:]}, "OPCODE", errOpCode},
		{"no question", [][]byte{header(1, 0x0110, 0, 0, 0, 0), q[12:]}, "QDCOUNT", errQDCount},
		{"node status, not NB", [][]byte{q[:46], u16(TypeNBSTAT), u16(ClassIN)}, "QUESTION_TYPE", errTypeNB},
		{"class not IN", [][]byte{q[:48], u16(3)}, "QUESTION_CLASS", errClass},
		{"cut in QUESTION_CLASS", [][]byte{q[:49]}, "QUESTION_TYPE", io.ErrUnexpectedEOF},
		{"cut in QUESTION_NAME", [][]byte{q[:30]}, "QUESTION_NAME", io.ErrUnexpectedEOF},
		{"pointer to itself", [][]byte{q[:12], {0xC0, 0x0C}}, "QUESTION_NAME", errPointerForward},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r NameQueryRequest
			err := r.UnmarshalBinary(join(tt.bs...))
			pe, ok := errors.AsType[*ParseError](err)
			if !ok || !errors.Is(err, tt.want) || pe.Field != tt.field {
				t.Fatalf("UnmarshalBinary error = %v, want a %s error wrapping %v", err, tt.field, tt.want)
			}
		})
	}
}

// TestNameQueryResponse checks each kind of response both ways, field by
// field: encoding gives the bytes, decoding gives the value back.
func TestNameQueryResponse(t *testing.T) {
	wins := netip.MustParseAddr("198.18.0.9")
	tests := []struct {
		name string
		r    NameQueryResponse
		bs   [][]byte
	}{
		{
			name: "positive, a group of three, one of them 255.255.255.255",
			r: NameQueryResponse{
				Header: Header{ID: 0x0102, Authoritative: true, RecursionDesired: true, RecursionAvailable: true},
				Name:   labgrp1e,
				TTL:    300000,
				Entries: []AddrEntry{
					{Flags: 0x8000, Addr: netip.MustParseAddr("198.18.0.2")},
					{Flags: 0xE000, Addr: netip.MustParseAddr("198.18.0.3")},
					{Flags: 0x8000, Addr: bcastAll},
				},
			},
			bs: [][]byte{
				header(0x0102, 0x8580, 0, 1, 0, 0), encoded(labgrp1e),
				u16(TypeNB), u16(ClassIN), u32(300000), u16(18),
				addrEntry(0x8000, netip.MustParseAddr("198.18.0.2")),
				addrEntry(0xE000, netip.MustParseAddr("198.18.0.3")), // group, H node
				addrEntry(0x8000, bcastAll),
			},
		},
		{
			name: "positive, scoped, no entries, TC",
			r: NameQueryResponse{
				Header: Header{ID: 3, Authoritative: true, Truncated: true},
				Name:   labsrv20, Scope: "corp",
			},
			bs: [][]byte{
				header(3, 0x8600, 0, 1, 0, 0), {0x20}, labsrv20.AppendFirstLevel(nil), {4}, []byte("corp"), {0},
				u16(TypeNB), u16(ClassIN), u32(0), u16(0),
			},
		},
		{
			name: "negative, refused",
			r: NameQueryResponse{
				Header: Header{ID: 4, Authoritative: true, RecursionAvailable: true, RCode: RCodeRefused},
				Kind:   NegativeResponse, Name: fooName,
			},
			bs: [][]byte{header(4, 0x8485, 0, 1, 0, 0), encoded(fooName), u16(TypeNULL), u16(ClassIN), u32(0), u16(0)},
		},
		{
			name: "WACK, 10 s",
			r: NameQueryResponse{
				Header: Header{ID: 5, Authoritative: true},
				Kind:   WACKResponse, Name: labsrv20, TTL: 10, WACKFlags: 0x0100,
			},
			bs: [][]byte{
				header(5, 0xBC00, 0, 1, 0, 0), encoded(labsrv20),
				u16(TypeNULL), u16(ClassIN), u32(10), u16(2), u16(0x0100),
			},
		},
		{
			name: "redirect",
			r: NameQueryResponse{
				Header: Header{ID: 6, RecursionDesired: true},
				Kind:   RedirectResponse, TTL: 600,
				Redirect: Redirect{Domain: "corp.example", Server: "wins.corp.example", Addr: wins},
			},
			bs: [][]byte{
				header(6, 0x8100, 0, 0, 1, 1),
				{4}, []byte("corp"), {7}, []byte("example"), {0}, u16(TypeNS), u16(ClassIN), u32(600), u16(19),
				{4}, []byte("wins"), {4}, []byte("corp"), {7}, []byte("example"), {0},
				{4}, []byte("wins"), {4}, []byte("corp"), {7}, []byte("example"), {0}, u16(TypeA), u16(ClassIN), u32(600), u16(4),
				{198, 18, 0, 9},
			},
		},
		{
			name: "redirect, root domain",
			r: NameQueryResponse{
				Header:   Header{ID: 7},
				Kind:     RedirectResponse,
				Redirect: Redirect{Server: "nbns", Addr: wins},
			},
			bs: [][]byte{
				header(7, 0x8000, 0, 0, 1, 1),
				{0}, u16(TypeNS), u16(ClassIN), u32(0), u16(6), {4}, []byte("nbns"), {0},
				{4}, []byte("nbns"), {0}, u16(TypeA), u16(ClassIN), u32(0), u16(4), {198, 18, 0, 9},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := join(tt.bs...)
			got, err := tt.r.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("MarshalBinary (-want +got):\n%s", diff)
			}
			var back NameQueryResponse
			if err := back.UnmarshalBinary(got); err != nil {
				t.Fatal(err)
			}
			wantBack := tt.r
			h := &wantBack.Header
			h.Response = true
			h.ANCount, h.NSCount, h.ARCount = 1, 0, 0
			switch tt.r.Kind {
			case WACKResponse:
				h.OpCode = OpWACK
			case RedirectResponse:
				h.ANCount, h.NSCount, h.ARCount = 0, 1, 1
			}
			if diff := cmp.Diff(wantBack, back, nqCmp); diff != "" {
				t.Errorf("UnmarshalBinary (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNameQueryResponseLenient covers forms a strict decoder would refuse
// but that RFC 1002 or real servers give.
func TestNameQueryResponseLenient(t *testing.T) {
	wins := netip.MustParseAddr("198.18.0.9")
	tests := []struct {
		name string
		bs   [][]byte
		want NameQueryResponse
	}{
		{
			name: "negative with ANCOUNT 0, as RFC 1002 §4.2.14 draws it",
			bs:   [][]byte{header(9, 0x8583, 0, 0, 0, 0), encoded(fooName), u16(TypeNULL), u16(ClassIN), u32(0), u16(0)},
			want: NameQueryResponse{
				Header: Header{ID: 9, Response: true, Authoritative: true, RecursionDesired: true, RecursionAvailable: true, RCode: 3},
				Kind:   NegativeResponse, Name: fooName,
			},
		},
		{
			name: "negative with type NB and an RDATA, skipped",
			bs:   [][]byte{header(9, 0x8582, 0, 1, 0, 0), encoded(fooName), u16(TypeNB), u16(ClassIN), u32(7), u16(6), addrEntry(0, labsrvIP)},
			want: NameQueryResponse{
				Header: Header{ID: 9, Response: true, Authoritative: true, RecursionDesired: true, RecursionAvailable: true, RCode: 2, ANCount: 1},
				Kind:   NegativeResponse, Name: fooName, TTL: 7,
			},
		},
		{
			name: "WACK with type 0x0020, as the RFC's diagram labels it",
			bs:   [][]byte{header(9, 0xBC00, 0, 1, 0, 0), encoded(labsrv20), u16(TypeNB), u16(ClassIN), u32(30), u16(2), u16(0x0110)},
			want: NameQueryResponse{
				Header: Header{ID: 9, Response: true, OpCode: OpWACK, Authoritative: true, ANCount: 1},
				Kind:   WACKResponse, Name: labsrv20, TTL: 30, WACKFlags: 0x0110,
			},
		},
		{
			name: "positive echoing the question, RR_NAME a pointer to it",
			bs: [][]byte{
				header(9, 0x8500, 1, 1, 0, 0), encoded(labsrv20), u16(TypeNB), u16(ClassIN),
				{0xC0, 0x0C}, u16(TypeNB), u16(ClassIN), u32(300000), u16(6), addrEntry(0x6000, labsrvIP),
			},
			want: NameQueryResponse{
				Header: Header{ID: 9, Response: true, Authoritative: true, RecursionDesired: true, QDCount: 1, ANCount: 1},
				Name:   labsrv20, TTL: 300000, Entries: []AddrEntry{{Flags: 0x6000, Addr: labsrvIP}},
			},
		},
		{
			name: "positive with 65535 answer records: only the first is read",
			bs:   [][]byte{header(9, 0x8400, 0, 0xFFFF, 0, 0), encoded(labsrv20), u16(TypeNB), u16(ClassIN), u32(1), u16(6), addrEntry(0x1FFF, zeroIP)},
			want: NameQueryResponse{
				Header: Header{ID: 9, Response: true, Authoritative: true, ANCount: 0xFFFF},
				Name:   labsrv20, TTL: 1, Entries: []AddrEntry{{Flags: 0x1FFF, Addr: zeroIP}},
			},
		},
		{
			name: "redirect, A record's name a pointer into NSD_NAME, as §4.2.15 suggests",
			bs: [][]byte{
				header(9, 0x8100, 0, 0, 1, 1),
				{0}, u16(TypeNS), u16(ClassIN), u32(60), u16(6), {4}, []byte("nbns"), {0},
				{0xC0, 12 + 11}, u16(TypeA), u16(ClassIN), u32(1), u16(4), {198, 18, 0, 9},
			},
			want: NameQueryResponse{
				Header: Header{ID: 9, Response: true, RecursionDesired: true, NSCount: 1, ARCount: 1},
				Kind:   RedirectResponse, TTL: 60,
				Redirect: Redirect{Server: "nbns", Addr: wins},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got NameQueryResponse
			if err := got.UnmarshalBinary(join(tt.bs...)); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, nqCmp); diff != "" {
				t.Errorf("UnmarshalBinary (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNameQueryResponseTraps feeds the decoder hostile input. Each must
// end in a *ParseError naming the field, without a panic and without
// allocating more than the input's size.
func TestNameQueryResponseTraps(t *testing.T) {
	pos := join(header(1, 0x8580, 0, 1, 0, 0), encoded(labsrv20), u16(TypeNB), u16(ClassIN), u32(259200), u16(12),
		addrEntry(0, labsrvIP), addrEntry(0, labsrvIP))
	rrType := HeaderLen + 34
	rdlen := rrType + 8
	redirect := func(nsCount, arCount uint16, rest ...[]byte) []byte {
		return join(append([][]byte{header(1, 0x8100, 0, 0, nsCount, arCount)}, rest...)...)
	}
	nsRR := join([]byte{0}, u16(TypeNS), u16(ClassIN), u32(0), u16(6), []byte{4}, []byte("nbns"), []byte{0})
	aRR := join([]byte{4}, []byte("nbns"), []byte{0}, u16(TypeA), u16(ClassIN), u32(0), u16(4), []byte{198, 18, 0, 9})
	tests := []struct {
		name  string
		bs    [][]byte
		field string
		want  error
	}{
		{"empty", nil, "HEADER", io.ErrUnexpectedEOF},
		{"a request", [][]byte{header(1, 0x0110, 0, 1, 0, 0), pos[12:]}, "HEADER", errNotResponse},
		{"B set in a response", [][]byte{header(1, 0x8590, 0, 1, 0, 0), pos[12:]}, "NM_FLAGS", errBroadcastResponse},
		{"opcode 5, registration", [][]byte{header(1, 0xAD80, 0, 1, 0, 0), pos[12:]}, "OPCODE", errOpCode},
		{"no answer, no authority", [][]byte{header(1, 0x8580, 0, 0, 0, 0), pos[12:]}, "ANCOUNT", errNoAnswer},
		{"RDLENGTH not a multiple of 6", [][]byte{pos[:rdlen], u16(11), pos[rdlen+2 : len(pos)-1]}, "RDLENGTH", errAddrEntryLen},
		{"RDLENGTH 7 with one entry and a byte", [][]byte{pos[:rdlen], u16(7), pos[rdlen+2 : rdlen+9]}, "RDLENGTH", errAddrEntryLen},
		{"RDLENGTH lies: 0xFFFF", [][]byte{pos[:rdlen], u16(0xFFFC), pos[rdlen+2:]}, "RDATA", io.ErrUnexpectedEOF},
		{"RDLENGTH lies: one entry more", [][]byte{pos[:rdlen], u16(18), pos[rdlen+2:]}, "RDATA", io.ErrUnexpectedEOF},
		{"cut in RR_NAME", [][]byte{pos[:30]}, "RR_NAME", io.ErrUnexpectedEOF},
		{"cut in RR_TYPE", [][]byte{pos[:rrType+1]}, "RR_TYPE", io.ErrUnexpectedEOF},
		{"cut in TTL", [][]byte{pos[:rrType+6]}, "RDLENGTH", io.ErrUnexpectedEOF},
		{"cut in RDLENGTH", [][]byte{pos[:rdlen+1]}, "RDLENGTH", io.ErrUnexpectedEOF},
		{"cut in an entry", [][]byte{pos[:len(pos)-1]}, "RDATA", io.ErrUnexpectedEOF},
		{"positive of type NBSTAT", [][]byte{pos[:rrType], u16(TypeNBSTAT), pos[rrType+2:]}, "RR_TYPE", errTypeNB},
		{"positive of type NULL", [][]byte{pos[:rrType], u16(TypeNULL), pos[rrType+2:]}, "RR_TYPE", errTypeNB},
		{"class 3", [][]byte{pos[:rrType+2], u16(3), pos[rrType+4:]}, "RR_CLASS", errClass},
		{"negative of type NBSTAT", [][]byte{header(1, 0x8583, 0, 1, 0, 0), encoded(fooName), u16(TypeNBSTAT), u16(1), u32(0), u16(0)}, "RR_TYPE", errTypeNULL},
		{"negative without its record", [][]byte{header(1, 0x8583, 0, 0, 0, 0)}, "RR_NAME", io.ErrUnexpectedEOF},
		{"negative whose RDLENGTH lies", [][]byte{header(1, 0x8583, 0, 1, 0, 0), encoded(fooName), u16(TypeNULL), u16(1), u32(0), u16(9)}, "RDATA", io.ErrUnexpectedEOF},
		{"WACK with RDLENGTH 0", [][]byte{header(1, 0xBC00, 0, 1, 0, 0), encoded(labsrv20), u16(TypeNULL), u16(1), u32(9), u16(0)}, "RDLENGTH", errWACKLen},
		{"WACK with RDLENGTH 3", [][]byte{header(1, 0xBC00, 0, 1, 0, 0), encoded(labsrv20), u16(TypeNULL), u16(1), u32(9), u16(3), {1, 2, 3}}, "RDLENGTH", errWACKLen},
		{"WACK cut in RDATA", [][]byte{header(1, 0xBC00, 0, 1, 0, 0), encoded(labsrv20), u16(TypeNULL), u16(1), u32(9), u16(2), {1}}, "RDATA", io.ErrUnexpectedEOF},
		{"pointer to itself", [][]byte{pos[:12], {0xC0, 0x0C}, pos[rrType:]}, "RR_NAME", errPointerForward},
		{"pointer loop via a label", [][]byte{header(1, 0x8580, 0, 1, 0, 0), {0x20}, labsrv20.AppendFirstLevel(nil), {3}, []byte("abc"), {0xC0, 0x2D}}, "RR_NAME", errPointerHops},
		{"pointer loop via the header", [][]byte{header(1, 0x8580, 1, 1, 0xC00C, 0), {0xC0, 0x08}, pos[12:]}, "QUESTION_NAME", errPointerForward},
		{"65535 questions", [][]byte{header(1, 0x8580, 0xFFFF, 1, 0, 0), pos[12:]}, "QUESTION_NAME", errFirstLabel},
		{"question cut in its type", [][]byte{header(1, 0x8580, 1, 1, 0, 0), encoded(labsrv20), {0}}, "QUESTION_TYPE", io.ErrUnexpectedEOF},
		{"redirect with two authority records", [][]byte{redirect(2, 1, nsRR, aRR)}, "NSCOUNT", errNSCount},
		{"redirect without an additional record", [][]byte{redirect(1, 0, nsRR)}, "ARCOUNT", errNoAdditional},
		{"redirect whose NS record is NB", [][]byte{redirect(1, 1, nsRR[:1], u16(TypeNB), nsRR[3:], aRR)}, "RR_TYPE", errTypeNS},
		{"redirect whose RDLENGTH is past NSD_NAME", [][]byte{redirect(1, 1, nsRR[:9], u16(7), nsRR[11:], aRR)}, "RDLENGTH", errNSDNameLen},
		{"redirect whose RDLENGTH lies", [][]byte{redirect(1, 1, nsRR[:9], u16(200), nsRR[11:])}, "RDATA", io.ErrUnexpectedEOF},
		{"redirect whose NSD_NAME points at itself", [][]byte{redirect(1, 1, nsRR[:9], u16(2), []byte{0xC0, 23}, aRR)}, "NSD_NAME", errPointerForward},
		{"redirect whose A record is NB", [][]byte{redirect(1, 1, nsRR, aRR[:6], u16(TypeNB), aRR[8:])}, "RR_TYPE", errTypeA},
		{"redirect whose A record has 6 bytes", [][]byte{redirect(1, 1, nsRR, aRR[:14], u16(6), aRR[16:], []byte{0, 137})}, "RDLENGTH", errALen},
		{"redirect cut in NSD_IP_ADDR", [][]byte{redirect(1, 1, nsRR, aRR[:len(aRR)-1])}, "NSD_IP_ADDR", io.ErrUnexpectedEOF},
		{"redirect, domain label with a dot", [][]byte{redirect(1, 1, []byte{3}, []byte("a.b"), nsRR)}, "RR_NAME", errDotInLabel},
		{"redirect, domain label 0x40", [][]byte{redirect(1, 1, []byte{0x40}, nsRR)}, "RR_NAME", errReservedLabel},
		{"redirect, domain over 255 bytes", [][]byte{redirect(1, 1, bytes.Repeat(append([]byte{63}, bytes.Repeat([]byte{'a'}, 63)...), 4), nsRR)}, "RR_NAME", errEncodedTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := join(tt.bs...)
			var r NameQueryResponse
			err := r.UnmarshalBinary(in)
			pe, ok := errors.AsType[*ParseError](err)
			if !ok || !errors.Is(err, tt.want) || pe.Field != tt.field {
				t.Fatalf("UnmarshalBinary error = %v, want a %s error wrapping %v", err, tt.field, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "nbns: parsing "+tt.field+" at offset ") {
				t.Errorf("error %q does not name the field", err)
			}
			if n := allocBytes(func() { (&NameQueryResponse{}).UnmarshalBinary(in) }); n > uint64(len(in))+256 {
				t.Errorf("decoding %d bytes allocated %d bytes", len(in), n)
			}
		})
	}
}

func TestNameQueryResponseEncodeErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		r    NameQueryResponse
	}{
		{"positive with an RCODE", NameQueryResponse{Header: Header{RCode: RCodeNameError}}},
		{"negative without one", NameQueryResponse{Kind: NegativeResponse}},
		{"redirect with an RCODE", NameQueryResponse{Kind: RedirectResponse, Header: Header{RCode: 1}, Redirect: Redirect{Addr: labsrvIP}}},
		{"unknown kind", NameQueryResponse{Kind: 9}},
		{"RCODE 16", NameQueryResponse{Kind: WACKResponse, Header: Header{RCode: 16}}},
		{"IPv6 entry", NameQueryResponse{Entries: []AddrEntry{{Addr: netip.MustParseAddr("::1")}}}},
		{"zero entry", NameQueryResponse{Entries: []AddrEntry{{}}}},
		{"4in6 entry", NameQueryResponse{Entries: []AddrEntry{{Addr: netip.MustParseAddr("::ffff:198.18.0.2")}}}},
		{"too many entries", NameQueryResponse{Entries: make([]AddrEntry, MaxAddrEntries+1)}},
		{"bad scope", NameQueryResponse{Scope: "a..b"}},
		{"redirect without address", NameQueryResponse{Kind: RedirectResponse}},
		{"redirect to IPv6", NameQueryResponse{Kind: RedirectResponse, Redirect: Redirect{Addr: netip.MustParseAddr("::1")}}},
		{"redirect, empty label", NameQueryResponse{Kind: RedirectResponse, Redirect: Redirect{Server: "a..b", Addr: labsrvIP}}},
		{"redirect, label of 64", NameQueryResponse{Kind: RedirectResponse, Redirect: Redirect{Domain: strings.Repeat("d", 64), Addr: labsrvIP}}},
		{"redirect, name of 256", NameQueryResponse{Kind: RedirectResponse, Redirect: Redirect{Server: strings.Repeat(strings.Repeat("s", 63)+".", 4), Addr: labsrvIP}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if b, err := tt.r.AppendBinary([]byte("x")); err == nil || string(b) != "x" {
				t.Errorf("AppendBinary = %q, %v; want an error and the buffer as it was", b, err)
			}
		})
	}
	// 255 bytes is the limit, and it is allowed.
	ok := NameQueryResponse{Kind: RedirectResponse, Redirect: Redirect{Server: strings.Repeat(strings.Repeat("s", 63)+".", 3) + strings.Repeat("t", 61), Addr: labsrvIP}}
	if _, err := ok.MarshalBinary(); err != nil {
		t.Errorf("a 255-byte NSD_NAME: %v", err)
	}
}

func TestAddrEntryIsHost(t *testing.T) {
	for _, tt := range []struct {
		addr netip.Addr
		want bool
	}{
		{labsrvIP, true},
		{netip.MustParseAddr("198.18.0.255"), true}, // a directed broadcast can't be told from a host
		{zeroIP, false},
		{bcastAll, false},
		{netip.Addr{}, false},
	} {
		if got := (AddrEntry{Addr: tt.addr}).IsHost(); got != tt.want {
			t.Errorf("AddrEntry{Addr: %v}.IsHost() = %v, want %v", tt.addr, got, tt.want)
		}
	}
}

func TestNBFlags(t *testing.T) {
	for _, tt := range []struct {
		f     NBFlags
		group bool
		ont   NodeType
		str   string
	}{
		{0x0000, false, BNode, "B"},
		{0x8000, true, BNode, "<GROUP> B"},
		{0x2000, false, PNode, "P"},
		{0xC000, true, MNode, "<GROUP> M"},
		{0x6000, false, HNode, "H"},
		{0x6001, false, HNode, "H reserved=0x1"},
		{0xFFFF, true, HNode, "<GROUP> H reserved=0x1fff"},
	} {
		if tt.f.Group() != tt.group || tt.f.OwnerNodeType() != tt.ont || tt.f.String() != tt.str {
			t.Errorf("NBFlags(%#04x): Group %v, OwnerNodeType %v, String %q; want %v, %v, %q",
				uint16(tt.f), tt.f.Group(), tt.f.OwnerNodeType(), tt.f.String(), tt.group, tt.ont, tt.str)
		}
		if r := tt.f & NBMaskReserved; r == 0 && NewNBFlags(tt.group, tt.ont) != tt.f {
			t.Errorf("NewNBFlags(%v, %v) = %#04x, want %#04x", tt.group, tt.ont, uint16(NewNBFlags(tt.group, tt.ont)), uint16(tt.f))
		}
	}
	for _, x := range []struct{ got, want string }{
		{PositiveResponse.String(), "positive"}, {NegativeResponse.String(), "negative"},
		{RedirectResponse.String(), "redirect"}, {WACKResponse.String(), "WACK"},
		{ResponseKind(4).String(), "ResponseKind(4)"}, {WACKResponse.GoString(), "nbns.WACKResponse"},
		{ResponseKind(9).GoString(), "nbns.ResponseKind(9)"},
		{RCodeNameError.Error(), "name error"},
	} {
		if x.got != x.want {
			t.Errorf("got %q, want %q", x.got, x.want)
		}
	}
}

// TestNameQueryAllocs holds the codec to its promise: encoding into the
// caller's buffer and decoding into a reused value allocate nothing, the
// entries included.
func TestNameQueryAllocs(t *testing.T) {
	group := NameQueryResponse{
		Header: Header{ID: 1, Authoritative: true}, Name: labgrp1e, Scope: "corp.example", TTL: 300,
		Entries: []AddrEntry{{0x8000, labsrvIP}, {0x8000, netip.MustParseAddr("198.18.0.3")}, {0x8000, bcastAll}},
	}
	groupPkt, err := group.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	redirect := NameQueryResponse{Kind: RedirectResponse, Redirect: Redirect{Domain: "corp", Server: "wins.corp", Addr: labsrvIP}}
	redirectPkt, err := redirect.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	wackPkt, _ := (&NameQueryResponse{Kind: WACKResponse, Name: labsrv20, TTL: 9}).MarshalBinary()
	reqPkt, _ := (&NameQueryRequest{ID: 1, Name: labsrv20, Scope: "corp.example", Broadcast: true}).MarshalBinary()
	buf := make([]byte, 0, 1024)
	var r NameQueryResponse
	var q NameQueryRequest
	for _, tt := range []struct {
		name string
		f    func()
	}{
		{"NameQueryRequest.AppendBinary", func() {
			buf, _ = (&NameQueryRequest{ID: 1, Name: labsrv20, Scope: "corp", Broadcast: true}).AppendBinary(buf[:0])
		}},
		{"NameQueryRequest.UnmarshalBinary scoped", func() { q.UnmarshalBinary(reqPkt) }},
		{"NameQueryResponse.AppendBinary positive", func() { buf, _ = group.AppendBinary(buf[:0]) }},
		{"NameQueryResponse.AppendBinary redirect", func() { buf, _ = redirect.AppendBinary(buf[:0]) }},
		{"NameQueryResponse.UnmarshalBinary positive", func() { r.UnmarshalBinary(groupPkt) }},
		{"NameQueryResponse.UnmarshalBinary redirect", func() { r.UnmarshalBinary(redirectPkt) }},
		{"NameQueryResponse.UnmarshalBinary WACK", func() { r.UnmarshalBinary(wackPkt) }},
	} {
		tt.f() // grow the reused values first
		tt.f()
		if n := testing.AllocsPerRun(100, tt.f); n != 0 {
			t.Errorf("%s: %v allocations, want 0", tt.name, n)
		}
	}
}

// BenchmarkParseNameQueryResponse decodes a positive answer for a group
// of three into a reused value.
func BenchmarkParseNameQueryResponse(b *testing.B) {
	r := NameQueryResponse{
		Header: Header{ID: 1, Authoritative: true, RecursionDesired: true, RecursionAvailable: true}, Name: labgrp1e, TTL: 300,
		Entries: []AddrEntry{{0x8000, labsrvIP}, {0x8000, netip.MustParseAddr("198.18.0.3")}, {0x8000, netip.MustParseAddr("198.18.0.4")}},
	}
	pkt, err := r.MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	var got NameQueryResponse
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		if err := got.UnmarshalBinary(pkt); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendNameQueryRequest builds the 50-byte broadcast query into
// a reused buffer.
func BenchmarkAppendNameQueryRequest(b *testing.B) {
	buf := make([]byte, 0, 64)
	q := NameQueryRequest{ID: 0x1234, Name: labsrv20, Broadcast: true, RecursionDesired: true}
	b.ReportAllocs()
	b.SetBytes(50)
	for b.Loop() {
		var err error
		if buf, err = q.AppendBinary(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendNameQueryResponse builds nmbd's 62-byte positive answer.
func BenchmarkAppendNameQueryResponse(b *testing.B) {
	r := NameQueryResponse{
		Header: Header{ID: 0x1234, Authoritative: true, RecursionDesired: true, RecursionAvailable: true},
		Name:   labsrv20, TTL: 259200, Entries: []AddrEntry{{0, labsrvIP}},
	}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	b.SetBytes(62)
	for b.Loop() {
		var err error
		if buf, err = r.AppendBinary(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}
