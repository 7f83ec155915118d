package session_test

// Native fuzz targets for every decoder of the package, with round trips,
// and the committed seed corpus in testdata/fuzz.
//
// Run one target at a time, for example:
//
//	go test -run '^$' -fuzz '^FuzzRequest$' -fuzztime 20s ./session/
//
// The seed corpus is built by fuzzCorpus below from the golden capture
// testdata/samba-session.hex, the packets smbd was seen to send and accept
// (PROTOCOL.md (f)) and the traps of PROTOCOL.md (c). TestFuzzCorpus checks
// that the committed files match it and that each seed is accepted or
// rejected as its entry says; after changing fuzzCorpus, rewrite the files
// with
//
//	go test -run '^TestFuzzCorpus$' ./session/ -args -writecorpus
//
// Files the fuzzer adds to testdata/fuzz are never removed by that flag.

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/session"
)

var fuzzWriteCorpus = flag.Bool("writecorpus", false, "rewrite the seed corpus in testdata/fuzz from fuzzCorpus")

// FuzzParseHeader checks both header parsers against the wire layout of RFC
// 1002 §4.3.1 and the length each packet type allows, and that every header
// AppendBinary can write comes back as the same 4 bytes.
func FuzzParseHeader(f *testing.F) {
	f.Add([]byte{0x81, 0x00, 0x00, 0x44})
	f.Add([]byte{0x00, 0x01, 0xFF, 0xFF})
	f.Add([]byte{0x00, 0xFF, 0xFF, 0xFF})
	f.Fuzz(func(t *testing.T, in []byte) {
		h, err := session.ParseHeader(in)
		hl, errL := session.ParseHeaderLenient(in)
		fuzzCheckError(t, err, len(in))
		fuzzCheckError(t, errL, len(in))
		if len(in) < session.HeaderLen {
			if !errors.Is(err, io.ErrUnexpectedEOF) || !errors.Is(errL, io.ErrUnexpectedEOF) {
				t.Fatalf("short header %x: %v, %v; want io.ErrUnexpectedEOF", in, err, errL)
			}
			return
		}
		typ := session.PacketType(in[0])
		length17 := int(in[1]&1)<<16 | int(in[2])<<8 | int(in[3]) // E bit and LENGTH
		length24 := int(in[1])<<16 | int(in[2])<<8 | int(in[3])   // Direct-TCP length

		if err == nil {
			// Strict: FLAGS holds at most the E bit, so the header is
			// exactly TYPE, E and LENGTH, and all 4 bytes come back.
			if in[1]&^1 != 0 || h.Type != typ || h.Length != length17 {
				t.Fatalf("ParseHeader(%x) = %+v", in[:4], h)
			}
			fuzzCheckLength(t, h, session.MaxLength)
			out, err := h.AppendBinary(nil)
			if err != nil || !bytes.Equal(out, in[:session.HeaderLen]) {
				t.Fatalf("ParseHeader(%x) = %+v, which appends as %x, %v", in[:4], h, out, err)
			}
			// Whatever the strict parser accepts, the lenient one reads
			// the same way.
			if errL != nil || hl != h {
				t.Fatalf("ParseHeaderLenient(%x) = %+v, %v; ParseHeader gave %+v", in[:4], hl, errL, h)
			}
		}

		if typ != session.TypeMessage {
			// Only a session message is read leniently.
			if (err == nil) != (errL == nil) || hl != h {
				t.Fatalf("%x: ParseHeader = %+v, %v; ParseHeaderLenient = %+v, %v", in[:4], h, err, hl, errL)
			}
		} else {
			// Every 4 bytes that start with 0x00 are a Direct-TCP header:
			// FLAGS is the top byte of a 24-bit length.
			if errL != nil || hl.Type != typ || hl.Length != length24 {
				t.Fatalf("ParseHeaderLenient(%x) = %+v, %v; want length %d", in[:4], hl, errL, length24)
			}
			fuzzCheckLength(t, hl, session.MaxLenientLength)
			// AppendBinary writes RFC 1002 headers only. Up to MaxLength
			// the two layouts are the same bytes (FLAGS 0 or 1), so the
			// header round-trips; beyond, FLAGS has bits the RFC
			// reserves, the strict parser refuses it and AppendBinary
			// refuses to write it.
			out, aerr := hl.AppendBinary(nil)
			if hl.Length <= session.MaxLength {
				if err != nil || aerr != nil || !bytes.Equal(out, in[:session.HeaderLen]) {
					t.Fatalf("%x: ParseHeader: %v; AppendBinary(%+v) = %x, %v", in[:4], err, hl, out, aerr)
				}
			} else if err == nil || aerr == nil || len(out) != 0 {
				t.Fatalf("%x: ParseHeader: %v; AppendBinary(%+v) = %x, %v; want both to fail", in[:4], err, hl, out, aerr)
			}
		}

		if err != nil && in[1]&^1 == 0 && !fuzzDefined(typ) && !errors.Is(err, session.ErrUnexpectedPacket) {
			t.Fatalf("ParseHeader(%x) = %v, want an error wrapping ErrUnexpectedPacket", in[:4], err)
		}
	})
}

