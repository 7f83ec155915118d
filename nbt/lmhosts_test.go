package nbt_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/nbt"
)

// lmCmp compares the value types of an LMHostsEntry.
var lmCmp = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b nbns.Name) bool { return a == b }),
}

// lmName parses a name in the NAME<XX> form, which keeps its case.
func lmName(t testing.TB, s string) nbns.Name {
	t.Helper()
	n, err := nbns.ParseName(s)
	if err != nil {
		t.Fatalf("ParseName(%q): %v", s, err)
	}
	return n
}

// lmEntry builds an entry of file at line; name is in the NAME<XX> form,
// and flags are "service", "pre", "mh" and "dom:DOMAIN".
func lmEntry(t testing.TB, file string, line int, addr, name string, flags ...string) nbt.LMHostsEntry {
	t.Helper()
	e := nbt.LMHostsEntry{Addr: netip.MustParseAddr(addr), Name: lmName(t, name), File: file, Line: line}
	for _, f := range flags {
		switch {
		case f == "service":
			e.Service = true
		case f == "pre":
			e.Preload = true
		case f == "mh":
			e.Multihomed = true
		case strings.HasPrefix(f, "dom:"):
			e.Domain = f[len("dom:"):]
		default:
			t.Fatalf("lmEntry: unknown flag %q", f)
		}
	}
	return e
}

// lmResult is what a parse gives, with errors as their messages.
type lmResult struct {
	Entries  []nbt.LMHostsEntry
	Files    []string
	Errors   []string
	Warnings []string
}

func lmResultOf(l *nbt.LMHosts) lmResult {
	r := lmResult{Entries: l.Entries(), Files: l.Files()}
	for _, e := range l.Errors() {
		r.Errors = append(r.Errors, e.Error())
	}
	for _, e := range l.Warnings() {
		r.Warnings = append(r.Warnings, e.Error())
	}
	return r
}

