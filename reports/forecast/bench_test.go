package forecast_test

import (
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flowlake/flowlake/reports/forecast"
)

// BenchmarkForecast1000Hourly forecasts 1,000 hourly series of 8 weeks one
// week ahead with HourlyConfig (every candidate fitted and scored on the
// holdout, the winner refitted), on GOMAXPROCS workers as a report job does.
func BenchmarkForecast1000Hourly(b *testing.B) {
	const n = 1000
	series := make([]forecast.Series, n)
	for i := range series {
		series[i] = synthHourly(8*168, uint64(i+1), 0.01, 0.05)
	}
	cfg := forecast.HourlyConfig()
	cpu0 := cpuTime(b)
	b.ResetTimer()
	for b.Loop() {
		jobs := make(chan forecast.Series)
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range runtime.GOMAXPROCS(0) {
			wg.Go(func() {
				for s := range jobs {
					if _, err := forecast.Forecast(s, cfg); err != nil {
						errs <- err
					}
				}
			})
		}
		for _, s := range series {
			jobs <- s
		}
		close(jobs)
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "series/s")
	// CPU time is steadier than wall time on a shared machine: CPU seconds
	// for 1,000 series divided by the cores is the idle-machine wall time.
	b.ReportMetric((cpuTime(b)-cpu0).Seconds()/float64(b.N), "cpu-s/1000series")
}

// cpuTime returns the process's user+system CPU time (getrusage).
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
