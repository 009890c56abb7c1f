package query

import (
	"encoding/binary"
	"math"
	"math/bits"
	"slices"
)

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
		return &pctAcc{col: c.idx, p: m.p, unsigned: c.unsigned}
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

// valueKey is a column value as map key: integers and fixed-width bytes
// inline, strings by content.
type valueKey struct {
	fixed [16]byte
	str   string
}

func keyOf(c *colDesc, v *vector, r int32) (valueKey, bool) {
	var k valueKey
	if c.bytes {
		id := v.ids[r]
		if id < 0 {
			return k, false
		}
		if c.width > 0 {
			copy(k.fixed[:], v.dict.at(id))
		} else {
			k.str = v.dict.strs[id]
		}
		return k, true
	}
	if v.null != nil && v.null[r] {
		return k, false
	}
	binary.LittleEndian.PutUint64(k.fixed[:], uint64(v.ints[r]))
	return k, true
}

// distinctAcc counts distinct values exactly. Each worker numbers the
// values it meets (a value id per distinct value, found once per
// dictionary entry and row group for byte columns) and collects (group,
// value id) pairs as uint64s; sorting and removing duplicates — whenever
// the list doubles, and at the end — leaves one pair per distinct value of
// each group. No per-row hashing of values, no pointers for the collector
// to scan.
type distinctAcc struct {
	col     int
	c       *colDesc
	ids     map[valueKey]uint32 // value -> value id
	vals    []valueKey          // value id -> value
	pairs   []uint64            // group<<32 | value id
	scratch []uint64            // radix sort buffer
	clean   int                 // pairs[:clean] are sorted and unique
	table   []uint32            // per row group: dictionary id -> value id + 1
	n       int
}

func (a *distinctAcc) grow(n int) {
	a.n = n
	if a.ids == nil {
		a.ids = map[valueKey]uint32{}
	}
}

func (a *distinctAcc) vid(k valueKey) uint32 {
	id, ok := a.ids[k]
	if !ok {
		id = uint32(len(a.vals))
		a.ids[k] = id
		a.vals = append(a.vals, k)
	}
	return id
}

func (a *distinctAcc) add(b *batch, sel, g []int32) {
	v := b.vecs[a.col]
	if a.c.bytes {
		a.table = grow(a.table, int64(v.dict.len()))
		clear(a.table)
		for i, r := range sel {
			id := v.ids[r]
			if id < 0 {
				continue
			}
			t := a.table[id]
			if t == 0 {
				k, _ := keyOf(a.c, v, r)
				t = a.vid(k) + 1
				a.table[id] = t
			}
			a.pairs = append(a.pairs, uint64(g[i])<<32|uint64(t-1))
		}
	} else {
		for i, r := range sel {
			if k, ok := keyOf(a.c, v, r); ok {
				a.pairs = append(a.pairs, uint64(g[i])<<32|uint64(a.vid(k)))
			}
		}
	}
	if len(a.pairs) > 2*a.clean+1<<20 {
		a.compact()
	}
}

// compact sorts the pairs and drops duplicates.
func (a *distinctAcc) compact() {
	a.pairs, a.scratch = radixSort64(a.pairs, a.scratch)
	a.pairs = slices.Compact(a.pairs)
	a.clean = len(a.pairs)
}

// radixSort64 sorts xs with an LSD radix sort over 16-bit digits, skipping
// digits every value shares; it returns the sorted slice and the scratch
// buffer (either may be the other's storage).
func radixSort64(xs, tmp []uint64) ([]uint64, []uint64) {
	if len(xs) < 256 {
		slices.Sort(xs)
		return xs, tmp
	}
	var or, and uint64 = 0, ^uint64(0)
	for _, x := range xs {
		or |= x
		and &= x
	}
	tmp = grow(tmp, int64(len(xs)))
	var count [1 << 16]int
	for shift := uint(0); shift < 64; shift += 16 {
		if (or>>shift)&0xffff == (and>>shift)&0xffff {
			continue // every value has this digit
		}
		clear(count[:])
		for _, x := range xs {
			count[(x>>shift)&0xffff]++
		}
		sum := 0
		for i, c := range count {
			count[i] = sum
			sum += c
		}
		for _, x := range xs {
			d := (x >> shift) & 0xffff
			tmp[count[d]] = x
			count[d]++
		}
		xs, tmp = tmp, xs
	}
	return xs, tmp
}

