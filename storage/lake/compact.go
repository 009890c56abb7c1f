package lake

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

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
// `before` into as few time-sorted files as cfg.CompactRows allows, swapping
// them in atomically: the merged files are published first, then the inputs
// are deleted; readers see either the inputs or the outputs, never both, and
// the multiset of rows is unchanged. Partitions already made of one file are
// left alone, and so are rollups.
func (l *Lake) Compact(ctx context.Context, before time.Time) (CompactResult, error) {
	var res CompactResult
	if err := l.catalog.refresh(ctx); err != nil {
		return res, err
	}
	entries, err := l.catalog.snapshot(ctx)
	if err != nil {
		return res, err
	}
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
	for _, p := range order {
		inputs := groups[p]
		if !needsCompaction(inputs, l.cfg.CompactRows) {
			continue
		}
		o, err := opsFor(p.dataset)
		if err != nil {
			return res, err
		}
		started := time.Now()
		outs, err := o.compact(ctx, l, p.hour, inputs)
		if err != nil {
			return res, fmt.Errorf("compact %s: %w", partitionKey(p.dataset, p.hour), err)
		}
		var rowsIn, bytesIn, bytesOut int64
		for _, in := range inputs {
			rowsIn += in.Rows
			bytesIn += in.Bytes
		}
		for _, out := range outs {
			bytesOut += out.Bytes
		}
		res.Partitions++
		res.FilesBefore += len(inputs)
		res.FilesAfter += len(outs)
		res.Rows += rowsIn
		res.BytesBefore += bytesIn
		res.BytesAfter += bytesOut
		l.metrics.compactedFiles.WithLabelValues(p.dataset).Add(float64(len(inputs)))
		l.metrics.compactedRows.WithLabelValues(p.dataset).Add(float64(rowsIn))
		l.log.Info("compacted partition", "partition", partitionKey(p.dataset, p.hour),
			"files_before", len(inputs), "files_after", len(outs), "rows", rowsIn,
			"bytes_before", bytesIn, "bytes_after", bytesOut, "took", time.Since(started).Round(time.Millisecond))
	}
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
// files of at most cfg.CompactRows rows, then deletes the inputs.
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
	buf := make([]T, 0, scanChunk)
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
			if err := sw.write(buf); err != nil {
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
	// Every output is durable: the inputs can go.
	for _, k := range keys {
		if err := l.backend.Delete(ctx, k); err != nil {
			return outs, fmt.Errorf("delete compacted input: %w", err)
		}
	}
	l.catalog.remove(keys...)
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
			err = checkPages(f) // inputs may be uploads: same checks as every reader
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
			err = fmt.Errorf("%w: parquet decoder panic: %v", ErrCorrupt, p)
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
