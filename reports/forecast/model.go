package forecast

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Trend is the trend component of an exponential-smoothing model.
type Trend int

// The trends a model may have: none (level only), additive (Holt's linear
// trend) and damped (the trend fades by Phi per step, Gardner and McKenzie),
// which keeps long horizons from running away.
const (
	TrendNone Trend = iota
	TrendAdditive
	TrendDamped
)

// String returns the ETS letter of the trend: N, A or Ad.
func (t Trend) String() string {
	switch t {
	case TrendNone:
		return "N"
	case TrendAdditive:
		return "A"
	case TrendDamped:
		return "Ad"
	}
	return "Trend(" + strconv.Itoa(int(t)) + ")"
}

// Params are a model's smoothing parameters in the error-correction form of
// additive ETS: level += Alpha·e, slope = Phi·slope + Beta·e, each seasonal
// index += Gamma[k]·e.
type Params struct {
	Alpha float64
	Beta  float64 // 0 without a trend
	Phi   float64 // 1 for an undamped trend, 0 without a trend
	Gamma []float64
}

// spec names a model's structure: its trend and its seasonal periods.
type spec struct {
	trend   Trend
	periods []int // ascending, at most two
	log     bool  // fitted to the logarithm of the series (choose.go)
}

// String names the model as ETS(A,trend,A) with its periods, e.g.
// "ETS(A,Ad,A)[24,168]", prefixed "log " when fitted to the logarithm.
func (s spec) String() string {
	season := "N"
	if len(s.periods) > 0 {
		season = "A"
	}
	ps := make([]string, len(s.periods))
	for i, p := range s.periods {
		ps[i] = strconv.Itoa(p)
	}
	out := fmt.Sprintf("ETS(A,%s,%s)", s.trend, season)
	if len(ps) > 0 {
		out += "[" + strings.Join(ps, ",") + "]"
	}
	if s.log {
		out = "log " + out
	}
	return out
}

// maxPeriod is the longest seasonal period of s (1 without seasons).
func (s spec) maxPeriod() int {
	m := 1
	for _, p := range s.periods {
		m = max(m, p)
	}
	return m
}

// minHistory is the shortest history s is fitted on: two cycles of its longest
// period (the initial states are estimated from them), at least 4 points.
func (s spec) minHistory() int { return max(2*s.maxPeriod(), 4) }

// state is a model's components after filtering a history: the level, the
// slope and one ring of seasonal indexes per period, with pos[k] the index
// of the next step in ring k.
type state struct {
	level, slope float64
	season       [][]float64
	pos          []int
}

// initState estimates the initial states from the first two cycles of the
// longest period: the level and slope from the two cycle means, each seasonal
// ring from the detrended averages (the shorter period first, the longer one
// from what the shorter leaves), each ring centred on zero.
func initState(s spec, y []float64) state {
	m := s.maxPeriod()
	n0 := min(len(y), 2*m)
	if m == 1 {
		n0 = min(len(y), 4)
	}
	half := max(n0/2, 1)
	mean1, mean2 := mean(y[:half]), mean(y[half:n0])
	st := state{level: mean1}
	if s.trend != TrendNone && n0 > half {
		st.slope = (mean2 - mean1) / float64(half)
	}
	// The level of the first cycle's centre, moved back to before y[0].
	st.level -= st.slope * float64(half+1) / 2
	resid := make([]float64, n0)
	for t := range resid {
		resid[t] = y[t] - (st.level + st.slope*float64(t+1))
	}
	st.season = make([][]float64, len(s.periods))
	st.pos = make([]int, len(s.periods))
	for k, p := range s.periods {
		ring := make([]float64, p)
		count := make([]int, p)
		for t, r := range resid {
			ring[t%p] += r
			count[t%p]++
		}
		for j := range ring {
			if count[j] > 0 {
				ring[j] /= float64(count[j])
			}
		}
		c := mean(ring)
		for j := range ring {
			ring[j] -= c
		}
		for t := range resid {
			resid[t] -= ring[t%p]
		}
		st.season[k] = ring
	}
	return st
}

// filter runs the model over y from st, updating st in place, and returns
// the sum of squared one-step-ahead errors. With errs non-nil it also records
// each error. A non-finite sum means the parameters diverged.
func filter(s spec, p Params, st *state, y []float64, errs []float64) float64 {
	phi, beta := p.Phi, p.Beta
	if s.trend == TrendNone {
		phi, beta = 0, 0
	}
	alpha := p.Alpha
	l, b := st.level, st.slope
	var sse float64
	switch len(s.periods) {
	case 0:
		for t, v := range y {
			e := v - (l + phi*b)
			sse += e * e
			l += phi*b + alpha*e
			b = phi*b + beta*e
			if errs != nil {
				errs[t] = e
			}
		}
	case 1:
		r, g, i, m := st.season[0], p.Gamma[0], st.pos[0], len(st.season[0])
		for t, v := range y {
			e := v - (l + phi*b + r[i])
			sse += e * e
			l += phi*b + alpha*e
			b = phi*b + beta*e
			r[i] += g * e
			if i++; i == m {
				i = 0
			}
			if errs != nil {
				errs[t] = e
			}
		}
		st.pos[0] = i
	default:
		r1, g1, i1, m1 := st.season[0], p.Gamma[0], st.pos[0], len(st.season[0])
		r2, g2, i2, m2 := st.season[1], p.Gamma[1], st.pos[1], len(st.season[1])
		for t, v := range y {
			e := v - (l + phi*b + r1[i1] + r2[i2])
			sse += e * e
			l += phi*b + alpha*e
			b = phi*b + beta*e
			r1[i1] += g1 * e
			r2[i2] += g2 * e
			if i1++; i1 == m1 {
				i1 = 0
			}
			if i2++; i2 == m2 {
				i2 = 0
			}
			if errs != nil {
				errs[t] = e
			}
		}
		st.pos[0], st.pos[1] = i1, i2
	}
	st.level, st.slope = l, b
	return sse
}

// predict returns the point forecasts for steps 1..h after the state, and the
// variance multipliers v[j] such that the (j+1)-step error variance is
// σ²·v[j]: for the linear innovations form, v = 1 + Σ_{i<j} c_i² with
// c_i = α + β(φ+…+φ^i) + Σ_k γ_k·[i is a multiple of period k]
// (Hyndman et al., Forecasting with Exponential Smoothing, 2008, ch. 6).
func predict(s spec, p Params, st state, h int) (mean, varMult []float64) {
	phi, beta := p.Phi, p.Beta
	if s.trend == TrendNone {
		phi, beta = 0, 0
	}
	mean = make([]float64, h)
	varMult = make([]float64, h)
	damp := 0.0 // φ + φ² + … + φ^j
	pow := 1.0
	acc := 1.0
	for j := range h {
		pow *= phi
		damp += pow
		f := st.level + damp*st.slope
		for k, ring := range st.season {
			f += ring[(st.pos[k]+j)%len(ring)]
		}
		mean[j] = f
		varMult[j] = acc
		// c for the next step's sum: i = j+1 steps after the origin.
		c := p.Alpha + beta*damp
		for k, per := range s.periods {
			if (j+1)%per == 0 {
				c += p.Gamma[k]
			}
		}
		acc += c * c
	}
	return mean, varMult
}

func mean(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	var s float64
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

// finite reports whether v is neither NaN nor infinite.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