func (a *distinctAcc) merge(o acc, remap []int32) {
	oa := o.(*distinctAcc)
	ids := make([]uint32, len(oa.vals))
	for i, k := range oa.vals {
		ids[i] = a.vid(k)
	}
	for _, p := range oa.pairs {
		a.pairs = append(a.pairs, uint64(remap[p>>32])<<32|uint64(ids[uint32(p)]))
	}
	a.compact()
}

func (a *distinctAcc) fold(dst int32, src []int32) {
	in := make(map[int32]bool, len(src))
	for _, s := range src {
		in[s] = true
	}
	for _, p := range a.pairs {
		if in[int32(p>>32)] {
			a.pairs = append(a.pairs, uint64(dst)<<32|uint64(uint32(p)))
		}
	}
	a.compact()
}

func (a *distinctAcc) perGroup() int64 { return 8 }
func (a *distinctAcc) memory() int64 {
	return int64(cap(a.pairs)+cap(a.scratch)+cap(a.table)/2)*8 + mapBytes(len(a.ids), 36) + int64(cap(a.vals))*32
}

func (a *distinctAcc) out(groups []int32) outCol {
	a.compact()
	counts := make([]int64, a.n)
	for _, p := range a.pairs {
		counts[p>>32]++
	}
	o := outCol{kind: okInt}
	for _, g := range groups {
		o.ints = append(o.ints, counts[g])
	}
	return o
}

// approxAcc estimates distinct values with a HyperLogLog per group.
type approxAcc struct {
	col int
	c   *colDesc
	h   []*hll
	mem int64
}

func (a *approxAcc) grow(n int) { a.h = growTo(a.h, n) }
func (a *approxAcc) sketch(g int32) *hll {
	if a.h[g] == nil {
		a.h[g] = &hll{}
		a.mem += 64
	}
	return a.h[g]
}
func (a *approxAcc) add(b *batch, sel, g []int32) {
	v := b.vecs[a.col]
	for i, r := range sel {
		k, ok := keyOf(a.c, v, r)
		if !ok {
			continue
		}
		a.mem += a.sketch(g[i]).insert(hashKey(k))
	}
}
func (a *approxAcc) merge(o acc, remap []int32) {
	for i, h := range o.(*approxAcc).h {
		if h != nil {
			a.mem += a.sketch(remap[i]).merge(h)
		}
	}
}
func (a *approxAcc) fold(dst int32, src []int32) {
	for _, s := range src {
		if a.h[s] != nil {
			a.mem += a.sketch(dst).merge(a.h[s])
		}
	}
}
func (a *approxAcc) perGroup() int64 { return 74 }
func (a *approxAcc) memory() int64   { return a.mem + int64(cap(a.h))*8 }
func (a *approxAcc) out(groups []int32) outCol {
	o := outCol{kind: okInt}
	for _, g := range groups {
		var n int64
		if a.h[g] != nil {
			n = a.h[g].estimate()
		}
		o.ints = append(o.ints, n)
	}
	return o
}

// hashKey is a fixed 64-bit hash (stable across runs, so estimates are
// reproducible).
func hashKey(k valueKey) uint64 {
	h := mix64(binary.LittleEndian.Uint64(k.fixed[:8]) ^ mix64(binary.LittleEndian.Uint64(k.fixed[8:])+0x9e3779b97f4a7c15))
	if k.str != "" {
		f := uint64(14695981039346656037)
		for i := 0; i < len(k.str); i++ {
			f = (f ^ uint64(k.str[i])) * 1099511628211
		}
		h = mix64(h ^ f)
	}
	return h
}

func mix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// hll is a HyperLogLog sketch with 2^12 registers (1.6 % standard error).
// It starts sparse — an exact set of hashes — and turns dense at 512
// distinct hashes, so small groups cost little and count exactly.
type hll struct {
	sparse map[uint64]struct{}
	reg    []uint8
}

