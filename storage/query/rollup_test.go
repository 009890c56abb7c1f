package query

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/gen"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// TestRollupRouting: the planner answers from the rollup that gives the
// same answer, and from raw segments when none does. (TestGolden checks
// every routed answer against the row-by-row reference.)
func TestRollupRouting(t *testing.T) {
	e := testEngine(t, Config{})
	for _, tc := range []struct {
		q     Query
		route string
	}{
		{Query{Dataset: "flows", From: "-3h", GroupBy: []string{"app"}, Metrics: []string{"sum(bytes)", "count()"}}, "rollup flows_1h"},
		{Query{Dataset: "flows", From: "-3h", GroupBy: []string{"time/1h", "in_if_name"}, Metrics: []string{"bps()"}}, "rollup flows_1h"},
		{Query{Dataset: "flows", From: "-3h", GroupBy: []string{"time/5m"}, Metrics: []string{"sum(bytes)", "pps()"}}, "rollup flows_1m"},
		{Query{Dataset: "flows", From: "-3h", Filter: "dst port in [53 443] and proto udp", GroupBy: []string{"device"}}, "rollup flows_1h"},
		{Query{Dataset: "flows", From: "2026-01-07", To: "2026-01-08", GroupBy: []string{"app"}}, "rollup flows_1d"},
		{Query{Dataset: "flows", From: "-3h", GroupBy: []string{"src_addr"}, Metrics: []string{"sum(bytes)"}, Limit: 10}, "rollup flows_hosts_1h"},
		{Query{Dataset: "flows", From: "2026-01-07", To: "2026-01-08", GroupBy: []string{"dst_addr"}, Metrics: []string{"sum(bytes)"}, Limit: 10}, "rollup flows_hosts_1d"},
		{Query{Dataset: "flows", From: "-3h", Filter: "dst net 10.0.0.0/8", GroupBy: []string{"dst_net/24"}, Metrics: []string{"count()"}}, "rollup flows_hosts_1h"},
		{Query{Dataset: "flows", From: "-3h", GroupBy: []string{"src_addr", "dst_addr"}}, "raw segments"},
		{Query{Dataset: "flows", From: "-3h", GroupBy: []string{"dst_port"}}, "raw segments"},
		{Query{Dataset: "flows", From: "-3h", Filter: "dst port > 1000", GroupBy: []string{"app"}}, "raw segments"},
		{Query{Dataset: "flows", From: "-3h", Filter: "bytes > 1000", GroupBy: []string{"app"}}, "raw segments"},
		{Query{Dataset: "flows", From: "-3h", GroupBy: []string{"app"}, Metrics: []string{"p95(bytes)"}}, "raw segments"},
		{Query{Dataset: "flows", From: "2026-01-07T12:30:00Z", To: "2026-01-07T14:00:00Z", GroupBy: []string{"app"}}, "rollup flows_1m"},
		{Query{Dataset: "flows", From: "2026-01-07T12:30:10Z", To: "2026-01-07T14:00:00Z", GroupBy: []string{"app"}}, "raw segments"},
		{Query{Dataset: "flows", From: "-3h", TimeZone: "Asia/Kolkata", GroupBy: []string{"time/1h"}}, "rollup flows_1m"},
	} {
		p, err := e.Explain(context.Background(), tc.q)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(p.Route, tc.route) {
			t.Errorf("%+v: route %q, want %s", tc.q, p.Route, tc.route)
		}
	}
}

