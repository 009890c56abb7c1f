package query

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/flowlake/flowlake/storage/schema"
)

// colInfo is what the parser needs to know of a column to read its values.
type colInfo struct {
	name  string
	kind  Kind
	bits  int  // width of integer kinds
	addr  bool // a 16-byte address column: predicates are AddrMatch
	flags bool // a TCP flags bit set: letters mean FlagsAll
	proto bool // an IP protocol number: names allowed
}

// columnInfo derives a colInfo from the column's Arrow type and unit.
func columnInfo(c schema.Column) (colInfo, bool) {
	ci := colInfo{name: c.Name}
	switch t := c.Arrow.(type) {
	case *arrow.FixedSizeBinaryType:
		switch t.ByteWidth {
		case 16:
			ci.addr = true
		case 6:
			ci.kind = KindMAC
		default:
			return ci, false
		}
	case *arrow.TimestampType:
		ci.kind = KindTime
	case *arrow.StringType:
		ci.kind = KindString
	case *arrow.BooleanType:
		ci.kind = KindBool
	case *arrow.Uint8Type, *arrow.Uint16Type, *arrow.Uint32Type, *arrow.Uint64Type:
		ci.kind, ci.bits = KindUint, t.(arrow.FixedWidthDataType).BitWidth()
	case *arrow.Int8Type, *arrow.Int16Type, *arrow.Int32Type, *arrow.Int64Type:
		ci.kind, ci.bits = KindInt, t.(arrow.FixedWidthDataType).BitWidth()
	default:
		return ci, false
	}
	ci.flags = ci.kind == KindUint && strings.HasPrefix(c.Unit, "bit set FIN")
	ci.proto = ci.kind == KindUint && c.Name == "proto"
	return ci, true
}

// expect describes the values the column takes, for error messages.
func (c colInfo) expect() string {
	switch {
	case c.addr:
		return "an IP address, prefix or range"
	case c.proto:
		return "a protocol (tcp, udp, icmp, icmp6 or a number)"
	case c.flags:
		return "TCP flags (letters of FSRPAUEC) or a number"
	case c.kind == KindUint && strings.HasSuffix(c.name, "port"):
		return "a port number"
	}
	switch c.kind {
	case KindUint:
		return fmt.Sprintf("a number (0 to %d; K, M, G multiply by 1000)", uint64(1<<(c.bits-1))*2-1)
	case KindInt:
		return "an integer"
	case KindString:
		return "a string"
	case KindBool:
		return "true or false"
	case KindMAC:
		return "a MAC address"
	case KindTime:
		return "an RFC 3339 timestamp (2026-01-02T15:04:05Z)"
	}
	return "a value"
}

// A role is what an nfdump keyword (ip, port, as, if, mac) means, found in a
// dataset as a source/destination (or in/out) pair of columns.
type role struct {
	what  string      // "address", for messages
	pairs [][2]string // candidate pairs, first found wins
	quals [2]string   // the qualifiers selecting pair[0] and pair[1]
	one   string      // a single column used when no pair exists and no qualifier is given
	like  func(colInfo) bool
}

// roleOf maps nfdump keywords to their roles.
func roleOf(word string) (role, bool) {
	switch word {
	case "ip", "host", "net":
		return role{what: "address", pairs: [][2]string{{"src_addr", "dst_addr"}, {"local_addr", "foreign_addr"}},
			quals: [2]string{"src", "dst"}, like: func(c colInfo) bool { return c.addr }}, true
	case "port":
		return role{what: "port", pairs: [][2]string{{"src_port", "dst_port"}, {"local_port", "foreign_port"}},
			quals: [2]string{"src", "dst"}, like: func(c colInfo) bool { return c.kind == KindUint && strings.HasSuffix(c.name, "port") }}, true
	case "as":
		return role{what: "AS", pairs: [][2]string{{"src_as", "dst_as"}}, quals: [2]string{"src", "dst"},
			like: func(c colInfo) bool { return strings.HasSuffix(c.name, "_as") }}, true
	case "if":
		return role{what: "interface", pairs: [][2]string{{"in_if", "out_if"}}, quals: [2]string{"in", "out"},
			like: func(c colInfo) bool { return c.kind == KindUint && strings.HasSuffix(c.name, "_if") }}, true
	case "mac":
		return role{what: "MAC", pairs: [][2]string{{"src_mac", "dst_mac"}}, quals: [2]string{"src", "dst"}, one: "chaddr",
			like: func(c colInfo) bool { return c.kind == KindMAC && !c.addr }}, true
	}
	return role{}, false
}

