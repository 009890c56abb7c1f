package reports

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Period kinds: the calendar periods reports cover.
const (
	Daily     = "daily"
	Weekly    = "weekly"
	Monthly   = "monthly"
	Quarterly = "quarterly"
	Yearly    = "yearly"
	Custom    = "custom"
)

// PeriodKinds lists the period kinds in order of length, for help texts and
// error messages.
func PeriodKinds() []string {
	return []string{Daily, Weekly, Monthly, Quarterly, Yearly, Custom}
}

// ParsePeriod cuts the period of kind named by at in the IANA time zone zone
// ("" is UTC). Calendar boundaries are local midnights, so a daily report of
// a 23- or 25-hour DST day covers exactly that local day. at is written as
// people name periods:
//
//	daily      2026-10-25
//	weekly     2026-W44 (ISO week, Monday to Sunday), or a date in the week
//	monthly    2026-10, or a date in the month
//	quarterly  2026-Q3, or a date in the quarter
//	yearly     2026, or a date in the year
//	custom     2026-10-01..2026-10-15 (whole local days, both included), or
//	           two RFC 3339 times 2026-10-01T06:00:00Z..2026-10-01T18:00:00Z
//	           (the second excluded)
//
// An empty at is the last complete period before now (for custom it is an
// error: a custom range must be given).
func ParsePeriod(kind, at, zone string, now time.Time) (Period, error) {
	loc, err := loadZone(zone)
	if err != nil {
		return Period{}, err
	}
	if zone == "" {
		zone = "UTC"
	}
	kind = strings.ToLower(strings.TrimSpace(kind))
	at = strings.TrimSpace(at)
	var p Period
	switch kind {
	case Daily, Weekly, Monthly, Quarterly, Yearly:
		if at == "" {
			// The period holding the instant just before the start of the
			// period holding now: the last complete one.
			cur := periodAt(kind, now.In(loc))
			p = periodAt(kind, cur.From.Add(-time.Nanosecond))
		} else {
			p, err = parseCalendar(kind, at, loc)
		}
	case Custom:
		p, err = parseCustom(at, loc)
	default:
		return Period{}, fmt.Errorf("period kind %q: unknown; known kinds: %s%s",
			kind, strings.Join(PeriodKinds(), ", "), didYouMean(kind, PeriodKinds()))
	}
	if err != nil {
		return Period{}, err
	}
	p.Zone = zone
	return p, nil
}

// loadZone loads an IANA zone, "" meaning UTC.
func loadZone(zone string) (*time.Location, error) {
	if zone == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(zone)
	if err == nil && zone == "Local" {
		// The server's own zone is not a calendar anyone reads reports in.
		err = fmt.Errorf("the server's local zone is not allowed; name the zone")
	}
	if err != nil {
		return nil, fmt.Errorf("time zone %q: not an IANA time zone name (e.g. Europe/Berlin, Asia/Shanghai, UTC): %w", zone, err)
	}
	return loc, nil
}

