package nbns_test

// Fuzz targets for the name query codec, and their seeds, which
// fuzzCorpus (fuzz_test.go) adds to the committed corpus. Run one with
//
//	go test -run '^$' -fuzz '^FuzzNameQueryResponse$' -fuzztime 30s ./nbns/

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/netbios-go/netbios/nbns"
)

// FuzzNameQueryRequest checks that a request UnmarshalBinary accepts
// encodes back to a request that decodes to the same value, and that a
// request in canonical form is reproduced byte for byte.
func FuzzNameQueryRequest(f *testing.F) {
	for _, s := range fuzzCorpus(f)["FuzzNameQueryRequest"][:3] {
		f.Add(s.args[0].([]byte))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var q nbns.NameQueryRequest
		err := q.UnmarshalBinary(in)
		reused := nbns.NameQueryRequest{ID: 7, Name: nbns.MustName("OLD", nbns.FileServer), Scope: "OLD.SCOPE", Broadcast: true, RecursionDesired: true}
		errReused := reused.UnmarshalBinary(in)
		if (err == nil) != (errReused == nil) || err == nil && reused != q {
			t.Fatalf("decoding into a used value = %+v, %v; into a zero value = %+v, %v", reused, errReused, q, err)
		}
		if err != nil {
			fuzzCheckError(t, err, len(in))
			return
		}
		enc, err := q.AppendBinary(nil)
		if err != nil {
			t.Fatalf("AppendBinary(%+v): %v", q, err)
		}
		var q2 nbns.NameQueryRequest
		if err := q2.UnmarshalBinary(enc); err != nil || q2 != q {
			t.Fatalf("round trip of %x: got %+v, %v; want %+v", in, q2, err, q)
		}
		// Flags of RD and B only, only QDCOUNT set, no pointer: canonical.
		flags := binary.BigEndian.Uint16(in[2:])
		_, _, l, err := nbns.ParseEncoded(in[nbns.HeaderLen:])
		if err == nil && flags&^0x0110 == 0 && string(in[6:12]) == "\x00\x00\x00\x00\x00\x00" &&
			!bytes.Equal(enc, in[:nbns.HeaderLen+l+4]) {
			t.Fatalf("canonical request %x re-encodes to %x", in, enc)
		}
	})
}

