package lake

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/oklog/ulid/v2"
	"github.com/parquet-go/parquet-go"

	"github.com/flowlake/flowlake/storage/schema"
)

// compactSource is the source name of files written by compaction.
const compactSource = "compact"

// derived reports whether a dataset is built from another (a rollup): its
// builder writes one file per partition and names it after its inputs, so
// compaction leaves it alone.
func derived(dataset string) bool {
	d, err := schema.Lookup(dataset)
	return err == nil && d.DerivedFrom != ""
}

// Compact merges the segments of every hour partition that ended before
// `before` into as few files as cfg.CompactRows allows, flows clustered
// (cluster.go), other datasets in time order. It is
// CompactProgress without progress reports.
func (l *Lake) Compact(ctx context.Context, before time.Time) (CompactResult, error) {
	return l.CompactProgress(ctx, before, nil)
}

// CompactProgress merges the segments of every hour partition that ended
// before `before` into as few files as cfg.CompactRows allows — flows
// in sorted runs of the clustering order (cluster.go) under
// cfg.CompactMemory, other datasets in time order — and reports each partition it considered to progress (nil
// reports nothing). Each partition is a transaction under its lock, shared
// with other processes (Locker): the partition is listed afresh under the
// lock, the merged files are published, and their footers name the
// inputs they replace, so from that instant every catalog hides the
// inputs; the inputs are deleted Config.ReplacedGrace later, once no
// reader can still hold them. Two compactions of one partition, in one
// process or two, run one after the other, and the second finds nothing
// left to do. The multiset of rows is unchanged. Partitions already made
// of one file are left alone, and so are rollups.
func (l *Lake) CompactProgress(ctx context.Context, before time.Time, progress func(Progress)) (CompactResult, error) {
	var res CompactResult
	if err := l.catalog.refresh(ctx); err != nil {
		return res, err
	}
	snap, err := l.catalog.snapshot(ctx)
	if err != nil {
		return res, err
	}
	entries := snap.entries()
	type part struct {
		dataset string
		hour    time.Time
	}
	groups := map[part][]entry{}
	var order []part
	for _, e := range entries {
		if e.Problem != "" || e.Hour.Add(time.Hour).After(before) || derived(e.Dataset) {
			continue
		}
		p := part{e.Dataset, e.Hour}
		if groups[p] == nil {
			order = append(order, p)
		}
		groups[p] = append(groups[p], e)
	}
	order = slices.DeleteFunc(order, func(p part) bool { return !needsCompaction(groups[p], l.cfg.CompactRows) })
	pr := newProgressReporter(progress, len(order))
	for _, p := range order {
		key := partitionKey(p.dataset, p.hour)
		n, err := l.compactLocked(ctx, p.dataset, p.hour)
		if err != nil {
			return res, fmt.Errorf("compact %s: %w", key, err)
		}
		res.Partitions += n.Partitions
		res.FilesBefore += n.FilesBefore
		res.FilesAfter += n.FilesAfter
		res.Rows += n.Rows
		res.BytesBefore += n.BytesBefore
		res.BytesAfter += n.BytesAfter
		pr.step(key, n.Rows)
		// Delete what the grace period allows after every partition, not
		// once at the end: with no grace, engines that read the files
		// directly see an hour's inputs next to its outputs only for the
		// moment between its commit and these deletions.
		if err := l.catalog.collect(ctx); err != nil {
			return res, err
		}
	}
	if err := l.catalog.collect(ctx); err != nil {
		return res, err
	}
	return res, nil
}

