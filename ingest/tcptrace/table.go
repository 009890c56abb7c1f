package tcptrace

import (
	"encoding/binary"
	"math/rand/v2"
	"unsafe"
)

// connTable holds the traced connections: an open-addressing hash table
// (linear probing, deleted slots marked with a tombstone until the next
// rehash) of pointers, so its memory is one slice the quota counts
// exactly, 8 bytes a slot at a load of at most 3/4. The hash is seeded per
// table so crafted 4-tuples cannot be aimed at one chain.
type connTable struct {
	slots []*tconn
	n     int // connections held
	used  int // slots not empty: connections and tombstones
	seed  uint64
}

// tomb marks a deleted slot.
var tomb = new(tconn)

const minTableSlots = 64

func newConnTable() connTable {
	return connTable{seed: rand.Uint64() | 1}
}

// bytes is the table's memory.
func (t *connTable) bytes() int64 { return tableBytes(len(t.slots)) }

func tableBytes(slots int) int64 {
	return allocSize(uintptr(slots)*unsafe.Sizeof((*tconn)(nil)), true)
}

func (t *connTable) hash(k *connKey) uint64 {
	h := t.seed
	for _, w := range [...]uint64{
		binary.LittleEndian.Uint64(k.a[:8]), binary.LittleEndian.Uint64(k.a[8:]),
		binary.LittleEndian.Uint64(k.b[:8]), binary.LittleEndian.Uint64(k.b[8:]),
		uint64(k.pa) | uint64(k.pb)<<16 | uint64(k.vlan)<<32,
	} {
		h = (h ^ w) * 0x9e3779b97f4a7c15
		h ^= h >> 31
	}
	h *= 0xbf58476d1ce4e5b9
	return h ^ h>>29
}

// get returns the connection of k, nil when none.
func (t *connTable) get(k *connKey) *tconn {
	if t.n == 0 {
		return nil
	}
	mask := uint64(len(t.slots) - 1)
	for i := t.hash(k) & mask; ; i = (i + 1) & mask {
		c := t.slots[i]
		if c == nil {
			return nil
		}
		if c != tomb && c.key == *k {
			return c
		}
	}
}

// growth is how many bytes the table grows by if one connection is added
// now (0 when it has room).
func (t *connTable) growth() int64 {
	if n := t.nextSize(); n != len(t.slots) {
		return tableBytes(n) - t.bytes()
	}
	return 0
}

// nextSize is the table's size once one more connection is added.
func (t *connTable) nextSize() int {
	if len(t.slots) == 0 {
		return minTableSlots
	}
	if 4*(t.used+1) <= 3*len(t.slots) {
		return len(t.slots)
	}
	if 2*(t.n+1) > len(t.slots) {
		return 2 * len(t.slots)
	}
	return len(t.slots) // only tombstones to clear
}

// put adds c, whose key the table does not hold, rehashing first when the
// load would pass 3/4.
func (t *connTable) put(c *tconn) {
	if 4*(t.used+1) > 3*len(t.slots) {
		t.rehash(t.nextSize())
	}
	mask := uint64(len(t.slots) - 1)
	i := t.hash(&c.key) & mask
	for t.slots[i] != nil && t.slots[i] != tomb {
		i = (i + 1) & mask
	}
	if t.slots[i] == nil {
		t.used++
	}
	t.slots[i] = c
	t.n++
}

// del removes c, which the table holds, and returns the bytes the table
// freed: all of it when it became empty. It never moves other slots, so a
// range over the table may delete as it goes.
func (t *connTable) del(c *tconn) int64 {
	mask := uint64(len(t.slots) - 1)
	for i := t.hash(&c.key) & mask; t.slots[i] != nil; i = (i + 1) & mask {
		if t.slots[i] == c {
			t.slots[i] = tomb
			t.n--
			break
		}
	}
	if t.n > 0 {
		return 0
	}
	freed := t.bytes()
	t.slots, t.used = nil, 0
	return freed
}

func (t *connTable) rehash(size int) {
	old := t.slots
	t.slots, t.n, t.used = make([]*tconn, size), 0, 0
	for _, c := range old {
		if c != nil && c != tomb {
			t.put(c)
		}
	}
}

// each calls f on every connection; f may delete the one it is given.
func (t *connTable) each(f func(*tconn)) {
	for _, c := range t.slots {
		if c != nil && c != tomb {
			f(c)
		}
	}
}
