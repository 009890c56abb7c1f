package forecast_test

import (
	"bufio"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowlake/flowlake/reports/forecast"
)

// readQuarterly reads a testdata file of "quarter,value" rows after '#'
// comments and a header.
func readQuarterly(t *testing.T, path string) []float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.HasPrefix(line, "quarter") || line == "" {
			continue
		}
		_, v, ok := strings.Cut(line, ",")
		if !ok {
			t.Fatalf("%s: bad row %q", path, line)
		}
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatalf("%s: row %q: %v", path, line, err)
		}
		out = append(out, x)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// quarterly is the forecast configuration of the public quarterly series:
// one yearly period, every trend, non-negative.
var quarterly = forecast.Config{Periods: []int{4}, NonNegative: true}

// backtestQuarterly loads a public series, checks its length and backtests
// the automatic forecast on its last test quarters.
func backtestQuarterly(t *testing.T, path string, start time.Time, quarters, test int) forecast.Backtest {
	t.Helper()
	y := readQuarterly(t, path)
	if len(y) != quarters {
		t.Fatalf("%s: %d quarters, want %d", path, len(y), quarters)
	}
	s := forecast.Series{Start: start, Step: 91 * 24 * time.Hour, Values: y}
	b, err := forecast.RunBacktest(s, quarterly, test)
	if err != nil {
		t.Fatal(err)
	}
	if b.Points != test {
		t.Errorf("%d held-out points, want %d", b.Points, test)
	}
	return b
}

// TestQcementPublished reproduces the test-set comparison of Hyndman and
// Athanasopoulos, Forecasting: Principles and Practice (2nd ed.), section
// 8.10 "ARIMA vs ETS": qcement from 1988, trained on 1988Q1-2007Q4 (80
// quarters), forecast 25 quarters (2008Q1-2014Q1). Published test-set
// MASE: ETS(M,N,M) chosen by AICc 1.052 (RMSE 0.184), ARIMA(1,0,1)(2,1,1)[4]
// with drift 1.153 (RMSE 0.200); MASE is scaled by the training set's
// seasonal-naive MAE, as R's accuracy() does and RunBacktest does.
//
// AICc must make R's choice, no trend with errors and season proportional
// to the level (here: ETS(A,N,A) on the logarithm; the holdout selection
// chose an additive trend and scored 3.25), and the MASE must be within 5 %
// of the published ETS's. Seasonal naive (0.862) beats both published
// models and ours on this one test period, the drop after the 2003-2007
// boom, and 22 of the 25 quarters fall inside the 80 % band: that is logged
// and documented (docs/forecast.md); TestPublicRollingOrigin holds both to
// the acceptance over many origins.
func TestQcementPublished(t *testing.T) {
	const publishedETS = 1.052
	b := backtestQuarterly(t, "testdata/qcement.csv", time.Date(1988, 1, 1, 0, 0, 0, 0, time.UTC), 105, 25)
	t.Logf("qcement: %s MASE %.3f RMSE %.3f (published ETS(M,N,M) 1.052/0.184, ARIMA 1.153/0.200; seasonal naive MASE %.3f) coverage 80 %% %.2f 95 %% %.2f",
		b.Model, b.MASE, b.RMSE, b.NaiveMASE, b.Coverage80, b.Coverage95)
	if b.Model != "log ETS(A,N,A)[4]" {
		t.Errorf("model %s, want log ETS(A,N,A)[4] (R's ets chose ETS(M,N,M))", b.Model)
	}
	if math.Abs(b.MASE-publishedETS) > 0.05*publishedETS {
		t.Errorf("MASE %.3f is not within 5 %% of the published ETS's %.3f", b.MASE, publishedETS)
	}
}

