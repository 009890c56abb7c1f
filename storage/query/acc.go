package query

// acc accumulates one metric for every group of a worker.
type acc interface {
	// grow makes room for n groups.
	grow(n int)
	// add accumulates selected row sel[i] into group g[i].
	add(b *batch, sel, g []int32)
	// merge folds o (another worker's accumulator of the same metric)
	// into this one; o's group i is this one's remap[i].
	merge(o acc, remap []int32)
	// fold adds groups src into group dst (the others row).
	fold(dst int32, src []int32)
	// memory estimates the bytes held.
	memory() int64
	// perGroup is what one more group adds to memory at most, before what
	// rows add to it.
	perGroup() int64
	// out returns the metric of groups, in that order.
	out(groups []int32) outCol
}

func newAcc(m metricSpec, c *colDesc) acc {
	switch m.fn {
	case mCount:
		return &countAcc{}
	case mSum, mBPS, mPPS:
		return &sumAcc{col: c.idx, unsigned: c.unsigned && !m.asCount, kind: outKindOf(c)}
	case mMin, mMax:
		return &minMaxAcc{col: c.idx, max: m.fn == mMax, unsigned: c.unsigned, kind: outKindOf(c), c: c}
	case mAvg:
		return &avgAcc{col: c.idx, unsigned: c.unsigned}
	case mDistinct:
		return &distinctAcc{col: c.idx, c: c}
	case mApproxDistinct:
		return &approxAcc{col: c.idx, c: c}
	case mPercentile:
		return &quantileAcc{col: c.idx, p: m.p, signed: !c.unsigned}
	}
	panic("query: unknown metric") // compile rejects unknown metrics
}

func growTo[T any](s []T, n int) []T {
	for len(s) < n {
		var zero T
		s = append(s, zero)
	}
	return s
}

type countAcc struct{ n []int64 }

func (a *countAcc) grow(n int) { a.n = growTo(a.n, n) }
func (a *countAcc) add(_ *batch, _, g []int32) {
	for _, gi := range g {
		a.n[gi]++
	}
}
func (a *countAcc) merge(o acc, remap []int32) {
	for i, x := range o.(*countAcc).n {
		a.n[remap[i]] += x
	}
}
func (a *countAcc) fold(dst int32, src []int32) {
	for _, s := range src {
		a.n[dst] += a.n[s]
	}
}
func (a *countAcc) perGroup() int64 { return 10 }
func (a *countAcc) memory() int64   { return int64(cap(a.n)) * 8 }
func (a *countAcc) out(groups []int32) outCol {
	o := outCol{kind: okInt}
	for _, g := range groups {
		o.ints = append(o.ints, a.n[g])
	}
	return o
}

// sumAcc sums a column (wrapping like the column's Go type); it also
// backs bps() and pps().
type sumAcc struct {
	col      int
	unsigned bool
	kind     outKind
	s        []int64
}

func (a *sumAcc) grow(n int) { a.s = growTo(a.s, n) }
func (a *sumAcc) add(b *batch, sel, g []int32) {
	v := b.vecs[a.col]
	if v.null == nil {
		for i, r := range sel {
			a.s[g[i]] += v.ints[r]
		}
		return
	}
	for i, r := range sel {
		if !v.null[r] {
			a.s[g[i]] += v.ints[r]
		}
	}
}
func (a *sumAcc) merge(o acc, remap []int32) {
	for i, x := range o.(*sumAcc).s {
		a.s[remap[i]] += x
	}
}
func (a *sumAcc) fold(dst int32, src []int32) {
	for _, s := range src {
		a.s[dst] += a.s[s]
	}
}
func (a *sumAcc) perGroup() int64 { return 10 }
func (a *sumAcc) memory() int64   { return int64(cap(a.s)) * 8 }
func (a *sumAcc) out(groups []int32) outCol {
	o := outCol{kind: okInt}
	if a.unsigned {
		o.kind = okUint
	}
	for _, g := range groups {
		o.ints = append(o.ints, a.s[g])
	}
	return o
}

type minMaxAcc struct {
	col      int
	max      bool
	unsigned bool
	kind     outKind
	c        *colDesc
	v        []int64
	set      []bool
}

func (a *minMaxAcc) grow(n int) { a.v, a.set = growTo(a.v, n), growTo(a.set, n) }
func (a *minMaxAcc) better(x, y int64) bool {
	if a.unsigned {
		return a.max && uint64(x) > uint64(y) || !a.max && uint64(x) < uint64(y)
	}
	return a.max && x > y || !a.max && x < y
}
func (a *minMaxAcc) put(g int32, x int64) {
	if !a.set[g] || a.better(x, a.v[g]) {
		a.v[g], a.set[g] = x, true
	}
}
func (a *minMaxAcc) add(b *batch, sel, g []int32) {
	v := b.vecs[a.col]
	for i, r := range sel {
		if v.null == nil || !v.null[r] {
			a.put(g[i], v.ints[r])
		}
	}
}
func (a *minMaxAcc) merge(o acc, remap []int32) {
	oa := o.(*minMaxAcc)
	for i, x := range oa.v {
		if oa.set[i] {
			a.put(remap[i], x)
		}
	}
}
func (a *minMaxAcc) fold(dst int32, src []int32) {
	for _, s := range src {
		if a.set[s] {
			a.put(dst, a.v[s])
		}
	}
}
func (a *minMaxAcc) perGroup() int64 { return 12 }
func (a *minMaxAcc) memory() int64   { return int64(cap(a.v))*8 + int64(cap(a.set)) }
func (a *minMaxAcc) out(groups []int32) outCol {
	o := outCol{kind: a.kind, arrow: a.c.arrow}
	for _, g := range groups {
		o.ints = append(o.ints, a.v[g])
		o.nulls = append(o.nulls, !a.set[g])
	}
	return o
}

type avgAcc struct {
	col      int
	unsigned bool
	s        []float64
	n        []int64
}

func (a *avgAcc) grow(n int) { a.s, a.n = growTo(a.s, n), growTo(a.n, n) }
func (a *avgAcc) add(b *batch, sel, g []int32) {
	v := b.vecs[a.col]
	for i, r := range sel {
		if v.null == nil || !v.null[r] {
			x := float64(v.ints[r])
			if a.unsigned {
				x = float64(uint64(v.ints[r]))
			}
			a.s[g[i]] += x
			a.n[g[i]]++
		}
	}
}
func (a *avgAcc) merge(o acc, remap []int32) {
	oa := o.(*avgAcc)
	for i := range oa.s {
		a.s[remap[i]] += oa.s[i]
		a.n[remap[i]] += oa.n[i]
	}
}
func (a *avgAcc) fold(dst int32, src []int32) {
	for _, s := range src {
		a.s[dst] += a.s[s]
		a.n[dst] += a.n[s]
	}
}
func (a *avgAcc) perGroup() int64 { return 20 }
func (a *avgAcc) memory() int64   { return int64(cap(a.s)+cap(a.n)) * 8 }
func (a *avgAcc) out(groups []int32) outCol {
	o := outCol{kind: okFloat}
	for _, g := range groups {
		if a.n[g] == 0 {
			o.floats = append(o.floats, 0)
			o.nulls = append(o.nulls, true)
			continue
		}
		o.floats = append(o.floats, a.s[g]/float64(a.n[g]))
		o.nulls = append(o.nulls, false)
	}
	return o
}
