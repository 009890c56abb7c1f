package query

// The parallel merge of an aggregation: every worker's groups, and the
// groups its workers spilled, are split into aggParts radix partitions by
// a hash of their keys (once per group, never per row). Each partition is
// merged by one goroutine into a table of its own, so the merge uses every
// core without a lock; a TopN keeps only each partition's best groups
// (exact: a group among the first N overall is among the first N of its
// partition), so ordering and building the answer handle at most
// aggParts×N groups.

import (
	"context"
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"
)

// aggParts is the number of radix partitions of a merge or a spill.
const aggParts = 16

// partialAcc is an accumulator that can merge a subset of another's
// groups, which the partitioned merge needs.
type partialAcc interface {
	// mergeSome folds o's groups src[k] into this one's dst[k].
	mergeSome(o acc, src, dst []int32)
}

// aggMerge is one query's merge: its partition hash and spill files.
type aggMerge struct {
	c    *compiled
	cols []colDesc
	b    *budget
	seed maphash.Seed
	sp   *spiller // nil: no spilling
}

// partition is the radix partition of a group key.
func (m *aggMerge) partition(k string) int {
	return int(maphash.String(m.seed, k) >> 60) // aggParts = 16: the top 4 bits
}

// partitions lists g's groups by partition.
func (m *aggMerge) partitions(g *grouper) *[aggParts][]int32 {
	var parts [aggParts][]int32
	for i, k := range g.keys {
		p := m.partition(k)
		parts[p] = append(parts[p], int32(i))
	}
	return &parts
}

// partitionable says whether the groupers' metrics merge by partition.
func partitionable(g *grouper) bool {
	for _, a := range g.accs {
		if _, ok := a.(partialAcc); !ok {
			return false
		}
	}
	return true
}

// spill writes g's groups to a spill run and empties g; the caller
// charges what g holds then.
func (m *aggMerge) spill(g *grouper) error {
	if err := m.sp.write(g, m.partitions(g)); err != nil {
		return err
	}
	if m.sp.hook != nil {
		m.sp.mu.Lock()
		dir := m.sp.dir
		m.sp.mu.Unlock()
		m.sp.hook(dir)
	}
	g.dropGroups()
	return nil
}

// merge merges the workers' groups and the spilled runs, partition by
// partition on up to n goroutines, and returns one grouper holding every
// group (or, for a TopN, every partition's best). The workers' groupers
// are released.
func (m *aggMerge) merge(ctx context.Context, ws []*grouper, n int) (*grouper, int, error) {
	defer func() {
		for _, w := range ws {
			w.release()
		}
	}()
	if err := m.spillBeforeMerge(ws); err != nil {
		return nil, 0, err
	}
	parts := make([]*[aggParts][]int32, len(ws))
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			parts[i] = m.partitions(w)
		}()
	}
	wg.Wait()
	// The lists of group numbers are held until the merge ends.
	var listBytes int64
	for _, w := range ws {
		listBytes += int64(len(w.keys)) * 4
	}
	defer m.b.charge(-listBytes)
	if err := m.b.charge(listBytes); err != nil {
		return nil, 0, err
	}

	var runs []*spillRun
	if m.sp != nil {
		runs = m.sp.files()
	}
	out := make([]*grouper, aggParts)
	errs := make([]error, aggParts)
	counts := make([]int, aggParts)
	var next atomic.Int64
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range min(max(n, 1), aggParts) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				p := int(next.Add(1) - 1)
				if p >= aggParts {
					return
				}
				t, c, err := m.mergePart(p, ws, parts, runs)
				out[p], counts[p], errs[p] = t, c, err
				if err != nil {
					cancel()
					return
				}
			}
		}()
	}
	wg.Wait()
	release := func() {
		for _, t := range out {
			if t != nil {
				t.release()
			}
		}
	}
	for _, err := range errs {
		if err != nil {
			release()
			return nil, 0, err
		}
	}
	if err := ctx.Err(); err != nil {
		release()
		return nil, 0, err
	}
	groups := 0
	for _, c := range counts {
		groups += c
	}
	// The partitions become one grouper: their keys are distinct, so the
	// groups are appended without lookups.
	g := out[0]
	for _, t := range out[1:] {
		if err := g.appendAll(t); err != nil {
			release()
			return nil, 0, err
		}
		t.release()
	}
	return g, groups, g.charge()
}

