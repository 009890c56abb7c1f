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
		return &intPred{col: c.idx, k: intCmp{op: e.Op, v: literalInt(e.Value), unsigned: c.unsigned}}, nil
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
		var k intIn
		for _, v := range e.Values {
			k.set = append(k.set, literalInt(v))
		}
		slices.Sort(k.set)
		return &intPred{col: c.idx, k: k}, nil
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
		return &intPred{col: c.idx, k: intMask{mask: int64(e.Mask)}}, nil
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

// intPred is a predicate on an integer column: its kernel decides a run of
// values. A column decoded as dictionary codes (one the filter alone
// reads) is decided once per dictionary value, then looked up by code.
type intPred struct {
	col   int
	k     intKernel
	table []bool
}

// intKernel sets o[i] to whether xs[i] matches.
type intKernel interface {
	match(xs []int64, o []bool)
}

func (p *intPred) eval(b *batch, out []bool) {
	vec := b.vecs[p.col]
	if vec.coded {
		p.table = grow(p.table, int64(len(vec.dvals)))
		p.k.match(vec.dvals, p.table)
		t := p.table
		for _, r := range b.ranges {
			codes, o := vec.codes[r.lo:r.hi], out[r.lo:r.hi]
			for i, c := range codes {
				o[i] = c >= 0 && t[c]
			}
		}
		return
	}
	for _, r := range b.ranges {
		o := out[r.lo:r.hi]
		p.k.match(vec.ints[r.lo:r.hi], o)
		clearNulls(vec, r, o)
	}
}

// intCmp compares with a literal.
type intCmp struct {
	op       Op
	v        int64
	unsigned bool
}

func (k intCmp) match(xs []int64, o []bool) {
	if k.unsigned {
		cmpUnsigned(xs, uint64(k.v), k.op, o)
	} else {
		cmpSigned(xs, k.v, k.op, o)
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

// intIn matches against a sorted set.
type intIn struct{ set []int64 }

func (k intIn) match(xs []int64, o []bool) {
	o = o[:len(xs)]
	if len(k.set) <= 8 {
		for i, x := range xs {
			m := false
			for _, s := range k.set {
				m = m || x == s
			}
			o[i] = m
		}
		return
	}
	for i, x := range xs {
		_, o[i] = slices.BinarySearch(k.set, x)
	}
}

// intMask matches values that have every bit of mask.
type intMask struct{ mask int64 }

func (k intMask) match(xs []int64, o []bool) {
	o = o[:len(xs)]
	for i, x := range xs {
		o[i] = x&k.mask == k.mask
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
