package lake

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math/bits"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"

	"github.com/flowlake/flowlake/storage/schema"
)

// Write publishes rows into the lake as segments of source: it orders them
// by time, splits them at hour boundaries and publishes one segment per hour
// atomically. rows is left as it was. When Write returns nil, every row is
// durable; on error, the segments already published stay and are returned
// with the error.
func Write[T schema.Row](ctx context.Context, l *Lake, source string, rows []T) ([]Segment, error) {
	st, err := Stage(ctx, l, source, rows)
	if err != nil {
		return nil, err
	}
	return st.Commit()
}

// Staged is segments Stage encoded and stored that are not yet published:
// invisible, not durable, holding no rows in memory. Commit publishes them;
// Abort discards them. A writer stages a batch and hands the slow part of
// publishing (fsync, rename, directory fsync) to another goroutine, so a
// storage stall does not stop it from encoding the next batch.
type Staged struct {
	segs    []stagedSegment
	rows    int64
	refused int64
}

// stagedSegment is a segmentWriter whose file is finished.
type stagedSegment interface {
	publish(extra map[string]string) (Segment, error)
	abort()
}

// Rows returns the number of rows staged.
func (st *Staged) Rows() int64 { return st.rows }

// Refused returns the number of rows Stage left out because their time is
// outside [MinEventTime, MaxEventTime); they are counted in
// flowlake_lake_rows_refused_total and logged, never stored.
func (st *Staged) Refused() int64 { return st.refused }

// Commit publishes the staged segments in time order, each atomically.
// When it returns nil, every row is durable; on error, the segments
// already published stay and are returned with the error, and the others
// are discarded.
func (st *Staged) Commit() ([]Segment, error) {
	out := make([]Segment, 0, len(st.segs))
	for i, sw := range st.segs {
		seg, err := sw.publish(nil)
		if err != nil {
			for _, rest := range st.segs[i:] {
				rest.abort()
			}
			st.segs = nil
			return out, err
		}
		out = append(out, seg)
	}
	st.segs = nil
	return out, nil
}

// Abort discards the staged segments. It is safe after Commit, which makes
// it a no-op.
func (st *Staged) Abort() {
	for _, sw := range st.segs {
		sw.abort()
	}
	st.segs = nil
}

// Stage encodes rows like Write — ordered by time, one segment per hour —
// and stores the segments without publishing them. rows is left as it was
// and may be reused once Stage returns. On error nothing is left staged.
func Stage[T schema.Row](ctx context.Context, l *Lake, source string, rows []T) (*Staged, error) {
	if err := validSource(source); err != nil {
		return nil, err
	}
	st := &Staged{}
	if err := stageRows(ctx, l, source, rows, st); err != nil {
		st.Abort()
		return nil, err
	}
	return st, nil
}

// stageRows stages rows into st, in parts when there are more than a
// permutation can index.
func stageRows[T schema.Row](ctx context.Context, l *Lake, source string, rows []T, st *Staged) error {
	if len(rows) > indexMask {
		if err := stageRows(ctx, l, source, rows[:indexMask], st); err != nil {
			return err
		}
		return stageRows(ctx, l, source, rows[indexMask:], st)
	}
	if len(rows) == 0 {
		return nil
	}
	order := timeOrder(rows)
	defer order.release()
	for start := 0; start < len(rows); {
		hour := hourOf(schema.EventTime(&rows[order.index(start)]))
		next := schema.Micros(hour.Add(time.Hour))
		// The hour ends at the first later row: a binary search, where a
		// scan would read every row once more, out of order.
		end := start + 1 + sort.Search(len(rows)-start-1, func(i int) bool {
			return schema.EventTime(&rows[order.index(start+1+i)]) >= next
		})
		if err := checkHour(hour); err != nil {
			// Rows are in time order: those out of range are a run at
			// either end. They are refused and counted, never stored
			// under a partition no reader can parse.
			l.refuse(schema.DatasetOf[T]().Name, source, end-start, err)
			st.refused += int64(end - start)
			start = end
			continue
		}
		sw, err := writeOrdered(ctx, l, source, hour, rows, order, start, end)
		if err != nil {
			return err
		}
		st.segs = append(st.segs, sw)
		st.rows += int64(end - start)
		start = end
	}
	return nil
}

