package query

import "math/bits"

// chargeEvery is how many new groups a worker makes between two charges
// within a row group, so that a row group of all-new groups cannot take
// a worker far past the budget before it is charged.
const chargeEvery = 8192

// charge brings the budget up to date with the worker's memory: the
// groups' keys, their tables, the accumulators, and the tables each row
// group reuses.
func (g *grouper) charge() error {
	now := g.memory()
	delta := now - g.used
	g.used = now
	err := g.budget.charge(delta)
	if err != nil && g.err == nil {
		g.err = err
	}
	return err
}

// memory is what the worker holds, in bytes.
func (g *grouper) memory() int64 {
	now := int64(cap(g.keys))*16 + g.keyBytes + g.short.memory() + g.wide.memory() + mapBytes(len(g.groups), 24)
	for _, a := range g.accs {
		now += a.memory()
	}
	for d := range g.codes {
		now += int64(cap(g.codes[d])) * 4
		dec := &g.dec[d]
		now += int64(cap(dec.addrs))*16 + int64(cap(dec.vals))*8
	}
	now += int64(cap(g.gsel)+cap(g.local)+cap(g.pend))*4 + int64(cap(g.kbuf)+cap(g.touch))*8
	now += mapBytes(g.lmapMax, 16) + mapBytes(g.wmapMax, 4*maxDims+8) + mapBytes(g.imapMax, 16) + mapBytes(g.nmapMax, 24)
	return now
}

// perGroup is what one more group costs the worker at most: its key, its
// slot in the key list and table, its accumulators.
func (g *grouper) perGroup(keyLen int) int64 {
	n := int64(20) + allocSize(keyLen) // the key list grows by a quarter
	switch {
	case keyLen <= shortKey:
		n += 4 * (*shortTable)(nil).slotBytes() // the table is a quarter to half full
	case keyLen <= wideKey:
		n += 4 * (*wideTable)(nil).slotBytes()
	default:
		n += 2 * 32 // a map slot, before and after it doubles
	}
	for _, a := range g.accs {
		n += a.perGroup()
	}
	return n
}

// mapBytes estimates a Go map of n entries of slot bytes each (key and
// value): tables of eight slots and a control word, at most 7/8 full,
// doubling.
func mapBytes(n int, slot int64) int64 {
	if n == 0 {
		return 0
	}
	slots := int64(8)
	for slots*7/8 < int64(n) {
		slots *= 2
	}
	return slots * (slot + 1)
}

// allocSize is what the allocator gives for n bytes: its size classes
// round up to 16 bytes, then to an eighth of the size.
func allocSize(n int) int64 {
	switch {
	case n == 0:
		return 0
	case n <= 8:
		return 8
	case n <= 128:
		return int64(n+15) &^ 15
	}
	step := int64(1) << (bits.Len(uint(n)) - 3)
	return (int64(n) + step - 1) &^ (step - 1)
}
