package lake

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math/bits"
	"reflect"
	"slices"
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
	if err := validSource(source); err != nil {
		return nil, err
	}
	if len(rows) > indexMask { // beyond what a permutation can index: in parts
		segs, err := Write(ctx, l, source, rows[:indexMask])
		if err != nil {
			return segs, err
		}
		more, err := Write(ctx, l, source, rows[indexMask:])
		return append(segs, more...), err
	}
	if len(rows) == 0 {
		return nil, nil
	}
	order := timeOrder(rows)
	var segs []Segment
	for start := 0; start < len(rows); {
		hour := hourOf(schema.EventTime(&rows[order.index(start)]))
		next := schema.Micros(hour.Add(time.Hour))
		end := start + 1
		for end < len(rows) && schema.EventTime(&rows[order.index(end)]) < next {
			end++
		}
		seg, err := writeOrdered(ctx, l, source, hour, rows, order, start, end)
		if err != nil {
			return segs, err
		}
		segs = append(segs, seg)
		start = end
	}
	return segs, nil
}

// writeOrdered publishes rows order[start:end] of one hour as a segment,
// gathering them in time order through a small buffer when rows are not
// already sorted.
func writeOrdered[T schema.Row](ctx context.Context, l *Lake, source string, hour time.Time, rows []T, order permutation, start, end int) (Segment, error) {
	sw, err := newSegmentWriter[T](ctx, l, source, hour)
	if err != nil {
		return Segment{}, err
	}
	defer sw.abort()
	if order == nil {
		err = sw.write(rows[start:end])
	} else {
		buf := make([]T, 0, min(gatherChunk, end-start))
		for i := start; i < end && err == nil; i++ {
			buf = append(buf, rows[order[i]&indexMask])
			if len(buf) == cap(buf) || i == end-1 {
				err = sw.write(buf)
				buf = buf[:0]
			}
		}
	}
	if err != nil {
		return Segment{}, err
	}
	return sw.commit(nil)
}

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

func (p permutation) index(i int) int {
	if p == nil {
		return i
	}
	return int(p[i] & indexMask)
}

// timeOrder returns the time order of rows, or nil if they are sorted.
func timeOrder[T schema.Row](rows []T) permutation {
	lo, hi := schema.EventTime(&rows[0]), schema.EventTime(&rows[0])
	sorted := true
	prev := lo
	for i := range rows {
		t := schema.EventTime(&rows[i])
		sorted = sorted && t >= prev
		prev = t
		lo, hi = min(lo, t), max(hi, t)
	}
	if sorted {
		return nil
	}
	p := make(permutation, len(rows))
	if uint64(hi-lo) < 1<<(64-indexBits) {
		for i := range rows {
			p[i] = uint64(schema.EventTime(&rows[i])-lo)<<indexBits | uint64(i)
		}
		radixSort(p, indexBits+bits.Len64(uint64(hi-lo)))
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
	pool *sync.Pool
	min  int64
	max  int64
}

func newSegmentWriter[T schema.Row](ctx context.Context, l *Lake, source string, hour time.Time) (*segmentWriter[T], error) {
	d := schema.DatasetOf[T]()
	key := segmentKey(d.Name, hour, source, ulid.Make())
	up, err := l.backend.Create(ctx, key)
	if err != nil {
		return nil, err
	}
	sw := &segmentWriter[T]{l: l, d: d, up: up, cw: &countingWriter{w: up}, pool: l.writerPool(d.Name),
		seg: Segment{Dataset: d.Name, Key: key, Source: source, Hour: hour}}
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
	if sw.seg.Rows == 0 {
		sw.min = schema.EventTime(&rows[0])
	}
	sw.max = schema.EventTime(&rows[len(rows)-1])
	sw.seg.Rows += int64(len(rows))
	if _, err := sw.pw.Write(rows); err != nil {
		return fmt.Errorf("encode segment %s: %w", sw.seg.Key, err)
	}
	return nil
}

// commit finishes the file and publishes it; extra metadata (compaction
// bookkeeping) goes into the footer.
func (sw *segmentWriter[T]) commit(extra map[string]string) (Segment, error) {
	pw := sw.pw
	pw.SetKeyValueMetadata(schema.MetaSource, sw.seg.Source)
	pw.SetKeyValueMetadata(schema.MetaMinTime, strconv.FormatInt(sw.min, 10))
	pw.SetKeyValueMetadata(schema.MetaMaxTime, strconv.FormatInt(sw.max, 10))
	for _, k := range []string{metaReplaces, metaCompaction} {
		pw.SetKeyValueMetadata(k, extra[k])
	}
	if err := pw.Close(); err != nil {
		return Segment{}, fmt.Errorf("encode segment %s: %w", sw.seg.Key, err)
	}
	sw.pool.Put(pw) // only writers that closed cleanly are reused
	sw.pw = nil
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
func (sw *segmentWriter[T]) abort() { _ = sw.up.Abort() }

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

// radixSort sorts p by its low keyBits bits (higher bits are zero), least
// significant digit first: linear time, where a comparison sort of millions
// of keys spends more time than encoding them.
func radixSort(p []uint64, keyBits int) {
	const digit = 11
	tmp := make([]uint64, len(p))
	src, dst := p, tmp
	var count [1 << digit]int
	for shift := 0; shift < keyBits; shift += digit {
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
