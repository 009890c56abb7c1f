package gen

import "time"

// weekdayShape is the relative traffic of each hour of a working day (local
// time = UTC), from an enterprise network's typical curve: quiet night with
// its trough at 04:00, a morning ramp, a lunch dip, the peak at 14:00 and a
// long evening tail. 0 maps to the trough and 1 to the peak.
var weekdayShape = [24]float64{
	0.10, 0.05, 0.02, 0.01, 0.00, 0.03, 0.12, 0.38, 0.68, 0.86, 0.93, 0.95,
	0.85, 0.95, 1.00, 0.97, 0.91, 0.76, 0.55, 0.42, 0.36, 0.31, 0.24, 0.16,
}

// season turns the diurnal and weekly curves into a multiplier of the mean
// rate: its average over a week is 1.
type season struct {
	hour    [24]float64 // weekday multiplier per hour, before normalisation
	weekend float64
	norm    float64 // 1 / weekly mean
}

func newSeason(ratio, weekend float64) season {
	s := season{weekend: weekend}
	trough := 1 / ratio
	var sum float64
	for h, x := range weekdayShape {
		s.hour[h] = trough + (1-trough)*x
		sum += s.hour[h]
	}
	mean := sum / 24 * (5 + 2*weekend) / 7
	s.norm = 1 / mean
	return s
}

// factor returns the multiplier for the hour containing t.
func (s *season) factor(t time.Time) float64 {
	f := s.hour[t.Hour()] * s.norm
	if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
		f *= s.weekend
	}
	return f
}

// dayNoise returns a deterministic day-to-day variation of ±8 % around 1 so
// that weeks are not copies of each other.
func dayNoise(seed int64, edge int, t time.Time) float64 {
	day := uint64(t.Unix() / 86400)
	u := mix(mix(uint64(seed)^0xd1b54a32d192ed03) ^ day ^ uint64(edge)<<48)
	return 0.92 + 0.16*float64(u>>11)*0x1p-53
}

// peak returns the largest factor of any hour.
func (s *season) peak() float64 {
	m := 0.0
	for _, x := range s.hour {
		m = max(m, x)
	}
	return m * s.norm * max(1, s.weekend)
}
