package forecast_test

import (
	"testing"

	"github.com/flowlake/flowlake/reports/forecast"
)

// TestSyntheticBacktest backtests synthetic hourly series with daily and
// weekly seasonality: the forecast must beat seasonal naive and its 80 %
// intervals must cover 75-85 % of the held-out week, pooled over the series.
func TestSyntheticBacktest(t *testing.T) {
	const weeks, series = 9, 12
	var mase, naive, cov80, cov95 float64
	for i := range series {
		s := synthHourly(weeks*168, uint64(i+1), 0.01, 0.05)
		b, err := forecast.RunBacktest(s, forecast.HourlyConfig(), 168)
		if err != nil {
			t.Fatalf("series %d: %v", i, err)
		}
		t.Logf("series %d: %s MASE %.3f naive %.3f cover80 %.3f cover95 %.3f", i, b.Model, b.MASE, b.NaiveMASE, b.Coverage80, b.Coverage95)
		mase += b.MASE / series
		naive += b.NaiveMASE / series
		cov80 += b.Coverage80 / series
		cov95 += b.Coverage95 / series
	}
	t.Logf("mean MASE %.3f, seasonal naive %.3f, coverage 80 %% %.3f, 95 %% %.3f", mase, naive, cov80, cov95)
	if mase >= naive {
		t.Errorf("MASE %.3f is not below seasonal naive's %.3f", mase, naive)
	}
	if cov80 < 0.75 || cov80 > 0.85 {
		t.Errorf("80 %% intervals cover %.3f of held-out points, want 0.75-0.85", cov80)
	}
}
