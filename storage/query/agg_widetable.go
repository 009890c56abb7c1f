package query

import "encoding/binary"

// wideKey is the longest group key kept in a wideTable: two addresses
// with their null markers and lengths (36 bytes: a conversation), or an
// address, a port and a time bucket (36).
const wideKey = 40

// wideTable maps group keys of shortKey+1 to wideKey bytes to groups, as
// shortTable does for shorter ones: open addressing with the key inline,
// so a conversation's key is found with one memory access and no string
// hashing, and adding one allocates nothing but the table's growth.
type wideTable struct {
	slots []wideSlot // a power of two, at most half full
	shift uint       // 64 - log2(len(slots))
	n     int
}

type wideSlot struct {
	key [wideKey]byte
	g   int32 // group + 1; 0 is an empty slot
}

// wideSlotBytes is a slot's size.
const wideSlotBytes = wideKey + 4

func newWideTable() *wideTable {
	t := &wideTable{}
	t.resize(1 << 10)
	return t
}

func (t *wideTable) resize(size int) {
	old := t.slots
	t.slots = make([]wideSlot, size)
	t.shift = 64
	for s := size; s > 1; s >>= 1 {
		t.shift--
	}
	for i := range old {
		if old[i].g != 0 {
			t.insertNew(&old[i].key, hashWide(&old[i].key), old[i].g-1)
		}
	}
}

// hashWide mixes a key's five words; the slot is the top bits.
func hashWide(k *[wideKey]byte) uint64 {
	h := uint64(0x9e3779b97f4a7c15)
	for i := 0; i < wideKey; i += 8 {
		h = (h ^ binary.LittleEndian.Uint64(k[i:])) * 0xff51afd7ed558ccd
		h ^= h >> 29
	}
	h *= 0xc4ceb9fe1a85ec53
	return h ^ h>>32
}

// get returns the group of k.
func (t *wideTable) get(k *[wideKey]byte, h uint64) (int32, bool) {
	mask := len(t.slots) - 1
	for i := int(h >> t.shift); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.g == 0 {
			return 0, false
		}
		if s.key == *k {
			return s.g - 1, true
		}
	}
}

// put adds k, which is not in the table, as group g.
func (t *wideTable) put(k *[wideKey]byte, h uint64, g int32) {
	if 2*(t.n+1) > len(t.slots) {
		t.resize(2 * len(t.slots))
	}
	t.insertNew(k, h, g)
	t.n++
}

func (t *wideTable) insertNew(k *[wideKey]byte, h uint64, g int32) {
	mask := len(t.slots) - 1
	i := int(h >> t.shift)
	for t.slots[i].g != 0 {
		i = (i + 1) & mask
	}
	t.slots[i] = wideSlot{key: *k, g: g + 1}
}

// memory is the table's size in bytes.
func (t *wideTable) memory() int64 {
	if t == nil {
		return 0
	}
	return int64(len(t.slots)) * wideSlotBytes
}

// wideFind looks up a key of shortKey+1 to wideKey bytes in
// g's wide table (made at its first such key) and returns it padded,
// with its hash, for a put. The key encoding is
// prefix-free, so zero padding cannot make two keys equal.
func (g *grouper) wideFind(k string) (*[wideKey]byte, uint64, int32, bool) {
	if g.wide == nil {
		g.wide = newWideTable()
	}
	var wk [wideKey]byte
	copy(wk[:], k)
	h := hashWide(&wk)
	gi, ok := g.wide.get(&wk, h)
	return &wk, h, gi, ok
}