// FuzzRequest checks that a session request UnmarshalBinary accepts encodes
// back to the very same bytes. The encoding is canonical: the header has no
// flags (LENGTH is at most 510), LENGTH must match the bytes given, the
// names may not use compression pointers, share one scope, and must fill
// the packet exactly.
func FuzzRequest(f *testing.F) {
	for _, s := range fuzzCorpus(f)["FuzzRequest"][:3] {
		f.Add(s.args[0].([]byte))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var r session.Request
		err := r.UnmarshalBinary(in)
		reused := session.Request{Called: nbns.MustName("OLD", nbns.FileServer), Scope: "OLD.SCOPE"}
		errReused := reused.UnmarshalBinary(in)
		if (err == nil) != (errReused == nil) || err == nil && reused != r {
			t.Fatalf("decoding into a used value = %+v, %v; into a zero value = %+v, %v", reused, errReused, r, err)
		}
		if err != nil {
			fuzzCheckError(t, err, len(in))
			return
		}
		if len(in) < session.HeaderLen+2*(2+nbns.EncodedLen) || len(in) > session.HeaderLen+session.MaxRequestLength {
			t.Fatalf("accepted a %d-byte request", len(in))
		}
		out, err := r.AppendBinary(nil)
		if err != nil || !bytes.Equal(out, in) {
			t.Fatalf("request\n%x\nre-encodes to\n%x, %v", in, out, err)
		}
		if m, _ := r.MarshalBinary(); !bytes.Equal(m, out) {
			t.Fatalf("MarshalBinary = %x, AppendBinary = %x", m, out)
		}
		var r2 session.Request
		if err := r2.UnmarshalBinary(out); err != nil || r2 != r {
			t.Fatalf("second decode = %+v, %v; want %+v", r2, err, r)
		}
		// The header's LENGTH must match: one byte less or more fails.
		if err := r2.UnmarshalBinary(in[:len(in)-1]); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("request without its last byte: %v, want io.ErrUnexpectedEOF", err)
		}
		if err := r2.UnmarshalBinary(append(bytes.Clone(in), 0)); err == nil {
			t.Fatalf("request with a byte after it was accepted")
		}
	})
}

