package lake

import (
	"context"
	"fmt"
	"io"
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

// Write publishes rows into the lake as segments of source: it sorts them by
// time (in place), splits them at hour boundaries and publishes one segment
// per hour atomically. When Write returns nil, every row is durable; on error,
// the segments already published stay and are returned with the error.
func Write[T schema.Row](ctx context.Context, l *Lake, source string, rows []T) ([]Segment, error) {
	if err := validSource(source); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, nil
	}
	sortByTime(rows)
	var segs []Segment
	for start := 0; start < len(rows); {
		hour := hourOf(schema.EventTime(&rows[start]))
		next := schema.Micros(hour.Add(time.Hour))
		end := start + sortSearch(rows[start:], next)
		seg, err := writeSegment(ctx, l, source, hour, rows[start:end])
		if err != nil {
			return segs, err
		}
		segs = append(segs, seg)
		start = end
	}
	return segs, nil
}

// sortByTime sorts rows by their time column, stably, unless they already
// are. It sorts a permutation of 4-byte indexes by key and then applies it
// with one move per row: rows are ~150-byte structs, too big to swap around.
func sortByTime[T schema.Row](rows []T) {
	keys := make([]int64, len(rows))
	sorted := true
	for i := range rows {
		keys[i] = schema.EventTime(&rows[i])
		sorted = sorted && (i == 0 || keys[i-1] <= keys[i])
	}
	if sorted {
		return
	}
	perm := make([]int32, len(rows))
	for i := range perm {
		perm[i] = int32(i)
	}
	slices.SortFunc(perm, func(a, b int32) int {
		if c := cmpInt(keys[a], keys[b]); c != 0 {
			return c
		}
		return int(a - b)
	})
	// Apply the permutation in place, cycle by cycle.
	for i := range perm {
		if perm[i] < 0 {
			continue
		}
		tmp := rows[i]
		j := i
		for {
			k := int(perm[j])
			perm[j] = -1
			if k == i {
				rows[j] = tmp
				break
			}
			rows[j] = rows[k]
			j = k
		}
	}
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// sortSearch returns the index of the first row at or after t.
func sortSearch[T schema.Row](rows []T, t int64) int {
	i, _ := slices.BinarySearchFunc(rows, t, func(r T, t int64) int { return cmpInt(schema.EventTime(&r), t) })
	return i
}

// writeSegment encodes one hour's sorted rows into a new segment and
// publishes it.
func writeSegment[T schema.Row](ctx context.Context, l *Lake, source string, hour time.Time, rows []T) (Segment, error) {
	sw, err := newSegmentWriter[T](ctx, l, source, hour)
	if err != nil {
		return Segment{}, err
	}
	defer sw.abort()
	if err := sw.write(rows); err != nil {
		return Segment{}, err
	}
	return sw.commit(nil)
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
		parquet.Compression(&zstd.Codec{Level: zstd.SpeedDefault}),
		parquet.MaxRowsPerRowGroup(int64(l.cfg.RowGroupRows)),
		parquet.CreatedBy("flowlake", schema.FormatVersion, ""),
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
