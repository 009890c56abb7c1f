package query

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/flowlake/flowlake/storage/schema"
)

// maxDepth bounds the nesting of parentheses and "not", so no input can
// exhaust the stack.
const maxDepth = 100

// ParseFilter parses src, a filter in Flowlake's nfdump-style language
// (docs/query-language.md), resolving every predicate to columns of d.
// An empty or all-whitespace filter is MatchAll. Errors are *FilterError.
func ParseFilter(d *schema.Dataset, src string) (Expr, error) {
	if d == nil {
		return nil, errors.New("filter: no dataset")
	}
	d = queryDataset(d) // flows' lease-join columns (src_host …) filter too
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	if toks[0].kind == tokEOF {
		return MatchAll{}, nil
	}
	p := &parser{d: d, src: src, toks: toks}
	e, ferr := p.parseOr()
	if ferr != nil {
		return nil, ferr
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, p.errAt(t, `"and", "or" or end of filter`)
	}
	return e, nil
}

// parser is the state of one ParseFilter call.
type parser struct {
	d     *schema.Dataset
	src   string
	toks  []token
	i     int
	depth int
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

// errAt reports that expected was wanted where t is.
func (p *parser) errAt(t token, expected string) *FilterError {
	return &FilterError{Pos: t.pos, Expected: expected, Got: describe(t), Src: p.src}
}

// parseOr parses and-terms joined by "or" or "||".
func (p *parser) parseOr() (Expr, *FilterError) {
	e, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	terms := []Expr{e}
	for t := p.peek(); t.kind == tokOr || t.is("or"); t = p.peek() {
		p.next()
		e, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		terms = append(terms, e)
	}
	return newOr(terms...), nil
}

// parseAnd parses unary terms joined by "and" or "&&".
func (p *parser) parseAnd() (Expr, *FilterError) {
	e, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	terms := []Expr{e}
	for t := p.peek(); t.kind == tokAnd || t.is("and"); t = p.peek() {
		p.next()
		e, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		terms = append(terms, e)
	}
	return newAnd(terms...), nil
}

// parseUnary parses "not" X, "(" expr ")", "any" or a predicate.
func (p *parser) parseUnary() (Expr, *FilterError) {
	t := p.peek()
	if p.depth++; p.depth > maxDepth {
		return nil, &FilterError{Pos: t.pos, Src: p.src, Msg: fmt.Sprintf("filter nested more than %d deep", maxDepth)}
	}
	defer func() { p.depth-- }()
	switch {
	case t.kind == tokNot || t.is("not"):
		p.next()
		e, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return Not{Term: e}, nil
	case t.kind == tokLParen:
		p.next()
		e, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if c := p.peek(); c.kind != tokRParen {
			return nil, p.errAt(c, fmt.Sprintf(`")" to close the "(" at %d`, t.pos))
		}
		p.next()
		return e, nil
	case t.is("any"):
		p.next()
		return MatchAll{}, nil
	}
	return p.parsePredicate()
}

// parsePredicate parses [qualifier] field [op] value, or
// [qualifier] field in [values].
func (p *parser) parsePredicate() (Expr, *FilterError) {
	field := p.next()
	if field.kind != tokWord || field.is("and") || field.is("or") {
		return nil, p.errAt(field, "a filter keyword or a column of "+p.d.Name)
	}
	var qual token
	switch strings.ToLower(field.text) {
	case "src", "dst", "in", "out":
		qual, field = field, p.next()
		if field.kind != tokWord {
			return nil, p.errAt(field, "ip, host, net, port, as, if or mac after "+strings.ToLower(qual.text))
		}
	}
	cols, err := p.resolve(qual, field)
	if err != nil {
		return nil, err
	}
	names := p.hostNames(field, cols)
	if p.peek().is("in") && p.toks[p.i+1].kind == tokLBrack {
		return p.parseList(cols, names)
	}
	return p.parseCompare(cols, names)
}

// hostColumns maps an address column to the lease-join column of the
// host name that held it.
var hostColumns = map[string]string{"src_addr": ColSrcHost, "dst_addr": ColDstHost}

// hostNames returns, for the keyword host, the host-name columns of the
// address columns cols, when the dataset has them (flows): a value that
// is not an address then means a host name (`src host laptop-42`). It
// returns nil otherwise.
func (p *parser) hostNames(field token, cols []colInfo) []colInfo {
	if !strings.EqualFold(field.text, "host") {
		return nil
	}
	var names []colInfo
	for _, c := range cols {
		hc, ok := p.d.Column(hostColumns[c.name])
		if !c.addr || !ok {
			return nil
		}
		ci, _ := columnInfo(hc)
		names = append(names, ci)
	}
	return names
}

// parseList parses "in [v1 v2 …]" (commas optional) for cols. With names
// (host on flows), an element that is not an address is a host name of
// the names columns.
func (p *parser) parseList(cols, names []colInfo) (Expr, *FilterError) {
	p.next()
	open := p.next()
	if open.kind != tokLBrack {
		return nil, p.errAt(open, `"[" after "in"`)
	}
	c := cols[0]
	var vals, hosts []Value
	var ranges []AddrRange
	for {
		t := p.next()
		switch t.kind {
		case tokComma:
			continue
		case tokWord, tokString:
			if c.addr {
				r, why := parseAddrRange(t.text)
				if why != "" && names != nil {
					hosts = append(hosts, Value{Kind: KindString, Str: t.text})
					continue
				}
				if why != "" {
					return nil, p.errAt(t, why)
				}
				ranges = append(ranges, r)
				continue
			}
			v, why := parseValue(c, t.text)
			if why != "" {
				return nil, p.errAt(t, why)
			}
			vals = append(vals, v)
			continue
		case tokRBrack:
			if len(vals)+len(ranges)+len(hosts) == 0 {
				return nil, p.errAt(t, c.expect())
			}
		case tokEOF:
			return nil, p.errAt(t, fmt.Sprintf(`"]" to close the "[" at %d`, open.pos))
		default:
			return nil, p.errAt(t, c.expect()+` or "]"`)
		}
		break
	}
	var terms []Expr
	for i, c := range cols {
		switch {
		case !c.addr:
			terms = append(terms, InSet{Column: c.name, Values: vals})
		case len(ranges) > 0:
			terms = append(terms, AddrMatch{Column: c.name, Ranges: normalizeRanges(ranges)})
		}
		if len(hosts) > 0 {
			terms = append(terms, InSet{Column: names[i].name, Values: hosts})
		}
	}
	return newOr(terms...), nil
}

// parseCompare parses [op] value for cols. With names (host on flows), a
// value that is not an address is a host name of the names columns.
func (p *parser) parseCompare(cols, names []colInfo) (Expr, *FilterError) {
	c := cols[0]
	op, neg := OpEq, false
	if t := p.peek(); t.kind == tokOp {
		p.next()
		switch t.text {
		case "!=":
			neg = true
		case "<":
			op = OpLt
		case "<=":
			op = OpLe
		case ">":
			op = OpGt
		case ">=":
			op = OpGe
		}
		if op != OpEq && (c.addr || c.kind == KindMAC || c.kind == KindBool) {
			return nil, p.errAt(t, `"=", "==" or "!="`)
		}
	}
	vt := p.next()
	if vt.kind != tokWord && vt.kind != tokString {
		return nil, p.errAt(vt, c.expect())
	}
	var mk func(c colInfo) Expr
	_, notAddr := parseAddrRange(vt.text)
	switch {
	case c.addr && notAddr != "" && names != nil:
		host := map[string]string{}
		for i, c := range cols {
			host[c.name] = names[i].name
		}
		v := Value{Kind: KindString, Str: vt.text}
		mk = func(c colInfo) Expr { return Compare{Column: host[c.name], Op: OpEq, Value: v} }
	case c.addr:
		r, why := parseAddrRange(vt.text)
		if _, joined := p.d.Column(ColSrcHost); why != "" && joined {
			why += ` (a host name goes with "host": src host NAME)`
		}
		if why != "" {
			return nil, p.errAt(vt, why)
		}
		if m := p.peek(); m.kind == tokWord && r.Lo == r.Hi && r.Lo.Is4() && !strings.ContainsAny(vt.text, "/-") {
			if bits, ok := maskBits(m.text); ok {
				p.next()
				pfx := netip.PrefixFrom(r.Lo, bits).Masked()
				r = AddrRange{Lo: pfx.Addr(), Hi: lastAddr(pfx)}
			}
		}
		mk = func(c colInfo) Expr { return AddrMatch{Column: c.name, Ranges: []AddrRange{r}} }
	default:
		if c.flags && op == OpEq {
			if m, ok := parseFlags(vt.text); ok {
				mk = func(c colInfo) Expr { return FlagsAll{Column: c.name, Mask: m} }
				break
			}
		}
		v, why := parseValue(c, vt.text)
		if why != "" {
			return nil, p.errAt(vt, why)
		}
		mk = func(c colInfo) Expr { return Compare{Column: c.name, Op: op, Value: v} }
	}
	terms := make([]Expr, len(cols))
	for i, c := range cols {
		terms[i] = mk(c)
		if neg {
			terms[i] = Not{Term: terms[i]}
		}
	}
	return newOr(terms...), nil
}
