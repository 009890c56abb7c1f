package lake

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"math/bits"
	"slices"
	"strings"
	"unsafe"

	"github.com/parquet-go/parquet-go/bloom"
	"github.com/parquet-go/parquet-go/encoding/rle"
	"github.com/parquet-go/parquet-go/format"
)

// dictKey is a value of a dictionary-encoded column as the column-at-a-time
// encoder keeps it: hashed into an open-addressing table (no Go map, no
// interface boxing), compared for statistics, and PLAIN-encoded into the
// dictionary page.
type dictKey[K any] interface {
	comparable
	hash() uint64
	less(K) bool
	appendPlain([]byte) []byte
	stat() []byte      // the value as statistics and the column index store it
	bloomHash() uint64 // xxHash64 of the PLAIN value, as parquet-go's filters hash it
	size() int32       // the unencoded bytes of a BYTE_ARRAY value, 0 for others
	own() K            // a copy that shares no memory with the caller's value
}

// u32Key is a value of an INT32 column of an unsigned logical type.
type u32Key uint32

func (k u32Key) hash() uint64       { return uint64(k+1) * 0x9E3779B97F4A7C15 }
func (k u32Key) less(o u32Key) bool { return k < o }
func (k u32Key) appendPlain(b []byte) []byte {
	return binary.LittleEndian.AppendUint32(b, uint32(k))
}
func (k u32Key) stat() []byte      { return k.appendPlain(make([]byte, 0, 4)) }
func (k u32Key) bloomHash() uint64 { return bloom.XXH64{}.Sum64Uint32(uint32(k)) }
func (k u32Key) size() int32       { return 0 }
func (k u32Key) own() u32Key       { return k }

// addrKey is a FIXED_LEN_BYTE_ARRAY(16) address.
type addrKey [16]byte

func (k addrKey) hash() uint64 {
	lo, hi := binary.LittleEndian.Uint64(k[:8]), binary.LittleEndian.Uint64(k[8:])
	h := (lo*0xC2B2AE3D27D4EB4F ^ hi) * 0x9E3779B97F4A7C15
	return h ^ h>>29
}
func (k addrKey) less(o addrKey) bool         { return bytes.Compare(k[:], o[:]) < 0 }
func (k addrKey) appendPlain(b []byte) []byte { return append(b, k[:]...) }
func (k addrKey) stat() []byte                { return append([]byte(nil), k[:]...) }
func (k addrKey) bloomHash() uint64           { return bloom.XXH64{}.Sum64Uint128(k) }
func (k addrKey) size() int32                 { return 0 }
func (k addrKey) own() addrKey                { return k }

// macKey is a FIXED_LEN_BYTE_ARRAY(6) MAC address.
type macKey [6]byte

func (k macKey) hash() uint64 {
	v := uint64(k[0]) | uint64(k[1])<<8 | uint64(k[2])<<16 | uint64(k[3])<<24 | uint64(k[4])<<32 | uint64(k[5])<<40
	return (v + 1) * 0x9E3779B97F4A7C15
}
func (k macKey) less(o macKey) bool          { return bytes.Compare(k[:], o[:]) < 0 }
func (k macKey) appendPlain(b []byte) []byte { return append(b, k[:]...) }
func (k macKey) stat() []byte                { return append([]byte(nil), k[:]...) }
func (k macKey) bloomHash() uint64           { return bloom.XXH64{}.Sum64(k[:]) }
func (k macKey) size() int32                 { return 0 }
func (k macKey) own() macKey                 { return k }

// strKey is a BYTE_ARRAY string.
type strKey string

var strSeed = maphash.MakeSeed()

func (k strKey) hash() uint64       { return maphash.String(strSeed, string(k)) }
func (k strKey) less(o strKey) bool { return k < o }
func (k strKey) appendPlain(b []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(k)))
	return append(b, k...)
}
func (k strKey) stat() []byte      { return []byte(k) }
func (k strKey) bloomHash() uint64 { return bloom.XXH64{}.Sum64([]byte(k)) }
func (k strKey) size() int32       { return int32(len(k)) }

// own copies the string: strings parquet-go decodes (compaction's input)
// point into buffers it reuses, and a dictionary outlives them.
func (k strKey) own() strKey { return strKey(strings.Clone(string(k))) }

// dictCol is one dictionary-encoded column of a row group being built: the
// dictionary id of every row (-1 for null) and the dictionary.
type dictCol[K dictKey[K]] struct {
	ids   []int32
	vals  []K
	slots []dictSlot[K] // open addressing, keys inline: one cache miss a lookup
	shift uint
	seen  []uint32 // the page stamp of each id, to find a page's distinct values
	stamp uint32
	sink  int32 // keeps idAll's loads from being optimised away
}

