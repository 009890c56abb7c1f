package query

import (
	"encoding/binary"
	"math"
	"math/bits"
	"slices"
)

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
