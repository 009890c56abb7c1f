package reports

import (
	"strings"
	"testing"
	"time"
)

func TestParsePeriod(t *testing.T) {
	now := time.Date(2026, 11, 4, 10, 0, 0, 0, time.UTC) // a Wednesday
	berlin, _ := time.LoadLocation("Europe/Berlin")
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	day := func(loc *time.Location, y int, m time.Month, d int) time.Time {
		return time.Date(y, m, d, 0, 0, 0, 0, loc)
	}
	tests := []struct {
		name, kind, at, zone string
		label                string
		from, to             time.Time
		hours                float64 // real length, 0 to skip
		prevLabel            string
		prevFrom, prevTo     time.Time
	}{
		{"spring-forward day is 23 h", Daily, "2026-03-29", "Europe/Berlin", "2026-03-29",
			day(berlin, 2026, 3, 29), day(berlin, 2026, 3, 30), 23, "2026-03-28", day(berlin, 2026, 3, 28), day(berlin, 2026, 3, 29)},
		{"fall-back day is 25 h", Daily, "2026-10-25", "Europe/Berlin", "2026-10-25",
			day(berlin, 2026, 10, 25), day(berlin, 2026, 10, 26), 25, "2026-10-24", day(berlin, 2026, 10, 24), day(berlin, 2026, 10, 25)},
		{"day after fall-back compares with the 25 h day", Daily, "2026-10-26", "Europe/Berlin", "2026-10-26",
			day(berlin, 2026, 10, 26), day(berlin, 2026, 10, 27), 24, "2026-10-25", day(berlin, 2026, 10, 25), day(berlin, 2026, 10, 26)},
		{"ISO week over the fall-back", Weekly, "2026-W43", "Europe/Berlin", "2026-W43",
			day(berlin, 2026, 10, 19), day(berlin, 2026, 10, 26), 7*24 + 1, "2026-W42", day(berlin, 2026, 10, 12), day(berlin, 2026, 10, 19)},
		{"week of a date", Weekly, "2026-11-01", "UTC", "2026-W44",
			day(time.UTC, 2026, 10, 26), day(time.UTC, 2026, 11, 2), 168, "2026-W43", day(time.UTC, 2026, 10, 19), day(time.UTC, 2026, 10, 26)},
		{"week 1 starts in the previous year", Weekly, "2026-W01", "UTC", "2026-W01",
			day(time.UTC, 2025, 12, 29), day(time.UTC, 2026, 1, 5), 168, "2025-W52", day(time.UTC, 2025, 12, 22), day(time.UTC, 2025, 12, 29)},
		{"week 53", Weekly, "2026-W53", "UTC", "2026-W53",
			day(time.UTC, 2026, 12, 28), day(time.UTC, 2027, 1, 4), 168, "2026-W52", day(time.UTC, 2026, 12, 21), day(time.UTC, 2026, 12, 28)},
		{"month with the fall-back", Monthly, "2026-10", "Europe/Berlin", "2026-10",
			day(berlin, 2026, 10, 1), day(berlin, 2026, 11, 1), 31*24 + 1, "2026-09", day(berlin, 2026, 9, 1), day(berlin, 2026, 10, 1)},
		{"month in Shanghai", Monthly, "2026-10", "Asia/Shanghai", "2026-10",
			day(shanghai, 2026, 10, 1), day(shanghai, 2026, 11, 1), 31 * 24, "2026-09", day(shanghai, 2026, 9, 1), day(shanghai, 2026, 10, 1)},
		{"quarter", Quarterly, "2026-Q3", "UTC", "2026-Q3",
			day(time.UTC, 2026, 7, 1), day(time.UTC, 2026, 10, 1), 92 * 24, "2026-Q2", day(time.UTC, 2026, 4, 1), day(time.UTC, 2026, 7, 1)},
		{"first quarter compares with the last of the year before", Quarterly, "2026-q1", "UTC", "2026-Q1",
			day(time.UTC, 2026, 1, 1), day(time.UTC, 2026, 4, 1), 90 * 24, "2025-Q4", day(time.UTC, 2025, 10, 1), day(time.UTC, 2026, 1, 1)},
		{"year", Yearly, "2026", "Europe/Berlin", "2026",
			day(berlin, 2026, 1, 1), day(berlin, 2027, 1, 1), 365 * 24, "2025", day(berlin, 2025, 1, 1), day(berlin, 2026, 1, 1)},
		{"custom days, end included", Custom, "2026-10-01..2026-10-15", "UTC", "2026-10-01..2026-10-15",
			day(time.UTC, 2026, 10, 1), day(time.UTC, 2026, 10, 16), 15 * 24, "2026-09-16..2026-09-30", day(time.UTC, 2026, 9, 16), day(time.UTC, 2026, 10, 1)},
		{"custom days over the fall-back", Custom, "2026-10-25..2026-10-26", "Europe/Berlin", "2026-10-25..2026-10-26",
			day(berlin, 2026, 10, 25), day(berlin, 2026, 10, 27), 49, "2026-10-23..2026-10-24", day(berlin, 2026, 10, 23), day(berlin, 2026, 10, 25)},
		{"custom times", Custom, "2026-10-01T06:00:00Z..2026-10-01T18:00:00Z", "UTC", "2026-10-01T06:00:00Z..2026-10-01T18:00:00Z",
			time.Date(2026, 10, 1, 6, 0, 0, 0, time.UTC), time.Date(2026, 10, 1, 18, 0, 0, 0, time.UTC), 12,
			"2026-09-30T18:00:00Z..2026-10-01T06:00:00Z", time.Date(2026, 9, 30, 18, 0, 0, 0, time.UTC), time.Date(2026, 10, 1, 6, 0, 0, 0, time.UTC)},
		{"empty at is the last complete day", Daily, "", "UTC", "2026-11-03",
			day(time.UTC, 2026, 11, 3), day(time.UTC, 2026, 11, 4), 24, "2026-11-02", day(time.UTC, 2026, 11, 2), day(time.UTC, 2026, 11, 3)},
		{"empty at is the last complete month, zone default UTC", Monthly, "", "", "2026-10",
			day(time.UTC, 2026, 10, 1), day(time.UTC, 2026, 11, 1), 31 * 24, "2026-09", day(time.UTC, 2026, 9, 1), day(time.UTC, 2026, 10, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParsePeriod(tt.kind, tt.at, tt.zone, now)
			if err != nil {
				t.Fatal(err)
			}
			if p.Label != tt.label || !p.From.Equal(tt.from) || !p.To.Equal(tt.to) {
				t.Errorf("got %s [%v, %v), want %s [%v, %v)", p.Label, p.From, p.To, tt.label, tt.from, tt.to)
			}
			if p.From.Location().String() != tt.from.Location().String() {
				t.Errorf("location %s, want %s", p.From.Location(), tt.from.Location())
			}
			if tt.hours != 0 && p.Duration().Hours() != tt.hours {
				t.Errorf("covers %v h, want %v h", p.Duration().Hours(), tt.hours)
			}
			prev := p.Previous()
			if prev.Label != tt.prevLabel || !prev.From.Equal(tt.prevFrom) || !prev.To.Equal(tt.prevTo) || prev.Kind != p.Kind || prev.Zone != p.Zone {
				t.Errorf("previous %s %s [%v, %v) zone %s, want %s [%v, %v) zone %s", prev.Kind, prev.Label, prev.From, prev.To, prev.Zone, tt.prevLabel, tt.prevFrom, tt.prevTo, p.Zone)
			}
		})
	}
}

