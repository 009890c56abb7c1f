package query

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// pruneExpr is the filter and the time range: what pruning may use.
func (c *compiled) pruneExpr() Expr {
	t := func(op Op, v int64) Expr {
		return Compare{Column: schema.ColTime, Op: op, Value: Value{Kind: KindTime, Int: v}}
	}
	if c.implied != nil {
		return newAnd(t(OpGe, c.from), t(OpLt, c.to), c.implied, c.filter)
	}
	return newAnd(t(OpGe, c.from), t(OpLt, c.to), c.filter)
}

// parkFilesAbove is how many files a query may hold open at once; one
// over more (a year of hourly files) keeps their parsed footers but gives
// each descriptor back between uses, and reopens the file to scan it.
const parkFilesAbove = 256

// planUnits finds the row groups to scan: segments by time from the
// catalog, row groups by statistics and bloom filters, rows by page index.
func (r *queryRun) planUnits(ctx context.Context) error {
	c := r.c
	segs, err := r.e.segments(ctx, c.d.Name, schema.FromMicros(c.from), schema.FromMicros(c.to))
	if err != nil {
		return fmt.Errorf("query %s: list segments: %w", c.d.Name, err)
	}
	hours := map[time.Time]bool{}
	for _, s := range segs {
		hours[s.Hour] = true
	}
	r.stats.Files, r.stats.Partitions = len(segs), len(hours)
	pr := &pruner{e: c.pruneExpr(), cols: r.cols}
	if r.streamOK && !c.listing && len(segs) > parkFilesAbove {
		r.stream, r.segs, r.pr = true, segs, pr
		return nil
	}
	r.park = len(segs) > parkFilesAbove
	r.files = make([]*lake.SegmentFile, len(segs))
	r.releases = make([]func(), len(segs))
	perFile := make([][]unit, len(segs))
	fileStats := make([]Stats, len(segs))
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, r.e.cfg.Workers)
	for w := range r.e.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(segs) || ctx.Err() != nil {
					return
				}
				f, release, err := r.open(ctx, segs[i], len(segs), &fileStats[i])
				if err != nil {
					errs[w] = err
					return
				}
				if f == nil {
					continue
				}
				units, err := planFile(f, pr, r.cols, &fileStats[i])
				if err != nil {
					release()
					errs[w] = err
					return
				}
				if len(units) == 0 {
					// Nothing to scan: its footer goes now, not when
					// the query ends.
					release()
					continue
				}
				if r.park {
					f.Park()
				}
				r.files[i], r.releases[i] = f, release
				perFile[i] = units
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for i := range segs {
		r.units = append(r.units, perFile[i]...)
		r.stats.addPlan(&fileStats[i])
	}
	for i := range r.units {
		c.planned(&r.units[i], &r.stats)
	}
	// Scan in time order: a time-sorted listing can stop early, and
	// workers stay on nearby data.
	slices.SortStableFunc(r.units, func(a, b unit) int { return cmp.Compare(a.tmin, b.tmin) })
	if c.listing && len(c.order) > 0 && c.order[0].col == 0 && c.order[0].desc {
		slices.SortStableFunc(r.units, func(a, b unit) int { return cmp.Compare(b.tmax, a.tmax) })
	}
	return nil
}

// open acquires seg, one of a query's n files. A file that cannot be read
// is skipped with a warning and counted in st (f nil, no error); a file
// gone from the snapshot, a full descriptor table and a cancelled context
// are errors.
func (r *queryRun) open(ctx context.Context, seg lake.Segment, n int, st *Stats) (f *lake.SegmentFile, release func(), err error) {
	f, release, err = r.e.files.acquire(ctx, seg)
	if err == nil {
		n := r.held.Add(1)
		if r.e.hooks.held != nil {
			r.e.hooks.held(n)
		}
		give := release
		return f, func() { r.held.Add(-1); give() }, nil
	}
	if ctx.Err() != nil {
		return nil, nil, ctx.Err()
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("%w: %w", errSnapshotGone, err)
	}
	if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
		// Not an unreadable file: the process is out of descriptors, and
		// every later file would be "skipped" too.
		return nil, nil, fmt.Errorf("query %s: opening its %d files: %w (raise the open-file limit, ulimit -n, or compact the lake)", r.c.d.Name, n, err)
	}
	r.e.log.Warn("query: skipping unreadable segment", "segment", seg.Key, "err", err)
	r.warn(seg.Key, err.Error())
	st.FilesSkipped++
	return nil, nil, nil
}

