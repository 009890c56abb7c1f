package forecast_test

import (
	"context"
	"testing"
	"time"

	"github.com/flowlake/flowlake/reports/forecast"
	"github.com/flowlake/flowlake/storage/gen"
)

// generatorSeries returns the hourly bytes of weeks weeks of storage/gen's
// flows at a low rate (the shape, not the volume, matters here), generated
// a week at a time into one reused gen.Collector, so no more than a week of
// flows is held at once (the test may import storage/gen but not
// storage/schema, so it cannot define a streaming Sink of its own).
func generatorSeries(t *testing.T, weeks int, seed int64) forecast.Series {
	t.Helper()
	cfg := gen.DefaultConfig()
	cfg.Seed = seed
	cfg.FlowsPerSecond = 1
	cfg.HostsPerSite = 300
	cfg.ExternalHosts = 3000
	cfg.TCPClosesPerHour = 0.001
	cfg.DHCPClientsPerSite = 1
	cfg.RoguesPerWeek = 0.001
	cfg.CloudDevicesPerSite = 1
	cfg.CloudInterval = time.Hour
	start := cfg.Start
	bytes := make([]float64, weeks*168)
	week := 7 * 24 * time.Hour
	c := &gen.Collector{} // reused: its slices keep their capacity week to week
	for w := range weeks {
		cfg.Start = start.Add(time.Duration(w) * week)
		cfg.End = cfg.Start.Add(week)
		g, err := gen.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		c.FlowRows, c.TCPConnRows, c.TCPPacketRows = c.FlowRows[:0], c.TCPConnRows[:0], c.TCPPacketRows[:0]
		c.DHCPRows, c.CloudRows = c.DHCPRows[:0], c.CloudRows[:0]
		if err := g.Run(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		for _, r := range c.FlowRows {
			i := int((r.Time - start.UnixMicro()) / time.Hour.Microseconds())
			if i >= 0 && i < len(bytes) {
				bytes[i] += float64(r.Bytes)
			}
		}
	}
	return forecast.Series{Start: start, Step: time.Hour, Values: bytes}
}

// TestGeneratorBacktest backtests the last week of nine weeks of the
// generator's hourly bytes: MASE below seasonal naive's and the 80 %
// intervals covering 75-85 % of the held-out hours, pooled over seeds.
func TestGeneratorBacktest(t *testing.T) {
	if testing.Short() {
		t.Skip("generates nine weeks of flows")
	}
	seeds := []int64{1, 2, 3, 4}
	var mase, naive, cov80, cov95 float64
	for _, seed := range seeds {
		s := generatorSeries(t, 9, seed)
		b, err := forecast.RunBacktest(s, forecast.HourlyConfig(), 168)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		t.Logf("seed %d: %s MASE %.3f (seasonal naive %.3f) RMSE %.4g coverage 80 %% %.3f 95 %% %.3f",
			seed, b.Model, b.MASE, b.NaiveMASE, b.RMSE, b.Coverage80, b.Coverage95)
		k := float64(len(seeds))
		mase += b.MASE / k
		naive += b.NaiveMASE / k
		cov80 += b.Coverage80 / k
		cov95 += b.Coverage95 / k
	}
	t.Logf("mean MASE %.3f, seasonal naive %.3f, coverage 80 %% %.3f, 95 %% %.3f", mase, naive, cov80, cov95)
	if mase >= naive {
		t.Errorf("MASE %.3f is not below seasonal naive's %.3f", mase, naive)
	}
	if cov80 < 0.75 || cov80 > 0.85 {
		t.Errorf("80 %% intervals cover %.3f of held-out hours, want 0.75-0.85", cov80)
	}
}
