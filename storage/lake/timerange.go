package lake

import (
	"errors"
	"fmt"
	"time"

	"github.com/flowlake/flowlake/storage/schema"
)

// The lake stores event times from 1970-01-01 to the end of year 9999,
// UTC: partition folders are named dt=YYYY-MM-DD, and the catalog cache
// is JSON, whose RFC 3339 times have four-digit years. Rows outside are
// refused (counted in flowlake_lake_rows_refused_total) rather than
// creating a folder no reader parses or a catalog that cannot be saved.
// Ingest bounds times far more tightly, around the receive time; this is
// the lake's own last line.
var (
	// MinEventTime is the earliest event time the lake stores.
	MinEventTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	// MaxEventTime is the first event time the lake no longer stores.
	MaxEventTime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
)

// ErrTimeRange marks a row, segment or partition whose time is outside
// [MinEventTime, MaxEventTime).
var ErrTimeRange = errors.New("time outside the lake's range (years 1970 to 9999)")

var (
	minEventUS = schema.Micros(MinEventTime)
	maxEventUS = schema.Micros(MaxEventTime)
)

// inTimeRange reports whether a microsecond event time can be stored.
func inTimeRange(us int64) bool { return us >= minEventUS && us < maxEventUS }

// checkHour reports an hour (or any instant) outside the lake's range.
func checkHour(t time.Time) error {
	if t.Before(MinEventTime) || !t.Before(MaxEventTime) {
		return fmt.Errorf("%w: %s", ErrTimeRange, describeTime(t))
	}
	return nil
}

// describeTime prints any time, also those RFC 3339 cannot.
func describeTime(t time.Time) string {
	if t.Year() < 0 || t.Year() > 9999 {
		return fmt.Sprintf("year %d (%d µs since 1970)", t.Year(), t.UnixMicro())
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// refuse counts and logs rows left out because their time is out of range.
func (l *Lake) refuse(dataset, source string, n int, why error) {
	l.metrics.rowsRefused.WithLabelValues(dataset).Add(float64(n))
	l.log.Warn("lake refused rows", "dataset", dataset, "source", source, "rows", n, "err", why)
}
