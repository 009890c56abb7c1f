package query

import (
	"bytes"
	"cmp"
	"slices"

	"github.com/parquet-go/parquet-go"
)

// pruner decides from footers and indexes which row groups and pages may
// hold matching rows. Its expression is the query's filter and time range.
// It only ever answers "may match" or "cannot match"; the scan decides.
type pruner struct {
	e    Expr
	cols []colDesc
}

func (p *pruner) col(name string) *colDesc {
	for i := range p.cols {
		if p.cols[i].name == name {
			if p.cols[i].virtual != nil {
				return nil // computed by the lease join: no statistics
			}
			return &p.cols[i]
		}
	}
	return nil
}

// may walks e: a leaf asks leaf, and/or combine, "not" may always match.
func may(e Expr, leaf func(e Expr, column string) bool) bool {
	switch e := e.(type) {
	case And:
		for _, t := range e.Terms {
			if !may(t, leaf) {
				return false
			}
		}
		return true
	case Or:
		for _, t := range e.Terms {
			if may(t, leaf) {
				return true
			}
		}
		return false
	case Compare:
		return leaf(e, e.Column)
	case InSet:
		return leaf(e, e.Column)
	case AddrMatch:
		return leaf(e, e.Column)
	}
	return true // MatchAll, Not, FlagsAll
}

// bound is a column's min and max in comparable form.
type bound struct {
	lo, hi    int64
	blo, bhi  []byte
	isBytes   bool
	unsigned  bool
	allNull   bool
	hasBounds bool
}

func boundOf(c *colDesc, min, max parquet.Value, ok bool) bound {
	b := bound{isBytes: c.bytes, unsigned: c.unsigned, hasBounds: ok}
	if !ok {
		return b
	}
	if c.bytes {
		b.blo, b.bhi = min.ByteArray(), max.ByteArray()
		return b
	}
	b.lo, b.hi = valueInt(c, min), valueInt(c, max)
	return b
}

func valueInt(c *colDesc, v parquet.Value) int64 {
	switch v.Kind() {
	case parquet.Int32:
		return widen32(v.Int32(), c.unsigned)
	case parquet.Int64:
		return v.Int64()
	case parquet.Boolean:
		if v.Boolean() {
			return 1
		}
	}
	return 0
}

// leafMay reports whether a leaf may match a value within b.
func leafMay(e Expr, b bound) bool {
	if b.allNull {
		return false
	}
	if !b.hasBounds {
		return true
	}
	ci := func(x int64) (int, int) { // compare x with lo and hi
		if b.unsigned {
			return cmp.Compare(uint64(x), uint64(b.lo)), cmp.Compare(uint64(x), uint64(b.hi))
		}
		return cmp.Compare(x, b.lo), cmp.Compare(x, b.hi)
	}
	cb := func(x []byte) (int, int) { return bytes.Compare(x, b.blo), bytes.Compare(x, b.bhi) }
	in := func(v Value) (int, int) {
		if b.isBytes {
			return cb(literalBytes(v))
		}
		return ci(literalInt(v))
	}
	switch e := e.(type) {
	case Compare:
		lo, hi := in(e.Value)
		switch e.Op {
		case OpEq:
			return lo >= 0 && hi <= 0
		case OpLt:
			return lo > 0 // some value < v: min < v
		case OpLe:
			return lo >= 0
		case OpGt:
			return hi < 0 // max > v
		case OpGe:
			return hi <= 0
		}
	case InSet:
		for _, v := range e.Values {
			if lo, hi := in(v); lo >= 0 && hi <= 0 {
				return true
			}
		}
		return false
	case AddrMatch:
		for _, r := range mappedRanges(e.Ranges) {
			if bytes.Compare(r.lo[:], b.bhi) <= 0 && bytes.Compare(r.hi[:], b.blo) >= 0 {
				return true
			}
		}
		return false
	}
	return true
}

// leafOf maps a dataset column (colDesc.idx) to the column chunk holding
// it in one file, -1 when the file was written before that optional
// column existed (lake.SegmentFile.Column).
type leafOf func(col int) int

// rowGroupMay reports whether rg may hold matching rows: first by the
// column chunks' statistics, then by bloom filters (exact addresses,
// strings and MACs). bloom is true when only a bloom filter ruled it out.
// A column the file lacks is null in every row: no comparison matches it.
func (p *pruner) rowGroupMay(rg parquet.RowGroup, leaf leafOf) (ok, bloom bool) {
	chunks := rg.ColumnChunks()
	ok = may(p.e, func(e Expr, column string) bool {
		c := p.col(column)
		if c == nil {
			return true
		}
		li := leaf(c.idx)
		switch {
		case li < 0:
			return leafMay(e, bound{allNull: true})
		case li >= len(chunks):
			return true // the scan reports it
		}
		cc := chunks[li]
		min, max, has := chunkBounds(cc)
		b := boundOf(c, min, max, has)
		b.allNull = rg.NumRows() > 0 && cc.NumValues() == rg.NumRows() && nullCount(cc) == rg.NumRows()
		return leafMay(e, b)
	})
	if !ok {
		return false, false
	}
	ok = may(p.e, func(e Expr, column string) bool {
		c := p.col(column)
		if c == nil || !c.bytes {
			return true
		}
		vals := exactValues(e)
		if vals == nil {
			return true
		}
		li := leaf(c.idx)
		if li < 0 || li >= len(chunks) {
			return true // the statistics above decided
		}
		fc, isFile := chunks[li].(*parquet.FileColumnChunk)
		if !isFile {
			return true
		}
		bf := fc.BloomFilter()
		if bf == nil {
			return true
		}
		for _, v := range vals {
			pv := parquet.ByteArrayValue(v)
			if c.width > 0 {
				pv = parquet.FixedLenByteArrayValue(v)
			}
			if found, err := bf.Check(pv); err != nil || found {
				return true
			}
		}
		return false
	})
	return ok, !ok
}

