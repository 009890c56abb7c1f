package query

import "encoding/binary"

// shortKey is the longest group key kept in grouper.short: a 16-byte
// address with its null marker and length.
const shortKey = 18

func (g *grouper) newGroup(key []byte) int32 {
	gi := int32(len(g.keys))
	k := string(key)
	g.keys = append(g.keys, k)
	g.keyBytes += allocSize(len(k))
	if len(g.keys)%chargeEvery == 0 && !g.merging {
		g.charge() // sets g.err, which stops the row group
	}
	return gi
}

// findOrAdd returns the group of key k, adding it when new.
func (g *grouper) findOrAdd(k string) int32 {
	if len(k) <= shortKey {
		var sk [shortKey]byte
		copy(sk[:], k)
		h := hashShort(&sk)
		if gi, ok := g.short.get(&sk, h); ok {
			return gi
		}
		gi := g.newGroupString(k)
		g.short.put(&sk, h, gi)
		return gi
	}
	if len(k) <= wideKey {
		wk, h, gi, ok := g.wideFind(k)
		if ok {
			return gi
		}
		gi = g.newGroupString(k)
		g.wide.put(wk, h, gi)
		return gi
	}
	if gi, ok := g.groups[k]; ok {
		return gi
	}
	gi := g.newGroupString(k)
	g.groups[k] = gi
	return gi
}

// newGroupString adds a group whose key is already a string.
func (g *grouper) newGroupString(k string) int32 {
	gi := int32(len(g.keys))
	g.keys = append(g.keys, k)
	g.keyBytes += allocSize(len(k))
	return gi
}

// presizeCost is what presize(n) allocates.
func (g *grouper) presizeCost(n int) int64 {
	return int64(tableSize(n))*24 + int64(n)*16
}

// presize sizes the tables and the key list for n groups, so that a merge
// does not rehash as it grows.
func (g *grouper) presize(n int) {
	if s := tableSize(n); s > len(g.short.slots) {
		g.short.resize(s)
	}
	g.keys = make([]string, 0, n)
}

// tableSize is the short table's size for n keys: a power of two at
// least twice n.
func tableSize(n int) int {
	s := 1 << 10
	for s < 2*n {
		s *= 2
	}
	return s
}

// lookup finds a group by its full key.
func (g *grouper) lookup(k string) (int32, bool) {
	if len(k) <= shortKey {
		var sk [shortKey]byte
		copy(sk[:], k)
		return g.short.get(&sk, hashShort(&sk))
	}
	if len(k) <= wideKey {
		_, _, gi, ok := g.wideFind(k)
		return gi, ok
	}
	gi, ok := g.groups[k]
	return gi, ok
}

// appendKey appends a dimension value's key bytes: a null marker, then
// 8 bytes big-endian for integers, or the bytes with a length prefix.
func (g *grouper) appendKey(key []byte, d int, code uint32) []byte {
	if code == 0 {
		return append(key, 0)
	}
	key = append(key, 1)
	dec := &g.dec[d]
	switch {
	case dec.mode == modeDict:
		b := dec.dict.at(int32(code - 1))
		key = binary.AppendUvarint(key, uint64(len(b)))
		return append(key, b...)
	case dec.mode == modeAddrs:
		key = binary.AppendUvarint(key, 16)
		return append(key, dec.addrs[code-1][:]...)
	case dec.mode == modeVals:
		return binary.BigEndian.AppendUint64(key, uint64(dec.vals[code-1]))
	}
	return binary.BigEndian.AppendUint64(key, uint64(dec.base+int64(code)-1))
}

// decodeKey splits a group key into its dimension values; nil is null.
// isBytes says which dimensions hold length-prefixed bytes (the others
// hold 8-byte integers).
func decodeKey(key string, isBytes []bool) [][]byte {
	out := make([][]byte, len(isBytes))
	b := []byte(key)
	for d, isB := range isBytes {
		if len(b) == 0 {
			return out
		}
		isNull := b[0] == 0
		b = b[1:]
		if isNull {
			continue
		}
		n := uint64(8)
		if isB {
			var k int
			n, k = binary.Uvarint(b)
			b = b[k:]
		}
		out[d], b = b[:n], b[n:]
	}
	return out
}
