package query

import "unsafe"

// inlineKey is a group key kept inline in an inlineTable, zero-padded: a
// short one (an address) or a wide one (a conversation).
type inlineKey interface {
	[shortKey]byte | [wideKey]byte
}

// inlineTable maps fixed-width group keys to groups: open addressing with
// the key inline, so a key is found with one memory access and no string
// hashing, and adding one allocates nothing but the table's growth.
type inlineTable[K inlineKey] struct {
	slots []inlineSlot[K] // a power of two, at most half full
	shift uint            // 64 - log2(len(slots))
	n     int
	hash  func(*K) uint64 // the slot is the top bits
}

type inlineSlot[K inlineKey] struct {
	key K
	g   int32 // group + 1; 0 is an empty slot
}

func newInlineTable[K inlineKey](hash func(*K) uint64) *inlineTable[K] {
	t := &inlineTable[K]{hash: hash}
	t.resize(1 << 10)
	return t
}

func (t *inlineTable[K]) resize(size int) {
	old := t.slots
	t.slots = make([]inlineSlot[K], size)
	t.shift = 64
	for s := size; s > 1; s >>= 1 {
		t.shift--
	}
	for i := range old {
		if old[i].g != 0 {
			t.insertNew(&old[i].key, t.hash(&old[i].key), old[i].g-1)
		}
	}
}

// get returns the group of k.
func (t *inlineTable[K]) get(k *K, h uint64) (int32, bool) {
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
func (t *inlineTable[K]) put(k *K, h uint64, g int32) {
	if 2*(t.n+1) > len(t.slots) {
		t.resize(2 * len(t.slots))
	}
	t.insertNew(k, h, g)
	t.n++
}

func (t *inlineTable[K]) insertNew(k *K, h uint64, g int32) {
	mask := len(t.slots) - 1
	i := int(h >> t.shift)
	for t.slots[i].g != 0 {
		i = (i + 1) & mask
	}
	t.slots[i] = inlineSlot[K]{key: *k, g: g + 1}
}

// touch reads the slot a hash starts at, so that a batch of lookups
// waits for memory once rather than once per key.
func (t *inlineTable[K]) touch(h uint64) int32 {
	return t.slots[h>>t.shift].g
}

// slotBytes is the size of one slot of the table.
func (t *inlineTable[K]) slotBytes() int64 {
	var s inlineSlot[K]
	return int64(unsafe.Sizeof(s))
}

// memory is the table's size in bytes.
func (t *inlineTable[K]) memory() int64 {
	if t == nil {
		return 0
	}
	return int64(len(t.slots)) * t.slotBytes()
}