func nullCount(cc parquet.ColumnChunk) int64 {
	if fc, ok := cc.(*parquet.FileColumnChunk); ok {
		return fc.NullCount()
	}
	return 0
}

// maxBloomProbes bounds the values a leaf checks in bloom filters.
const maxBloomProbes = 64

// exactValues lists the values an equality leaf on a byte column can
// match, or nil when it is not such a leaf (or too wide).
func exactValues(e Expr) [][]byte {
	switch e := e.(type) {
	case Compare:
		if e.Op == OpEq {
			return [][]byte{literalBytes(e.Value)}
		}
	case InSet:
		if len(e.Values) <= maxBloomProbes {
			var out [][]byte
			for _, v := range e.Values {
				out = append(out, literalBytes(v))
			}
			return out
		}
	case AddrMatch:
		var out [][]byte
		for _, r := range mappedRanges(e.Ranges) {
			if r.lo != r.hi || len(out) == maxBloomProbes {
				return nil
			}
			out = append(out, r.lo[:])
		}
		return out
	}
	return nil
}

// pageRanges returns the rows of rg whose pages may match, from the column
// index and offset index of every column the expression names, and the
// number of pages of those columns that cannot match.
func (p *pruner) pageRanges(rg parquet.RowGroup, leaf leafOf) (rs []rowRange, pruned int) {
	n := rg.NumRows()
	full := []rowRange{{0, n}}
	chunks := rg.ColumnChunks()
	cache := map[string][]pageBound{}
	pagesOf := func(c *colDesc) []pageBound {
		if pb, ok := cache[c.name]; ok {
			return pb
		}
		var pb []pageBound
		if li := leaf(c.idx); li >= 0 && li < len(chunks) {
			if fc, ok := chunks[li].(*parquet.FileColumnChunk); ok {
				pb = readPageBounds(fc, c, n)
			}
		}
		cache[c.name] = pb
		return pb
	}
	var walk func(e Expr) []rowRange
	walk = func(e Expr) []rowRange {
		switch e := e.(type) {
		case And:
			out := full
			for _, t := range e.Terms {
				out = intersect(out, walk(t))
			}
			return out
		case Or:
			var out []rowRange
			for _, t := range e.Terms {
				out = union(out, walk(t))
			}
			return out
		case Compare, InSet, AddrMatch:
			var column string
			switch e := e.(type) {
			case Compare:
				column = e.Column
			case InSet:
				column = e.Column
			case AddrMatch:
				column = e.Column
			}
			c := p.col(column)
			if c == nil {
				return full
			}
			pb := pagesOf(c)
			if pb == nil {
				return full
			}
			var out []rowRange
			for _, pg := range pb {
				if !leafMay(e, pg.b) {
					continue
				}
				if k := len(out) - 1; k >= 0 && out[k].hi >= pg.rows.lo {
					out[k].hi = max(out[k].hi, pg.rows.hi)
				} else {
					out = append(out, pg.rows)
				}
			}
			return out
		}
		return full
	}
	rs = walk(p.e)
	for _, pb := range cache {
		for _, pg := range pb {
			if len(intersect(rs, []rowRange{pg.rows})) == 0 {
				pruned++
			}
		}
	}
	return rs, pruned
}

// pageBound is one page's rows and bounds.
type pageBound struct {
	rows rowRange
	b    bound
}

func readPageBounds(fc *parquet.FileColumnChunk, c *colDesc, n int64) []pageBound {
	ci, err := fc.ColumnIndex()
	if err != nil {
		return nil
	}
	oi, err := fc.OffsetIndex()
	if err != nil || oi.NumPages() != ci.NumPages() {
		return nil
	}
	out := make([]pageBound, oi.NumPages())
	for i := range out {
		lo := oi.FirstRowIndex(i)
		hi := n
		if i+1 < len(out) {
			hi = oi.FirstRowIndex(i + 1)
		}
		if lo < 0 || hi > n || lo > hi {
			return nil
		}
		b := bound{isBytes: c.bytes, unsigned: c.unsigned, allNull: ci.NullPage(i)}
		if !b.allNull {
			b = boundOf(c, ci.MinValue(i), ci.MaxValue(i), true)
		}
		out[i] = pageBound{rows: rowRange{lo, hi}, b: b}
	}
	return out
}

// intersect and union work on sorted, disjoint ranges.
func intersect(a, b []rowRange) []rowRange {
	var out []rowRange
	for i, j := 0, 0; i < len(a) && j < len(b); {
		lo, hi := max(a[i].lo, b[j].lo), min(a[i].hi, b[j].hi)
		if lo < hi {
			out = append(out, rowRange{lo, hi})
		}
		if a[i].hi < b[j].hi {
			i++
		} else {
			j++
		}
	}
	return out
}

func union(a, b []rowRange) []rowRange {
	all := append(append([]rowRange(nil), a...), b...)
	if len(all) == 0 {
		return nil
	}
	slices.SortFunc(all, func(x, y rowRange) int { return cmp.Compare(x.lo, y.lo) })
	out := all[:1]
	for _, r := range all[1:] {
		last := &out[len(out)-1]
		if r.lo <= last.hi {
			last.hi = max(last.hi, r.hi)
			continue
		}
		out = append(out, r)
	}
	return out
}

// chunkBounds returns a column chunk's min and max from its statistics.
func chunkBounds(cc parquet.ColumnChunk) (min, max parquet.Value, ok bool) {
	if fc, isFile := cc.(*parquet.FileColumnChunk); isFile {
		return fc.Bounds()
	}
	return min, max, false
}
