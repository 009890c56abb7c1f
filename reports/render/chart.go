package render

import (
	"math"
	"time"

	"github.com/flowlake/flowlake/reports"
)

// Charts are drawn once, by drawChart, onto a canvas that the SVG (HTML)
// and the PDF implement with their own vector primitives, so both formats
// show the same geometry. Coordinates are in chart units: chartWidth wide,
// y growing downwards, text y on the baseline.

// chartWidth is the width of every chart in chart units.
const chartWidth = 640.0

// rgb is a colour.
type rgb struct{ r, g, b uint8 }

// pt is a point in chart units.
type pt struct{ x, y float64 }

// anchor aligns text horizontally on its x.
type anchor uint8

const (
	anchorStart anchor = iota
	anchorMiddle
	anchorEnd
)

// canvas is what a chart is drawn on.
type canvas interface {
	// polyline strokes the points in order.
	polyline(pts []pt, c rgb, width float64, dashed bool)
	// polygon fills the closed shape with c at opacity (0..1).
	polygon(pts []pt, c rgb, opacity float64)
	// text writes s with its baseline at y.
	text(x, y float64, s string, size float64, a anchor, c rgb)
}

var (
	palette = []rgb{
		{31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40}, {148, 103, 189},
		{140, 86, 75}, {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207},
	}
	inkGrey   = rgb{90, 90, 90}
	gridGrey  = rgb{220, 220, 220}
	axisBlack = rgb{40, 40, 40}
	alertRed  = rgb{200, 30, 30}
)

const (
	marginLeft   = 72.0
	marginRight  = 24.0
	marginTop    = 12.0
	axisBottom   = 28.0
	legendRow    = 18.0
	labelSize    = 10.0
	barLabelRoom = 150.0
)

// estWidth estimates the width of s at size: wide (CJK) runes take a full
// em, others about 0.6 em. Only legends and label room use it.
func estWidth(s string, size float64) float64 {
	w := 0.0
	for _, r := range s {
		if isWide(r) {
			w += size
		} else {
			w += 0.6 * size
		}
	}
	return w
}

// isWide reports whether r is drawn from the CJK font and a full em wide.
func isWide(r rune) bool {
	return r >= 0x2E80 && r < 0xFF61 || r >= 0xFFE0 && r < 0xFFE7 || r >= 0x20000
}

// clip shortens a chart label to at most w units, marking the cut with
// "…". Tables print the full name; this is a chart label only.
func clip(s string, size, w float64) string {
	if estWidth(s, size) <= w {
		return s
	}
	rs := []rune(s)
	for len(rs) > 0 && estWidth(string(rs)+"…", size) > w {
		rs = rs[:len(rs)-1]
	}
	return string(rs) + "…"
}

// legendItem is one entry of a legend.
type legendItem struct {
	name   string
	c      rgb
	dashed bool
}

// legendItems lists what a chart's legend shows.
func legendItems(ch reports.Chart) []legendItem {
	var out []legendItem
	if ch.Kind == reports.ChartPie {
		vals := pieValues(ch)
		total := 0.0
		for _, v := range vals {
			total += v
		}
		for i, v := range vals {
			if v <= 0 || total <= 0 {
				continue
			}
			name := ""
			if i < len(ch.Categories) {
				name = ch.Categories[i]
			}
			out = append(out, legendItem{name: name + " " + FormatHuman(v/total*100, reports.UnitPercent), c: palette[i%len(palette)]})
		}
		return out
	}
	for i, s := range ch.Series {
		n := s.Name
		if s.Forecast {
			n += " (forecast)"
		}
		out = append(out, legendItem{name: n, c: palette[i%len(palette)], dashed: s.Forecast})
	}
	return out
}

// legendRows lays the legend out in rows across the chart's width.
func legendRows(items []legendItem) [][]legendItem {
	var rows [][]legendItem
	x := marginLeft
	for _, it := range items {
		w := 18 + estWidth(clip(it.name, labelSize, 260), labelSize) + 14
		if len(rows) == 0 || x+w > chartWidth-marginRight {
			rows = append(rows, nil)
			x = marginLeft
		}
		rows[len(rows)-1] = append(rows[len(rows)-1], it)
		x += w
	}
	return rows
}

