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
// AICc must choose no trend, as R's ets did (the holdout selection chose an
// additive trend and scored 3.25), the MASE must land within 20 % of the
// published ETS's (a broken fit or selection lands far from it) and the
// 80 % intervals must cover 75-85 % of the 25 quarters. Seasonal naive
// (0.862) beats both published models and ours on this test period, the
// drop after the 2003-2007 boom: that is logged and documented
// (docs/forecast.md), not asserted away.
func TestQcementPublished(t *testing.T) {
	const publishedETS = 1.052
	b := backtestQuarterly(t, "testdata/qcement.csv", time.Date(1988, 1, 1, 0, 0, 0, 0, time.UTC), 105, 25)
	t.Logf("qcement: %s MASE %.3f RMSE %.3f (published ETS(M,N,M) 1.052/0.184, ARIMA 1.153/0.200; seasonal naive MASE %.3f) coverage 80 %% %.2f 95 %% %.2f",
		b.Model, b.MASE, b.RMSE, b.NaiveMASE, b.Coverage80, b.Coverage95)
	if b.Model != "ETS(A,N,A)[4]" {
		t.Errorf("model %s, want ETS(A,N,A)[4] (R's ets chose no trend, ETS(M,N,M))", b.Model)
	}
	if math.Abs(b.MASE-publishedETS) > 0.2*publishedETS {
		t.Errorf("MASE %.3f is not within 20 %% of the published ETS's %.3f", b.MASE, publishedETS)
	}
	if b.Coverage80 < 0.75 || b.Coverage80 > 0.85 {
		t.Errorf("80 %% intervals cover %.2f of the 25 held-out quarters, want 0.75-0.85", b.Coverage80)
	}
}

// TestAusbeerPublished backtests the example of Hyndman and Athanasopoulos,
// FPP (2nd ed.), section 3.4 "Evaluating forecast accuracy": quarterly
// Australian beer production trained on 1992Q1-2007Q4 (64 quarters),
// tested on 2008Q1-2010Q2 (10 quarters), where seasonal naive is the best
// of the book's benchmarks with MASE 0.94 and RMSE 14.3 ("although it can
// still be improved"). Our seasonal naive must reproduce the published
// figures (the MASE scale is the book's), the automatic forecast must beat
// it, and its 80 % intervals must cover 75-85 % of the 10 quarters.
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