// FuzzResponse checks that a session response UnmarshalBinary accepts
// encodes back to the very same bytes, and that Err reports it.
func FuzzResponse(f *testing.F) {
	for _, s := range fuzzCorpus(f)["FuzzResponse"][:3] {
		f.Add(s.args[0].([]byte))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var r session.Response
		err := r.UnmarshalBinary(in)
		if err != nil {
			fuzzCheckError(t, err, len(in))
			return
		}
		out, err := r.AppendBinary(nil)
		if err != nil || !bytes.Equal(out, in) {
			t.Fatalf("response %x re-encodes to %x, %v", in, out, err)
		}
		if m, _ := r.MarshalBinary(); !bytes.Equal(m, out) {
			t.Fatalf("MarshalBinary = %x, AppendBinary = %x", m, out)
		}
		var r2 session.Response
		if err := r2.UnmarshalBinary(out); err != nil || r2 != r {
			t.Fatalf("second decode = %+v, %v; want %+v", r2, err, r)
		}
		if r.String() == "" {
			t.Fatalf("empty String for %+v", r)
		}
		called := nbns.MustName("*SMBSERVER", nbns.FileServer)
		rerr := r.Err(called)
		switch r.Type {
		case session.TypePositiveResponse:
			if len(in) != 4 || rerr != nil {
				t.Fatalf("positive response %x: %d bytes, Err = %v", in, len(in), rerr)
			}
		case session.TypeNegativeResponse:
			e, ok := errors.AsType[*session.NegativeResponseError](rerr)
			if len(in) != 5 || !ok || e.Code != r.Code || e.Called != called || !errors.Is(rerr, r.Code) {
				t.Fatalf("negative response %x: Err = %v", in, rerr)
			}
		case session.TypeRetargetResponse:
			e, ok := errors.AsType[*session.RetargetError](rerr)
			if len(in) != 10 || !ok || e.Addr != r.Retarget || !r.Retarget.Addr().Is4() {
				t.Fatalf("retarget response %x: Err = %v", in, rerr)
			}
		default:
			t.Fatalf("UnmarshalBinary(%x) accepted type %v", in, r.Type)
		}
	})
}

// fuzzCheckError checks that a decoding error is a *session.ParseError that
// names a field starting inside the input.
func fuzzCheckError(t *testing.T, err error, n int) {
	t.Helper()
	if err == nil {
		return
	}
	pe, ok := errors.AsType[*session.ParseError](err)
	if !ok {
		t.Fatalf("error %v (%T) is not a *session.ParseError", err, err)
	}
	if pe.Field == "" || pe.Err == nil || pe.Offset < 0 || pe.Offset > n || pe.Error() == "" {
		t.Fatalf("bad ParseError %#v for a %d-byte input", pe, n)
	}
}

// fuzzCheckLength checks h.Length against the length h.Type has (RFC 1002
// §4.3): a session message up to limit.
func fuzzCheckLength(t *testing.T, h session.Header, limit int) {
	t.Helper()
	var ok bool
	switch h.Type {
	case session.TypeMessage:
		ok = 0 <= h.Length && h.Length <= limit
	case session.TypeRequest:
		ok = 2*(2+nbns.EncodedLen) <= h.Length && h.Length <= session.MaxRequestLength
	case session.TypePositiveResponse, session.TypeKeepAlive:
		ok = h.Length == 0
	case session.TypeNegativeResponse:
		ok = h.Length == 1
	case session.TypeRetargetResponse:
		ok = h.Length == session.RetargetLength
	}
	if !ok {
		t.Fatalf("parsed %+v: length not allowed for the type", h)
	}
}

// fuzzDefined reports whether t is one of the six packet types of RFC 1002
// §4.3.1.
func fuzzDefined(t session.PacketType) bool {
	switch t {
	case session.TypeMessage, session.TypeRequest, session.TypePositiveResponse,
		session.TypeNegativeResponse, session.TypeRetargetResponse, session.TypeKeepAlive:
		return true
	}
	return false
}

// A fuzzSeed is one file of the committed seed corpus.
type fuzzSeed struct {
	name string // file name in testdata/fuzz/<target>/
	// want is "" when the target's decoder (ParseHeader, not the lenient
	// one, for FuzzParseHeader) must accept args[0], or the Field of the
	// *session.ParseError it must fail with.
	want string
	args []any
}

// fuzzDecoders decodes the seeds of each target.
var fuzzDecoders = map[string]func([]byte) error{
	"FuzzParseHeader": func(b []byte) error {
		_, err := session.ParseHeader(b)
		return err
	},
	"FuzzRequest":  func(b []byte) error { return new(session.Request).UnmarshalBinary(b) },
	"FuzzResponse": func(b []byte) error { return new(session.Response).UnmarshalBinary(b) },
}

