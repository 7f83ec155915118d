package nbt

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/netbios-go/netbios/nbns"
)

// Limits of an LMHOSTS parse. A real LMHOSTS file is a few KiB; these
// bound the memory and the file opens that a hostile or broken file can
// cost.
const (
	lmhostsMaxBytes   = 4 << 20 // all the files read, the main one and its includes
	lmhostsMaxLine    = 4 << 10 // one line, its line ending not included
	lmhostsMaxDepth   = 16      // #INCLUDE nesting below the main file
	lmhostsMaxFiles   = 256     // files read, the main one included
	lmhostsMaxReports = 1000    // of each of Errors and Warnings, before one last "too many"
)

// LMHostsEntry is one name-to-address mapping of an LMHOSTS file.
type LMHostsEntry struct {
	Addr netip.Addr // an IPv4 host address

	// Name is the entry's 16-byte name. A ComputerName entry, an
	// unquoted name of 1 to 15 bytes, has its ASCII letters upper-cased,
	// spaces up to 15 bytes and the suffix <20> (MS-NBTE §3.1.8 step 5),
	// and it answers the three names Windows preloads for it, NAME<00>,
	// NAME<03> and NAME<20> (KB Q150800, Q249866). A ServiceName entry
	// (see Service) answers Name alone.
	Name nbns.Name

	// Service reports a ServiceName entry (MS-NBTE §2.2.3.2): a quoted
	// name of exactly 16 bytes, such as "FILESRV        \0x20", or
	// Samba's NAME#xx.
	Service bool

	Preload    bool   // #PRE: Windows loads the entry into its name cache at start-up, and it answers before the rest of the file
	Domain     string // #DOM:domain, upper-cased: the host is a domain controller of domain, and the entry answers DOMAIN<1C>
	Multihomed bool   // #MH: the name has further addresses in later entries, which a lookup also returns

	File string // the file the entry was read from, as opened
	Line int    // its line in File, from 1
}

// Names returns the names e answers: NAME<00>, NAME<03> and NAME<20> for
// a ComputerName entry, Name for a ServiceName entry, and then
// DOMAIN<1C> if e has a #DOM keyword. These are the names a resolver
// loads into its cache for a #PRE entry.
func (e LMHostsEntry) Names() []nbns.Name {
	var names []nbns.Name
	if e.Service {
		names = append(names, e.Name)
	} else {
		names = append(names, e.Name.WithSuffix(nbns.Workstation), e.Name.WithSuffix(nbns.Messenger), e.Name.WithSuffix(nbns.FileServer))
	}
	if d, ok := e.domainName(); ok {
		names = append(names, d)
	}
	return names
}

func (e LMHostsEntry) domainName() (nbns.Name, bool) {
	if e.Domain == "" {
		return nbns.Name{}, false
	}
	var b [nbns.NameLen]byte
	for i := range b[:nbns.NameLen-1] {
		b[i] = ' '
	}
	copy(b[:], e.Domain)
	b[nbns.NameLen-1] = byte(nbns.DomainControllers)
	return nbns.NameFromBytes(b), true
}

// LMHostsError is a problem with one line of an LMHOSTS file, or with a
// whole file when Line is 0. Its message starts with the place:
// `lmhosts:12: bad IPv4 address: "10.0.0"`.
type LMHostsError struct {
	File string
	Line int // from 1; 0 for the whole file
	Err  error
}

var _ error = (*LMHostsError)(nil)

