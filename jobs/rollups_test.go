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
