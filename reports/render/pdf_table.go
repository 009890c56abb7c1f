package render

import (
	"github.com/flowlake/flowlake/reports"
)

// pdfTable is a table laid out for the PDF: the text of every printed
// cell, column widths and the font size that makes them fit.
type pdfTable struct {
	heads  []string
	num    []bool
	rows   [][]string
	widths []float64
	size   float64
}

const pdfCellPad = 1.5

// layoutTable formats the printed rows of t and fits the columns to the
// printable width: the font shrinks down to pdfMinSize, then text columns
// wrap. Nothing is cut.
func (p *pdfDoc) layoutTable(t reports.Table, n int) pdfTable {
	lt := pdfTable{size: pdfTableSize}
	loc := reportLocation(p.doc)
	layouts := columnLayoutsIn(t, loc)
	for _, c := range t.Columns {
		lt.heads = append(lt.heads, columnHeading(c))
		lt.num = append(lt.num, c.Kind == reports.ColInt || c.Kind == reports.ColFloat)
	}
	for _, r := range t.Rows[:n] {
		row := make([]string, len(t.Columns))
		for i, c := range t.Columns {
			row[i] = cellText(rowCell(r, i), c, layouts[i], loc)
		}
		lt.rows = append(lt.rows, row)
	}
	natural := func(size float64) ([]float64, float64) {
		ws := make([]float64, len(lt.heads))
		total := 0.0
		for i, h := range lt.heads {
			ws[i] = p.textWidth(h, true, size)
			for _, r := range lt.rows {
				ws[i] = max(ws[i], p.textWidth(r[i], false, size))
			}
			ws[i] += 2 * pdfCellPad
			total += ws[i]
		}
		return ws, total
	}
	ws, total := natural(lt.size)
	if total > p.width {
		lt.size = max(pdfMinSize, lt.size*p.width/total)
		ws, total = natural(lt.size)
	}
	if total > p.width {
		// shrink the widest columns until the table fits; their text wraps
		over := total - p.width
		for over > 0.01 {
			wi := 0
			for i := range ws {
				if ws[i] > ws[wi] {
					wi = i
				}
			}
			cut := min(over, ws[wi]*0.1+0.1)
			ws[wi] -= cut
			over -= cut
		}
	} else if total < p.width && len(ws) > 0 {
		extra := (p.width - total) / float64(len(ws))
		for i := range ws {
			ws[i] += extra
		}
	}
	lt.widths = ws
	return lt
}

// rowLines wraps each cell of a row to its column and returns the lines.
func (p *pdfDoc) rowLines(lt pdfTable, cells []string, bold bool) ([][]string, float64) {
	out := make([][]string, len(cells))
	h := 1
	for i, c := range cells {
		out[i] = p.wrap(c, lt.widths[i]-2*pdfCellPad, bold, lt.size)
		h = max(h, len(out[i]))
	}
	return out, float64(h)*lineHeight(lt.size) + 1
}

// drawRow draws one row at the cursor.
func (p *pdfDoc) drawRow(lt pdfTable, cells [][]string, h float64, bold bool, fill bool) {
	y0 := p.f.GetY()
	if fill {
		p.f.SetFillColor(238, 238, 238)
		p.f.Rect(pdfMargin, y0, p.width, h, "F")
	}
	x := pdfMargin
	lh := lineHeight(lt.size)
	for i, ls := range cells {
		for k, l := range ls {
			tx := x + pdfCellPad
			if lt.num[i] {
				tx = x + lt.widths[i] - pdfCellPad - p.textWidth(l, bold, lt.size)
			}
			p.text(tx, y0+0.5+float64(k+1)*lh-lh*0.25, l, bold, lt.size)
		}
		x += lt.widths[i]
	}
	p.f.SetDrawColor(215, 215, 215)
	p.f.SetLineWidth(0.2)
	p.f.Line(pdfMargin, y0+h, pdfMargin+p.width, y0+h)
	p.f.SetY(y0 + h)
}

// table draws t's printed rows; a page break repeats the header row.
func (p *pdfDoc) table(t reports.Table) {
	if len(t.Columns) == 0 {
		return
	}
	n, more := shown(t, p.opts)
	lt := p.layoutTable(t, n)
	head, hh := p.rowLines(lt, lt.heads, true)
	first := hh
	if len(lt.rows) > 0 {
		_, first = p.rowLines(lt, lt.rows[0], false)
		// keep the title with the header and the start of the first row,
		// not with all of a row that goes on over pages anyway
		first = min(first, 3*lineHeight(lt.size)+1)
	}
	titleH := 0.0
	if t.Title != "" {
		titleH = lineHeight(10.5) + 1
	}
	p.ensure(titleH + hh + first)
	if t.Title != "" {
		p.para(t.Title, true, 10.5, axisBlack)
		p.f.SetY(p.f.GetY() + 1)
	}
	p.drawRow(lt, head, hh, true, true)
	lh := lineHeight(lt.size)
	for _, r := range lt.rows {
		cells, h := p.rowLines(lt, r, false)
		if h <= p.limit()-(pdfMargin+pdfHeaderGap)-hh {
			if p.ensure(h) {
				p.drawRow(lt, head, hh, true, true)
			}
			p.drawRow(lt, cells, h, false, false)
			continue
		}
		// a row taller than a page continues on the next ones, under the
		// header again, line by line
		for rest := cells; ; {
			fit := int((p.limit() - p.f.GetY() - 1) / lh)
			if fit < 1 {
				p.f.AddPage()
				p.drawRow(lt, head, hh, true, true)
				continue
			}
			chunk, left, n := make([][]string, len(rest)), make([][]string, len(rest)), 0
			for i, ls := range rest {
				k := min(fit, len(ls))
				chunk[i], left[i] = ls[:k], ls[k:]
				n = max(n, k)
				if len(left[i]) > 0 {
					n = fit
				}
			}
			p.drawRow(lt, chunk, float64(n)*lh+1, false, false)
			more := false
			for _, ls := range left {
				more = more || len(ls) > 0
			}
			if !more {
				break
			}
			rest = left
			p.f.AddPage()
			p.drawRow(lt, head, hh, true, true)
		}
	}
	if len(lt.rows) == 0 {
		p.para("No rows.", false, lt.size, inkGrey)
	}
	p.f.SetY(p.f.GetY() + 1)
	if more > 0 {
		p.para(moreRows(more), true, pdfBodySize, axisBlack)
	}
	if t.Note != "" {
		p.para(t.Note, false, pdfBodySize-1, inkGrey)
	}
	if l := p.opts.link(t.Link); l != "" {
		p.linkLine("All rows in Flowlake: ", l)
	}
	p.f.SetY(p.f.GetY() + 3)
}