// TestFuzzCorpus checks the committed seed corpus against fuzzCorpus, and
// each seed against the outcome its entry expects. With -writecorpus it
// writes the files instead.
func TestFuzzCorpus(t *testing.T) {
	corpus := fuzzCorpus(t)
	for _, target := range []string{"FuzzParseHeader", "FuzzRequest", "FuzzResponse"} {
		seeds := corpus[target]
		if len(seeds) == 0 {
			t.Errorf("%s: no seeds", target)
		}
		dir := filepath.Join("testdata", "fuzz", target)
		seen := map[string]bool{}
		for _, s := range seeds {
			if seen[s.name] {
				t.Errorf("%s: two seeds named %s", target, s.name)
			}
			seen[s.name] = true
			err := fuzzDecoders[target](s.args[0].([]byte))
			pe, _ := errors.AsType[*session.ParseError](err)
			switch {
			case s.want == "" && err != nil:
				t.Errorf("%s/%s: want success, got %v", target, s.name, err)
			case s.want != "" && (pe == nil || pe.Field != s.want):
				t.Errorf("%s/%s: want a %s error, got %v", target, s.name, s.want, err)
			}
			path := filepath.Join(dir, s.name)
			data := fuzzMarshal(s.args...)
			if *fuzzWriteCorpus {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, data, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Errorf("%v (rewrite the corpus with -writecorpus)", err)
			} else if !bytes.Equal(got, data) {
				t.Errorf("%s differs from fuzzCorpus (rewrite the corpus with -writecorpus)", path)
			}
		}
	}
}

// fuzzMarshal encodes fuzz arguments in the "go test fuzz v1" file format.
func fuzzMarshal(args ...any) []byte {
	b := []byte("go test fuzz v1\n")
	for _, a := range args {
		switch a := a.(type) {
		case []byte:
			b = fmt.Appendf(b, "[]byte(%q)\n", a)
		case string:
			b = fmt.Appendf(b, "string(%q)\n", a)
		default:
			panic(fmt.Sprintf("fuzzMarshal: %T", a))
		}
	}
	return b
}

// Builders of wire fields for the seeds.