// planned counts a planned unit's rows and compressed bytes in st.
func (c *compiled) planned(u *unit, st *Stats) {
	for _, rr := range u.ranges {
		st.RowsPlanned += rr.hi - rr.lo
	}
	if md := u.file.File.Metadata(); u.rg < len(md.RowGroups) {
		chunks := md.RowGroups[u.rg].Columns
		for _, k := range c.needCols {
			if k < len(chunks) {
				st.BytesPlanned += chunks[k].MetaData.TotalCompressedSize
			}
		}
	}
}

// addPlan adds o's planning counts to s.
func (s *Stats) addPlan(o *Stats) {
	s.FilesSkipped += o.FilesSkipped
	s.RowGroups += o.RowGroups
	s.RowGroupsPruned += o.RowGroupsPruned
	s.RowGroupsBloom += o.RowGroupsBloom
	s.PagesPruned += o.PagesPruned
	s.RowsPlanned += o.RowsPlanned
	s.BytesPlanned += o.BytesPlanned
}

// streamFiles plans and scans the files of a streamed run (queryRun.stream)
// one at a time, taking the next from next, and gives each back as soon
// as it is scanned: the run holds one footer per worker.
func (w *worker) streamFiles(ctx context.Context, next *atomic.Int64) error {
	r := w.r
	for {
		if err := ctx.Err(); err != nil {
			return nil // execute reports the cause
		}
		i := int(next.Add(1) - 1)
		if i >= len(r.segs) {
			return nil
		}
		f, release, err := r.open(ctx, r.segs[i], len(r.segs), &w.plan)
		if err != nil {
			return err
		}
		if f == nil {
			continue
		}
		err = w.streamFile(f, release)
		if err != nil {
			return err
		}
	}
}

// streamFile plans and scans one file, then releases it.
func (w *worker) streamFile(f *lake.SegmentFile, release func()) error {
	defer release()
	units, err := planFile(f, w.r.pr, w.r.cols, &w.plan)
	if err != nil {
		return err
	}
	for i := range units {
		w.r.c.planned(&units[i], &w.plan)
		if err := w.scan(&units[i]); err != nil {
			return err
		}
	}
	return nil
}

// planFile prunes one segment's row groups and pages.
func planFile(f *lake.SegmentFile, pr *pruner, cols []colDesc, st *Stats) (units []unit, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("plan segment %s: parquet decoder panic: %v", f.Segment.Key, p)
		}
	}()
	for i, rg := range f.RowGroups() {
		st.RowGroups++
		ok, bloom := pr.rowGroupMay(rg, f.Column)
		if !ok {
			if bloom {
				st.RowGroupsBloom++
			} else {
				st.RowGroupsPruned++
			}
			continue
		}
		ranges, pruned := pr.pageRanges(rg, f.Column)
		st.PagesPruned += pruned
		if len(ranges) == 0 {
			st.RowGroupsPruned++
			continue
		}
		u := unit{file: f, rg: i, group: rg, ranges: ranges, tmin: f.Segment.MinTime.UnixMicro(), tmax: f.Segment.MaxTime.UnixMicro()}
		if lo, hi, ok := chunkBounds(rg.ColumnChunks()[f.Column(0)]); ok { // time: required, never missing
			u.tmin, u.tmax = valueInt(&cols[0], lo), valueInt(&cols[0], hi)
		}
		units = append(units, u)
	}
	return units, nil
}
