package reports

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/gen"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/query"
	"github.com/flowlake/flowlake/storage/schema"
)

// benchEngine generates [from, to) of every dataset at fps flows a second
// into a lake under b.TempDir() and builds its rollups, outside the timer.
func benchEngine(b *testing.B, from, to time.Time, fps float64) *query.Engine {
	b.Helper()
	ctx := context.Background()
	lcfg := lake.DefaultConfig()
	lcfg.Root = b.TempDir()
	l, err := lake.Open(lcfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	// A week at a time, so the generator's rows never hold more than a
	// week in memory.
	for start := from; start.Before(to); start = start.Add(7 * 24 * time.Hour) {
		cfg := gen.DefaultConfig()
		end := start.Add(7 * 24 * time.Hour)
		if end.After(to) {
			end = to
		}
		cfg.Start, cfg.End = start, end
		cfg.FlowsPerSecond = fps
		cfg.TCPClosesPerHour, cfg.DHCPClientsPerSite, cfg.CloudDevicesPerSite = 10, 50, 2
		c, err := gen.Collect(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		for _, err := range []error{write(ctx, l, c.FlowRows), write(ctx, l, c.TCPConnRows), write(ctx, l, c.TCPPacketRows),
			write(ctx, l, c.DHCPRows), write(ctx, l, c.CloudRows), write(ctx, l, c.LossRows)} {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	eng := query.New(l, query.Config{}, nil)
	b.Cleanup(func() { eng.Close() })
	if _, err := eng.MaintainRollups(ctx); err != nil {
		b.Fatal(err)
	}
	return eng
}

// benchLakeAt opens the lake in dir, checks that it holds flows, and brings
// its rollups up to date, outside the timer.
func benchLakeAt(b *testing.B, dir string) *query.Engine {
	b.Helper()
	ctx := context.Background()
	lcfg := lake.DefaultConfig()
	lcfg.Root = dir
	l, err := lake.Open(lcfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	st, err := l.Stats(ctx)
	if err != nil {
		b.Fatal(err)
	}
	for _, s := range st {
		if s.Dataset == "flows" && s.Rows == 0 {
			b.Fatalf("%s=%s holds no flows", yearLakeEnv, dir)
		}
	}
	eng := query.New(l, query.Config{}, nil)
	b.Cleanup(func() { eng.Close() })
	if _, err := eng.MaintainRollups(ctx); err != nil {
		b.Fatal(err)
	}
	return eng
}

// benchBuild builds def over p b.N times and reports the queries a report
// asks and the heap it allocates.
func benchBuild(b *testing.B, eng *query.Engine, def Definition, p Period) {
	b.Helper()
	b.ReportAllocs()
	var queries, warnings int
	cpu0 := cpuTime(b)
	b.ResetTimer()
	for b.Loop() {
		bl, err := assemble(context.Background(), eng, def, p)
		if err != nil {
			b.Fatal(err)
		}
		queries, warnings = len(bl.r.asked), len(bl.r.warnings)
	}
	b.StopTimer()
	b.ReportMetric((cpuTime(b)-cpu0).Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(queries), "queries/op")
	// Warnings are files the answers left out: a figure over a lake with
	// unreadable files (a schema changed since it was written) times less
	// than the report would read.
	b.ReportMetric(float64(warnings), "warnings/op")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapSys)/(1<<20), "heap-sys-MiB")
}

// BenchmarkDailyReport builds the daily link report (every interface of
// the generated network, the day before compared) in Europe/Berlin over two
// days of flows at 20 flows/s. Acceptance: < 1 s on the 2-core machine.
//
//	go test -run '^$' -bench BenchmarkDailyReport -benchtime 5x ./reports/
func BenchmarkDailyReport(b *testing.B) {
	from := time.Date(2026, 10, 24, 0, 0, 0, 0, time.UTC)
	eng := benchEngine(b, from.Add(-2*time.Hour), from.Add(50*time.Hour), 20)
	p, err := ParsePeriod(Daily, "2026-10-25", "Europe/Berlin", from)
	if err != nil {
		b.Fatal(err)
	}
	benchBuild(b, eng, Definition{Type: TypeLink, Zone: "Europe/Berlin"}, p)
}

// yearLakeEnv names a lake the yearly benchmark reads instead of
// generating one: generating a year takes a quarter of an hour on the
// 2-core machine, so a lake built once by the CLI serves every run.
const yearLakeEnv = "FLOWLAKE_BENCH_YEAR_LAKE"

// BenchmarkYearlySummary builds the yearly summary of 2026 (compared with
// 2025) over a year of rollups generated at 0.5 flows/s. Acceptance: < 5 s
// and < 500 MB peak on the 2-core machine. Generating the lake takes
// about 15 minutes; with FLOWLAKE_BENCH_YEAR_LAKE set to a lake built by
// `flowlake gen --from 2026-01-01T00:00:00Z --to 2027-01-01T00:00:00Z
// --rate 0.5 --data DIR` the benchmark reads that one (rollups are brought
// up to date first, outside the timer):
//
//	go test -run '^$' -bench BenchmarkYearlySummary -benchtime 3x -timeout 60m ./reports/
//	FLOWLAKE_BENCH_YEAR_LAKE=DIR go test -run '^$' -bench BenchmarkYearlySummary -benchtime 3x ./reports/
func BenchmarkYearlySummary(b *testing.B) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var eng *query.Engine
	if dir := os.Getenv(yearLakeEnv); dir != "" {
		eng = benchLakeAt(b, dir)
	} else {
		eng = benchEngine(b, from, from.AddDate(1, 0, 0), 0.5)
	}
	p, err := ParsePeriod(Yearly, "2026", "UTC", from)
	if err != nil {
		b.Fatal(err)
	}
	benchBuild(b, eng, Definition{Type: TypeSummary}, p)
}

// cpuTime is the process's user and system CPU time: steadier than wall
// time on a shared machine.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkFlowLossYearly builds the fault report's flow loss section over
// a year of flow_loss rows as the edges write them: 3 edges × 3 exporters,
// one row per exporter and loss_interval (1 minute, the default: 4.7 M
// rows; 5 minutes: 0.95 M), in 8,760 hour partitions, a gap in every
// 250th row, compared with the empty year before. It is the cost flow loss
// adds to a yearly fault report read from raw rows: the benchmark builds
// no rollups (with flow_loss_1d fresh, the section reads 365 files):
//
//	go test -run '^$' -bench BenchmarkFlowLossYearly -benchtime 3x -timeout 30m ./reports/
func BenchmarkFlowLossYearly(b *testing.B) {
	for _, every := range []time.Duration{time.Minute, 5 * time.Minute} {
		b.Run("interval="+every.String(), func(b *testing.B) {
			ctx := context.Background()
			lcfg := lake.DefaultConfig()
			lcfg.Root = b.TempDir()
			l, err := lake.Open(lcfg, nil)
			if err != nil {
				b.Fatal(err)
			}
			from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			var rows []schema.FlowLoss
			var n int
			for day := from; day.Year() == 2026; day = day.AddDate(0, 0, 1) {
				for e := range 3 {
					rows = rows[:0]
					edge := fmt.Sprintf("edge-%d", e)
					for at := day; at.Before(day.AddDate(0, 0, 1)); at = at.Add(every) {
						for x := range 3 {
							r := schema.FlowLoss{Time: schema.Micros(at), DurationMS: uint32(every.Milliseconds()), Edge: edge,
								Cause: schema.LossSequence, Device: fmt.Sprintf("%s-x%d", edge, x), Format: "ipfix", Domain: 1, Datagrams: 40, Flows: 800}
							if n++; n%250 == 0 {
								r.SequenceGaps, r.LostFlows = 1, 20
							}
							rows = append(rows, r)
						}
					}
					if _, err := lake.Write(ctx, l, edge, rows); err != nil {
						b.Fatal(err)
					}
				}
			}
			eng := query.New(l, query.Config{}, nil)
			b.Cleanup(func() { eng.Close() })
			p, err := ParsePeriod(Yearly, "2026", "UTC", from)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(n), "rows")
			benchBuild(b, eng, Definition{Type: TypeFaults, Sections: []string{"flowloss"}}, p)
		})
	}
}