// TestAusbeerPublished backtests the example of Hyndman and Athanasopoulos,
// FPP (2nd ed.), section 3.4 "Evaluating forecast accuracy": quarterly
// Australian beer production trained on 1992Q1-2007Q4 (64 quarters),
// tested on 2008Q1-2010Q2 (10 quarters), where seasonal naive is the best
// of the book's benchmarks with MASE 0.94 ("although it can still be
// improved"). Our seasonal naive must reproduce the published figure (the
// MASE scale is the book's), the automatic forecast must beat it, and its
// 80 % intervals must cover 75-85 % of the 10 quarters.
func TestAusbeerPublished(t *testing.T) {
	const publishedSNaiveMASE = 0.94
	b := backtestQuarterly(t, "testdata/ausbeer.csv", time.Date(1992, 1, 1, 0, 0, 0, 0, time.UTC), 74, 10)
	t.Logf("ausbeer: %s MASE %.3f RMSE %.2f (published seasonal naive MASE 0.94, RMSE 14.3; ours %.3f) coverage 80 %% %.2f 95 %% %.2f",
		b.Model, b.MASE, b.RMSE, b.NaiveMASE, b.Coverage80, b.Coverage95)
	if math.Abs(b.NaiveMASE-publishedSNaiveMASE) > 0.005 {
		t.Errorf("seasonal naive MASE %.3f, the book has %.2f: the scale or the naive forecast differs", b.NaiveMASE, publishedSNaiveMASE)
	}
	if b.MASE >= b.NaiveMASE {
		t.Errorf("MASE %.3f is not below seasonal naive's %.3f", b.MASE, b.NaiveMASE)
	}
	if b.Coverage80 < 0.75 || b.Coverage80 > 0.85 {
		t.Errorf("80 %% intervals cover %.2f of the 10 held-out quarters, want 0.75-0.85", b.Coverage80)
	}
}

// TestPublicRollingOrigin evaluates both public series on a rolling origin
// (time-series cross-validation, FPP 3.4): from every origin with at least
// ten years of history, forecast the next two years (8 quarters, two
// seasonal cycles, R's default horizon) from the history up to it. One
// test period is one path of correlated errors; some fifty origins judge
// the point forecast and the intervals on many. Mean MASE must be below
// seasonal naive's and the 80 % intervals must cover 75-85 % of the
// forecasts, on each series.
func TestPublicRollingOrigin(t *testing.T) {
	const horizon, minHistory = 8, 40
	cases := []struct {
		name     string
		path     string
		quarters int
	}{
		{name: "qcement", path: "testdata/qcement.csv", quarters: 105},
		{name: "ausbeer", path: "testdata/ausbeer.csv", quarters: 74},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			y := readQuarterly(t, c.path)
			if len(y) != c.quarters {
				t.Fatalf("%d quarters, want %d", len(y), c.quarters)
			}
			var mase, naive, cov80, cov95 float64
			models := map[string]int{}
			origins := 0
			for end := minHistory + horizon; end <= len(y); end++ {
				s := forecast.Series{Step: 91 * 24 * time.Hour, Values: y[:end]}
				b, err := forecast.RunBacktest(s, quarterly, horizon)
				if err != nil {
					t.Fatalf("origin %d: %v", end-horizon, err)
				}
				mase += b.MASE
				naive += b.NaiveMASE
				cov80 += b.Coverage80
				cov95 += b.Coverage95
				models[b.Model]++
				origins++
			}
			k := float64(origins)
			mase, naive, cov80, cov95 = mase/k, naive/k, cov80/k, cov95/k
			t.Logf("%s, %d origins × %d quarters: MASE %.3f (seasonal naive %.3f), coverage 80 %% %.3f 95 %% %.3f, models %v",
				c.name, origins, horizon, mase, naive, cov80, cov95, models)
			if mase >= naive {
				t.Errorf("mean MASE %.3f is not below seasonal naive's %.3f", mase, naive)
			}
			if cov80 < 0.75 || cov80 > 0.85 {
				t.Errorf("80 %% intervals cover %.3f of the forecasts, want 0.75-0.85", cov80)
			}
		})
	}
}
