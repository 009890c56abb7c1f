package query

import (
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/flowlake/flowlake/storage/schema"
)

// Expr is a parsed filter: a boolean combination of predicates on concrete
// columns of one dataset. String returns the canonical filter text, which
// ParseFilter turns back into an equal Expr on the same dataset (EXPLAIN
// shows it).
type Expr interface {
	String() string
	isExpr()
}

// MatchAll matches every row: the empty filter, or the keyword "any".
type MatchAll struct{}

// And matches rows that all Terms match. The parser flattens nested Ands,
// so no term is itself an And.
type And struct{ Terms []Expr }

// Or matches rows that any of Terms matches. The parser flattens nested
// Ors, so no term is itself an Or.
type Or struct{ Terms []Expr }

// Not matches rows that Term does not match.
type Not struct{ Term Expr }

// Op is a comparison operator. "!=" is not an Op: the parser turns
// `a != b` into Not{a = b}.
type Op uint8

// The comparison operators.
const (
	OpEq Op = iota // =, == or no operator
	OpLt           // <
	OpLe           // <=
	OpGt           // >
	OpGe           // >=
)

// String returns the operator's canonical spelling.
func (o Op) String() string {
	names := [...]string{"=", "<", "<=", ">", ">="}
	if int(o) >= len(names) {
		return "?"
	}
	return names[o]
}

// Compare matches rows whose Column compares to Value by Op.
type Compare struct {
	Column string
	Op     Op
	Value  Value
}

// InSet matches rows whose Column equals one of Values (in the order
// written).
type InSet struct {
	Column string
	Values []Value
}

// AddrRange is an inclusive range of addresses of one family. IPv4 is kept
// unmapped (4 bytes); the lake stores it IPv4-mapped, so an evaluator maps
// Lo and Hi with schema.AddrFrom before comparing bytewise.
type AddrRange struct{ Lo, Hi netip.Addr }

// Prefix returns the prefix the range is exactly, if it is one.
func (r AddrRange) Prefix() (netip.Prefix, bool) {
	for bits := 0; bits <= r.Lo.BitLen(); bits++ {
		p := netip.PrefixFrom(r.Lo, bits)
		if p.Masked().Addr() == r.Lo && lastAddr(p) == r.Hi {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// String formats the range as an address, a prefix or "lo-hi".
func (r AddrRange) String() string {
	if r.Lo == r.Hi {
		return r.Lo.String()
	}
	if p, ok := r.Prefix(); ok {
		return p.String()
	}
	return r.Lo.String() + "-" + r.Hi.String()
}

// AddrMatch matches rows whose address Column falls in one of Ranges. The
// parser normalizes Ranges: sorted, IPv4 before IPv6, overlapping and
// adjacent ranges merged.
type AddrMatch struct {
	Column string
	Ranges []AddrRange
}

// FlagsAll matches rows whose TCP flags Column has every bit of Mask set
// (nfdump's `flags SA`).
type FlagsAll struct {
	Column string
	Mask   uint8
}

// Kind is the type of a Value, derived from its column's Arrow type.
type Kind uint8

// The value kinds.
const (
	KindUint   Kind = iota // unsigned integer columns: Value.Uint
	KindInt                // signed integer columns: Value.Int
	KindString             // string columns: Value.Str
	KindBool               // boolean columns: Value.Bool
	KindMAC                // 6-byte MAC columns: Value.MAC
	KindTime               // timestamp columns: Value.Int, µs since the epoch (UTC)
)

// Value is a literal of a predicate, typed by its column.
type Value struct {
	Kind Kind
	Uint uint64
	Int  int64
	Str  string
	Bool bool
	MAC  schema.MAC
}

// String formats the value so that it parses back to itself: strings
// quoted, timestamps in RFC 3339 (UTC).
func (v Value) String() string {
	switch v.Kind {
	case KindUint:
		return strconv.FormatUint(v.Uint, 10)
	case KindInt:
		return strconv.FormatInt(v.Int, 10)
	case KindString:
		return strconv.Quote(v.Str)
	case KindBool:
		return strconv.FormatBool(v.Bool)
	case KindMAC:
		return net.HardwareAddr(v.MAC[:]).String()
	case KindTime:
		return schema.FromMicros(v.Int).Format(timeLayout)
	}
	return "?"
}

// tcpFlagLetters are the flag letters in bit order (FIN=1 … CWR=128).
const tcpFlagLetters = "FSRPAUEC"

func (MatchAll) isExpr()  {}
func (And) isExpr()       {}
func (Or) isExpr()        {}
func (Not) isExpr()       {}
func (Compare) isExpr()   {}
func (InSet) isExpr()     {}
func (AddrMatch) isExpr() {}
func (FlagsAll) isExpr()  {}

// String returns "any".
func (MatchAll) String() string { return "any" }

// String joins the terms with "and", parenthesizing Or terms.
func (e And) String() string {
	parts := make([]string, len(e.Terms))
	for i, t := range e.Terms {
		parts[i] = t.String()
		if _, ok := t.(Or); ok {
			parts[i] = "(" + parts[i] + ")"
		}
	}
	return strings.Join(parts, " and ")
}

// String joins the terms with "or".
func (e Or) String() string {
	parts := make([]string, len(e.Terms))
	for i, t := range e.Terms {
		parts[i] = t.String()
	}
	return strings.Join(parts, " or ")
}

// String returns "not X", parenthesizing X when it is an And or an Or.
func (e Not) String() string {
	switch e.Term.(type) {
	case And, Or:
		return "not (" + e.Term.String() + ")"
	}
	return "not " + e.Term.String()
}

// String returns "column op value".
func (e Compare) String() string {
	return e.Column + " " + e.Op.String() + " " + e.Value.String()
}

// String returns "column in [v1 v2 …]".
func (e InSet) String() string {
	parts := make([]string, len(e.Values))
	for i, v := range e.Values {
		parts[i] = v.String()
	}
	return e.Column + " in [" + strings.Join(parts, " ") + "]"
}

// String returns "column range" for one range, else "column in [r1 r2 …]".
func (e AddrMatch) String() string {
	if len(e.Ranges) == 1 {
		return e.Column + " " + e.Ranges[0].String()
	}
	parts := make([]string, len(e.Ranges))
	for i, r := range e.Ranges {
		parts[i] = r.String()
	}
	return e.Column + " in [" + strings.Join(parts, " ") + "]"
}

// String returns "column LETTERS" with the letters in bit order.
func (e FlagsAll) String() string {
	var b strings.Builder
	for i := range 8 {
		if e.Mask&(1<<i) != 0 {
			b.WriteByte(tcpFlagLetters[i])
		}
	}
	return e.Column + " " + b.String()
}

// newAnd builds an And of terms, flattening nested Ands; one term is
// returned as is.
func newAnd(terms ...Expr) Expr {
	var flat []Expr
	for _, t := range terms {
		if a, ok := t.(And); ok {
			flat = append(flat, a.Terms...)
		} else {
			flat = append(flat, t)
		}
	}
	if len(flat) == 1 {
		return flat[0]
	}
	return And{Terms: flat}
}

// newOr builds an Or of terms, flattening nested Ors; one term is returned
// as is.
func newOr(terms ...Expr) Expr {
	var flat []Expr
	for _, t := range terms {
		if o, ok := t.(Or); ok {
			flat = append(flat, o.Terms...)
		} else {
			flat = append(flat, t)
		}
	}
	if len(flat) == 1 {
		return flat[0]
	}
	return Or{Terms: flat}
}
