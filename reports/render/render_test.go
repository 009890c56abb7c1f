package render

import (
	"bytes"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowlake/flowlake/reports"
)

var update = flag.Bool("update", false, "rewrite docs/examples/report.{html,pdf,xlsx}")

func TestRenderBadFormat(t *testing.T) {
	doc := sampleDoc(t, 1)
	for _, c := range []struct {
		name   string
		doc    *reports.Document
		format string
		want   string
	}{
		{"unknown format", doc, "docx", `unknown report format "docx" (want html, pdf or xlsx)`},
		{"empty format", doc, "", `unknown report format ""`},
		{"nil document", nil, "pdf", "nil document"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Render(c.doc, c.format, Options{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			if c.doc != nil && !errors.Is(err, ErrUnknownFormat) {
				t.Errorf("error %v is not ErrUnknownFormat", err)
			}
		})
	}
}

// TestRenderHostileDocuments: empty documents, NaN and infinities
// everywhere, zero-length and mismatched series, short rows, tables
// without columns: every format renders them without an error or a panic.
func TestRenderHostileDocuments(t *testing.T) {
	needFonts(t)
	nan, inf := math.NaN(), math.Inf(1)
	t0 := time.Date(2026, 3, 29, 0, 0, 0, 0, berlin(t))
	times := []time.Time{t0, t0.Add(time.Hour), t0.Add(2 * time.Hour)}
	docs := map[string]*reports.Document{
		"zero document":  {},
		"empty sections": {Title: "x", Sections: []reports.Section{{}, {Title: ""}}},
		"non-finite figures": {Sections: []reports.Section{{Figures: []reports.Figure{
			{Label: "nan", Value: nan, Unit: reports.UnitBytes, HasPrevious: true, Previous: nan},
			{Label: "inf", Value: inf, Unit: reports.UnitBPS, HasPrevious: true, Previous: -inf},
			{Label: "huge", Value: 1e300, Unit: reports.UnitBytes, HasPrevious: true, Previous: 0},
			{Label: "tiny", Value: -1e-300, Unit: reports.UnitSeconds},
		}}}},
		"hostile charts": {Period: reports.Period{From: t0, To: t0.AddDate(0, 0, 1)}, Sections: []reports.Section{{Charts: []reports.Chart{
			{Title: "no times", Kind: reports.ChartLine},
			{Title: "zero-length series", Kind: reports.ChartLine, Times: times, Series: []reports.Series{{Name: "a"}}},
			{Title: "all NaN", Kind: reports.ChartLine, Times: times, Series: []reports.Series{{Values: []float64{nan, nan, nan}, Lower: []float64{nan}, Upper: []float64{1}}}},
			{Title: "inf and longer than times", Kind: reports.ChartLine, Times: times, Series: []reports.Series{{Values: []float64{1, inf, -inf, 4, 5}}}, Thresholds: []reports.Threshold{{Value: nan}, {Value: inf}}},
			{Title: "one point", Kind: reports.ChartLine, Times: times[:1], Series: []reports.Series{{Values: []float64{3}}}},
			{Title: "same time twice", Kind: reports.ChartStacked, Times: []time.Time{t0, t0}, Series: []reports.Series{{Values: []float64{1, nan}}, {Values: []float64{-2}}}},
			{Title: "bar without categories", Kind: reports.ChartBar, Series: []reports.Series{{Values: []float64{1}}}},
			{Title: "bar negative", Kind: reports.ChartBar, Categories: []string{"a", "b"}, Series: []reports.Series{{Values: []float64{-5, nan}}}},
			{Title: "pie all negative", Kind: reports.ChartPie, Categories: []string{"a", "b"}, Series: []reports.Series{{Values: []float64{-1, 0}}}},
			{Title: "pie no series", Kind: reports.ChartPie, Categories: []string{"a"}},
			{Title: "constant", Kind: reports.ChartLine, Times: times, Series: []reports.Series{{Values: []float64{7, 7, 7}}}},
			{Title: "years", Kind: reports.ChartLine, Times: []time.Time{t0.AddDate(-30, 0, 0), t0}, Series: []reports.Series{{Values: []float64{1, 2}}}},
			{Title: "unknown kind", Kind: reports.ChartKind(99), Times: times, Series: []reports.Series{{Values: []float64{1, 2, 3}}}},
		}}}},
		"hostile tables": {Sections: []reports.Section{{Tables: []reports.Table{
			{Title: "no columns", Rows: [][]reports.Cell{{{Text: "x"}}}},
			{Title: "short and long rows", Columns: []reports.Column{{Name: "a"}, {Name: "b", Kind: reports.ColFloat}, {Name: "t", Kind: reports.ColTime}},
				Rows: [][]reports.Cell{{}, {{Text: "x"}}, {{Text: "y"}, {Num: nan}, {}, {Text: "extra"}}, {{Null: true}, {Num: inf}, {Time: t0}}}},
			{Title: "a/b:c*d?[e]" + strings.Repeat("長", 40), Columns: []reports.Column{{Name: strings.Repeat("wide ", 60)}}, Rows: [][]reports.Cell{{{Text: strings.Repeat("上海核心交换机", 80)}}, {{Text: strings.Repeat("x", 900)}}}},
			{Title: "a/b:c*d?[e]" + strings.Repeat("長", 40), Columns: []reports.Column{{Name: "dup"}}},
			{Title: "History", Columns: []reports.Column{{Name: "reserved sheet name"}}},
		}}}},
	}
	for name, doc := range docs {
		for _, format := range Formats() {
			t.Run(name+"/"+format, func(t *testing.T) {
				b, err := Render(doc, format, Options{})
				if err != nil {
					t.Fatalf("render: %v", err)
				}
				if len(b) == 0 {
					t.Fatal("empty output")
				}
			})
		}
	}
}

// TestExamples renders the small example report of each format and
// compares it with docs/examples/; -update rewrites them:
//
//	go test ./reports/render -run TestExamples -update
func TestExamples(t *testing.T) {
	needFonts(t)
	doc := sampleDoc(t, 14)
	doc.Sections = doc.Sections[:2]
	opts := Options{MaxRows: 10, BaseURL: "https://flowlake.example.com"}
	dir := filepath.Join("..", "..", "docs", "examples")
	for _, format := range Formats() {
		t.Run(format, func(t *testing.T) {
			b, err := Render(doc, format, opts)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "report."+format)
			if *update {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, b, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			old, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			// HTML and PDF are byte-for-byte reproducible; an XLSX zip
			// holds timestamps, so only its size is compared.
			if format == FormatXLSX {
				if d := len(old) - len(b); d > 512 || d < -512 {
					t.Errorf("%s: %d bytes, example has %d (run with -update)", path, len(b), len(old))
				}
				return
			}
			if !bytes.Equal(old, b) {
				t.Errorf("%s differs from the renderer's output (run with -update)", path)
			}
		})
	}
}

// TestLinks: links are resolved against the base URL and a link with an
// unsafe scheme is printed in no format.
func TestLinks(t *testing.T) {
	needFonts(t)
	for _, c := range []struct {
		name, base, link, want string
	}{
		{"relative with base", "https://flowlake.example.com/app/", "/console/x?a=1", "https://flowlake.example.com/console/x?a=1"},
		{"relative without base", "", "/console/x", "/console/x"},
		{"absolute", "https://a.example", "https://b.example/y", "https://b.example/y"},
		{"javascript", "", "javascript:alert(1)", ""},
		{"javascript with base", "https://a.example", "JavaScript:alert(1)", ""},
		{"file", "", "file:///etc/passwd", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := (Options{BaseURL: c.base}).link(c.link); got != c.want {
				t.Errorf("link = %q, want %q", got, c.want)
			}
			doc := &reports.Document{Title: "t", Link: c.link}
			for _, format := range Formats() {
				b, err := Render(doc, format, Options{BaseURL: c.base})
				if err != nil {
					t.Fatal(err)
				}
				if c.want == "" && format != FormatXLSX && bytes.Contains(bytes.ToLower(b), []byte(strings.SplitN(strings.ToLower(c.link), ":", 2)[0]+":")) {
					t.Errorf("%s: the unsafe link %q is printed", format, c.link)
				}
			}
		})
	}
}