func fuzzEncoded(tb testing.TB, n nbns.Name, scope string) []byte {
	b, err := n.AppendEncoded(nil, scope)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// fuzzPacket is a session packet of type typ whose header announces the
// length of body (17 bits: LENGTH and the E flag).
func fuzzPacket(typ session.PacketType, body ...[]byte) []byte {
	b := bytes.Join(body, nil)
	return append([]byte{byte(typ), byte(len(b) >> 16), byte(len(b) >> 8), byte(len(b))}, b...)
}

// fuzzSet returns a copy of b with b[i] = v.
func fuzzSet(b []byte, i int, v byte) []byte {
	c := bytes.Clone(b)
	c[i] = v
	return c
}

// fuzzCorpus returns the committed seed corpus by target.
func fuzzCorpus(tb testing.TB) map[string][]fuzzSeed {
	tb.Helper()
	flows := session.ReadFlows(tb, filepath.Join("testdata", "samba-session.hex"))
	if len(flows) != 2 || len(flows[0]) != 72 || len(flows[1]) != 4 {
		tb.Fatalf("samba-session.hex: unexpected flows")
	}
	sambaReq, sambaPos := flows[0], flows[1]

	name := func(s string, suffix nbns.Suffix) []byte { return fuzzEncoded(tb, nbns.MustName(s, suffix), "") }
	var (
		smbserver = name("*SMBSERVER", nbns.FileServer)
		nbtprobe  = name("NBTPROBE", nbns.Workstation)
		// The longest names, 255 bytes each, make the longest request.
		scope255 = strings.Repeat("A", 63) + "." + strings.Repeat("B", 63) + "." + strings.Repeat("C", 63) + "." + strings.Repeat("D", 28)
		lowName  = nbns.NameFromBytes([16]byte([]byte("labsrv         \x20")))
	)
	b := func(name, want string, in []byte) fuzzSeed { return fuzzSeed{name, want, []any{in}} }
	h := func(b ...byte) []byte { return b }
	return map[string][]fuzzSeed{
		"FuzzParseHeader": {
			b("request-68", "", sambaReq[:4]),
			b("request-max-510", "", h(0x81, 0x00, 0x01, 0xFE)),
			b("request-511", "LENGTH", h(0x81, 0x00, 0x01, 0xFF)),
			b("request-67", "LENGTH", h(0x81, 0x00, 0x00, 0x43)),
			b("request-e-bit", "LENGTH", h(0x81, 0x01, 0x00, 0x44)),
			b("positive", "", sambaPos),
			b("positive-length-1", "LENGTH", h(0x82, 0x00, 0x00, 0x01)),
			b("positive-e-bit", "LENGTH", h(0x82, 0x01, 0x00, 0x00)),
			b("negative", "", h(0x83, 0x00, 0x00, 0x01, 0x82)),
			b("negative-length-0", "LENGTH", h(0x83, 0x00, 0x00, 0x00)),
			b("retarget", "", h(0x84, 0x00, 0x00, 0x06, 0xc6, 0x12, 0x00, 0x02, 0x04, 0x73)),
			b("retarget-length-4", "LENGTH", h(0x84, 0x00, 0x00, 0x04)),
			b("keep-alive", "", h(0x85, 0x00, 0x00, 0x00)),
			b("keep-alive-length-4", "LENGTH", h(0x85, 0x00, 0x00, 0x04)),
			b("message-empty", "", h(0x00, 0x00, 0x00, 0x00)),
			b("message-64k", "", h(0x00, 0x00, 0xFF, 0xFF)),
			b("message-max-17-bit", "", h(0x00, 0x01, 0xFF, 0xFF)),
			b("message-24-bit-lenient-only", "FLAGS", h(0x00, 0x02, 0x00, 0x00)),
			b("message-24-bit-max-lenient-only", "FLAGS", h(0x00, 0xFF, 0xFF, 0xFF)),
			b("smb2-direct-tcp", "", h(0x00, 0x00, 0x00, 0x66, 0xFE, 'S', 'M', 'B', 0x40, 0x00)),
			b("smb1-direct-tcp", "", h(0x00, 0x00, 0x00, 0x2F, 0xFF, 'S', 'M', 'B', 0x72)),
			b("reserved-flag-0x02", "FLAGS", h(0x82, 0x02, 0x00, 0x00)),
			b("reserved-flag-0x80", "FLAGS", h(0x85, 0x80, 0x00, 0x00)),
			b("undefined-type-0x86", "TYPE", h(0x86, 0x00, 0x00, 0x00)),
			b("undefined-type-0x89-smbd-keep-alive", "TYPE", h(0x89, 0x00, 0x00, 0x00)),
			b("undefined-type-with-reserved-flags", "TYPE", h(0x86, 0x02, 0x00, 0x00)),
			b("short-3", "HEADER", h(0x82, 0x00, 0x00)),
			b("empty", "HEADER", h()),
		},
		"FuzzRequest": {
			b("samba-smbserver-nbtprobe", "", sambaReq),
			b("smbclient-labsrv-nbtclient", "", fuzzPacket(session.TypeRequest, name("LABSRV", nbns.FileServer), name("NBTCLIENT", nbns.Workstation))),
			b("xp-smbserv", "", fuzzPacket(session.TypeRequest, name("*SMBSERV", nbns.FileServer), nbtprobe)),
			b("ip-literal-called", "", fuzzPacket(session.TypeRequest, name("198.18.0.2", nbns.FileServer), nbtprobe)),
			b("lowercase-called", "", fuzzPacket(session.TypeRequest, fuzzEncoded(tb, lowName, ""), nbtprobe)),
			b("pathworks-calling-suffix-r", "", fuzzPacket(session.TypeRequest, smbserver, name("NBTPROBE", 'R'))),
			b("wildcard-called", "", fuzzPacket(session.TypeRequest, name("*", nbns.Workstation), nbtprobe)),
			b("scope-netbios-com", "", fuzzPacket(session.TypeRequest, fuzzEncoded(tb, nbns.MustName("FRED", nbns.FileServer), "NETBIOS.COM"), fuzzEncoded(tb, nbns.MustName("NBTPROBE", nbns.Workstation), "NETBIOS.COM"))),
			b("scope-255-bytes-length-510", "", fuzzPacket(session.TypeRequest, fuzzEncoded(tb, nbns.MustName("FRED", nbns.FileServer), scope255), fuzzEncoded(tb, nbns.MustName("NBTPROBE", nbns.Workstation), scope255))),
			b("scope-mismatch", "CALLING NAME", fuzzPacket(session.TypeRequest, fuzzEncoded(tb, nbns.MustName("FRED", nbns.FileServer), "NETBIOS.COM"), nbtprobe)),
			b("pointer-in-called-name", "CALLED NAME", fuzzPacket(session.TypeRequest, smbserver[:33], []byte{0xC0, 0x04}, nbtprobe)),
			b("pointer-as-calling-name", "CALLING NAME", fuzzPacket(session.TypeRequest, smbserver, []byte{0xC0, 0x04}, make([]byte, 32))),
			b("called-label-5", "CALLED NAME", fuzzSet(sambaReq, 4, 0x05)),
			b("called-letters-q-z", "CALLED NAME", fuzzSet(sambaReq, 5, 'Q')),
			b("called-reserved-label-0x80", "CALLED NAME", fuzzSet(sambaReq, 4, 0x80)),
			b("calling-reserved-label-0x40", "CALLING NAME", fuzzSet(sambaReq, 38, 0x40)),
			b("calling-first-label-0", "CALLING NAME", fuzzPacket(session.TypeRequest, smbserver, make([]byte, 34))),
			b("one-name-only", "LENGTH", fuzzPacket(session.TypeRequest, smbserver)),
			b("empty-body", "LENGTH", fuzzPacket(session.TypeRequest)),
			b("byte-after-names", "CALLING NAME", fuzzPacket(session.TypeRequest, smbserver, nbtprobe, []byte{0})),
			b("byte-after-packet", "TRAILER", append(bytes.Clone(sambaReq), 0)),
			b("truncated-71", "TRAILER", sambaReq[:71]),
			b("truncated-header", "HEADER", sambaReq[:3]),
			b("e-bit", "LENGTH", fuzzSet(sambaReq, 1, 0x01)),
			b("reserved-flags", "FLAGS", fuzzSet(sambaReq, 1, 0x02)),
			b("length-511", "LENGTH", fuzzCat(h(0x81, 0x00, 0x01, 0xFF), sambaReq[4:])),
			b("positive-response", "TYPE", sambaPos),
		},
		"FuzzResponse": {
			b("samba-positive", "", sambaPos),
			b("samba-retarget-198.18.0.2-1139", "", h(0x84, 0x00, 0x00, 0x06, 0xc6, 0x12, 0x00, 0x02, 0x04, 0x73)),
			b("negative-82-called-name-not-present", "", h(0x83, 0x00, 0x00, 0x01, 0x82)),
			b("negative-80-not-listening-on-called-name", "", h(0x83, 0x00, 0x00, 0x01, 0x80)),
			b("negative-81-not-listening-for-calling-name", "", h(0x83, 0x00, 0x00, 0x01, 0x81)),
			b("negative-83-insufficient-resources", "", h(0x83, 0x00, 0x00, 0x01, 0x83)),
			b("negative-8f-unspecified", "", h(0x83, 0x00, 0x00, 0x01, 0x8F)),
			b("negative-undefined-code-8a", "", h(0x83, 0x00, 0x00, 0x01, 0x8A)),
			b("retarget-port-0", "", h(0x84, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00)),
			b("keep-alive", "TYPE", h(0x85, 0x00, 0x00, 0x00)),
			b("session-message", "TYPE", h(0x00, 0x00, 0x00, 0x01, 0x00)),
			b("session-request", "TYPE", sambaReq),
			b("undefined-type-0x89", "TYPE", h(0x89, 0x00, 0x00, 0x00)),
			b("positive-trailing-byte", "TRAILER", h(0x82, 0x00, 0x00, 0x00, 0x00)),
			b("negative-without-code", "TRAILER", h(0x83, 0x00, 0x00, 0x01)),
			b("negative-length-2", "LENGTH", h(0x83, 0x00, 0x00, 0x02, 0x82, 0x00)),
			b("retarget-truncated", "TRAILER", h(0x84, 0x00, 0x00, 0x06, 0xc6, 0x12, 0x00, 0x02, 0x04)),
			b("retarget-length-4", "LENGTH", h(0x84, 0x00, 0x00, 0x04, 0xc6, 0x12, 0x00, 0x02)),
			b("positive-reserved-flags", "FLAGS", h(0x82, 0x80, 0x00, 0x00)),
			b("short-3", "HEADER", h(0x82, 0x00, 0x00)),
		},
	}
}

func fuzzCat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
