package render

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/flowlake/flowlake/reports"
)

// NoValue is printed where the Document has no number (a Null cell, NaN).
const NoValue = "–"

// FormatExact prints v with the digits a spreadsheet shows: integers (below
// 2^53) as all their digits, other numbers rounded to 15 significant digits
// (Excel's and LibreOffice's precision) without trailing zeros and without
// exponent, NaN as NoValue and infinities as "∞"/"-∞". Tables print numbers
// this way (the unit is in the column heading), so a value read from the
// PDF or the HTML is the one the XLSX shows for the engine's answer.
func FormatExact(v float64) string {
	switch {
	case math.IsNaN(v):
		return NoValue
	case math.IsInf(v, 1):
		return "∞"
	case math.IsInf(v, -1):
		return "-∞"
	case v == math.Trunc(v) && math.Abs(v) < 1<<53:
		return strconv.FormatInt(int64(v), 10)
	}
	r, err := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 15, 64), 64)
	if err != nil {
		r = v
	}
	return strconv.FormatFloat(r, 'f', -1, 64)
}

// scale is one prefix step of a unit: values of at least min are divided
// by min and suffixed.
type scale struct {
	min    float64
	suffix string
}

var (
	decimalScales = []scale{{1e18, "E"}, {1e15, "P"}, {1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}}
	countScales   = []scale{{1e18, " E"}, {1e15, " P"}, {1e12, " T"}, {1e9, " G"}, {1e6, " M"}, {1e3, " k"}}
)

// FormatHuman prints v of unit u the way people read it, with three
// significant digits and an SI prefix: bytes in decimal units (1 GB = 10^9
// bytes, as network equipment counts), "1.23 Gbit/s", "1.23 M packets",
// "81.2 %", "12.3 ms". Figures print this next to FormatExact; axes print
// it alone.
func FormatHuman(v float64, u reports.Unit) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return FormatExact(v)
	}
	switch u {
	case reports.UnitBytes:
		return prefixed(v, decimalScales, " ", "B")
	case reports.UnitBPS:
		return prefixed(v, decimalScales, " ", "bit/s")
	case reports.UnitPackets:
		return prefixed(v, countScales, "", " packets")
	case reports.UnitPercent:
		return strconv.FormatFloat(v, 'f', 1, 64) + " %"
	case reports.UnitSeconds:
		return seconds(v)
	}
	return prefixed(v, countScales, "", "")
}

// prefixed scales v by the largest prefix it reaches and prints three
// significant digits; sep goes between number and prefix+unit.
func prefixed(v float64, scales []scale, sep, unit string) string {
	a := math.Abs(v)
	for i, s := range scales {
		if a < s.min*0.9995 {
			continue
		}
		n := sig3(v / s.min)
		if math.Abs(n) >= 999.5 && i > 0 {
			s = scales[i-1]
			n = sig3(v / s.min)
		}
		return trim3(n) + sep + s.suffix + unit
	}
	if a >= 1 && a < 1000 && v == math.Trunc(v) {
		if unit == "" {
			return strconv.FormatInt(int64(v), 10)
		}
		return strconv.FormatInt(int64(v), 10) + sep + unit
	}
	if unit == "" {
		return trim3(sig3(v))
	}
	return trim3(sig3(v)) + sep + unit
}

// sig3 rounds v to three significant digits.
func sig3(v float64) float64 {
	if v == 0 {
		return 0
	}
	p := math.Pow(10, 2-math.Floor(math.Log10(math.Abs(v))))
	return math.Round(v*p) / p
}

