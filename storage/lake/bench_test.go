package lake_test

import (
	"cmp"
	"context"
	"encoding/binary"
	"io"
	"os"
	"reflect"
	"runtime"
	"runtime/debug"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/klauspost/compress/zstd"

	"github.com/flowlake/flowlake/storage/gen"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// realisticFlows returns one busy edge's hour of flows from the generator's
// default (realistic) profile, scaled to n rows.
func realisticFlows(b *testing.B, n int) []schema.Flow {
	b.Helper()
	cfg := gen.DefaultConfig()
	cfg.Start = time.Date(2026, 1, 7, 14, 0, 0, 0, time.UTC) // a Wednesday afternoon
	cfg.End = cfg.Start.Add(time.Hour)
	cfg.FlowsPerSecond = float64(n) / 3600 * 1.2 // afternoon runs above the weekly mean
	c, err := gen.Collect(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	// Keep the busiest edge's share, as one edge writes its own segments.
	var rows []schema.Flow
	for _, r := range c.FlowRows {
		if r.Edge == c.FlowRows[0].Edge {
			rows = append(rows, r)
		}
	}
	return rows
}

// BenchmarkWriteFlows measures the segment writer on one core: rows/s and
// bytes per row on disk for realistic flows, at several row-group sizes, from
// rows in generator order (the writer sorts them) and already sorted; the
// "generic" cases write the same rows through parquet-go's GenericWriter
// (the writer before the column-at-a-time encoder), for a before/after
// comparison in one run. cpu-ns/row is the process's CPU time per row
// (user and system): steadier than rows/s on a machine shared with other
// work.
func BenchmarkWriteFlows(b *testing.B) {
	unsorted := realisticFlows(b, 3_000_000)
	sorted := slices.Clone(unsorted)
	slices.SortStableFunc(sorted, func(a, b schema.Flow) int { return cmp.Compare(a.Time, b.Time) })
	for _, tc := range []struct {
		name    string
		rg      int
		rows    []schema.Flow
		generic bool
	}{
		{rowGroupSizes[0].name, rowGroupSizes[0].rows, unsorted, false},
		{rowGroupSizes[1].name, rowGroupSizes[1].rows, unsorted, false},
		{rowGroupSizes[2].name, rowGroupSizes[2].rows, unsorted, false},
		{rowGroupSizes[1].name + "/presorted", rowGroupSizes[1].rows, sorted, false},
		{rowGroupSizes[1].name + "/generic", rowGroupSizes[1].rows, unsorted, true},
		{rowGroupSizes[1].name + "/presorted/generic", rowGroupSizes[1].rows, sorted, true},
	} {
		rows := tc.rows
		b.Run(tc.name, func(b *testing.B) {
			defer lake.UseFlowEncoder(!tc.generic)()
			l := benchLake(b, tc.rg)
			root := l.Config().Root
			batch := make([]schema.Flow, len(rows))
			var bytes int64
			var cpu time.Duration
			for b.Loop() {
				b.StopTimer()
				copy(batch, rows) // unsorted, as an edge delivers them
				b.StartTimer()
				c0 := cpuTime()
				segs, err := lake.Write(context.Background(), l, "bench", batch)
				if err != nil {
					b.Fatal(err)
				}
				cpu += cpuTime() - c0
				bytes = 0
				for _, s := range segs {
					bytes += s.Bytes
				}
				b.StopTimer()
				_ = os.RemoveAll(root)
				b.StartTimer()
			}
			b.ReportMetric(float64(len(rows))*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(bytes)/float64(len(rows)), "bytes/row")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(len(rows))/float64(b.N), "cpu-ns/row")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkWriteEdgeBatches measures the writer as an edge uses it:
// batches of 32 Ki rows (edge.batch_rows), each staged and committed as a
// segment of its own, under the edge's 100 MiB soft memory limit, where
// the garbage collector runs several times a second and what the writer
// allocates per segment costs collections as well as the allocation.
// B/op and allocs/op are per batch.
func BenchmarkWriteEdgeBatches(b *testing.B) {
	const batchRows = 32 << 10
	// Four batches' rows (30 MiB) stay live, as an edge's batch pool.
	rows := slices.Clone(realisticFlows(b, 1_000_000)[:4*batchRows])
	runtime.GC()
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(100 << 20))
	l := benchLake(b, lake.DefaultConfig().RowGroupRows)
	batch := make([]schema.Flow, batchRows)
	var cpu time.Duration
	var bytes int64
	next := 0
	b.ReportAllocs()
	for b.Loop() {
		copy(batch, rows[next:next+batchRows])
		next = (next + batchRows) % len(rows)
		c0 := cpuTime()
		st, err := lake.Stage(context.Background(), l, "edge", batch)
		if err != nil {
			b.Fatal(err)
		}
		segs, err := st.Commit()
		if err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - c0
		for _, s := range segs {
			bytes += s.Bytes
		}
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(batchRows)/float64(b.N), "cpu-ns/row")
	b.ReportMetric(float64(bytes)/float64(batchRows)/float64(b.N), "bytes/row")
}

// BenchmarkScanFlows measures reading three columns of a segment into Arrow
// record batches (the query engine's access path) at each row-group size.
func BenchmarkScanFlows(b *testing.B) {
	rows := realisticFlows(b, 3_000_000)
	for _, rg := range rowGroupSizes {
		b.Run(rg.name, func(b *testing.B) {
			l := benchLake(b, rg.rows)
			segs, err := lake.Write(context.Background(), l, "bench", rows)
			if err != nil {
				b.Fatal(err)
			}
			obj, err := l.Backend().Open(context.Background(), segs[0].Key)
			if err != nil {
				b.Fatal(err)
			}
			defer obj.Close()
			d := schema.DatasetOf[schema.Flow]()
			var cols []int
			for i, c := range d.Columns {
				if c.Name == schema.ColTime || c.Name == schema.FlowSrcAddr || c.Name == schema.FlowBytes {
					cols = append(cols, i)
				}
			}
			b.ResetTimer()
			var n int64
			for b.Loop() {
				pf, err := file.NewParquetReader(io.NewSectionReader(obj, 0, obj.Size()))
				if err != nil {
					b.Fatal(err)
				}
				fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{Parallel: false, BatchSize: 64 << 10}, memory.DefaultAllocator)
				if err != nil {
					b.Fatal(err)
				}
				rr, err := fr.GetRecordReader(context.Background(), cols, nil)
				if err != nil {
					b.Fatal(err)
				}
				for rr.Next() {
					n += rr.RecordBatch().NumRows()
				}
				rr.Release()
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// rowGroupSizes are the row-group sizes the benchmarks compare.
var rowGroupSizes = []struct {
	name string
	rows int
}{{"rowgroup=64Ki", 64 << 10}, {"rowgroup=256Ki", 256 << 10}, {"rowgroup=1Mi", 1 << 20}}

// benchLake opens a lake in a temporary directory with the given row-group size.
func benchLake(b *testing.B, rowGroupRows int) *lake.Lake {
	b.Helper()
	cfg := lake.DefaultConfig()
	cfg.Root = b.TempDir()
	cfg.RowGroupRows = rowGroupRows
	l, err := lake.Open(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	return l
}

// BenchmarkFlowColumnFloor estimates how small any per-column encoding of
// the generator's realistic flows can be, to put the writer's bytes per
// row in context: each column of each 256 Ki-row group, in time order, is
// compressed with zstd's best level three ways — its raw values, a
// dictionary of its distinct values plus their indexes, and (numbers) the
// deltas between consecutive values — and the smallest counts. Parquet
// encodes columns independently like this; what it cannot reach is
// dependence between columns (a reply flow repeats its request's
// addresses, an interface name follows from the interface). The result
// is in docs/benchmarks.md; -v logs the columns.
func BenchmarkFlowColumnFloor(b *testing.B) {
	rows := realisticFlows(b, 3_000_000)
	slices.SortStableFunc(rows, func(a, b schema.Flow) int { return cmp.Compare(a.Time, b.Time) })
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithWindowSize(1<<26))
	if err != nil {
		b.Fatal(err)
	}
	defer enc.Close()
	size := func(p []byte) int { return len(enc.EncodeAll(p, nil)) }
	typ := reflect.TypeFor[schema.Flow]()
	perCol := make([]int, typ.NumField())
	for b.Loop() {
		clear(perCol)
		const group = 256 << 10
		for start := 0; start < len(rows); start += group {
			rg := rows[start:min(start+group, len(rows))]
			for f := range typ.NumField() {
				var raw, dict, idx, delta []byte
				ids := map[string]uint32{}
				prev := uint64(0)
				for i := range rg {
					v := reflect.ValueOf(&rg[i]).Elem().Field(f)
					var val []byte
					switch v.Kind() {
					case reflect.String:
						val = append(binary.AppendUvarint(nil, uint64(v.Len())), v.String()...)
					case reflect.Array:
						val = make([]byte, v.Len())
						reflect.Copy(reflect.ValueOf(val), v)
					default:
						var n uint64
						if v.CanInt() {
							n = uint64(v.Int())
						} else {
							n = v.Uint()
						}
						val = binary.LittleEndian.AppendUint64(nil, n)[:v.Type().Size()]
						delta = binary.AppendVarint(delta, int64(n-prev))
						prev = n
					}
					raw = append(raw, val...)
					id, ok := ids[string(val)]
					if !ok {
						id = uint32(len(ids))
						ids[string(val)] = id
						dict = append(dict, val...)
					}
					idx = binary.LittleEndian.AppendUint32(idx, id)
				}
				// Indexes at the narrowest byte width that holds them.
				width := 4
				switch {
				case len(ids) <= 1<<8:
					width = 1
				case len(ids) <= 1<<16:
					width = 2
				}
				narrow := make([]byte, 0, len(rg)*width)
				for i := 0; i < len(idx); i += 4 {
					narrow = append(narrow, idx[i:i+width]...)
				}
				best := min(size(raw), size(dict)+size(narrow))
				if delta != nil {
					best = min(best, size(delta))
				}
				perCol[f] += best
			}
		}
	}
	total := 0
	for f, n := range perCol {
		total += n
		b.Logf("%-14s %.3f bytes/row", typ.Field(f).Name, float64(n)/float64(len(rows)))
	}
	b.ReportMetric(float64(total)/float64(len(rows)), "bytes/row")
	b.ReportMetric(0, "ns/op")
}
