package query

import (
	"bytes"
	"fmt"
	"slices"
	"unsafe"

	"github.com/flowlake/flowlake/storage/schema"
)

// batch is the decoded part of one row group: the vectors of the needed
// columns and the row ranges that may match.
type batch struct {
	n      int64
	ranges []rowRange
	vecs   []*vector // by dataset column; nil when not decoded
}

// predicate evaluates a filter over a batch, vectorised: one tight loop per
// leaf over the batch's ranges, combined with boolean masks. Predicates on
// byte columns (addresses, MACs, strings) are decided once per dictionary
// entry and then looked up by id. A predicate is used by one worker at a
// time (it caches per dictionary). Null never matches a comparison; "not"
// flips it like any other row.
type predicate interface {
	eval(b *batch, out []bool)
}

// compilePredicate builds the predicate of e.
func compilePredicate(e Expr, cols []colDesc) (predicate, error) {
	col := func(name string) (*colDesc, error) {
		for i := range cols {
			if cols[i].name == name {
				return &cols[i], nil
			}
		}
		return nil, fmt.Errorf("filter names unknown column %q", name)
	}
	switch e := e.(type) {
	case MatchAll:
		return matchAll{}, nil
	case And, Or:
		var terms []Expr
		_, isAnd := e.(And)
		if isAnd {
			terms = e.(And).Terms
		} else {
			terms = e.(Or).Terms
		}
		out := &boolOp{and: isAnd}
		for _, t := range terms {
			p, err := compilePredicate(t, cols)
			if err != nil {
				return nil, err
			}
			out.terms = append(out.terms, p)
		}
		return out, nil
	case Not:
		p, err := compilePredicate(e.Term, cols)
		if err != nil {
			return nil, err
		}
		return &notOp{term: p}, nil
	case Compare:
		c, err := col(e.Column)
		if err != nil {
			return nil, err
		}
		if c.bytes {
			lit := literalBytes(e.Value)
			op := e.Op
			return &dictPred{col: c.idx, match: func(v []byte) bool { return compareOp(bytes.Compare(v, lit), op) }}, nil
		}
		return &intCmp{col: c.idx, op: e.Op, v: literalInt(e.Value), unsigned: c.unsigned}, nil
	case InSet:
		c, err := col(e.Column)
		if err != nil {
			return nil, err
		}
		if c.bytes {
			set := map[string]bool{}
			for _, v := range e.Values {
				set[string(literalBytes(v))] = true
			}
			return &dictPred{col: c.idx, match: func(v []byte) bool { return set[string(v)] }}, nil
		}
		p := &intIn{col: c.idx}
		for _, v := range e.Values {
			p.set = append(p.set, literalInt(v))
		}
		slices.Sort(p.set)
		return p, nil
	case AddrMatch:
		c, err := col(e.Column)
		if err != nil {
			return nil, err
		}
		rs := mappedRanges(e.Ranges)
		return &dictPred{col: c.idx, match: func(v []byte) bool {
			for _, r := range rs {
				if bytes.Compare(v, r.lo[:]) >= 0 && bytes.Compare(v, r.hi[:]) <= 0 {
					return true
				}
			}
			return false
		}}, nil
	case FlagsAll:
		c, err := col(e.Column)
		if err != nil {
			return nil, err
		}
		return &intMask{col: c.idx, mask: int64(e.Mask)}, nil
	}
	return nil, fmt.Errorf("filter: unsupported expression %T", e)
}

// mappedRange is an address range in the lake's 16-byte form.
type mappedRange struct{ lo, hi schema.Addr }

func mappedRanges(rs []AddrRange) []mappedRange {
	out := make([]mappedRange, len(rs))
	for i, r := range rs {
		out[i] = mappedRange{schema.AddrFrom(r.Lo), schema.AddrFrom(r.Hi)}
	}
	return out
}

func literalBytes(v Value) []byte {
	switch v.Kind {
	case KindMAC:
		return v.MAC[:]
	case KindString:
		return []byte(v.Str)
	}
	return nil
}

func literalInt(v Value) int64 {
	switch v.Kind {
	case KindUint:
		return int64(v.Uint)
	case KindBool:
		if v.Bool {
			return 1
		}
		return 0
	}
	return v.Int
}

func compareOp(c int, op Op) bool {
	switch op {
	case OpEq:
		return c == 0
	case OpLt:
		return c < 0
	case OpLe:
		return c <= 0
	case OpGt:
		return c > 0
	case OpGe:
		return c >= 0
	}
	return false
}

type matchAll struct{}

func (matchAll) eval(b *batch, out []bool) {
	for _, r := range b.ranges {
		fill(out[r.lo:r.hi], true)
	}
}

func fill(s []bool, v bool) {
	for i := range s {
		s[i] = v
	}
}

type boolOp struct {
	and   bool
	terms []predicate
	tmp   []bool
}