// TestParseLMHostsLines parses one-file LMHOSTS texts, line syntax only:
// entries, names, keywords and comments, and the lines that are
// skipped or warned about.
func TestParseLMHostsLines(t *testing.T) {
	const f = "lmhosts"
	e := func(line int, addr, name string, flags ...string) nbt.LMHostsEntry {
		return lmEntry(t, f, line, addr, name, flags...)
	}
	long := "192.0.2.1 a # " + strings.Repeat("x", 4<<10)
	cases := []struct {
		name string
		text string
		want lmResult // Files is always {"lmhosts"}
	}{
		{"computer name", "192.0.2.1 filesrv\n",
			lmResult{Entries: []nbt.LMHostsEntry{e(1, "192.0.2.1", "FILESRV<20>")}}},
		{"no final newline", "192.0.2.1 filesrv",
			lmResult{Entries: []nbt.LMHostsEntry{e(1, "192.0.2.1", "FILESRV<20>")}}},
		{"15 bytes", "192.0.2.1 abcdefghijklmno\n",
			lmResult{Entries: []nbt.LMHostsEntry{e(1, "192.0.2.1", "ABCDEFGHIJKLMNO<20>")}}},
		{"bytes outside ASCII kept", "192.0.2.1 caf\xe9\n",
			lmResult{Entries: []nbt.LMHostsEntry{e(1, "192.0.2.1", `CAF\xE9<20>`)}}},
		{"blank lines, comments, tabs, leading blanks",
			"\n# the office\n\t 192.0.2.1\tfilesrv\t# the file server\n   \n#192.0.2.9 oldsrv\n  # indented comment\n",
			lmResult{Entries: []nbt.LMHostsEntry{e(3, "192.0.2.1", "FILESRV<20>")}}},
		{"CRLF and a byte order mark", "\xef\xbb\xbf192.0.2.1 filesrv #PRE\r\n\r\n192.0.2.2 printsrv\r\n",
			lmResult{Entries: []nbt.LMHostsEntry{
				e(1, "192.0.2.1", "FILESRV<20>", "pre"),
				e(3, "192.0.2.2", "PRINTSRV<20>"),
			}}},
		{"every keyword", "192.0.2.1 dc1 #PRE #DOM:sales #MH # comment\n",
			lmResult{Entries: []nbt.LMHostsEntry{e(1, "192.0.2.1", "DC1<20>", "pre", "dom:SALES", "mh")}}},
		{"keywords after a comment are a comment", "192.0.2.1 srv # see #PRE\n",
			lmResult{Entries: []nbt.LMHostsEntry{e(1, "192.0.2.1", "SRV<20>")}}},
		{"an unknown #word starts a comment", "192.0.2.1 srv #NOFNR #PRE\n",
			lmResult{Entries: []nbt.LMHostsEntry{e(1, "192.0.2.1", "SRV<20>")}}},
		{"a comment right after a keyword", "192.0.2.1 srv #PRE#x\n",
			lmResult{Entries: []nbt.LMHostsEntry{e(1, "192.0.2.1", "SRV<20>")}}},
		{"the same #DOM twice", "192.0.2.1 dc #DOM:sales #DOM:SALES\n",
			lmResult{Entries: []nbt.LMHostsEntry{e(1, "192.0.2.1", "DC<20>", "dom:SALES")}}},
		{"#DOM before #PRE", "192.0.2.1 dc1 #DOM:SALES #PRE\n",
			lmResult{
				Entries:  []nbt.LMHostsEntry{e(1, "192.0.2.1", "DC1<20>", "pre", "dom:SALES")},
				Warnings: []string{"lmhosts:1: #PRE after #DOM: KB Q150800 asks for #PRE first"},
			}},
		{"keywords in lower case", "192.0.2.1 a #pre\n192.0.2.2 b #Dom:x #PRE\n192.0.2.3 c #mh\n",
			lmResult{
				Entries: []nbt.LMHostsEntry{e(1, "192.0.2.1", "A<20>"), e(2, "192.0.2.2", "B<20>"), e(3, "192.0.2.3", "C<20>")},
				Warnings: []string{
					`lmhosts:1: not a keyword, so a comment: Windows reads keywords in capitals only (KB Q150800): "#pre"`,
					`lmhosts:2: not a keyword, so a comment: Windows reads keywords in capitals only (KB Q150800): "#Dom:x"`,
					`lmhosts:3: not a keyword, so a comment: Windows reads keywords in capitals only (KB Q150800): "#mh"`,
				},
			}},
		{"quoted 16-byte name", `192.0.2.1 "HARBOUR        \0x1B" #PRE`,
			lmResult{Entries: []nbt.LMHostsEntry{e(1, "192.0.2.1", "HARBOUR<1B>", "service", "pre")}}},
		{"quoted name upper-cased, its escapes kept", `192.0.2.1 "harbour        \0x1b"` + "\n" + `192.0.2.2 "a\0x62c            \0X20"`,
			lmResult{Entries: []nbt.LMHostsEntry{
				e(1, "192.0.2.1", "HARBOUR<1B>", "service"),
				e(2, "192.0.2.2", "AbC<20>", "service"),
			}}},
		{"short escape", `192.0.2.1 "HARBOUR        \1b"`,
			lmResult{Entries: []nbt.LMHostsEntry{e(1, "192.0.2.1", "HARBOUR<1B>", "service")}}},
		{"escapes anywhere", `192.0.2.1 "\01\02__MSBROWSE__\02\0x01"`,
			lmResult{Entries: []nbt.LMHostsEntry{e(1, "192.0.2.1", `\x01\x02__MSBROWSE__\x02<01>`, "service")}}},
		{"quoted name with a space and a hash", `192.0.2.1 "my #1 host" #MH`,
			lmResult{Entries: []nbt.LMHostsEntry{e(1, "192.0.2.1", "MY #1 HOST<20>", "mh")}}},
		{"quoted name too short for a suffix", `11.14.21.96 "appl\0x1f"   # KB Q104576`,
			lmResult{
				Entries: []nbt.LMHostsEntry{e(1, "11.14.21.96", `APPL\x1F<20>`)},
				Warnings: []string{`lmhosts:1: quoted name of 5 bytes, not 16, so a computer name whose escape is not a suffix: ` +
					`pad the name with spaces to 15 bytes before \0xNN (KB Q150800)`},
			}},
		{"Samba's NAME#xx", "192.0.2.1 ntserver#20\n192.0.2.2 harbour#1b #PRE\n192.0.2.3 host#zz\n192.0.2.4 #20\n",
			lmResult{
				Entries: []nbt.LMHostsEntry{
					e(1, "192.0.2.1", "NTSERVER<20>", "service"),
					e(2, "192.0.2.2", "HARBOUR<1B>", "service", "pre"),
					e(3, "192.0.2.3", "HOST#ZZ<20>"),
				},
				Errors: []string{"lmhosts:4: address without a name"},
			}},
		{"bad lines are skipped, the others read",
			"192.0.2.1 a\n10.0.0 b\n192.0.2.3 c\n",
			lmResult{
				Entries: []nbt.LMHostsEntry{e(1, "192.0.2.1", "A<20>"), e(3, "192.0.2.3", "C<20>")},
				Errors:  []string{`lmhosts:2: bad IPv4 address: "10.0.0"`},
			}},
		{"bad addresses", "010.0.0.1 a\nfe80::1%eth0 b\n::ffff:192.0.2.1 c\n0.0.0.0 d\n255.255.255.255 e\n224.0.0.251 f\n192.0.2.1%eth0 g\n\"192.0.2.1\" h\nhost:139 i\n",
			lmResult{Errors: []string{
				`lmhosts:1: bad IPv4 address: "010.0.0.1"`,
				`lmhosts:2: IPv6 address: LMHOSTS maps names to IPv4 addresses only (MS-NBTE §2.2.3): "fe80::1%eth0"`,
				`lmhosts:3: IPv6 address: LMHOSTS maps names to IPv4 addresses only (MS-NBTE §2.2.3): "::ffff:192.0.2.1"`,
				`lmhosts:4: not a host address: "0.0.0.0"`,
				`lmhosts:5: not a host address: "255.255.255.255"`,
				`lmhosts:6: not a host address: "224.0.0.251"`,
				`lmhosts:7: bad IPv4 address: "192.0.2.1%eth0"`,
				`lmhosts:8: bad IPv4 address: "\"192.0.2.1\""`,
				`lmhosts:9: bad IPv4 address: "host:139"`,
			}}},
		{"bad names", "192.0.2.1\n192.0.2.2 #PRE\n192.0.2.3 abcdefghijklmnop\n192.0.2.4 abcdefghijklmnop#20\n" +
			"192.0.2.5 \"0123456789abcdefg\"\n192.0.2.6 \"\"\n192.0.2.7 back\\slash\n192.0.2.8 a\"b\n" +
			"192.0.2.9 \"" + strings.Repeat(`\0x00`, 16) + "\"\n",
			lmResult{Errors: []string{
				"lmhosts:1: address without a name",
				"lmhosts:2: address without a name",
				`lmhosts:3: name longer than 15 bytes: a 16-byte name goes in quotes, ending in its suffix as \0xNN: "abcdefghijklmnop"`,
				`lmhosts:4: name longer than 15 bytes: a 16-byte name goes in quotes, ending in its suffix as \0xNN: "abcdefghijklmnop#20"`,
				`lmhosts:5: quoted name longer than 16 bytes: "0123456789abcdefg"`,
				"lmhosts:6: empty name",
				`lmhosts:7: name with a backslash or a quote: put the name in quotes, and write a byte as \0xNN: "back\\slash"`,
				`lmhosts:8: name with a backslash or a quote: put the name in quotes, and write a byte as \0xNN: "a\"b"`,
				`lmhosts:9: name of 16 NUL bytes: that is no name: "` + strings.Repeat(`\\0x00`, 16) + `"`,
			}}},
		{"bad quoted names", `192.0.2.1 "bad\q"` + "\n" + `192.0.2.2 "bad\0x1"` + "\n" + `192.0.2.3 "open` + "\r\n" + `192.0.2.4 "name"#PRE` + "\n",
			lmResult{Errors: []string{
				`lmhosts:1: bad escape in a quoted name: write a byte as \0xNN: "bad\\q"`,
				`lmhosts:2: bad escape in a quoted name: write a byte as \0xNN: "bad\\0x1"`,
				`lmhosts:3: opening quote without its closing quote: "\"open"`,
				`lmhosts:4: text right after a closing quote: "\"name\"#PRE"`,
			}}},
		{"text after the name", "192.0.2.1 my host\n192.0.2.2 dc #PRE extra\n",
			lmResult{Errors: []string{
				`lmhosts:1: neither a keyword nor a comment (a comment starts with #): "host"`,
				`lmhosts:2: neither a keyword nor a comment (a comment starts with #): "extra"`,
			}}},
		{"bad #DOM", "192.0.2.1 dc #DOM:\n192.0.2.2 dc #DOM:abcdefghijklmnop\n192.0.2.3 dc #DOM:a #DOM:b\n",
			lmResult{Errors: []string{
				"lmhosts:1: #DOM: without a domain",
				`lmhosts:2: #DOM: domain longer than 15 bytes: "abcdefghijklmnop"`,
				"lmhosts:3: two #DOM: keywords with different domains",
			}}},
		{"a line of 4 KiB", "192.0.2.1 a #" + strings.Repeat("x", 4<<10-13) + "\r\n",
			lmResult{Entries: []nbt.LMHostsEntry{e(1, "192.0.2.1", "A<20>")}}},
		{"line too long", "192.0.2.1 a\n" + long + "\n192.0.2.3 c\n",
			lmResult{
				Entries: []nbt.LMHostsEntry{e(1, "192.0.2.1", "A<20>"), e(3, "192.0.2.3", "C<20>")},
				Errors:  []string{"lmhosts:2: line longer than 4 KiB"},
			}},
		{"unbalanced alternate blocks", "#END_ALTERNATE\n#BEGIN_ALTERNATE\n#BEGIN_ALTERNATE\n192.0.2.1 a\n",
			lmResult{
				Entries: []nbt.LMHostsEntry{e(4, "192.0.2.1", "A<20>")},
				Errors: []string{
					"lmhosts:1: #END_ALTERNATE without #BEGIN_ALTERNATE",
					"lmhosts:3: #BEGIN_ALTERNATE inside an alternate block",
					"lmhosts:2: #BEGIN_ALTERNATE without #END_ALTERNATE",
				},
			}},
		{"bad #INCLUDE lines", "#INCLUDE\n#INCLUDE   # comment\n#INCLUDE a b\n#INCLUDE \"a\n#INCLUDE extra\n",
			lmResult{Errors: []string{
				"lmhosts:1: #INCLUDE without a path",
				"lmhosts:2: #INCLUDE without a path",
				`lmhosts:3: neither a keyword nor a comment (a comment starts with #): "b"`,
				`lmhosts:4: opening quote without its closing quote: "\"a"`,
				"lmhosts:5: #INCLUDE extra: no file system to read includes from",
			}}},
		{"directives in the wrong case, and NT 3.1's", "#include extra\n#Begin_Alternate\n#BEGIN_INCLUDE\n#end_include\n",
			lmResult{Warnings: []string{
				`lmhosts:1: not a keyword, so a comment: Windows reads keywords in capitals only (KB Q150800): "#include"`,
				`lmhosts:2: not a keyword, so a comment: Windows reads keywords in capitals only (KB Q150800): "#Begin_Alternate"`,
				`lmhosts:3: the NT 3.1 sample file's name for #BEGIN_ALTERNATE or #END_ALTERNATE: Windows reads it as a comment: "#BEGIN_INCLUDE"`,
				`lmhosts:4: the NT 3.1 sample file's name for #BEGIN_ALTERNATE or #END_ALTERNATE: Windows reads it as a comment: "#end_include"`,
			}}},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			l, err := nbt.ParseLMHosts(strings.NewReader(tt.text), f, nil)
			if err != nil {
				t.Fatalf("ParseLMHosts: %v", err)
			}
			want := tt.want
			want.Files = []string{f}
			if diff := cmp.Diff(want, lmResultOf(l), lmCmp); diff != "" {
				t.Errorf("ParseLMHosts(%q) (-want +got):\n%s", tt.text, diff)
			}
		})
	}
}