// keywords are the filter words that are not column names, for suggestions.
var keywords = []string{"src", "dst", "in", "out", "ip", "host", "net", "port", "proto", "flags", "as", "if", "mac", "msgtype", "state", "any", "not", "and", "or"}

// resolve returns the columns that field (after the optional qualifier
// qual, "" when none) names in the dataset; a predicate on several columns
// matches when any of them does.
func (p *parser) resolve(qual, field token) ([]colInfo, *FilterError) {
	word := strings.ToLower(field.text)
	q := strings.ToLower(qual.text)
	if r, ok := roleOf(word); ok {
		return p.resolveRole(r, q, qual, field)
	}
	if q != "" {
		return nil, p.errAt(field, "ip, host, net, port, as, if or mac after "+q)
	}
	name := word
	switch word {
	case "flags":
		for _, c := range p.d.Columns {
			if ci, ok := columnInfo(c); ok && ci.flags {
				name = c.Name
			}
		}
	case "msgtype":
		name = "msg_type"
	case "state":
		if _, ok := p.d.Column("conn_state"); ok {
			name = "conn_state"
		}
	}
	c, ok := p.d.Column(name)
	if !ok {
		e := &FilterError{Pos: field.pos, Src: p.src, Msg: fmt.Sprintf("unknown column %q in %s", field.text, p.d.Name)}
		if s := p.suggest(word); s != "" {
			e.Hint = fmt.Sprintf("did you mean %q?", s)
		} else if other := datasetsWith(word); len(other) > 0 {
			e.Hint = fmt.Sprintf("%s is a column of %s", word, strings.Join(other, ", "))
		}
		return nil, e
	}
	ci, ok := columnInfo(c)
	if !ok {
		return nil, &FilterError{Pos: field.pos, Src: p.src, Msg: fmt.Sprintf("column %q cannot be filtered on", c.Name)}
	}
	return []colInfo{ci}, nil
}

// resolveRole resolves an nfdump keyword to its column pair in the dataset.
func (p *parser) resolveRole(r role, q string, qual, field token) ([]colInfo, *FilterError) {
	if q != "" && q != r.quals[0] && q != r.quals[1] {
		return nil, &FilterError{Pos: qual.pos, Src: p.src,
			Msg: fmt.Sprintf("%q cannot qualify %q; use %s or %s", qual.text, field.text, r.quals[0], r.quals[1])}
	}
	for _, pair := range r.pairs {
		a, okA := p.d.Column(pair[0])
		b, okB := p.d.Column(pair[1])
		if !okA || !okB {
			continue
		}
		ca, _ := columnInfo(a)
		cb, _ := columnInfo(b)
		switch q {
		case r.quals[0]:
			return []colInfo{ca}, nil
		case r.quals[1]:
			return []colInfo{cb}, nil
		}
		return []colInfo{ca, cb}, nil
	}
	if c, ok := p.d.Column(r.one); ok && q == "" {
		ci, _ := columnInfo(c)
		return []colInfo{ci}, nil
	}
	var like []string
	for _, c := range p.d.Columns {
		if ci, ok := columnInfo(c); ok && r.like(ci) {
			like = append(like, c.Name)
		}
	}
	side := map[string]string{"": "source/destination", "src": "source", "dst": "destination", "in": "input", "out": "output"}[q]
	if q == "" && r.quals[0] == "in" {
		side = "input/output"
	}
	msg := fmt.Sprintf("dataset %s has no %s %s columns", p.d.Name, side, r.what)
	if len(like) > 0 {
		msg += "; use " + strings.Join(like, ", ")
	}
	return nil, &FilterError{Pos: field.pos, Src: p.src, Msg: msg}
}

// suggest returns the column or keyword closest to word, or "".
func (p *parser) suggest(word string) string {
	best, bestD := "", min(3, len(word))
	try := func(s string) {
		if d := editDistance(word, s); d > 0 && d < bestD {
			best, bestD = s, d
		}
	}
	for _, k := range keywords {
		try(k)
	}
	for _, c := range p.d.Columns {
		try(c.Name)
	}
	return best
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// datasetsWith names the datasets that have a column called name.
func datasetsWith(name string) []string {
	var names []string
	for _, d := range schema.All() {
		if _, ok := d.Column(name); ok {
			names = append(names, d.Name)
		}
	}
	return names
}
