package nbns_test

// Native fuzz targets for every decoder of the package, with round trips,
// and the committed seed corpus in testdata/fuzz.
//
// Run one target at a time, for example:
//
//	go test -run '^$' -fuzz '^FuzzNodeStatusResponse$' -fuzztime 20s ./nbns/
//
// The seed corpus is built by fuzzCorpus below from the golden capture
// testdata/samba-nodestatus.hex, the RFC 1001 examples, a Windows reply and
// each hostile-input trap of the design notes; the name query seeds come
// from nameQueryCorpus in namequery_fuzz_test.go. TestFuzzCorpus checks that
// the committed files match it and that each seed is accepted or rejected
// as its entry says; after changing fuzzCorpus, rewrite the files with
//
//	go test -run '^TestFuzzCorpus$' ./nbns/ -args -writecorpus
//
// Files the fuzzer adds to testdata/fuzz are never removed by that flag.

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/netbios-go/netbios/nbns"
)

var fuzzWriteCorpus = flag.Bool("writecorpus", false, "rewrite the seed corpus in testdata/fuzz from fuzzCorpus")

// fuzzCmpOpts compares names by their String form, which is one-to-one and
// readable in a diff, and treats a nil name table like an empty one.
var fuzzCmpOpts = cmp.Options{
	cmp.Transformer("Name", nbns.Name.String),
	cmpopts.EquateEmpty(),
}

// FuzzName checks that the String form and the second-level encoding of any
// 16 bytes parse back to the same Name, and that any string ParseName
// accepts round-trips through String.
//
// raw is cut or zero-padded to 16 bytes; s is an arbitrary string.
func FuzzName(f *testing.F) {
	f.Add(fuzzBytes(nbns.MustName("FRED", nbns.FileServer)), "FRED<20>")
	f.Add(fuzzBytes(nbns.Wildcard()), "*<00>")
	f.Add(fuzzBytes(nbns.MustName("\x01\x02__MSBROWSE__\x02", nbns.Browse)), `\x01\x02__MSBROWSE__\x02<01>`)
	f.Fuzz(func(t *testing.T, raw []byte, s string) {
		var b [nbns.NameLen]byte
		copy(b[:], raw)
		n := nbns.NameFromBytes(b)
		if n.Bytes() != b {
			t.Fatalf("NameFromBytes(%x).Bytes() = %x", b, n.Bytes())
		}
		str := n.String()
		p, err := nbns.ParseName(str)
		if err != nil || p != n {
			t.Fatalf("ParseName(%q) = %x, %v; want %x, nil", str, p.Bytes(), err, b)
		}
		if txt, _ := n.AppendText([]byte("x")); string(txt) != "x"+str {
			t.Fatalf("AppendText = %q, want %q", txt, "x"+str)
		}
		var u nbns.Name
		if err := u.UnmarshalText([]byte(str)); err != nil || u != n {
			t.Fatalf("UnmarshalText(%q) = %x, %v; want %x", str, u.Bytes(), err, b)
		}

		enc, err := n.AppendEncoded(nil, "")
		if err != nil || len(enc) != 2+nbns.EncodedLen || enc[0] != nbns.EncodedLen || enc[len(enc)-1] != 0 {
			t.Fatalf("%x.AppendEncoded(nil, \"\") = %q, %v", b, enc, err)
		}
		if fl := n.AppendFirstLevel(nil); !bytes.Equal(fl, enc[1:1+nbns.EncodedLen]) {
			t.Fatalf("AppendFirstLevel = %q, AppendEncoded holds %q", fl, enc[1:1+nbns.EncodedLen])
		}
		d, scope, l, err := nbns.ParseEncoded(enc)
		if err != nil || d != n || scope != "" || l != len(enc) {
			t.Fatalf("ParseEncoded(%q) = %x, %q, %d, %v; want %x, \"\", %d, nil", enc, d.Bytes(), scope, l, err, b, len(enc))
		}

		m, err := nbns.ParseName(s)
		if err != nil {
			return
		}
		if m2, err := nbns.ParseName(m.String()); err != nil || m2 != m {
			t.Fatalf("ParseName(%q) = %x, but ParseName(%q) = %x, %v", s, m.Bytes(), m.String(), m2.Bytes(), err)
		}
	})
}

// FuzzParseEncoded checks that a name ParseEncoded accepts re-encodes to the
// very bytes it was read from: without compression pointers the second-level
// encoding is canonical.
func FuzzParseEncoded(f *testing.F) {
	f.Add(fuzzEncoded(f, nbns.MustName("FRED", nbns.FileServer), ""))
	f.Add(fuzzEncoded(f, nbns.MustName("FRED", nbns.FileServer), "NETBIOS.COM"))
	f.Add([]byte{0xC0, 0x0C})
	f.Fuzz(func(t *testing.T, in []byte) {
		n, scope, l, err := nbns.ParseEncoded(in)
		if err != nil {
			fuzzCheckError(t, err, len(in))
			if n != (nbns.Name{}) || scope != "" || l != 0 {
				t.Fatalf("ParseEncoded failed with %v but returned %x, %q, %d", err, n.Bytes(), scope, l)
			}
			return
		}
		if l < 2+nbns.EncodedLen || l > nbns.MaxEncodedLen || l > len(in) {
			t.Fatalf("ParseEncoded(%q) length %d out of range", in, l)
		}
		enc, err := n.AppendEncoded(nil, scope)
		if err != nil {
			t.Fatalf("AppendEncoded(%q) after ParseEncoded: %v", scope, err)
		}
		if !bytes.Equal(enc, in[:l]) {
			t.Fatalf("ParseEncoded(%q) re-encodes to %q", in[:l], enc)
		}
		n2, scope2, l2, err := nbns.ParseEncoded(enc)
		if err != nil || n2 != n || scope2 != scope || l2 != l {
			t.Fatalf("second ParseEncoded = %v, %q, %d, %v; want %v, %q, %d", n2, scope2, l2, err, n, scope, l)
		}
		// A prefix of a good name is a short name, not some other error.
		for _, k := range [...]int{0, 1, 1 + nbns.EncodedLen, l - 1} {
			if _, _, _, err := nbns.ParseEncoded(in[:k]); !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("ParseEncoded(%q) = %v, want io.ErrUnexpectedEOF", in[:k], err)
			}
		}
	})
}

