package query

import (
	"errors"
	"math/bits"
	"net/netip"

	"github.com/flowlake/flowlake/storage/schema"
)

// grouper is one worker's hash aggregation. Each row group is grouped
// locally first — dimension values become small dense codes (dictionary
// ids for byte columns, offsets for integer columns, one code per masked
// prefix or time bucket), a row's codes combine into a local group found
// through a direct table or an integer map — and only each local group
// (not each row) is looked up by its full key in the worker's table.
// Metrics then accumulate straight into the worker's groups.
type grouper struct {
	c        *compiled
	cols     []colDesc
	groups   map[string]int32 // long keys
	short    *shortTable      // keys of up to shortKey bytes
	wide     *wideTable       // keys of up to wideKey bytes (nil until one)
	keys     []string         // group key bytes, by group
	accs     []acc
	bk       *bucketer
	budget   *budget
	used     int64 // bytes charged to the budget
	keyBytes int64 // the keys' allocations
	err      error // the budget refused: stop adding groups
	merging  bool  // merge charged for its groups up front
	// spill, when set, takes the groups to disk when the budget refuses
	// more (spill.go); nil: the budget's refusal ends the query.
	spill *aggMerge

	// The largest the per-row-group maps have been: cleared maps keep
	// their tables.
	lmapMax, wmapMax, imapMax, nmapMax int

	codes [][]uint32 // per dim, per selected row
	cards []uint64   // per dim: codes are < card
	dec   []dimDecode
	gsel  []int32 // global group per selected row
	local []int32 // direct table: combined code -> global group + 1
	touch []uint64
	pend  []int32  // a selected row of each new local group
	kbuf  []uint64 // combined code per selected row
	sink  int32    // keeps resolve's slot reads
	lmap  map[uint64]int32
	wmap  map[[maxDims]uint32]int32
	key   []byte
}

// dimDecode turns a dimension code back into key bytes. Its buffers and
// maps are reused from row group to row group.
type dimDecode struct {
	mode  decodeMode
	dict  *dict         // modeDict: value of code-1
	addrs []schema.Addr // modeAddrs: masked address of code-1
	vals  []int64       // modeVals: value of code-1
	base  int64         // modeBase: value = base + code - 1
	imap  map[int64]uint32
	nmap  map[schema.Addr]uint32
}

type decodeMode uint8

const (
	modeBase decodeMode = iota
	modeVals
	modeDict
	modeAddrs
)

func newGrouper(c *compiled, cols []colDesc, b *budget) *grouper {
	g := &grouper{c: c, cols: cols, groups: map[string]int32{}, short: newShortTable(), budget: b}
	g.accs = newAccs(c.metrics, cols)
	if c.timeDim >= 0 {
		g.bk = newBucketer(c.dims[c.timeDim].bucket, c.loc)
	}
	g.codes = make([][]uint32, len(c.dims))
	g.cards = make([]uint64, len(c.dims))
	g.dec = make([]dimDecode, len(c.dims))
	return g
}

// spillChunk is how many rows a grouper that may spill adds between two
// charges when the budget is near: it spills between chunks, never within
// one, so no group is left half added.
const spillChunk = chargeEvery

// add aggregates the selected rows of b. A grouper that may spill adds
// them in chunks when the budget is near, and spills its groups when the
// budget refuses a chunk's.
func (g *grouper) add(b *batch, sel []int32) error {
	if g.spill == nil {
		return g.addRows(b, sel)
	}
	g.merging = true // charge per chunk, not within one
	chunk := len(sel)
	if lim := g.budget.limit; lim > 0 && int64(len(sel))*g.perGroup(2*shortKey) > (lim-g.budget.used.Load())/2 {
		chunk = spillChunk
	}
	for len(sel) > 0 {
		n := min(len(sel), chunk)
		if err := g.addRows(b, sel[:n]); err != nil {
			if !errors.Is(err, ErrMemoryBudget) {
				return err
			}
			if err := g.spillOut(); err != nil {
				return err
			}
			chunk = spillChunk
		}
		sel = sel[n:]
	}
	return nil
}

