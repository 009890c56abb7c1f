package forecast

import (
	"math"
	"strconv"
)

// naivePeriod is the longest of periods with one full cycle in n points, or
// 1 (plain naive) when none has.
func naivePeriod(periods []int, n int) int {
	m := 1
	for _, p := range periods {
		if p < n && p > m {
			m = p
		}
	}
	return m
}

// naiveForecast is the seasonal-naive forecast: each step repeats the value
// one cycle earlier, with the longest period that has a full cycle plus one
// point of history (the plain naive forecast, the last value, below that).
// Its intervals take the quantiles of the in-sample seasonal differences,
// widened with the number of cycles ahead as the variance σ²·(k+1) of steps
// in the k-th cycle grows (Hyndman and Athanasopoulos, FPP, 5.5).
func naiveForecast(y []float64, periods []int, h int) *Result {
	n := len(y)
	m := naivePeriod(periods, n)
	var ss float64
	resid := make([]float64, 0, n-m)
	for t := m; t < n; t++ {
		d := y[t] - y[t-m]
		ss += d * d
		resid = append(resid, d)
	}
	sigma := math.Sqrt(ss / float64(n-m))
	name := "NAIVE"
	if m > 1 {
		name = "SNAIVE[" + strconv.Itoa(m) + "]"
	}
	r := &Result{Model: name, Sigma: sigma, Fallback: true, Mean: make([]float64, h)}
	vm := make([]float64, h)
	for j := range h {
		r.Mean[j] = y[n-m+j%m]
		if m == 1 {
			vm[j] = float64(j + 1)
		} else {
			vm[j] = float64(j/m + 1)
		}
	}
	r.intervals(resid, vm, 1)
	return r
}

// naiveAICc is the AICc of the seasonal-naive forecast on y as the
// ETS(A,N,A) with α = 0 and γ = 1 it equals: its one-step errors are the
// seasonal differences (zero over the first cycle, which its m initial
// states reproduce), k = m states + σ.
func naiveAICc(y []float64, periods []int) float64 {
	m := naivePeriod(periods, len(y))
	var sse float64
	for t := m; t < len(y); t++ {
		d := y[t] - y[t-m]
		sse += d * d
	}
	return aicc(sse, len(y), m+1)
}