// FuzzNodeStatusRequest checks that a request UnmarshalBinary accepts encodes
// back to a request that decodes to the same value.
func FuzzNodeStatusRequest(f *testing.F) {
	for _, s := range fuzzCorpus(f)["FuzzNodeStatusRequest"][:3] {
		f.Add(s.args[0].([]byte))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var q nbns.NodeStatusRequest
		err := q.UnmarshalBinary(in)
		// A value that held another request decodes to the same result.
		reused := nbns.NodeStatusRequest{ID: 7, Name: nbns.MustName("OLD", nbns.FileServer), Scope: "OLD.SCOPE", Broadcast: true}
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
		var q2 nbns.NodeStatusRequest
		if err := q2.UnmarshalBinary(enc); err != nil {
			t.Fatalf("UnmarshalBinary(AppendBinary(%+v)) = %v; bytes %x", q, err, enc)
		}
		// The codec is one-to-one: every field comes back as it was, the
		// zero Name (32 'A's on the wire) included.
		if q2 != q {
			t.Fatalf("round trip of %x: got %+v, want %+v", in, q2, q)
		}
		if enc2, _ := q2.AppendBinary(nil); !bytes.Equal(enc2, enc) {
			t.Fatalf("encoding is not stable:\n%x\n%x", enc, enc2)
		}
		// A request in canonical form (flags 0 or B, only QDCOUNT set, the
		// name without pointers) is reproduced byte for byte.
		flags := binary.BigEndian.Uint16(in[2:])
		_, _, l, err := nbns.ParseEncoded(in[nbns.HeaderLen:])
		if err == nil && flags&^0x0010 == 0 && string(in[6:12]) == "\x00\x00\x00\x00\x00\x00" {
			if !bytes.Equal(enc, in[:nbns.HeaderLen+l+4]) {
				t.Fatalf("canonical request %x re-encodes to %x", in, enc)
			}
		}
	})
}

