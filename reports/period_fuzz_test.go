package reports

import (
	"testing"
	"time"
)

// FuzzParsePeriod feeds ParsePeriod any kind, at and zone: it either
// refuses with an error or returns a non-empty period whose label parses
// back to the same range and whose previous period ends where it starts;
// never a panic. Seeds: testdata/fuzz/FuzzParsePeriod.
func FuzzParsePeriod(f *testing.F) {
	for _, s := range [][3]string{
		{Daily, "2026-03-29", "Europe/Berlin"}, {Daily, "2026-10-25", "Europe/Berlin"},
		{Weekly, "2026-W53", "UTC"}, {Weekly, "2027-W53", "UTC"}, {Monthly, "2026-10", "Asia/Shanghai"},
		{Quarterly, "2026-Q3", ""}, {Yearly, "2026", "America/Sao_Paulo"},
		{Custom, "2026-10-01..2026-10-15", "Europe/Berlin"}, {Custom, "2026-10-01T06:00:00Z..2026-10-01T18:00:00+02:00", "UTC"},
		{Daily, "", "Pacific/Chatham"}, {"hourly", "2026", "UTC"}, {Custom, "..", "UTC"}, {Weekly, "0000-W01", "UTC"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	now := time.Date(2026, 11, 4, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, kind, at, zone string) {
		p, err := ParsePeriod(kind, at, zone, now)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if !p.To.After(p.From) {
			t.Fatalf("%s %q in %q: empty period [%v, %v)", kind, at, zone, p.From, p.To)
		}
		again, err := ParsePeriod(p.Kind, p.Label, zone, now)
		if err != nil {
			t.Fatalf("%s %q in %q: label %q does not parse back: %v", kind, at, zone, p.Label, err)
		}
		if !again.From.Equal(p.From) || !again.To.Equal(p.To) {
			t.Fatalf("%s %q in %q: label %q is [%v, %v), the period [%v, %v)", kind, at, zone, p.Label, again.From, again.To, p.From, p.To)
		}
		prev := p.Previous()
		if !prev.To.Equal(p.From) || !prev.To.After(prev.From) {
			t.Fatalf("%s %q in %q: previous [%v, %v) of [%v, %v)", kind, at, zone, prev.From, prev.To, p.From, p.To)
		}
	})
}