// spillBeforeMerge spills the workers' groups when merging them in memory
// would pass the budget: the partitions, merged next to the workers'
// groups, take up to as much again. Read back one partition at a time,
// they need a partition's share of it per merging goroutine.
func (m *aggMerge) spillBeforeMerge(ws []*grouper) error {
	if m.sp == nil || m.b.limit <= 0 || !ws[0].spillable() {
		return nil
	}
	var held int64
	for _, w := range ws {
		held += w.used
	}
	if m.b.used.Load()+held <= m.b.limit {
		return nil
	}
	for _, w := range ws {
		if len(w.keys) > 0 {
			if err := m.spill(w); err != nil {
				return err
			}
			w.charge() // gives back: cannot fail while others spill too
			w.err = nil
		}
	}
	return nil
}

// mergePart merges partition p of every worker and spill run; it returns
// the partition's groups (a TopN's best) and how many there were.
func (m *aggMerge) mergePart(p int, ws []*grouper, parts []*[aggParts][]int32, runs []*spillRun) (*grouper, int, error) {
	t := newGrouper(m.c, m.cols, m.b)
	t.merging = true
	est := 0
	for i := range ws {
		est = max(est, len(parts[i][p]))
	}
	for _, r := range runs {
		est = max(est, (r.groups+aggParts-1)/aggParts)
	}
	// The table is sized for the largest input at once, charged first.
	if err := m.b.charge(t.presizeCost(est)); err != nil {
		return t, 0, err
	}
	t.used += t.presizeCost(est)
	t.presize(est)
	for i, w := range ws {
		if err := t.mergeSome(w, parts[i][p]); err != nil {
			return t, 0, err
		}
	}
	for _, r := range runs {
		if err := m.sp.read(r, p, t); err != nil {
			return t, 0, err
		}
	}
	if err := t.charge(); err != nil {
		return t, 0, err
	}
	n := len(t.keys)
	if m.c.limit > 0 && !m.c.q.Others && n > m.c.limit {
		k, err := m.top(t)
		return k, n, err
	}
	return t, n, nil
}

// top keeps t's first c.limit groups in the answer's order. When the
// order starts with a metric, only the groups whose metric is at least the
// limit-th best are decoded and ordered in full.
func (m *aggMerge) top(t *grouper) (*grouper, error) {
	if cand := m.candidates(t); cand != nil {
		k := newGrouper(m.c, m.cols, m.b)
		k.merging = true
		if err := k.mergeSome(t, cand); err != nil {
			k.release()
			return t, err
		}
		t.release()
		t = k
	}
	est := m.c.finishMemory(t)
	if err := m.b.charge(est); err != nil {
		return t, err
	}
	_, rows := m.c.orderGroups(t, m.cols)
	m.b.charge(-est)
	keep := make([]int32, min(m.c.limit, len(rows)))
	for i := range keep {
		keep[i] = int32(rows[i])
	}
	k := newGrouper(m.c, m.cols, m.b)
	k.merging = true
	if err := k.mergeSome(t, keep); err != nil {
		k.release()
		return t, err
	}
	t.release()
	return k, k.charge()
}