// lmhostsLookupText is the file TestLMHostsLookup queries.
const lmhostsLookupText = `192.0.2.1    dc1        #DOM:SALES
192.0.2.2    filesrv
192.0.2.3    filesrv                    # never used: line 2 answers first
192.0.2.4    "FILESRV        \0x1F"
192.0.2.5    dc2        #PRE #DOM:sales
192.0.2.6    "SALES          \0x1C"     # never used for SALES<1C>: the #DOM entries answer it
192.0.2.7    "SALES          \0x1B"
192.0.2.8    "STAFF          \0x1C"
192.0.2.9    backup     #MH
192.0.2.10   backup     #MH
192.0.2.11   backup                     # the last address of backup
192.0.2.12   backup     #MH             # never used: line 11 has no #MH
192.0.2.13   printsrv
192.0.2.14   printsrv   #PRE            # preloaded: answers before line 13
192.0.2.15   "PRINTSRV       \0x20" #PRE
192.0.2.16   mirror     #PRE #MH
192.0.2.17   mirror     #PRE
`

// TestLMHostsLookup queries names the way MS-NBTE §3.1.8 finds them:
// #DOM entries for DOMAIN<1C>, then #PRE entries, then the file, each in
// file order up to the first entry without #MH; a ComputerName entry
// answers <00>, <03> and <20> only.
func TestLMHostsLookup(t *testing.T) {
	l, err := nbt.ParseLMHosts(strings.NewReader(lmhostsLookupText), "lmhosts", nil)
	if err != nil {
		t.Fatal(err)
	}
	if errs := l.Errors(); len(errs) > 0 {
		t.Fatalf("Errors: %v", errs)
	}
	cases := []struct {
		name string
		want []int // the lines of the entries returned
	}{
		{"FILESRV<20>", []int{2}},
		{"FILESRV<00>", []int{2}},
		{"FILESRV<03>", []int{2}},
		{"FILESRV<1F>", []int{4}},
		{"FILESRV<1D>", nil},
		{"FILESRV<1C>", nil},
		{`filesrv<20>`, nil}, // names are compared as bytes
		{"DC1<20>", []int{1}},
		{"SALES<1C>", []int{1, 5}},
		{"SALES<1B>", []int{7}},
		{"SALES<20>", nil},
		{"STAFF<1C>", []int{8}}, // no #DOM entry: the quoted name answers
		{"BACKUP<20>", []int{9, 10, 11}},
		{"BACKUP<03>", []int{9, 10, 11}},
		{"PRINTSRV<20>", []int{14}},
		{"PRINTSRV<00>", []int{14}},
		{"MIRROR<00>", []int{16, 17}},
		{"NOBODY<20>", nil},
	}
	for _, tt := range cases {
		var got []int
		for _, e := range l.Lookup(lmName(t, tt.name)) {
			got = append(got, e.Line)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Lookup(%s) lines (-want +got):\n%s", tt.name, diff)
		}
	}

	var pre []int
	for _, e := range l.Preloaded() {
		pre = append(pre, e.Line)
	}
	if diff := cmp.Diff([]int{5, 14, 15, 16, 17}, pre); diff != "" {
		t.Errorf("Preloaded lines (-want +got):\n%s", diff)
	}

	var warns []string
	for _, w := range l.Warnings() {
		warns = append(warns, w.Error())
	}
	wantWarns := []string{
		"lmhosts:3: entry never used: lmhosts:2 answers FILESRV<00> first, and a lookup stops at an entry without #MH",
		"lmhosts:6: entry never used: lmhosts:5 answers SALES<1C> first, and a lookup stops at an entry without #MH",
		"lmhosts:12: entry never used: lmhosts:11 answers BACKUP<00> first, and a lookup stops at an entry without #MH",
		"lmhosts:13: entry never used: lmhosts:14 answers PRINTSRV<00> first, and a lookup stops at an entry without #MH",
		"lmhosts:15: entry never used: lmhosts:14 answers PRINTSRV<20> first, and a lookup stops at an entry without #MH",
	}
	if diff := cmp.Diff(wantWarns, warns); diff != "" {
		t.Errorf("Warnings (-want +got):\n%s", diff)
	}

	var nilL *nbt.LMHosts
	if got := nilL.Lookup(nbns.MustName("FILESRV", nbns.FileServer)); got != nil {
		t.Errorf("nil LMHosts: Lookup = %v, want nil", got)
	}
	if nilL.Entries() != nil || nilL.Preloaded() != nil || nilL.Errors() != nil || nilL.Warnings() != nil || nilL.Files() != nil {
		t.Error("nil LMHosts: want nil slices")
	}
}

