package render

import (
	"math"
	"testing"
)

// TestDecimateKeepsPeaks: a long line is thinned to the chart's width, and
// every column's highest and lowest points survive.
func TestDecimateKeepsPeaks(t *testing.T) {
	n := 8760
	line := make([]pt, n)
	for i := range line {
		line[i] = pt{x: marginLeft + float64(i)/float64(n-1)*(chartWidth-marginLeft-marginRight), y: 100 + 50*math.Sin(float64(i)/24)}
	}
	line[4321].y = -500 // a spike
	line[1234].y = 900
	out := decimate(line)
	if len(out) >= n/2 || len(out) > 4*int(chartWidth) {
		t.Errorf("%d points after decimation of %d", len(out), n)
	}
	var hasLow, hasHigh bool
	for _, p := range out {
		hasLow = hasLow || p.y == -500
		hasHigh = hasHigh || p.y == 900
	}
	if !hasLow || !hasHigh {
		t.Errorf("a spike was dropped: low %v, high %v", hasLow, hasHigh)
	}
	if out[0] != line[0] || out[len(out)-1] != line[n-1] {
		t.Errorf("the ends moved")
	}
	short := line[:100]
	if got := decimate(short); len(got) != 100 {
		t.Errorf("a short line was thinned to %d points", len(got))
	}
}
