package query

import "encoding/binary"

// shortTable maps group keys of up to shortKey bytes to groups. It is the
// grouper's hot table: a group-by on hosts looks up every distinct address
// of every row group in it, and with hundreds of thousands of hosts the
// table outgrows the caches, so each lookup is a memory access. Open
// addressing with the key inline keeps that to one access, and lookups
// come in batches whose slots are touched first, so the accesses overlap.
type shortTable struct {
	slots []shortSlot // a power of two, at most half full
	shift uint        // 64 - log2(len(slots))
	n     int
}

type shortSlot struct {
	key [shortKey]byte
	g   int32 // group + 1; 0 is an empty slot
}

func newShortTable() *shortTable {
	t := &shortTable{}
	t.resize(1 << 10)
	return t
}

func (t *shortTable) resize(size int) {
	old := t.slots
	t.slots = make([]shortSlot, size)
	t.shift = 64
	for s := size; s > 1; s >>= 1 {
		t.shift--
	}
	for i := range old {
		if old[i].g != 0 {
			t.insertNew(&old[i].key, hashShort(&old[i].key), old[i].g-1)
		}
	}
}

// hashShort mixes a key's bytes; the slot is the top bits.
func hashShort(k *[shortKey]byte) uint64 {
	a := binary.LittleEndian.Uint64(k[0:])
	b := binary.LittleEndian.Uint64(k[8:])
	c := uint64(binary.LittleEndian.Uint16(k[16:]))
	h := (a ^ 0x9e3779b97f4a7c15) * 0xff51afd7ed558ccd
	h = (h ^ b ^ h>>29) * 0xc4ceb9fe1a85ec53
	h = (h ^ c ^ h>>32) * 0x9e3779b97f4a7c15
	return h ^ h>>31
}

// get returns the group of k.
func (t *shortTable) get(k *[shortKey]byte, h uint64) (int32, bool) {
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
func (t *shortTable) put(k *[shortKey]byte, h uint64, g int32) {
	if 2*(t.n+1) > len(t.slots) {
		t.resize(2 * len(t.slots))
	}
	t.insertNew(k, h, g)
	t.n++
}

func (t *shortTable) insertNew(k *[shortKey]byte, h uint64, g int32) {
	mask := len(t.slots) - 1
	i := int(h >> t.shift)
	for t.slots[i].g != 0 {
		i = (i + 1) & mask
	}
	t.slots[i] = shortSlot{key: *k, g: g + 1}
}

// touch reads the slot a hash starts at, so that a batch of lookups
// waits for memory once rather than once per key.
func (t *shortTable) touch(h uint64) int32 {
	return t.slots[h>>t.shift].g
}

// memory is the table's size in bytes.
func (t *shortTable) memory() int64 { return int64(len(t.slots)) * 24 }