// Error returns "file:line: cause", or "file: cause" when Line is 0.
func (e *LMHostsError) Error() string {
	s := e.File
	if e.Line > 0 {
		s += ":" + strconv.Itoa(e.Line)
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns e.Err, so that errors.Is(err, fs.ErrNotExist) finds an
// include that is not there.
func (e *LMHostsError) Unwrap() error { return e.Err }

// LMHosts is a parsed LMHOSTS file with its included files, as Windows
// reads it (MS-NBTE §2.2.3, §3.1.8). An LMHosts never changes once
// parsed, and its methods are safe to call concurrently; a nil *LMHosts
// has no entries.
//
// # Syntax
//
// One entry a line: an IPv4 address in dotted decimal (without leading
// zeros, which inet_addr would read as octal), a name, and then
// keywords, separated by spaces or tabs; leading blanks, blank lines, a
// UTF-8 byte order mark and CRLF line endings are accepted. A '#' that
// does not start a keyword starts a comment, at the start of a line or
// after an entry's name, and everything after it is ignored, keywords
// included (§2.2.3). The keywords follow Windows (§2.2.3.1) and are read
// in capitals only, as KB Q150800 says Windows requires; a keyword in
// another case, "#pre", is a comment as it is for Windows, and is listed
// in Warnings.
//
//   - An unquoted name of 1 to 15 bytes is a ComputerName entry: its ASCII
//     letters are upper-cased, it is padded with spaces, and it answers
//     NAME<00>, NAME<03> and NAME<20>, the names Windows preloads for it
//     (nbtstat -c in KB Q150800 and Q249866), and no other suffix.
//   - A quoted name of exactly 16 bytes is a ServiceName entry:
//     "FILESRV        \0x20" is the name, padded with spaces to 15 bytes
//     (§2.2.3.2), and the suffix. \0xNN stands for any byte, anywhere in
//     the name, and so does the short form \NN (KB Q104576). A quoted name
//     of 1 to 15 bytes is a ComputerName entry whose bytes may include
//     spaces and escapes, as §3.1.8 step 5 pads any name shorter than 16
//     bytes (and KB Q150800 warns that without exactly 15 bytes before
//     \0x1b there is no <1B> name); when it has an escape, it was most
//     likely meant to end in a suffix, and is listed in Warnings.
//   - Samba's NAME#xx (docs-xml/manpages/lmhosts.5.xml) is accepted as the
//     ServiceName entry NAME<xx>, which is what a file written for Samba
//     means. Windows does not document it: to Windows the text is a name
//     with a '#' in it, or a name and a comment, never a suffix.
//   - #PRE preloads the entry (§2.2.3.1); #DOM:domain makes it a domain
//     controller of domain, at most 15 bytes, upper-cased; #MH lets the
//     name have several entries (§2.2.3.1). They may come in any order,
//     although KB Q150800 asks for #PRE before #DOM, and a line that puts
//     #DOM first is listed in Warnings.
//   - #INCLUDE path reads another file in place of the line; the path may
//     be quoted, and a relative one is taken from the including file's
//     folder. A UNC path (\\server\share\file) is not fetched: it is listed
//     in Warnings. #BEGIN_ALTERNATE and #END_ALTERNATE enclose includes of
//     which only the first that can be read is read, one at a time and in
//     order (§3.1.8.2); NT 4.0 read all of them (KB Q247682). A cycle of
//     includes fails the parse with the chain of files, as §3.1.8.1 stops
//     the processing of the file.
//
// # Lookup
//
// [LMHosts.Lookup] follows §3.1.8: a query for DOMAIN<1C> is answered by
// the #DOM entries of that domain (step 2), #PRE or not, since Windows
// always preloads the domain (the lmhosts.sam of NT 4.0 and later); then
// the #PRE entries answer before the rest of the file (step 3); within
// each, the entries are taken in file order, and the first matching one
// without #MH ends the list (steps 5 to 7). Names are compared as 16
// bytes (§2.2.1).
//
// # Errors
//
// A line that cannot be read is skipped and listed in Errors with its file
// and line, and the rest of the file is read: Windows skips such lines
// silently, and one typo should not lose the other entries. So is an
// include that cannot be read, an alternate block none of whose files
// could be read, and an #END_ALTERNATE or #BEGIN_ALTERNATE without its
// pair. Parsing fails only when the main file cannot be read or is over
// 4 MiB, and for a cycle of includes. An include that would take the text
// read past 4 MiB in all is not read and is an error, and so are a line
// over 4 KiB, an include nested more than 16 deep and the 257th file;
// Errors and Warnings list at most 1000 items each, and then say that
// there were more.
//
// A warning is something that Windows reads otherwise than a reader would
// guess, or that does nothing: a keyword in lower case or in NT 3.1's
// spelling (#BEGIN_INCLUDE), #DOM before #PRE, a quoted name too short
// for its escape to be a suffix, a UNC include, an alternate that failed
// before another was read, an alternate block of UNC paths only, and an
// entry that no lookup can return because an entry without #MH answers
// its names first.
//
// # Differences from Samba and jcifs
//
// Samba (libcli/nbt/lmhosts.c) drops a line with more than three fields,
// so "#PRE #DOM:SALES" loses the entry; takes a third field with a G or
// an S in it, as in #DOM:SALES, for an obsolete group flag and drops the
// line; decodes no \0xNN; lets a name without #xx answer every suffix,
// <1B> and <1C> included; and reads #INCLUDE and the alternate blocks as
// comments. jcifs-ng (Lmhosts.java) gives every name the suffix <20>,
// reads no quotes and no escapes, ignores #PRE and #DOM, fetches UNC
// includes over SMB, and reads every include of an alternate block, as
// NT 4.0 did. This parser does as Windows does in each case, except for
// reading NAME#xx as Samba does.
//
// Other differences from Windows: quoted names are upper-cased as well
// (§2.2.3 says entry names are not case-sensitive, while Windows keeps a
// quoted name as written, "globe<1B>" in KB Q150800, where it cannot match
// the upper-case names Windows queries), but an escape gives its byte as
// it is; 0.0.0.0, 255.255.255.255 and multicast addresses are errors; a
// token after the name that is neither a keyword nor a comment, as in
// "10.1.2.3 my host", is an error rather than a guess; a #DOM query
// returns every domain controller listed, where §3.1.8 step 2 stops at
// the first; and all the addresses of a #MH name are returned in file
// order, where NT 4.0 connected to the last one only (KB Q249866). Files
// are read once, when parsed, with no 6-second include timer (§3.1.2);
// names are bytes, and Windows reads the file in the OEM code page, so a
// name outside ASCII matches only a query with the same bytes.
type LMHosts struct {
	entries []LMHostsEntry
	files   []string
	errs    []*LMHostsError
	warns   []*LMHostsError
	index   map[lmhostsKey][]int32 // the entries that answer a name, in file order
	domains map[nbns.Name][]int32  // the #DOM entries for DOMAIN<1C>, in file order
}

// lmhostsKey finds the entries of a name: ComputerName entries under
// the name with suffix <20> and computer true, ServiceName entries under
// their name.
type lmhostsKey struct {
	name     nbns.Name
	computer bool
}

// Entries returns every entry in file order, each included file's entries
// in place of its #INCLUDE line.
func (l *LMHosts) Entries() []LMHostsEntry {
	if l == nil {
		return nil
	}
	return append([]LMHostsEntry(nil), l.entries...)
}

// Files returns the files read, in the order they were opened, the main
// file first.
func (l *LMHosts) Files() []string {
	if l == nil {
		return nil
	}
	return append([]string(nil), l.files...)
}

// Errors returns the lines that were skipped and the includes that could
// not be read, in the order they were met.
func (l *LMHosts) Errors() []*LMHostsError {
	if l == nil {
		return nil
	}
	return append([]*LMHostsError(nil), l.errs...)
}

// Warnings returns what was read but may not be what the file's author
// meant, in the order it was met; entries that no lookup returns come
// last.
func (l *LMHosts) Warnings() []*LMHostsError {
	if l == nil {
		return nil
	}
	return append([]*LMHostsError(nil), l.warns...)
}

// Preloaded returns the #PRE entries in file order: those Windows loads
// into its name cache at start-up (MS-NBTE §3.1.3), with [LMHostsEntry.Names]
// giving the names each answers.
func (l *LMHosts) Preloaded() []LMHostsEntry {
	if l == nil {
		return nil
	}
	var pre []LMHostsEntry
	for _, e := range l.entries {
		if e.Preload {
			pre = append(pre, e)
		}
	}
	return pre
}

// Lookup returns the entries that answer name, in the order MS-NBTE
// §3.1.8 finds them: for DOMAIN<1C>, the #DOM entries of that domain if
// there are any; otherwise the #PRE entries that match, or if there are
// none the others, in file order, up to and including the first without
// #MH. It returns nil when nothing matches. A resolver tries the
// addresses in the order returned.
func (l *LMHosts) Lookup(name nbns.Name) []LMHostsEntry {
	if l == nil {
		return nil
	}
	var out []LMHostsEntry
	for _, i := range l.lookup(name) {
		out = append(out, l.entries[i])
	}
	return out
}

// lookup returns the indexes of the entries Lookup returns.
func (l *LMHosts) lookup(name nbns.Name) []int32 {
	if name.Suffix() == nbns.DomainControllers {
		if d := l.domains[name]; len(d) > 0 {
			return d
		}
	}
	cands := l.candidates(name)
	if out := l.collect(cands, true); len(out) > 0 {
		return out
	}
	return l.collect(cands, false)
}

// candidates returns the entries whose names include name, in file
// order.
func (l *LMHosts) candidates(name nbns.Name) []int32 {
	svc := l.index[lmhostsKey{name: name}]
	switch name.Suffix() {
	case nbns.Workstation, nbns.Messenger, nbns.FileServer:
	default:
		return svc
	}
	comp := l.index[lmhostsKey{name: name.WithSuffix(nbns.FileServer), computer: true}]
	if len(svc) == 0 {
		return comp
	}
	if len(comp) == 0 {
		return svc
	}
	merged := make([]int32, 0, len(svc)+len(comp))
	for len(svc) > 0 && len(comp) > 0 {
		if svc[0] < comp[0] {
			merged, svc = append(merged, svc[0]), svc[1:]
		} else {
			merged, comp = append(merged, comp[0]), comp[1:]
		}
	}
	return append(append(merged, svc...), comp...)
}

// collect applies §3.1.8 steps 5 to 7 to cands: every entry up to and
// including the first without #MH, among the #PRE entries only if pre.
func (l *LMHosts) collect(cands []int32, pre bool) []int32 {
	var out []int32
	for _, i := range cands {
		e := &l.entries[i]
		if pre && !e.Preload {
			continue
		}
		out = append(out, i)
		if !e.Multihomed {
			break
		}
	}
	return out
}

// ReadLMHosts reads the LMHOSTS file at path, and the files it includes,
// from the local file system. On Windows the file is
// %SystemRoot%\System32\drivers\etc\lmhosts (MS-NBTE §2.2.3 <5>); Samba
// keeps its own next to smb.conf. Backslashes in include paths are read
// as the path separator.
func ReadLMHosts(path string) (*LMHosts, error) {
	src := osSource{}
	path = filepath.Clean(path)
	data, err := src.read(path, lmhostsMaxBytes)
	if err != nil {
		var pe *fs.PathError
		if !errors.As(err, &pe) {
			err = &LMHostsError{File: path, Err: err} // not a regular file, or too large
		}
		return nil, err
	}
	return parseLMHosts(src, path, data)
}

// ParseLMHosts parses the LMHOSTS file read from r, named name in
// messages, and reads the files it includes from fsys: an absolute path
// from fsys's root, a relative one from the folder of name, with
// backslashes read as slashes. If fsys is nil, every #INCLUDE is listed
// in Errors. Tests and programs whose files are not on disk use
// [testing/fstest.MapFS] or [embed.FS].
func ParseLMHosts(r io.Reader, name string, fsys fs.FS) (*LMHosts, error) {
	data, err := lmReadLimited(r, lmhostsMaxBytes)
	if err != nil {
		if err == errLMHostsTooLarge {
			return nil, &LMHostsError{File: name, Err: err}
		}
		return nil, err
	}
	return parseLMHosts(fsSource{fsys}, name, data)
}

func parseLMHosts(src lmhostsSource, name string, data []byte) (*LMHosts, error) {
	data, err := lmhostsText(data)
	if err != nil {
		return nil, &LMHostsError{File: name, Err: err}
	}
	p := &lmhostsParser{src: src, l: &LMHosts{files: []string{name}}, total: int64(len(data))}
	p.stack = append(p.stack, src.clean(name))
	if err := p.file(name, data); err != nil {
		return nil, err
	}
	p.l.buildIndex()
	p.findShadowed()
	return p.l, nil
}

// An lmhostsSource opens the files of an LMHOSTS parse.
type lmhostsSource interface {
	// resolve returns the file that an #INCLUDE of p in the file cur
	// reads, in the form that read takes and cycles are detected on.
	resolve(cur, p string) (string, error)
	// clean returns the main file's name in that form.
	clean(name string) string
	// read returns the contents of a regular file, at most max bytes.
	read(p string, max int64) ([]byte, error)
}

type osSource struct{}

func (osSource) resolve(cur, p string) (string, error) {
	if filepath.Separator == '/' {
		p = strings.ReplaceAll(p, `\`, "/")
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(filepath.Dir(cur), p)
	}
	return filepath.Clean(p), nil
}

func (osSource) clean(name string) string { return filepath.Clean(name) }

func (osSource) read(p string, max int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return lmReadRegular(f, max)
}

type fsSource struct{ fsys fs.FS }

func (s fsSource) resolve(cur, p string) (string, error) {
	if s.fsys == nil {
		return "", errLMHostsNoFS
	}
	p = strings.ReplaceAll(p, `\`, "/")
	if !strings.HasPrefix(p, "/") {
		p = path.Join(path.Dir(cur), p)
	}
	p = s.clean(p)
	if !fs.ValidPath(p) {
		return "", errLMHostsOutside
	}
	return p, nil
}

// clean returns name as an fs.FS path: cleaned, and relative to the
// root.
func (fsSource) clean(name string) string {
	name = strings.TrimLeft(path.Clean(name), "/")
	if name == "" {
		return "."
	}
	return name
}

func (s fsSource) read(p string, max int64) ([]byte, error) {
	f, err := s.fsys.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return lmReadRegular(f, max)
}

// lmReadRegular reads f, which must be a regular file of at most max
// bytes: a folder, a device or a pipe is refused before it is read.
func lmReadRegular(f fs.File, max int64) ([]byte, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errLMHostsNotRegular
	}
	if fi.Size() > max {
		return nil, errLMHostsTooLarge
	}
	return lmReadLimited(f, max)
}

func lmReadLimited(r io.Reader, max int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, errLMHostsTooLarge
	}
	return data, nil
}

// lmhostsText strips a UTF-8 byte order mark and refuses UTF-16, which
// Notepad writes when a file is saved as "Unicode".
func lmhostsText(data []byte) ([]byte, error) {
	if bytes.HasPrefix(data, []byte{0xFF, 0xFE}) || bytes.HasPrefix(data, []byte{0xFE, 0xFF}) {
		return nil, errLMHostsUTF16
	}
	return bytes.TrimPrefix(data, []byte{0xEF, 0xBB, 0xBF}), nil
}

// Errors of whole files and includes.
var (
	errLMHostsTooLarge   = errors.New("more than 4 MiB of LMHOSTS text, includes counted")
	errLMHostsUTF16      = errors.New("UTF-16 text: save the file as ANSI or UTF-8")
	errLMHostsNotRegular = errors.New("not a regular file")
	errLMHostsNoFS       = errors.New("no file system to read includes from")
	errLMHostsOutside    = errors.New("path outside the file system")
	errLMHostsDepth      = errors.New("includes nested more than 16 deep")
	errLMHostsFiles      = errors.New("more than 256 files read")
	errLMHostsTooMany    = errors.New("too many; the rest are not listed")
)

// Errors and warnings of lines.
var (
	errLMLineTooLong    = errors.New("line longer than 4 KiB")
	errLMIPv6           = errors.New("IPv6 address: LMHOSTS maps names to IPv4 addresses only (MS-NBTE §2.2.3)")
	errLMNoName         = errors.New("address without a name")
	errLMNameTooLong    = errors.New("name longer than 15 bytes: a 16-byte name goes in quotes, ending in its suffix as \\0xNN")
	errLMNameEmpty      = errors.New("empty name")
	errLMQuotedTooLong  = errors.New("quoted name longer than 16 bytes")
	errLMNameNUL        = errors.New("name of 16 NUL bytes: that is no name")
	errLMNameChar       = errors.New("name with a backslash or a quote: put the name in quotes, and write a byte as \\0xNN")
	errLMEscape         = errors.New("bad escape in a quoted name: write a byte as \\0xNN")
	errLMUnterminated   = errors.New("opening quote without its closing quote")
	errLMAfterQuote     = errors.New("text right after a closing quote")
	errLMDomainEmpty    = errors.New("#DOM: without a domain")
	errLMDomainTooLong  = errors.New("#DOM: domain longer than 15 bytes")
	errLMTwoDomains     = errors.New("two #DOM: keywords with different domains")
	errLMNoPath         = errors.New("#INCLUDE without a path")
	errLMNested         = errors.New("#BEGIN_ALTERNATE inside an alternate block")
	errLMStrayEnd       = errors.New("#END_ALTERNATE without #BEGIN_ALTERNATE")
	errLMUnclosed       = errors.New("#BEGIN_ALTERNATE without #END_ALTERNATE")
	errLMBlockUnread    = errors.New("no file of the alternate block could be read")
	errLMDomBeforePre   = errors.New("#PRE after #DOM: KB Q150800 asks for #PRE first")
	errLMNotHost        = errors.New("not a host address")
	errLMBadAddr        = errors.New("bad IPv4 address")
	errLMUnexpected     = errors.New("neither a keyword nor a comment (a comment starts with #)")
	errLMNotKeyword     = errors.New("not a keyword, so a comment: Windows reads keywords in capitals only (KB Q150800)")
	errLMIncludeKeyword = errors.New("the NT 3.1 sample file's name for #BEGIN_ALTERNATE or #END_ALTERNATE: Windows reads it as a comment")
	errLMUNC            = errors.New("UNC path: not fetched, only local files are read")
)

// lmQuoted is an error about a token, quoted in the message after the
// cause.
type lmQuoted struct {
	err error
	tok string
}

func (e *lmQuoted) Error() string { return e.err.Error() + ": " + strconv.Quote(e.tok) }
func (e *lmQuoted) Unwrap() error { return e.err }

func lmQuote(err error, tok []byte) error { return &lmQuoted{err, string(tok)} }

// lmInclude is the failure of one #INCLUDE.
type lmInclude struct {
	path string
	err  error
}

func (e *lmInclude) Error() string { return "#INCLUDE " + e.path + ": " + e.err.Error() }
func (e *lmInclude) Unwrap() error { return e.err }

// lmAlternate is an alternate that could not be read, when the block
// goes on to the next.
type lmAlternate struct{ err error }

func (e *lmAlternate) Error() string {
	return e.err.Error() + "; the alternate block tries the next file"
}
func (e *lmAlternate) Unwrap() error { return e.err }

// lmCycle is a cycle of includes.
type lmCycle struct{ chain []string }

func (e *lmCycle) Error() string { return "#INCLUDE cycle: " + strings.Join(e.chain, " -> ") }

// lmShortQuoted is a quoted name shorter than 16 bytes that has an
// escape.
type lmShortQuoted struct{ n int }

func (e *lmShortQuoted) Error() string {
	return "quoted name of " + strconv.Itoa(e.n) + " bytes, not 16, so a computer name whose escape is not a suffix: " +
		"pad the name with spaces to 15 bytes before \\0xNN (KB Q150800)"
}

// lmShadowed is an entry that no lookup returns.
type lmShadowed struct {
	name nbns.Name
	by   *LMHostsEntry
}

func (e *lmShadowed) Error() string {
	return "entry never used: " + e.by.File + ":" + strconv.Itoa(e.by.Line) + " answers " + e.name.String() +
		" first, and a lookup stops at an entry without #MH"
}

// lmhostsParser is the state of one parse.
type lmhostsParser struct {
	src   lmhostsSource
	l     *LMHosts
	stack []string // the files being read, the main one first
	total int64    // bytes read
	over  [2]bool  // whether Errors and Warnings were cut at lmhostsMaxReports
}

// lmBlock is the state of an alternate block in one file.
type lmBlock struct {
	open   bool
	line   int  // of #BEGIN_ALTERNATE
	done   bool // a file of the block was read
	tried  int  // includes tried
	remote int  // of which UNC paths
}

// file parses the text of one file. It returns only the errors that end
// the parse: a cycle of includes.
func (p *lmhostsParser) file(name string, data []byte) error {
	var blk lmBlock
	for n := 1; len(data) > 0; n++ {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i+1], data[i+1:]
		} else {
			data = nil
		}
		if len(bytes.TrimRight(line, "\r\n")) > lmhostsMaxLine {
			p.error(name, n, errLMLineTooLong)
			continue
		}
		if err := p.line(name, n, line, &blk); err != nil {
			return err
		}
	}
	if blk.open {
		begin := blk.line
		p.endBlock(name, &blk)
		p.error(name, begin, errLMUnclosed)
	}
	return nil
}

func (p *lmhostsParser) report(list *[]*LMHostsError, k int, file string, line int, err error) {
	switch {
	case len(*list) < lmhostsMaxReports:
		*list = append(*list, &LMHostsError{File: file, Line: line, Err: err})
	case !p.over[k]:
		*list = append(*list, &LMHostsError{File: file, Line: line, Err: errLMHostsTooMany})
		p.over[k] = true
	}
}

func (p *lmhostsParser) error(file string, line int, err error) {
	p.report(&p.l.errs, 0, file, line, err)
}

func (p *lmhostsParser) warn(file string, line int, err error) {
	p.report(&p.l.warns, 1, file, line, err)
}

func isLMSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'
}

func trimLMSpace(s []byte) []byte {
	for len(s) > 0 && isLMSpace(s[0]) {
		s = s[1:]
	}
	return s
}

// lmField splits the next blank-separated field off s, which must not
// start with a blank.
func lmField(s []byte) (tok, rest []byte) {
	i := 0
	for i < len(s) && !isLMSpace(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

// lmToken splits the next field off s: a quoted one without its quotes,
// with isQuoted true, or a blank-separated one. tok is empty only at the
// end of s, or for "".
func lmToken(s []byte) (tok, rest []byte, isQuoted bool, err error) {
	s = trimLMSpace(s)
	if len(s) == 0 || s[0] != '"' {
		tok, rest = lmField(s)
		return tok, rest, false, nil
	}
	end := bytes.IndexByte(s[1:], '"')
	if end < 0 {
		return nil, nil, true, lmQuote(errLMUnterminated, bytes.TrimRight(s, " \t\r\n"))
	}
	tok, rest = s[1:1+end], s[2+end:]
	if len(rest) > 0 && !isLMSpace(rest[0]) {
		return nil, nil, true, lmQuote(errLMAfterQuote, bytes.TrimRight(s, " \t\r\n"))
	}
	return tok, rest, true, nil
}

// line parses one line, its line ending included.
func (p *lmhostsParser) line(file string, n int, line []byte, blk *lmBlock) error {
	s := trimLMSpace(line)
	if len(s) == 0 {
		return nil
	}
	if s[0] == '#' {
		return p.directive(file, n, s, blk)
	}
	e, err := p.entry(file, n, s)
	if err != nil {
		p.error(file, n, err)
		return nil
	}
	p.l.entries = append(p.l.entries, e)
	return nil
}

// directive handles a line that starts with '#': a directive or a
// comment.
func (p *lmhostsParser) directive(file string, n int, s []byte, blk *lmBlock) error {
	kw, rest := lmField(s)
	switch string(kw) {
	case "#INCLUDE":
		return p.include(file, n, rest, blk)
	case "#BEGIN_ALTERNATE":
		if blk.open {
			p.error(file, n, errLMNested)
			return nil
		}
		*blk = lmBlock{open: true, line: n}
	case "#END_ALTERNATE":
		if !blk.open {
			p.error(file, n, errLMStrayEnd)
			return nil
		}
		p.endBlock(file, blk)
	default:
		switch strings.ToUpper(string(kw)) {
		case "#INCLUDE", "#BEGIN_ALTERNATE", "#END_ALTERNATE":
			p.warn(file, n, lmQuote(errLMNotKeyword, kw))
		case "#BEGIN_INCLUDE", "#END_INCLUDE":
			p.warn(file, n, lmQuote(errLMIncludeKeyword, kw))
		}
	}
	return nil
}

func (p *lmhostsParser) endBlock(file string, blk *lmBlock) {
	if !blk.done && blk.tried > 0 {
		if blk.remote == blk.tried {
			p.warn(file, blk.line, errLMBlockUnread)
		} else {
			p.error(file, blk.line, errLMBlockUnread)
		}
	}
	*blk = lmBlock{}
}

// include handles #INCLUDE, whose path is in rest.
func (p *lmhostsParser) include(file string, n int, rest []byte, blk *lmBlock) error {
	target, rest, isQuoted, err := lmToken(rest)
	if err != nil {
		p.error(file, n, err)
		return nil
	}
	if len(target) == 0 || !isQuoted && target[0] == '#' {
		p.error(file, n, errLMNoPath)
		return nil
	}
	if extra := trimLMSpace(rest); len(extra) > 0 && extra[0] != '#' {
		tok, _ := lmField(extra)
		p.error(file, n, lmQuote(errLMUnexpected, tok))
		return nil
	}
	if blk.open && blk.done {
		return nil // an earlier file of the block was read
	}
	if blk.open {
		blk.tried++
	}
	written := string(target)
	if lmIsUNC(written) {
		if blk.open {
			blk.remote++
		}
		p.warn(file, n, &lmInclude{written, errLMUNC})
		return nil
	}
	fail := func(err error) {
		err = &lmInclude{written, err}
		if blk.open {
			p.warn(file, n, &lmAlternate{err})
		} else {
			p.error(file, n, err)
		}
	}
	next, err := p.src.resolve(file, written)
	if err != nil {
		fail(err)
		return nil
	}
	for i, f := range p.stack {
		if f == next {
			chain := append(append([]string(nil), p.stack[i:]...), next)
			return &LMHostsError{File: file, Line: n, Err: &lmCycle{chain}}
		}
	}
	if len(p.stack) > lmhostsMaxDepth {
		fail(errLMHostsDepth)
		return nil
	}
	if len(p.l.files) >= lmhostsMaxFiles {
		fail(errLMHostsFiles)
		return nil
	}
	data, err := p.src.read(next, lmhostsMaxBytes-p.total)
	if err == nil {
		data, err = lmhostsText(data)
	}
	if err != nil {
		fail(err)
		return nil
	}
	p.total += int64(len(data))
	p.l.files = append(p.l.files, next)
	if blk.open {
		blk.done = true
	}
	p.stack = append(p.stack, next)
	err = p.file(next, data)
	p.stack = p.stack[:len(p.stack)-1]
	return err
}

// lmIsUNC reports whether p is a UNC path, \\server\share\file, with
// either slash.
func lmIsUNC(p string) bool {
	return len(p) >= 2 && (p[0] == '\\' || p[0] == '/') && (p[1] == '\\' || p[1] == '/')
}

// entry parses an entry line, which starts with its address.
func (p *lmhostsParser) entry(file string, n int, s []byte) (LMHostsEntry, error) {
	e := LMHostsEntry{File: file, Line: n}
	tok, rest := lmField(s)
	addr, err := netip.ParseAddr(string(tok))
	switch {
	case err == nil && !addr.Is4():
		return e, lmQuote(errLMIPv6, tok)
	case err != nil:
		return e, lmQuote(errLMBadAddr, tok)
	case addr.IsUnspecified(), addr == netip.AddrFrom4([4]byte{255, 255, 255, 255}), addr.IsMulticast():
		return e, lmQuote(errLMNotHost, tok)
	}
	e.Addr = addr

	tok, rest, isQuoted, err := lmToken(rest)
	if err != nil {
		return e, err
	}
	if !isQuoted && (len(tok) == 0 || tok[0] == '#') {
		return e, errLMNoName
	}
	var warn error
	e.Name, e.Service, warn, err = parseLMName(tok, isQuoted)
	if err != nil {
		return e, err
	}

	var domFirst bool
	for {
		rest = trimLMSpace(rest)
		if len(rest) == 0 {
			break
		}
		if rest[0] != '#' {
			tok, _ := lmField(rest)
			return e, lmQuote(errLMUnexpected, tok)
		}
		tok, rest = lmField(rest)
		if kw := string(tok); kw == "#PRE" {
			e.Preload = true
			domFirst = domFirst || e.Domain != ""
		} else if kw == "#MH" {
			e.Multihomed = true
		} else if d, ok := strings.CutPrefix(kw, "#DOM:"); ok {
			switch {
			case d == "":
				return e, errLMDomainEmpty
			case len(d) > nbns.NameLen-1:
				return e, lmQuote(errLMDomainTooLong, []byte(d))
			}
			d = lmUpper(d)
			if e.Domain != "" && e.Domain != d {
				return e, errLMTwoDomains
			}
			e.Domain = d
		} else {
			up := strings.ToUpper(kw)
			if up == "#PRE" || up == "#MH" || strings.HasPrefix(up, "#DOM") {
				p.warn(file, n, lmQuote(errLMNotKeyword, tok))
			}
			break // a comment
		}
	}
	if warn != nil {
		p.warn(file, n, warn)
	}
	if domFirst {
		p.warn(file, n, errLMDomBeforePre)
	}
	return e, nil
}

func lmUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return string(b)
}

// parseLMName parses the name of an entry: tok is the text between the
// quotes if isQuoted.
func parseLMName(tok []byte, isQuoted bool) (name nbns.Name, service bool, warn, err error) {
	var b [nbns.NameLen + 1]byte
	n := 0
	escaped := false
	if isQuoted {
		for i := 0; i < len(tok); i++ {
			c := tok[i]
			switch {
			case c == '\\':
				if i+4 < len(tok) && tok[i+1] == '0' && (tok[i+2] == 'x' || tok[i+2] == 'X') && lmIsHex(tok[i+3]) && lmIsHex(tok[i+4]) {
					c = lmUnhex(tok[i+3])<<4 | lmUnhex(tok[i+4])
					i += 4
				} else if i+2 < len(tok) && lmIsHex(tok[i+1]) && lmIsHex(tok[i+2]) {
					c = lmUnhex(tok[i+1])<<4 | lmUnhex(tok[i+2])
					i += 2
				} else {
					return name, false, nil, lmQuote(errLMEscape, tok)
				}
				escaped = true
			case 'a' <= c && c <= 'z':
				c -= 'a' - 'A'
			}
			if n == len(b) {
				return name, false, nil, lmQuote(errLMQuotedTooLong, tok)
			}
			b[n] = c
			n++
		}
		switch {
		case n == 0:
			return name, false, nil, errLMNameEmpty
		case n > nbns.NameLen:
			return name, false, nil, lmQuote(errLMQuotedTooLong, tok)
		case n == nbns.NameLen:
			name = nbns.NameFromBytes([nbns.NameLen]byte(b[:nbns.NameLen]))
			if name.IsZero() {
				return name, false, nil, lmQuote(errLMNameNUL, tok)
			}
			return name, true, nil, nil
		}
		if escaped {
			warn = &lmShortQuoted{n}
		}
		return lmComputerName(b[:n]), false, warn, nil
	}
	if bytes.ContainsAny(tok, `\"`) {
		return name, false, nil, lmQuote(errLMNameChar, tok)
	}
	if k := len(tok) - 3; k >= 1 && tok[k] == '#' && lmIsHex(tok[k+1]) && lmIsHex(tok[k+2]) {
		// Samba's NAME#xx.
		if k > nbns.NameLen-1 {
			return name, false, nil, lmQuote(errLMNameTooLong, tok)
		}
		n := lmComputerName(tok[:k])
		return n.WithSuffix(nbns.Suffix(lmUnhex(tok[k+1])<<4 | lmUnhex(tok[k+2]))), true, nil, nil
	}
	if len(tok) > nbns.NameLen-1 {
		return name, false, nil, lmQuote(errLMNameTooLong, tok)
	}
	return lmComputerName(tok), false, nil, nil
}

// computerName returns s, 1 to 15 bytes, upper-cased and padded with
// spaces, with the suffix <20>.
func lmComputerName(s []byte) nbns.Name {
	var b [nbns.NameLen]byte
	for i := range b[:nbns.NameLen-1] {
		c := byte(' ')
		if i < len(s) {
			c = s[i]
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
		}
		b[i] = c
	}
	b[nbns.NameLen-1] = byte(nbns.FileServer)
	return nbns.NameFromBytes(b)
}

func lmIsHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func lmUnhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// buildIndex fills l.index and l.domains from l.entries.
func (l *LMHosts) buildIndex() {
	l.index = make(map[lmhostsKey][]int32)
	l.domains = make(map[nbns.Name][]int32)
	for i := range l.entries {
		e := &l.entries[i]
		l.index[lmhostsKey{e.Name, !e.Service}] = append(l.index[lmhostsKey{e.Name, !e.Service}], int32(i))
		if d, ok := e.domainName(); ok {
			l.domains[d] = append(l.domains[d], int32(i))
		}
	}
}

// findShadowed warns of the entries that no lookup returns, because an
// entry without #MH answers each of their names first. Entries with
// #DOM are not among them, as they answer their domain too.
func (p *lmhostsParser) findShadowed() {
	l := p.l
	used := make([]bool, len(l.entries))
	blocked := make([]int32, len(l.entries)) // the last entry of a lookup that passed over it, plus 1
	var blockedName []nbns.Name
	seen := make(map[nbns.Name]bool)
	for i := range l.entries {
		for _, q := range l.entries[i].Names() {
			if seen[q] {
				continue
			}
			seen[q] = true
			got := l.lookup(q)
			for _, j := range got {
				used[j] = true
			}
			if len(got) == 0 {
				continue
			}
			last := got[len(got)-1]
			for _, j := range l.candidates(q) {
				if !used[j] && blocked[j] == 0 {
					blocked[j] = last + 1
					if blockedName == nil {
						blockedName = make([]nbns.Name, len(l.entries))
					}
					blockedName[j] = q
				}
			}
		}
	}
	for i := range l.entries {
		e := &l.entries[i]
		if used[i] || e.Domain != "" || blocked[i] == 0 {
			continue
		}
		by := &l.entries[blocked[i]-1]
		if by.File == e.File && by.Line == e.Line {
			continue // the same line, read again by a second #INCLUDE of its file
		}
		p.warn(e.File, e.Line, &lmShadowed{name: blockedName[i], by: by})
	}
}