// FuzzNodeStatusResponse checks that a response UnmarshalBinary accepts
// encodes back to one that decodes to the same value, that decoding never
// allocates more than the input can hold, and that a reused value gives the
// same result as a fresh one.
func FuzzNodeStatusResponse(f *testing.F) {
	for _, s := range fuzzCorpus(f)["FuzzNodeStatusResponse"][:3] {
		f.Add(s.args[0].([]byte))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		buf := bytes.Clone(in)
		var r nbns.NodeStatusResponse
		err := r.UnmarshalBinary(buf)

		// A value that held a bigger reply decodes to the same result.
		stale := fuzzStaleResponse()
		errStale := stale.UnmarshalBinary(buf)
		if (err == nil) != (errStale == nil) {
			t.Fatalf("decoding into a used value: %v; into a zero value: %v", errStale, err)
		}
		if err != nil {
			fuzzCheckError(t, err, len(in))
			return
		}
		if !fuzzEqual(r, stale) {
			t.Fatalf("decoding into a used value differs (-fresh +used):\n%s", cmp.Diff(r, stale, fuzzCmpOpts))
		}

		if limit := len(in) / nbns.NodeNameLen; len(r.Names) > limit || cap(r.Names) > limit {
			t.Fatalf("%d-byte reply gave len %d cap %d names, more than %d", len(in), len(r.Names), cap(r.Names), limit)
		}
		if r.MissingStatistics < 0 || r.MissingStatistics > nbns.StatisticsLen {
			t.Fatalf("MissingStatistics = %d", r.MissingStatistics)
		}
		if _, ok := r.MAC(); ok && r.MissingStatistics > nbns.StatisticsLen-6 {
			t.Fatalf("MAC known with %d statistics bytes missing", r.MissingStatistics)
		}
		if _, err := r.ServerName(); err != nil {
			if e, ok := errors.AsType[*nbns.NoServerNameError](err); !ok || len(e.Names) != len(r.Names) || e.Error() == "" {
				t.Fatalf("ServerName: %v", err)
			}
		}

		// The result does not alias the input.
		first := r
		first.Names = slices.Clone(r.Names)
		for i := range buf {
			buf[i] ^= 0xFF
		}
		if !fuzzEqual(first, r) {
			t.Fatalf("result changed with the input (-before +after):\n%s", cmp.Diff(first, r, fuzzCmpOpts))
		}

		// Decoding the same bytes into the same value again gives the same
		// result and reuses the name table.
		var names0 *nbns.NodeName
		if len(r.Names) > 0 {
			names0 = &r.Names[0]
		}
		if err := r.UnmarshalBinary(in); err != nil {
			t.Fatalf("second decode into the same value: %v", err)
		}
		if !fuzzEqual(first, r) {
			t.Fatalf("second decode into the same value differs (-first +second):\n%s", cmp.Diff(first, r, fuzzCmpOpts))
		}
		if len(r.Names) > 0 && &r.Names[0] != names0 {
			t.Fatalf("second decode allocated a new name table")
		}

		enc, err := r.AppendBinary(nil)
		if err != nil {
			t.Fatalf("AppendBinary: %v", err)
		}
		if m, _ := r.MarshalBinary(); !bytes.Equal(m, enc) {
			t.Fatalf("MarshalBinary = %x, AppendBinary = %x", m, enc)
		}
		if a, _ := r.AppendBinary([]byte("xy")); !bytes.Equal(a, append([]byte("xy"), enc...)) {
			t.Fatalf("AppendBinary to a prefix = %x", a)
		}
		var r2 nbns.NodeStatusResponse
		if err := r2.UnmarshalBinary(enc); err != nil {
			t.Fatalf("UnmarshalBinary(AppendBinary(...)) = %v; bytes %x", err, enc)
		}
		// AppendBinary writes R, OPCODE 0 and the counts of a node status
		// response; the rest must come back as it was. A truncated (TC)
		// reply re-encodes with NUM_NAMES and RDLENGTH that fit what was
		// kept, so its bytes differ but its value does not.
		want := r
		want.Header.Response, want.Header.OpCode = true, nbns.OpQuery
		want.Header.QDCount, want.Header.ANCount, want.Header.NSCount, want.Header.ARCount = 0, 1, 0, 0
		if !fuzzEqual(want, r2) {
			t.Fatalf("round trip of %x differs (-want +got):\n%s", in, cmp.Diff(want, r2, fuzzCmpOpts))
		}
		if enc2, _ := r2.AppendBinary(nil); !bytes.Equal(enc2, enc) {
			t.Fatalf("encoding is not stable:\n%x\n%x", enc, enc2)
		}

		// A reply in canonical form is reproduced byte for byte: header
		// counts 0/1/0/0 and no 0x0060 bits, RR_NAME without pointers,
		// NUM_NAMES and RDLENGTH that match what was decoded.
		if _, _, l, err := nbns.ParseEncoded(in[nbns.HeaderLen:]); err == nil &&
			in[3]&0x60 == 0 && string(in[4:12]) == "\x00\x00\x00\x01\x00\x00\x00\x00" {
			rd := nbns.HeaderLen + l + 8
			rdlen := int(binary.BigEndian.Uint16(in[rd:]))
			if int(in[rd+2]) == len(r.Names) && rdlen == 1+nbns.NodeNameLen*len(r.Names)+nbns.StatisticsLen-r.MissingStatistics &&
				(len(enc) > len(in) || !bytes.Equal(enc, in[:len(enc)])) {
				t.Fatalf("canonical reply\n%x\nre-encodes to\n%x", in, enc)
			}
		}
	})
}

// FuzzHeader checks that the 12 header bytes round-trip, except the two
// always-zero flag bits 0x0060, which are dropped.
func FuzzHeader(f *testing.F) {
	f.Add([]byte("\x19\xd6\x84\x00\x00\x00\x00\x01\x00\x00\x00\x00"))
	f.Add([]byte("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var h nbns.Header
		err := h.UnmarshalBinary(in)
		if len(in) < nbns.HeaderLen {
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("UnmarshalBinary(%x) = %v, want io.ErrUnexpectedEOF", in, err)
			}
			fuzzCheckError(t, err, len(in))
			return
		}
		if err != nil {
			t.Fatalf("UnmarshalBinary(%x): %v", in, err)
		}
		out, err := h.AppendBinary(nil)
		if err != nil {
			t.Fatalf("AppendBinary(%+v): %v", h, err)
		}
		want := bytes.Clone(in[:nbns.HeaderLen])
		want[3] &^= 0x60
		if !bytes.Equal(out, want) {
			t.Fatalf("header %x re-encodes to %x, want %x", in[:nbns.HeaderLen], out, want)
		}
		var h2 nbns.Header
		if err := h2.UnmarshalBinary(out); err != nil || h2 != h {
			t.Fatalf("second decode = %+v, %v; want %+v", h2, err, h)
		}
	})
}

// fuzzEqual reports whether a and b are equal as fuzzCmpOpts compares them:
// a nil name table equals an empty one. It is the fast path; cmp.Diff
// explains a difference.
func fuzzEqual(a, b nbns.NodeStatusResponse) bool {
	if !slices.Equal(a.Names, b.Names) {
		return false
	}
	a.Names, b.Names = nil, nil
	return reflect.DeepEqual(a, b)
}

// fuzzCheckError checks that a decoding error is a *nbns.ParseError that
// names a field starting inside the input.
func fuzzCheckError(t *testing.T, err error, n int) {
	t.Helper()
	pe, ok := errors.AsType[*nbns.ParseError](err)
	if !ok {
		t.Fatalf("error %v (%T) is not a *nbns.ParseError", err, err)
	}
	if pe.Field == "" || pe.Err == nil || pe.Offset < 0 || pe.Offset > n {
		t.Fatalf("bad ParseError %#v for a %d-byte input", pe, n)
	}
}

