package render

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"codeberg.org/go-pdf/fpdf"

	"github.com/flowlake/flowlake/reports"
)

// PDF page geometry, in millimetres (A4 portrait).
const (
	pdfMargin    = 15.0
	pdfHeaderGap = 10.0
	pdfBodySize  = 9.5
	pdfTableSize = 8.0
	pdfMinSize   = 5.5
	ptToMM       = 25.4 / 72
)

// pdfDoc is one PDF being written.
type pdfDoc struct {
	f     *fpdf.Fpdf
	doc   *reports.Document
	opts  Options
	pageW float64
	pageH float64
	width float64 // printable width
}

// font families registered in the PDF.
const (
	famLatin = "latin"
	famCJK   = "cjk"
)

// PDF writes doc as an A4 PDF: a heading with the period, warnings, then
// each section's text, figures, vector charts and tables; tables break
// across pages with their header repeated and print opts' cap of rows;
// every page is numbered. The fonts of opts.Fonts are embedded (subset), so
// Chinese names render on any viewer.
func PDF(w io.Writer, doc *reports.Document, opts Options) error {
	fonts, err := opts.Fonts.load()
	if err != nil {
		return fmt.Errorf("pdf: %w", err)
	}
	f := fpdf.New("P", "mm", "A4", "")
	f.AddUTF8FontFromBytes(famLatin, "", fonts.regular)
	f.AddUTF8FontFromBytes(famLatin, "B", fonts.bold)
	f.AddUTF8FontFromBytes(famCJK, "", fonts.cjk)
	if err := f.Error(); err != nil {
		return fmt.Errorf("pdf: load fonts: %w", err)
	}
	gen := doc.Generated.UTC() // fpdf writes the date without a zone: UTC reads right
	if gen.IsZero() {
		gen = time.Unix(0, 0).UTC()
	}
	f.SetCreationDate(gen)
	f.SetModificationDate(gen)
	f.SetCatalogSort(true)
	f.SetTitle(docTitle(doc), true)
	f.SetProducer("Flowlake", false)
	f.SetMargins(pdfMargin, pdfMargin+pdfHeaderGap, pdfMargin)
	f.SetAutoPageBreak(false, pdfMargin)
	f.AliasNbPages("{nb}")
	pw, ph := f.GetPageSize()
	p := &pdfDoc{f: f, doc: doc, opts: opts, pageW: pw, pageH: ph, width: pw - 2*pdfMargin}
	f.SetHeaderFunc(p.header)
	f.SetFooterFunc(p.footer)
	f.AddPage()
	p.heading()
	p.warnings()
	for _, s := range doc.Sections {
		p.section(s)
	}
	if err := f.Output(w); err != nil {
		return fmt.Errorf("pdf: %w", err)
	}
	return nil
}

func docTitle(doc *reports.Document) string {
	if doc.Title == "" {
		return "Flowlake report"
	}
	return doc.Title
}

// limit is the lowest y content may reach on a page.
func (p *pdfDoc) limit() float64 { return p.pageH - pdfMargin - 6 }

// ensure starts a new page unless h millimetres fit below the cursor.
func (p *pdfDoc) ensure(h float64) bool {
	if p.f.GetY()+h <= p.limit() {
		return false
	}
	p.f.AddPage()
	return true
}

// run is a piece of text drawn in one font.
type run struct {
	cjk  bool
	text string
}

// runs splits s where it switches between Latin and CJK glyphs: the Latin
// font has no CJK glyphs and the CJK font no Latin ones. Characters beyond
// the Basic Multilingual Plane (emoji, rare CJK extensions), which the PDF
// library cannot embed, become U+FFFD "�"; control characters a space.
func runs(s string) []run {
	var out []run
	var b strings.Builder
	cur := false
	for i, r := range s {
		switch {
		case r > 0xFFFF:
			r = utf8.RuneError
		case r < 0x20 || r == 0x7F:
			r = ' '
		}
		w := isWide(r)
		if i > 0 && w != cur && b.Len() > 0 {
			out = append(out, run{cur, b.String()})
			b.Reset()
		}
		cur = w
		b.WriteRune(r)
	}
	if b.Len() > 0 {
		out = append(out, run{cur, b.String()})
	}
	return out
}

// setFont selects the font of one run.
func (p *pdfDoc) setFont(cjk, bold bool, size float64) {
	switch {
	case cjk:
		p.f.SetFont(famCJK, "", size)
	case bold:
		p.f.SetFont(famLatin, "B", size)
	default:
		p.f.SetFont(famLatin, "", size)
	}
}

