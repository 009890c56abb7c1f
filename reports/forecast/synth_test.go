package forecast_test

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/flowlake/flowlake/reports/forecast"
)

// synthHourly returns n hourly points of link traffic: a daily curve (busy
// 14:00, quiet 04:00), weekends at 40 %, an additive trend of trendPerWeek
// of the base level per week, and Gaussian noise of noiseSD of the base
// level, from seed. The seasonal swing does not grow with the trend: the
// models are additive (docs/forecast.md).
func synthHourly(n int, seed uint64, trendPerWeek, noiseSD float64) forecast.Series {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC) // a Monday
	base := 1e9 * (1 + rng.Float64())
	y := make([]float64, n)
	for t := range y {
		hour := t % 24
		day := (t / 24) % 7
		daily := 0.6 + 0.4*math.Cos(2*math.Pi*float64(hour-14)/24)
		week := 1.0
		if day >= 5 {
			week = 0.4
		}
		growth := base * trendPerWeek * float64(t) / 168
		y[t] = base*daily*week + growth + base*noiseSD*rng.NormFloat64()
	}
	return forecast.Series{Start: start, Step: time.Hour, Values: y}
}
