package tcptrace

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ParseError is a malformed value on a line Parse recognised: it names the
// file, the line and the column (in characters, 1-based) where the bad
// value starts, and why it is wrong.
type ParseError struct {
	File string
	Line int
	Col  int
	Msg  string
}

// Error formats the error as "file:line:col: msg", the form editors jump to.
func (e *ParseError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// normalize replaces the no-break spaces device output (and documents
// copied from HTML) carry with plain spaces, one rune for one rune, so
// columns counted on the result are the columns of the original line.
func normalize(s string) string {
	if !strings.ContainsRune(s, '\u00a0') && !strings.ContainsRune(s, '\t') {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r == '\u00a0' || r == '\t' {
			return ' '
		}
		return r
	}, s)
}

// scanner walks one normalized line, keeping the first error with the
// column it occurred at; later calls after an error do nothing.
type scanner struct {
	s    string
	pos  int
	err  string
	ecol int
}

// col returns the 1-based character column of byte offset off.
func (sc *scanner) col(off int) int { return utf8.RuneCountInString(sc.s[:min(off, len(sc.s))]) + 1 }

func (sc *scanner) fail(off int, format string, args ...any) {
	if sc.err == "" {
		sc.err, sc.ecol = fmt.Sprintf(format, args...), sc.col(off)
	}
}

func (sc *scanner) skipSpace() {
	for sc.pos < len(sc.s) && sc.s[sc.pos] == ' ' {
		sc.pos++
	}
}

// done reports whether only spaces are left.
func (sc *scanner) done() bool {
	sc.skipSpace()
	return sc.pos >= len(sc.s)
}

// lit consumes the literal after optional spaces.
func (sc *scanner) lit(want string) {
	if sc.err != "" {
		return
	}
	sc.skipSpace()
	if !strings.HasPrefix(sc.s[sc.pos:], want) {
		sc.fail(sc.pos, "want %q, found %q", want, clip(sc.s[sc.pos:]))
		return
	}
	sc.pos += len(want)
}

// peek reports whether the literal follows (after spaces).
func (sc *scanner) peek(want string) bool {
	sc.skipSpace()
	return sc.err == "" && strings.HasPrefix(sc.s[sc.pos:], want)
}

// word returns the next run of characters up to a space or one of stop.
func (sc *scanner) word(stop string) (string, int) {
	sc.skipSpace()
	start := sc.pos
	for sc.pos < len(sc.s) && sc.s[sc.pos] != ' ' && !strings.ContainsRune(stop, rune(sc.s[sc.pos])) {
		sc.pos++
	}
	return sc.s[start:sc.pos], start
}

// uint reads a decimal number that fits in bits; what names it in errors.
func (sc *scanner) uint(bits int, what string) uint64 {
	if sc.err != "" {
		return 0
	}
	sc.skipSpace()
	start := sc.pos
	for sc.pos < len(sc.s) && sc.s[sc.pos] >= '0' && sc.s[sc.pos] <= '9' {
		sc.pos++
	}
	return sc.number(start, sc.s[start:sc.pos], 10, bits, what)
}

// hex reads a 0x-prefixed hexadecimal number that fits in bits.
func (sc *scanner) hex(bits int, what string) uint64 {
	if sc.err != "" {
		return 0
	}
	sc.skipSpace()
	start := sc.pos
	if !strings.HasPrefix(sc.s[sc.pos:], "0x") && !strings.HasPrefix(sc.s[sc.pos:], "0X") {
		sc.fail(start, "%s: want a 0x-prefixed hexadecimal number, found %q", what, clip(sc.s[start:]))
		return 0
	}
	sc.pos += 2
	for sc.pos < len(sc.s) && strings.ContainsRune("0123456789abcdefABCDEF", rune(sc.s[sc.pos])) {
		sc.pos++
	}
	return sc.number(start, sc.s[start+2:sc.pos], 16, bits, what)
}

func (sc *scanner) number(start int, digits string, base, bits int, what string) uint64 {
	if digits == "" {
		sc.fail(start, "%s: want a number, found %q", what, clip(sc.s[start:]))
		return 0
	}
	v, err := strconv.ParseUint(digits, base, bits)
	if err != nil {
		sc.fail(start, "%s: %s does not fit in %d bits", what, digits, bits)
		return 0
	}
	return v
}

// rest returns the remainder of the line with runs of spaces collapsed.
func (sc *scanner) rest() string {
	if sc.err != "" {
		return ""
	}
	r := strings.Join(strings.Fields(sc.s[sc.pos:]), " ")
	sc.pos = len(sc.s)
	return r
}

// slashed reads n numbers separated by '/' (a device "a/b/c" value).
func (sc *scanner) slashed(bits int, names ...string) []uint64 {
	out := make([]uint64, len(names))
	for i, name := range names {
		if i > 0 {
			sc.lit("/")
		}
		out[i] = sc.uint(bits, name)
	}
	return out
}

// clip shortens s for an error message.
func clip(s string) string {
	if r := []rune(s); len(r) > 24 {
		return string(r[:24]) + "…"
	}
	return s
}
