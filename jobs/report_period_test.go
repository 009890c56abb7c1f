package jobs

import (
	"testing"
	"time"
)

func TestClosedPeriod(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, berlin)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		kind, at, label, from, to string
		hours                     float64
	}{
		{"daily", "2026-10-26 00:15", "2026-10-25", "2026-10-25 00:00", "2026-10-26 00:00", 25}, // DST ends
		{"daily", "2026-03-30 00:15", "2026-03-29", "2026-03-29 00:00", "2026-03-30 00:00", 23}, // DST starts
		{"weekly", "2026-11-02 00:15", "2026-W44", "2026-10-26 00:00", "2026-11-02 00:00", 168},
		{"weekly", "2026-10-26 00:15", "2026-W43", "2026-10-19 00:00", "2026-10-26 00:00", 169},
		{"monthly", "2026-11-01 00:15", "2026-10", "2026-10-01 00:00", "2026-11-01 00:00", 31*24 + 1},
		{"monthly", "2027-01-01 00:15", "2026-12", "2026-12-01 00:00", "2027-01-01 00:00", 31 * 24},
		{"quarterly", "2026-10-01 00:15", "2026-Q3", "2026-07-01 00:00", "2026-10-01 00:00", 92 * 24},
		{"quarterly", "2027-01-01 00:15", "2026-Q4", "2026-10-01 00:00", "2027-01-01 00:00", 92*24 + 1},
		{"yearly", "2027-01-01 00:15", "2026", "2026-01-01 00:00", "2027-01-01 00:00", 365 * 24},
	} {
		t.Run(tc.kind+" "+tc.at, func(t *testing.T) {
			p, err := closedPeriod(tc.kind, at(tc.at), berlin)
			if err != nil {
				t.Fatal(err)
			}
			if p.Label != tc.label || !p.From.Equal(at(tc.from)) || !p.To.Equal(at(tc.to)) || p.Zone != "Europe/Berlin" {
				t.Fatalf("got %s [%s, %s) in %s", p.Label, p.From, p.To, p.Zone)
			}
			if h := p.To.Sub(p.From).Hours(); h != tc.hours {
				t.Fatalf("period lasts %vh, want %vh", h, tc.hours)
			}
		})
	}
	if _, err := closedPeriod("hourly", at("2026-10-26 00:15"), berlin); err == nil {
		t.Fatal("hourly accepted")
	}
}
