package render

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/flowlake/flowlake/reports"
)

// summarySheet is the first sheet of every workbook.
const summarySheet = "Summary"

// xlsxDoc is one workbook being written.
type xlsxDoc struct {
	f      *excelize.File
	doc    *reports.Document
	opts   Options
	loc    *time.Location
	names  map[string]bool
	bold   int
	title  int
	link   int
	pct    int
	dates  map[string]int
	nChart int
	// placed counts the charts on the Charts sheet, emptyCharts those of
	// them without data.
	placed, emptyCharts int
}

// XLSX writes doc as a workbook: a Summary sheet (period, warnings, every
// figure with its previous value and change), one sheet per table with
// every row (numbers as numbers, times as Excel dates in the report's time
// zone, blanks where the Document has no value), and one sheet per chart
// holding the chart's data and a native Excel chart drawn from it.
func XLSX(w io.Writer, doc *reports.Document, opts Options) (err error) {
	f := excelize.NewFile()
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("xlsx: close: %w", cerr)
		}
	}()
	x := &xlsxDoc{f: f, doc: doc, opts: opts, loc: reportLocation(doc), names: map[string]bool{}, dates: map[string]int{}}
	if err := x.styles(); err != nil {
		return fmt.Errorf("xlsx: styles: %w", err)
	}
	if err := f.SetSheetName("Sheet1", summarySheet); err != nil {
		return fmt.Errorf("xlsx: %w", err)
	}
	x.names[strings.ToLower(summarySheet)] = true
	if err := x.summary(); err != nil {
		return fmt.Errorf("xlsx: summary sheet: %w", err)
	}
	nCharts := 0
	for _, s := range doc.Sections {
		nCharts += len(s.Charts)
	}
	if nCharts > 0 {
		if _, err := f.NewSheet(chartsSheet); err != nil {
			return fmt.Errorf("xlsx: %w", err)
		}
		x.names[strings.ToLower(chartsSheet)] = true
	}
	for _, s := range doc.Sections {
		for _, t := range s.Tables {
			if err := x.table(s, t); err != nil {
				return fmt.Errorf("xlsx: table %q: %w", t.Title, err)
			}
		}
	}
	for _, s := range doc.Sections {
		for _, c := range s.Charts {
			if err := x.chart(c); err != nil {
				return fmt.Errorf("xlsx: chart %q: %w", c.Title, err)
			}
		}
	}
	// Summary, the renamed first sheet, is the active one already;
	// SetActiveSheet would re-read every streamed sheet to unselect it.
	if _, err := f.WriteTo(w); err != nil {
		return fmt.Errorf("xlsx: write: %w", err)
	}
	return nil
}

// reportLocation is the zone every time of the report is printed in: the
// period's, else UTC.
func reportLocation(doc *reports.Document) *time.Location {
	if !doc.Period.From.IsZero() {
		return doc.Period.From.Location()
	}
	return time.UTC
}

func (x *xlsxDoc) styles() error {
	var err error
	if x.bold, err = x.f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}, Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"EEEEEE"}}}); err != nil {
		return err
	}
	if x.title, err = x.f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 14}}); err != nil {
		return err
	}
	if x.link, err = x.f.NewStyle(&excelize.Style{Font: &excelize.Font{Color: "1F4EB4", Underline: "single"}}); err != nil {
		return err
	}
	pf := "+0.0%;-0.0%;0.0%"
	x.pct, err = x.f.NewStyle(&excelize.Style{CustomNumFmt: &pf})
	return err
}

// dateStyle returns the style that shows times with the given Go layout.
func (x *xlsxDoc) dateStyle(layout string) (int, error) {
	nf := "yyyy-mm-dd hh:mm"
	switch {
	case layout == "2006-01-02":
		nf = "yyyy-mm-dd"
	case strings.Contains(layout, ":05"):
		nf = "yyyy-mm-dd hh:mm:ss"
	}
	if id, ok := x.dates[nf]; ok {
		return id, nil
	}
	id, err := x.f.NewStyle(&excelize.Style{CustomNumFmt: &nf})
	if err != nil {
		return 0, err
	}
	x.dates[nf] = id
	return id, nil
}

// sheetName makes a valid, unique sheet name from s: at most 31
// characters, none of : \ / ? * [ ], unique ignoring case.
func (x *xlsxDoc) sheetName(s, fallback string) string {
	s = strings.Map(func(r rune) rune {
		if strings.ContainsRune(`:\/?*[]`, r) || r < 0x20 {
			return ' '
		}
		return r
	}, s)
	s = strings.Trim(strings.TrimSpace(s), "'")
	if s == "" || strings.EqualFold(s, "history") {
		s = fallback
	}
	base := []rune(s)
	if len(base) > 31 {
		base = base[:31]
	}
	name := string(base)
	for i := 2; x.names[strings.ToLower(name)]; i++ {
		suffix := fmt.Sprintf(" (%d)", i)
		b := base
		if len(b)+len([]rune(suffix)) > 31 {
			b = b[:31-len([]rune(suffix))]
		}
		name = string(b) + suffix
	}
	x.names[strings.ToLower(name)] = true
	return name
}