// fuzzStaleResponse returns a decoded-looking value with room for 8 names,
// to decode into.
func fuzzStaleResponse() nbns.NodeStatusResponse {
	names := make([]nbns.NodeName, 3, 8)
	for i := range names {
		names[i] = nbns.NodeName{Name: nbns.MustName("STALE", nbns.Suffix(i)), Flags: 0xFFFF}
	}
	return nbns.NodeStatusResponse{
		Header:            nbns.Header{ID: 0xFFFF, Truncated: true, RCode: 3, QDCount: 9},
		Name:              nbns.MustName("STALE", nbns.FileServer),
		Scope:             "STALE.SCOPE",
		TTL:               0xFFFFFFFF,
		Names:             names,
		Statistics:        nbns.Statistics{UnitID: [6]byte{1, 2, 3, 4, 5, 6}, GoodSends: 9},
		MissingStatistics: 17,
	}
}

// A fuzzSeed is one file of the committed seed corpus.
type fuzzSeed struct {
	name string // file name in testdata/fuzz/<target>/
	// want is "" when the target's decoder must accept args[0], or the
	// Field of the *nbns.ParseError it must fail with. FuzzName seeds
	// leave it empty.
	want string
	args []any // the fuzz arguments: []byte, and a string for FuzzName
}

// fuzzDecoders decodes the first argument of each target's seeds.
var fuzzDecoders = map[string]func([]byte) error{
	"FuzzParseEncoded": func(b []byte) error {
		_, _, _, err := nbns.ParseEncoded(b)
		return err
	},
	"FuzzNodeStatusRequest":  func(b []byte) error { return new(nbns.NodeStatusRequest).UnmarshalBinary(b) },
	"FuzzNodeStatusResponse": func(b []byte) error { return new(nbns.NodeStatusResponse).UnmarshalBinary(b) },
	"FuzzHeader":             func(b []byte) error { return new(nbns.Header).UnmarshalBinary(b) },
	"FuzzNameQueryRequest":   func(b []byte) error { return new(nbns.NameQueryRequest).UnmarshalBinary(b) },
	"FuzzNameQueryResponse":  func(b []byte) error { return new(nbns.NameQueryResponse).UnmarshalBinary(b) },
}