func (p *boolOp) eval(b *batch, out []bool) {
	p.terms[0].eval(b, out)
	p.tmp = grow(p.tmp, b.n)
	for _, t := range p.terms[1:] {
		t.eval(b, p.tmp)
		for _, r := range b.ranges {
			o, m := bytesOf(out[r.lo:r.hi]), bytesOf(p.tmp[r.lo:r.hi])
			m = m[:len(o)]
			// Booleans are bytes 0 and 1: combine them without branches.
			if p.and {
				for i := range o {
					o[i] &= m[i]
				}
			} else {
				for i := range o {
					o[i] |= m[i]
				}
			}
		}
	}
}

// bytesOf views a bool mask as its bytes (each 0 or 1).
func bytesOf(b []bool) []byte {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&b[0])), len(b))
}

type notOp struct{ term predicate }

func (p *notOp) eval(b *batch, out []bool) {
	p.term.eval(b, out)
	for _, r := range b.ranges {
		o := bytesOf(out[r.lo:r.hi])
		for i := range o {
			o[i] ^= 1
		}
	}
}

// intCmp compares an integer column with a literal.
type intCmp struct {
	col      int
	op       Op
	v        int64
	unsigned bool
}

func (p *intCmp) eval(b *batch, out []bool) {
	vec := b.vecs[p.col]
	for _, r := range b.ranges {
		xs, o := vec.ints[r.lo:r.hi], out[r.lo:r.hi]
		if p.unsigned {
			cmpUnsigned(xs, uint64(p.v), p.op, o)
		} else {
			cmpSigned(xs, p.v, p.op, o)
		}
		clearNulls(vec, r, o)
	}
}

func cmpSigned(xs []int64, v int64, op Op, o []bool) {
	o = o[:len(xs)]
	switch op {
	case OpEq:
		for i, x := range xs {
			o[i] = x == v
		}
	case OpLt:
		for i, x := range xs {
			o[i] = x < v
		}
	case OpLe:
		for i, x := range xs {
			o[i] = x <= v
		}
	case OpGt:
		for i, x := range xs {
			o[i] = x > v
		}
	case OpGe:
		for i, x := range xs {
			o[i] = x >= v
		}
	}
}

func cmpUnsigned(xs []int64, v uint64, op Op, o []bool) {
	o = o[:len(xs)]
	switch op {
	case OpEq:
		for i, x := range xs {
			o[i] = uint64(x) == v
		}
	case OpLt:
		for i, x := range xs {
			o[i] = uint64(x) < v
		}
	case OpLe:
		for i, x := range xs {
			o[i] = uint64(x) <= v
		}
	case OpGt:
		for i, x := range xs {
			o[i] = uint64(x) > v
		}
	case OpGe:
		for i, x := range xs {
			o[i] = uint64(x) >= v
		}
	}
}

func clearNulls(vec *vector, r rowRange, o []bool) {
	if vec.null == nil {
		return
	}
	for i, isNull := range vec.null[r.lo:r.hi] {
		if isNull {
			o[i] = false
		}
	}
}

// intIn matches an integer column against a sorted set.
type intIn struct {
	col int
	set []int64
}

func (p *intIn) eval(b *batch, out []bool) {
	vec := b.vecs[p.col]
	for _, r := range b.ranges {
		xs, o := vec.ints[r.lo:r.hi], out[r.lo:r.hi]
		if len(p.set) <= 8 {
			for i, x := range xs {
				m := false
				for _, s := range p.set {
					m = m || x == s
				}
				o[i] = m
			}
		} else {
			for i, x := range xs {
				_, o[i] = slices.BinarySearch(p.set, x)
			}
		}
		clearNulls(vec, r, o)
	}
}

// intMask matches rows whose column has every bit of mask.
type intMask struct {
	col  int
	mask int64
}

func (p *intMask) eval(b *batch, out []bool) {
	vec := b.vecs[p.col]
	for _, r := range b.ranges {
		xs, o := vec.ints[r.lo:r.hi], out[r.lo:r.hi]
		for i, x := range xs {
			o[i] = x&p.mask == p.mask
		}
		clearNulls(vec, r, o)
	}
}

// dictPred decides a byte-column predicate per dictionary entry.
type dictPred struct {
	col   int
	match func([]byte) bool
	dict  *dict
	gen   uint64
	table []bool
}

func (p *dictPred) eval(b *batch, out []bool) {
	vec := b.vecs[p.col]
	if p.dict != vec.dict || p.gen != vec.dict.gen || len(p.table) != vec.dict.len() {
		p.dict, p.gen = vec.dict, vec.dict.gen
		p.table = p.table[:0]
		for i := range int32(vec.dict.len()) {
			p.table = append(p.table, p.match(vec.dict.at(i)))
		}
	}
	t := p.table
	for _, r := range b.ranges {
		ids, o := vec.ids[r.lo:r.hi], out[r.lo:r.hi]
		for i, id := range ids {
			o[i] = id >= 0 && t[id]
		}
	}
}
