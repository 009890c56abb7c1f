package query

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// bucket is a time-bucket width: fixed (1 minute up to 12 hours, aligned
// in the query's time zone) or calendar (day, week from Monday, month,
// quarter, year, from local midnight).
type bucket struct {
	width  time.Duration // fixed buckets
	months int           // calendar: 1 month, 3 quarter, 12 year
	days   int           // calendar: 1 day, 7 week
}

func parseBucket(s string) (bucket, error) {
	switch s {
	case "day", "1d":
		return bucket{days: 1}, nil
	case "week", "1w":
		return bucket{days: 7}, nil
	case "month":
		return bucket{months: 1}, nil
	case "quarter":
		return bucket{months: 3}, nil
	case "year":
		return bucket{months: 12}, nil
	}
	var unit time.Duration
	n, err := 0, errors.New("empty")
	if s != "" {
		unit = map[byte]time.Duration{'m': time.Minute, 'h': time.Hour}[s[len(s)-1]]
		n, err = strconv.Atoi(s[:len(s)-1])
	}
	// n is checked before it multiplies: a huge n would wrap around.
	if unit == 0 || err != nil || n <= 0 || n > 12*60 || time.Duration(n)*unit > 12*time.Hour || (24*time.Hour)%(time.Duration(n)*unit) != 0 {
		return bucket{}, fmt.Errorf("bucket %q: want minutes or hours dividing a day (1m, 5m, 15m, 1h, 6h …), day, week, month, quarter or year", s)
	}
	return bucket{width: time.Duration(n) * unit}, nil
}

// String is the bucket's canonical name.
func (b bucket) String() string {
	switch {
	case b.days == 1:
		return "1d"
	case b.days == 7:
		return "week"
	case b.months == 1:
		return "month"
	case b.months == 3:
		return "quarter"
	case b.months == 12:
		return "year"
	case b.width%time.Hour == 0:
		return fmt.Sprint(int(b.width/time.Hour)) + "h"
	}
	return fmt.Sprint(int(b.width/time.Minute)) + "m"
}

// bucketer maps event times (µs) to the start of their bucket. Every real
// time zone offset is a multiple of 15 minutes, so all times of a UTC
// quarter hour share their local offset and their day and calendar
// buckets: the bucketer caches one quarter hour.
type bucketer struct {
	b         bucket
	loc       *time.Location
	lastBlock int64
	lastOff   int64 // µs
	lastStart int64 // calendar buckets
	valid     bool
}

const quarterHour = int64(15 * time.Minute / time.Microsecond)

func newBucketer(b bucket, loc *time.Location) *bucketer {
	return &bucketer{b: b, loc: loc}
}

// start returns the start of t's bucket, µs.
func (k *bucketer) start(t int64) int64 {
	block := floorDiv(t, quarterHour)
	if !k.valid || block != k.lastBlock {
		k.lastBlock, k.valid = block, true
		tt := time.UnixMicro(t).In(k.loc)
		_, off := tt.Zone()
		k.lastOff = int64(off) * 1e6
		if k.b.width == 0 {
			k.lastStart = k.calendarStart(tt).UnixMicro()
		}
	}
	if k.b.width == 0 {
		return k.lastStart
	}
	w := k.b.width.Microseconds()
	return floorDiv(t+k.lastOff, w)*w - k.lastOff
}

func (k *bucketer) calendarStart(t time.Time) time.Time {
	y, m, d := t.Date()
	switch {
	case k.b.days == 7:
		wd := (int(t.Weekday()) + 6) % 7 // Monday 0
		return time.Date(y, m, d-wd, 0, 0, 0, 0, k.loc)
	case k.b.days == 1:
		return time.Date(y, m, d, 0, 0, 0, 0, k.loc)
	}
	m0 := (int(m)-1)/k.b.months*k.b.months + 1
	return time.Date(y, time.Month(m0), 1, 0, 0, 0, 0, k.loc)
}

// end returns the end of the bucket starting at start, µs.
func (k *bucketer) end(start int64) int64 {
	if k.b.width != 0 {
		return start + k.b.width.Microseconds()
	}
	t := time.UnixMicro(start).In(k.loc)
	return t.AddDate(0, k.b.months, k.b.days).UnixMicro()
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
