package forecast

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrTooShort is returned when a series has too few points to forecast even
// with the naive fallback.
var ErrTooShort = errors.New("series too short")

// ErrBadValue is returned when a series holds a NaN or an infinity: the caller
// must decide what a missing hour means (zero traffic or a gap to fill) before
// forecasting, because the two give different forecasts.
var ErrBadValue = errors.New("series holds a value that is not a finite number")

// Series is a regularly spaced history: Values[i] is the observation at
// Start + i×Step. Start and Step only label the forecast's time axis.
type Series struct {
	Start  time.Time
	Step   time.Duration
	Values []float64
}

// TimeAt returns the time of point i (i may run past the history, into the
// forecast).
func (s Series) TimeAt(i int) time.Time {
	return s.Start.Add(time.Duration(i) * s.Step)
}

// minPoints is the shortest history the naive fallback still forecasts: two
// points give one difference, hence a residual spread.
const minPoints = 2

// validate checks that every value is finite and that there are enough of them.
func validate(y []float64) error {
	if len(y) < minPoints {
		return fmt.Errorf("%w: %d points, need at least %d", ErrTooShort, len(y), minPoints)
	}
	for i, v := range y {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: point %d is %v", ErrBadValue, i, v)
		}
	}
	return nil
}