// compactLocked compacts one partition under its lock, from a fresh
// listing: what an earlier snapshot said may be out of date.
func (l *Lake) compactLocked(ctx context.Context, dataset string, hour time.Time) (CompactResult, error) {
	var res CompactResult
	unlock, err := l.lockPartition(ctx, dataset, hour)
	if err != nil {
		return res, err
	}
	defer unlock()
	files, err := l.catalog.partition(ctx, dataset, hour)
	if err != nil {
		return res, err
	}
	// Under the lock no compaction of this partition is running: the
	// outputs of an incomplete run are a crash's leftovers, never seen by
	// readers, and can go now.
	_, partial := resolveCompactions(files)
	if err := l.deleteReplaced(ctx, slices.Sorted(maps.Keys(partial))); err != nil {
		return res, err
	}
	var inputs []entry
	for _, e := range live(files) {
		if e.Problem == "" && !partial[e.Key] {
			inputs = append(inputs, e)
		}
	}
	if !needsCompaction(inputs, l.cfg.CompactRows) {
		return res, nil // another compaction got here first
	}
	o, err := opsFor(dataset)
	if err != nil {
		return res, err
	}
	started := time.Now()
	outs, err := o.compact(ctx, l, hour, inputs)
	if err != nil {
		return res, err
	}
	var rowsIn, bytesIn, bytesOut int64
	for _, in := range inputs {
		rowsIn += in.Rows
		bytesIn += in.Bytes
	}
	for _, out := range outs {
		bytesOut += out.Bytes
	}
	res = CompactResult{Partitions: 1, FilesBefore: len(inputs), FilesAfter: len(outs), Rows: rowsIn, BytesBefore: bytesIn, BytesAfter: bytesOut}
	l.metrics.compactedFiles.WithLabelValues(dataset).Add(float64(len(inputs)))
	l.metrics.compactedRows.WithLabelValues(dataset).Add(float64(rowsIn))
	l.log.Debug("compacted partition", "partition", partitionKey(dataset, hour),
		"files_before", len(inputs), "files_after", len(outs), "rows", rowsIn,
		"bytes_before", bytesIn, "bytes_after", bytesOut, "took", time.Since(started).Round(time.Millisecond))
	return res, nil
}

// needsCompaction reports whether an hour's files could be fewer: more files
// than the row count needs.
func needsCompaction(files []entry, maxRows int) bool {
	var rows int64
	for _, f := range files {
		rows += f.Rows
	}
	need := int((rows + int64(maxRows) - 1) / int64(maxRows))
	return len(files) > max(need, 1)
}

// compactPartition k-way merges the sorted inputs of one hour into new
// files of at most cfg.CompactRows rows, each naming the inputs it
// replaces. The caller holds the partition's lock.
func compactPartition[T schema.Row](ctx context.Context, l *Lake, hour time.Time, inputs []entry) ([]Segment, error) {
	var total int64
	keys := make([]string, len(inputs))
	for i, in := range inputs {
		total += in.Rows
		keys[i] = in.Key
	}
	slices.Sort(keys)
	parts := int((total + int64(l.cfg.CompactRows) - 1) / int64(l.cfg.CompactRows))
	meta := map[string]string{
		metaReplaces:   strings.Join(keys, ","),
		metaCompaction: ulid.Make().String() + ":" + strconv.Itoa(parts),
	}

	m, err := newMerger[T](ctx, l, inputs)
	if err != nil {
		return nil, err
	}
	defer m.close()

	var outs []Segment
	// Flows are clustered: the time-ordered stream is cut into runs that
	// fit cfg.CompactMemory, each sorted and written as whole row groups.
	// Other datasets, and flows written without the column encoder, stay
	// in time order.
	_, clustered := any((*T)(nil)).(*schema.Flow)
	clustered = clustered && flowEncoder
	chunk := scanChunk
	if clustered {
		chunk = min(l.cfg.runRows(unsafe.Sizeof(schema.Flow{})), l.cfg.CompactRows, int(total))
	}
	buf := make([]T, 0, chunk)
	var perm []uint64
	for range parts {
		sw, err := newSegmentWriter[T](ctx, l, compactSource, hour)
		if err != nil {
			return nil, err
		}
		written := 0
		for written < l.cfg.CompactRows {
			buf = buf[:0]
			for len(buf) < cap(buf) && written+len(buf) < l.cfg.CompactRows && m.next() {
				buf = append(buf, *m.at())
			}
			if len(buf) == 0 {
				break
			}
			if cw, ok := any(sw).(clusterWriter); ok && clustered {
				perm, err = cw.writeClustered(any(buf).([]schema.Flow), flowCluster, perm)
			} else {
				err = sw.write(buf)
			}
			if err != nil {
				sw.abort()
				return nil, err
			}
			written += len(buf)
		}
		if m.err == nil && written == 0 {
			m.err = fmt.Errorf("%w: inputs hold fewer rows than their footers say", ErrCorrupt)
		}
		if m.err != nil {
			sw.abort()
			return nil, m.err
		}
		seg, err := sw.commit(meta)
		if err != nil {
			sw.abort()
			return nil, err
		}
		outs = append(outs, seg)
	}
	if m.next() || m.err != nil {
		return nil, errors.Join(m.err, fmt.Errorf("inputs hold more rows than their footers say"))
	}
	// Every output is durable: the run is complete and the catalog hides
	// the inputs. They are deleted after the grace period (catalog.collect).
	return outs, nil
}

