package forecast

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/optimize"
)

// Parameter bounds, as R's forecast::ets uses them: smoothing parameters in
// (0,1) with β < α and γ < 1-α, damping in [0.8, 0.98].
const (
	minParam = 1e-4
	phiLow   = 0.8
	phiHigh  = 0.98
)

// maxEvaluations caps Nelder-Mead's objective evaluations per fit when only
// the smoothing parameters are fitted: the objective is one pass over the
// history, and 1,000 series of 8 hourly weeks must fit in seconds
// (docs/benchmarks.md).
const maxEvaluations = 120

// maxStatePeriod is the longest seasonal period whose initial states are
// fitted with the smoothing parameters (as R's ets does): quarterly and
// monthly data. Longer periods (24 and 168 hours) keep the heuristic start:
// 167 more dimensions would make Nelder-Mead both slow and unreliable, and
// hourly histories are long enough for the smoothing to forget the start.
const maxStatePeriod = 12

// evaluationsPerDim is Nelder-Mead's budget per dimension when the initial
// states are fitted too (short series: a pass costs little), and
// maxStateSteps caps that budget's cost in filter steps (evaluations × points)
// so a long daily or monthly history still fits in tens of milliseconds.
const (
	evaluationsPerDim = 250
	maxStateSteps     = 20_000_000
)

// fitted is a model fitted to a history: its structure, its parameters, its
// state after the last point, and its one-step errors.
type fitted struct {
	spec   spec
	params Params
	state  state
	sse    float64 // sum of squared one-step errors over the history
	sigma2 float64
	n      int
	k      int       // estimated quantities: parameters, initial states and σ (AICc)
	kFit   int       // quantities fitted to minimise the errors (their degrees of freedom)
	errs   []float64 // one-step errors over the whole history
	resid  []float64 // the part of errs the intervals use
}