// cell is the A1 name of column c, row r (both from 1).
func cell(c, r int) string {
	n, _ := excelize.CoordinatesToCellName(c, r)
	return n
}

// num returns v as a cell value: nil (blank) for NaN and infinities, which
// a spreadsheet cannot hold as numbers.
func numValue(v float64) any {
	if !finite(v) {
		return nil
	}
	return v
}

// summary writes the Summary sheet.
func (x *xlsxDoc) summary() error {
	f, sh := x.f, summarySheet
	set := func(c, r int, v any) error { return f.SetCellValue(sh, cell(c, r), v) }
	if err := set(1, 1, docTitle(x.doc)); err != nil {
		return err
	}
	if err := f.SetCellStyle(sh, "A1", "A1", x.title); err != nil {
		return err
	}
	r := 2
	meta := [][2]any{{"Type", x.doc.Type}}
	add := func(label string, p reports.Period) {
		if p.From.IsZero() && p.To.IsZero() {
			return
		}
		meta = append(meta, [2]any{label, p.Label}, [2]any{label + " from", p.From.In(x.loc)}, [2]any{label + " to", p.To.In(x.loc)})
	}
	add("Period", x.doc.Period)
	add("Previous", x.doc.Previous)
	if x.doc.Period.Zone != "" {
		meta = append(meta, [2]any{"Time zone", x.doc.Period.Zone})
	}
	if !x.doc.Generated.IsZero() {
		meta = append(meta, [2]any{"Generated", x.doc.Generated.In(x.loc)})
	}
	ds, err := x.dateStyle("2006-01-02 15:04")
	if err != nil {
		return err
	}
	for _, m := range meta {
		if err := set(1, r, m[0]); err != nil {
			return err
		}
		if err := set(2, r, m[1]); err != nil {
			return err
		}
		if _, ok := m[1].(time.Time); ok {
			if err := f.SetCellStyle(sh, cell(2, r), cell(2, r), ds); err != nil {
				return err
			}
		}
		r++
	}
	if l := x.opts.link(x.doc.Link); l != "" {
		if err := x.hyperlink(sh, 1, r, "Open this range in Flowlake", l); err != nil {
			return err
		}
		r++
	}
	if len(x.doc.Warnings) > 0 {
		r++
		if err := set(1, r, "Warnings"); err != nil {
			return err
		}
		r++
		for _, w := range x.doc.Warnings {
			if err := set(1, r, w); err != nil {
				return err
			}
			r++
		}
	}
	r++
	heads := []any{"Section", "Figure", "Value", "Unit", "Previous", "Change"}
	if err := f.SetSheetRow(sh, cell(1, r), &heads); err != nil {
		return err
	}
	if err := f.SetCellStyle(sh, cell(1, r), cell(len(heads), r), x.bold); err != nil {
		return err
	}
	r++
	for _, s := range x.doc.Sections {
		for _, fg := range s.Figures {
			row := []any{s.Title, fg.Label, numValue(fg.Value), unitLabel(fg.Unit), nil, nil}
			if fg.HasPrevious {
				row[4] = numValue(fg.Previous)
				switch {
				case finite(fg.Value) && finite(fg.Previous) && fg.Previous != 0:
					row[5] = (fg.Value - fg.Previous) / math.Abs(fg.Previous)
				case finite(fg.Value) && fg.Previous == 0 && fg.Value != 0:
					row[5] = "new"
				case fg.Value == 0 && fg.Previous == 0:
					row[5] = 0.0
				}
			}
			if err := f.SetSheetRow(sh, cell(1, r), &row); err != nil {
				return err
			}
			if err := f.SetCellStyle(sh, cell(6, r), cell(6, r), x.pct); err != nil {
				return err
			}
			r++
		}
	}
	for c, w := range []float64{24, 30, 18, 10, 18, 10} {
		if err := f.SetColWidth(sh, colName(c+1), colName(c+1), w); err != nil {
			return err
		}
	}
	return nil
}

func colName(c int) string {
	n, _ := excelize.ColumnNumberToName(c)
	return n
}

// hyperlink writes a clickable link in a cell.
func (x *xlsxDoc) hyperlink(sh string, c, r int, text, url string) error {
	if err := x.f.SetCellValue(sh, cell(c, r), text); err != nil {
		return err
	}
	if err := x.f.SetCellHyperLink(sh, cell(c, r), url, "External"); err != nil {
		return err
	}
	return x.f.SetCellStyle(sh, cell(c, r), cell(c, r), x.link)
}
