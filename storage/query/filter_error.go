package query

import (
	"fmt"
	"strings"
)

// FilterError is a filter that does not parse. Pos is a 0-based byte offset
// into Src (len(Src) for "end of filter"); Error prints a one-line message
// followed by the source line and a caret under Pos, for example:
//
//	filter: at 9: expected a port number, got "foo"
//	dst port foo
//	         ^
type FilterError struct {
	Pos      int    // byte offset into Src of the offending token
	Expected string // what the parser wanted ("a port number"); empty when Msg says it all
	Got      string // what it found: a quoted token or "end of filter"
	Msg      string // a message that is not of the expected/got form (unknown column, no such column in the dataset)
	Hint     string // optional advice ("did you mean \"src\"?")
	Src      string // the whole filter text
}

// Error returns the message, the source line and a caret line.
func (e *FilterError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "filter: at %d: ", e.Pos)
	if e.Msg != "" {
		b.WriteString(e.Msg)
	} else {
		fmt.Fprintf(&b, "expected %s, got %s", e.Expected, e.Got)
	}
	if e.Hint != "" {
		b.WriteString("; " + e.Hint)
	}
	line, col := e.line()
	b.WriteString("\n" + line + "\n" + col + "^")
	return b.String()
}

// line returns the source line holding Pos and the blank prefix that puts a
// caret under Pos (tabs kept so the caret lines up, runes counted as one
// column each).
func (e *FilterError) line() (string, string) {
	pos := min(max(e.Pos, 0), len(e.Src))
	start := strings.LastIndexByte(e.Src[:pos], '\n') + 1
	end := len(e.Src)
	if i := strings.IndexByte(e.Src[pos:], '\n'); i >= 0 {
		end = pos + i
	}
	var pad strings.Builder
	for _, r := range e.Src[start:pos] {
		if r == '\t' {
			pad.WriteByte('\t')
		} else {
			pad.WriteByte(' ')
		}
	}
	return e.Src[start:end], pad.String()
}

// describe renders a token for the Got field.
func describe(t token) string {
	if t.kind == tokEOF {
		return "end of filter"
	}
	return fmt.Sprintf("%q", t.text)
}
