package lake

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"

	"github.com/flowlake/flowlake/storage/schema"
)

// readDataset returns every row the catalog shows for a dataset, sorted
// canonically (by time, then by the whole row) so multisets compare equal.
func readDataset[T schema.Row](t *testing.T, l *Lake) []T {
	t.Helper()
	ctx := context.Background()
	segs, err := l.Segments(ctx, schema.DatasetOf[T]().Name, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var out []T
	for _, s := range segs {
		rows, err := Read[T](ctx, l, s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rows...)
	}
	canonical(out)
	return out
}

func canonical[T schema.Row](rows []T) {
	slices.SortStableFunc(rows, func(a, b T) int {
		if c := byTime(a, b); c != 0 {
			return c
		}
		return strings.Compare(fmtRow(a), fmtRow(b))
	})
}

func fmtRow[T any](r T) string { return fmt.Sprint(r) }

func TestCompactPreservesRows(t *testing.T) {
	ctx := context.Background()
	l := testLake(t, func(c *Config) { c.RowGroupRows = 1024; c.CompactRows = 3000 })
	rng := rand.New(rand.NewPCG(3, 4))
	start := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	// Eight batches from three sources over two hours, with duplicate rows
	// and equal timestamps across files: a multiset, not a set.
	var want []schema.Flow
	for i := range 8 {
		rows := randomRows[schema.Flow](rng, 900, start, 2*time.Hour)
		rows = append(rows, rows[:50]...)
		want = append(want, rows...)
		if _, err := Write(ctx, l, []string{"edge-a", "edge-b", "edge-c"}[i%3], rows); err != nil {
			t.Fatal(err)
		}
	}
	canonical(want)
	before, _ := l.Segments(ctx, schema.Flows, time.Time{}, time.Time{})

	// Partitions still open at `before` are left alone.
	res, err := l.Compact(ctx, start.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if res.Partitions != 1 || res.FilesBefore != 8 || res.FilesAfter != 2 {
		t.Errorf("first pass: %+v, want 1 partition, 8 files into 2 (3000-row cap, ~3800 rows)", res)
	}
	res, err = l.Compact(ctx, start.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if res.Partitions != 1 {
		t.Errorf("second pass compacted %d partitions, want 1", res.Partitions)
	}
	after, _ := l.Segments(ctx, schema.Flows, time.Time{}, time.Time{})
	if len(before) != 16 || len(after) != 4 {
		t.Errorf("segments before %d after %d, want 16 and 4", len(before), len(after))
	}
	for _, s := range after {
		if s.Source != compactSource {
			t.Errorf("segment %s not written by compaction", s.Key)
		}
	}
	if got := readDataset[schema.Flow](t, l); !reflect.DeepEqual(want, got) {
		t.Fatalf("compaction changed the rows (-before +after):\n%s", cmp.Diff(want, got))
	}
	// Nothing left to do, and a reopened lake sees the same.
	if res, _ := l.Compact(ctx, start.Add(3*time.Hour)); res.Partitions != 0 {
		t.Errorf("third pass compacted %d partitions, want 0", res.Partitions)
	}
	l2, err := Open(l.Config(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := readDataset[schema.Flow](t, l2); !reflect.DeepEqual(want, got) {
		t.Fatalf("reopened lake differs (-want +got):\n%s", cmp.Diff(want, got))
	}
}

// TestCompactInterrupted simulates crashes between the steps of a swap:
// after the outputs are published but before the inputs are deleted, and
// after only some outputs are published.
func TestCompactInterrupted(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		keepOutput func(i int) bool // which outputs survive the "crash"
	}{
		{"all outputs published, inputs not deleted", func(int) bool { return true }},
		{"one of two outputs published", func(i int) bool { return i == 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := testLake(t, func(c *Config) { c.RowGroupRows = 1024; c.CompactRows = 2000 })
			rng := rand.New(rand.NewPCG(5, 6))
			hour := time.Date(2026, 11, 20, 7, 0, 0, 0, time.UTC)
			var want []schema.TCPConn
			var inputs []entry
			for range 3 {
				rows := randomRows[schema.TCPConn](rng, 1000, hour, time.Hour)
				want = append(want, rows...)
				segs, err := Write(ctx, l, "edge", rows)
				if err != nil {
					t.Fatal(err)
				}
				inputs = append(inputs, entry{Segment: segs[0], Size: segs[0].Bytes})
			}
			canonical(want)
			// Copy the inputs aside, compact, then put them back as a
			// crash before deletion would have left them.
			saved := map[string][]byte{}
			for _, in := range inputs {
				saved[in.Key] = readObject(t, l, in.Key)
			}
			outs, err := compactPartition[schema.TCPConn](ctx, l, hour, inputs)
			if err != nil {
				t.Fatal(err)
			}
			if len(outs) != 2 {
				t.Fatalf("%d outputs, want 2", len(outs))
			}
			for k, b := range saved {
				writeObject(t, l, k, b)
			}
			for i, o := range outs {
				if !tc.keepOutput(i) {
					if err := l.backend.Delete(ctx, o.Key); err != nil {
						t.Fatal(err)
					}
				}
			}
			l2, err := Open(l.Config(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := readDataset[schema.TCPConn](t, l2); !reflect.DeepEqual(want, got) {
				t.Fatalf("rows after recovery differ (-want +got):\n%s", cmp.Diff(want, got))
			}
		})
	}
}

func readObject(t testing.TB, l *Lake, key string) []byte {
	t.Helper()
	obj, err := l.backend.Open(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	b := make([]byte, obj.Size())
	if _, err := obj.ReadAt(b, 0); err != nil {
		t.Fatal(err)
	}
	return b
}

func writeObject(t *testing.T, l *Lake, key string, b []byte) {
	t.Helper()
	up, err := l.backend.Create(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := up.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := up.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestCompactClusteredRunsUnderBudget compacts an hour of flows far larger
// than a tiny CompactMemory: the hour is written as several sorted runs,
// every row is kept exactly, each row group is in the clustering order,
// and the file's time range and SortingColumns say so.
func TestCompactClusteredRunsUnderBudget(t *testing.T) {
	ctx := context.Background()
	l := testLake(t, func(c *Config) { c.RowGroupRows = 1024; c.CompactMemory = 1 << 20 })
	runRows := l.cfg.runRows(unsafe.Sizeof(schema.Flow{}))
	rng := rand.New(rand.NewPCG(5, 6))
	start := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	var want []schema.Flow
	for range 6 {
		rows := randomRows[schema.Flow](rng, runRows, start, time.Hour)
		for i := range rows { // few addresses: long runs of equal keys
			rows[i].SrcAddr[15] = byte(rng.IntN(4))
			rows[i].Device = []string{"a", "b"}[rng.IntN(2)]
		}
		if _, err := Write(ctx, l, "edge", rows); err != nil {
			t.Fatal(err)
		}
		want = append(want, rows...)
	}
	canonical(want)
	res, err := l.Compact(ctx, start.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if res.FilesAfter != 1 {
		t.Fatalf("compaction wrote %d files, want 1", res.FilesAfter)
	}
	got := readDataset[schema.Flow](t, l)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("rows changed by compaction (-want +got):\n%s", diff)
	}
	segs, err := l.Segments(ctx, schema.Flows, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := Read[schema.Flow](ctx, l, segs[0])
	if err != nil {
		t.Fatal(err)
	}
	if gotMin, gotMax := schema.Micros(segs[0].MinTime), schema.Micros(segs[0].MaxTime); gotMin != want[0].Time || gotMax != want[len(want)-1].Time {
		t.Errorf("segment time range [%d, %d], rows span [%d, %d]", gotMin, gotMax, want[0].Time, want[len(want)-1].Time)
	}
	// Runs hold runRows rows; within a run the order is the clustering
	// order, and a run's last row group ends with it.
	var breaks int
	for i := 1; i < len(rows); i++ {
		if flowCluster.compare(&rows[i-1], &rows[i]) > 0 {
			breaks++
			if i%runRows != 0 {
				t.Fatalf("row %d breaks the clustering order inside a run of %d rows", i, runRows)
			}
		}
	}
	if runs := (len(rows) + runRows - 1) / runRows; breaks == 0 || breaks > runs-1 {
		t.Errorf("%d order breaks for %d runs", breaks, runs)
	}
	obj, err := l.backend.Open(ctx, segs[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	f, err := openParquet(obj, obj.Size())
	if err != nil {
		t.Fatal(err)
	}
	ends := map[int64]bool{}
	var at int64
	for i, rg := range f.Metadata().RowGroups {
		if got := len(rg.SortingColumns); got != len(flowCluster.columns) {
			t.Errorf("row group %d has %d sorting columns, want %d", i, got, len(flowCluster.columns))
		}
		at += rg.NumRows
		ends[at] = true
	}
	for end := int64(runRows); end < int64(len(rows)); end += int64(runRows) {
		if !ends[end] {
			t.Errorf("no row group ends with the run ending at row %d: a row group mixes two runs", end)
		}
	}
}
