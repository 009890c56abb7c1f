package jobs

import (
	"fmt"
	"time"

	"github.com/flowlake/flowlake/reports"
)

// closedPeriod returns the last period of kind (daily, weekly, monthly,
// quarterly, yearly) that ended at or before t, cut on calendar boundaries
// in loc: a daily period of a DST change day lasts 23 or 25 hours, a week
// runs Monday to Sunday.
func closedPeriod(kind string, t time.Time, loc *time.Location) (reports.Period, error) {
	t = t.In(loc)
	y, m, d := t.Date()
	var cur, prev time.Time
	var label string
	switch kind {
	case "daily":
		cur = time.Date(y, m, d, 0, 0, 0, 0, loc)
		prev = time.Date(y, m, d-1, 0, 0, 0, 0, loc)
		label = prev.Format("2006-01-02")
	case "weekly":
		back := (int(t.Weekday()) + 6) % 7 // days since Monday
		cur = time.Date(y, m, d-back, 0, 0, 0, 0, loc)
		prev = time.Date(y, m, d-back-7, 0, 0, 0, 0, loc)
		wy, w := prev.ISOWeek()
		label = fmt.Sprintf("%d-W%02d", wy, w)
	case "monthly":
		cur = time.Date(y, m, 1, 0, 0, 0, 0, loc)
		prev = time.Date(y, m-1, 1, 0, 0, 0, 0, loc)
		label = prev.Format("2006-01")
	case "quarterly":
		q := (int(m) - 1) / 3
		cur = time.Date(y, time.Month(q*3+1), 1, 0, 0, 0, 0, loc)
		prev = time.Date(y, time.Month(q*3-2), 1, 0, 0, 0, 0, loc)
		label = fmt.Sprintf("%d-Q%d", prev.Year(), (int(prev.Month())-1)/3+1)
	case "yearly":
		cur = time.Date(y, 1, 1, 0, 0, 0, 0, loc)
		prev = time.Date(y-1, 1, 1, 0, 0, 0, 0, loc)
		label = prev.Format("2006")
	default:
		return reports.Period{}, fmt.Errorf("period kind %q: want daily, weekly, monthly, quarterly or yearly", kind)
	}
	return reports.Period{Kind: kind, Label: label, From: prev, To: cur, Zone: loc.String()}, nil
}

// namedCron is the cron expression that runs a schedule delay minutes
// after each period of kind closes, in zone.
func namedCron(kind, zone string, delayMinutes int) (string, error) {
	mh := fmt.Sprintf("%d %d", delayMinutes%60, delayMinutes/60)
	var rest string
	switch kind {
	case "daily":
		rest = "* * *"
	case "weekly":
		rest = "* * 1"
	case "monthly":
		rest = "1 * *"
	case "quarterly":
		rest = "1 1,4,7,10 *"
	case "yearly":
		rest = "1 1 *"
	default:
		return "", fmt.Errorf("period kind %q: want daily, weekly, monthly, quarterly or yearly", kind)
	}
	return "CRON_TZ=" + zone + " " + mh + " " + rest, nil
}