// spillOut writes the groups to disk and empties the grouper. With no
// group to spill, the budget's refusal stands. After a spill the budget
// may still be over its limit because of the other workers' groups: each
// of them spills at its next charge, so this one goes on.
func (g *grouper) spillOut() error {
	g.err = nil
	if len(g.keys) == 0 {
		return g.charge()
	}
	if err := g.spill.spill(g); err != nil {
		return err
	}
	g.charge() // a refusal here is the other workers' groups
	g.err = nil
	return nil
}

// dropGroups empties the grouper after a spill; its per-row-group
// buffers stay.
func (g *grouper) dropGroups() {
	g.groups = map[string]int32{}
	g.short = newShortTable()
	g.wide = nil
	g.keys = nil
	g.keyBytes = 0
	g.err = nil
	g.accs = g.accs[:0]
	for _, m := range g.c.metrics {
		g.accs = append(g.accs, newAcc(m, &g.cols[max(m.col, 0)]))
	}
}

// addRows aggregates the selected rows of b.
func (g *grouper) addRows(b *batch, sel []int32) error {
	if len(sel) == 0 {
		return nil
	}
	for d := range g.c.dims {
		g.codeDim(d, b, sel)
	}
	g.gsel = grow(g.gsel, int64(len(sel)))
	g.assign(sel)
	if g.err != nil {
		return g.err
	}
	for _, a := range g.accs {
		a.grow(len(g.keys))
		a.add(b, sel, g.gsel)
	}
	return g.charge()
}

// codeDim fills g.codes[d] for the selected rows; 0 is null.
func (g *grouper) codeDim(d int, b *batch, sel []int32) {
	dim := g.c.dims[d]
	v := b.vecs[dim.col]
	codes := grow(g.codes[d], int64(len(sel)))
	g.codes[d] = codes
	dec := &g.dec[d]
	dec.addrs, dec.vals, dec.dict = dec.addrs[:0], dec.vals[:0], nil
	switch {
	case dim.kind == dimNet:
		if dec.nmap == nil {
			dec.nmap = map[schema.Addr]uint32{}
		}
		clear(dec.nmap)
		g.nmapMax = max(g.nmapMax, v.dict.len())
		entry := make([]uint32, v.dict.len())
		for i := range entry {
			var a schema.Addr
			copy(a[:], v.dict.at(int32(i)))
			m := maskAddr(a, dim.v4, dim.v6)
			c, ok := dec.nmap[m]
			if !ok {
				dec.addrs = append(dec.addrs, m)
				c = uint32(len(dec.addrs))
				dec.nmap[m] = c
			}
			entry[i] = c
		}
		for i, r := range sel {
			if id := v.ids[r]; id >= 0 {
				codes[i] = entry[id]
			} else {
				codes[i] = 0
			}
		}
		dec.mode = modeAddrs
		g.cards[d] = uint64(len(dec.addrs) + 1)
	case g.cols[dim.col].bytes:
		for i, r := range sel {
			codes[i] = uint32(v.ids[r] + 1)
		}
		dec.mode, dec.dict = modeDict, v.dict
		g.cards[d] = uint64(v.dict.len() + 1)
	case dim.kind == dimTime:
		g.codeMapped(d, sel, func(r int32) int64 { return g.bk.start(v.ints[r]) }, nil)
	default:
		lo, hi, any := int64(0), int64(0), false
		for _, r := range sel {
			if v.null != nil && v.null[r] {
				continue
			}
			x := v.ints[r]
			if !any || x < lo {
				lo = x
			}
			if !any || x > hi {
				hi = x
			}
			any = true
		}
		if any && uint64(hi-lo) < 1<<20 {
			for i, r := range sel {
				if v.null != nil && v.null[r] {
					codes[i] = 0
				} else {
					codes[i] = uint32(v.ints[r]-lo) + 1
				}
			}
			dec.mode, dec.base = modeBase, lo
			g.cards[d] = uint64(hi-lo) + 2
			return
		}
		g.codeMapped(d, sel, func(r int32) int64 { return v.ints[r] }, v.null)
	}
}

