package forecast

import (
	"fmt"
	"math"
	"slices"
)

// Backtest is the accuracy of a forecast on held-out points.
type Backtest struct {
	// Model is the model the forecast chose on the training part.
	Model string
	// Points is the number of held-out points.
	Points int
	// MASE is the forecast's mean absolute error scaled by the in-sample
	// mean absolute error of the seasonal-naive forecast with ScalePeriod
	// (Hyndman and Koehler, 2006): below 1 beats that naive forecast in
	// sample.
	MASE float64
	// NaiveMASE is the same measure for the seasonal-naive forecast (the
	// fallback, with the longest period that fits) on the same points.
	NaiveMASE float64
	// RMSE and MAE are the forecast's unscaled errors.
	RMSE, MAE float64
	// Coverage80 and Coverage95 are the shares of held-out points inside the
	// 80 % and 95 % prediction intervals.
	Coverage80, Coverage95 float64
	// ScalePeriod is the seasonal period of the MASE scale: the shortest of
	// the configured periods, 1 without one.
	ScalePeriod int
}

// RunBacktest forecasts the last holdout points of s from the points before
// them with cfg (its Horizon is replaced by holdout) and measures the errors.
func RunBacktest(s Series, cfg Config, holdout int) (Backtest, error) {
	n := len(s.Values)
	if holdout < 1 || holdout >= n-1 {
		return Backtest{}, fmt.Errorf("backtest: holdout %d of %d points: must leave at least 2 points of history", holdout, n)
	}
	train := Series{Start: s.Start, Step: s.Step, Values: s.Values[:n-holdout]}
	test := s.Values[n-holdout:]
	if err := validate(test); err != nil {
		return Backtest{}, fmt.Errorf("backtest: held-out points: %w", err)
	}
	cfg.Horizon = holdout
	cfg.Holdout = 0
	res, err := Forecast(train, cfg)
	if err != nil {
		return Backtest{}, fmt.Errorf("backtest: %w", err)
	}
	periods := slices.Clone(cfg.Periods)
	slices.Sort(periods)
	m := 1
	if len(periods) > 0 {
		m = periods[0]
	}
	y := train.Values
	if m >= len(y) {
		m = 1
	}
	var scale float64
	for t := m; t < len(y); t++ {
		scale += math.Abs(y[t] - y[t-m])
	}
	scale /= float64(len(y) - m)
	if scale == 0 {
		return Backtest{}, fmt.Errorf("backtest: the training part is constant over period %d: MASE is undefined", m)
	}
	naive := naiveForecast(y, periods, holdout)
	if cfg.NonNegative {
		for i := range naive.Mean {
			naive.Mean[i] = max(naive.Mean[i], 0)
		}
	}
	b := Backtest{Model: res.Model, Points: holdout, ScalePeriod: m}
	var in80, in95 int
	var sumAbs, sumSq, naiveAbs float64
	for j, a := range test {
		d := a - res.Mean[j]
		sumAbs += math.Abs(d)
		sumSq += d * d
		naiveAbs += math.Abs(a - naive.Mean[j])
		if a >= res.Lower80[j] && a <= res.Upper80[j] {
			in80++
		}
		if a >= res.Lower95[j] && a <= res.Upper95[j] {
			in95++
		}
	}
	h := float64(holdout)
	b.MAE = sumAbs / h
	b.RMSE = math.Sqrt(sumSq / h)
	b.MASE = b.MAE / scale
	b.NaiveMASE = naiveAbs / h / scale
	b.Coverage80 = float64(in80) / h
	b.Coverage95 = float64(in95) / h
	return b, nil
}
