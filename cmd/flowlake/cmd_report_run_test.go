package main

import (
	"encoding/json"
	"fmt"
	"html"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/xuri/excelize/v2"

	"github.com/flowlake/flowlake/reports"
	"github.com/flowlake/flowlake/reports/render"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/query"
)

// TestReportRunEveryType builds every report type through `flowlake report
// run` as PDF, HTML and XLSX, and reads each file back the way a reader
// would (pdftotext, the HTML's text, the workbook's cells): every headline
// figure and its previous-period value, and the numbers of each table's
// first rows, are the Document's, which the reports package's tests check
// against the engine's own answers to the same queries.
func TestReportRunEveryType(t *testing.T) {
	skipShort(t, "report rendering")
	pdftotext, err := exec.LookPath("pdftotext")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but pdftotext (poppler-utils) is not installed")
		}
		t.Skip("pdftotext (poppler-utils) not installed")
	}
	dir := genLake(t)
	custom := filepath.Join(t.TempDir(), "custom.json")
	if err := os.WriteFile(custom, []byte(`{"query": {"query": {"dataset": "flows", "group_by": ["proto"], "metrics": ["sum(bytes)", "count()"]}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	lcfg := lake.DefaultConfig()
	lcfg.Root = dir
	for _, typ := range reports.Types() {
		t.Run(typ, func(t *testing.T) {
			out := t.TempDir()
			args := []string{"report", "run", "--type", typ, "--period", "daily", "--at", "2026-11-03", "--format", "pdf,html,xlsx", "-o", out, "--json", "--data", dir}
			def := reports.Definition{Type: typ}
			if typ == reports.TypeCustom {
				args = append(args, "--definition", custom)
				b, _ := os.ReadFile(custom)
				if err := json.Unmarshal(b, &def); err != nil {
					t.Fatal(err)
				}
			}
			stdout, stderr, code := runCLI(t, nil, args...)
			if code != 0 {
				t.Fatalf("report run exited %d: %s", code, stderr)
			}
			var run ReportRun
			if err := json.Unmarshal([]byte(stdout), &run); err != nil || len(run.Files) != 3 {
				t.Fatalf("report run --json: %v: %s", err, stdout)
			}
			// The same document, built here from the same lake and period.
			l, err := lake.Open(lcfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			p, err := reports.ParsePeriod("daily", "2026-11-03", "", time.Now())
			if err != nil {
				t.Fatal(err)
			}
			doc, err := reports.Build(t.Context(), query.New(l, query.Config{}, nil), def, p)
			l.Close()
			if err != nil {
				t.Fatal(err)
			}
			files := map[string]string{}
			for _, f := range run.Files {
				files[f.Format] = f.Path
			}
			text, err := exec.Command(pdftotext, "-raw", files["pdf"], "-").Output()
			if err != nil {
				t.Fatalf("pdftotext: %v", err)
			}
			page, err := os.ReadFile(files["html"])
			if err != nil {
				t.Fatal(err)
			}
			cells := xlsxNumbers(t, files["xlsx"])
			texts := map[string]string{"pdf": squashSpace(string(text)), "html": squashSpace(htmlText(string(page)))}
			checked := 0
			want := func(what string, v float64) {
				t.Helper()
				s := squashSpace(render.FormatExact(v))
				for format, txt := range texts {
					if !strings.Contains(txt, s) {
						t.Errorf("%s: the %s does not print %s = %s", typ, format, what, s)
					}
				}
				if !math.IsNaN(v) && !cells.has(v) {
					t.Errorf("%s: no cell of the xlsx holds %s = %s", typ, what, s)
				}
				checked++
			}
			for _, s := range doc.Sections {
				for _, f := range s.Figures {
					want(s.Title+" / "+f.Label, f.Value)
					if f.HasPrevious {
						want(s.Title+" / "+f.Label+" (previous)", f.Previous)
					}
				}
				for _, tb := range s.Tables {
					for i, r := range tb.Rows[:min(len(tb.Rows), 5)] {
						for j, c := range tb.Columns {
							if (c.Kind == reports.ColInt || c.Kind == reports.ColFloat) && !r[j].Null && !math.IsInf(r[j].Num, 0) {
								want(fmt.Sprintf("%s / %s row %d %s", s.Title, tb.Title, i+1, c.Name), r[j].Num)
							}
						}
					}
				}
			}
			if checked == 0 && typ != reports.TypeResponse && typ != reports.TypeFaults {
				t.Errorf("%s: the report printed no number to check", typ)
			}
		})
	}
}

// xlsxCells is every numeric cell value of a workbook.
type xlsxCells []float64

func (c xlsxCells) has(v float64) bool {
	for _, x := range c {
		if x == v || math.Abs(x-v) <= 1e-9*math.Max(math.Abs(x), math.Abs(v)) {
			return true
		}
	}
	return false
}

func xlsxNumbers(t *testing.T, path string) xlsxCells {
	t.Helper()
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	var out xlsxCells
	for _, sheet := range f.GetSheetList() {
		rows, err := f.GetRows(sheet, excelize.Options{RawCellValue: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			for _, c := range r {
				if v, err := strconv.ParseFloat(c, 64); err == nil {
					out = append(out, v)
				}
			}
		}
	}
	return out
}

var htmlTag = regexp.MustCompile(`(?s)<style.*?</style>|<svg.*?</svg>|<[^>]*>`)

// htmlText is the text a reader sees: tags, styles and charts removed,
// entities decoded.
func htmlText(s string) string { return html.UnescapeString(htmlTag.ReplaceAllString(s, " ")) }

// squashSpace removes white space, so numbers laid out in columns or
// wrapped compare with the model's.
func squashSpace(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}