// textWidth is the width of s in millimetres.
func (p *pdfDoc) textWidth(s string, bold bool, size float64) float64 {
	w := 0.0
	for _, r := range runs(s) {
		p.setFont(r.cjk, bold, size)
		w += p.f.GetStringWidth(r.text)
	}
	return w
}

// text draws s with its baseline at y.
func (p *pdfDoc) text(x, y float64, s string, bold bool, size float64) {
	for _, r := range runs(s) {
		p.setFont(r.cjk, bold, size)
		p.f.Text(x, y, r.text)
		x += p.f.GetStringWidth(r.text)
	}
}

// lineHeight is the distance between baselines at size (points).
func lineHeight(size float64) float64 { return size * ptToMM * 1.35 }

// wrap breaks s into lines at most w millimetres wide: at spaces in Latin
// text, between any two CJK characters, and inside a word only when the
// word alone is too wide.
func (p *pdfDoc) wrap(s string, w float64, bold bool, size float64) []string {
	var lines []string
	for _, para := range strings.Split(s, "\n") {
		var tokens []string
		var word strings.Builder
		for _, r := range para {
			switch {
			case r == ' ':
				word.WriteRune(r)
				tokens = append(tokens, word.String())
				word.Reset()
			case isWide(r):
				if word.Len() > 0 {
					tokens = append(tokens, word.String())
					word.Reset()
				}
				tokens = append(tokens, string(r))
			default:
				word.WriteRune(r)
			}
		}
		if word.Len() > 0 {
			tokens = append(tokens, word.String())
		}
		line, start := "", len(lines)
		// cut breaks a line holding one token wider than w by runes
		cut := func() {
			for line != "" && p.textWidth(strings.TrimRight(line, " "), bold, size) > w {
				rs := []rune(strings.TrimRight(line, " "))
				if len(rs) <= 1 {
					// one glyph wider than the column: print it anyway
					lines = append(lines, string(rs))
					line = ""
					return
				}
				k := len(rs) - 1
				for k > 1 && p.textWidth(string(rs[:k]), bold, size) > w {
					k--
				}
				lines = append(lines, string(rs[:k]))
				line = string(rs[k:])
			}
		}
		for _, t := range tokens {
			if line == "" || p.textWidth(strings.TrimRight(line+t, " "), bold, size) <= w {
				line += t
			} else {
				lines = append(lines, strings.TrimRight(line, " "))
				line = t
			}
			cut()
		}
		if line != "" || len(lines) == start {
			lines = append(lines, strings.TrimRight(line, " "))
		}
	}
	return lines
}

// para writes s wrapped to the printable width at the cursor.
func (p *pdfDoc) para(s string, bold bool, size float64, c rgb) {
	p.f.SetTextColor(int(c.r), int(c.g), int(c.b))
	lh := lineHeight(size)
	for _, l := range p.wrap(s, p.width, bold, size) {
		p.ensure(lh)
		y := p.f.GetY() + lh
		p.text(pdfMargin, y-lh*0.25, l, bold, size)
		p.f.SetY(y)
	}
	p.f.SetTextColor(0, 0, 0)
}

// header draws the running title on every page but the first.
func (p *pdfDoc) header() {
	if p.f.PageNo() == 1 {
		p.f.SetY(pdfMargin)
		return
	}
	p.f.SetTextColor(110, 110, 110)
	t := docTitle(p.doc)
	if p.doc.Period.Label != "" {
		t += " · " + p.doc.Period.Label
	}
	p.text(pdfMargin, pdfMargin, t, false, 8)
	p.f.SetDrawColor(200, 200, 200)
	p.f.SetLineWidth(0.2)
	p.f.Line(pdfMargin, pdfMargin+2, p.pageW-pdfMargin, pdfMargin+2)
	p.f.SetTextColor(0, 0, 0)
	p.f.SetY(pdfMargin + pdfHeaderGap)
}

// footer numbers every page: "Page 3 of 12".
func (p *pdfDoc) footer() {
	p.f.SetTextColor(110, 110, 110)
	s := fmt.Sprintf("Page %d of {nb}", p.f.PageNo())
	p.setFont(false, false, 8)
	x := (p.pageW - p.f.GetStringWidth(fmt.Sprintf("Page %d of %d", p.f.PageNo(), p.f.PageNo()))) / 2
	p.f.Text(x, p.pageH-pdfMargin+4, s)
	p.f.SetTextColor(0, 0, 0)
}