// candidates returns t's groups whose first order key, a metric, is at
// least as good as the limit-th best (ties at the cut included, so the
// full order decides among them); nil when the order does not start with
// a metric that depends on the group alone, or when it keeps them all.
func (m *aggMerge) candidates(t *grouper) []int32 {
	c := m.c
	if len(c.order) == 0 || c.order[0].col < len(c.dims) {
		return nil
	}
	mi := c.order[0].col - len(c.dims)
	if fn := c.metrics[mi].fn; fn == mBPS || fn == mPPS {
		return nil
	}
	n := len(t.keys)
	all := make([]int32, n)
	for i := range all {
		all[i] = int32(i)
	}
	col := t.accs[mi].out(all)
	desc := c.order[0].desc
	cmp := func(i, j int32) int {
		r := col.compare(int(i), int(j))
		if desc {
			r = -r
		}
		return r
	}
	slices.SortFunc(all, cmp)
	cut := c.limit
	for cut < n && cmp(all[cut], all[c.limit-1]) == 0 {
		cut++
	}
	if cut == n {
		return nil
	}
	return all[:cut]
}

// mergeSome folds o's groups src into g.
func (g *grouper) mergeSome(o *grouper, src []int32) error {
	if len(src) == 0 {
		return nil
	}
	dst := make([]int32, len(src))
	for k, i := range src {
		dst[k] = g.findOrAdd(o.keys[i])
		if k%chargeEvery == chargeEvery-1 {
			if err := g.charge(); err != nil {
				return err
			}
		}
	}
	for i, a := range g.accs {
		a.grow(len(g.keys))
		a.(partialAcc).mergeSome(o.accs[i], src, dst)
	}
	return g.charge()
}

// appendAll appends o's groups, none of which g holds, to g. g's tables
// do not learn them: the merged grouper is only read from here on.
func (g *grouper) appendAll(o *grouper) error {
	if len(o.keys) == 0 {
		return nil
	}
	// g grows by o's keys and accumulators: charge that first.
	if err := g.budget.charge(o.used); err != nil {
		return err
	}
	g.used += o.used
	src := make([]int32, len(o.keys))
	dst := make([]int32, len(o.keys))
	for i := range src {
		src[i], dst[i] = int32(i), int32(len(g.keys)+i)
	}
	g.keys = append(g.keys, o.keys...)
	g.keyBytes += o.keyBytes
	for i, a := range g.accs {
		a.grow(len(g.keys))
		a.(partialAcc).mergeSome(o.accs[i], src, dst)
	}
	return nil
}

func (a *countAcc) mergeSome(o acc, src, dst []int32) {
	on := o.(*countAcc).n
	for k, s := range src {
		a.n[dst[k]] += on[s]
	}
}

func (a *sumAcc) mergeSome(o acc, src, dst []int32) {
	os := o.(*sumAcc).s
	for k, s := range src {
		a.s[dst[k]] += os[s]
	}
}

func (a *minMaxAcc) mergeSome(o acc, src, dst []int32) {
	oa := o.(*minMaxAcc)
	for k, s := range src {
		if oa.set[s] {
			a.put(dst[k], oa.v[s])
		}
	}
}

func (a *avgAcc) mergeSome(o acc, src, dst []int32) {
	oa := o.(*avgAcc)
	for k, s := range src {
		a.s[dst[k]] += oa.s[s]
		a.n[dst[k]] += oa.n[s]
	}
}

func (a *approxAcc) mergeSome(o acc, src, dst []int32) {
	oh := o.(*approxAcc).h
	for k, s := range src {
		if int(s) < len(oh) && oh[s] != nil {
			a.mem += a.sketch(dst[k]).merge(oh[s])
		}
	}
}

// mergeSome reads o's pairs without compacting them: partitions merge
// from the same worker at once.
func (a *distinctAcc) mergeSome(o acc, src, dst []int32) {
	oa := o.(*distinctAcc)
	remap := make(map[int32]int32, len(src))
	for k, s := range src {
		remap[s] = dst[k]
	}
	ids := make(map[uint32]uint32)
	for _, p := range oa.pairs {
		d, ok := remap[int32(p>>32)]
		if !ok {
			continue
		}
		v := uint32(p)
		id, ok := ids[v]
		if !ok {
			id = a.vid(oa.vals[v])
			ids[v] = id
		}
		a.pairs = append(a.pairs, uint64(d)<<32|uint64(id))
	}
	a.compact()
}
