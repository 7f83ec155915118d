package nbns

import "errors"

// NameLen is the length of a NetBIOS name on the wire before encoding: 15
// name bytes and a one-byte suffix (RFC 1001 §14.1, MS-NBTE §2.2.1).
const NameLen = 16

// Suffix is the 16th byte of a NetBIOS name, which tells the service that
// registered it (MS-NBTE §1.8). It is a number, never a character.
type Suffix byte

// Suffixes registered by Windows and Samba services (MS-NBTE §1.8 and its
// notes 2 and 3).
const (
	Workstation         Suffix = 0x00 // <computer><00> unique; <domain><00> group
	Browse              Suffix = 0x01 // \x01\x02__MSBROWSE__\x02<01> group
	Messenger           Suffix = 0x03 // <computer><03> or <user><03> unique
	FileServer          Suffix = 0x20 // <computer><20> unique: the Server service
	DomainMasterBrowser Suffix = 0x1B // <domain><1B> unique
	DomainControllers   Suffix = 0x1C // <domain><1C> group
	MasterBrowser       Suffix = 0x1D // <domain><1D> unique
	BrowserElection     Suffix = 0x1E // <domain><1E> group
)

// String returns the suffix as it is written after a name: "<20>".
func (s Suffix) String() string {
	var b [4]byte
	return string(appendSuffix(b[:0], s))
}

// GoString returns the suffix as Go syntax: "nbns.Suffix(0x20)".
func (s Suffix) GoString() string {
	b := append([]byte("nbns.Suffix(0x"), hexDigits[s>>4], hexDigits[s&0xF], ')')
	return string(b)
}

func appendSuffix(b []byte, s Suffix) []byte {
	return append(b, '<', hexDigits[s>>4], hexDigits[s&0xF], '>')
}

const hexDigits = "0123456789ABCDEF"

// A Name is a NetBIOS name: 15 name bytes and a suffix, held as the 16 raw
// bytes that go on the wire. Names are bytes, not text: they are compared
// over all 16 bytes (MS-NBTE §2.2.1), and only ASCII interoperates between
// hosts whose OEM code pages differ.
//
// Name is comparable and never allocates. The zero Name (16 NUL bytes) means
// "no name"; see [Name.IsZero].
type Name struct {
	b [NameLen]byte
}

var (
	errNameEmpty    = errors.New("nbns: empty name")
	errNameTooLong  = errors.New("nbns: name longer than 15 bytes")
	errWildcardType = errors.New("nbns: the wildcard name \"*\" has suffix <00> only")
	errNameSyntax   = errors.New("nbns: invalid name syntax")
)

// NewName returns the name s with the given suffix, the way Windows forms a
// NetBIOS name from a computer name: ASCII letters are upper-cased, other
// bytes are kept as they are, and the name is padded to 15 bytes with spaces
// (0x20). s must be 1 to 15 bytes long.
//
// The single asterisk "*" gives the wildcard name [Wildcard], which is padded
// with NUL bytes and exists only with suffix <00>.
func NewName(s string, suffix Suffix) (Name, error) {
	var n Name
	switch {
	case s == "":
		return n, errNameEmpty
	case len(s) > NameLen-1:
		return n, errNameTooLong
	case s == "*":
		if suffix != Workstation {
			return n, errWildcardType
		}
		return Wildcard(), nil
	}
	for i := 0; i < NameLen-1; i++ {
		c := byte(' ')
		if i < len(s) {
			c = s[i]
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
		}
		n.b[i] = c
	}
	n.b[NameLen-1] = byte(suffix)
	return n, nil
}

// MustName is like [NewName] but panics on error. It is meant for tests,
// examples and package-level values built from constants.
func MustName(s string, suffix Suffix) Name {
	n, err := NewName(s, suffix)
	if err != nil {
		panic(err)
	}
	return n
}

// Wildcard returns the wildcard name "*" followed by 15 NUL bytes, suffix
// <00> included (RFC 1001 §17.2). Node status queries use it to ask a host
// for its whole name table; it encodes to CKAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.
func Wildcard() Name {
	return Name{b: [NameLen]byte{'*'}}
}

// NameFromBytes returns the name held in b as it is, with no case change
// and no validation. It is how names from the wire are built.
func NameFromBytes(b [NameLen]byte) Name {
	return Name{b: b}
}

