package forecast_test

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/flowlake/flowlake/reports/forecast"
)

// TestBadSeries checks that constant, zero, short and non-finite series give
// a clear error or a fallback forecast, never a panic or a NaN.
func TestBadSeries(t *testing.T) {
	hourly := forecast.HourlyConfig()
	constant := make([]float64, 3*168)
	for i := range constant {
		constant[i] = 5e8
	}
	withNaN := synthHourly(3*168, 1, 0, 0.05).Values
	withNaN[100] = math.NaN()
	withInf := synthHourly(3*168, 1, 0, 0.05).Values
	withInf[7] = math.Inf(1)
	huge := synthHourly(3*168, 2, 0, 0.05).Values
	for i := range huge {
		huge[i] *= 1e298
	}
	cases := []struct {
		name      string
		values    []float64
		cfg       forecast.Config
		err       error
		model     string // expected model name, "" for any
		fallback  bool
		wantPoint float64 // when model is a naive fallback on a constant, the forecast
	}{
		{name: "empty", values: nil, cfg: hourly, err: forecast.ErrTooShort},
		{name: "one point", values: []float64{3}, cfg: hourly, err: forecast.ErrTooShort},
		{name: "NaN", values: withNaN, cfg: hourly, err: forecast.ErrBadValue},
		{name: "Inf", values: withInf, cfg: hourly, err: forecast.ErrBadValue},
		{name: "two points", values: []float64{3, 5}, cfg: hourly, model: "NAIVE", fallback: true},
		{name: "one day", values: synthHourly(24, 3, 0, 0.05).Values, cfg: hourly, model: "NAIVE", fallback: true},
		{name: "thirty hours", values: synthHourly(30, 3, 0, 0.05).Values, cfg: hourly, model: "SNAIVE[24]", fallback: true},
		{name: "47 hours", values: synthHourly(47, 3, 0, 0.05).Values, cfg: hourly, model: "SNAIVE[24]", fallback: true},
		{name: "48 hours", values: synthHourly(48, 3, 0, 0.05).Values, cfg: hourly, fallback: false},
		{name: "constant", values: constant, cfg: hourly},
		{name: "zeros", values: make([]float64, 3*168), cfg: hourly},
		{name: "huge", values: huge, cfg: hourly},
		{name: "non-seasonal", values: synthHourly(200, 4, 0, 0.05).Values, cfg: forecast.Config{Horizon: 10}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := forecast.Forecast(forecast.Series{Start: time.Unix(0, 0), Step: time.Hour, Values: c.values}, c.cfg)
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("error %v, want %v", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.model != "" && res.Model != c.model {
				t.Errorf("model %s, want %s", res.Model, c.model)
			}
			if res.Fallback != c.fallback {
				t.Errorf("fallback %v, want %v (model %s)", res.Fallback, c.fallback, res.Model)
			}
			checkFinite(t, res, c.cfg.Horizon)
		})
	}
}

// TestBadConfig checks that an unusable configuration is refused by name.
func TestBadConfig(t *testing.T) {
	s := synthHourly(3*168, 1, 0, 0.05)
	for _, c := range []forecast.Config{
		{Horizon: 0, Periods: []int{24}},
		{Horizon: forecast.MaxHorizon + 1, Periods: []int{24}},
		{Horizon: 5, Periods: []int{1}},
		{Horizon: 5, Periods: []int{24, 24}},
		{Horizon: 5, Periods: []int{12, 24, 168}},
		{Horizon: 5, Holdout: -1},
		{Horizon: 5, Trends: []forecast.Trend{7}},
	} {
		if _, err := forecast.Forecast(s, c); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
}

// checkFinite fails unless res has h finite steps with ordered bounds.
func checkFinite(t *testing.T, res *forecast.Result, h int) {
	t.Helper()
	if len(res.Mean) != h {
		t.Fatalf("%d forecast steps, want %d", len(res.Mean), h)
	}
	for j := range h {
		v := []float64{res.Lower95[j], res.Lower80[j], res.Mean[j], res.Upper80[j], res.Upper95[j]}
		for i, x := range v {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				t.Fatalf("step %d: %s: value %d is %v", j, res.Model, i, x)
			}
			if i > 0 && x < v[i-1] {
				t.Fatalf("step %d: %s: bounds out of order %v", j, res.Model, v)
			}
		}
	}
}

// FuzzForecast feeds arbitrary values (little-endian float64s, NaN and Inf
// included) and configurations to Forecast: it must return an error or a
// finite, ordered forecast, never panic.
func FuzzForecast(f *testing.F) {
	f.Add([]byte{}, uint8(3), uint8(4), uint8(0))
	f.Add(floatBytes(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16), uint8(4), uint8(3), uint8(0))
	f.Add(floatBytes(0, 0, 0, 0, 0, 0, 0, 0, 0, 0), uint8(2), uint8(5), uint8(2))
	f.Add(floatBytes(math.NaN(), 1, 2), uint8(2), uint8(1), uint8(0))
	f.Add(floatBytes(1e308, -1e308, 1e308, -1e308, 1e308, -1e308, 1e308, -1e308), uint8(2), uint8(2), uint8(1))
	// The last argument was the holdout (now ignored: the model is chosen by
	// AICc); it stays so the committed corpus keeps its shape.
	f.Fuzz(func(t *testing.T, data []byte, period, horizon, _ uint8) {
		values := make([]float64, len(data)/8)
		for i := range values {
			values[i] = math.Float64frombits(binary.LittleEndian.Uint64(data[i*8:]))
		}
		cfg := forecast.Config{Horizon: int(horizon%50) + 1}
		if p := int(period % 30); p >= 2 {
			cfg.Periods = []int{p}
			if 3*p < 30 {
				cfg.Periods = append(cfg.Periods, 3*p)
			}
		}
		res, err := forecast.Forecast(forecast.Series{Step: time.Hour, Values: values}, cfg)
		if err != nil {
			return
		}
		for j := range res.Mean {
			v := []float64{res.Lower95[j], res.Lower80[j], res.Mean[j], res.Upper80[j], res.Upper95[j]}
			for i, x := range v {
				if math.IsNaN(x) {
					t.Fatalf("step %d: %s: value %d is NaN", j, res.Model, i)
				}
				if i > 0 && x < v[i-1] {
					t.Fatalf("step %d: %s: bounds out of order %v", j, res.Model, v)
				}
			}
		}
	})
}

func floatBytes(v ...float64) []byte {
	b := make([]byte, 0, 8*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	}
	return b
}