// parseCalendar parses at for a calendar kind: its own label form, or a date
// inside the period.
func parseCalendar(kind, at string, loc *time.Location) (Period, error) {
	bad := func(want string, err error) (Period, error) {
		if err != nil {
			return Period{}, fmt.Errorf("%s period %q: expected %s: %w", kind, at, want, err)
		}
		return Period{}, fmt.Errorf("%s period %q: expected %s", kind, at, want)
	}
	if d, err := time.ParseInLocation(time.DateOnly, at, loc); err == nil {
		return periodAt(kind, d), nil
	}
	switch kind {
	case Daily:
		_, err := time.ParseInLocation(time.DateOnly, at, loc)
		return bad("a date like 2026-10-25", err)
	case Weekly:
		y, rest, ok := strings.Cut(at, "-W")
		if !ok {
			y, rest, ok = strings.Cut(at, "-w")
		}
		if !ok {
			return bad("an ISO week like 2026-W44 or a date", nil)
		}
		year, err1 := strconv.Atoi(y)
		week, err2 := strconv.Atoi(rest)
		if err1 != nil || err2 != nil || len(y) != 4 || len(rest) != 2 {
			return bad("an ISO week like 2026-W44 or a date", nil)
		}
		mon := isoWeekMonday(year, week, loc)
		if wy, ww := mon.ISOWeek(); week < 1 || wy != year || ww != week {
			return Period{}, fmt.Errorf("weekly period %q: ISO year %d has no week %d", at, year, week)
		}
		return periodAt(Weekly, mon), nil
	case Monthly:
		d, err := time.ParseInLocation("2006-01", at, loc)
		if err != nil {
			return bad("a month like 2026-10 or a date", nil)
		}
		return periodAt(Monthly, d), nil
	case Quarterly:
		y, q, ok := strings.Cut(strings.ToUpper(at), "-Q")
		year, err1 := strconv.Atoi(y)
		n, err2 := strconv.Atoi(q)
		if !ok || err1 != nil || err2 != nil || len(y) != 4 || n < 1 || n > 4 {
			return bad("a quarter like 2026-Q3 (Q1 to Q4) or a date", nil)
		}
		return periodAt(Quarterly, time.Date(year, time.Month(3*n-2), 1, 0, 0, 0, 0, loc)), nil
	default: // Yearly
		year, err := strconv.Atoi(at)
		if err != nil || len(at) != 4 {
			return bad("a year like 2026 or a date", nil)
		}
		return periodAt(Yearly, time.Date(year, 1, 1, 0, 0, 0, 0, loc)), nil
	}
}

// isoWeekMonday returns local midnight of the Monday of ISO week week of
// year: week 1 is the week holding 4 January.
func isoWeekMonday(year, week int, loc *time.Location) time.Time {
	jan4 := time.Date(year, 1, 4, 0, 0, 0, 0, loc)
	back := (int(jan4.Weekday()) + 6) % 7 // days since Monday
	return time.Date(year, 1, 4-back+7*(week-1), 0, 0, 0, 0, loc)
}

// periodAt returns the calendar period of kind holding t, cut at local
// midnights of t's location.
func periodAt(kind string, t time.Time) Period {
	loc := t.Location()
	y, m, d := t.Date()
	var from, to time.Time
	switch kind {
	case Daily:
		from = time.Date(y, m, d, 0, 0, 0, 0, loc)
		to = time.Date(y, m, d+1, 0, 0, 0, 0, loc)
	case Weekly:
		back := (int(t.Weekday()) + 6) % 7
		from = time.Date(y, m, d-back, 0, 0, 0, 0, loc)
		to = time.Date(y, m, d-back+7, 0, 0, 0, 0, loc)
	case Monthly:
		from = time.Date(y, m, 1, 0, 0, 0, 0, loc)
		to = time.Date(y, m+1, 1, 0, 0, 0, 0, loc)
	case Quarterly:
		qm := time.Month((int(m)-1)/3*3 + 1)
		from = time.Date(y, qm, 1, 0, 0, 0, 0, loc)
		to = time.Date(y, qm+3, 1, 0, 0, 0, 0, loc)
	default: // Yearly
		from = time.Date(y, 1, 1, 0, 0, 0, 0, loc)
		to = time.Date(y+1, 1, 1, 0, 0, 0, 0, loc)
	}
	return Period{Kind: kind, Label: calendarLabel(kind, from), From: from, To: to, Zone: loc.String()}
}

// calendarLabel names a calendar period by its first day.
func calendarLabel(kind string, from time.Time) string {
	switch kind {
	case Daily:
		return from.Format(time.DateOnly)
	case Weekly:
		y, w := from.ISOWeek()
		return fmt.Sprintf("%04d-W%02d", y, w)
	case Monthly:
		return from.Format("2006-01")
	case Quarterly:
		return fmt.Sprintf("%04d-Q%d", from.Year(), (int(from.Month())-1)/3+1)
	default:
		return fmt.Sprintf("%04d", from.Year())
	}
}

// maxCustomDays bounds a custom range, so a typo (2026..20260) cannot ask
// for a millennium of report.
const maxCustomDays = 3 * 366

