package query

import (
	"math"
	"slices"
)

// quantileAcc finds exact nearest-rank percentiles (the value at rank
// ⌈P/100·n⌉ of a group's n sorted values, DuckDB's quantile_disc) without
// keeping every value. Each group holds its values as sorted runs — a
// distinct value and how many times it occurred — and a buffer of raw
// values. A full buffer is radix sorted, counted into runs and merged
// with the group's runs: flows' counters (bytes, packets) repeat heavily,
// so a group costs its distinct values, not its rows. The buffer is
// allowed half as many values as the runs (and at least compactMin) so
// that merging stays linear in the values added. Workers merge their runs,
// run lists merging in one pass. Every percentile of the same column in a
// query reads one quantileAcc (quantileView).
//
// Values are kept as uint64 keys that order like the column: signed
// integers have their sign bit flipped.
type quantileAcc struct {
	col     int
	p       float64
	signed  bool
	g       []qgroup
	scratch []uint64 // radix sort buffer, shared by the groups
	mvals   []uint64 // merge output, swapped with a group's runs
	mcnts   []uint32
	ccnts   []uint32 // a buffer's counts, before they merge
	mem     int64    // bytes held by the groups' slices
}

// qgroup is one group's values: runs (vals ascending; equal neighbours
// only when a count would pass MaxUint32) and raw values not yet counted.
type qgroup struct {
	vals []uint64
	cnts []uint32
	buf  []uint64
}

// compactMin is the fewest raw values a group buffers before it counts
// them (512 KiB): fewer, and merging into the runs costs more than the
// counting saves (BenchmarkQuantileAcc: 8,192 took 1.4× the CPU time).
const compactMin = 65536

func (a *quantileAcc) grow(n int) { a.g = growTo(a.g, n) }

func (a *quantileAcc) add(b *batch, sel, g []int32) {
	v := b.vecs[a.col]
	var flip uint64
	if a.signed {
		flip = 1 << 63
	}
	for i, r := range sel {
		if v.null != nil && v.null[r] {
			continue
		}
		q := &a.g[g[i]]
		if len(q.buf) == cap(q.buf) {
			before := qgroupBytes(q)
			a.make(q)
			a.mem += qgroupBytes(q) - before
		}
		q.buf = append(q.buf, uint64(v.ints[r])^flip)
	}
}

// make gives q's buffer room for one more value: it counts a full buffer
// into the runs, or doubles a small one.
func (a *quantileAcc) make(q *qgroup) {
	limit := max(compactMin, len(q.vals)/2)
	if len(q.buf) >= limit {
		a.compact(q)
		return
	}
	n := min(max(2*cap(q.buf), 4), limit)
	q.buf = append(make([]uint64, 0, n), q.buf...)
}

// compact sorts q's buffer, counts it into runs and merges them into q's
// runs; the buffer is emptied and kept.
func (a *quantileAcc) compact(q *qgroup) {
	if len(q.buf) == 0 {
		return
	}
	// The sorted values and the spare buffer are q's buffer and the
	// scratch, in either order: q keeps the sorted one.
	sorted, spare := radixSortBytes(q.buf, a.scratch)
	q.buf, a.scratch = sorted, spare[:0]
	// Count the sorted values in place: the runs take no more room than
	// the values.
	vals, cnts := sorted[:0], a.ccnts[:0]
	for i := 0; i < len(sorted); {
		j := i + 1
		for j < len(sorted) && sorted[j] == sorted[i] && j-i < math.MaxUint32 {
			j++
		}
		vals = append(vals, sorted[i])
		cnts = append(cnts, uint32(j-i))
		i = j
	}
	a.mergeRuns(q, vals, cnts)
	a.ccnts = cnts[:0]
	q.buf = q.buf[:0]
}

