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

// maxEvaluations caps Nelder-Mead's objective evaluations per fit: the
// objective is one pass over the history, and 1,000 series of 8 hourly weeks
// must fit in seconds (docs/benchmarks.md).
const maxEvaluations = 120

// fitted is a model fitted to a history: its structure, its parameters, its
// state after the last point, and the variance of its one-step errors.
type fitted struct {
	spec   spec
	params Params
	state  state
	sigma2 float64
	n      int
	resid  []float64 // one-step errors over the history (after rerun)
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func logit(p float64) float64 { return math.Log(p / (1 - p)) }

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
// one-step-ahead error with Nelder-Mead, then filters y with them.
func fit(s spec, y []float64) (*fitted, error) {
	if len(y) < s.minHistory() {
		return nil, fmt.Errorf("fit %s: %w: %d points, need %d", s, ErrTooShort, len(y), s.minHistory())
	}
	init := initState(s, y)
	work := cloneState(init)
	objective := func(x []float64) float64 {
		copyState(&work, init)
		sse := filter(s, decode(s, x), &work, y, nil)
		if !finite(sse) {
			return math.MaxFloat64
		}
		return sse / float64(len(y))
	}
	settings := &optimize.Settings{
		FuncEvaluations: maxEvaluations,
		Converger:       &optimize.FunctionConverge{Absolute: 1e-12, Relative: 1e-7, Iterations: 30},
	}
	x0 := start(s)
	res, err := optimize.Minimize(optimize.Problem{Func: objective}, x0, settings, &optimize.NelderMead{SimplexSize: 1})
	best := x0
	if res != nil && finite(res.F) && res.F < objective(x0) {
		best = res.X
	} else if err != nil && res == nil {
		return nil, fmt.Errorf("fit %s: %w", s, err)
	}
	p := decode(s, best)
	st := cloneState(init)
	sse := filter(s, p, &st, y, nil)
	if !finite(sse) {
		return nil, fmt.Errorf("fit %s: the one-step errors overflow: the series' values are too large", s)
	}
	return &fitted{spec: s, params: p, state: st, sigma2: sse / float64(max(len(y)-len(x0), 1)), n: len(y)}, nil
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

// rerun filters the whole history y with f's parameters from fresh initial
// states, so the forecast starts from the last point.
func rerun(f *fitted, y []float64) (*fitted, error) {
	st := initState(f.spec, y)
	errs := make([]float64, len(y))
	sse := filter(f.spec, f.params, &st, y, errs)
	if !finite(sse) {
		return nil, fmt.Errorf("run %s: the one-step errors overflow: the series' values are too large", f.spec)
	}
	k := len(start(f.spec))
	// The first cycle's errors mostly measure the initial states' guess.
	resid := errs[min(f.spec.maxPeriod(), len(errs)/2):]
	return &fitted{spec: f.spec, params: f.params, state: st, sigma2: sse / float64(max(len(y)-k, 1)), n: len(y), resid: resid}, nil
}
