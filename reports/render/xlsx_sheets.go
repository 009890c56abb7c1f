package render

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"

	"github.com/flowlake/flowlake/reports"
)

// xlsxColumn is one column of a table sheet: a Document column, or the
// UTC offset added after a time column whose rows straddle a DST change
// (Excel dates have no zone, so the repeated hour needs it).
type xlsxColumn struct {
	src    int
	offset bool
	head   string
	layout string
}

// table writes t, every row, to a sheet of its own.
func (x *xlsxDoc) table(s reports.Section, t reports.Table) error {
	title := t.Title
	if title == "" {
		title = s.Title
	}
	sh := x.sheetName(title, fmt.Sprintf("Table %d", len(x.names)))
	if _, err := x.f.NewSheet(sh); err != nil {
		return err
	}
	layouts := columnLayoutsIn(t, x.loc)
	var cols []xlsxColumn
	for i, c := range t.Columns {
		cols = append(cols, xlsxColumn{src: i, head: columnHeading(c), layout: layouts[i]})
		if c.Kind == reports.ColTime && strings.HasSuffix(layouts[i], "-07:00") {
			cols = append(cols, xlsxColumn{src: i, offset: true, head: c.Name + " UTC offset"})
		}
	}
	if len(cols) == 0 {
		return x.f.SetCellValue(sh, "A1", "No columns.")
	}
	// a stream writer: tables of many thousand rows stay fast
	sw, err := x.f.NewStreamWriter(sh)
	if err != nil {
		return err
	}
	styles := make([]int, len(cols))
	for i, c := range cols {
		w := 10.0
		switch k := t.Columns[c.src].Kind; {
		case k == reports.ColText:
			w = 24
		case k == reports.ColTime && !c.offset:
			w = 18
			if styles[i], err = x.dateStyle(c.layout); err != nil {
				return err
			}
		}
		w = math.Max(w, math.Min(float64(len([]rune(c.head)))+2, 40))
		if err := sw.SetColWidth(i+1, i+1, w); err != nil {
			return err
		}
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	row := make([]any, len(cols))
	seen := map[string]bool{}
	for i, c := range cols {
		// an Excel table needs unique, non-empty header texts
		h := c.head
		if h == "" {
			h = "Column " + strconv.Itoa(i+1)
		}
		for k := 2; seen[strings.ToLower(h)]; k++ {
			h = c.head + " (" + strconv.Itoa(k) + ")"
		}
		seen[strings.ToLower(h)] = true
		row[i] = excelize.Cell{StyleID: x.bold, Value: h}
	}
	if err := sw.SetRow("A1", row); err != nil {
		return err
	}
	for ri, r := range t.Rows {
		for i, c := range cols {
			v := x.value(t.Columns[c.src], rowCell(r, c.src), c.offset)
			if styles[i] != 0 && v != nil {
				v = excelize.Cell{StyleID: styles[i], Value: v}
			}
			row[i] = v
		}
		if err := sw.SetRow(cell(1, ri+2), row); err != nil {
			return err
		}
	}
	last := len(t.Rows) + 1
	if len(t.Rows) > 0 {
		// an Excel table: filter buttons and banded rows, written in the
		// stream (an autofilter set afterwards would re-read the sheet)
		stripes := true
		if err := sw.AddTable(&excelize.Table{Range: "A1:" + cell(len(cols), last), StyleName: "TableStyleLight9", ShowRowStripes: &stripes}); err != nil {
			return err
		}
	}
	r := last + 2
	if t.Note != "" {
		if err := sw.SetRow(cell(1, r), []any{t.Note}); err != nil {
			return err
		}
		r++
	}
	if l := x.opts.link(t.Link); l != "" {
		if err := sw.SetRow(cell(1, r), []any{x.linkCell(l, "All rows in Flowlake")}); err != nil {
			return err
		}
	}
	return sw.Flush()
}

// linkCell is a clickable cell for a stream writer: a HYPERLINK formula
// with the text as its cached value.
func (x *xlsxDoc) linkCell(url, text string) excelize.Cell {
	q := func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
	return excelize.Cell{StyleID: x.link, Formula: "HYPERLINK(" + q(url) + "," + q(text) + ")", Value: text}
}

// value is a table cell as a typed spreadsheet value; nil is a blank.
func (x *xlsxDoc) value(col reports.Column, c reports.Cell, offset bool) any {
	if c.Null {
		return nil
	}
	switch col.Kind {
	case reports.ColInt:
		if finite(c.Num) && c.Num == math.Trunc(c.Num) && math.Abs(c.Num) < 1<<53 {
			return int64(c.Num)
		}
		return numValue(c.Num)
	case reports.ColFloat:
		return numValue(c.Num)
	case reports.ColTime:
		if c.Time.IsZero() {
			return nil
		}
		if offset {
			return c.Time.In(x.loc).Format("-07:00")
		}
		return c.Time.In(x.loc)
	}
	return c.Text
}

// sheetRef is an absolute reference to column col, rows r1..r2 of sheet.
func sheetRef(sheet string, col, r1, r2 int) string {
	q := "'" + strings.ReplaceAll(sheet, "'", "''") + "'"
	c := colName(col)
	if r1 == r2 {
		return fmt.Sprintf("%s!$%s$%d", q, c, r1)
	}
	return fmt.Sprintf("%s!$%s$%d:$%s$%d", q, c, r1, c, r2)
}

// chart writes ch's data to a sheet of its own and draws a native Excel
// chart from it: lines (forecast dashed, the prediction interval as its
// lower and upper lines, thresholds as red dashed lines), stacked areas,
// horizontal bars or a pie.
func (x *xlsxDoc) chart(ch reports.Chart) error {
	x.nChart++
	ch = localChart(ch, x.loc)
	sh := x.sheetName(ch.Title, fmt.Sprintf("Chart %d", x.nChart))
	if _, err := x.f.NewSheet(sh); err != nil {
		return err
	}
	timeAxis := ch.Kind == reports.ChartLine || ch.Kind == reports.ChartStacked
	n := len(ch.Categories)
	head := "Category"
	if timeAxis {
		n, head = len(ch.Times), "Time"
	}
	type col struct {
		name   string
		vals   func(i int) float64
		line   excelize.LineOptions
		series bool
	}
	var cols []col
	for si, s := range ch.Series {
		name := s.Name
		if s.Forecast {
			name += " (forecast)"
		}
		lo := excelize.LineOptions{Width: 1.75}
		if s.Forecast {
			lo.Dash = excelize.LineDashDash
		}
		cols = append(cols, col{name: name, vals: func(i int) float64 { return at(s.Values, i) }, line: lo, series: true})
		if ch.Kind == reports.ChartPie {
			break
		}
		if timeAxis && ch.Kind == reports.ChartLine && len(s.Lower) > 0 && len(s.Upper) > 0 {
			band := excelize.LineOptions{Width: 0.75, Dash: excelize.LineDashSysDot}
			cols = append(cols,
				col{name: name + " lower", vals: func(i int) float64 { return at(s.Lower, i) }, line: band, series: true},
				col{name: name + " upper", vals: func(i int) float64 { return at(s.Upper, i) }, line: band, series: true})
		}
		_ = si
	}
	if ch.Kind != reports.ChartPie {
		for _, t := range ch.Thresholds {
			v := t.Value
			label := t.Label
			if label == "" {
				label = "Threshold " + FormatHuman(v, ch.Unit)
			}
			cols = append(cols, col{name: label, vals: func(int) float64 { return v }, line: excelize.LineOptions{Width: 1.25, Dash: excelize.LineDashDash, Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"C81E1E"}}}, series: true})
		}
	}
	sw, err := x.f.NewStreamWriter(sh)
	if err != nil {
		return err
	}
	if err := sw.SetColWidth(1, 1, 20); err != nil {
		return err
	}
	// a time axis has the typed time in A and its text in B, which the
	// chart uses as categories: spreadsheet date axes group by day, and an
	// hourly series would collapse onto one point per day
	first := 2 // the column of the first series
	heads := []any{excelize.Cell{StyleID: x.bold, Value: head}}
	if timeAxis {
		heads = append(heads, excelize.Cell{StyleID: x.bold, Value: "Label"})
		first = 3
	}
	for _, c := range cols {
		h := c.name
		if ch.Unit != reports.UnitNone {
			h += " (" + unitLabel(ch.Unit) + ")"
		}
		heads = append(heads, excelize.Cell{StyleID: x.bold, Value: h})
	}
	if err := sw.SetRow("A1", heads); err != nil {
		return err
	}
	dateStyle := 0
	if timeAxis && n > 0 {
		if dateStyle, err = x.dateStyle(timeLayout(ch.Times)); err != nil {
			return err
		}
	}
	row := make([]any, len(heads))
	layout := timeLayout(ch.Times)
	for i := range n {
		if timeAxis {
			row[0] = excelize.Cell{StyleID: dateStyle, Value: ch.Times[i]}
			row[1] = FormatTime(ch.Times[i], layout)
		} else {
			row[0] = ch.Categories[i]
		}
		for k, c := range cols {
			row[first-1+k] = numValue(c.vals(i))
		}
		if err := sw.SetRow(cell(1, i+2), row); err != nil {
			return err
		}
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	if n == 0 || len(cols) == 0 || !hasData(ch) {
		return x.noData(ch, sh)
	}
	xc := &excelize.Chart{
		Dimension:    excelize.ChartDimension{Width: 840, Height: 420},
		Title:        excelize.ChartTitle{Paragraph: []excelize.RichTextRun{{Text: ch.Title}}},
		Legend:       excelize.ChartLegend{Position: "bottom"},
		ShowBlanksAs: "gap",
	}
	if ch.Unit != reports.UnitNone {
		xc.YAxis.Title = excelize.ChartTitle{Paragraph: []excelize.RichTextRun{{Text: unitLabel(ch.Unit)}}}
	}
	xc.YAxis.MajorGridLines = true
	xc.YAxis.NumFmt = excelize.ChartNumFmt{CustomNumFmt: axisNumFmt(ch.Unit)}
	if timeAxis && n > 8 {
		xc.XAxis.TickLabelSkip = n / 8
	}
	switch ch.Kind {
	case reports.ChartLine:
		xc.Type = excelize.Line
	case reports.ChartStacked:
		xc.Type = excelize.AreaStacked
	case reports.ChartBar:
		xc.Type = excelize.Bar
		xc.XAxis.ReverseOrder = true
	case reports.ChartPie:
		xc.Type = excelize.Pie
		xc.PlotArea.ShowPercent = true
		xc.YAxis.Title = excelize.ChartTitle{}
	}
	for k, c := range cols {
		s := excelize.ChartSeries{
			Name:       sheetRef(sh, first+k, 1, 1),
			Categories: sheetRef(sh, first-1, 2, n+1),
			Values:     sheetRef(sh, first+k, 2, n+1),
		}
		if xc.Type == excelize.Line {
			s.Line = c.line
			s.Marker = excelize.ChartMarker{Symbol: "none"}
		}
		xc.Series = append(xc.Series, s)
	}
	return x.placeChart(ch, sh, xc)
}