// mergeRuns merges runs (vals, cnts) into q's runs; vals may alias q.buf.
func (a *quantileAcc) mergeRuns(q *qgroup, vals []uint64, cnts []uint32) {
	if len(q.vals) == 0 {
		// Nothing to merge with: copy (vals may be the group's buffer).
		q.vals = append(q.vals[:0], vals...)
		q.cnts = append(q.cnts[:0], cnts...)
		return
	}
	n := len(q.vals) + len(vals)
	mv, mc := a.mvals[:0], a.mcnts[:0]
	if cap(mv) < n {
		mv = make([]uint64, 0, n+n/4)
	}
	if cap(mc) < n {
		mc = make([]uint32, 0, n+n/4)
	}
	i, j := 0, 0
	for i < len(q.vals) && j < len(vals) {
		x, y := q.vals[i], vals[j]
		switch {
		case x < y:
			mv, mc = append(mv, x), append(mc, q.cnts[i])
			i++
		case y < x:
			mv, mc = append(mv, y), append(mc, cnts[j])
			j++
		default:
			if s := uint64(q.cnts[i]) + uint64(cnts[j]); s <= math.MaxUint32 {
				mv, mc = append(mv, x), append(mc, uint32(s))
			} else {
				mv, mc = append(mv, x, x), append(mc, q.cnts[i], cnts[j])
			}
			i++
			j++
		}
	}
	mv, mc = append(mv, q.vals[i:]...), append(mc, q.cnts[i:]...)
	mv, mc = append(mv, vals[j:]...), append(mc, cnts[j:]...)
	// The group keeps the merged runs; its old ones are the next merge's
	// output.
	q.vals, q.cnts, a.mvals, a.mcnts = mv, mc, q.vals[:0], q.cnts[:0]
}

// take moves o's values into q: o's runs merge with q's, o's raw values
// join q's buffer (counted first when they would overfill it).
func (a *quantileAcc) take(q, o *qgroup) {
	if len(q.vals) == 0 && len(q.buf) == 0 {
		// Nothing here yet: q takes o's slices, no copy.
		*q, *o = *o, qgroup{}
		return
	}
	if len(o.vals) > 0 {
		a.mergeRuns(q, o.vals, o.cnts)
	}
	for len(o.buf) > 0 {
		if len(q.buf) == cap(q.buf) {
			a.make(q)
		}
		n := min(len(o.buf), cap(q.buf)-len(q.buf))
		q.buf = append(q.buf, o.buf[:n]...)
		o.buf = o.buf[n:]
	}
	*o = qgroup{}
}

func (a *quantileAcc) merge(o acc, remap []int32) {
	oa := o.(*quantileAcc)
	for i := range oa.g {
		og := &oa.g[i]
		if len(og.vals) == 0 && len(og.buf) == 0 {
			continue
		}
		q := &a.g[remap[i]]
		before := qgroupBytes(q)
		a.take(q, og)
		a.mem += qgroupBytes(q) - before
	}
	oa.mem = 0 // o's groups are released with it
}

func (a *quantileAcc) fold(dst int32, src []int32) {
	for _, s := range src {
		if s == dst {
			continue
		}
		q, o := &a.g[dst], &a.g[s]
		before := qgroupBytes(q)
		// Copy o's values: a folded group keeps its own (the result
		// still reads them).
		c := qgroup{vals: slices.Clone(o.vals), cnts: slices.Clone(o.cnts), buf: slices.Clone(o.buf)}
		a.take(q, &c)
		a.mem += qgroupBytes(q) - before
	}
}

func qgroupBytes(q *qgroup) int64 {
	return int64(cap(q.vals)+cap(q.buf))*8 + int64(cap(q.cnts))*4
}

// perGroup: a group's three slice headers, before any value.
func (a *quantileAcc) perGroup() int64 { return 72 + 8 }

func (a *quantileAcc) memory() int64 {
	return a.mem + int64(cap(a.g))*72 + int64(cap(a.scratch)+cap(a.mvals))*8 + int64(cap(a.mcnts)+cap(a.ccnts))*4
}

