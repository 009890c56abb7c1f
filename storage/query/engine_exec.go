package query

// The execution of a planned query: its workers scan the row groups in
// parallel and merge what they aggregated.

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// worker is one scanning goroutine's state.
type worker struct {
	*scanBuffers
	r     *queryRun
	pred  predicate
	vecs  []*vector
	inner predicate // the filter alone, for row groups inside the time range
	batch *batch    // the row group being scanned
	group *grouper
	list  *lister
	join  *joiner // nil without a lease join
	st    Stats
	plan  Stats // streamFiles' planning counts
	mem   int64
}

func (r *queryRun) newWorker() (*worker, error) {
	c := r.c
	pred, err := compilePredicate(c.pruneExpr(), r.cols)
	if err != nil {
		return nil, err
	}
	inner, err := compilePredicate(c.filter, r.cols)
	if err != nil {
		return nil, err
	}
	sb, _ := r.e.buffers.Get().(*scanBuffers)
	if sb == nil {
		sb = &scanBuffers{}
	}
	w := &worker{scanBuffers: sb, r: r, pred: pred, inner: inner, vecs: make([]*vector, len(r.cols))}
	for _, i := range c.needCols {
		if r.cols[i].virtual != nil {
			// The join's vectors point at the index's shared values:
			// they stay out of the pooled buffers, which decode into
			// their dictionaries.
			w.vecs[i] = &vector{}
			continue
		}
		w.vecs[i] = sb.vector(i)
	}
	if c.join != nil {
		if r.leases == nil {
			return nil, fmt.Errorf("query: lease join without its index") // unreachable: prepareOn loads it
		}
		w.join = &joiner{x: r.leases, plan: c.join}
	}
	if c.listing {
		w.list = newLister(c, r.cols, r.budget)
	} else {
		w.group = newGrouper(c, r.cols, r.budget)
		if r.agg.sp != nil && w.group.spillable() {
			w.group.spill = r.agg
		}
	}
	return w, nil
}

