package render

import (
	"math"

	"github.com/flowlake/flowlake/reports"
)

// drawBars draws a horizontal grouped bar chart: one row per category,
// labels on the left so long (and CJK) names stay readable.
func drawBars(cv canvas, ch reports.Chart, bottom float64) {
	n := len(ch.Categories)
	lo, hi := valueRange(ch, n)
	ticks := niceTicks(lo, hi, 5)
	lo, hi = ticks[0], ticks[len(ticks)-1]
	left, right := barLabelRoom, chartWidth-marginRight
	x := func(v float64) float64 { return left + (v-lo)/(hi-lo)*(right-left) }
	for _, t := range ticks {
		cv.polyline([]pt{{x(t), marginTop}, {x(t), bottom}}, gridGrey, 0.8, false)
		cv.text(x(t), bottom+16, FormatHuman(t, ch.Unit), labelSize, anchorMiddle, inkGrey)
	}
	rh := barRowHeight(ch)
	ns := max(len(ch.Series), 1)
	bh := (rh - 6) / float64(ns)
	for i, cat := range ch.Categories {
		top := marginTop + float64(i)*rh
		cv.text(left-6, top+rh/2+3.5, clip(cat, labelSize, left-12), labelSize, anchorEnd, axisBlack)
		for si, s := range ch.Series {
			v := at(s.Values, i)
			if !finite(v) {
				continue
			}
			x0, x1 := x(math.Min(0, v)), x(math.Max(0, v))
			cv.polygon(rectPts(x0, top+3+float64(si)*bh, math.Max(x1-x0, 0.5), bh), palette[si%len(palette)], 1)
		}
	}
	cv.polyline([]pt{{x(0), marginTop}, {x(0), bottom}}, axisBlack, 1, false)
	drawThresholdsVertical(cv, ch, x, bottom)
}

// drawThresholdsVertical draws thresholds of a bar chart, whose value axis
// is horizontal.
func drawThresholdsVertical(cv canvas, ch reports.Chart, x func(float64) float64, bottom float64) {
	for _, t := range ch.Thresholds {
		if !finite(t.Value) {
			continue
		}
		cv.polyline([]pt{{x(t.Value), marginTop}, {x(t.Value), bottom}}, alertRed, 1.2, true)
		label := t.Label
		if label == "" {
			label = FormatHuman(t.Value, ch.Unit)
		}
		cv.text(x(t.Value)+3, marginTop+9, label, labelSize, anchorStart, alertRed)
	}
}

// pieValues are the slices of a pie chart: its first series, one value
// per category; negative and NaN values have no slice.
func pieValues(ch reports.Chart) []float64 {
	if len(ch.Series) == 0 {
		return nil
	}
	out := make([]float64, len(ch.Categories))
	for i := range out {
		if v := at(ch.Series[0].Values, i); finite(v) && v > 0 {
			out[i] = v
		}
	}
	return out
}

// drawPie draws a pie chart of the first series, slices as polygons.
func drawPie(cv canvas, ch reports.Chart, bottom float64) {
	vals := pieValues(ch)
	total := 0.0
	for _, v := range vals {
		total += v
	}
	cx, cy := chartWidth/2, (marginTop+bottom)/2
	r := (bottom - marginTop) / 2
	a := -math.Pi / 2
	for i, v := range vals {
		if v <= 0 {
			continue
		}
		da := v / total * 2 * math.Pi
		steps := max(2, int(da/(math.Pi/90))+1)
		shape := []pt{{cx, cy}}
		for k := 0; k <= steps; k++ {
			ak := a + da*float64(k)/float64(steps)
			shape = append(shape, pt{cx + r*math.Cos(ak), cy + r*math.Sin(ak)})
		}
		cv.polygon(shape, palette[i%len(palette)], 1)
		a += da
	}
}