// codeMapped codes integer values through a map, caching the last value
// (time buckets of sorted rows repeat).
func (g *grouper) codeMapped(d int, sel []int32, value func(int32) int64, null []bool) {
	dec := &g.dec[d]
	if dec.imap == nil {
		dec.imap = map[int64]uint32{}
	}
	clear(dec.imap)
	defer func() { g.imapMax = max(g.imapMax, len(dec.imap)) }()
	dec.mode = modeVals
	codes := g.codes[d]
	var last int64
	var lastCode uint32
	for i, r := range sel {
		if null != nil && null[r] {
			codes[i] = 0
			continue
		}
		x := value(r)
		if lastCode == 0 || x != last {
			c, ok := dec.imap[x]
			if !ok {
				dec.vals = append(dec.vals, x)
				c = uint32(len(dec.vals))
				dec.imap[x] = c
			}
			last, lastCode = x, c
		}
		codes[i] = lastCode
	}
	g.cards[d] = uint64(len(dec.vals) + 1)
}

// maskAddr keeps the first v4 bits of an IPv4-mapped address, or the
// first v6 bits of an IPv6 one.
func maskAddr(a schema.Addr, v4, v6 int) schema.Addr {
	ip := netip.AddrFrom16(a)
	var p netip.Prefix
	if ip.Is4In6() {
		p, _ = ip.Unmap().Prefix(v4)
	} else {
		p, _ = ip.Prefix(v6)
	}
	return schema.AddrFrom(p.Addr())
}

const directLimit = 1 << 20

// assign finds the global group of every selected row into g.gsel.
func (g *grouper) assign(sel []int32) {
	nd := len(g.c.dims)
	if nd == 0 {
		if len(g.keys) == 0 {
			g.global(0)
		}
		clear(g.gsel[:len(sel)])
		return
	}
	product, overflow := uint64(1), false
	for _, c := range g.cards {
		hi, lo := bits.Mul64(product, c)
		overflow = overflow || hi != 0
		product = lo
	}
	switch {
	case !overflow && product <= directLimit:
		// Local groups are found first, then their worker groups in
		// batches (resolve), then every row's group.
		g.local = grow(g.local, int64(product))
		g.kbuf = grow(g.kbuf, int64(len(sel)))
		g.touch, g.pend = g.touch[:0], g.pend[:0]
		for i := range sel {
			k := g.combined(i)
			g.kbuf[i] = k
			if g.local[k] == 0 {
				g.local[k] = -1
				g.touch = append(g.touch, k)
				g.pend = append(g.pend, int32(i))
			}
		}
		g.resolve()
		for i, k := range g.kbuf[:len(sel)] {
			g.gsel[i] = g.local[k] - 1
		}
		for _, k := range g.touch {
			g.local[k] = 0
		}
	case !overflow:
		if g.lmap == nil {
			g.lmap = map[uint64]int32{}
		}
		clear(g.lmap)
		for i := range sel {
			k := g.combined(i)
			gi, ok := g.lmap[k]
			if !ok {
				if g.err != nil {
					break
				}
				gi = g.global(i)
				g.lmap[k] = gi
			}
			g.gsel[i] = gi
		}
		g.lmapMax = max(g.lmapMax, len(g.lmap))
	default:
		if g.wmap == nil {
			g.wmap = map[[maxDims]uint32]int32{}
		}
		clear(g.wmap)
		for i := range sel {
			var k [maxDims]uint32
			for d := range nd {
				k[d] = g.codes[d][i]
			}
			gi, ok := g.wmap[k]
			if !ok {
				if g.err != nil {
					break
				}
				gi = g.global(i)
				g.wmap[k] = gi
			}
			g.gsel[i] = gi
		}
		g.wmapMax = max(g.wmapMax, len(g.wmap))
	}
}

func (g *grouper) combined(i int) uint64 {
	k := uint64(0)
	for d := range g.cards {
		k = k*g.cards[d] + uint64(g.codes[d][i])
	}
	return k
}

// resolveBatch is how many new local groups resolve looks up at once.
const resolveBatch = 16