// dictSlot is an entry of the dictionary's hash table: id+1, 0 when free.
type dictSlot[K any] struct {
	k  K
	id int32
}

func (c *dictCol[K]) init() {
	c.slots = make([]dictSlot[K], 1<<10)
	c.shift = 64 - 10
}

// reset empties the dictionary for the next row group.
func (c *dictCol[K]) reset() {
	clear(c.slots)
	c.vals = c.vals[:0]
}

// idAll sets ids[i] to the dictionary id of keys[i], adding new keys. For
// each block of keys it first reads the table slot of every key:
// independent loads that miss the cache in parallel, where the probes one
// after another would each wait for their miss (the address tables outgrow
// the core's L2 cache).
func (c *dictCol[K]) idAll(ids []int32, keys []K) {
	var hs [gatherBlock]uint64
	for len(keys) > 0 {
		n := min(len(keys), gatherBlock)
		block, hb := keys[:n], hs[:n]
		var x int32
		for i, k := range block {
			h := k.hash()
			hb[i] = h
			x |= c.slots[h>>c.shift].id
		}
		c.sink += x
		out := ids[:n]
		for i, k := range block {
			out[i] = c.idHashed(k, hb[i])
		}
		keys, ids = keys[n:], ids[n:]
	}
}

// id returns k's dictionary id, adding it if new.
func (c *dictCol[K]) id(k K) int32 { return c.idHashed(k, k.hash()) }

// idHashed is id with k's hash already computed.
func (c *dictCol[K]) idHashed(k K, hash uint64) int32 {
	mask := len(c.slots) - 1
	for h := int(hash >> c.shift); ; h = (h + 1) & mask {
		s := &c.slots[h]
		if s.id == 0 {
			k = k.own()
			c.vals = append(c.vals, k)
			*s = dictSlot[K]{k, int32(len(c.vals))}
			if 2*len(c.vals) > len(c.slots) {
				c.grow()
			}
			return int32(len(c.vals) - 1)
		}
		if s.k == k {
			return s.id - 1
		}
	}
}

func (c *dictCol[K]) grow() {
	c.slots = make([]dictSlot[K], 2*len(c.slots))
	c.shift--
	mask := len(c.slots) - 1
	for i, k := range c.vals {
		h := int(k.hash() >> c.shift)
		for c.slots[h].id != 0 {
			h = (h + 1) & mask
		}
		c.slots[h] = dictSlot[K]{k, int32(i + 1)}
	}
}

// strDict is a dictionary of strings with a cache in front, indexed by the
// string's address: the strings of a batch are mostly the same few
// constants (edge, exporter and interface names, apps, groups), so most
// lookups cost an address hash and one comparison instead of hashing the
// bytes. Within one call of the writer (one batch of the caller's rows,
// whose strings do not change under it) an entry also matches on the
// caller's string address and length alone, without comparing the bytes;
// across calls it must compare them, as the caller may reuse the memory
// (compaction's input points into parquet-go's reused buffers).
type strDict struct {
	dictCol[strKey]
	cache [256]strCacheEntry
	gen   uint32 // entries of older generations are empty
	call  uint32 // the writer call: addresses of earlier calls are stale
}

type strCacheEntry struct {
	s    string // the dictionary's own copy: compared by content
	p    *byte  // the caller's copy of the string, valid during call call
	n    int
	id   int32
	gen  uint32
	call uint32
}

// lookupAll sets ids[i] to the dictionary id of vals[i], adding new values.
func (c *strDict) lookupAll(ids []int32, vals []string) {
	ids = ids[:len(vals)]
	cache, gen, call := &c.cache, c.gen, c.call
	for i, s := range vals {
		p := unsafe.StringData(s)
		e := &cache[(uintptr(unsafe.Pointer(p))>>4^uintptr(len(s)))&255]
		switch {
		case e.p == p && e.n == len(s) && e.call == call && e.gen == gen:
			ids[i] = e.id
		case e.gen == gen && e.s == s:
			e.p, e.n, e.call = p, len(s), call
			ids[i] = e.id
		default:
			ids[i] = c.miss(s, e)
		}
	}
}

// miss looks s up in the dictionary and caches it in e.
func (c *strDict) miss(s string, e *strCacheEntry) int32 {
	id := c.id(strKey(s))
	*e = strCacheEntry{string(c.vals[id]), unsafe.StringData(s), len(s), id, c.gen, c.call}
	return id
}

// newCall starts a call of the writer with new rows: the addresses of the
// strings of earlier rows may since hold other strings. It forgets those
// addresses, so that the cache does not keep the caller's memory alive.
func (c *strDict) newCall() {
	for i := range c.cache {
		c.cache[i].p = nil
	}
	c.call++
}

