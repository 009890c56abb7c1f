package lake

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/flowlake/flowlake/storage/schema"
)

// seqRows returns n flows numbered from first in their Bytes column, spread
// over hours partitions from base.
func seqRows(first uint64, n, hours int, base time.Time) []schema.Flow {
	rows := make([]schema.Flow, n)
	for i := range rows {
		seq := first + uint64(i)
		rows[i] = schema.Flow{Time: schema.Micros(base) + int64(seq%uint64(hours))*int64(time.Hour/time.Microsecond) + int64(seq%977),
			Bytes: seq, SrcAddr: schema.MustParseAddr("192.0.2.1"), App: "conc"}
	}
	return rows
}

// readSnapshot reads every flows row of one snapshot and returns how often
// each sequence number appears.
func readSnapshot(ctx context.Context, l *Lake) (map[uint64]int, error) {
	snap, err := l.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	segs, err := snap.Segments(schema.Flows, time.Time{}, time.Time{})
	if err != nil {
		return nil, err
	}
	seen := map[uint64]int{}
	for _, s := range segs {
		rows, err := Read[schema.Flow](ctx, l, s)
		if err != nil {
			return nil, fmt.Errorf("read %s of the snapshot: %w", s.Key, err)
		}
		for _, r := range rows {
			seen[r.Bytes]++
		}
	}
	return seen, nil
}

