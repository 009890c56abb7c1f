package forecast_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/flowlake/flowlake/reports/forecast"
)

// monthlyMultiplicative returns n months of a series growing 1.5 % a month
// whose seasonal swing (±30 %) and noise (5 %, log-normal) are proportional
// to the level: the shape ETS(M,A,M) models, and an additive model fits
// worse as the swing widens.
func monthlyMultiplicative(n int, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	y := make([]float64, n)
	for t := range y {
		level := 100 * math.Pow(1.015, float64(t))
		season := 1 + 0.3*math.Sin(2*math.Pi*float64(t%12)/12)
		y[t] = level * season * math.Exp(0.05*rng.NormFloat64())
	}
	return y
}

// TestChooseScale checks the choice between the values and their logarithm:
// a multiplicative series is modelled on the logarithm (its bounds stay
// positive and the candidates list both scales' simplest model), a series
// with a zero or a negative value never is, and additive traffic stays
// additive.
func TestChooseScale(t *testing.T) {
	withZero := monthlyMultiplicative(96, 2)
	withZero[40] = 0
	negative := monthlyMultiplicative(96, 3)
	negative[7] = -1
	cases := []struct {
		name    string
		values  []float64
		cfg     forecast.Config
		wantLog bool
	}{
		{name: "multiplicative", values: monthlyMultiplicative(96, 1), cfg: forecast.Config{Horizon: 24, Periods: []int{12}}, wantLog: true},
		{name: "a zero", values: withZero, cfg: forecast.Config{Horizon: 24, Periods: []int{12}}},
		{name: "a negative", values: negative, cfg: forecast.Config{Horizon: 24, Periods: []int{12}}},
		{name: "additive hourly", values: synthHourly(8*168, 5, 0.01, 0.02).Values, cfg: forecast.HourlyConfig()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := forecast.Forecast(forecast.Series{Start: time.Unix(0, 0), Step: time.Hour, Values: c.values}, c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			checkFinite(t, res, c.cfg.Horizon)
			isLog := strings.HasPrefix(res.Model, "log ")
			if isLog != c.wantLog {
				t.Errorf("model %s, want a log model: %v (candidates %v)", res.Model, c.wantLog, res.Candidates)
			}
			logCandidates := 0
			for name, score := range res.Candidates {
				if math.IsNaN(score) || math.IsInf(score, 0) {
					t.Errorf("candidate %s scored %v", name, score)
				}
				if strings.HasPrefix(name, "log ") {
					logCandidates++
				}
			}
			if c.wantLog && logCandidates == 0 {
				t.Errorf("no log candidate in %v", res.Candidates)
			}
			if (c.name == "a zero" || c.name == "a negative") && logCandidates > 0 {
				t.Errorf("log candidates for a series that is not positive: %v", res.Candidates)
			}
			if isLog {
				for j, lo := range res.Lower95 {
					if !(lo > 0) {
						t.Fatalf("step %d: lower 95 %% bound %v of a log model is not positive", j, lo)
					}
				}
			}
		})
	}
}
