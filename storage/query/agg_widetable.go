package query

import "encoding/binary"

// wideKey is the longest group key kept in a wideTable: two addresses
// with their null markers and lengths (36 bytes: a conversation), or an
// address, a port and a time bucket (36).
const wideKey = 40

// wideTable maps group keys of shortKey+1 to wideKey bytes to groups, as
// shortTable does for shorter ones.
type wideTable = inlineTable[[wideKey]byte]

func newWideTable() *wideTable { return newInlineTable(hashWide) }

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
