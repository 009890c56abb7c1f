package forecast_test

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowlake/flowlake/reports/forecast"
)

// readQuarterly reads testdata/qcement.csv ("quarter,value" rows after
// '#' comments and a header).
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

// TestQcementPublished reproduces the test-set comparison of Hyndman and
// Athanasopoulos, Forecasting: Principles and Practice (2nd ed.), section
// 8.10 "ARIMA vs ETS": qcement from 1988, trained on 1988Q1-2007Q4 (80
// quarters), forecast 25 quarters (2008Q1-2014Q1). Published test-set
// MASE: ETS(M,N,M) 1.052 (RMSE 0.184), ARIMA(1,0,1)(2,1,1)[4] with drift
// 1.153 (RMSE 0.200); MASE is scaled by the training set's seasonal-naive
// MAE, as R's accuracy() does and RunBacktest does.
//
// The same model class (no trend, additive here) must reproduce the
// published ETS accuracy within 20 %: a broken fit or initialisation lands
// far from it. The automatic choice is logged and documented, not held to
// the published figure: its holdout (2003-2007, a boom) picks an additive
// trend that 2008-2014 did not follow (docs/forecast.md).
func TestQcementPublished(t *testing.T) {
	y := readQuarterly(t, "testdata/qcement.csv")
	if len(y) != 105 {
		t.Fatalf("%d quarters, want 105 (1988Q1-2014Q1)", len(y))
	}
	s := forecast.Series{Start: time.Date(1988, 1, 1, 0, 0, 0, 0, time.UTC), Step: 91 * 24 * time.Hour, Values: y}
	const publishedETS = 1.052
	cases := []struct {
		name   string
		trends []forecast.Trend
		check  bool
	}{
		{name: "automatic", trends: nil},
		{name: "no trend", trends: []forecast.Trend{forecast.TrendNone}, check: true},
		{name: "damped", trends: []forecast.Trend{forecast.TrendDamped}},
	}
	for _, c := range cases {
		b, err := forecast.RunBacktest(s, forecast.Config{Periods: []int{4}, Trends: c.trends, NonNegative: true}, 25)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		t.Logf("qcement %s: %s MASE %.3f RMSE %.3f (published ETS(M,N,M) 1.052/0.184, ARIMA 1.153/0.200; seasonal naive MASE %.3f) coverage 80 %% %.2f 95 %% %.2f",
			c.name, b.Model, b.MASE, b.RMSE, b.NaiveMASE, b.Coverage80, b.Coverage95)
		if b.Points != 25 {
			t.Errorf("%s: %d held-out points, want 25", c.name, b.Points)
		}
		if c.check && (b.MASE > publishedETS*1.2 || b.MASE < publishedETS*0.8) {
			t.Errorf("%s: MASE %.3f is not within 20 %% of the published ETS's %.3f", c.name, b.MASE, publishedETS)
		}
		if c.check && b.Coverage95 < 0.8 {
			t.Errorf("%s: 95 %% intervals cover %.2f of the 25 held-out quarters", c.name, b.Coverage95)
		}
	}
}
