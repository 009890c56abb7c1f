package query

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/gen"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// agedStart is the first hour of the aged lakes.
var agedStart = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

// agedGen is the generator of the aged lakes: every dataset at a low rate,
// so the catalog holds as many partitions as a busy lake of that age while
// the rows stay few.
func agedGen(from, to time.Time) gen.Config {
	cfg := gen.DefaultConfig()
	cfg.Start, cfg.End = from, to
	cfg.FlowsPerSecond = 0.05
	cfg.TCPClosesPerHour, cfg.DHCPClientsPerSite, cfg.CloudDevicesPerSite = 2, 5, 1
	return cfg
}

// agedLake writes days of every dataset from agedStart into a lake under
// b.TempDir() and builds its rollups, outside the timer.
func agedLake(b *testing.B, days int) *lake.Lake {
	b.Helper()
	ctx := context.Background()
	lcfg := lake.DefaultConfig()
	lcfg.Root = b.TempDir()
	l, err := lake.Open(lcfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	agedWrite(b, l, agedStart, agedStart.Add(time.Duration(days)*24*time.Hour))
	e := New(l, Config{}, nil)
	defer e.Close()
	if _, err := e.MaintainRollups(ctx); err != nil {
		b.Fatal(err)
	}
	return l
}

// agedWrite writes [from, to) of every dataset a week at a time.
func agedWrite(b *testing.B, l *lake.Lake, from, to time.Time) {
	b.Helper()
	ctx := context.Background()
	for start := from; start.Before(to); start = start.Add(7 * 24 * time.Hour) {
		end := start.Add(7 * 24 * time.Hour)
		if end.After(to) {
			end = to
		}
		c, err := gen.Collect(ctx, agedGen(start, end))
		if err != nil {
			b.Fatal(err)
		}
		for _, err := range []error{agedPut(ctx, l, c.FlowRows), agedPut(ctx, l, c.TCPConnRows), agedPut(ctx, l, c.TCPPacketRows),
			agedPut(ctx, l, c.DHCPRows), agedPut(ctx, l, c.CloudRows)} {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}

func agedPut[T schema.Row](ctx context.Context, l *lake.Lake, rows []T) error {
	if len(rows) == 0 {
		return nil
	}
	_, err := lake.Write(ctx, l, "gen", rows)
	return err
}

// BenchmarkRollupAged measures what building one hour's rollups costs on
// lakes of growing age: each iteration writes the next week of every
// dataset (outside the timer) and times MaintainRollups building its 168
// hours and 7 days (the call's own listing of the lake included). The per-hour cost must not grow with the lake
// (docs/benchmarks.md, "Fixed cost").
//
//	go test ./storage/query -run '^$' -bench RollupAged -benchtime 3x
func BenchmarkRollupAged(b *testing.B) {
	for _, days := range []int{1, 30, 180} {
		b.Run(strconv.Itoa(days)+"d", func(b *testing.B) {
			l := agedLake(b, days)
			e := New(l, Config{}, nil)
			defer e.Close()
			next := agedStart.Add(time.Duration(days) * 24 * time.Hour)
			built := 0
			for b.Loop() {
				b.StopTimer()
				agedWrite(b, l, next, next.Add(7*24*time.Hour))
				next = next.Add(7 * 24 * time.Hour)
				b.StartTimer()
				res, err := e.MaintainRollups(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				built += len(res.Built)
			}
			if want := b.N * 7 * (24*3 + 1); built != want {
				b.Fatalf("built %d rollup segments, want %d", built, want)
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(7*24*b.N), "ms/hour")
		})
	}
}

// BenchmarkSmallQueryAged measures an engine's cost for a small query
// (one hour of flows, by protocol) on lakes of growing age, the engine
// warm: what is left is planning on the catalog, which must not grow with
// the lake.
//
//	go test ./storage/query -run '^$' -bench SmallQueryAged -benchtime 200x
func BenchmarkSmallQueryAged(b *testing.B) {
	for _, days := range []int{1, 30, 180} {
		b.Run(strconv.Itoa(days)+"d", func(b *testing.B) {
			l := agedLake(b, days)
			e := New(l, Config{}, nil)
			defer e.Close()
			h := agedStart.Add(time.Duration(days)*24*time.Hour - 5*time.Hour)
			q := Query{Dataset: schema.Flows, From: h.Format(time.RFC3339), To: h.Add(time.Hour).Format(time.RFC3339),
				GroupBy: []string{"proto"}, Metrics: []string{"sum(bytes)"}}
			for b.Loop() {
				res, err := e.Run(context.Background(), q)
				if err != nil {
					b.Fatal(err)
				}
				if len(res.Records) == 0 {
					b.Fatal(fmt.Errorf("no rows"))
				}
				res.Release()
			}
		})
	}
}