// FuzzNameQueryResponse checks that a response UnmarshalBinary accepts
// encodes back to one that decodes to the same value (one-to-one but for
// the header fields the encoder sets), that a response in canonical form
// is reproduced byte for byte, that decoding never allocates more entries
// than the input can hold, that the result does not alias the input, and
// that a reused value gives the same result as a fresh one.
func FuzzNameQueryResponse(f *testing.F) {
	for _, s := range fuzzCorpus(f)["FuzzNameQueryResponse"][:4] {
		f.Add(s.args[0].([]byte))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		buf := bytes.Clone(in)
		var r nbns.NameQueryResponse
		err := r.UnmarshalBinary(buf)
		stale := fuzzStaleNameQuery()
		errStale := stale.UnmarshalBinary(buf)
		if (err == nil) != (errStale == nil) {
			t.Fatalf("decoding into a used value: %v; into a zero value: %v", errStale, err)
		}
		if err != nil {
			fuzzCheckError(t, err, len(in))
			return
		}
		if !fuzzEqualNQ(r, stale) {
			t.Fatalf("decoding into a used value differs (-fresh +used):\n%s", cmp.Diff(r, stale, fuzzNQCmpOpts))
		}
		if limit := len(in) / nbns.AddrEntryLen; len(r.Entries) > limit || cap(r.Entries) > limit {
			t.Fatalf("%d-byte reply gave len %d cap %d entries, more than %d", len(in), len(r.Entries), cap(r.Entries), limit)
		}
		if r.Kind != nbns.PositiveResponse && len(r.Entries) > 0 {
			t.Fatalf("%v response with %d entries", r.Kind, len(r.Entries))
		}
		if r.Header.Broadcast || !r.Header.Response {
			t.Fatalf("decoded header %+v", r.Header)
		}

		// The result does not alias the input.
		first := r
		first.Entries = slices.Clone(r.Entries)
		for i := range buf {
			buf[i] ^= 0xFF
		}
		if !fuzzEqualNQ(first, r) {
			t.Fatalf("result changed with the input (-before +after):\n%s", cmp.Diff(first, r, fuzzNQCmpOpts))
		}
		// Decoding again into the same value reuses the entries.
		var entries0 *nbns.AddrEntry
		if len(r.Entries) > 0 {
			entries0 = &r.Entries[0]
		}
		if err := r.UnmarshalBinary(in); err != nil || !fuzzEqualNQ(first, r) {
			t.Fatalf("second decode into the same value: %v, differs:\n%s", err, cmp.Diff(first, r, fuzzNQCmpOpts))
		}
		if len(r.Entries) > 0 && &r.Entries[0] != entries0 {
			t.Fatalf("second decode allocated new entries")
		}

		enc, err := r.AppendBinary(nil)
		if err != nil {
			t.Fatalf("AppendBinary(%+v): %v", r, err)
		}
		if a, _ := r.AppendBinary([]byte("xy")); !bytes.Equal(a, append([]byte("xy"), enc...)) {
			t.Fatalf("AppendBinary to a prefix = %x", a)
		}
		var r2 nbns.NameQueryResponse
		if err := r2.UnmarshalBinary(enc); err != nil {
			t.Fatalf("UnmarshalBinary(AppendBinary(...)) = %v; bytes %x", err, enc)
		}
		want := r
		h := &want.Header
		h.OpCode, h.QDCount, h.ANCount, h.NSCount, h.ARCount = nbns.OpQuery, 0, 1, 0, 0
		switch r.Kind {
		case nbns.WACKResponse:
			h.OpCode = nbns.OpWACK
		case nbns.RedirectResponse:
			h.ANCount, h.NSCount, h.ARCount = 0, 1, 1
		}
		if !fuzzEqualNQ(want, r2) {
			t.Fatalf("round trip of %x differs (-want +got):\n%s", in, cmp.Diff(want, r2, fuzzNQCmpOpts))
		}
		if enc2, _ := r2.AppendBinary(nil); !bytes.Equal(enc2, enc) {
			t.Fatalf("encoding is not stable:\n%x\n%x", enc, enc2)
		}

		// A positive or negative response or a WACK in canonical form is
		// reproduced byte for byte: the counts the encoder writes, no
		// 0x0060 bits, RR_NAME without pointers, the record type the
		// encoder writes (NB for a positive answer, NULL otherwise) and
		// the RDLENGTH it writes.
		if r.Kind == nbns.RedirectResponse || in[3]&0x60 != 0 || string(in[4:12]) != "\x00\x00\x00\x01\x00\x00\x00\x00" {
			return
		}
		_, _, l, err := nbns.ParseEncoded(in[nbns.HeaderLen:])
		if err != nil {
			return
		}
		rr := nbns.HeaderLen + l
		typ, rdlen := binary.BigEndian.Uint16(in[rr:]), int(binary.BigEndian.Uint16(in[rr+8:]))
		wantType, wantLen := uint16(nbns.TypeNULL), 0
		switch r.Kind {
		case nbns.PositiveResponse:
			wantType, wantLen = nbns.TypeNB, nbns.AddrEntryLen*len(r.Entries)
		case nbns.WACKResponse:
			wantLen = 2
		}
		if typ == wantType && rdlen == wantLen && !bytes.Equal(enc, in[:min(len(in), len(enc))]) {
			t.Fatalf("canonical reply\n%x\nre-encodes to\n%x", in, enc)
		}
	})
}

var fuzzNQCmpOpts = cmp.Options{
	fuzzCmpOpts,
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
}

// fuzzEqualNQ reports whether a and b are equal, a nil entry list
// equal to an empty one.
func fuzzEqualNQ(a, b nbns.NameQueryResponse) bool {
	if !slices.Equal(a.Entries, b.Entries) {
		return false
	}
	a.Entries, b.Entries = nil, nil
	return reflect.DeepEqual(a, b)
}

// fuzzStaleNameQuery returns a decoded-looking value with room for 8
// entries, to decode into.
func fuzzStaleNameQuery() nbns.NameQueryResponse {
	entries := make([]nbns.AddrEntry, 3, 8)
	for i := range entries {
		entries[i] = nbns.AddrEntry{Flags: 0xFFFF, Addr: netip.AddrFrom4([4]byte{9, 9, 9, byte(i)})}
	}
	return nbns.NameQueryResponse{
		Header:    nbns.Header{ID: 0xFFFF, Truncated: true, RCode: 3, QDCount: 9},
		Kind:      nbns.WACKResponse,
		Name:      nbns.MustName("STALE", nbns.FileServer),
		Scope:     "STALE.SCOPE",
		TTL:       0xFFFFFFFF,
		Entries:   entries,
		WACKFlags: 0xFFFF,
		Redirect:  nbns.Redirect{Domain: "stale.domain", Server: "stale.server", Addr: netip.AddrFrom4([4]byte{9, 9, 9, 9})},
	}
}