func (a *quantileAcc) out(groups []int32) outCol { return a.percentile(a.p, groups) }

// percentile returns the nearest-rank P-th percentile of groups (null for
// a group without values).
func (a *quantileAcc) percentile(p float64, groups []int32) outCol {
	o := outCol{kind: okFloat}
	for _, gi := range groups {
		q := &a.g[gi]
		before := qgroupBytes(q)
		a.compact(q)
		a.mem += qgroupBytes(q) - before
		var n uint64
		for _, c := range q.cnts {
			n += uint64(c)
		}
		if n == 0 {
			o.floats = append(o.floats, 0)
			o.nulls = append(o.nulls, true)
			continue
		}
		rank := uint64(max(int(math.Ceil(p/100*float64(n))), 1))
		k := 0
		for seen := uint64(q.cnts[0]); seen < rank && k < len(q.cnts)-1; seen += uint64(q.cnts[k]) {
			k++
		}
		x := q.vals[k]
		f := float64(x)
		if a.signed {
			f = float64(int64(x ^ 1<<63))
		}
		o.floats = append(o.floats, f)
		o.nulls = append(o.nulls, false)
	}
	return o
}

// quantileView is a further percentile of a column another quantileAcc
// of the same query already accumulates: it reads that one's runs and
// holds nothing itself. It comes after its source among the grouper's
// accumulators, so the source has grown, merged and folded when it is
// read.
type quantileView struct {
	src *quantileAcc
	p   float64
}

func (quantileView) grow(int)                     {}
func (quantileView) add(*batch, []int32, []int32) {}
func (quantileView) merge(acc, []int32)           {}
func (quantileView) fold(int32, []int32)          {}
func (quantileView) memory() int64                { return 0 }
func (quantileView) perGroup() int64              { return 0 }
func (v quantileView) out(groups []int32) outCol  { return v.src.percentile(v.p, groups) }

// newAccs returns the accumulators of a query's metrics, in order: every
// percentile of a column after the first reads the first one's values.
func newAccs(metrics []metricSpec, cols []colDesc) []acc {
	out := make([]acc, len(metrics))
	first := map[int]*quantileAcc{}
	for i, m := range metrics {
		c := &cols[max(m.col, 0)]
		if m.fn != mPercentile {
			out[i] = newAcc(m, c)
			continue
		}
		if src, ok := first[c.idx]; ok {
			out[i] = quantileView{src: src, p: m.p}
			continue
		}
		q := &quantileAcc{col: c.idx, p: m.p, signed: !c.unsigned}
		first[c.idx] = q
		out[i] = q
	}
	return out
}

// radixSortBytes sorts xs with an LSD radix sort over bytes, skipping the
// bytes every value shares; it returns the sorted slice and the scratch
// buffer (either may be the other's storage).
func radixSortBytes(xs, tmp []uint64) ([]uint64, []uint64) {
	if len(xs) < 128 {
		slices.Sort(xs)
		return xs, tmp
	}
	var count [8][256]int
	for _, x := range xs {
		count[0][x&0xff]++
		count[1][x>>8&0xff]++
		count[2][x>>16&0xff]++
		count[3][x>>24&0xff]++
		count[4][x>>32&0xff]++
		count[5][x>>40&0xff]++
		count[6][x>>48&0xff]++
		count[7][x>>56]++
	}
	if cap(tmp) < len(xs) {
		tmp = make([]uint64, len(xs))
	}
	tmp = tmp[:len(xs)]
	for d := range 8 {
		c := &count[d]
		if c[(xs[0]>>(8*d))&0xff] == len(xs) {
			continue // every value has this byte
		}
		sum := 0
		for i, n := range c {
			c[i] = sum
			sum += n
		}
		shift := uint(8 * d)
		for _, x := range xs {
			k := (x >> shift) & 0xff
			tmp[c[k]] = x
			c[k]++
		}
		xs, tmp = tmp, xs
	}
	return xs, tmp
}