// TestLMHostsLookupConcurrent looks names up from several goroutines at
// once; run with -race.
func TestLMHostsLookupConcurrent(t *testing.T) {
	l, err := nbt.ParseLMHosts(strings.NewReader(lmhostsLookupText), "lmhosts", nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				if got := l.Lookup(nbns.MustName("BACKUP", nbns.FileServer)); len(got) != 3 {
					t.Errorf("Lookup(BACKUP<20>) = %d entries, want 3", len(got))
					return
				}
				l.Preloaded()
			}
		})
	}
	wg.Wait()
}

// TestLMHostsEntryNames lists the names each kind of entry answers.
func TestLMHostsEntryNames(t *testing.T) {
	cases := []struct {
		entry nbt.LMHostsEntry
		want  []string
	}{
		{lmEntry(t, "f", 1, "192.0.2.1", "FILESRV<20>"), []string{"FILESRV<00>", "FILESRV<03>", "FILESRV<20>"}},
		{lmEntry(t, "f", 1, "192.0.2.1", "DC1<20>", "pre", "dom:SALES"), []string{"DC1<00>", "DC1<03>", "DC1<20>", "SALES<1C>"}},
		{lmEntry(t, "f", 1, "192.0.2.1", "SALES<1B>", "service"), []string{"SALES<1B>"}},
		{lmEntry(t, "f", 1, "192.0.2.1", "SALES<1B>", "service", "dom:SALES"), []string{"SALES<1B>", "SALES<1C>"}},
	}
	for _, tt := range cases {
		var got []string
		for _, n := range tt.entry.Names() {
			got = append(got, n.String())
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%v: Names (-want +got):\n%s", tt.entry.Name, diff)
		}
	}
}

