package render

import (
	"fmt"
	"html"
	"strconv"
	"strings"

	"github.com/flowlake/flowlake/reports"
)

// svgCanvas writes chart primitives as SVG elements.
type svgCanvas struct{ b strings.Builder }

var _ canvas = (*svgCanvas)(nil)

func num(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func (c rgb) hex() string { return fmt.Sprintf("#%02x%02x%02x", c.r, c.g, c.b) }

func svgPoints(pts []pt) string {
	var b strings.Builder
	for i, p := range pts {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(num(p.x) + "," + num(p.y))
	}
	return b.String()
}

func (s *svgCanvas) polyline(pts []pt, c rgb, width float64, dashed bool) {
	dash := ""
	if dashed {
		dash = ` stroke-dasharray="6 4"`
	}
	fmt.Fprintf(&s.b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="%s"%s/>`, svgPoints(pts), c.hex(), num(width), dash)
}

func (s *svgCanvas) polygon(pts []pt, c rgb, opacity float64) {
	op := ""
	if opacity < 1 {
		op = ` fill-opacity="` + strconv.FormatFloat(opacity, 'f', 2, 64) + `"`
	}
	fmt.Fprintf(&s.b, `<polygon points="%s" fill="%s"%s/>`, svgPoints(pts), c.hex(), op)
}

func (s *svgCanvas) text(x, y float64, t string, size float64, a anchor, c rgb) {
	an := "start"
	switch a {
	case anchorMiddle:
		an = "middle"
	case anchorEnd:
		an = "end"
	}
	fmt.Fprintf(&s.b, `<text x="%s" y="%s" font-size="%s" text-anchor="%s" fill="%s">%s</text>`, num(x), num(y), num(size), an, c.hex(), html.EscapeString(t))
}

// chartSVG returns ch as one inline SVG element that scales to its
// container's width. Every text in it is escaped here.
func chartSVG(ch reports.Chart) string {
	h := chartHeight(ch)
	var s svgCanvas
	fmt.Fprintf(&s.b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %s %s" role="img" aria-label="%s">`, num(chartWidth), num(h), html.EscapeString(ch.Title))
	drawChart(&s, ch, h)
	s.b.WriteString(`</svg>`)
	return s.b.String()
}