// resolve finds the worker group of each pending local group (g.pend
// holds a selected row of each, g.touch its combined code) into g.local.
// The table slots of a batch are read before any is probed, so their
// cache misses overlap instead of queueing.
func (g *grouper) resolve() {
	var (
		keys [resolveBatch][shortKey]byte
		lens [resolveBatch]int
		hs   [resolveBatch]uint64
	)
	for start := 0; start < len(g.pend) && g.err == nil; start += resolveBatch {
		batch := g.pend[start:min(start+resolveBatch, len(g.pend))]
		for j, i := range batch {
			key := g.key[:0]
			for d := range g.c.dims {
				key = g.appendKey(key, d, g.codes[d][i])
			}
			g.key = key
			lens[j] = len(key)
			if len(key) <= shortKey {
				keys[j] = [shortKey]byte{}
				copy(keys[j][:], key)
				hs[j] = hashShort(&keys[j])
			}
		}
		// A loop this small keeps every load of the batch in flight at
		// once.
		var sink int32
		for j := range batch {
			if lens[j] <= shortKey {
				sink += g.short.touch(hs[j])
			}
		}
		g.sink += sink
		for j, i := range batch {
			var gi int32
			if lens[j] <= shortKey {
				var ok bool
				if gi, ok = g.short.get(&keys[j], hs[j]); !ok {
					gi = g.newGroup(keys[j][:lens[j]])
					g.short.put(&keys[j], hs[j], gi)
				}
			} else {
				gi = g.global(int(i))
			}
			g.local[g.touch[start+j]] = gi + 1
		}
	}
}

// global returns the worker's group of the codes at selected row i,
// creating it when new.
func (g *grouper) global(i int) int32 {
	key := g.key[:0]
	for d := range g.c.dims {
		key = g.appendKey(key, d, g.codes[d][i])
	}
	g.key = key
	if len(key) <= shortKey {
		// One address, or up to two integers: a fixed-size key hashes
		// faster than a string and holds no pointer. The key encoding is
		// prefix-free, so zero padding cannot make two keys equal.
		var sk [shortKey]byte
		copy(sk[:], key)
		h := hashShort(&sk)
		if gi, ok := g.short.get(&sk, h); ok {
			return gi
		}
		gi := g.newGroup(key)
		g.short.put(&sk, h, gi)
		return gi
	}
	if len(key) <= wideKey {
		wk, h, gi, ok := g.wideFind(string(key))
		if ok {
			return gi
		}
		gi = g.newGroup(key)
		g.wide.put(wk, h, gi)
		return gi
	}
	if gi, ok := g.groups[string(key)]; ok {
		return gi
	}
	gi := g.newGroup(key)
	g.groups[g.keys[gi]] = gi
	return gi
}

// merge folds another worker's groups into g and gives o's memory back:
// o is empty afterwards. Before it adds groups it charges the worst case,
// every group of o new to g.
func (g *grouper) merge(o *grouper) error {
	var pre int64
	if len(o.keys) > 0 {
		pre = int64(len(o.keys))*(4+g.perGroup(int(o.keyBytes)/len(o.keys))) + mapBytes(len(o.keys), 24)
	}
	g.used += pre
	if err := g.budget.charge(pre); err != nil {
		return err
	}
	g.merging = true
	defer func() { g.merging = false }()
	remap := make([]int32, len(o.keys))
	for i, k := range o.keys {
		gi, ok := g.lookup(k)
		if !ok {
			gi = g.newGroup([]byte(k))
			if len(k) <= shortKey {
				var sk [shortKey]byte
				copy(sk[:], k)
				g.short.put(&sk, hashShort(&sk), gi)
			} else if len(k) <= wideKey {
				wk, h, _, _ := g.wideFind(k)
				g.wide.put(wk, h, gi)
			} else {
				g.groups[k] = gi
			}
		}
		remap[i] = gi
	}
	for i, a := range g.accs {
		a.grow(len(g.keys))
		a.merge(o.accs[i], remap)
	}
	o.release()
	return g.charge()
}

// release drops the worker's groups and gives their memory back.
func (g *grouper) release() {
	g.budget.charge(-g.used) // giving back never fails
	g.used = 0
	*g = grouper{c: g.c, cols: g.cols, budget: g.budget}
}
