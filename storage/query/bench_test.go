package query

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/gen"
	"github.com/flowlake/flowlake/storage/lake"
)

// benchLake is a day of generated flows at 30 flows/s (≈2.6 M rows),
// compacted as a running core would, for the engine's benchmarks.
var benchLake = sync.OnceValues(func() (*lake.Lake, error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "flowlake-query-bench-")
	if err != nil {
		return nil, err
	}
	cfg := gen.DefaultConfig()
	cfg.Start = time.Date(2026, 1, 7, 0, 0, 0, 0, time.UTC)
	cfg.End = cfg.Start.Add(24 * time.Hour)
	cfg.FlowsPerSecond = 30
	c, err := gen.Collect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	lcfg := lake.DefaultConfig()
	lcfg.Root = dir
	l, err := lake.Open(lcfg, nil)
	if err != nil {
		return nil, err
	}
	if _, err := lake.Write(ctx, l, "edge", c.FlowRows); err != nil {
		return nil, err
	}
	_, err = l.Compact(ctx, cfg.End)
	return l, err
})

// BenchmarkEngine runs the comparative benchmark's query shapes on raw
// segments (rollups off) and reports rows scanned per second.
//
//	go test ./storage/query -run '^$' -bench Engine -cpu 1,2
func BenchmarkEngine(b *testing.B) {
	l, err := benchLake()
	if err != nil {
		b.Fatal(err)
	}
	day := func(q Query) Query {
		q.Dataset, q.raw = "flows", true
		if q.From == "" {
			q.From, q.To = "2026-01-07T00:00:00Z", "2026-01-08T00:00:00Z"
		}
		return q
	}
	for _, bc := range []struct {
		name string
		q    Query
	}{
		{"Q1-topn-src", day(Query{GroupBy: []string{"src_addr"}, Metrics: []string{"sum(bytes)"}, Limit: 10})},
		{"Q2-topn-filtered", day(Query{Filter: "src net 10.0.0.0/8 and dst port 443 and proto tcp", GroupBy: []string{"src_addr"}, Metrics: []string{"sum(bytes)"}, Limit: 10})},
		{"Q3-series-5m", day(Query{GroupBy: []string{"time/5m"}, Metrics: []string{"sum(bytes)"}})},
		{"Q4-needle", day(Query{Filter: "host 10.19.1.125", From: "2026-01-07T13:00:00Z", To: "2026-01-07T14:00:00Z"})},
		{"Q5-distinct-dst", day(Query{GroupBy: []string{"src_addr"}, Metrics: []string{"count_distinct(dst_addr)"}, Limit: 10})},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e := New(l, Config{}, nil)
			defer e.Close()
			var rows int64
			for b.Loop() {
				res, err := e.Run(context.Background(), bc.q)
				if err != nil {
					b.Fatal(err)
				}
				rows += res.Plan.Stats.RowsScanned
				res.Release()
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