func TestParsePeriodErrors(t *testing.T) {
	now := time.Date(2026, 11, 4, 10, 0, 0, 0, time.UTC)
	tests := []struct{ name, kind, at, zone, want string }{
		{"unknown zone", Daily, "2026-10-25", "Europe/Atlantis", `time zone "Europe/Atlantis": not an IANA time zone name`},
		{"server's local zone", Daily, "2026-10-25", "Local", `time zone "Local": not an IANA time zone name`},
		{"unknown kind", "dayly", "2026-10-25", "UTC", `period kind "dayly": unknown; known kinds: daily, weekly, monthly, quarterly, yearly, custom; did you mean "daily"?`},
		{"malformed day", Daily, "2026-10-32", "UTC", `daily period "2026-10-32": expected a date like 2026-10-25`},
		{"week 54", Weekly, "2026-W54", "UTC", `weekly period "2026-W54": ISO year 2026 has no week 54`},
		{"week 53 of a 52-week year", Weekly, "2027-W53", "UTC", `ISO year 2027 has no week 53`},
		{"week 0", Weekly, "2026-W00", "UTC", `ISO year 2026 has no week 0`},
		{"malformed week", Weekly, "2026-44", "UTC", `expected an ISO week like 2026-W44 or a date`},
		{"malformed month", Monthly, "2026-13", "UTC", `monthly period "2026-13": expected a month like 2026-10`},
		{"quarter 5", Quarterly, "2026-Q5", "UTC", `expected a quarter like 2026-Q3 (Q1 to Q4)`},
		{"malformed year", Yearly, "26", "UTC", `yearly period "26": expected a year like 2026`},
		{"custom without range", Custom, "2026-10-01", "UTC", `custom period "2026-10-01": expected FROM..TO`},
		{"custom empty", Custom, "", "UTC", `custom period "": expected FROM..TO`},
		{"custom reversed", Custom, "2026-10-15..2026-10-01", "UTC", `the end is not after the start`},
		{"custom bad end", Custom, "2026-10-01..soon", "UTC", `end "soon" is neither a date`},
		{"custom too long", Custom, "2020-01-01..2026-01-01", "UTC", `longer than 1098 days`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePeriod(tt.kind, tt.at, tt.zone, now)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
