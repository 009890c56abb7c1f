package forecast

import (
	"fmt"
	"time"
)

// Crossing is when a forecast first reaches a threshold: for the point
// forecast and for each interval bound. The upper bounds cross first (the
// earliest date capacity could run out at that confidence), the lower bounds
// last (the date by which it is almost sure to).
type Crossing struct {
	Threshold float64
	Mean      Cross
	Upper80   Cross
	Upper95   Cross
	Lower80   Cross
	Lower95   Cross
}

// Cross is one curve's crossing: Found is false when the curve stays below
// the threshold over the whole horizon ("not within the horizon").
type Cross struct {
	Found bool
	Step  int       // 0-based forecast step of the first value at or above the threshold
	Time  time.Time // the time of that step
}

// String returns the crossing time in RFC 3339, or "not within the horizon".
func (c Cross) String() string {
	if !c.Found {
		return "not within the horizon"
	}
	return c.Time.Format(time.RFC3339)
}

// Crossing returns when the forecast and its bounds first reach threshold
// (a value at or above it). A history already above the threshold crosses at
// the first forecast step if its forecast stays there.
func (r *Result) Crossing(threshold float64) (Crossing, error) {
	if !finite(threshold) {
		return Crossing{}, fmt.Errorf("forecast crossing: threshold %v is not a finite number", threshold)
	}
	first := func(v []float64) Cross {
		for j, x := range v {
			if x >= threshold {
				return Cross{Found: true, Step: j, Time: r.Series.TimeAt(j)}
			}
		}
		return Cross{}
	}
	return Crossing{
		Threshold: threshold,
		Mean:      first(r.Mean),
		Upper80:   first(r.Upper80),
		Upper95:   first(r.Upper95),
		Lower80:   first(r.Lower80),
		Lower95:   first(r.Lower95),
	}, nil
}
