package jobs

import (
	"context"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/flowlake/flowlake/storage/gen"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/query"
	"github.com/flowlake/flowlake/storage/schema"
)

// TestRollupJob: with an engine as Deps.Rollups, the scheduler builds the
// flows rollups one RollupEvery after Start, on a real lake.
func TestRollupJob(t *testing.T) {
	ctx := context.Background()
	gcfg := gen.DefaultConfig()
	gcfg.End = gcfg.Start.Add(time.Hour)
	gcfg.FlowsPerSecond = 1
	c, err := gen.Collect(ctx, gcfg)
	if err != nil {
		t.Fatal(err)
	}
	lcfg := lake.DefaultConfig()
	lcfg.Root = t.TempDir()
	l, err := lake.Open(lcfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lake.Write(ctx, l, "edge", c.FlowRows); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.CompactEvery, cfg.RetentionEvery = 0, 0
	clock := clockwork.NewFakeClockAt(t0)
	s, err := New(cfg, Deps{Lake: l, Rollups: query.New(l, query.Config{}, nil), Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	h := &harness{s: s, clock: clock}
	h.advance(t, 1, cfg.RollupEvery)
	deadline := time.Now().Add(10 * time.Second)
	for {
		segs, err := l.Segments(ctx, schema.Flows1h, time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if len(segs) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no hourly rollup after the job ran: %v", segs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCompactionRebuildsStaleRollups: a compaction run that merged
// partitions makes their rollups stale (built from the merged-away
// segments); RunCompaction rebuilds them before it returns, so queries
// answer from rollups again at once.
func TestCompactionRebuildsStaleRollups(t *testing.T) {
	ctx := context.Background()
	gcfg := gen.DefaultConfig()
	gcfg.End = gcfg.Start.Add(time.Hour)
	gcfg.FlowsPerSecond = 1
	c, err := gen.Collect(ctx, gcfg)
	if err != nil {
		t.Fatal(err)
	}
	lcfg := lake.DefaultConfig()
	lcfg.Root = t.TempDir()
	l, err := lake.Open(lcfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	half := len(c.FlowRows) / 2 // two segments per hour: compaction has work
	for _, part := range [][]schema.Flow{c.FlowRows[:half], c.FlowRows[half:]} {
		if _, err := lake.Write(ctx, l, "edge", part); err != nil {
			t.Fatal(err)
		}
	}
	e := query.New(l, query.Config{}, nil)
	defer e.Close()
	if _, err := e.MaintainRollups(ctx); err != nil {
		t.Fatal(err)
	}
	q := query.Query{Dataset: schema.Flows, From: gcfg.Start.Format(time.RFC3339), To: gcfg.End.Format(time.RFC3339),
		GroupBy: []string{"device"}, Metrics: []string{"count()"}}
	route := func() string {
		t.Helper()
		p, err := e.Explain(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return p.Route
	}
	if r := route(); r[:6] != "rollup" {
		t.Fatalf("before compaction the query reads %q, want a rollup", r)
	}
	cfg := DefaultConfig()
	cfg.CompactAfter = 0
	s, err := New(cfg, Deps{Lake: l, Rollups: e, Clock: clockwork.NewFakeClockAt(gcfg.End.Add(time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.RunCompaction(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Partitions == 0 {
		t.Fatal("compaction merged nothing")
	}
	if r := route(); r[:6] != "rollup" {
		t.Errorf("after compaction the query reads %q: the compaction left its rollups stale", r)
	}
}
