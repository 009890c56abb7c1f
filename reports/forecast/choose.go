package forecast

import (
	"math"
)

// choose fits the candidates to the whole history and keeps the one with the
// smallest AICc; seasonal naive competes as the ETS(A,N,A) it is (α = 0,
// γ = 1, its m initial states the first cycle). Ties go to the earlier
// (simpler) candidate.
//
// A series whose values are all positive may also be modelled on its
// logarithm: errors proportional to the level, and a seasonal swing that
// grows with it, the multiplicative ETS(M,·,M) of R's ets in additive form.
// The scale is chosen once, on the first (simplest) candidate: its AICc on
// the logarithm, plus the Jacobian 2·Σ log y that puts it on the series'
// scale, against its AICc on the values; the other candidates are fitted on
// the winning scale only, which keeps the cost one fit above the additive
// search.
func choose(y []float64, specs []spec, periods []int, horizon int) (*Result, error) {
	scores := make(map[string]float64, len(specs)+2)
	var best *fitted
	bestScore := math.Inf(1)
	consider := func(sp spec, data []float64, jacobian float64) {
		f, err := fit(sp, data)
		if err != nil {
			return // only overflowing values fail a fit; seasonal naive remains
		}
		score := aicc(f.sse, f.n, f.k) + jacobian
		if math.IsInf(score, 1) || math.IsNaN(score) {
			return // the history cannot pay for the model's parameters
		}
		scores[sp.String()] = score
		if score < bestScore {
			best, bestScore = f, score
		}
	}
	data, jacobian, useLog := y, 0.0, false
	rest := specs
	if ly, jac, ok := logOf(y); ok {
		base := specs[0]
		consider(base, y, 0)
		base.log = true
		consider(base, ly, jac)
		if best != nil && best.spec.log {
			data, jacobian, useLog = ly, jac, true
		}
		rest = specs[1:]
	}
	for _, sp := range rest {
		sp.log = useLog
		consider(sp, data, jacobian)
	}
	naive := naiveForecast(y, periods, horizon)
	naiveScore := naiveAICc(y, periods)
	if !math.IsInf(naiveScore, 1) {
		scores[naive.Model] = naiveScore
	}
	if best == nil || naiveScore < bestScore {
		naive.Fallback = best == nil
		naive.Candidates = scores
		return naive, nil
	}
	mean, vm := predict(best.spec, best.params, best.state, horizon)
	r := &Result{
		Model:      best.spec.String(),
		Params:     best.params,
		Sigma:      math.Sqrt(best.sigma2),
		Candidates: scores,
		Mean:       mean,
	}
	r.intervals(best.resid, vm, best.inflate())
	if best.spec.log {
		r.exp(y, best)
	}
	return r, nil
}

// logOf returns the natural logarithm of every value of y and the Jacobian
// term 2·Σ log y that turns an AICc on the logarithm into one on y's scale
// (the density of y is that of log y divided by y); ok is false unless every
// value is positive and finite.
func logOf(y []float64) (ly []float64, jacobian float64, ok bool) {
	ly = make([]float64, len(y))
	for i, v := range y {
		if !(v > 0) {
			return nil, 0, false
		}
		ly[i] = math.Log(v)
		jacobian += 2 * ly[i]
	}
	if !finite(jacobian) {
		return nil, 0, false
	}
	return ly, jacobian, true
}

// exp moves a forecast made on the logarithm back to the series' scale: the
// point forecast becomes exp(μ), the median (which MASE and a capacity date
// want; the mean exp(μ + σ²/2) would sit above half the outcomes), and
// each bound exp(bound), exact for quantiles. Sigma becomes the spread of the
// one-step errors on the series' scale.
func (r *Result) exp(y []float64, f *fitted) {
	for _, v := range [][]float64{r.Mean, r.Lower80, r.Upper80, r.Lower95, r.Upper95} {
		for i := range v {
			v[i] = math.Exp(v[i])
		}
	}
	// A one-step error e on the logarithm is y − y·exp(−e) on the values.
	var ss float64
	for t, e := range f.errs {
		d := y[t] - y[t]*math.Exp(-e)
		ss += d * d
	}
	r.Sigma = math.Sqrt(ss / f.dof())
}