// writeOrdered encodes rows order[start:end] of one hour into a finished,
// unpublished segment, gathering them in time order through a small buffer
// when rows are not already sorted.
func writeOrdered[T schema.Row](ctx context.Context, l *Lake, source string, hour time.Time, rows []T, order permutation, start, end int) (*segmentWriter[T], error) {
	sw, err := newSegmentWriter[T](ctx, l, source, hour)
	if err != nil {
		return nil, err
	}
	switch {
	case order == nil:
		err = sw.write(rows[start:end])
	case sw.fw != nil:
		// Flows gather and transpose in one pass (flow_writer.go).
		sw.span(schema.EventTime(&rows[order.index(start)]), schema.EventTime(&rows[order.index(end-1)]), end-start)
		err = sw.fw.addOrdered(any(rows).([]schema.Flow), order, start, end)
	default:
		buf := make([]T, 0, min(gatherChunk, end-start))
		for i := start; i < end && err == nil; i++ {
			buf = append(buf, rows[order[i]&indexMask])
			if len(buf) == cap(buf) || i == end-1 {
				err = sw.write(buf)
				buf = buf[:0]
			}
		}
	}
	if err == nil {
		err = sw.finish(nil)
	}
	if err != nil {
		sw.abort()
		return nil, err
	}
	return sw, nil
}

// flowEncoder selects the column-at-a-time encoder for flows (always,
// outside tests: export_test.go compares it with GenericWriter).
var flowEncoder = true

// gatherChunk is how many rows writeOrdered copies at a time.
const gatherChunk = 8192

// permutation lists rows in time order, each element packing the row's time
// offset from the batch's earliest time above its index: sorting plain
// uint64s is several times faster than sorting indexes with a comparator,
// and keeps equal times in input order. nil means "already sorted".
type permutation []uint64

const (
	indexBits = 24
	indexMask = 1<<indexBits - 1
)

// permBuffers keeps the permutations of finished batches and the radix
// sort's scratch space for the next batch (across collections up to 256 Ki
// rows: 2 MiB).
var permBuffers = newFreeList(4, func(b []uint64) bool { return cap(b) <= 256<<10 })

// getPermBuffer returns a buffer of n elements with any content.
func getPermBuffer(n int) []uint64 {
	if b, ok := permBuffers.get(); ok && cap(b) >= n {
		return b[:n]
	}
	return make([]uint64, n)
}

// release recycles p's memory; p must not be used after.
func (p permutation) release() {
	if p != nil {
		permBuffers.put(p)
	}
}

func (p permutation) index(i int) int {
	if p == nil {
		return i
	}
	return int(p[i] & indexMask)
}

// timeOrder returns the time order of rows, or nil if they are sorted. It
// reads the rows once (their times go into the permutation's slice, then
// become keys there): rows are large and the reads miss the cache.
func timeOrder[T schema.Row](rows []T) permutation {
	p := permutation(getPermBuffer(len(rows)))
	lo, hi := schema.EventTime(&rows[0]), schema.EventTime(&rows[0])
	sorted := true
	prev := lo
	for i := range rows {
		t := schema.EventTime(&rows[i])
		p[i] = uint64(t)
		sorted = sorted && t >= prev
		prev = t
		lo, hi = min(lo, t), max(hi, t)
	}
	if sorted {
		p.release()
		return nil
	}
	if uint64(hi-lo) < 1<<(64-indexBits) {
		for i, t := range p {
			p[i] = uint64(int64(t)-lo)<<indexBits | uint64(i)
		}
		tmp := getPermBuffer(len(p))
		radixSortAbove(p, tmp, indexBits, indexBits+bits.Len64(uint64(hi-lo)))
		permBuffers.put(tmp)
		return p
	}
	// Rare: a batch spanning over 6 years. Sort indexes by key.
	for i := range p {
		p[i] = uint64(i)
	}
	slices.SortStableFunc(p, func(a, b uint64) int {
		return cmp.Compare(schema.EventTime(&rows[a]), schema.EventTime(&rows[b]))
	})
	return p
}

// segmentWriter streams sorted rows of one hour into a new segment.
type segmentWriter[T schema.Row] struct {
	l    *Lake
	d    *schema.Dataset
	seg  Segment
	up   Upload
	cw   *countingWriter
	pw   *parquet.GenericWriter[T]
	fw   *flowWriter // flows: the column-at-a-time encoder instead of pw
	pool *sync.Pool
	min  int64
	max  int64
}

