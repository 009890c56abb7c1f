package render

import (
	"fmt"
	"html/template"
	"io"
	"time"

	"github.com/flowlake/flowlake/reports"
)

// htmlCSP forbids every fetch: the file is self-contained, and a mail
// client or browser that opens it loads nothing from anywhere.
const htmlCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

// The view types hold what the template prints, already formatted by the
// shared functions, so the template has no number logic.
type (
	htmlDoc struct {
		Title, Type, Period, Previous, Generated, Link, CSP string
		Warnings                                            []string
		Sections                                            []htmlSection
	}
	htmlSection struct {
		Title   string
		Text    []string
		Figures []htmlFigure
		Charts  []htmlChart
		Tables  []htmlTable
	}
	htmlFigure struct {
		Label, Human, Exact, Previous, Change string
	}
	htmlChart struct {
		Title string
		SVG   template.HTML
	}
	htmlTable struct {
		Title, Note, More, Link string
		Heads                   []htmlHead
		Rows                    [][]htmlCell
	}
	htmlHead struct {
		Name string
		Num  bool
	}
	htmlCell struct {
		Text string
		Num  bool
	}
)

var htmlTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{{.CSP}}">
<title>{{.Title}}{{if .Period}} · {{.Period}}{{end}}</title>
<style>
:root{color-scheme:light;--ink:#222;--muted:#666;--line:#ddd;--warn:#8a5a00;--warnbg:#fff6e0}
*{box-sizing:border-box}
body{margin:0;padding:16px;font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;color:var(--ink);line-height:1.45;max-width:1100px;margin:0 auto}
h1{font-size:1.6rem;margin:.2em 0}
h2{font-size:1.25rem;margin:1.6em 0 .5em;border-bottom:1px solid var(--line);padding-bottom:.2em}
h3{font-size:1rem;margin:1.2em 0 .4em}
.meta{color:var(--muted);font-size:.9rem;margin:.1em 0}
.warnings{background:var(--warnbg);border-left:4px solid var(--warn);padding:8px 12px;margin:12px 0}
.warnings ul{margin:.3em 0;padding-left:1.2em}
.figures{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:10px;margin:10px 0}
.figure{border:1px solid var(--line);border-radius:6px;padding:8px 10px}
.figure .label{color:var(--muted);font-size:.85rem}
.figure .value{font-size:1.35rem;font-weight:600}
.figure .exact,.figure .prev{font-size:.8rem;color:var(--muted);overflow-wrap:anywhere}
figure{margin:12px 0;overflow-x:auto}
figure svg{width:100%;min-width:520px;height:auto;display:block}
figcaption{font-weight:600;margin-bottom:4px}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;font-size:.85rem;min-width:100%}
th,td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left;white-space:nowrap}
th{background:#f3f3f3;position:sticky;top:0}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.note{color:var(--muted);font-size:.85rem;margin:.3em 0}
.more{font-weight:600}
@media (max-width:600px){body{padding:10px}h1{font-size:1.3rem}.figures{grid-template-columns:1fr 1fr}.figure .value{font-size:1.1rem}}
@media print{.scroll,figure{overflow:visible}th{position:static}figure,.figure,tr{break-inside:avoid}h2,h3{break-after:avoid}}
</style>
</head>
<body>
<header>
<h1>{{.Title}}</h1>
{{if .Period}}<p class="meta">Period: {{.Period}}</p>{{end}}
{{if .Previous}}<p class="meta">Compared with: {{.Previous}}</p>{{end}}
{{if .Generated}}<p class="meta">Generated {{.Generated}}</p>{{end}}
{{if .Link}}<p class="meta"><a href="{{.Link}}">Open this range in Flowlake</a></p>{{end}}
</header>
{{if .Warnings}}<section class="warnings" role="alert"><strong>Warnings</strong><ul>{{range .Warnings}}<li>{{.}}</li>{{end}}</ul></section>{{end}}
{{range .Sections}}<section>
<h2>{{.Title}}</h2>
{{range .Text}}<p>{{.}}</p>
{{end}}{{if .Figures}}<div class="figures">{{range .Figures}}<div class="figure"><div class="label">{{.Label}}</div><div class="value">{{.Human}}</div>{{if .Exact}}<div class="exact">{{.Exact}}</div>{{end}}{{if .Previous}}<div class="prev">Previous: {{.Previous}} · {{.Change}}</div>{{end}}</div>{{end}}</div>
{{end}}{{range .Charts}}<figure><figcaption>{{.Title}}</figcaption>{{.SVG}}</figure>
{{end}}{{range .Tables}}{{if .Title}}<h3>{{.Title}}</h3>{{end}}<div class="scroll"><table>
<thead><tr>{{range .Heads}}<th{{if .Num}} class="n"{{end}}>{{.Name}}</th>{{end}}</tr></thead>
<tbody>
{{range .Rows}}<tr>{{range .}}<td{{if .Num}} class="n"{{end}}>{{.Text}}</td>{{end}}</tr>
{{end}}</tbody></table></div>
{{if .More}}<p class="note more">{{.More}}</p>{{end}}{{if .Note}}<p class="note">{{.Note}}</p>{{end}}{{if .Link}}<p class="note"><a href="{{.Link}}">All rows in Flowlake</a></p>{{end}}
{{end}}</section>
{{end}}</body>
</html>
`))

// HTML writes doc as one self-contained HTML file: inline CSS and SVG, no
// script, no font or image fetched (a Content-Security-Policy forbids it),
// readable on a phone. Tables print opts' cap of rows and say how many
// more the XLSX holds.
func HTML(w io.Writer, doc *reports.Document, opts Options) error {
	v := htmlDoc{
		Title:    doc.Title,
		Type:     doc.Type,
		Period:   periodText(doc.Period),
		Previous: periodText(doc.Previous),
		Link:     opts.link(doc.Link),
		CSP:      htmlCSP,
		Warnings: doc.Warnings,
	}
	if !doc.Generated.IsZero() {
		v.Generated = doc.Generated.Format(time.RFC3339)
	}
	if v.Title == "" {
		v.Title = "Flowlake report"
	}
	loc := reportLocation(doc)
	for _, s := range doc.Sections {
		hs := htmlSection{Title: s.Title, Text: s.Text}
		for _, f := range s.Figures {
			hs.Figures = append(hs.Figures, figureView(f))
		}
		for _, c := range s.Charts {
			hs.Charts = append(hs.Charts, htmlChart{Title: c.Title, SVG: template.HTML(chartSVG(localChart(c, loc)))}) //nolint:gosec // chartSVG escapes every text it writes
		}
		for _, t := range s.Tables {
			hs.Tables = append(hs.Tables, tableView(t, opts, loc))
		}
		v.Sections = append(v.Sections, hs)
	}
	if err := htmlTemplate.Execute(w, v); err != nil {
		return fmt.Errorf("html: %w", err)
	}
	return nil
}

// figureView formats a figure the way the HTML and the PDF print it.
func figureView(f reports.Figure) htmlFigure {
	h := FormatHuman(f.Value, f.Unit)
	fv := htmlFigure{Label: f.Label, Human: h}
	if e := exactWithUnit(f.Value, f.Unit); e != h && FormatExact(f.Value) != h {
		fv.Exact = e
	}
	if f.HasPrevious {
		fv.Previous = FormatFigure(f.Previous, f.Unit)
		fv.Change = FormatChange(f.Value, f.Previous)
	}
	return fv
}

// tableView formats the rows of t that the capped formats print.
func tableView(t reports.Table, opts Options, loc *time.Location) htmlTable {
	n, more := shown(t, opts)
	layouts := columnLayoutsIn(t, loc)
	ht := htmlTable{Title: t.Title, Note: t.Note, Link: opts.link(t.Link)}
	if more > 0 {
		ht.More = moreRows(more)
	}
	for _, c := range t.Columns {
		ht.Heads = append(ht.Heads, htmlHead{Name: columnHeading(c), Num: c.Kind == reports.ColInt || c.Kind == reports.ColFloat})
	}
	for _, r := range t.Rows[:n] {
		row := make([]htmlCell, len(t.Columns))
		for i, c := range t.Columns {
			row[i] = htmlCell{Text: cellText(rowCell(r, i), c, layouts[i], loc), Num: c.Kind == reports.ColInt || c.Kind == reports.ColFloat}
		}
		ht.Rows = append(ht.Rows, row)
	}
	return ht
}
