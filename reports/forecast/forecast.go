package forecast

import (
	"fmt"
	"math"
	"slices"
)

// MaxHorizon is the longest forecast accepted: a year of hourly steps and
// then some, so a mistyped horizon is refused instead of allocating without
// bound.
const MaxHorizon = 1 << 16

// Config says what to forecast and which models to consider.
type Config struct {
	// Horizon is the number of steps to forecast.
	Horizon int
	// Periods are the candidate seasonal periods in steps, at most two
	// (hourly traffic: 24 and 168; monthly data: 12). Empty means a
	// non-seasonal series.
	Periods []int
	// Holdout is ignored: the model is chosen by AICc on the whole history
	// (docs/forecast.md, "Selection"), which a held-out stretch misled.
	//
	// Deprecated: kept so existing configurations compile; a negative value
	// is still refused by Validate.
	Holdout int
	// NonNegative clamps forecasts and interval bounds at zero, for counts
	// such as bytes that cannot go below it.
	NonNegative bool
	// Trends are the candidate trends; empty means all three (none,
	// additive, damped). A caller that knows a series has no trend (a
	// baseline) narrows it.
	Trends []Trend
}

// HourlyConfig is the configuration for hourly traffic: daily and weekly
// seasonality, a one-week horizon, non-negative values.
func HourlyConfig() Config {
	return Config{Horizon: 168, Periods: []int{24, 168}, NonNegative: true}
}

// Validate reports a configuration that cannot be used.
func (c Config) Validate() error {
	if c.Horizon < 1 || c.Horizon > MaxHorizon {
		return fmt.Errorf("forecast config: horizon %d: must be between 1 and %d steps", c.Horizon, MaxHorizon)
	}
	if len(c.Periods) > 2 {
		return fmt.Errorf("forecast config: %d seasonal periods: at most 2 are supported", len(c.Periods))
	}
	for _, p := range c.Periods {
		if p < 2 {
			return fmt.Errorf("forecast config: seasonal period %d: must be at least 2", p)
		}
	}
	if len(c.Periods) == 2 && c.Periods[0] == c.Periods[1] {
		return fmt.Errorf("forecast config: seasonal period %d given twice", c.Periods[0])
	}
	if c.Holdout < 0 {
		return fmt.Errorf("forecast config: holdout %d: must not be negative", c.Holdout)
	}
	for _, t := range c.Trends {
		if t < TrendNone || t > TrendDamped {
			return fmt.Errorf("forecast config: unknown trend %d", int(t))
		}
	}
	return nil
}

// Result is a forecast: points and 80 %/95 % prediction intervals for the
// steps after the history, and the model that produced them.
type Result struct {
	// Model names the chosen model, e.g. "ETS(A,Ad,A)[24,168]",
	// "log ETS(A,N,A)[168]" (fitted to the logarithm of the series) or
	// "SNAIVE[168]".
	Model string
	// Params are the fitted smoothing parameters (zero for the naive models;
	// a log model's smooth the logarithm).
	Params Params
	// Sigma is the standard deviation of the one-step errors in the history,
	// on the series' scale.
	Sigma float64
	// Fallback is true when the history was too short for any smoothing model.
	Fallback bool
	// Candidates are the AICc of every model considered, by name, on the
	// series' own scale (lower is better; only differences between models
	// of the same series mean anything); empty for a fallback.
	Candidates map[string]float64
	// Series is the forecast's time axis: Start is the time of the first
	// forecast step (Values is empty).
	Series Series
	// Mean is the point forecast of each step.
	Mean []float64
	// Lower80 to Upper95 are the bounds of the 80 % and 95 % prediction
	// intervals of each step.
	Lower80, Upper80, Lower95, Upper95 []float64
}