const (
	hllP      = 12
	hllM      = 1 << hllP
	hllSparse = 512
)

// insert adds a hash and returns the bytes of memory it added.
func (h *hll) insert(x uint64) int64 {
	if h.reg != nil {
		h.set(x)
		return 0
	}
	if h.sparse == nil {
		h.sparse = map[uint64]struct{}{}
	}
	if _, ok := h.sparse[x]; ok {
		return 0
	}
	h.sparse[x] = struct{}{}
	if len(h.sparse) <= hllSparse {
		return 16
	}
	h.reg = make([]uint8, hllM)
	for y := range h.sparse {
		h.set(y)
	}
	h.sparse = nil
	return hllM - hllSparse*16
}

func (h *hll) set(x uint64) {
	idx := x >> (64 - hllP)
	rank := uint8(bits.LeadingZeros64(x<<hllP|1<<(hllP-1)) + 1)
	if rank > h.reg[idx] {
		h.reg[idx] = rank
	}
}

func (h *hll) merge(o *hll) int64 {
	var added int64
	for x := range o.sparse {
		added += h.insert(x)
	}
	if o.reg != nil {
		if h.reg == nil {
			h.reg = make([]uint8, hllM)
			for y := range h.sparse {
				h.set(y)
			}
			added += hllM - int64(len(h.sparse))*16
			h.sparse = nil
		}
		for i, r := range o.reg {
			h.reg[i] = max(h.reg[i], r)
		}
	}
	return added
}

func (h *hll) estimate() int64 {
	if h.reg == nil {
		return int64(len(h.sparse))
	}
	sum, zeros := 0.0, 0
	for _, r := range h.reg {
		sum += math.Ldexp(1, -int(r))
		if r == 0 {
			zeros++
		}
	}
	m := float64(hllM)
	e := 0.7213 / (1 + 1.079/m) * m * m / sum
	if e <= 2.5*m && zeros > 0 {
		e = m * math.Log(m/float64(zeros))
	}
	return int64(e + 0.5)
}

// pctAcc keeps every value of every group and picks the nearest-rank
// percentile at the end: exact, at 8 bytes a value (charged to the
// memory budget).
type pctAcc struct {
	col      int
	p        float64
	unsigned bool
	v        [][]int64
	n        int64
}

func (a *pctAcc) grow(n int) { a.v = growTo(a.v, n) }
func (a *pctAcc) add(b *batch, sel, g []int32) {
	v := b.vecs[a.col]
	for i, r := range sel {
		if v.null == nil || !v.null[r] {
			a.v[g[i]] = append(a.v[g[i]], v.ints[r])
			a.n++
		}
	}
}
func (a *pctAcc) merge(o acc, remap []int32) {
	for i, vs := range o.(*pctAcc).v {
		a.v[remap[i]] = append(a.v[remap[i]], vs...)
		a.n += int64(len(vs))
	}
}
func (a *pctAcc) fold(dst int32, src []int32) {
	for _, s := range src {
		a.v[dst] = append(a.v[dst], a.v[s]...)
		a.n += int64(len(a.v[s]))
	}
}
func (a *pctAcc) perGroup() int64 { return 30 }
func (a *pctAcc) memory() int64   { return a.n*12 + int64(cap(a.v))*24 }
func (a *pctAcc) out(groups []int32) outCol {
	o := outCol{kind: okFloat}
	for _, g := range groups {
		vs := a.v[g]
		if len(vs) == 0 {
			o.floats = append(o.floats, 0)
			o.nulls = append(o.nulls, true)
			continue
		}
		if a.unsigned {
			slices.SortFunc(vs, func(x, y int64) int {
				switch {
				case uint64(x) < uint64(y):
					return -1
				case uint64(x) > uint64(y):
					return 1
				}
				return 0
			})
		} else {
			slices.Sort(vs)
		}
		rank := int(math.Ceil(a.p / 100 * float64(len(vs))))
		x := vs[max(rank, 1)-1]
		f := float64(x)
		if a.unsigned {
			f = float64(uint64(x))
		}
		o.floats = append(o.floats, f)
		o.nulls = append(o.nulls, false)
	}
	return o
}