// heading writes the report's title block.
func (p *pdfDoc) heading() {
	p.para(docTitle(p.doc), true, 18, axisBlack)
	p.f.SetY(p.f.GetY() + 1)
	if s := periodText(p.doc.Period); s != "" {
		p.para("Period: "+s, false, pdfBodySize, inkGrey)
	}
	if s := periodText(p.doc.Previous); s != "" {
		p.para("Compared with: "+s, false, pdfBodySize, inkGrey)
	}
	if !p.doc.Generated.IsZero() {
		p.para("Generated "+p.doc.Generated.Format(time.RFC3339), false, pdfBodySize, inkGrey)
	}
	if l := p.opts.link(p.doc.Link); l != "" {
		p.linkLine("Open this range in Flowlake: ", l)
	}
	p.f.SetY(p.f.GetY() + 3)
}

// linkLine writes label followed by a clickable URL.
func (p *pdfDoc) linkLine(label, url string) {
	lh := lineHeight(pdfBodySize)
	p.ensure(lh)
	y := p.f.GetY() + lh
	p.f.SetTextColor(int(inkGrey.r), int(inkGrey.g), int(inkGrey.b))
	p.text(pdfMargin, y-lh*0.25, label, false, pdfBodySize)
	x := pdfMargin + p.textWidth(label, false, pdfBodySize)
	p.f.SetTextColor(20, 80, 180)
	size := pdfBodySize
	for size > pdfMinSize && x+p.textWidth(url, false, size) > p.pageW-pdfMargin {
		size -= 0.5
	}
	p.text(x, y-lh*0.25, url, false, size)
	p.f.LinkString(x, y-lh, p.textWidth(url, false, size), lh, url)
	p.f.SetTextColor(0, 0, 0)
	p.f.SetY(y)
}

// warnings writes the document's warnings before any section.
func (p *pdfDoc) warnings() {
	if len(p.doc.Warnings) == 0 {
		return
	}
	warn := rgb{138, 90, 0}
	p.para("Warnings", true, 11, warn)
	for _, w := range p.doc.Warnings {
		p.para("• "+w, false, pdfBodySize, warn)
	}
	p.f.SetY(p.f.GetY() + 3)
}

// section writes one section: title, text, figures, charts, tables.
func (p *pdfDoc) section(s reports.Section) {
	p.ensure(lineHeight(14) + 30)
	p.f.SetY(p.f.GetY() + 2)
	// an outline entry per section, so a long report is navigable
	p.setFont(false, false, pdfBodySize)
	p.f.Bookmark(sectionTitle(s), 0, -1)
	p.para(s.Title, true, 14, axisBlack)
	p.f.SetDrawColor(200, 200, 200)
	p.f.SetLineWidth(0.3)
	p.f.Line(pdfMargin, p.f.GetY()+0.5, p.pageW-pdfMargin, p.f.GetY()+0.5)
	p.f.SetY(p.f.GetY() + 2.5)
	for _, t := range s.Text {
		p.para(t, false, pdfBodySize, axisBlack)
		p.f.SetY(p.f.GetY() + 1)
	}
	p.figures(s.Figures)
	for _, c := range s.Charts {
		p.chart(c)
	}
	for _, t := range s.Tables {
		p.table(t)
	}
}

// figures writes headline numbers in two columns of boxes.
func (p *pdfDoc) figures(figs []reports.Figure) {
	const gap = 4.0
	bw := (p.width - gap) / 2
	inner := bw - 6
	for i := 0; i < len(figs); i += 2 {
		type box struct{ lines [][]string }
		var boxes []box
		h := 0.0
		for _, f := range figs[i:min(i+2, len(figs))] {
			v := figureView(f)
			b := box{lines: [][]string{p.wrap(v.Label, inner, false, 8), p.wrap(v.Human, inner, true, 13)}}
			if v.Exact != "" {
				b.lines = append(b.lines, p.wrap(v.Exact, inner, false, 7.5))
			}
			if v.Previous != "" {
				b.lines = append(b.lines, p.wrap("Previous: "+v.Previous+" · "+v.Change, inner, false, 7.5))
			}
			bh := 4.0
			for k, ls := range b.lines {
				bh += float64(len(ls)) * lineHeight(figSize(k))
			}
			h = max(h, bh)
			boxes = append(boxes, b)
		}
		p.ensure(h + gap)
		y0 := p.f.GetY()
		for k, b := range boxes {
			x := pdfMargin + float64(k)*(bw+gap)
			p.f.SetDrawColor(210, 210, 210)
			p.f.SetLineWidth(0.3)
			p.f.Rect(x, y0, bw, h, "D")
			y := y0 + 2
			for li, ls := range b.lines {
				size := figSize(li)
				c := inkGrey
				if li == 1 {
					c = axisBlack
				}
				p.f.SetTextColor(int(c.r), int(c.g), int(c.b))
				for _, l := range ls {
					y += lineHeight(size)
					p.text(x+3, y-lineHeight(size)*0.25, l, li == 1, size)
				}
			}
		}
		p.f.SetTextColor(0, 0, 0)
		p.f.SetY(y0 + h + gap)
	}
}