func (c *strDict) init() {
	c.dictCol.init()
	c.gen = 1  // the zero entries must not match ""
	c.call = 1 // nor a nil address
}

func (c *strDict) reset() {
	c.dictCol.reset()
	c.gen++
	if c.gen == 0 {
		c.cache = [256]strCacheEntry{}
		c.gen = 1
	}
}

// directDict is a dictionary of unsigned integers with a direct table for
// the values below 2^16 (ports, protocols, flags, interface indexes,
// VLANs, small counters): one load instead of a hash probe.
type directDict[K intKey[K], V uint32 | uint64] struct {
	dictCol[K]
	direct []int32 // id+1 by value, 0 when not in the dictionary
}

// intKey is the key of an integer dictionary.
type intKey[K any] interface {
	dictKey[K]
	~uint32 | ~uint64
}

// u32Dict is the dictionary of a column of unsigned integers up to 32 bits.
type u32Dict = directDict[u32Key, uint32]

// lookupAll sets ids[i] to the dictionary id of vals[i], adding new values.
func (c *directDict[K, V]) lookupAll(ids []int32, vals []V) {
	ids = ids[:len(vals)]
	direct := c.direct // never reallocated: miss only sets entries
	for i, v := range vals {
		if v < V(len(direct)) && direct[v] != 0 {
			ids[i] = direct[v] - 1
			continue
		}
		ids[i] = c.miss(v)
	}
}

// miss looks v up in the hash table, adding it if new, and records it in
// the direct table when it fits there.
func (c *directDict[K, V]) miss(v V) int32 {
	id := c.id(K(v))
	if v < V(len(c.direct)) {
		c.direct[v] = id + 1
	}
	return id
}

// init prepares the dictionary of a column whose values have bits bits: a
// direct table covers every value of 8- and 16-bit columns, and the values
// below 2^16 of wider ones (interface indexes, AS numbers, sampling rates,
// counters: few distinct values, mostly small; only the entries in use
// are touched, so the table costs little cache).
func (c *directDict[K, V]) init(bits int) {
	c.dictCol.init()
	c.direct = make([]int32, 1<<min(bits, 16))
}

func (c *directDict[K, V]) reset() {
	for _, v := range c.vals {
		if V(v) < V(len(c.direct)) {
			c.direct[V(v)] = 0
		}
	}
	c.dictCol.reset()
}

// encBufs are the scratch buffers of page encoding, shared by the columns.
type encBufs struct {
	ids    []int32
	sizes  []int32
	levels []byte
	page   []byte
	enc    []byte
	rle    []byte
}

// encodeIndexes appends to dst[:0] the page data of dictionary indexes:
// their bit width and their RLE/bit-packed runs.
func encodeIndexes(b *encBufs, dst []byte, ids []int32, width int) []byte {
	if len(ids) == 0 { // a page of nulls: the bit width alone
		return append(dst[:0], byte(width))
	}
	var err error
	b.rle, err = (&rle.Encoding{BitWidth: width}).EncodeInt32(b.rle[:0], ids)
	if err != nil {
		panic(err) // unreachable: width covers every id of the dictionary
	}
	return append(append(dst[:0], byte(width)), b.rle...)
}

// indexMode is how a column stores its dictionary indexes: bit-packed to
// the page's width and zstd-compressed (the default), bit-packed and
// stored as they are (raw: zstd gains nothing on near-uniform indexes and
// costs time), or widened to whole bytes and compressed (aligned: on skewed
// columns, zstd's byte-oriented entropy coder then sees each index as one
// symbol and gets close to the column's entropy). A writer tries all three
// on the first page of a column in its first row group and every
// indexProbeEvery row groups after, and keeps the smallest.
type indexMode struct {
	aligned, raw bool
	age          int // row groups since the last probe; -1 before the first
}

const indexProbeEvery = 8

// indexProbeRows is how many indexes of the page a probe of a small chunk
// compresses: a sample keeps the probe cheap on the single-page segments
// of small batches.
const indexProbeRows = 4096

func newIndexModes(n int) []indexMode {
	m := make([]indexMode, n)
	for i := range m {
		m[i].age = -1
	}
	return m
}

// probe reports whether this row group's first page should try the modes.
func (m *indexMode) probe() bool {
	m.age++
	if m.age == 0 || m.age >= indexProbeEvery {
		m.age = 0
		return true
	}
	return false
}