// chartHeight is the height of ch drawn chartWidth wide.
func chartHeight(ch reports.Chart) float64 {
	legend := float64(len(legendRows(legendItems(ch)))) * legendRow
	switch ch.Kind {
	case reports.ChartBar:
		n := max(len(ch.Categories), 1)
		return marginTop + float64(n)*barRowHeight(ch) + axisBottom + legend
	case reports.ChartPie:
		return marginTop + 220 + 12 + legend
	}
	return marginTop + 220 + axisBottom + legend
}

// barRowHeight is the height of one category of a bar chart.
func barRowHeight(ch reports.Chart) float64 {
	return max(20, 7*float64(len(ch.Series))+8)
}

// drawChart draws ch on cv; h is chartHeight(ch).
func drawChart(cv canvas, ch reports.Chart, h float64) {
	items := legendItems(ch)
	rows := legendRows(items)
	plotBottom := h - float64(len(rows))*legendRow - axisBottom
	if ch.Kind == reports.ChartPie {
		plotBottom = h - float64(len(rows))*legendRow - 12
	}
	switch {
	case !hasData(ch):
		frame := []pt{{marginLeft, marginTop}, {chartWidth - marginRight, marginTop}, {chartWidth - marginRight, plotBottom}, {marginLeft, plotBottom}, {marginLeft, marginTop}}
		cv.polyline(frame, gridGrey, 1, false)
		cv.text((marginLeft+chartWidth-marginRight)/2, (marginTop+plotBottom)/2, "No data in this period", 12, anchorMiddle, inkGrey)
		return
	case ch.Kind == reports.ChartBar:
		drawBars(cv, ch, plotBottom)
	case ch.Kind == reports.ChartPie:
		drawPie(cv, ch, plotBottom)
	default:
		drawTimeChart(cv, ch, plotBottom)
	}
	y := h - float64(len(rows))*legendRow + 13
	for _, row := range rows {
		x := marginLeft
		for _, it := range row {
			if ch.Kind == reports.ChartPie || ch.Kind == reports.ChartBar || ch.Kind == reports.ChartStacked {
				cv.polygon(rectPts(x, y-9, 12, 10), it.c, 1)
			} else {
				cv.polyline([]pt{{x, y - 4}, {x + 14, y - 4}}, it.c, 2, it.dashed)
			}
			name := clip(it.name, labelSize, 260)
			cv.text(x+18, y, name, labelSize, anchorStart, axisBlack)
			x += 18 + estWidth(name, labelSize) + 14
		}
		y += legendRow
	}
}