// trim3 prints a three-significant-digit number without trailing zeros
// beyond what the three digits need ("1.20" stays "1.20": precision shows).
func trim3(v float64) string {
	a := math.Abs(v)
	switch {
	case a == 0:
		return "0"
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// seconds prints a duration in seconds with the unit that reads best.
func seconds(v float64) string {
	a := math.Abs(v)
	switch {
	case a == 0:
		return "0 s"
	case a < 1e-3:
		return trim3(sig3(v*1e6)) + " µs"
	case a < 1:
		return trim3(sig3(v*1e3)) + " ms"
	case a < 60:
		return trim3(sig3(v)) + " s"
	case a < 3600:
		return trim3(sig3(v/60)) + " min"
	case a < 86400:
		return trim3(sig3(v/3600)) + " h"
	}
	return trim3(sig3(v/86400)) + " d"
}

// FormatChange prints the relative change from prev to v, e.g. "+11.8 %";
// "new" when prev is 0 and v is not, "±0 %" when both are equal.
func FormatChange(v, prev float64) string {
	switch {
	case math.IsNaN(v) || math.IsNaN(prev) || math.IsInf(v, 0) || math.IsInf(prev, 0):
		return NoValue
	case v == prev:
		return "±0 %"
	case prev == 0:
		return "new"
	}
	c := (v - prev) / math.Abs(prev) * 100
	s := strconv.FormatFloat(c, 'f', 1, 64)
	if c > 0 {
		s = "+" + s
	}
	return s + " %"
}

// unitLabel is how a unit is named in a column heading or an axis.
func unitLabel(u reports.Unit) string {
	return string(u)
}

// FormatFigure prints a figure's value as the HTML and the PDF show it: the
// human form, then the exact value with its unit when they differ, e.g.
// "1.23 GB (1234567890 bytes)".
func FormatFigure(v float64, u reports.Unit) string {
	h, e := FormatHuman(v, u), exactWithUnit(v, u)
	if h == e || h == FormatExact(v) {
		return h
	}
	return h + " (" + e + ")"
}

// exactWithUnit is FormatExact followed by the unit's name for units whose
// human form rescales, e.g. "1234567890 bytes".
func exactWithUnit(v float64, u reports.Unit) string {
	e := FormatExact(v)
	switch u {
	case reports.UnitBytes, reports.UnitPackets, reports.UnitBPS, reports.UnitSeconds, reports.UnitPercent:
		if finite(v) {
			e += " " + unitLabel(u)
		}
	}
	return e
}

// timeLayout picks how a column or axis of times is printed: dates alone
// when every time is a local midnight, seconds when any has them, and the
// UTC offset when the offsets differ (a DST day, whose repeated hour would
// otherwise print twice the same).
func timeLayout(times []time.Time) string {
	midnight, secs, mixed := true, false, false
	off := 0
	first := true
	for _, t := range times {
		if t.IsZero() {
			continue
		}
		if t.Hour() != 0 || t.Minute() != 0 || t.Second() != 0 {
			midnight = false
		}
		if t.Second() != 0 {
			secs = true
		}
		_, o := t.Zone()
		if first {
			off, first = o, false
		} else if o != off {
			mixed = true
		}
	}
	if midnight {
		return "2006-01-02"
	}
	l := "2006-01-02 15:04"
	switch {
	case secs:
		l += ":05"
	}
	if mixed {
		l += " -07:00"
	}
	return l
}

// FormatTime prints t with layout from timeLayout; a zero time prints
// NoValue.
func FormatTime(t time.Time, layout string) string {
	if t.IsZero() {
		return NoValue
	}
	return t.Format(layout)
}

// cellText prints one table cell: text as it is, numbers exactly, times
// in loc with the column's layout.
func cellText(c reports.Cell, col reports.Column, layout string, loc *time.Location) string {
	if c.Null {
		return NoValue
	}
	switch col.Kind {
	case reports.ColInt, reports.ColFloat:
		return FormatExact(c.Num)
	case reports.ColTime:
		if c.Time.IsZero() {
			return NoValue
		}
		return FormatTime(c.Time.In(loc), layout)
	}
	return c.Text
}

// columnLayoutsIn returns the time layout of each column of t printed in
// loc (empty for non-time columns).
func columnLayoutsIn(t reports.Table, loc *time.Location) []string {
	out := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		if c.Kind != reports.ColTime {
			continue
		}
		var ts []time.Time
		for _, r := range t.Rows {
			if i < len(r) && !r[i].Null {
				ts = append(ts, r[i].Time.In(loc))
			}
		}
		out[i] = timeLayout(ts)
	}
	return out
}

// columnHeading is a column's name with its unit, e.g. "In (bytes)".
func columnHeading(c reports.Column) string {
	if c.Unit == reports.UnitNone || c.Kind == reports.ColText || c.Kind == reports.ColTime {
		return c.Name
	}
	return c.Name + " (" + unitLabel(c.Unit) + ")"
}

// periodText prints a period for headings: label, kind and exact bounds.
func periodText(p reports.Period) string {
	if p.From.IsZero() && p.To.IsZero() {
		return ""
	}
	var b strings.Builder
	if p.Label != "" {
		b.WriteString(p.Label)
		if p.Kind != "" {
			b.WriteString(" (" + p.Kind + ")")
		}
		b.WriteString(": ")
	}
	l := "2006-01-02 15:04 -07:00"
	b.WriteString(p.From.Format(l) + " – " + p.To.Format(l))
	if p.Zone != "" {
		b.WriteString(" " + p.Zone)
	}
	if h := p.To.Sub(p.From); p.Kind == "daily" && h != 24*time.Hour {
		b.WriteString(", " + strconv.Itoa(int(h.Hours())) + " hours")
	}
	return b.String()
}

// rowCell returns row[i], or a Null cell when the row is short, so a
// malformed table prints NoValue instead of panicking.
func rowCell(row []reports.Cell, i int) reports.Cell {
	if i < len(row) {
		return row[i]
	}
	return reports.Cell{Null: true}
}