// TestConcurrentCompactionsKeepEveryRow runs compactions from two lake
// handles on one directory (two catalogs, as two processes have) and from
// several goroutines of each, while rows arrive and readers read
// snapshots: no row is ever lost or doubled, in any snapshot or at the end,
// and verify finds no row in two live files.
func TestConcurrentCompactionsKeepEveryRow(t *testing.T) {
	ctx := t.Context()
	// The readers below read whole snapshots without planning again when a
	// file is gone (the engine's part): a grace keeps replaced files for them.
	a := testLake(t, func(c *Config) { c.RowGroupRows = 1024; c.CompactRows = 1500; c.ReplacedGrace = time.Hour })
	cfg := a.Config()
	b, err := Open(cfg, nil) // a second handle: its own catalog, like another process
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	const hours, batches, batchRows = 3, 40, 300
	var acked atomic.Uint64 // rows 0..acked-1 are durable
	for range 4 {           // a first few files to compact
		n := acked.Load()
		if _, err := Write(ctx, a, "w", seqRows(n, batchRows, hours, base)); err != nil {
			t.Fatal(err)
		}
		acked.Add(batchRows)
	}
	g, gctx := errgroup.WithContext(ctx)
	writing := make(chan struct{})
	g.Go(func() error {
		defer close(writing)
		for range batches {
			n := acked.Load()
			if _, err := Write(gctx, a, "w", seqRows(n, batchRows, hours, base)); err != nil {
				return err
			}
			acked.Add(batchRows)
		}
		return nil
	})
	var compactions atomic.Int64
	for _, l := range []*Lake{a, a, b, b} {
		g.Go(func() error {
			for {
				res, err := l.Compact(gctx, base.Add(24*time.Hour))
				if err != nil {
					return fmt.Errorf("compact: %w", err)
				}
				compactions.Add(int64(res.Partitions))
				select {
				case <-writing:
					return nil
				default:
				}
			}
		})
	}
	var mu sync.Mutex
	var snapshots int
	for _, l := range []*Lake{a, b} {
		g.Go(func() error {
			for {
				floor := acked.Load()
				if l == b {
					if err := l.Refresh(gctx); err != nil { // b learns of a's writes by listing
						return err
					}
				}
				seen, err := readSnapshot(gctx, l)
				if err != nil {
					return err
				}
				for s, n := range seen {
					if n > 1 {
						return fmt.Errorf("a snapshot holds row %d %d times", s, n)
					}
				}
				for s := range floor {
					if seen[s] != 1 {
						return fmt.Errorf("a snapshot taken after row %d was acknowledged misses it (%d rows seen)", s, len(seen))
					}
				}
				mu.Lock()
				snapshots++
				mu.Unlock()
				select {
				case <-writing:
					return nil
				default:
				}
			}
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	// A last pass from each handle, then the truth from a fresh one.
	for _, l := range []*Lake{a, b} {
		if _, err := l.Compact(ctx, base.Add(24*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	fresh, err := Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	seen, err := readSnapshot(ctx, fresh)
	if err != nil {
		t.Fatal(err)
	}
	total := acked.Load()
	if uint64(len(seen)) != total {
		t.Errorf("lake holds %d distinct rows, %d were written", len(seen), total)
	}
	for s, n := range seen {
		if n != 1 || s >= total {
			t.Fatalf("row %d appears %d times", s, n)
		}
	}
	res, err := fresh.VerifyProgress(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Problems) > 0 {
		t.Errorf("verify: %+v", res.Problems)
	}
	if res.Rows != int64(total) {
		t.Errorf("verify counted %d rows in live files, want %d", res.Rows, total)
	}
	t.Logf("%d rows, %d partition compactions, %d snapshots read", total, compactions.Load(), snapshots)
}

// TestReplacedFilesOutliveTheGracePeriod: the inputs of a compaction stay
// on disk, hidden from snapshots, until Config.ReplacedGrace has passed
// since the run committed, so a reader that planned before can still read
// them; then any refresh deletes them.
func TestReplacedFilesOutliveTheGracePeriod(t *testing.T) {
	for _, tc := range []struct {
		name  string
		grace time.Duration
		kept  bool
	}{
		{"within the grace period", time.Hour, true},
		{"after the grace period", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			l := testLake(t, func(c *Config) { c.ReplacedGrace = tc.grace })
			base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
			var inputs []Segment
			for i := range 3 {
				segs, err := Write(ctx, l, "w", seqRows(uint64(i*10), 10, 1, base))
				if err != nil {
					t.Fatal(err)
				}
				inputs = append(inputs, segs...)
			}
			before, err := l.Snapshot(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := l.Compact(ctx, base.Add(24*time.Hour)); err != nil {
				t.Fatal(err)
			}
			if err := l.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			after, err := l.Snapshot(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if segs, _ := after.Segments(schema.Flows, time.Time{}, time.Time{}); len(segs) != 1 || segs[0].Source != compactSource {
				t.Errorf("a snapshot after compaction lists %+v, want the one compacted file", segs)
			}
			old, _ := before.Segments(schema.Flows, time.Time{}, time.Time{})
			for _, s := range old {
				_, err := Read[schema.Flow](ctx, l, s)
				if tc.kept && err != nil {
					t.Errorf("a snapshot taken before compaction cannot read %s within the grace period: %v", s.Key, err)
				}
				if !tc.kept && err == nil {
					t.Errorf("%s is still on disk after the grace period", s.Key)
				}
			}
			if len(old) != len(inputs) {
				t.Errorf("the earlier snapshot lists %d files, want %d", len(old), len(inputs))
			}
		})
	}
}

// TestRetentionDeletesReplacedFilesToo: retention of a partition whose
// compaction inputs are still within their grace period deletes them as
// well (first, so a crash part way never brings their rows back), and
// counts only the live rows.
func TestRetentionDeletesReplacedFilesToo(t *testing.T) {
	ctx := context.Background()
	l := testLake(t, func(c *Config) { c.ReplacedGrace = time.Hour })
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3 {
		if _, err := Write(ctx, l, "w", seqRows(uint64(i*10), 10, 1, base)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Compact(ctx, base.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	res, err := l.Retain(ctx, RetentionPolicy{MaxAge: map[string]time.Duration{schema.Flows: time.Hour}}, base.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if res.Partitions != 1 || res.Files != 1 || res.Rows != 30 {
		t.Errorf("retention = %+v, want 1 partition, 1 live file, 30 rows", res)
	}
	left, err := l.backend.List(ctx, partitionKey(schema.Flows, base)+"/")
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("files left in the retained partition: %+v", left)
	}
}