// execute scans the planned units in parallel and assembles the result.
func (r *queryRun) execute(ctx context.Context) (*Result, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	n := min(r.e.cfg.Workers, max(len(r.units), 1))
	if r.stream {
		n = min(r.e.cfg.Workers, max(len(r.segs), 1))
	}
	r.agg = &aggMerge{c: r.c, cols: r.cols, b: r.budget, seed: maphash.MakeSeed()}
	if !r.c.listing && r.e.cfg.SpillLimit > 0 {
		r.agg.sp = newSpiller(r.e.cfg.SpillDir, r.e.cfg.SpillLimit)
		r.agg.sp.hook = r.e.hooks.spilled
		// The files go whatever happens: success, error or cancel.
		defer func() {
			if err := r.agg.sp.close(); err != nil {
				r.e.log.Warn("query: remove spill files", "err", err)
			}
		}()
	}
	workers := make([]*worker, n)
	for i := range workers {
		w, err := r.newWorker()
		if err != nil {
			return nil, err
		}
		workers[i] = w
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r.stream {
				if err := w.streamFiles(ctx, &next); err != nil {
					cancel(err)
				}
				return
			}
			for {
				if ctx.Err() != nil {
					return
				}
				i := int(next.Add(1) - 1)
				if i >= len(r.units) {
					return
				}
				if err := w.scan(&r.units[i]); err != nil {
					cancel(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, w := range workers {
		r.budget.charge(-w.mem)
	}
	// The groups and listed rows hold copies: the buffers go back now.
	defer func() {
		for _, w := range workers {
			r.e.buffers.Put(w.scanBuffers)
			w.scanBuffers = nil
		}
	}()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	for _, w := range workers {
		r.stats.add(&w.st)
		r.stats.addPlan(&w.plan)
		if w.join != nil {
			r.joined.RowsWithoutSrcLease += w.join.miss[0]
			r.joined.RowsWithoutDstLease += w.join.miss[1]
		}
	}
	mem := r.e.cfg.Allocator
	res := &Result{}
	if r.c.listing {
		l := workers[0].list
		for _, w := range workers[1:] {
			l.merge(w.list)
		}
		r.stats.CandidateRowsListed = l.candidates
		est := l.finishMemory()
		if err := r.budget.charge(est); err != nil {
			return nil, err
		}
		res.Schema, res.Records, res.Cursor = l.finish(mem, r.stats.RowGroupsSkipped > 0)
		res.bytes = recordsBytes(res.Records)
		if err := r.budget.charge(res.bytes - est); err != nil {
			res.Release()
			return nil, err
		}
	} else {
		g, groups, err := r.mergeGroups(ctx, workers)
		if err != nil {
			return nil, err
		}
		r.stats.Groups = groups
		// Building the answer holds its columns, then its records, next
		// to the groups: reserve that first.
		est := r.c.finishMemory(g)
		if err := r.budget.charge(est); err != nil {
			return nil, err
		}
		if r.e.hooks.finished != nil {
			r.c.built = func() { r.e.hooks.finished(r.budget.used.Load()) }
		}
		res.Schema, res.Records = r.c.finishAggregate(g, r.cols, mem)
		res.bytes = recordsBytes(res.Records)
		if err := r.budget.charge(res.bytes - est); err != nil {
			res.Release()
			return nil, err
		}
	}
	r.stats.PeakMemory = r.budget.peak.Load()
	return res, nil
}

// mergeGroups merges the workers' groups (and any they spilled), by
// partition in parallel when every metric can, and returns them with the
// number of groups before a TopN kept the best of each partition.
func (r *queryRun) mergeGroups(ctx context.Context, workers []*worker) (*grouper, int, error) {
	gs := make([]*grouper, len(workers))
	for i, w := range workers {
		gs[i] = w.group
	}
	if sp := r.agg.sp; sp != nil {
		r.stats.SpilledRuns, r.stats.SpilledBytes = sp.stats()
	}
	if !partitionable(gs[0]) {
		// A metric that cannot merge by partition (percentiles): one
		// grouper takes the others' groups.
		g := gs[0]
		for _, o := range gs[1:] {
			if err := g.merge(o); err != nil {
				return nil, 0, err
			}
		}
		return g, len(g.keys), g.charge()
	}
	return r.agg.merge(ctx, gs, r.e.cfg.Workers)
}

func (s *Stats) add(o *Stats) {
	s.RowGroupsScanned += o.RowGroupsScanned
	s.RowGroupsSkipped += o.RowGroupsSkipped
	s.PagesRead += o.PagesRead
	s.RowsScanned += o.RowsScanned
	s.RowsMatched += o.RowsMatched
	s.BytesRead += o.BytesRead
}

// scan decodes one row group, filters it and feeds the matching rows on.
func (w *worker) scan(u *unit) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("scan segment %s row group %d: parquet decoder panic: %v", u.file.Segment.Key, u.rg, p)
		}
	}()
	if w.r.park {
		defer u.file.Park()
	}
	if w.list != nil && w.list.canSkip(u) {
		w.st.RowGroupsSkipped++
		return nil
	}
	n := u.group.NumRows()
	b := batch{n: n, ranges: u.ranges, vecs: w.vecs}
	w.batch = &b
	if w.join != nil {
		w.join.seq++
	}
	// A row group inside the time range needs no range check, and often no
	// time column at all. The filter's columns come first: the others are
	// decoded only when some row passed.
	c := w.r.c
	ph, pred := &c.phases[0], w.pred
	if u.tmin >= c.from && u.tmax < c.to {
		ph, pred = &c.phases[1], w.inner
	}
	if err := w.read(u, n, ph.filter); err != nil {
		return err
	}
	w.st.RowGroupsScanned++
	w.mask = grow(w.mask, n)
	pred.eval(&b, w.mask)
	w.sel = w.sel[:0]
	for _, rr := range u.ranges {
		w.st.RowsScanned += rr.hi - rr.lo
		for i := rr.lo; i < rr.hi; i++ {
			if w.mask[i] {
				w.sel = append(w.sel, int32(i))
			}
		}
	}
	if len(w.sel) == 0 {
		return nil
	}
	if err := w.read(u, n, ph.rest); err != nil {
		return err
	}
	w.st.RowsMatched += int64(len(w.sel))
	if w.join != nil {
		w.join.count(w.sel)
	}
	if w.list != nil {
		return w.list.add(&b, u, w.sel)
	}
	if err := w.group.add(&b, w.sel); err != nil {
		return err
	}
	if n := w.r.e.hooks.spillEvery; n > 0 && w.group.spill != nil && w.st.RowGroupsScanned%n == 0 {
		return w.group.spillOut()
	}
	return nil
}

// read decodes columns cols of u's row group into the worker's vectors.
func (w *worker) read(u *unit, n int64, cols []int) error {
	for _, i := range cols {
		if jc := w.r.cols[i].virtual; jc != nil {
			w.join.fill(jc, w.batch, w.vecs[i])
			continue
		}
		if err := w.readColumn(u, n, i); err != nil {
			return err
		}
	}
	err := w.chargeVectors()
	if errors.Is(err, ErrMemoryBudget) && w.group != nil && w.group.spill != nil && len(w.group.keys) > 0 {
		// The decoded columns do not fit next to the groups: the groups
		// go to disk.
		if err := w.group.spillOut(); err != nil {
			return err
		}
		err = w.r.budget.charge(0)
	}
	return err
}

// readColumn decodes column i of u's row group into the worker's vector.
func (w *worker) readColumn(u *unit, n int64, i int) error {
	c := &w.r.cols[i]
	if leaf := u.file.Column(i); leaf != c.leaf {
		if leaf < 0 {
			// Written before the dataset gained this optional column
			// (the lake refuses files missing a required one).
			fillNull(c, n, w.vecs[i], w.r.c.filterOnly[i])
			return nil
		}
		fc := *c // a copy for this file only: its columns are in another order
		fc.leaf = leaf
		c = &fc
	}
	read, pages, err := w.dec.readColumn(u.file.File, u.rg, c, n, u.ranges, w.vecs[i], w.r.c.filterOnly[i])
	w.st.BytesRead += read
	w.st.PagesRead += pages
	if err != nil {
		return fmt.Errorf("scan segment %s row group %d: %w", u.file.Segment.Key, u.rg, err)
	}
	return nil
}

// chargeVectors charges the worker's decode buffers to the budget.
func (w *worker) chargeVectors() error {
	var now int64
	for _, v := range w.vecs {
		if v == nil {
			continue
		}
		now += int64(cap(v.ints))*8 + int64(cap(v.ids))*4 + int64(cap(v.null)) + int64(cap(v.codes))*4 + int64(cap(v.dvals))*8
		if v.dict != nil {
			now += int64(len(v.dict.fixed)) + int64(len(v.dict.strs))*24
		}
	}
	now += int64(cap(w.mask)) + int64(cap(w.sel))*4
	if w.join != nil {
		now += w.join.memory()
	}
	delta := now - w.mem
	w.mem = now
	return w.r.budget.charge(delta)
}