// aicc is the corrected Akaike information criterion of the fit under
// Gaussian errors, −2·log L + 2k + 2k(k+1)/(n−k−1) with
// −2·log L = n·log(SSE/n) up to a constant shared by every model on the same
// series (Hyndman et al. 2008, ch. 7; R's forecast::ets). +Inf when the
// history cannot pay for the model's k.
func aicc(sse float64, n, k int) float64 {
	if n-k-1 <= 0 || !finite(sse) {
		return math.Inf(1)
	}
	nf, kf := float64(n), float64(k)
	ll := nf * math.Log(max(sse/nf, 1e-300))
	return ll + 2*kf + 2*kf*(kf+1)/(nf-kf-1)
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func logit(p float64) float64 { return math.Log(p / (1 - p)) }

// nParams is the number of smoothing parameters of s.
func nParams(s spec) int {
	k := 1 + len(s.periods)
	if s.trend != TrendNone {
		k++
	}
	if s.trend == TrendDamped {
		k++
	}
	return k
}

// nStates is the number of free initial states of s: the level, the slope,
// and each seasonal ring but one index (the ring sums to zero).
func nStates(s spec) int {
	k := 1
	if s.trend != TrendNone {
		k++
	}
	for _, p := range s.periods {
		k += p - 1
	}
	return k
}

// fitStates reports whether the initial states of s are fitted.
func fitStates(s spec) bool { return s.maxPeriod() <= maxStatePeriod }

// decode maps the unconstrained optimisation vector onto parameters that
// satisfy the bounds, so Nelder-Mead needs no constraints.
func decode(s spec, x []float64) Params {
	squash := func(v float64) float64 { return minParam + (1-2*minParam)*sigmoid(v) }
	p := Params{Alpha: squash(x[0])}
	i := 1
	if s.trend != TrendNone {
		p.Beta = p.Alpha * squash(x[i])
		p.Phi = 1
		i++
	}
	if s.trend == TrendDamped {
		p.Phi = phiLow + (phiHigh-phiLow)*sigmoid(x[i])
		i++
	}
	p.Gamma = make([]float64, len(s.periods))
	for k := range s.periods {
		p.Gamma[k] = (1 - p.Alpha) * squash(x[i])
		i++
	}
	return p
}

// decodeStates sets dst to init moved by x, the state part of the
// optimisation vector (offsets in units of unit, the series' spread): the
// level, the slope (in tenths of unit), then each ring's first p−1 indexes,
// the last index moving against their sum so the ring stays centred.
func decodeStates(s spec, dst *state, init state, x []float64, unit float64) {
	copyState(dst, init)
	dst.level += x[0] * unit
	i := 1
	if s.trend != TrendNone {
		dst.slope += x[i] * unit / 10
		i++
	}
	for _, ring := range dst.season {
		var sum float64
		for j := range len(ring) - 1 {
			d := x[i] * unit
			ring[j] += d
			sum += d
			i++
		}
		ring[len(ring)-1] -= sum
	}
}

// start is the initial optimisation vector: α 0.2, β 0.1·α, φ 0.9, γ 0.05·(1-α).
func start(s spec) []float64 {
	x := []float64{logit(0.2)}
	if s.trend != TrendNone {
		x = append(x, logit(0.1))
	}
	if s.trend == TrendDamped {
		x = append(x, logit((0.9-phiLow)/(phiHigh-phiLow)))
	}
	for range s.periods {
		x = append(x, logit(0.05))
	}
	return x
}

// fit estimates the parameters of s on y by minimising the mean squared
// one-step-ahead error (the Gaussian likelihood) with Nelder-Mead, with the
// initial states too when the periods are short (fitStates), then filters
// y with them.
func fit(s spec, y []float64) (*fitted, error) {
	if len(y) < s.minHistory() {
		return nil, fmt.Errorf("fit %s: %w: %d points, need %d", s, ErrTooShort, len(y), s.minHistory())
	}
	init := initState(s, y)
	work := cloneState(init)
	np := nParams(s)
	x0 := start(s)
	evaluations := maxEvaluations
	withStates := fitStates(s)
	unit := spread(y)
	if withStates {
		x0 = append(x0, make([]float64, nStates(s))...)
		evaluations = max(maxEvaluations, min(evaluationsPerDim*len(x0), maxStateSteps/len(y)))
	}
	load := func(dst *state, x []float64) {
		if withStates {
			decodeStates(s, dst, init, x[np:], unit)
		} else {
			copyState(dst, init)
		}
	}
	objective := func(x []float64) float64 {
		load(&work, x)
		sse := filter(s, decode(s, x), &work, y, nil)
		if !finite(sse) {
			return math.MaxFloat64
		}
		return sse / float64(len(y))
	}
	settings := &optimize.Settings{
		FuncEvaluations: evaluations,
		Converger:       &optimize.FunctionConverge{Absolute: 1e-12, Relative: 1e-7, Iterations: 30 + 5*len(x0)},
	}
	res, err := optimize.Minimize(optimize.Problem{Func: objective}, x0, settings, &optimize.NelderMead{SimplexSize: 1})
	best := x0
	if res != nil && finite(res.F) && res.F < objective(x0) {
		best = res.X
	} else if err != nil && res == nil {
		return nil, fmt.Errorf("fit %s: %w", s, err)
	}
	p := decode(s, best)
	st := cloneState(init)
	load(&st, best)
	errs := make([]float64, len(y))
	sse := filter(s, p, &st, y, errs)
	if !finite(sse) {
		return nil, fmt.Errorf("fit %s: the one-step errors overflow: the series' values are too large", s)
	}
	// AICc charges for every estimated quantity, the heuristic initial
	// states included; the errors' degrees of freedom lose only what was
	// fitted to make them small.
	k, kFit := np+nStates(s)+1, np
	resid := errs
	if withStates {
		kFit += nStates(s)
	} else {
		// The first cycle's errors mostly measure the heuristic start.
		resid = errs[min(s.maxPeriod(), len(errs)/2):]
	}
	f := &fitted{spec: s, params: p, state: st, sse: sse, n: len(y), k: k, kFit: kFit, errs: errs, resid: resid}
	f.sigma2 = sse / f.dof()
	return f, nil
}

// dof is the degrees of freedom of the one-step errors: the points less the
// quantities fitted to them (at least half the points, so a model that
// nearly interpolates a short series keeps a finite spread).
func (f *fitted) dof() float64 {
	return float64(max(f.n-f.kFit, f.n/2, 1))
}

// inflate is the factor that turns the spread of the in-sample errors into
// that of new errors, √(n / dof): the fitted quantities made the in-sample
// ones smaller. It scales the residual quantiles as dof already scales σ².
func (f *fitted) inflate() float64 {
	return math.Sqrt(float64(f.n) / f.dof())
}

// spread is the standard deviation of y, 1 for a constant series: the unit
// of the initial states' offsets.
func spread(y []float64) float64 {
	m := mean(y)
	var ss float64
	for _, v := range y {
		ss += (v - m) * (v - m)
	}
	if sd := math.Sqrt(ss / float64(len(y))); sd > 0 && finite(sd) {
		return sd
	}
	return 1
}

func cloneState(st state) state {
	out := state{level: st.level, slope: st.slope, pos: append([]int(nil), st.pos...)}
	out.season = make([][]float64, len(st.season))
	for k, r := range st.season {
		out.season[k] = append([]float64(nil), r...)
	}
	return out
}

// copyState overwrites dst (shaped like src) with src without allocating.
func copyState(dst *state, src state) {
	dst.level, dst.slope = src.level, src.slope
	copy(dst.pos, src.pos)
	for k, r := range src.season {
		copy(dst.season[k], r)
	}
}