// merger merges sorted segments by time.
type merger[T schema.Row] struct {
	ctx     context.Context
	sources []*mergeSource[T]
	h       mergeHeap[T]
	cur     *mergeSource[T]
	err     error
}

type mergeSource[T schema.Row] struct {
	obj  Object
	r    *parquet.GenericReader[T]
	buf  []T
	pos  int
	done bool
}

func newMerger[T schema.Row](ctx context.Context, l *Lake, inputs []entry) (*merger[T], error) {
	m := &merger[T]{ctx: ctx}
	for _, in := range inputs {
		obj, err := l.backend.Open(ctx, in.Key)
		if err != nil {
			m.close()
			return nil, fmt.Errorf("open segment %s: %w", in.Key, err)
		}
		f, err := openParquet(obj, obj.Size())
		if err == nil {
			_, err = inspect(f)
		}
		if err == nil {
			err = checkPagesGuarded(f) // inputs may be uploads: same checks as every reader
		}
		if err != nil {
			_ = obj.Close()
			m.close()
			return nil, fmt.Errorf("open segment %s: %w", in.Key, err)
		}
		s := &mergeSource[T]{obj: obj, r: parquet.NewGenericReader[T](f), buf: make([]T, 1024)}
		m.sources = append(m.sources, s)
		if err := s.fill(); err != nil {
			m.close()
			return nil, fmt.Errorf("read segment %s: %w", in.Key, err)
		}
		if !s.done {
			m.h = append(m.h, s)
		}
	}
	heap.Init(&m.h)
	return m, nil
}

// fill reads the next chunk of a source.
func (s *mergeSource[T]) fill() (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = recovered(p)
		}
	}()
	n, err := s.r.Read(s.buf[:cap(s.buf)])
	s.buf, s.pos = s.buf[:n], 0
	if errors.Is(err, io.EOF) {
		err = nil
		if n == 0 {
			s.done = true
		}
	}
	return err
}

// next advances to the next row in time order.
func (m *merger[T]) next() bool {
	if m.err != nil {
		return false
	}
	if m.cur != nil { // advance the source whose row was consumed
		s := m.cur
		m.cur = nil
		s.pos++
		if s.pos == len(s.buf) {
			if err := s.fill(); err != nil {
				m.err = err
				return false
			}
		}
		if s.done {
			heap.Pop(&m.h)
		} else {
			heap.Fix(&m.h, 0)
		}
	}
	if len(m.h) == 0 {
		return false
	}
	if err := m.ctx.Err(); err != nil {
		m.err = err
		return false
	}
	m.cur = m.h[0]
	return true
}

func (m *merger[T]) at() *T { return &m.cur.buf[m.cur.pos] }

func (m *merger[T]) close() {
	for _, s := range m.sources {
		_ = s.r.Close()
		_ = s.obj.Close()
	}
}

type mergeHeap[T schema.Row] []*mergeSource[T]

func (h mergeHeap[T]) Len() int { return len(h) }
func (h mergeHeap[T]) Less(i, j int) bool {
	return schema.EventTime(&h[i].buf[h[i].pos]) < schema.EventTime(&h[j].buf[h[j].pos])
}
func (h mergeHeap[T]) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *mergeHeap[T]) Push(x any)   { *h = append(*h, x.(*mergeSource[T])) }
func (h *mergeHeap[T]) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// checkPagesGuarded is checkPages with a panic turned into an error.
func checkPagesGuarded(f *parquet.File) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = recovered(p)
		}
	}()
	return checkPages(f)
}
