package query

import "encoding/binary"

// shortTable maps group keys of up to shortKey bytes to groups. It is the
// grouper's hot table: a group-by on hosts looks up every distinct address
// of every row group in it, and with hundreds of thousands of hosts the
// table outgrows the caches, so each lookup is a memory access. The key
// is inline (one access), and lookups come in batches whose slots are
// touched first, so the accesses overlap.
type shortTable = inlineTable[[shortKey]byte]

func newShortTable() *shortTable { return newInlineTable(hashShort) }

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