// TestRollupFreshness: a new flows segment makes its hour's rollups stale,
// so the planner falls back to raw segments until MaintainRollups rebuilds
// them; the answers stay the same throughout.
func TestRollupFreshness(t *testing.T) {
	ctx := context.Background()
	cfg := gen.DefaultConfig()
	cfg.Start = time.Date(2026, 1, 6, 9, 0, 0, 0, time.UTC)
	cfg.End = cfg.Start.Add(2 * time.Hour)
	cfg.FlowsPerSecond = 1
	c, err := gen.Collect(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	lcfg := lake.DefaultConfig()
	lcfg.Root = t.TempDir()
	l, err := lake.Open(lcfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	half := len(c.FlowRows) / 2
	if _, err := lake.Write(ctx, l, "a", c.FlowRows[:half]); err != nil {
		t.Fatal(err)
	}
	e := New(l, Config{}, nil)
	res, err := e.MaintainRollups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Built) == 0 {
		t.Fatal("MaintainRollups built nothing")
	}
	if again, err := e.MaintainRollups(ctx); err != nil || len(again.Built) != 0 {
		t.Fatalf("second MaintainRollups: %+v, %v: want nothing to do", again, err)
	}
	q := Query{Dataset: "flows", From: cfg.Start.Format(time.RFC3339), To: cfg.End.Format(time.RFC3339), GroupBy: []string{"app"}, Metrics: []string{"sum(bytes)", "count()"}}
	answer := func(want string) string {
		t.Helper()
		r, err := e.Run(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Release()
		if !strings.HasPrefix(r.Plan.Route, want) {
			t.Fatalf("route %q, want %s", r.Plan.Route, want)
		}
		qr := q
		qr.raw = true
		rr, err := e.Run(ctx, qr)
		if err != nil {
			t.Fatal(err)
		}
		defer rr.Release()
		got, raw := csvText(r.Rows()), csvText(rr.Rows())
		if got != raw {
			t.Fatalf("answer on %s differs from raw:\n%s\nraw:\n%s", r.Plan.Route, got, raw)
		}
		return got
	}
	before := answer("rollup " + schema.Flows1h)
	if _, err := lake.Write(ctx, l, "b", c.FlowRows[half:]); err != nil {
		t.Fatal(err)
	}
	stale := answer("raw segments")

	if stale == before {
		t.Fatal("the second half of the flows changed nothing")
	}
	res, err = e.MaintainRollups(ctx)
	if err != nil || res.Removed == 0 {
		t.Fatalf("MaintainRollups after new flows: %+v, %v: want stale rollups removed", res, err)
	}
	if after := answer("rollup " + schema.Flows1h); after != stale {
		t.Fatalf("rebuilt rollup answers\n%s\nraw answered\n%s", after, stale)
	}
	// New flows in the first hour only: a range starting inside that hour,
	// on a minute, must not trust the minute rollup of the hour.
	if _, err := lake.Write(ctx, l, "c", c.FlowRows[:100]); err != nil {
		t.Fatal(err)
	}
	q.From = cfg.Start.Add(10 * time.Minute).Format(time.RFC3339)
	answer("raw segments")
}

// TestConcurrentRollupBuildersAgreeWithRaw: two processes' engines (two
// lake instances on one directory) maintain rollups at the same time
// while flows arrive; whenever a query is routed to a rollup, hourly or
// daily, its answer equals the raw flows' answer. A rollup's tag and its
// content must describe the same flows, and a day must not be summed from
// an hour another process rebuilt meanwhile.
func TestConcurrentRollupBuildersAgreeWithRaw(t *testing.T) {
	ctx := context.Background()
	cfg := gen.DefaultConfig()
	cfg.Start = time.Date(2026, 1, 6, 0, 0, 0, 0, time.UTC)
	cfg.End = cfg.Start.Add(4 * time.Hour)
	cfg.FlowsPerSecond = 1
	c, err := gen.Collect(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	lcfg := lake.DefaultConfig()
	lcfg.Root = t.TempDir()
	open := func() *Engine {
		l, err := lake.Open(lcfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		return New(l, Config{}, nil)
	}
	e1, e2 := open(), open()
	const rounds = 24
	chunk := len(c.FlowRows) / rounds
	day := Query{Dataset: "flows", From: "2026-01-06", To: "2026-01-07", GroupBy: []string{"app"}, Metrics: []string{"sum(bytes)", "count()"}}
	hours := day
	hours.GroupBy = []string{"time/1h", "device"}
	hosts := day
	hosts.GroupBy, hosts.OrderBy, hosts.Limit, hosts.Others = []string{"src_addr"}, []string{"-sum(bytes)"}, 20, true
	for i := range rounds {
		// Each round lands rows in one hour: the others stay fresh, so a
		// day is summed from hours built by either process.
		rows := c.FlowRows[i*chunk : (i+1)*chunk]
		if _, err := lake.Write(ctx, e1.lake, fmt.Sprintf("r%d", i), rows); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for j, e := range []*Engine{e1, e2} {
			wg.Go(func() { _, errs[j] = e.MaintainRollups(ctx) })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("round %d: %v", i, err)
			}
		}
		for _, e := range []*Engine{e1, e2} {
			if err := e.lake.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			for _, q := range []Query{day, hours, hosts} {
				r, err := e.Run(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				qr := q
				qr.raw = true
				rr, err := e.Run(ctx, qr)
				if err != nil {
					t.Fatal(err)
				}
				if got, want := csvText(r.Rows()), csvText(rr.Rows()); got != want {
					t.Fatalf("round %d: answer on %s differs from raw:\n%s\nraw:\n%s", i, r.Plan.Route, got, want)
				}
				if i == rounds-1 && q.GroupBy[0] == "src_addr" && !strings.HasPrefix(r.Plan.Route, "rollup "+schema.FlowHosts1d) {
					t.Errorf("last round: the day's hosts read %q, want the daily hosts rollup", r.Plan.Route)
				}
				r.Release()
				rr.Release()
			}
		}
	}
}

// TestRollupAfterAnInterruptedBuild: a build that stopped between an
// hour's three rollups (a crash) left that hour's flows_1m under the
// current tag and no flows_1h. The next run rebuilds the hour and leaves
// one file in each of its rollup partitions, so the hour is fresh again
// and a further run has nothing to do (a kept leftover made the hour stale
// forever, one more file at every run).
func TestRollupAfterAnInterruptedBuild(t *testing.T) {
	ctx := t.Context()
	cfg := gen.DefaultConfig()
	cfg.Start = time.Date(2026, 1, 6, 9, 0, 0, 0, time.UTC)
	cfg.End = cfg.Start.Add(2 * time.Hour)
	cfg.FlowsPerSecond = 1
	c, err := gen.Collect(ctx, cfg)
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
	if _, err := lake.Write(ctx, l, "a", c.FlowRows); err != nil {
		t.Fatal(err)
	}
	e := New(l, Config{}, nil)
	defer e.Close()
	if _, err := e.MaintainRollups(ctx); err != nil {
		t.Fatal(err)
	}
	h := cfg.Start
	hourly, err := l.PartitionSegments(ctx, schema.Flows1h, h)
	if err != nil || len(hourly) != 1 {
		t.Fatalf("flows_1h of %s: %v, %v: want one segment", h, hourly, err)
	}
	if err := l.Remove(ctx, hourly...); err != nil { // the crash: flows_1m written, flows_1h not
		t.Fatal(err)
	}
	res, err := e.MaintainRollups(ctx)
	if err != nil || len(res.Built) == 0 {
		t.Fatalf("MaintainRollups after the crash: %+v, %v: want the hour rebuilt", res, err)
	}
	for _, ds := range []string{schema.Flows1m, schema.Flows1h, schema.FlowHosts1h} {
		segs, err := l.PartitionSegments(ctx, ds, h)
		if err != nil {
			t.Fatal(err)
		}
		if len(segs) != 1 {
			t.Errorf("%s of %s holds %d segments after the rebuild, want 1: %v", ds, h, len(segs), segs)
		}
	}
	if again, err := e.MaintainRollups(ctx); err != nil || len(again.Built) != 0 {
		t.Fatalf("MaintainRollups once more: %+v, %v: want nothing to do", again, err)
	}
}