// Builders for the name query seeds.

func fuzzNBQuestion(name []byte) []byte {
	return fuzzCat(name, fuzzU16(nbns.TypeNB), fuzzU16(nbns.ClassIN))
}

// fuzzNQRR is an answer record of the given type with TTL ttl and the
// given RDLENGTH, which may lie, followed by rdata.
func fuzzNQRR(name []byte, typ uint16, ttl uint32, rdlen int, rdata ...[]byte) []byte {
	return fuzzCat(name, fuzzU16(typ), fuzzU16(nbns.ClassIN), binary.BigEndian.AppendUint32(nil, ttl), fuzzU16(uint16(rdlen)), fuzzCat(rdata...))
}

func fuzzAddrEntry(flags uint16, a string) []byte {
	ip := netip.MustParseAddr(a).As4()
	return append(fuzzU16(flags), ip[:]...)
}

// nameQueryCorpus returns the seeds of the name query targets: the
// packets of NAMES.md §1 (constructed from the RFC and from Samba's code,
// not captured) and the hostile cases of the design notes.
func nameQueryCorpus(tb testing.TB) map[string][]fuzzSeed {
	var (
		labsrv   = nbns.MustName("LABSRV", nbns.FileServer)
		labgrp   = nbns.MustName("LABGRP", nbns.BrowserElection)
		foo      = nbns.MustName("FOO", nbns.FileServer)
		encSrv   = fuzzEncoded(tb, labsrv, "")
		encSrvS  = fuzzEncoded(tb, labsrv, "corp.example")
		encGrp   = fuzzEncoded(tb, labgrp, "")
		encFoo   = fuzzEncoded(tb, foo, "")
		one      = fuzzAddrEntry(0x0000, "198.18.0.2")
		three    = fuzzCat(fuzzAddrEntry(0x8000, "198.18.0.2"), fuzzAddrEntry(0xE000, "198.18.0.3"), fuzzAddrEntry(0x8000, "255.255.255.255"))
		nmbdPos  = fuzzCat(fuzzHeader(0x1234, 0x8580, 0, 1, 0, 0), fuzzNQRR(encSrv, nbns.TypeNB, 259200, 6, one))
		nmbdNeg  = fuzzCat(fuzzHeader(0x1234, 0x8583, 0, 1, 0, 0), fuzzNQRR(encFoo, nbns.TypeNULL, 0, 0))
		wack     = fuzzCat(fuzzHeader(0x1234, 0xBC00, 0, 1, 0, 0), fuzzNQRR(encSrv, nbns.TypeNULL, 10, 2, fuzzU16(0x0100)))
		nsRR     = fuzzNQRR(fuzzLabels("corp", "example"), nbns.TypeNS, 600, 11, fuzzLabels("wins", "corp"))
		aRR      = fuzzNQRR(fuzzLabels("wins", "corp"), nbns.TypeA, 600, 4, []byte{198, 18, 0, 9})
		redirect = fuzzCat(fuzzHeader(0x1234, 0x8100, 0, 0, 1, 1), nsRR, aRR)
		bcastReq = fuzzCat(fuzzHeader(0x1234, 0x0110, 1, 0, 0, 0), fuzzNBQuestion(encSrv))
		rr       = nbns.HeaderLen + 34 // offset of the RR type after a 34-byte name
		long63   = strings.Repeat("a", 63)
	)
	b := func(name, want string, in []byte) fuzzSeed { return fuzzSeed{name, want, []any{in}} }
	return map[string][]fuzzSeed{
		"FuzzNameQueryRequest": {
			b("nmblookup-broadcast-0x0110", "", bcastReq),
			b("wins-rd-0x0100", "", fuzzCat(fuzzHeader(0xbeef, 0x0100, 1, 0, 0, 0), fuzzNBQuestion(encGrp))),
			b("unicast-0x0000-scoped", "", fuzzCat(fuzzHeader(1, 0x0000, 1, 0, 0, 0), fuzzNBQuestion(encSrvS))),
			b("pysmb-broadcast-without-rd", "", fuzzCat(fuzzHeader(2, 0x0010, 1, 0, 0, 0), fuzzNBQuestion(encSrv))),
			b("all-flags-but-r", "", fuzzCat(fuzzHeader(3, 0x07FF, 1, 0, 0, 0), fuzzNBQuestion(encSrv))),
			b("registration-counts", "", fuzzCat(fuzzHeader(4, 0x0110, 1, 0, 0, 1), fuzzNBQuestion(encSrv), one)),
			b("node-status-question", "QUESTION_TYPE", fuzzCat(fuzzHeader(5, 0, 1, 0, 0, 0), fuzzQuestion(encSrv))),
			b("response-bit", "HEADER", nmbdPos),
			b("opcode-registration", "OPCODE", fuzzSet(bcastReq, 2, 0x29)),
			b("qdcount-0", "QDCOUNT", fuzzSet(bcastReq, 5, 0)),
			b("class-3", "QUESTION_CLASS", fuzzSet(bcastReq, 49, 3)),
			b("pointer-to-itself", "QUESTION_NAME", fuzzCat(bcastReq[:12], []byte{0xC0, 0x0C}, bcastReq[46:])),
			b("truncated-question-type", "QUESTION_TYPE", bcastReq[:47]),
			b("truncated-question-name", "QUESTION_NAME", bcastReq[:30]),
		},
		"FuzzNameQueryResponse": {
			b("nmbd-positive-0x8580", "", nmbdPos),
			b("nmbd-negative-0x8583-null", "", nmbdNeg),
			b("wack-10s", "", wack),
			b("redirect", "", redirect),
			b("positive-group-of-three", "", fuzzCat(fuzzHeader(0x1234, 0x8500, 0, 1, 0, 0), fuzzNQRR(encGrp, nbns.TypeNB, 300000, 18, three))),
			b("positive-scoped-tc", "", fuzzCat(fuzzHeader(0x1234, 0x8680, 0, 1, 0, 0), fuzzNQRR(encSrvS, nbns.TypeNB, 1, 6, one))),
			b("positive-no-entries", "", fuzzCat(fuzzHeader(0x1234, 0x8400, 0, 1, 0, 0), fuzzNQRR(encSrv, nbns.TypeNB, 0, 0))),
			b("positive-question-echoed-pointer", "", fuzzCat(fuzzHeader(0x1234, 0x8580, 1, 1, 0, 0), fuzzNBQuestion(encSrv), fuzzNQRR([]byte{0xC0, 0x0C}, nbns.TypeNB, 5, 6, one))),
			b("positive-huge-ancount", "", fuzzSet(fuzzSet(nmbdPos, 6, 0xFF), 7, 0xFF)),
			b("positive-reserved-flag-bits", "", fuzzCat(fuzzHeader(0x1234, 0x85E0, 0, 1, 0, 0), fuzzNQRR(encSrv, nbns.TypeNB, 5, 6, fuzzAddrEntry(0x1FFF, "0.0.0.0")))),
			b("negative-rfc-ancount-0", "", fuzzSet(nmbdNeg, 7, 0)),
			b("negative-type-nb", "", fuzzCat(fuzzHeader(1, 0x8585, 0, 1, 0, 0), fuzzNQRR(encFoo, nbns.TypeNB, 0, 6, one))),
			b("wack-type-0x0020", "", fuzzSet(wack, rr+1, 0x20)),
			b("wack-rcode", "", fuzzSet(wack, 3, 0x05)),
			b("redirect-a-name-pointer", "", fuzzCat(fuzzHeader(0x1234, 0x8100, 0, 0, 1, 1), nsRR, fuzzNQRR([]byte{0xC0, byte(nbns.HeaderLen + 14 + 10)}, nbns.TypeA, 1, 4, []byte{198, 18, 0, 9}))),
			b("redirect-root-domain", "", fuzzCat(fuzzHeader(0x1234, 0x8100, 0, 0, 1, 1), fuzzNQRR([]byte{0}, nbns.TypeNS, 0, 1, []byte{0}), fuzzNQRR([]byte{0}, nbns.TypeA, 0, 4, []byte{198, 18, 0, 9}))),
			b("rdlength-lies-long", "RDATA", fuzzSet(nmbdPos, rr+9, 0x0C)),
			b("rdlength-lies-0xffff", "RDATA", fuzzSet(fuzzSet(nmbdPos, rr+8, 0xFF), rr+9, 0xFC)),
			b("rdlength-not-multiple-of-6", "RDLENGTH", fuzzCat(fuzzHeader(1, 0x8580, 0, 1, 0, 0), fuzzNQRR(encSrv, nbns.TypeNB, 5, 5, one[:5]))),
			b("rdlength-7", "RDLENGTH", fuzzCat(fuzzHeader(1, 0x8580, 0, 1, 0, 0), fuzzNQRR(encSrv, nbns.TypeNB, 5, 7, one, []byte{0}))),
			b("broadcast-flag-in-response", "NM_FLAGS", fuzzSet(nmbdPos, 3, 0x90)),
			b("not-a-response", "HEADER", bcastReq),
			b("opcode-registration", "OPCODE", fuzzSet(nmbdPos, 2, 0xAD)),
			b("no-answer", "ANCOUNT", fuzzSet(nmbdPos, 7, 0)),
			b("positive-type-null", "RR_TYPE", fuzzSet(nmbdPos, rr+1, 0x0A)),
			b("positive-type-nbstat", "RR_TYPE", fuzzSet(nmbdPos, rr+1, 0x21)),
			b("negative-type-nbstat", "RR_TYPE", fuzzSet(nmbdNeg, rr+1, 0x21)),
			b("class-2", "RR_CLASS", fuzzSet(nmbdPos, rr+3, 2)),
			b("wack-rdlength-0", "RDLENGTH", fuzzCat(fuzzHeader(1, 0xBC00, 0, 1, 0, 0), fuzzNQRR(encSrv, nbns.TypeNULL, 10, 0))),
			b("wack-rdlength-3", "RDLENGTH", fuzzCat(fuzzHeader(1, 0xBC00, 0, 1, 0, 0), fuzzNQRR(encSrv, nbns.TypeNULL, 10, 3, []byte{1, 2, 3}))),
			b("pointer-to-itself", "RR_NAME", fuzzCat(nmbdPos[:12], []byte{0xC0, 0x0C}, nmbdPos[rr:])),
			b("pointer-loop-via-header", "QUESTION_NAME", fuzzCat(fuzzHeader(1, 0x8580, 1, 1, 0xC00C, 0), []byte{0xC0, 0x08}, nmbdPos[12:])),
			b("pointer-chain-11-hops", "RR_NAME", fuzzNQPointerChain(tb, 11, encSrv, one)),
			b("pointer-chain-10-hops", "", fuzzNQPointerChain(tb, 10, encSrv, one)),
			b("qdcount-65535", "QUESTION_NAME", fuzzSet(fuzzSet(nmbdPos, 4, 0xFF), 5, 0xFF)),
			b("redirect-nscount-2", "NSCOUNT", fuzzSet(redirect, 9, 2)),
			b("redirect-arcount-0", "ARCOUNT", fuzzSet(redirect, 11, 0)),
			b("redirect-ns-rdlength-lies", "RDLENGTH", fuzzCat(fuzzHeader(1, 0x8100, 0, 0, 1, 1), fuzzNQRR(fuzzLabels("corp", "example"), nbns.TypeNS, 600, 12, fuzzLabels("wins", "corp"), []byte{0}), aRR)),
			b("redirect-a-rdlength-6", "RDLENGTH", fuzzCat(fuzzHeader(1, 0x8100, 0, 0, 1, 1), nsRR, fuzzNQRR(fuzzLabels("wins", "corp"), nbns.TypeA, 600, 6, []byte{198, 18, 0, 9, 0, 137}))),
			b("redirect-domain-over-255", "RR_NAME", fuzzCat(fuzzHeader(1, 0x8100, 0, 0, 1, 1), fuzzLabels(long63, long63, long63, long63), nsRR[14:], aRR)),
			b("redirect-truncated-nsd-ip-addr", "NSD_IP_ADDR", redirect[:len(redirect)-1]),
			b("truncated-header", "HEADER", nmbdPos[:11]),
			b("truncated-rr-name", "RR_NAME", nmbdPos[:30]),
			b("truncated-rr-type", "RR_TYPE", nmbdPos[:rr+1]),
			b("truncated-ttl", "RDLENGTH", nmbdPos[:rr+6]),
			b("truncated-entry", "RDATA", nmbdPos[:len(nmbdPos)-1]),
			b("truncated-negative-rr", "RR_NAME", nmbdNeg[:12]),
			b("truncated-wack-rdata", "RDATA", wack[:len(wack)-1]),
		},
	}
}

// fuzzNQPointerChain returns a positive response with qd questions: the
// first holds name, each other one is a pointer to the previous one, and
// RR_NAME points to the last, so it takes qd hops.
func fuzzNQPointerChain(tb testing.TB, qd int, name, entries []byte) []byte {
	b := fuzzCat(fuzzHeader(1, 0x8580, uint16(qd), 1, 0, 0), fuzzNBQuestion(name))
	prev := nbns.HeaderLen
	for range qd - 1 {
		off := len(b)
		b = append(b, fuzzNBQuestion([]byte{0xC0 | byte(prev>>8), byte(prev)})...)
		prev = off
	}
	return fuzzCat(b, fuzzNQRR([]byte{0xC0 | byte(prev>>8), byte(prev)}, nbns.TypeNB, 1, len(entries), entries))
}
