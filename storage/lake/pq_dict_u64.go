package lake

import (
	"cmp"
	"encoding/binary"
	"math/bits"
	"slices"

	"github.com/parquet-go/parquet-go/bloom"
)

// u64Key is a value of an INT64 column of an unsigned logical type (flow
// byte and packet counters).
type u64Key uint64

func (k u64Key) hash() uint64       { return uint64(k+1) * 0x9E3779B97F4A7C15 }
func (k u64Key) less(o u64Key) bool { return k < o }
func (k u64Key) appendPlain(b []byte) []byte {
	return binary.LittleEndian.AppendUint64(b, uint64(k))
}
func (k u64Key) stat() []byte      { return k.appendPlain(make([]byte, 0, 8)) }
func (k u64Key) bloomHash() uint64 { return bloom.XXH64{}.Sum64Uint64(uint64(k)) }
func (k u64Key) size() int32       { return 0 }
func (k u64Key) own() u64Key       { return k }

// u64Dict is the dictionary of a counter column (bytes, packets): a direct
// table for values below 2^16, the hash table above, and a dictionary
// renumbered in value order before the row group is encoded.
//
// Counters are the columns where a dictionary pays only in value order:
// PLAIN values cost zstd a match per value (the zero high bytes) and
// ~70–90 ns a row each; the dictionary page of sorted values compresses
// well, and the indexes either go out bit-packed as they are (bytes: ~60 k
// distinct values a row group, near-uniform indexes) or compress well
// byte-aligned (packets: ~5 k values, skewed). docs/benchmarks.md has the
// measurements.
type u64Dict struct {
	directDict[u64Key, uint64]
	perm  []uint64
	tmp   []uint64
	remap []int32
}

// sortValues renumbers the dictionary in ascending value order and rewrites
// the ids of the first rows rows to match. The hash and direct tables keep
// the old ids: only reset may follow.
func (c *u64Dict) sortValues(rows int) {
	n := len(c.vals)
	if n < 2 {
		return
	}
	idBits := bits.Len(uint(n - 1))
	var top u64Key
	for _, v := range c.vals {
		top = max(top, v)
	}
	p := slices.Grow(c.perm[:0], n)[:n]
	if bits.Len64(uint64(top))+idBits <= 64 {
		// Keys hold the value above the old id: a radix sort on the value
		// bits, no comparisons.
		for i, v := range c.vals {
			p[i] = uint64(v)<<idBits | uint64(i)
		}
		c.tmp = slices.Grow(c.tmp[:0], n)
		radixSortAbove(p, c.tmp, idBits, idBits+bits.Len64(uint64(top)))
	} else {
		for i := range p {
			p[i] = uint64(i)
		}
		slices.SortFunc(p, func(a, b uint64) int { return cmp.Compare(c.vals[a], c.vals[b]) })
		idBits = 0
	}
	remap := slices.Grow(c.remap[:0], n)[:n]
	mask := uint64(1)<<idBits - 1
	if idBits == 0 {
		mask = ^uint64(0)
	}
	for newID, k := range p {
		remap[k&mask] = int32(newID)
	}
	for newID, k := range p {
		p[newID] = uint64(c.vals[k&mask]) // p now holds the values in order
	}
	for i, v := range p {
		c.vals[i] = u64Key(v)
	}
	ids := c.ids[:rows]
	for i, id := range ids {
		ids[i] = remap[id]
	}
	c.perm, c.remap = p, remap
}