// parseCustom parses "A..B": two dates (B's day included) or two RFC 3339
// times (B excluded).
func parseCustom(at string, loc *time.Location) (Period, error) {
	a, b, ok := strings.Cut(at, "..")
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	if !ok || a == "" || b == "" {
		return Period{}, fmt.Errorf("custom period %q: expected FROM..TO, two dates (2026-10-01..2026-10-15, both days included) or two RFC 3339 times", at)
	}
	var from, to time.Time
	da, errA := time.ParseInLocation(time.DateOnly, a, loc)
	db, errB := time.ParseInLocation(time.DateOnly, b, loc)
	dates := errA == nil && errB == nil
	if dates {
		from = da
		y, m, d := db.Date()
		to = time.Date(y, m, d+1, 0, 0, 0, 0, loc)
	} else {
		ta, errTA := time.Parse(time.RFC3339, a)
		tb, errTB := time.Parse(time.RFC3339, b)
		switch {
		case errA != nil && errTA != nil:
			return Period{}, fmt.Errorf("custom period %q: start %q is neither a date (2026-10-01) nor an RFC 3339 time", at, a)
		case errB != nil && errTB != nil:
			return Period{}, fmt.Errorf("custom period %q: end %q is neither a date (2026-10-15) nor an RFC 3339 time", at, b)
		case errTA != nil || errTB != nil:
			return Period{}, fmt.Errorf("custom period %q: give two dates or two RFC 3339 times, not one of each", at)
		}
		from, to = ta.In(loc), tb.In(loc)
	}
	if !to.After(from) {
		return Period{}, fmt.Errorf("custom period %q: the end is not after the start", at)
	}
	if to.Sub(from) > maxCustomDays*25*time.Hour {
		return Period{}, fmt.Errorf("custom period %q: longer than %d days; use a yearly report", at, maxCustomDays)
	}
	return Period{Kind: Custom, Label: customLabel(from, to, dates), From: from, To: to, Zone: loc.String()}, nil
}

// customLabel names a custom range: its days when it is whole local days,
// else its bounds in local time.
func customLabel(from, to time.Time, dates bool) string {
	if dates {
		return from.Format(time.DateOnly) + ".." + to.AddDate(0, 0, -1).Format(time.DateOnly)
	}
	return from.Format(time.RFC3339) + ".." + to.Format(time.RFC3339)
}

// wholeDays reports whether both bounds are local midnights, and the number
// of local days between them.
func wholeDays(from, to time.Time) (int, bool) {
	mid := func(t time.Time) bool {
		return t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0
	}
	if !mid(from) || !mid(to) {
		return 0, false
	}
	n := 0
	for d := from; d.Before(to); n++ {
		y, m, dd := d.Date()
		d = time.Date(y, m, dd+1, 0, 0, 0, 0, d.Location())
	}
	return n, true
}

// Previous returns the period a report compares p with: the calendar period
// before it of the same kind, or, for a custom range, the range of the same
// length (in local days when p is whole days) that ends where p starts.
func (p Period) Previous() Period {
	loc := p.From.Location()
	if p.Kind != Custom {
		prev := periodAt(p.Kind, p.From.Add(-time.Nanosecond).In(loc))
		prev.Zone = p.Zone
		return prev
	}
	var from time.Time
	days, whole := wholeDays(p.From, p.To)
	if whole {
		y, m, d := p.From.Date()
		from = time.Date(y, m, d-days, 0, 0, 0, 0, loc)
	} else {
		from = p.From.Add(-p.To.Sub(p.From))
	}
	return Period{Kind: Custom, Label: customLabel(from, p.From, whole), From: from, To: p.From, Zone: p.Zone}
}

// Duration is the period's length in real time: 23 h for a spring-forward
// day, 25 h for a fall-back day.
func (p Period) Duration() time.Duration { return p.To.Sub(p.From) }

// IsZero reports whether p is the zero Period (no comparison period).
func (p Period) IsZero() bool { return p.From.IsZero() && p.To.IsZero() }