// chartsSheet holds every chart of the workbook, one below the other, each
// drawn from its data sheet; a sheet of its own keeps the data sheets
// streamed (a chart added to them would re-read them whole).
const chartsSheet = "Charts"

// chartRows is how many rows each chart takes on the Charts sheet.
const chartRows = 24

// placeChart anchors xc on the Charts sheet under the chart's title and
// the name of its data sheet.
func (x *xlsxDoc) placeChart(ch reports.Chart, data string, xc *excelize.Chart) error {
	top := 1 + x.placed*chartRows
	x.placed++
	if err := x.f.SetCellValue(chartsSheet, cell(1, top), ch.Title+" (data: sheet "+data+")"); err != nil {
		return err
	}
	return x.f.AddChart(chartsSheet, cell(1, top+1), xc)
}

// noData notes on the Charts sheet that a chart had nothing to draw.
func (x *xlsxDoc) noData(ch reports.Chart, data string) error {
	top := 1 + x.placed*chartRows
	x.placed++
	x.emptyCharts++
	return x.f.SetCellValue(chartsSheet, cell(1, top), ch.Title+": no data in this period (sheet "+data+")")
}

// axisNumFmt is the number format of a chart's value axis: SI prefixes for
// large counts (as FormatHuman prints them), one decimal for percentages.
func axisNumFmt(u reports.Unit) string {
	if u == reports.UnitPercent {
		return "0.0"
	}
	return `[>=1000000000]0.0,,,"G";[>=1000000]0.0,,"M";#,##0.###`
}