// TestPeriodText: a period prints its bounds with their offsets and says
// when a day is not 24 hours long.
func TestPeriodText(t *testing.T) {
	loc := berlin(t)
	for _, c := range []struct {
		name string
		p    reports.Period
		want string
	}{
		{"25-hour day", reports.Period{Kind: "daily", Label: "2026-10-25", From: time.Date(2026, 10, 25, 0, 0, 0, 0, loc), To: time.Date(2026, 10, 26, 0, 0, 0, 0, loc), Zone: "Europe/Berlin"},
			"2026-10-25 (daily): 2026-10-25 00:00 +02:00 – 2026-10-26 00:00 +01:00 Europe/Berlin, 25 hours"},
		{"23-hour day", reports.Period{Kind: "daily", Label: "2026-03-29", From: time.Date(2026, 3, 29, 0, 0, 0, 0, loc), To: time.Date(2026, 3, 30, 0, 0, 0, 0, loc), Zone: "Europe/Berlin"},
			"2026-03-29 (daily): 2026-03-29 00:00 +01:00 – 2026-03-30 00:00 +02:00 Europe/Berlin, 23 hours"},
		{"month", reports.Period{Kind: "monthly", Label: "2026-10", From: time.Date(2026, 10, 1, 0, 0, 0, 0, loc), To: time.Date(2026, 11, 1, 0, 0, 0, 0, loc), Zone: "Europe/Berlin"},
			"2026-10 (monthly): 2026-10-01 00:00 +02:00 – 2026-11-01 00:00 +01:00 Europe/Berlin"},
		{"none", reports.Period{}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := periodText(c.p); got != c.want {
				t.Errorf("periodText = %q, want %q", got, c.want)
			}
		})
	}
}