// TestFuzzCorpus checks the committed seed corpus against fuzzCorpus, and
// each seed against the outcome its entry expects. With -writecorpus it
// writes the files instead.
func TestFuzzCorpus(t *testing.T) {
	corpus := fuzzCorpus(t)
	for _, target := range []string{
		"FuzzName", "FuzzParseEncoded", "FuzzNodeStatusRequest", "FuzzNodeStatusResponse", "FuzzHeader",
		"FuzzNameQueryRequest", "FuzzNameQueryResponse",
	} {
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
			if decode := fuzzDecoders[target]; decode != nil {
				err := decode(s.args[0].([]byte))
				pe, _ := errors.AsType[*nbns.ParseError](err)
				switch {
				case s.want == "" && err != nil:
					t.Errorf("%s/%s: want success, got %v", target, s.name, err)
				case s.want != "" && (pe == nil || pe.Field != s.want):
					t.Errorf("%s/%s: want a %s error, got %v", target, s.name, s.want, err)
				}
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

func fuzzBytes(n nbns.Name) []byte {
	b := n.Bytes()
	return b[:]
}

func fuzzEncoded(tb testing.TB, n nbns.Name, scope string) []byte {
	b, err := n.AppendEncoded(nil, scope)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// fuzzLabels writes labels as a second-level encoded name, each with its
// length byte, then the terminating 0x00; it does not validate them.
func fuzzLabels(labels ...string) []byte {
	var b []byte
	for _, l := range labels {
		b = append(append(b, byte(len(l))), l...)
	}
	return append(b, 0)
}

func fuzzFirstLevel(n nbns.Name) string { return string(n.AppendFirstLevel(nil)) }

func fuzzCat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func fuzzU16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

func fuzzHeader(id, flags, qd, an, ns, ar uint16) []byte {
	return fuzzCat(fuzzU16(id), fuzzU16(flags), fuzzU16(qd), fuzzU16(an), fuzzU16(ns), fuzzU16(ar))
}

// fuzzQuestion is a question of type NBSTAT and class IN.
func fuzzQuestion(name []byte) []byte {
	return fuzzCat(name, fuzzU16(nbns.TypeNBSTAT), fuzzU16(nbns.ClassIN))
}

// fuzzRR is an answer record of type NBSTAT, class IN, TTL 0 with the given
// RDLENGTH, which may lie, followed by rdata.
func fuzzRR(name []byte, rdlen int, rdata ...[]byte) []byte {
	return fuzzCat(fuzzQuestion(name), []byte{0, 0, 0, 0}, fuzzU16(uint16(rdlen)), fuzzCat(rdata...))
}

// fuzzNodeName is one NODE_NAME entry.
func fuzzNodeName(s string, suffix nbns.Suffix, flags uint16) []byte {
	return fuzzCat(fuzzBytes(nbns.MustName(s, suffix)), fuzzU16(flags))
}

// fuzzPointerChain returns a response with qd questions: the first holds
// the wildcard name, every other one is a pointer to the previous question's
// name, and RR_NAME points to the last, so RR_NAME takes qd pointer hops.
func fuzzPointerChain(tb testing.TB, qd int, names, stats []byte) []byte {
	b := fuzzCat(fuzzHeader(0x2001, 0x8400, uint16(qd), 1, 0, 0), fuzzQuestion(fuzzEncoded(tb, nbns.Wildcard(), "")))
	prev := nbns.HeaderLen
	for range qd - 1 {
		off := len(b)
		b = append(b, fuzzQuestion([]byte{0xC0 | byte(prev>>8), byte(prev)})...)
		prev = off
	}
	return fuzzCat(b, fuzzRR([]byte{0xC0 | byte(prev>>8), byte(prev)}, 1+len(names)+len(stats), []byte{byte(len(names) / nbns.NodeNameLen)}, names, stats))
}

// fuzzSet returns a copy of b with b[i] = v.
func fuzzSet(b []byte, i int, v byte) []byte {
	c := bytes.Clone(b)
	c[i] = v
	return c
}

// impacketNodeStatus is the Windows node status reply of fortra/impacket
// tests/SMB_RPC/test_nmb.py: three names and the MAC 00:15:5d:01:23:08.
const impacketNodeStatus = "f97384000000000100000000204648454a454f434e46474543444844464547454c4445454c44424644444141410000" +
	"2100010000000000650357494e2d56423735464b344b31533000040057494e2d56423735464b344b315330200400574f524b47524f5550202020" +
	"20202000840000155d01230800000000000000000000000000000000000000000000000000000000000000000000000000000000"

// fuzzCorpus returns the committed seed corpus by target. The entries are
// built field by field from real packets and from the traps of
// PROTOCOL.md (c).
func fuzzCorpus(tb testing.TB) map[string][]fuzzSeed {
	tb.Helper()
	flows := nbns.ReadFlows(tb, filepath.Join("testdata", "samba-nodestatus.hex"))
	if len(flows) != 2 || len(flows[0]) != 50 || len(flows[1]) != 193 {
		tb.Fatalf("samba-nodestatus.hex: unexpected flows")
	}
	sambaReq, sambaResp := flows[0], flows[1]
	sambaNames, sambaStats := sambaResp[57:57+5*nbns.NodeNameLen], sambaResp[57+5*nbns.NodeNameLen:]
	sambaTC := fuzzSet(sambaResp, 2, sambaResp[2]|0x02) // the same reply with the TC flag

	var (
		wildcard  = nbns.Wildcard()
		fred      = nbns.MustName("FRED", nbns.FileServer) // RFC 1001 §14.1: EGFCEFEECACA…
		smbserver = nbns.MustName("*SMBSERVER", nbns.FileServer)
		labsrv    = nbns.MustName("LABSRV", nbns.FileServer)
		win       = nbns.MustName("WIN-VB75FK4K1S0", nbns.Workstation)
		msbrowse  = nbns.MustName("\x01\x02__MSBROWSE__\x02", nbns.Browse)

		encWild  = fuzzEncoded(tb, wildcard, "")
		encFred  = fuzzEncoded(tb, fred, "")
		encFredS = fuzzEncoded(tb, fred, "NETBIOS.COM") // RFC 1001 §14.1: FRED.NETBIOS.COM
		flFred   = fuzzFirstLevel(fred)

		// The longest name: 34 + 3×64 + 29 = 255 bytes; one more byte in
		// the last label makes 256.
		a63, b63, c63 = strings.Repeat("A", 63), strings.Repeat("B", 63), strings.Repeat("C", 63)
		scope255      = a63 + "." + b63 + "." + c63 + "." + strings.Repeat("D", 28)
		enc255        = fuzzEncoded(tb, fred, scope255)
		enc256        = fuzzLabels(flFred, a63, b63, c63, strings.Repeat("D", 29))

		// Hostile names.
		lettersQZ   = fuzzLabels("CKQZ" + strings.Repeat("A", 28))                   // Wireshark accepts 'A'..'Z'
		lowercase   = fuzzLabels(strings.ToLower(flFred))                            // 'a'..'p'
		label31     = fuzzLabels(flFred[:31])                                        // first label not 32
		label33     = fuzzLabels(flFred + "A")                                       // first label not 32
		label16     = fuzzLabels(string(fuzzBytes(fred)))                            // raw 16 bytes, not encoded
		reserved40  = fuzzCat([]byte{0x40}, encFred[1:])                             // label type 01
		reserved80  = fuzzCat(encFred[:33], []byte{0x80}, encFredS[34:])             // label type 10 in the scope
		dotLabel    = fuzzLabels(flFred, "NETB.OS")                                  // a dot inside a label
		label64     = fuzzLabels(flFred, strings.Repeat("E", 64))                    // length byte 0x40
		emptyLabel  = fuzzCat(fuzzLabels(flFred, "FOO"), fuzzLabels("BAR"))          // Impacket's "FOO..BAR"
		zeroName    = fuzzLabels(strings.Repeat("A", nbns.EncodedLen))               // 16 NUL bytes
		emptyName   = []byte{0}                                                      // no first label
		truncName   = encFred[:20]                                                   // cut inside the first label
		noTerm      = encFred[:33]                                                   // missing 0x00
		ptrAfter    = fuzzCat(encFred[:33], []byte{0xC0, 0x0C})                      // scope by pointer
		fredPtrQ    = fuzzCat(encFred[:33], []byte{0xC0, byte(nbns.HeaderLen + 33)}) // scope from the question
		winNames    = fuzzCat(fuzzNodeName("WIN-VB75FK4K1S0", nbns.Workstation, 0x0400), fuzzNodeName("WIN-VB75FK4K1S0", nbns.FileServer, 0x0400), fuzzNodeName("WORKGROUP", nbns.Workstation, 0x8400))
		winStats    = fuzzCat([]byte{0x00, 0x15, 0x5d, 0x01, 0x23, 0x08}, make([]byte, 40))
		winHeader   = fuzzHeader(0xf973, 0x8400, 0, 1, 0, 0)
		winHeaderTC = fuzzHeader(0xf973, 0x8600, 0, 1, 0, 0)
		encWin      = fuzzEncoded(tb, win, "")
		windows     = fuzzCat(winHeader, fuzzRR(encWin, 101, []byte{3}, winNames, winStats))
		respHeader  = fuzzHeader(0x2001, 0x8400, 0, 1, 0, 0)
		reqHeader   = fuzzHeader(0x19d6, 0x0000, 1, 0, 0, 0)
	)
	if got := hex.EncodeToString(windows); got != impacketNodeStatus {
		tb.Fatalf("Windows vector:\n%s\nwant\n%s", got, impacketNodeStatus)
	}
	// resp returns a response with the given RR_NAME and Samba's name table.
	resp := func(rrName []byte) []byte {
		return fuzzCat(respHeader, fuzzRR(rrName, 137, []byte{5}, sambaNames, sambaStats))
	}
	req := func(qname []byte) []byte { return fuzzCat(reqHeader, fuzzQuestion(qname)) }

	b := func(name, want string, in []byte) fuzzSeed { return fuzzSeed{name, want, []any{in}} }
	corpus := map[string][]fuzzSeed{
		"FuzzName": {
			{"rfc1001-fred-20", "", []any{fuzzBytes(fred), "FRED<20>"}},
			{"wildcard", "", []any{fuzzBytes(wildcard), "*<00>"}},
			{"smbserver-20", "", []any{fuzzBytes(smbserver), "*SMBSERVER<20>"}},
			{"star-space-padded-00", "", []any{fuzzBytes(nbns.NameFromBytes([16]byte{'*', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', 0})), `*\x20<00>`}},
			{"msbrowse-01", "", []any{fuzzBytes(msbrowse), `\x01\x02__MSBROWSE__\x02<01>`}},
			{"zero-name", "", []any{make([]byte, 16), `\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00<00>`}},
			{"all-ff", "", []any{bytes.Repeat([]byte{0xFF}, 16), `\xff\xFF<ff>`}},
			{"lowercase-labgrp-1e", "", []any{[]byte("labgrp         \x1e"), "labgrp<1e>"}},
			{"backslash", "", []any{[]byte(`A\B            ` + "\x20"), `A\x5CB<20>`}},
			{"ip-literal-20", "", []any{fuzzBytes(nbns.MustName("198.18.0.2", nbns.FileServer)), "198.18.0.2<20>"}},
			{"short-raw-fred", "", []any{[]byte("FRED"), "FRED"}},
			{"too-long-16", "", []any{fuzzBytes(labsrv), "0123456789ABCDEF<20>"}},
			{"bad-escape", "", []any{fuzzBytes(labsrv), `LAB\x4<20>`}},
			{"bad-escape-letter", "", []any{fuzzBytes(labsrv), `LAB\y41<20>`}},
			{"bad-suffix", "", []any{fuzzBytes(labsrv), "LABSRV<2G>"}},
			{"no-suffix", "", []any{fuzzBytes(labsrv), "LABSRV"}},
			{"empty-body", "", []any{fuzzBytes(labsrv), "<20>"}},
		},
		"FuzzParseEncoded": {
			b("rfc1001-fred-20", "", encFred),
			b("rfc1001-fred-scope-netbios-com", "", encFredS),
			b("smbserver-20", "", fuzzEncoded(tb, smbserver, "")),
			b("wildcard", "", encWild),
			b("nbtprobe-00", "", fuzzEncoded(tb, nbns.MustName("NBTPROBE", nbns.Workstation), "")),
			b("msbrowse-01", "", fuzzEncoded(tb, msbrowse, "")),
			b("zero-name", "", zeroName),
			b("scope-255-bytes", "", enc255),
			b("trailing-bytes", "", fuzzCat(encFred, []byte("\x20EOEC"))),
			b("empty-scope-label-impacket", "", emptyLabel),
			b("scope-256-bytes", "NAME", enc256),
			b("scope-label-64", "NAME", label64),
			b("dot-in-scope-label", "NAME", dotLabel),
			b("pointer-at-start", "NAME", []byte{0xC0, 0x0C}),
			b("pointer-after-first-label", "NAME", ptrAfter),
			b("reserved-label-0x40", "NAME", reserved40),
			b("reserved-label-0x80-scope", "NAME", reserved80),
			b("first-label-31", "NAME", label31),
			b("first-label-33", "NAME", label33),
			b("first-label-16-raw", "NAME", label16),
			b("first-label-0", "NAME", emptyName),
			b("letters-q-z", "NAME", lettersQZ),
			b("letters-lowercase", "NAME", lowercase),
			b("empty", "NAME", []byte{}),
			b("truncated-length-byte", "NAME", encFred[:1]),
			b("truncated-first-label", "NAME", truncName),
			b("truncated-terminator", "NAME", noTerm),
		},
		"FuzzNodeStatusRequest": {
			b("samba-nmblookup-wildcard", "", sambaReq),
			b("rfc1001-fred-20", "", req(encFred)),
			b("rfc1001-fred-scope-netbios-com", "", req(encFredS)),
			b("smbserver-20", "", req(fuzzEncoded(tb, smbserver, ""))),
			b("labsrv-20", "", req(fuzzEncoded(tb, labsrv, ""))),
			b("nbtscan-broadcast-flag", "", fuzzCat(fuzzHeader(0x1234, 0x0010, 1, 0, 0, 0), fuzzQuestion(encWild))),
			b("all-flags-but-r", "", fuzzCat(fuzzHeader(0x1234, 0x07FF, 1, 0, 0, 0), fuzzQuestion(encWild))),
			b("zero-name", "", req(zeroName)),
			b("trailing-bytes", "", fuzzCat(sambaReq, []byte{0, 0, 0})),
			b("scope-255-bytes", "", req(enc255)),
			b("scope-256-bytes", "QUESTION_NAME", req(enc256)),
			b("scope-label-64", "QUESTION_NAME", req(label64)),
			b("dot-in-scope-label", "QUESTION_NAME", req(dotLabel)),
			b("empty-scope-label-impacket", "QUESTION_TYPE", req(emptyLabel)),
			b("pointer-loop-via-header", "QUESTION_NAME", fuzzCat(fuzzHeader(0x1234, 0, 1, 0, 0xC00C, 0), fuzzQuestion([]byte{0xC0, 0x08}))),
			b("pointer-to-itself", "QUESTION_NAME", req([]byte{0xC0, 0x0C})),
			b("pointer-forward", "QUESTION_NAME", req([]byte{0xC0, 0x20})),
			b("reserved-label-0x40", "QUESTION_NAME", req(reserved40)),
			b("reserved-label-0x80-scope", "QUESTION_NAME", req(reserved80)),
			b("first-label-31", "QUESTION_NAME", req(label31)),
			b("first-label-33", "QUESTION_NAME", req(label33)),
			b("first-label-0", "QUESTION_NAME", req(emptyName)),
			b("letters-q-z", "QUESTION_NAME", req(lettersQZ)),
			b("truncated-header", "HEADER", sambaReq[:11]),
			b("truncated-question-name", "QUESTION_NAME", sambaReq[:30]),
			b("truncated-question-terminator", "QUESTION_NAME", sambaReq[:45]),
			b("truncated-question-type", "QUESTION_TYPE", sambaReq[:47]),
			b("truncated-question-class", "QUESTION_TYPE", sambaReq[:49]),
			b("response-bit", "HEADER", sambaResp),
			b("opcode-refresh", "OPCODE", fuzzCat(fuzzHeader(0x1234, 0x4000, 1, 0, 0, 0), fuzzQuestion(encWild))),
			b("qdcount-0", "QDCOUNT", fuzzCat(fuzzHeader(0x1234, 0, 0, 0, 0, 0), fuzzQuestion(encWild))),
			b("qdcount-2", "QDCOUNT", fuzzCat(fuzzHeader(0x1234, 0, 2, 0, 0, 0), fuzzQuestion(encWild), fuzzQuestion(encWild))),
			b("qtype-nb", "QUESTION_TYPE", fuzzSet(sambaReq, 47, 0x20)),
			b("qclass-3", "QUESTION_CLASS", fuzzSet(sambaReq, 49, 0x03)),
		},
		"FuzzNodeStatusResponse": {
			b("samba-nmbd-5-names", "", sambaResp),
			b("windows-3-names-impacket", "", windows),
			b("rr-name-pointer-to-question", "", fuzzCat(fuzzHeader(0x2001, 0x8400, 1, 1, 0, 0), fuzzQuestion(encWild), fuzzRR([]byte{0xC0, 0x0C}, 137, []byte{5}, sambaNames, sambaStats))),
			b("rr-name-scope-pointer-to-question", "", fuzzCat(fuzzHeader(0x2001, 0x8400, 1, 1, 0, 0), fuzzQuestion(encFredS), fuzzRR(fredPtrQ, 137, []byte{5}, sambaNames, sambaStats))),
			b("rr-name-scoped", "", resp(encFredS)),
			b("rr-name-scope-255-bytes", "", resp(enc255)),
			b("question-echoed", "", fuzzCat(fuzzHeader(0x2001, 0x8400, 1, 1, 0, 0), fuzzQuestion(encWild), fuzzRR(encWild, 137, []byte{5}, sambaNames, sambaStats))),
			b("samba-trailing-padding", "", fuzzCat(sambaResp, make([]byte, 7))),
			b("nbtscan-50-byte-footer", "", fuzzCat(winHeader, fuzzRR(encWin, 105, []byte{3}, winNames, winStats, make([]byte, 4)))),
			b("h-node-flags-nmap-1239", "", fuzzCat(respHeader, fuzzRR(encWild, 83, []byte{2}, fuzzNodeName("NMAPHOST", nbns.Workstation, 0x4400), fuzzNodeName("WORKGROUP", nbns.Workstation, 0xC400), make([]byte, 46)))),
			b("samba-master-browser-7-names", "", fuzzCat(respHeader, fuzzRR(encWild, 1+7*18+46, []byte{7}, sambaNames, fuzzNodeName("LABGRP", nbns.MasterBrowser, 0x0400), fuzzCat(fuzzBytes(msbrowse), fuzzU16(0x8400)), sambaStats))),
			b("all-flags-and-rcode", "", fuzzSet(fuzzSet(sambaResp, 2, 0x87), 3, 0xF3)),
			b("zero-names", "", fuzzCat(respHeader, fuzzRR(encWild, 47, []byte{0}, sambaStats))),
			b("statistics-mac-only", "", fuzzCat(winHeader, fuzzRR(encWin, 61, []byte{3}, winNames, winStats[:6]))),
			b("statistics-missing", "", fuzzCat(winHeader, fuzzRR(encWin, 55, []byte{3}, winNames))),
			b("pointer-chain-10-hops", "", fuzzPointerChain(tb, 10, sambaNames, sambaStats)),
			b("pointer-chain-11-hops", "RR_NAME", fuzzPointerChain(tb, 11, sambaNames, sambaStats)),
			b("pointer-loop-via-header", "QUESTION_NAME", fuzzCat(fuzzHeader(0x2001, 0x8400, 1, 1, 0xC00C, 0), fuzzQuestion([]byte{0xC0, 0x08}), fuzzRR(encWild, 137, []byte{5}, sambaNames, sambaStats))),
			b("pointer-loop-in-rr-name", "RR_NAME", fuzzCat(fuzzHeader(0x2001, 0x8400, 0, 1, 0xC00C, 0), fuzzRR([]byte{0xC0, 0x08}, 137, []byte{5}, sambaNames, sambaStats))),
			b("pointer-to-itself", "RR_NAME", resp([]byte{0xC0, 0x0C})),
			b("pointer-forward", "RR_NAME", resp([]byte{0xC0, 0x40})),
			b("reserved-label-0x40", "RR_NAME", resp(reserved40)),
			b("reserved-label-0x80-scope", "RR_NAME", resp(reserved80)),
			b("first-label-31", "RR_NAME", resp(label31)),
			b("first-label-33", "RR_NAME", resp(label33)),
			b("first-label-16-raw", "RR_NAME", resp(label16)),
			b("first-label-0", "RR_NAME", resp(emptyName)),
			b("letters-q-z", "RR_NAME", resp(lettersQZ)),
			b("scope-256-bytes", "RR_NAME", resp(enc256)),
			b("scope-label-64", "RR_NAME", resp(label64)),
			b("dot-in-scope-label", "RR_NAME", resp(dotLabel)),
			b("empty-scope-label-impacket", "RR_TYPE", resp(emptyLabel)),
			b("num-names-255-with-3-entries", "NUM_NAMES", fuzzSet(windows, 56, 255)),
			b("num-names-255-with-3-entries-tc", "NUM_NAMES", fuzzSet(fuzzSet(windows, 56, 255), 2, 0x86)),
			b("rdlength-lies-long", "RDATA", fuzzCat(winHeader, fuzzRR(encWin, 200, []byte{3}, winNames, winStats))),
			b("rdlength-lies-long-tc", "", fuzzCat(winHeaderTC, fuzzRR(encWin, 0xFFFF, []byte{3}, winNames, winStats))),
			b("rdlength-lies-short-of-names", "NUM_NAMES", fuzzCat(winHeader, fuzzRR(encWin, 50, []byte{3}, winNames, winStats))),
			b("rdlength-zero", "NUM_NAMES", fuzzCat(winHeader, fuzzRR(encWin, 0, []byte{3}, winNames, winStats))),
			b("truncated-header", "HEADER", sambaResp[:11]),
			b("truncated-rr-name", "RR_NAME", sambaResp[:30]),
			b("truncated-rr-name-terminator", "RR_NAME", sambaResp[:45]),
			b("truncated-rr-type", "RR_TYPE", sambaResp[:47]),
			b("truncated-rr-class", "RR_TYPE", sambaResp[:49]),
			b("truncated-ttl", "RDLENGTH", sambaResp[:52]),
			b("truncated-rdlength", "RDLENGTH", sambaResp[:55]),
			b("truncated-num-names", "RDATA", sambaResp[:56]),
			b("truncated-name-table", "RDATA", sambaResp[:100]),
			b("truncated-statistics-mac", "RDATA", sambaResp[:150]),
			b("truncated-statistics", "RDATA", sambaResp[:180]),
			b("truncated-num-names-tc", "NUM_NAMES", sambaTC[:56]),
			b("truncated-before-names-tc", "", sambaTC[:57]),
			b("truncated-name-table-tc", "", sambaTC[:100]),
			b("truncated-statistics-tc", "", sambaTC[:180]),
			b("truncated-question-type", "QUESTION_TYPE", fuzzCat(fuzzHeader(0x2001, 0x8400, 1, 1, 0, 0), encWild, []byte{0, 0x21})),
			b("qdcount-lies", "QUESTION_NAME", fuzzCat(fuzzHeader(0x2001, 0x8400, 3, 1, 0, 0), fuzzQuestion(encWild), fuzzRR(encWild, 137, []byte{5}, sambaNames, sambaStats))),
			b("not-a-response", "HEADER", sambaReq),
			b("opcode-registration", "OPCODE", fuzzSet(sambaResp, 2, 0xAC)),
			b("ancount-0", "ANCOUNT", fuzzSet(sambaResp, 7, 0)),
			b("rr-type-nb", "RR_TYPE", fuzzSet(sambaResp, 47, 0x20)),
			b("rr-class-2", "RR_CLASS", fuzzSet(sambaResp, 49, 0x02)),
		},
		"FuzzHeader": {
			b("samba-request", "", sambaReq[:12]),
			b("samba-response-whole", "", sambaResp),
			b("windows-response", "", winHeader),
			b("nbtscan-broadcast", "", fuzzHeader(0x1234, 0x0010, 1, 0, 0, 0)),
			b("truncated-response", "", winHeaderTC),
			b("reserved-bits-0x0060", "", fuzzHeader(0x1234, 0x0060, 1, 0, 0, 0)),
			b("opcode-f-rcode-f", "", fuzzHeader(0x1234, 0x780F, 0, 0, 0, 0)),
			b("all-ones", "", bytes.Repeat([]byte{0xFF}, 12)),
			b("short-11", "HEADER", sambaReq[:11]),
			b("empty", "HEADER", []byte{}),
		},
	}
	maps.Copy(corpus, nameQueryCorpus(tb))
	return corpus
}