// TestParseLMHostsIncludes follows #INCLUDE and the alternate blocks
// through a file system: paths relative to the including file, absolute
// ones from the root, UNC paths reported, alternates tried in order, and
// the failures that skip an include or, for a cycle, the whole parse.
func TestParseLMHostsIncludes(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	base := fstest.MapFS{
		"etc/site/a":      file("192.0.2.1 a\n#INCLUDE ../b\n"), // relative to etc/site
		"etc/b":           file("192.0.2.2 b\n"),
		"srv/c":           file("192.0.2.3 c\n"),
		"etc/with space":  file("192.0.2.4 d\n"),
		"etc/utf16":       file("\xff\xfe1\x009\x002\x00"),
		"etc/bom":         file("\xef\xbb\xbf192.0.2.5 e\n"),
		"etc/dir/x":       file(""),
		"etc/self":        file("#INCLUDE self\n"),
		"etc/loop1":       file("192.0.2.6 f\n#INCLUDE loop2\n"),
		"etc/loop2":       file("#INCLUDE loop1\n"),
		"etc/empty":       file(""),
		"etc/inblock":     file("#BEGIN_ALTERNATE\n#INCLUDE b\n"), // unclosed in the included file
		"etc/huge":        file(strings.Repeat("#\n", 2<<20)),     // 4 MiB of comments
		"etc/deep/d00":    file("#INCLUDE d01\n"),
		"etc/lmhosts.bak": file("192.0.2.7 g\n"),
	}
	for i := 1; i <= 17; i++ {
		base[fmt.Sprintf("etc/deep/d%02d", i)] = file(fmt.Sprintf("#INCLUDE d%02d\n", i+1))
	}
	base["etc/deep/d18"] = file("192.0.2.8 deep\n")
	const m = "etc/lmhosts"
	e := func(file string, line int, addr, name string) nbt.LMHostsEntry {
		return lmEntry(t, file, line, addr, name)
	}
	notExist := func(p string) string { return (&fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}).Error() }

	cases := []struct {
		name string
		text string
		want lmResult
	}{
		{"relative, absolute, backslashes, quotes",
			"#INCLUDE site\\a\n#INCLUDE /srv/c   # from the root\n#INCLUDE \"with space\"\n#INCLUDE bom\n192.0.2.9 last\n",
			lmResult{
				Entries: []nbt.LMHostsEntry{
					e("etc/site/a", 1, "192.0.2.1", "A<20>"), e("etc/b", 1, "192.0.2.2", "B<20>"),
					e("srv/c", 1, "192.0.2.3", "C<20>"), e("etc/with space", 1, "192.0.2.4", "D<20>"),
					e("etc/bom", 1, "192.0.2.5", "E<20>"), e(m, 5, "192.0.2.9", "LAST<20>"),
				},
				Files: []string{m, "etc/site/a", "etc/b", "srv/c", "etc/with space", "etc/bom"},
			}},
		{"an include read twice is no cycle", "#INCLUDE b\n#INCLUDE b\n",
			lmResult{
				Entries: []nbt.LMHostsEntry{e("etc/b", 1, "192.0.2.2", "B<20>"), e("etc/b", 1, "192.0.2.2", "B<20>")},
				Files:   []string{m, "etc/b", "etc/b"},
			}},
		{"includes that cannot be read",
			"#INCLUDE missing\n#INCLUDE dir\n#INCLUDE ../../outside\n#INCLUDE utf16\n#INCLUDE huge\n192.0.2.9 last\n",
			lmResult{
				Entries: []nbt.LMHostsEntry{e(m, 6, "192.0.2.9", "LAST<20>")},
				Files:   []string{m},
				Errors: []string{
					"etc/lmhosts:1: #INCLUDE missing: " + notExist("etc/missing"),
					"etc/lmhosts:2: #INCLUDE dir: not a regular file",
					"etc/lmhosts:3: #INCLUDE ../../outside: path outside the file system",
					"etc/lmhosts:4: #INCLUDE utf16: UTF-16 text: save the file as ANSI or UTF-8",
					"etc/lmhosts:5: #INCLUDE huge: more than 4 MiB of LMHOSTS text, includes counted",
				},
			}},
		{"UNC paths are not fetched", `#INCLUDE \\harbordc1\public\lmhosts` + "\n#INCLUDE //nas/share/lmhosts\n",
			lmResult{
				Files: []string{m},
				Warnings: []string{
					`etc/lmhosts:1: #INCLUDE \\harbordc1\public\lmhosts: UNC path: not fetched, only local files are read`,
					`etc/lmhosts:2: #INCLUDE //nas/share/lmhosts: UNC path: not fetched, only local files are read`,
				},
			}},
		{"the first alternate that can be read",
			"#BEGIN_ALTERNATE\n#INCLUDE \\\\dc\\public\\lmhosts\n#INCLUDE missing\n#INCLUDE b\n#INCLUDE srv-not-tried\n192.0.2.9 inside\n#END_ALTERNATE\n",
			lmResult{
				Entries: []nbt.LMHostsEntry{e("etc/b", 1, "192.0.2.2", "B<20>"), e(m, 6, "192.0.2.9", "INSIDE<20>")},
				Files:   []string{m, "etc/b"},
				Warnings: []string{
					`etc/lmhosts:2: #INCLUDE \\dc\public\lmhosts: UNC path: not fetched, only local files are read`,
					"etc/lmhosts:3: #INCLUDE missing: " + notExist("etc/missing") + "; the alternate block tries the next file",
				},
			}},
		{"an empty file is read", "#BEGIN_ALTERNATE\n#INCLUDE empty\n#INCLUDE b\n#END_ALTERNATE\n",
			lmResult{Files: []string{m, "etc/empty"}}},
		{"no alternate can be read", "#BEGIN_ALTERNATE\n#INCLUDE missing\n#INCLUDE \\\\dc\\p\\l\n#END_ALTERNATE\n",
			lmResult{
				Files:  []string{m},
				Errors: []string{"etc/lmhosts:1: no file of the alternate block could be read"},
				Warnings: []string{
					"etc/lmhosts:2: #INCLUDE missing: " + notExist("etc/missing") + "; the alternate block tries the next file",
					`etc/lmhosts:3: #INCLUDE \\dc\p\l: UNC path: not fetched, only local files are read`,
				},
			}},
		{"only UNC alternates", "#BEGIN_ALTERNATE\n#INCLUDE \\\\dc\\p\\l\n#END_ALTERNATE\n",
			lmResult{
				Files: []string{m},
				Warnings: []string{
					`etc/lmhosts:2: #INCLUDE \\dc\p\l: UNC path: not fetched, only local files are read`,
					"etc/lmhosts:1: no file of the alternate block could be read",
				},
			}},
		{"blocks balance within each file", "#INCLUDE inblock\n#END_ALTERNATE\n",
			lmResult{
				Entries: []nbt.LMHostsEntry{e("etc/b", 1, "192.0.2.2", "B<20>")},
				Files:   []string{m, "etc/inblock", "etc/b"},
				Errors: []string{
					"etc/inblock:1: #BEGIN_ALTERNATE without #END_ALTERNATE",
					"etc/lmhosts:2: #END_ALTERNATE without #BEGIN_ALTERNATE",
				},
			}},
		{"nesting limit", "#INCLUDE deep/d00\n",
			lmResult{
				Files: func() []string {
					f := []string{m}
					for i := 0; i <= 15; i++ {
						f = append(f, fmt.Sprintf("etc/deep/d%02d", i))
					}
					return f
				}(),
				Errors: []string{"etc/deep/d15:1: #INCLUDE d16: includes nested more than 16 deep"},
			}},
		{"file limit", strings.Repeat("#INCLUDE empty\n", 256),
			lmResult{
				Files:  append([]string{m}, slicesRepeat("etc/empty", 255)...),
				Errors: []string{"etc/lmhosts:256: #INCLUDE empty: more than 256 files read"},
			}},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			l, err := nbt.ParseLMHosts(strings.NewReader(tt.text), m, base)
			if err != nil {
				t.Fatalf("ParseLMHosts: %v", err)
			}
			if diff := cmp.Diff(tt.want, lmResultOf(l), lmCmp); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}

	t.Run("errors.Is", func(t *testing.T) {
		l, err := nbt.ParseLMHosts(strings.NewReader("#INCLUDE missing\n"), m, base)
		if err != nil {
			t.Fatal(err)
		}
		errs := l.Errors()
		if len(errs) != 1 || !errors.Is(errs[0], fs.ErrNotExist) {
			t.Errorf("Errors = %v, want one that is fs.ErrNotExist", errs)
		}
	})

	cycles := []struct {
		name string
		text string
		want string
	}{
		{"self", "#INCLUDE lmhosts\n", "etc/lmhosts:1: #INCLUDE cycle: etc/lmhosts -> etc/lmhosts"},
		{"included file includes itself", "192.0.2.9 x\n#INCLUDE self\n", "etc/self:1: #INCLUDE cycle: etc/self -> etc/self"},
		{"two files", "#INCLUDE loop1\n", "etc/loop2:1: #INCLUDE cycle: etc/loop1 -> etc/loop2 -> etc/loop1"},
		{"back to the main file", "#INCLUDE ./../etc/lmhosts\n", "etc/lmhosts:1: #INCLUDE cycle: etc/lmhosts -> etc/lmhosts"},
		{"in an alternate block", "#BEGIN_ALTERNATE\n#INCLUDE missing\n#INCLUDE loop1\n#END_ALTERNATE\n",
			"etc/loop2:1: #INCLUDE cycle: etc/loop1 -> etc/loop2 -> etc/loop1"},
	}
	for _, tt := range cycles {
		t.Run("cycle/"+tt.name, func(t *testing.T) {
			l, err := nbt.ParseLMHosts(strings.NewReader(tt.text), m, base)
			if l != nil || err == nil {
				t.Fatalf("ParseLMHosts = %v, %v; want a cycle error", l, err)
			}
			if err.Error() != tt.want {
				t.Errorf("error %q, want %q", err, tt.want)
			}
			var le *nbt.LMHostsError
			if !errors.As(err, &le) || le.Line != 1 {
				t.Errorf("error %#v, want an *LMHostsError at line 1", err)
			}
		})
	}
}

func slicesRepeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// TestParseLMHostsLimits checks the bounds on what one parse reads and
// lists.
func TestParseLMHostsLimits(t *testing.T) {
	t.Run("main file over 4 MiB", func(t *testing.T) {
		big := bytes.Repeat([]byte("#\n"), 2<<20)
		if _, err := nbt.ParseLMHosts(bytes.NewReader(big), "lmhosts", nil); err != nil {
			t.Fatalf("4 MiB: %v", err)
		}
		l, err := nbt.ParseLMHosts(bytes.NewReader(append(big, '\n')), "lmhosts", nil)
		if l != nil || err == nil || err.Error() != "lmhosts: more than 4 MiB of LMHOSTS text, includes counted" {
			t.Errorf("4 MiB + 1: %v, %v", l, err)
		}
	})
	t.Run("UTF-16 main file", func(t *testing.T) {
		_, err := nbt.ParseLMHosts(strings.NewReader("\xfe\xff\x001"), "lmhosts", nil)
		if err == nil || err.Error() != "lmhosts: UTF-16 text: save the file as ANSI or UTF-8" {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("at most 1000 errors listed", func(t *testing.T) {
		text := strings.Repeat("bad line\n", 1500) + "192.0.2.1 good\n"
		l, err := nbt.ParseLMHosts(strings.NewReader(text), "lmhosts", nil)
		if err != nil {
			t.Fatal(err)
		}
		errs := l.Errors()
		if len(errs) != 1001 {
			t.Fatalf("%d errors, want 1001", len(errs))
		}
		if got, want := errs[1000].Error(), "lmhosts:1001: too many; the rest are not listed"; got != want {
			t.Errorf("last error %q, want %q", got, want)
		}
		if n := len(l.Entries()); n != 1 {
			t.Errorf("%d entries, want 1", n)
		}
	})
}

// TestReadLMHosts reads files from the local file system.
func TestReadLMHosts(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("extra", "192.0.2.2 extra\n")
	main := write("lmhosts", "192.0.2.1 main\n#INCLUDE extra\n#INCLUDE "+filepath.Join(dir, "extra")+"\n#INCLUDE "+dir+"\n")
	l, err := nbt.ReadLMHosts(main)
	if err != nil {
		t.Fatal(err)
	}
	extra := filepath.Join(dir, "extra")
	want := lmResult{
		Entries: []nbt.LMHostsEntry{
			lmEntry(t, main, 1, "192.0.2.1", "MAIN<20>"),
			lmEntry(t, extra, 1, "192.0.2.2", "EXTRA<20>"),
			lmEntry(t, extra, 1, "192.0.2.2", "EXTRA<20>"),
		},
		Files:  []string{main, extra, extra},
		Errors: []string{main + ":4: #INCLUDE " + dir + ": not a regular file"},
	}
	if diff := cmp.Diff(want, lmResultOf(l), lmCmp); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	if _, err := nbt.ReadLMHosts(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: err = %v, want fs.ErrNotExist", err)
	}
	if _, err := nbt.ReadLMHosts(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("folder: err = %v, want not a regular file", err)
	}
	write("cycle", "#INCLUDE cycle\n")
	if _, err := nbt.ReadLMHosts(filepath.Join(dir, ".", "cycle")); err == nil || !strings.Contains(err.Error(), "#INCLUDE cycle") {
		t.Errorf("cycle: err = %v", err)
	}
}

// TestLMHostsGolden reads testdata/lmhosts/lmhosts, an office's LMHOSTS
// written as Windows keeps one (CRLF, #PRE and #DOM domain controllers,
// quoted names, an #INCLUDE and an alternate block), from the disk and
// through an fs.FS, into an exact table.
func TestLMHostsGolden(t *testing.T) {
	want := func(root string) lmResult {
		p := func(s string) string {
			if root == "" {
				return s
			}
			return filepath.Join(root, filepath.FromSlash(s))
		}
		main, common, north := p("lmhosts"), p("site/common.lmhosts"), p("branch/north.lmhosts")
		e := func(file string, line int, addr, name string, flags ...string) nbt.LMHostsEntry {
			return lmEntry(t, file, line, addr, name, flags...)
		}
		_, missing := os.Open(filepath.Join("testdata", "lmhosts", "branch", "missing.lmhosts"))
		missingErr := missing.(*fs.PathError).Err
		return lmResult{
			Entries: []nbt.LMHostsEntry{
				e(main, 7, "192.0.2.10", "HARBORDC1<20>", "pre", "dom:HARBOUR"),
				e(main, 8, "192.0.2.11", "HARBORDC2<20>", "pre", "dom:HARBOUR"),
				e(main, 9, "192.0.2.10", "HARBOUR<1B>", "service", "pre"),
				e(main, 10, "192.0.2.20", "FILESRV<20>"),
				e(main, 11, "192.0.2.21", "PRINTSRV<20>", "pre"),
				e(main, 12, "192.0.2.30", "FAXGATE<06>", "service"),
				e(main, 13, "192.0.2.40", "BACKUP<20>", "mh"),
				e(main, 14, "198.51.100.40", "BACKUP<20>", "mh"),
				e(main, 15, "192.0.2.50", `LABSRV\x1F<20>`),
				e(main, 16, "192.0.2.60", "NAS<20>", "service"),
				e(main, 17, "192.0.2.70", "SCANNER<20>"),
				e(common, 2, "192.0.2.80", "INTRANET<20>", "pre"),
				e(common, 3, "192.0.2.81", "MAILGW<1F>", "service"),
				e(common, 4, "192.0.2.22", "FILESRV<20>"),
				e(north, 2, "203.0.113.5", "NORTHFS<20>", "dom:HARBOUR"),
				e(north, 3, "203.0.113.6", "NORTHPRN<20>"),
			},
			Files: []string{main, common, north},
			Errors: []string{
				main + `:18: bad IPv4 address: "192.0.2.300"`,
			},
			Warnings: []string{
				main + `:15: quoted name of 7 bytes, not 16, so a computer name whose escape is not a suffix: pad the name with spaces to 15 bytes before \0xNN (KB Q150800)`,
				main + `:17: not a keyword, so a comment: Windows reads keywords in capitals only (KB Q150800): "#pre"`,
				main + `:23: #INCLUDE \\harbordc1\public\lmhosts: UNC path: not fetched, only local files are read`,
				main + `:24: #INCLUDE branch\missing.lmhosts: ` +
					(&fs.PathError{Op: "open", Path: p("branch/missing.lmhosts"), Err: missingErr}).Error() +
					"; the alternate block tries the next file",
				common + ":4: entry never used: " + main + ":10 answers FILESRV<00> first, and a lookup stops at an entry without #MH",
			},
		}
	}

	t.Run("ReadLMHosts", func(t *testing.T) {
		l, err := nbt.ReadLMHosts(filepath.Join("testdata", "lmhosts", "lmhosts"))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want(filepath.Join("testdata", "lmhosts")), lmResultOf(l), lmCmp); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("ParseLMHosts", func(t *testing.T) {
		fsys := os.DirFS(filepath.Join("testdata", "lmhosts"))
		text, err := fs.ReadFile(fsys, "lmhosts")
		if err != nil {
			t.Fatal(err)
		}
		l, err := nbt.ParseLMHosts(bytes.NewReader(text), "lmhosts", fsys)
		if err != nil {
			t.Fatal(err)
		}
		got := lmResultOf(l)
		w := want("")
		// The fs.FS reports the missing file with its own message.
		w.Warnings[3] = got.Warnings[3]
		if !strings.HasPrefix(got.Warnings[3], `lmhosts:24: #INCLUDE branch\missing.lmhosts: open branch/missing.lmhosts: `) {
			t.Errorf("warning %q", got.Warnings[3])
		}
		if diff := cmp.Diff(w, got, lmCmp); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}

		lookups := []struct {
			name string
			want []string // addresses
		}{
			{"HARBOUR<1C>", []string{"192.0.2.10", "192.0.2.11", "203.0.113.5"}},
			{"HARBOUR<1B>", []string{"192.0.2.10"}},
			{"FILESRV<20>", []string{"192.0.2.20"}},
			{"BACKUP<20>", []string{"192.0.2.40", "198.51.100.40"}},
			{"NAS<20>", []string{"192.0.2.60"}},
			{"NAS<00>", nil},
			{"SOUTHFS<20>", nil},
		}
		for _, tt := range lookups {
			var got []string
			for _, e := range l.Lookup(lmName(t, tt.name)) {
				got = append(got, e.Addr.String())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Lookup(%s) (-want +got):\n%s", tt.name, diff)
			}
		}
	})
}

// TestLMHostsErrorString checks the two forms of LMHostsError's message
// and its Unwrap.
func TestLMHostsErrorString(t *testing.T) {
	cause := errors.New("cause")
	cases := []struct {
		err  *nbt.LMHostsError
		want string
	}{
		{&nbt.LMHostsError{File: "lmhosts", Line: 12, Err: cause}, "lmhosts:12: cause"},
		{&nbt.LMHostsError{File: "/etc/lmhosts", Err: cause}, "/etc/lmhosts: cause"},
	}
	for _, tt := range cases {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
		if !errors.Is(tt.err, cause) {
			t.Errorf("%v: errors.Is(cause) = false", tt.err)
		}
	}
}

// FuzzParseLMHosts parses any text as an LMHOSTS file, with includes
// from a small file system of which some include back: it must never
// panic, and what it returns must hold together. The seeds are in
// testdata/fuzz/FuzzParseLMHosts.
func FuzzParseLMHosts(f *testing.F) {
	golden, err := os.ReadFile(filepath.Join("testdata", "lmhosts", "lmhosts"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden)
	f.Add([]byte(lmhostsLookupText))
	fsys := fstest.MapFS{
		"a":         {Data: []byte("192.0.2.1 a #PRE\n#INCLUDE b\n")},
		"b":         {Data: []byte("192.0.2.2 \"B              \\0x1C\" #MH\n")},
		"loop":      {Data: []byte("#INCLUDE lmhosts\n")},
		"dir/c":     {Data: []byte("#BEGIN_ALTERNATE\n#INCLUDE ../a\n")},
		"bom":       {Data: []byte("\xef\xbb\xbf192.0.2.3 bom #DOM:x\n")},
		"utf16":     {Data: []byte("\xff\xfe")},
		"dir/empty": {Data: nil},
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		l, err := nbt.ParseLMHosts(bytes.NewReader(text), "lmhosts", fsys)
		if err != nil {
			if l != nil {
				t.Fatalf("ParseLMHosts returned both %v and an error %v", l, err)
			}
			var le *nbt.LMHostsError
			if !errors.As(err, &le) || le.File == "" {
				t.Fatalf("error %q is not an *LMHostsError naming a file", err)
			}
			return
		}
		again, err := nbt.ParseLMHosts(bytes.NewReader(text), "lmhosts", fsys)
		if err != nil {
			t.Fatalf("second parse: %v", err)
		}
		if diff := cmp.Diff(lmResultOf(l), lmResultOf(again), lmCmp); diff != "" {
			t.Fatalf("two parses differ (-first +second):\n%s", diff)
		}
		looked := make(map[nbns.Name]bool)
		for _, e := range l.Entries() {
			if !e.Addr.Is4() || e.Addr.IsUnspecified() || e.Addr.IsMulticast() || e.File == "" || e.Line < 1 || e.Name.IsZero() {
				t.Fatalf("bad entry %+v", e)
			}
			if len(e.Domain) > 15 || strings.ContainsAny(e.Domain, "abcdefghijklmnopqrstuvwxyz \t") {
				t.Fatalf("bad domain %q", e.Domain)
			}
			for _, n := range e.Names() {
				if looked[n] {
					continue
				}
				looked[n] = true
				got := l.Lookup(n)
				if len(got) == 0 {
					t.Fatalf("Lookup(%v) of a name of %s:%d found nothing", n, e.File, e.Line)
				}
				for _, g := range got {
					if !containsName(g.Names(), n) {
						t.Fatalf("Lookup(%v) returned %s:%d, which does not answer it", n, g.File, g.Line)
					}
				}
			}
		}
		for _, e := range l.Preloaded() {
			if !e.Preload {
				t.Fatalf("Preloaded returned %+v", e)
			}
		}
		for _, list := range [][]*nbt.LMHostsError{l.Errors(), l.Warnings()} {
			if len(list) > 1001 {
				t.Fatalf("%d items listed", len(list))
			}
			for _, e := range list {
				if e.File == "" || e.Line < 0 || e.Err == nil {
					t.Fatalf("bad report %#v", e)
				}
			}
		}
	})
}

func containsName(names []nbns.Name, n nbns.Name) bool {
	for _, m := range names {
		if m == n {
			return true
		}
	}
	return false
}

// ExampleParseLMHosts reads an LMHOSTS file with an include, and looks up
// a file server and the domain controllers of a domain.
func ExampleParseLMHosts() {
	const text = `# Harbour Street office
192.0.2.10   harbordc1   #PRE #DOM:HARBOUR    # PDC
192.0.2.11   harbordc2   #PRE #DOM:HARBOUR
192.0.2.20   filesrv
#INCLUDE branch\north.lmhosts
`
	fsys := fstest.MapFS{
		"branch/north.lmhosts": {Data: []byte("203.0.113.5  northfs  #DOM:HARBOUR\n203.0.113.6  northprn\n")},
	}
	l, err := nbt.ParseLMHosts(strings.NewReader(text), "lmhosts", fsys)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, name := range []nbns.Name{
		nbns.MustName("filesrv", nbns.FileServer),
		nbns.MustName("HARBOUR", nbns.DomainControllers),
		nbns.MustName("northprn", nbns.Workstation),
	} {
		for _, e := range l.Lookup(name) {
			fmt.Printf("%-12s %-12s %s:%d\n", name, e.Addr, e.File, e.Line)
		}
	}
	for _, e := range l.Preloaded() {
		fmt.Println("preload", e.Addr, e.Name)
	}
	// Output:
	// FILESRV<20>  192.0.2.20   lmhosts:4
	// HARBOUR<1C>  192.0.2.10   lmhosts:2
	// HARBOUR<1C>  192.0.2.11   lmhosts:3
	// HARBOUR<1C>  203.0.113.5  branch/north.lmhosts:1
	// NORTHPRN<00> 203.0.113.6  branch/north.lmhosts:2
	// preload 192.0.2.10 HARBORDC1<20>
	// preload 192.0.2.11 HARBORDC2<20>
}