// Forecast fits every candidate model to the whole history by maximum
// likelihood, keeps the one with the smallest AICc (as R's forecast::ets
// does) and forecasts cfg.Horizon steps with 80 % and 95 % intervals. The
// candidates are every trend of cfg.Trends (none, additive, damped) with
// every set of seasonal periods that has two full cycles in the history (with
// two periods: the longer alone and both), plus the seasonal-naive forecast;
// with too short a history Forecast falls back to seasonal naive (or naive
// below one cycle). The returned Series is the forecast's time axis.
func Forecast(s Series, cfg Config) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := validate(s.Values); err != nil {
		return nil, fmt.Errorf("forecast: %w", err)
	}
	periods := slices.Clone(cfg.Periods)
	slices.Sort(periods)
	// Fit on values scaled to at most 1 in magnitude, so squared errors of
	// any finite series stay finite; scale back at the end.
	scale := 0.0
	for _, v := range s.Values {
		scale = max(scale, math.Abs(v))
	}
	if scale == 0 {
		scale = 1
	}
	y := make([]float64, len(s.Values))
	for i, v := range s.Values {
		y[i] = v / scale
	}
	n := len(y)
	trends := cfg.Trends
	if len(trends) == 0 {
		trends = []Trend{TrendNone, TrendAdditive, TrendDamped}
	}
	specs := candidates(periods, trends, n)
	var res *Result
	if len(specs) == 0 {
		res = naiveForecast(y, periods, cfg.Horizon)
	} else {
		var err error
		res, err = choose(y, specs, periods, cfg.Horizon)
		if err != nil {
			return nil, fmt.Errorf("forecast: %w", err)
		}
	}
	res.Series = Series{Start: s.TimeAt(n), Step: s.Step}
	res.Sigma *= scale
	// AICc on the series' own scale: n·log(SSE/n) grows by n·log(scale²).
	for k := range res.Candidates {
		res.Candidates[k] += float64(n) * 2 * math.Log(scale)
	}
	for _, v := range [][]float64{res.Mean, res.Lower80, res.Upper80, res.Lower95, res.Upper95} {
		for i := range v {
			// Clamped, so a forecast near the float64 range stays finite.
			v[i] = min(max(v[i]*scale, -math.MaxFloat64), math.MaxFloat64)
			if cfg.NonNegative {
				v[i] = max(v[i], 0)
			}
		}
	}
	return res, nil
}

// candidates lists the smoothing models whose initial states fit in n
// points. With two periods the shorter one alone is left out once the pair
// fits: the pair nests it (its longer ring may stay still), and dropping it
// saves a third of the fitting time.
func candidates(periods []int, trends []Trend, n int) []spec {
	var sets [][]int
	switch len(periods) {
	case 0:
		sets = [][]int{nil}
	case 1:
		sets = [][]int{periods}
	default:
		if n >= (spec{periods: periods}).minHistory() {
			sets = [][]int{{periods[1]}, periods}
		} else {
			sets = [][]int{{periods[0]}}
		}
	}
	var out []spec
	for _, set := range sets {
		for _, tr := range trends {
			sp := spec{trend: tr, periods: set}
			if n >= sp.minHistory() {
				out = append(out, sp)
			}
		}
	}
	return out
}

// intervals sets the 80 % and 95 % bounds of each step j from the empirical
// quantiles of the one-step residuals, widened by √vm[j], the growth of the
// error's spread with the horizon in the linear innovations form. With
// normal errors this is the analytic interval; with the heavy tails of
// traffic (a few large transfers) it keeps the 80 % band from being as wide
// as the outliers make σ.
func (r *Result) intervals(resid, vm []float64, inflate float64) {
	h := len(r.Mean)
	r.Lower80, r.Upper80 = make([]float64, h), make([]float64, h)
	r.Lower95, r.Upper95 = make([]float64, h), make([]float64, h)
	q := quantiles(resid, r.Sigma, 0.025, 0.10, 0.90, 0.975)
	if len(resid) >= minResiduals {
		for i := range q {
			q[i] *= inflate
		}
	}
	for j, m := range r.Mean {
		w := math.Sqrt(vm[j])
		r.Lower95[j], r.Lower80[j] = m+q[0]*w, m+q[1]*w
		r.Upper80[j], r.Upper95[j] = m+q[2]*w, m+q[3]*w
	}
}

// minResiduals is the fewest residuals whose quantiles are trusted; below it
// the normal quantiles with sigma are used.
const minResiduals = 40

// quantiles returns the ps-quantiles of resid (linear interpolation), or the
// normal ones with standard deviation sigma for fewer than minResiduals.
func quantiles(resid []float64, sigma float64, ps ...float64) []float64 {
	out := make([]float64, len(ps))
	if len(resid) < minResiduals {
		for i, p := range ps {
			out[i] = sigma * math.Sqrt2 * math.Erfinv(2*p-1)
		}
		return out
	}
	s := slices.Clone(resid)
	slices.Sort(s)
	for i, p := range ps {
		x := p * float64(len(s)-1)
		lo := int(x)
		hi := min(lo+1, len(s)-1)
		out[i] = s[lo] + (x-float64(lo))*(s[hi]-s[lo])
	}
	return out
}
