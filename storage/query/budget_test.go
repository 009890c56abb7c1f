package query

import (
	"context"
	"errors"
	"runtime"
	"testing"
)

// liveHeap is the heap in use after a collection.
func liveHeap() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// TestMemoryBudgetHolds: a high-cardinality aggregate (a 5-tuple by the
// minute, no limit: every flow its own group) charges what it really
// holds. When its records are built, next to its groups and the columns
// they were built from (its peak), the heap it holds is within a small
// factor of what it charged; under a budget of a
// quarter of that it is refused, and the heap it held when refused is
// within the same factor of the budget.
func TestMemoryBudgetHolds(t *testing.T) {
	q := Query{Dataset: "flows", From: "-3h", GroupBy: []string{"src_addr", "dst_addr", "src_port", "dst_port", "time/1m"}, Metrics: []string{"count()", "sum(bytes)"}}
	const factor = 1.5

	e := testEngine(t, Config{MemoryBudget: 1 << 30})
	warm, err := e.Run(context.Background(), q) // footers cached, buffers pooled
	if err != nil {
		t.Fatal(err)
	}
	groups := warm.NumRows()
	warm.Release()
	if groups < 10_000 {
		t.Fatalf("%d groups: the fixture is too small to test memory", groups)
	}

	base := liveHeap()
	var held, charged int64
	e.hooks.finished = func(c int64) { held, charged = liveHeap()-base, c }
	res, err := e.Run(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	res.Release()
	t.Logf("%d groups: held %d bytes, charged %d, peak %d", groups, held, charged, res.Plan.Stats.PeakMemory)
	if float64(held) > factor*float64(charged) {
		t.Errorf("held %d bytes with its records built, charged %d: more than %.1f× what the budget knows", held, charged, factor)
	}
	if float64(charged) > 3*float64(held) {
		t.Errorf("charged %d bytes for %d held: the budget would refuse queries that fit", charged, held)
	}

	budget := res.Plan.Stats.PeakMemory / 4
	small := testEngine(t, Config{MemoryBudget: budget})
	if _, err := small.Run(context.Background(), q); err != nil { // warm this engine's caches too
		if !errors.Is(err, ErrMemoryBudget) {
			t.Fatal(err)
		}
	}
	base = liveHeap()
	var atRefusal int64
	small.hooks.refused = func() { atRefusal = liveHeap() - base }
	_, err = small.Run(context.Background(), q)
	if !errors.Is(err, ErrMemoryBudget) {
		t.Fatalf("under a %d-byte budget: err = %v, want ErrMemoryBudget", budget, err)
	}
	t.Logf("refused at %d bytes held, budget %d", atRefusal, budget)
	if float64(atRefusal) > factor*float64(budget) {
		t.Errorf("held %d bytes when refused, budget %d: more than %.1f× the budget", atRefusal, budget, factor)
	}
}

// TestRollupBuildBudget: a rollup build's query is bounded by the pool,
// not by a user query's budget, which would leave rollups stale on a busy
// network.
func TestRollupBuildBudget(t *testing.T) {
	q := Query{Dataset: "flows", From: "-3h", GroupBy: []string{"edge", "device", "src_addr"}, Metrics: []string{"count()", "sum(bytes)", "sum(packets)"}}
	e := testEngine(t, Config{MemoryBudget: 64 << 10})
	if _, err := e.Run(context.Background(), q); !errors.Is(err, ErrMemoryBudget) {
		t.Fatalf("user query under 64 KiB: err = %v, want ErrMemoryBudget", err)
	}
	rows := 0
	if err := e.rawAggregate(context.Background(), q, func(rowValues) { rows++ }); err != nil || rows == 0 {
		t.Fatalf("rollup build: %d rows, err %v; want rows", rows, err)
	}
	if n := e.pool.inUse(); n != 0 {
		t.Errorf("pool holds %d bytes after the build, want 0", n)
	}
}
