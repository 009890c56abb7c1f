package render

import (
	"math"
	"testing"
	"time"

	"github.com/flowlake/flowlake/reports"
)

// tenth is a variable so 0.1+0.2 is computed in float64, not folded as a
// constant.
var tenth = 0.1

func TestFormatExact(t *testing.T) {
	for _, c := range []struct {
		name string
		v    float64
		want string
	}{
		{"zero", 0, "0"},
		{"integer", 1234567890123, "1234567890123"},
		{"negative", -42, "-42"},
		{"fraction", 0.0123, "0.0123"},
		{"15 significant digits", tenth + 2*tenth, "0.3"},
		{"15 significant digits kept", 3703.7034000000003, "3703.7034"},
		{"long fraction", 1.0 / 3, "0.333333333333333"},
		{"tiny", 1.5e-12, "0.0000000000015"},
		{"beyond 2^53", 1e21, "1000000000000000000000"},
		{"NaN", math.NaN(), NoValue},
		{"+Inf", math.Inf(1), "∞"},
		{"-Inf", math.Inf(-1), "-∞"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := FormatExact(c.v); got != c.want {
				t.Errorf("FormatExact(%v) = %q, want %q", c.v, got, c.want)
			}
		})
	}
}

func TestFormatHuman(t *testing.T) {
	for _, c := range []struct {
		name string
		v    float64
		u    reports.Unit
		want string
	}{
		{"bytes small", 999, reports.UnitBytes, "999 B"},
		{"bytes kB", 1000, reports.UnitBytes, "1.00 kB"},
		{"bytes GB", 1234567890, reports.UnitBytes, "1.23 GB"},
		{"bytes rounding up a prefix", 999999, reports.UnitBytes, "1.00 MB"},
		{"bytes TB", 1234567890123, reports.UnitBytes, "1.23 TB"},
		{"bit/s", 9876543210.5, reports.UnitBPS, "9.88 Gbit/s"},
		{"bit/s zero", 0, reports.UnitBPS, "0 bit/s"},
		{"packets", 98765432, reports.UnitPackets, "98.8 M packets"},
		{"packets few", 12, reports.UnitPackets, "12 packets"},
		{"count", 1500, reports.UnitCount, "1.50 k"},
		{"count small fraction", 0.5, reports.UnitCount, "0.5"},
		{"percent", 81.234, reports.UnitPercent, "81.2 %"},
		{"seconds ms", 0.0123, reports.UnitSeconds, "12.3 ms"},
		{"seconds µs", 0.0000123, reports.UnitSeconds, "12.3 µs"},
		{"seconds min", 150, reports.UnitSeconds, "2.50 min"},
		{"negative", -2.5e9, reports.UnitBytes, "-2.50 GB"},
		{"NaN", math.NaN(), reports.UnitBytes, NoValue},
		{"Inf", math.Inf(1), reports.UnitBPS, "∞"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := FormatHuman(c.v, c.u); got != c.want {
				t.Errorf("FormatHuman(%v, %q) = %q, want %q", c.v, c.u, got, c.want)
			}
		})
	}
}

func TestFormatFigureAndChange(t *testing.T) {
	for _, c := range []struct {
		name       string
		v, prev    float64
		u          reports.Unit
		fig, chang string
	}{
		{"bytes", 1234567890, 1100000000, reports.UnitBytes, "1.23 GB (1234567890 bytes)", "+12.2 %"},
		{"exact equals human", 12, 12, reports.UnitCount, "12", "±0 %"},
		{"from zero", 5, 0, reports.UnitCount, "5", "new"},
		{"drop", 50, 100, reports.UnitPercent, "50.0 % (50 %)", "-50.0 %"},
		{"NaN", math.NaN(), 1, reports.UnitBytes, NoValue, NoValue},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := FormatFigure(c.v, c.u); got != c.fig {
				t.Errorf("FormatFigure = %q, want %q", got, c.fig)
			}
			if got := FormatChange(c.v, c.prev); got != c.chang {
				t.Errorf("FormatChange = %q, want %q", got, c.chang)
			}
		})
	}
}

func TestTimeLayout(t *testing.T) {
	loc := berlin(t)
	day := time.Date(2026, 10, 25, 0, 0, 0, 0, loc)
	for _, c := range []struct {
		name  string
		times []time.Time
		want  string
	}{
		{"midnights", []time.Time{day, day.AddDate(0, 0, 1)}, "2006-01-02"},
		{"hours", []time.Time{day.Add(-48 * time.Hour), day.Add(-47 * time.Hour)}, "2006-01-02 15:04"},
		{"DST day hours carry the offset", []time.Time{day, day.Add(3 * time.Hour)}, "2006-01-02 15:04 -07:00"},
		{"seconds", []time.Time{day.Add(-47*time.Hour + time.Second)}, "2006-01-02 15:04:05"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := timeLayout(c.times); got != c.want {
				t.Errorf("timeLayout = %q, want %q", got, c.want)
			}
		})
	}
	// the repeated hour of the DST day prints twice, told apart by offset
	a, b := day.Add(2*time.Hour), day.Add(3*time.Hour)
	l := timeLayout([]time.Time{a, b})
	if FormatTime(a, l) != "2026-10-25 02:00 +02:00" || FormatTime(b, l) != "2026-10-25 02:00 +01:00" {
		t.Errorf("repeated hour printed %q and %q", FormatTime(a, l), FormatTime(b, l))
	}
}
