package forecast_test

import (
	"runtime"
	"sync"
	"testing"

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
}
