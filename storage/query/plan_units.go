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
	r.park = len(segs) > parkFilesAbove
	r.files = make([]*lake.SegmentFile, len(segs))
	r.releases = make([]func(), len(segs))
	perFile := make([][]unit, len(segs))
	fileStats := make([]Stats, len(segs))
	pr := &pruner{e: c.pruneExpr(), cols: r.cols}
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
				f, release, err := r.e.files.acquire(ctx, segs[i])
				if err != nil {
					if ctx.Err() != nil {
						errs[w] = ctx.Err()
						return
					}
					if errors.Is(err, fs.ErrNotExist) {
						errs[w] = fmt.Errorf("%w: %w", errSnapshotGone, err)
						return
					}
					if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
						// Not an unreadable file: the process is out of
						// descriptors, and every later file would be
						// "skipped" too.
						errs[w] = fmt.Errorf("query %s: opening its %d files: %w (raise the open-file limit, ulimit -n, or compact the lake)", c.d.Name, len(segs), err)
						return
					}
					r.e.log.Warn("query: skipping unreadable segment", "segment", segs[i].Key, "err", err)
					r.warn(segs[i].Key, err.Error())
					fileStats[i].FilesSkipped++
					continue
				}
				r.files[i], r.releases[i] = f, release
				units, err := planFile(f, pr, r.cols, &fileStats[i])
				if r.park {
					f.Park()
				}
				if err != nil {
					errs[w] = err
					return
				}
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
		s := &fileStats[i]
		r.stats.FilesSkipped += s.FilesSkipped
		r.stats.RowGroups += s.RowGroups
		r.stats.RowGroupsPruned += s.RowGroupsPruned
		r.stats.RowGroupsBloom += s.RowGroupsBloom
		r.stats.PagesPruned += s.PagesPruned
	}
	for i := range r.units {
		u := &r.units[i]
		for _, rr := range u.ranges {
			r.stats.RowsPlanned += rr.hi - rr.lo
		}
		if md := u.file.File.Metadata(); u.rg < len(md.RowGroups) {
			chunks := md.RowGroups[u.rg].Columns
			for _, k := range c.needCols {
				if k < len(chunks) {
					r.stats.BytesPlanned += chunks[k].MetaData.TotalCompressedSize
				}
			}
		}
	}
	// Scan in time order: a time-sorted listing can stop early, and
	// workers stay on nearby data.
	slices.SortStableFunc(r.units, func(a, b unit) int { return cmp.Compare(a.tmin, b.tmin) })
	if c.listing && len(c.order) > 0 && c.order[0].col == 0 && c.order[0].desc {
		slices.SortStableFunc(r.units, func(a, b unit) int { return cmp.Compare(b.tmax, a.tmax) })
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
		ok, bloom := pr.rowGroupMay(rg)
		if !ok {
			if bloom {
				st.RowGroupsBloom++
			} else {
				st.RowGroupsPruned++
			}
			continue
		}
		ranges, pruned := pr.pageRanges(rg)
		st.PagesPruned += pruned
		if len(ranges) == 0 {
			st.RowGroupsPruned++
			continue
		}
		u := unit{file: f, rg: i, group: rg, ranges: ranges, tmin: f.Segment.MinTime.UnixMicro(), tmax: f.Segment.MaxTime.UnixMicro()}
		if lo, hi, ok := chunkBounds(rg.ColumnChunks()[0]); ok {
			u.tmin, u.tmax = valueInt(&cols[0], lo), valueInt(&cols[0], hi)
		}
		units = append(units, u)
	}
	return units, nil
}