func newSegmentWriter[T schema.Row](ctx context.Context, l *Lake, source string, hour time.Time) (*segmentWriter[T], error) {
	d := schema.DatasetOf[T]()
	if err := checkHour(hour); err != nil {
		return nil, fmt.Errorf("new %s segment: %w", d.Name, err)
	}
	key := segmentKey(d.Name, hour, source, ulid.Make())
	up, err := l.backend.Create(ctx, key)
	if err != nil {
		return nil, err
	}
	sw := &segmentWriter[T]{l: l, d: d, up: up, cw: &countingWriter{w: up}, pool: l.writerPool(d.Name),
		seg: Segment{Dataset: d.Name, Key: key, Source: source, Hour: hour}}
	if _, ok := any((*T)(nil)).(*schema.Flow); ok && flowEncoder {
		if sw.fw, err = newFlowWriter(sw.cw, l.cfg); err != nil {
			_ = up.Abort()
			return nil, err
		}
		return sw, nil
	}
	sw.pw, _ = sw.pool.Get().(*parquet.GenericWriter[T])
	if sw.pw == nil {
		sw.pw = parquet.NewGenericWriter[T](sw.cw, l.writerOptions(d)...)
	} else {
		sw.pw.Reset(sw.cw)
	}
	return sw, nil
}

// write appends rows, which must be sorted and follow earlier rows.
func (sw *segmentWriter[T]) write(rows []T) error {
	if len(rows) == 0 {
		return nil
	}
	sw.span(schema.EventTime(&rows[0]), schema.EventTime(&rows[len(rows)-1]), len(rows))
	var err error
	if sw.fw != nil {
		err = sw.fw.add(any(rows).([]schema.Flow))
	} else {
		_, err = sw.pw.Write(rows)
	}
	if err != nil {
		return fmt.Errorf("encode segment %s: %w", sw.seg.Key, err)
	}
	return nil
}

// span records that n rows with times in [first, last] follow the rows
// written so far (in time order, or a clustered run in any order).
func (sw *segmentWriter[T]) span(first, last int64, n int) {
	if sw.seg.Rows == 0 {
		sw.min, sw.max = first, last
	}
	sw.min, sw.max = min(sw.min, first), max(sw.max, last)
	sw.seg.Rows += int64(n)
}

// commit finishes the file and publishes it; extra metadata (compaction
// bookkeeping) goes into the footer.
func (sw *segmentWriter[T]) commit(extra map[string]string) (Segment, error) {
	if err := sw.finish(extra); err != nil {
		return Segment{}, err
	}
	return sw.publish(extra)
}

// finish writes the footer, with extra metadata (compaction bookkeeping),
// and hands the file to the backend: what is left is to publish it.
func (sw *segmentWriter[T]) finish(extra map[string]string) error {
	if sw.fw != nil {
		kv := map[string]string{
			schema.MetaFormatVersion: schema.FormatVersion,
			schema.MetaDataset:       sw.d.Name,
			schema.MetaSource:        sw.seg.Source,
			schema.MetaMinTime:       strconv.FormatInt(sw.min, 10),
			schema.MetaMaxTime:       strconv.FormatInt(sw.max, 10),
			metaReplaces:             extra[metaReplaces],
			metaCompaction:           extra[metaCompaction],
		}
		err := sw.fw.close(kv)
		sw.fw = nil
		if err != nil {
			return fmt.Errorf("encode segment %s: %w", sw.seg.Key, err)
		}
		return sw.flush()
	}
	pw := sw.pw
	pw.SetKeyValueMetadata(schema.MetaSource, sw.seg.Source)
	pw.SetKeyValueMetadata(schema.MetaMinTime, strconv.FormatInt(sw.min, 10))
	pw.SetKeyValueMetadata(schema.MetaMaxTime, strconv.FormatInt(sw.max, 10))
	for _, k := range []string{metaReplaces, metaCompaction} {
		pw.SetKeyValueMetadata(k, extra[k])
	}
	if err := pw.Close(); err != nil {
		return fmt.Errorf("encode segment %s: %w", sw.seg.Key, err)
	}
	sw.pool.Put(pw) // only writers that closed cleanly are reused
	sw.pw = nil
	return sw.flush()
}

// flush hands the finished file to the backend, so a staged segment holds
// no buffer.
func (sw *segmentWriter[T]) flush() error {
	if err := sw.up.Flush(); err != nil {
		return fmt.Errorf("write segment %s: %w", sw.seg.Key, err)
	}
	return nil
}