// Bytes returns the 16 raw bytes of n.
func (n Name) Bytes() [NameLen]byte {
	return n.b
}

// Suffix returns the 16th byte of n.
func (n Name) Suffix() Suffix {
	return Suffix(n.b[NameLen-1])
}

// WithSuffix returns n with its suffix replaced by s.
func (n Name) WithSuffix(s Suffix) Name {
	n.b[NameLen-1] = byte(s)
	return n
}

// IsZero reports whether n is the zero Name, 16 NUL bytes.
func (n Name) IsZero() bool {
	return n == Name{}
}

// IsWildcard reports whether n is the wildcard name "*<00>".
func (n Name) IsWildcard() bool {
	return n == Wildcard()
}

// String returns n as NAME<XX>: the 15 name bytes without their trailing
// space padding, then the suffix in hexadecimal. Bytes outside printable
// ASCII, and the backslash, are escaped as \xHH, so that
// "\x01\x02__MSBROWSE__\x02<01>" is the browse master name. The wildcard is
// "*<00>". [ParseName] parses every string that String returns back into the
// same 16 bytes.
func (n Name) String() string {
	var buf [4*NameLen + 4]byte
	b, _ := n.AppendText(buf[:0])
	return string(b)
}

// AppendText appends the [Name.String] form of n to b. It implements
// [encoding.TextAppender] and never returns an error.
func (n Name) AppendText(b []byte) ([]byte, error) {
	if n.IsWildcard() {
		return append(b, "*<00>"...), nil
	}
	end := NameLen - 1
	for end > 0 && n.b[end-1] == ' ' {
		end--
	}
	for _, c := range n.b[:end] {
		if c < ' ' || c > '~' || c == '\\' {
			b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xF])
		} else {
			b = append(b, c)
		}
	}
	if end == 1 && n.b[0] == '*' && n.Suffix() == Workstation {
		// "*" padded with spaces would print as the wildcard; keep one
		// padding byte visible so that ParseName tells them apart.
		b = append(b, `\x20`...)
	}
	return appendSuffix(b, n.Suffix()), nil
}

// MarshalText implements [encoding.TextMarshaler] with the [Name.String]
// form, so names appear as "LABSRV<20>" in JSON.
func (n Name) MarshalText() ([]byte, error) {
	return n.AppendText(make([]byte, 0, 24))
}

// UnmarshalText implements [encoding.TextUnmarshaler] with [ParseName].
func (n *Name) UnmarshalText(text []byte) error {
	p, err := parseName(text)
	if err != nil {
		return err
	}
	*n = p
	return nil
}

// ParseName parses the [Name.String] form NAME<XX>: up to 15 name bytes,
// where \xHH stands for any byte, followed by a two-digit hexadecimal suffix
// in angle brackets. The name is padded with spaces and its case is kept as
// written; "*<00>" is the wildcard. To build a name from a computer name the
// way Windows does, use [NewName].
func ParseName(s string) (Name, error) {
	return parseName(s)
}

func parseName[T string | []byte](s T) (Name, error) {
	var n Name
	if len(s) < 4 || s[len(s)-4] != '<' || s[len(s)-1] != '>' {
		return n, errNameSyntax
	}
	hi, ok1 := unhex(s[len(s)-3])
	lo, ok2 := unhex(s[len(s)-2])
	if !ok1 || !ok2 {
		return n, errNameSyntax
	}
	body := s[:len(s)-4]
	if string(body) == "*" && hi == 0 && lo == 0 {
		return Wildcard(), nil
	}
	j := 0
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c == '\\' {
			if i+3 >= len(body) || body[i+1] != 'x' {
				return n, errNameSyntax
			}
			h, ok1 := unhex(body[i+2])
			l, ok2 := unhex(body[i+3])
			if !ok1 || !ok2 {
				return n, errNameSyntax
			}
			c = h<<4 | l
			i += 3
		}
		if j == NameLen-1 {
			return n, errNameTooLong
		}
		n.b[j] = c
		j++
	}
	for ; j < NameLen-1; j++ {
		n.b[j] = ' '
	}
	n.b[NameLen-1] = hi<<4 | lo
	return n, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
