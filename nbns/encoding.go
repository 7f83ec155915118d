package nbns

// This file holds the name encodings of RFC 1001 §14 and RFC 1002 §4.1.

const (
	// EncodedLen is the length of a name's first-level encoding: two
	// letters 'A'..'P' per byte.
	EncodedLen = 2 * NameLen

	// MaxEncodedLen is the maximum length of a second-level encoded name,
	// scope included (RFC 1001 §17.1.2).
	MaxEncodedLen = 255

	// MaxLabelLen is the maximum length of one scope label (RFC 1002 §4.1).
	MaxLabelLen = 63

	// maxPointerHops bounds how many compression pointers one name may
	// follow, as Samba's parse_nmb_name does.
	maxPointerHops = 10
)

// AppendFirstLevel appends the first-level encoding of n to b: each byte
// split into two nibbles, each nibble added to 'A' (RFC 1001 §14.1). "FRED"
// padded with spaces encodes to EGFCEFEECACACACACACACACACACACACA.
func (n Name) AppendFirstLevel(b []byte) []byte {
	for _, c := range n.b {
		b = append(b, 'A'+c>>4, 'A'+c&0xF)
	}
	return b
}

// AppendEncoded appends the second-level encoding of n in the given scope to
// b (RFC 1001 §14.1, RFC 1002 §4.1): a length byte 0x20, the 32 bytes of the
// first-level encoding, one length-prefixed label per dot-separated part of
// scope, and a terminating 0x00. An empty scope is the usual case and gives
// 34 bytes. Scope labels must be 1 to 63 bytes and the whole encoded name at
// most 255 bytes. The encoding never uses compression pointers.
func (n Name) AppendEncoded(b []byte, scope string) ([]byte, error) {
	if _, err := encodedLen(scope); err != nil {
		return b, err
	}
	b = append(b, EncodedLen)
	b = n.AppendFirstLevel(b)
	for len(scope) > 0 {
		i := 0
		for i < len(scope) && scope[i] != '.' {
			i++
		}
		b = append(b, byte(i))
		b = append(b, scope[:i]...)
		if i < len(scope) {
			i++ // the dot
		}
		scope = scope[i:]
	}
	return append(b, 0), nil
}

// encodedLen returns the length of a second-level encoded name in scope, or
// an error if scope is not a valid scope identifier.
func encodedLen(scope string) (int, error) {
	l := 1 + EncodedLen + 1
	if scope == "" {
		return l, nil
	}
	label := 0
	for i := 0; i <= len(scope); i++ {
		if i == len(scope) || scope[i] == '.' {
			if label == 0 || label > MaxLabelLen {
				return 0, errScopeLabel
			}
			l += 1 + label
			label = 0
			continue
		}
		label++
	}
	if l > MaxEncodedLen {
		return 0, errScopeTooLong
	}
	return l, nil
}

// ParseEncoded decodes the second-level encoded name at the start of b, as
// found in session service packets: no compression pointers are allowed
// there (RFC 1002 §4.1). It returns the name, its scope as a dotted string
// and the number of bytes the encoding took.
//
// The first label must be exactly 32 bytes of 'A'..'P', every scope label at
// most 63 bytes without a dot, and the whole name at most 255 bytes.
// Errors are *[ParseError] values.
func ParseEncoded(b []byte) (n Name, scope string, length int, err error) {
	var sb scopeBuf
	n, length, err = decodeName(b, 0, false, &sb)
	if err != nil {
		return Name{}, "", 0, parseErr("NAME", 0, err)
	}
	return n, sb.string(""), length, nil
}

// scopeBuf collects a decoded scope without allocating; a scope fits in 255
// bytes because the whole encoded name does.
type scopeBuf struct {
	b [MaxEncodedLen]byte
	n int
}

// string returns the scope as a string, reusing prev when it already holds
// the same bytes so that decoding into a reused value does not allocate.
func (s *scopeBuf) string(prev string) string {
	if string(s.b[:s.n]) == prev {
		return prev
	}
	return string(s.b[:s.n])
}

// decodeName decodes the second-level encoded name at msg[off:]. Compression
// pointers are followed only when pointers is true, only to offsets before
// the pointer itself, and at most maxPointerHops times. It returns the offset
// just after the name as it stands at off, which is after the first pointer
// when the name uses one. Every length is checked before it is used.
func decodeName(msg []byte, off int, pointers bool, scope *scopeBuf) (Name, int, error) {
	var n Name
	scope.n = 0
	pos := off
	next := -1 // end of the name at off, once a pointer has been followed
	hops := 0
	total := 0 // length of the name as if it had no pointers
	first := true
	for {
		if pos >= len(msg) {
			return n, 0, errShort
		}
		c := msg[pos]
		switch c & 0xC0 {
		case 0xC0:
			if !pointers {
				return n, 0, errPointer
			}
			if pos+1 >= len(msg) {
				return n, 0, errShort
			}
			ptr := int(c&0x3F)<<8 | int(msg[pos+1])
			if ptr >= pos {
				return n, 0, errPointerForward
			}
			if hops++; hops > maxPointerHops {
				return n, 0, errPointerHops
			}
			if next < 0 {
				next = pos + 2
			}
			pos = ptr
			continue
		case 0x40, 0x80:
			return n, 0, errReservedLabel
		}
		l := int(c)
		pos++
		if l == 0 {
			if first {
				return n, 0, errFirstLabel
			}
			if total+1 > MaxEncodedLen {
				return n, 0, errEncodedTooLong
			}
			if next < 0 {
				next = pos
			}
			return n, next, nil
		}
		if first && l != EncodedLen {
			return n, 0, errFirstLabel
		}
		if pos+l > len(msg) {
			return n, 0, errShort
		}
		total += 1 + l
		if total+1 > MaxEncodedLen {
			return n, 0, errEncodedTooLong
		}
		label := msg[pos : pos+l]
		if first {
			for i := range NameLen {
				hi, lo := label[2*i]-'A', label[2*i+1]-'A'
				if hi > 0xF || lo > 0xF {
					return n, 0, errLabelChar
				}
				n.b[i] = hi<<4 | lo
			}
			first = false
		} else {
			if scope.n > 0 {
				scope.b[scope.n] = '.'
				scope.n++
			}
			for _, c := range label {
				if c == '.' {
					return n, 0, errDotInLabel
				}
			}
			scope.n += copy(scope.b[scope.n:], label)
		}
		pos += l
	}
}