// publish commits the finished file and adds it to the catalog.
func (sw *segmentWriter[T]) publish(extra map[string]string) (Segment, error) {
	if err := sw.up.Commit(); err != nil {
		return Segment{}, err
	}
	seg := sw.seg
	seg.Bytes = sw.cw.n
	seg.MinTime, seg.MaxTime = schema.FromMicros(sw.min), schema.FromMicros(sw.max)
	now := time.Now()
	e := entry{Segment: seg, Size: seg.Bytes, ModTime: now, addedAt: now}
	e.setCompaction(extra[metaReplaces], extra[metaCompaction])
	sw.l.catalog.add(e)
	m := sw.l.metrics
	m.segmentsWritten.WithLabelValues(seg.Dataset).Inc()
	m.rowsWritten.WithLabelValues(seg.Dataset).Add(float64(seg.Rows))
	m.bytesWritten.WithLabelValues(seg.Dataset).Add(float64(seg.Bytes))
	return seg, nil
}

// abort discards an uncommitted segment; after commit it does nothing.
func (sw *segmentWriter[T]) abort() {
	if sw.fw != nil {
		sw.fw.release()
		sw.fw = nil
	}
	_ = sw.up.Abort()
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// writerPool returns the pool of *parquet.GenericWriter of a dataset: a
// writer holds a page buffer per column, too much to allocate per segment.
func (l *Lake) writerPool(dataset string) *sync.Pool {
	p, _ := l.writers.LoadOrStore(dataset, &sync.Pool{})
	return p.(*sync.Pool)
}

// writerOptions are the Parquet settings of every segment of d: zstd,
// row groups of cfg.RowGroupRows, statistics and page indexes, bloom filters
// on address columns, the sort order and the format metadata.
func (l *Lake) writerOptions(d *schema.Dataset) []parquet.WriterOption {
	opts := []parquet.WriterOption{
		parquet.Compression(&zstd.Codec{Level: zstd.SpeedFastest}),
		parquet.MaxRowsPerRowGroup(int64(l.cfg.RowGroupRows)),
		parquet.CreatedBy("flowlake", schema.FormatVersion, ""),
		// Page min/max live in the column index; repeating them in every
		// page header costs a second pass over each page for nothing.
		parquet.DataPageStatistics(false),
		parquet.SortingWriterConfig(parquet.SortingColumns(parquet.Ascending(schema.ColTime))),
		parquet.KeyValueMetadata(schema.MetaFormatVersion, schema.FormatVersion),
		parquet.KeyValueMetadata(schema.MetaDataset, d.Name),
	}
	var blooms []parquet.BloomFilterColumn
	for i := range d.Type.NumField() {
		if d.Type.Field(i).Type == reflect.TypeFor[schema.Addr]() {
			blooms = append(blooms, parquet.SplitBlockFilter(l.cfg.BloomBitsPerValue, d.Columns[i].Name))
		}
	}
	if len(blooms) > 0 {
		opts = append(opts, parquet.BloomFilters(blooms...))
	}
	return opts
}

// radixSort sorts permutation keys, their low keyBits bits (higher bits
// are zero), least significant digit first: linear time, where a comparison
// sort of millions of keys spends more time than encoding them. The low
// indexBits bits are not sorted on: they are the row indexes, ascending in
// p, and a stable sort on the time bits alone leaves them ascending among
// equal times (half the passes of a sort on the whole key).
func radixSort(p []uint64, keyBits int) { radixSortAbove(p, nil, indexBits, keyBits) }

// radixSortAbove sorts p stably by bits [lowBits, keyBits) of its elements
// (higher bits are zero), least significant digit first, using tmp as
// scratch space if it is large enough.
func radixSortAbove(p, tmp []uint64, lowBits, keyBits int) {
	const digit = 11
	if cap(tmp) < len(p) {
		tmp = make([]uint64, len(p))
	}
	tmp = tmp[:len(p)]
	src, dst := p, tmp
	var count [1 << digit]int
	for shift := lowBits; shift < keyBits; shift += digit {
		clear(count[:])
		for _, v := range src {
			count[v>>shift&(1<<digit-1)]++
		}
		sum := 0
		for i, c := range count {
			count[i], sum = sum, sum+c
		}
		for _, v := range src {
			d := v >> shift & (1<<digit - 1)
			dst[count[d]] = v
			count[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &p[0] {
		copy(p, src)
	}
}