// hasData reports whether ch has at least one finite value to draw.
func hasData(ch reports.Chart) bool {
	if ch.Kind == reports.ChartPie {
		for _, v := range pieValues(ch) {
			if v > 0 {
				return true
			}
		}
		return false
	}
	n := len(ch.Times)
	if ch.Kind == reports.ChartBar {
		n = len(ch.Categories)
	}
	for _, s := range ch.Series {
		for i, v := range s.Values {
			if i < n && finite(v) {
				return true
			}
		}
	}
	return false
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// at returns vs[i], or NaN past its end: series shorter than the axis
// draw as gaps.
func at(vs []float64, i int) float64 {
	if i < len(vs) {
		return vs[i]
	}
	return math.NaN()
}

func rectPts(x, y, w, h float64) []pt {
	return []pt{{x, y}, {x + w, y}, {x + w, y + h}, {x, y + h}}
}

// niceTicks returns about n round tick values covering [lo, hi].
func niceTicks(lo, hi float64, n int) []float64 {
	if hi <= lo {
		hi = lo + 1
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var out []float64
	for v := math.Floor(lo/step) * step; v <= hi+step*1e-9; v += step {
		out = append(out, v)
		if len(out) > 50 {
			break
		}
	}
	if out[len(out)-1] < hi {
		out = append(out, out[len(out)-1]+step)
	}
	return out
}

// valueRange is the span of every finite value ch draws, thresholds
// included, widened to include zero.
func valueRange(ch reports.Chart, n int) (lo, hi float64) {
	lo, hi = 0, 0
	see := func(v float64) {
		if finite(v) {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	if ch.Kind == reports.ChartStacked {
		for i := range n {
			pos, neg := 0.0, 0.0
			for _, s := range ch.Series {
				if v := at(s.Values, i); finite(v) && v > 0 {
					pos += v
				} else if finite(v) {
					neg += v
				}
			}
			see(pos)
			see(neg)
		}
	} else {
		for _, s := range ch.Series {
			for i := range n {
				see(at(s.Values, i))
				see(at(s.Lower, i))
				see(at(s.Upper, i))
			}
		}
	}
	for _, t := range ch.Thresholds {
		see(t.Value)
	}
	if hi == lo {
		hi = lo + 1
	}
	return lo, hi
}

// drawYAxis draws horizontal grid lines with value labels and returns the
// value-to-y mapping.
func drawYAxis(cv canvas, ch reports.Chart, lo, hi, top, bottom float64) func(float64) float64 {
	ticks := niceTicks(lo, hi, 5)
	lo, hi = ticks[0], ticks[len(ticks)-1]
	y := func(v float64) float64 { return bottom - (v-lo)/(hi-lo)*(bottom-top) }
	for _, t := range ticks {
		cv.polyline([]pt{{marginLeft, y(t)}, {chartWidth - marginRight, y(t)}}, gridGrey, 0.8, false)
		cv.text(marginLeft-6, y(t)+3.5, FormatHuman(t, ch.Unit), labelSize, anchorEnd, inkGrey)
	}
	return y
}

// drawTimeChart draws a line or stacked chart over ch.Times.
func drawTimeChart(cv canvas, ch reports.Chart, bottom float64) {
	n := len(ch.Times)
	lo, hi := valueRange(ch, n)
	y := drawYAxis(cv, ch, lo, hi, marginTop, bottom)
	t0, t1 := ch.Times[0], ch.Times[0]
	for _, t := range ch.Times {
		if t.Before(t0) {
			t0 = t
		}
		if t.After(t1) {
			t1 = t
		}
	}
	left, right := marginLeft, chartWidth-marginRight
	x := func(t time.Time) float64 {
		if !t1.After(t0) {
			return (left + right) / 2
		}
		return left + float64(t.Sub(t0))/float64(t1.Sub(t0))*(right-left)
	}
	ticks, layout := timeTicks(t0, t1)
	for _, t := range ticks {
		cv.polyline([]pt{{x(t), bottom}, {x(t), bottom + 4}}, axisBlack, 0.8, false)
		cv.text(x(t), bottom+16, t.Format(layout), labelSize, anchorMiddle, inkGrey)
	}
	cv.polyline([]pt{{left, bottom}, {right, bottom}}, axisBlack, 1, false)
	if ch.Kind == reports.ChartStacked {
		base := make([]float64, n)
		for si, s := range ch.Series {
			top := make([]float64, n)
			for i := range n {
				top[i] = base[i]
				if v := at(s.Values, i); finite(v) {
					top[i] += v
				}
			}
			shape := make([]pt, 0, 2*n)
			for i := range n {
				shape = append(shape, pt{x(ch.Times[i]), y(top[i])})
			}
			for i := n - 1; i >= 0; i-- {
				shape = append(shape, pt{x(ch.Times[i]), y(base[i])})
			}
			cv.polygon(shape, palette[si%len(palette)], 0.85)
			base = top
		}
	} else {
		for si, s := range ch.Series {
			c := palette[si%len(palette)]
			if len(s.Lower) > 0 && len(s.Upper) > 0 {
				for _, seg := range segments(n, func(i int) bool { return finite(at(s.Lower, i)) && finite(at(s.Upper, i)) }) {
					var band []pt
					for _, i := range seg {
						band = append(band, pt{x(ch.Times[i]), y(at(s.Upper, i))})
					}
					for k := len(seg) - 1; k >= 0; k-- {
						band = append(band, pt{x(ch.Times[seg[k]]), y(at(s.Lower, seg[k]))})
					}
					cv.polygon(band, c, 0.2)
				}
			}
			for _, seg := range segments(n, func(i int) bool { return finite(at(s.Values, i)) }) {
				if len(seg) == 1 {
					px, py := x(ch.Times[seg[0]]), y(at(s.Values, seg[0]))
					cv.polygon(rectPts(px-2, py-2, 4, 4), c, 1)
					continue
				}
				line := make([]pt, len(seg))
				for k, i := range seg {
					line[k] = pt{x(ch.Times[i]), y(at(s.Values, i))}
				}
				cv.polyline(decimate(line), c, 1.8, s.Forecast)
			}
		}
	}
	drawThresholds(cv, ch, y, left, right)
}

// drawThresholds draws each threshold as a dashed red line labelled at its
// right end.
func drawThresholds(cv canvas, ch reports.Chart, y func(float64) float64, left, right float64) {
	for _, t := range ch.Thresholds {
		if !finite(t.Value) {
			continue
		}
		cv.polyline([]pt{{left, y(t.Value)}, {right, y(t.Value)}}, alertRed, 1.2, true)
		label := t.Label
		if label == "" {
			label = FormatHuman(t.Value, ch.Unit)
		}
		cv.text(right, y(t.Value)-4, label, labelSize, anchorEnd, alertRed)
	}
}

// segments splits 0..n-1 into runs where ok holds, so gaps (NaN) break
// lines and bands instead of being drawn as zero.
func segments(n int, ok func(int) bool) [][]int {
	var out [][]int
	var cur []int
	for i := range n {
		if ok(i) {
			cur = append(cur, i)
			continue
		}
		if len(cur) > 0 {
			out = append(out, cur)
			cur = nil
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// timeTicks returns at most about eight round times between t0 and t1 in
// their location, and the layout to print them.
func timeTicks(t0, t1 time.Time) ([]time.Time, string) {
	span := t1.Sub(t0)
	loc := t0.Location()
	const day = 24 * time.Hour
	switch {
	case span <= 0:
		return []time.Time{t0}, "2006-01-02 15:04"
	case span <= 8*12*time.Hour:
		var step time.Duration
		for _, s := range []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour} {
			if span/s <= 8 {
				step = s
				break
			}
		}
		var out []time.Time
		if step < time.Hour {
			for t := t0.Truncate(step); !t.After(t1); t = t.Add(step) {
				if !t.Before(t0) {
					out = append(out, t.In(loc))
				}
			}
			return out, "15:04"
		}
		// whole hours on the local wall clock, so a DST day still shows
		// 00:00, 03:00, 06:00, …
		y, m, d := t0.Date()
		sh := int(step / time.Hour)
		for h := 0; len(out) < 50; h += sh {
			t := time.Date(y, m, d, h, 0, 0, 0, loc)
			if t.After(t1) {
				break
			}
			if !t.Before(t0) {
				out = append(out, t)
			}
		}
		return out, "15:04"
	case span <= 8*14*day:
		nd := 1
		for _, d := range []int{1, 2, 7, 14} {
			if span/(time.Duration(d)*day) <= 8 {
				nd = d
				break
			}
		}
		y, m, d := t0.Date()
		var out []time.Time
		for t := time.Date(y, m, d, 0, 0, 0, 0, loc); !t.After(t1); t = t.AddDate(0, 0, nd) {
			if !t.Before(t0) {
				out = append(out, t)
			}
		}
		return out, "01-02"
	}
	nm := 1
	for _, m := range []int{1, 2, 3, 6, 12, 24, 60, 120} {
		nm = m
		if span/(time.Duration(m)*30*day) <= 8 {
			break
		}
	}
	y, _, _ := t0.Date()
	var out []time.Time
	for t := time.Date(y, 1, 1, 0, 0, 0, 0, loc); !t.After(t1) && len(out) < 200; t = t.AddDate(0, nm, 0) {
		if !t.Before(t0) {
			out = append(out, t)
		}
	}
	if nm >= 12 {
		return out, "2006"
	}
	return out, "2006-01"
}

// localChart returns ch with its times in loc, so axes are labelled in the
// report's time zone whatever zone the builder used.
func localChart(ch reports.Chart, loc *time.Location) reports.Chart {
	ts := make([]time.Time, len(ch.Times))
	for i, t := range ch.Times {
		ts[i] = t.In(loc)
	}
	ch.Times = ts
	return ch
}

// decimate thins a polyline of more points than the chart has half-units
// of width: per half-unit column it keeps the first, lowest, highest and
// last point, so peaks survive and a year of hourly values draws as about
// 2,400 points instead of 8,760. Tables and the XLSX keep every value.
func decimate(line []pt) []pt {
	if len(line) <= 2*int(chartWidth) {
		return line
	}
	out := make([]pt, 0, 4*int(chartWidth))
	for i := 0; i < len(line); {
		col := math.Floor(line[i].x * 2)
		j := i
		lo, hi := i, i
		for j < len(line) && math.Floor(line[j].x*2) == col {
			if line[j].y < line[lo].y {
				lo = j
			}
			if line[j].y > line[hi].y {
				hi = j
			}
			j++
		}
		keep := []int{i, lo, hi, j - 1}
		// in drawing order
		if lo > hi {
			keep[1], keep[2] = hi, lo
		}
		last := -1
		for _, k := range keep {
			if k != last {
				out = append(out, line[k])
				last = k
			}
		}
		i = j
	}
	return out
}