// choose sets the mode that stores ids smallest; raw wins ties within 3 %
// (it costs no compression time).
func (m *indexMode) choose(p *pqWriter, b *encBufs, ids []int32, packed int) {
	b.page = encodeIndexes(b, b.page, ids, packed)
	raw := len(b.page)
	best, alignedBest := len(p.compress(b.page)), false
	if aligned := (packed + 7) / 8 * 8; aligned != packed && aligned <= 32 {
		b.page = encodeIndexes(b, b.page, ids, aligned)
		if n := len(p.compress(b.page)); n < best {
			best, alignedBest = n, true
		}
	}
	m.raw = best*100 > raw*97
	m.aligned = alignedBest && !m.raw
}

// write encodes the column's rows, pages of pageRows rows, as the current
// chunk of p: a dictionary page, RLE_DICTIONARY data pages with their
// statistics, and a bloom filter of bloomBits bits per distinct value
// (none when 0). optional columns store -1 ids as nulls.
func (c *dictCol[K]) write(p *pqWriter, b *encBufs, mode *indexMode, name string, typ format.Type, rows, pageRows int, optional bool, bloomBits uint) {
	p.beginChunk(name, typ)
	plain := b.page[:0]
	for _, v := range c.vals {
		plain = v.appendPlain(plain)
	}
	b.page = plain
	p.dictPage(len(c.vals), plain)
	if cap(c.seen) < len(c.vals) {
		c.seen = make([]uint32, len(c.vals)+len(c.vals)/4)
	}
	seen := c.seen[:len(c.vals)]
	var sizes []int32 // of BYTE_ARRAY values: a load, where size is a call
	if typ == format.ByteArray {
		sizes = slices.Grow(b.sizes[:0], len(c.vals))
		for _, v := range c.vals {
			sizes = append(sizes, v.size())
		}
		b.sizes = sizes
	}
	var err error
	for lo := 0; lo < rows; lo += pageRows {
		hi := min(lo+pageRows, rows)
		c.stamp++
		if c.stamp == 0 { // wrapped: forget every stamp
			clear(c.seen[:cap(c.seen)])
			c.stamp = 1
		}
		stamp := c.stamp
		var st pageStats
		var mn, mx int32 = -1, -1
		ids := c.ids[lo:hi]
		vals := ids
		var levels []byte
		if optional {
			vals = b.ids[:0]
			lv := b.levels[:0]
			for _, id := range ids {
				if id < 0 {
					lv = append(lv, 0)
					continue
				}
				lv = append(lv, 1)
				vals = append(vals, id)
			}
			b.ids, b.levels = vals, lv
			st.nulls = int64(len(ids) - len(vals))
			levels, err = (&rle.Encoding{BitWidth: 1}).EncodeLevels(b.enc[:0], lv)
			if err != nil && p.err == nil {
				p.err = err
			}
			b.enc = levels
		}
		var top int32 // the largest id on the page: its bit width is the page's
		for _, id := range vals {
			if seen[id] == stamp {
				continue
			}
			seen[id] = stamp
			top = max(top, id)
			v := c.vals[id]
			if mn < 0 || v.less(c.vals[mn]) {
				mn = id
			}
			if mx < 0 || c.vals[mx].less(v) {
				mx = id
			}
		}
		if typ == format.ByteArray {
			for _, id := range vals {
				st.unencoded += int64(sizes[id])
			}
		}
		if mn >= 0 {
			st.min, st.max = c.vals[mn].stat(), c.vals[mx].stat()
		}
		packed := bits.Len32(uint32(top))
		if lo == 0 && mode.probe() {
			sample := vals
			if rows < 4*pageRows { // a small chunk: probe part of its page
				sample = vals[:min(len(vals), indexProbeRows)]
			}
			mode.choose(p, b, sample, packed)
		}
		width := packed
		if mode.aligned {
			width = (packed + 7) / 8 * 8
		}
		b.page = encodeIndexes(b, b.page, vals, width)
		var body []byte
		if !mode.raw {
			body = p.compress(b.page)
		}
		p.dataPageBody(int64(hi-lo), format.RLEDictionary, levels, b.page, body, st)
	}
	var filter []byte
	if bloomBits > 0 {
		filter = make([]byte, bloom.BlockSize*bloom.NumSplitBlocksOf(int64(len(c.vals)), bloomBits))
		f := bloom.MakeSplitBlockFilter(filter)
		for _, v := range c.vals {
			f.Insert(v.bloomHash())
		}
	}
	p.endChunk(optional, func(x, y []byte) bool { return lessStat[K](x, y) }, filter)
}

// lessStat compares two statistics values of K's column.
func lessStat[K dictKey[K]](a, b []byte) bool {
	var k K
	switch any(k).(type) {
	case u32Key:
		return binary.LittleEndian.Uint32(a) < binary.LittleEndian.Uint32(b)
	case u64Key:
		return binary.LittleEndian.Uint64(a) < binary.LittleEndian.Uint64(b)
	}
	return bytes.Compare(a, b) < 0
}