// figSize is the font size of a figure box's k-th block: label, value,
// exact value, previous value.
func figSize(k int) float64 {
	switch k {
	case 0:
		return 8
	case 1:
		return 13
	}
	return 7.5
}

// chart draws ch as vector graphics the printable width wide.
func (p *pdfDoc) chart(ch reports.Chart) {
	s := p.width / chartWidth
	h := chartHeight(ch) * s
	th := lineHeight(10.5)
	// a chart taller than a page (a bar chart of many categories) is
	// scaled down to fit one, never drawn past the page's bottom
	if room := p.limit() - (pdfMargin + pdfHeaderGap) - th - 4; h > room {
		s *= room / h
		h = room
	}
	p.ensure(th + h + 4)
	y := p.f.GetY() + th
	p.text(pdfMargin, y-th*0.25, ch.Title, true, 10.5)
	drawChart(&pdfCanvas{p: p, ox: pdfMargin, oy: y, s: s}, localChart(ch, reportLocation(p.doc)), chartHeight(ch))
	p.f.SetY(y + h + 4)
}

// pdfCanvas draws chart primitives with fpdf's vector operators.
type pdfCanvas struct {
	p      *pdfDoc
	ox, oy float64
	s      float64
}

var _ canvas = (*pdfCanvas)(nil)

func (c *pdfCanvas) xy(q pt) (float64, float64) { return c.ox + q.x*c.s, c.oy + q.y*c.s }

func (c *pdfCanvas) polyline(pts []pt, col rgb, width float64, dashed bool) {
	if len(pts) < 2 {
		return
	}
	f := c.p.f
	f.SetDrawColor(int(col.r), int(col.g), int(col.b))
	f.SetLineWidth(width * c.s)
	if dashed {
		f.SetDashPattern([]float64{6 * c.s, 4 * c.s}, 0)
	}
	f.MoveTo(c.xy(pts[0]))
	for _, q := range pts[1:] {
		f.LineTo(c.xy(q))
	}
	f.DrawPath("D")
	if dashed {
		f.SetDashPattern([]float64{}, 0)
	}
}

func (c *pdfCanvas) polygon(pts []pt, col rgb, opacity float64) {
	if len(pts) < 3 {
		return
	}
	f := c.p.f
	f.SetFillColor(int(col.r), int(col.g), int(col.b))
	if opacity < 1 {
		f.SetAlpha(opacity, "Normal")
	}
	ps := make([]fpdf.PointType, len(pts))
	for i, q := range pts {
		ps[i].X, ps[i].Y = c.xy(q)
	}
	f.Polygon(ps, "F")
	if opacity < 1 {
		f.SetAlpha(1, "Normal")
	}
}

func (c *pdfCanvas) text(x, y float64, s string, size float64, a anchor, col rgb) {
	pt := size * c.s / ptToMM
	w := c.p.textWidth(s, false, pt)
	px, py := c.xy(pt2(x, y))
	switch a {
	case anchorMiddle:
		px -= w / 2
	case anchorEnd:
		px -= w
	}
	c.p.f.SetTextColor(int(col.r), int(col.g), int(col.b))
	c.p.text(px, py, s, false, pt)
	c.p.f.SetTextColor(0, 0, 0)
}

func pt2(x, y float64) pt { return pt{x, y} }

// sectionTitle is a section's title for the PDF outline.
func sectionTitle(s reports.Section) string {
	if s.Title == "" {
		return "Section"
	}
	return s.Title
}
