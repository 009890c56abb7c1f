package render

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"codeberg.org/go-pdf/fpdf"

	"github.com/flowlake/flowlake/reports"
)

// pdfText runs pdftotext -layout on pdf (pages first..last, 0 for all).
func pdfText(t *testing.T, pdf string, first, last int) string {
	t.Helper()
	args := []string{"-layout", "-enc", "UTF-8"}
	if first > 0 {
		args = append(args, "-f", strconv.Itoa(first), "-l", strconv.Itoa(last))
	}
	var stderr bytes.Buffer
	cmd := exec.Command(needTool(t, "pdftotext", "poppler-utils"), append(args, pdf, "-")...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("pdftotext: %v: %s", err, stderr.String())
	}
	return string(out)
}

// TestPDFPrintsTheModel renders a realistic report and reads it back with
// pdftotext: every figure, every printed row (CJK names included), the
// repeated table header on every page the table spans, the cap note and
// the page numbers; then pdftoppm renders every page without a message.
func TestPDFPrintsTheModel(t *testing.T) {
	needFonts(t)
	doc := sampleDoc(t, 120)
	opts := Options{MaxRows: 80, BaseURL: "https://flowlake.example.com"}
	b, err := Render(doc, FormatPDF, opts)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pdf := filepath.Join(dir, "report.pdf")
	if err := os.WriteFile(pdf, b, 0o600); err != nil {
		t.Fatal(err)
	}
	text := pdfText(t, pdf, 0, 0)
	e := expectations(t, doc, opts)
	checkPrinted(t, "pdf", text, e)
	for _, w := range doc.Warnings {
		if i, j := strings.Index(text, w), strings.Index(text, doc.Sections[0].Title); i < 0 || j < 0 || i > j {
			t.Errorf("warning %q not printed before the first section (at %d, section at %d)", w, i, j)
		}
	}
	if !strings.Contains(text, "https://flowlake.example.com/console/links?") {
		t.Errorf("the document's link is not resolved against the base URL")
	}

	m := regexp.MustCompile(`Page 1 of (\d+)`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no page number on page 1")
	}
	pages, _ := strconv.Atoi(m[1])
	if pages < 3 {
		t.Fatalf("%d pages, want the 80-row table to break across pages", pages)
	}
	head := squash(strings.Join(e.heads[0], ""))
	spanned := 0
	for p := 1; p <= pages; p++ {
		pt := pdfText(t, pdf, p, p)
		if !strings.Contains(pt, fmt.Sprintf("Page %d of %d", p, pages)) {
			t.Errorf("page %d has no page number", p)
		}
		holds := false
		for _, r := range e.rows[:80] {
			if strings.Contains(squash(pt), squash(strings.Join(r, ""))) {
				holds = true
				break
			}
		}
		if holds {
			spanned++
			if !strings.Contains(squash(pt), head) {
				t.Errorf("page %d holds rows of %q but not its header", p, doc.Sections[0].Tables[0].Title)
			}
		}
	}
	if spanned < 2 {
		t.Errorf("the table spans %d pages, want it to break across at least 2", spanned)
	}

	// one outline entry per section
	if got := bytes.Count(b, []byte("/Title <FEFF")) + bytes.Count(b, []byte("/Title (")); got < len(doc.Sections) {
		t.Errorf("%d outline titles, want one per section (%d)", got, len(doc.Sections))
	}

	// the CJK font is embedded, so the names above are glyphs, not boxes
	fonts, err := exec.Command(needTool(t, "pdffonts", "poppler-utils"), pdf).Output()
	if err != nil {
		t.Fatalf("pdffonts: %v", err)
	}
	if !regexp.MustCompile(`(?m)^\S*cjk\s.*\byes\s+\S+\s+yes\b`).Match(fonts) {
		t.Errorf("no embedded CJK font with a Unicode map:\n%s", fonts)
	}

	var stderr bytes.Buffer
	cmd := exec.Command(needTool(t, "pdftoppm", "poppler-utils"), "-r", "30", "-png", pdf, filepath.Join(dir, "page"))
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Fatalf("pdftoppm: %v: %s", err, stderr.String())
	}
	pngs, _ := filepath.Glob(filepath.Join(dir, "page-*.png"))
	if len(pngs) != pages {
		t.Errorf("pdftoppm rendered %d pages, want %d", len(pngs), pages)
	}
}

// TestPDFFonts: a missing or unusable font is a clear error through
// Render, never a panic or a PDF with empty boxes.
func TestPDFFonts(t *testing.T) {
	needFonts(t)
	doc := sampleDoc(t, 3)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// the first bytes are what tell the kinds apart, as in Debian's
	// NotoSansCJK-Regular.ttc (ttcf) and .otf files (OTTO)
	ttc := write("collection.ttc", append([]byte("ttcf"), make([]byte, 60)...))
	otf := write("cff.otf", append([]byte("OTTO"), make([]byte, 60)...))
	notFont := write("not-a-font.ttf", []byte("this is not a TrueType font at all"))
	for _, c := range []struct {
		name    string
		fonts   Fonts
		missing bool
		want    string
	}{
		{"missing CJK font", Fonts{CJK: "/nonexistent/cjk.ttf"}, true, "/nonexistent/cjk.ttf does not exist"},
		{"missing regular font", Fonts{Regular: "/nonexistent/latin.ttf"}, true, "regular font /nonexistent/latin.ttf"},
		{"font collection", Fonts{CJK: ttc}, false, "font collection (.ttc)"},
		{"CFF outlines", Fonts{CJK: otf}, false, "has CFF (OpenType) outlines"},
		{"not a font", Fonts{CJK: notFont}, false, "is not a TrueType font"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Render(doc, FormatPDF, Options{Fonts: c.fonts})
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, ErrFontMissing) != c.missing || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q, want one containing %q (missing=%v)", err, c.want, c.missing)
			}
		})
	}
}

// TestPDFWrapsWideCells: a cell wider than the page wraps inside its
// column; no character is cut.
func TestPDFWrapsWideCells(t *testing.T) {
	needFonts(t)
	long := strings.Repeat("上海-核心交换机 uplink to 北京 ", 12) + strings.Repeat("x", 300)
	doc := &reports.Document{Title: "wrap", Sections: []reports.Section{{Title: "s", Tables: []reports.Table{{
		Columns: []reports.Column{{Name: "#", Kind: reports.ColInt}, {Name: "Description"}},
		Rows:    [][]reports.Cell{{{Num: 1}, {Text: long}}, {{Num: 2}, {Text: "short"}}},
	}}}}}
	b, err := Render(doc, FormatPDF, Options{})
	if err != nil {
		t.Fatal(err)
	}
	pdf := filepath.Join(t.TempDir(), "wrap.pdf")
	if err := os.WriteFile(pdf, b, 0o600); err != nil {
		t.Fatal(err)
	}
	text := pdfText(t, pdf, 0, 0)
	if !strings.Contains(squash(text), "1"+squash(long)+"2short") {
		t.Errorf("the long cell is not printed whole:\n%s", text)
	}
	if strings.Count(text, "\n") < 8 {
		t.Errorf("the long cell did not wrap:\n%s", text)
	}
}

// TestPDFWrapNarrowColumn: a column narrower than one glyph still ends
// (every glyph on a line of its own), it never loops.
func TestPDFWrapNarrowColumn(t *testing.T) {
	needFonts(t)
	p := newTestPDF(t)
	for _, c := range []struct {
		name string
		s    string
		w    float64
		want []string
	}{
		{"narrower than a glyph", "上海x", 0.1, []string{"上", "海", "x"}},
		{"words", "ab cd ef", 1000, []string{"ab cd ef"}},
		{"one long word", "abcdef", 0.1, []string{"a", "b", "c", "d", "e", "f"}},
		{"empty", "", 10, []string{""}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := p.wrap(c.s, c.w, false, 8)
			if strings.Join(got, "|") != strings.Join(c.want, "|") {
				t.Errorf("wrap(%q, %v) = %q, want %q", c.s, c.w, got, c.want)
			}
		})
	}
}

// newTestPDF is a pdfDoc with the default fonts, for layout tests.
func newTestPDF(t *testing.T) *pdfDoc {
	t.Helper()
	fonts, err := (Fonts{}).load()
	if err != nil {
		t.Fatal(err)
	}
	f := fpdf.New("P", "mm", "A4", "")
	f.AddUTF8FontFromBytes(famLatin, "", fonts.regular)
	f.AddUTF8FontFromBytes(famLatin, "B", fonts.bold)
	f.AddUTF8FontFromBytes(famCJK, "", fonts.cjk)
	return &pdfDoc{f: f, doc: &reports.Document{}}
}

// TestPDFTallChartFits: a bar chart of many categories is scaled to fit a
// page; its last category is on the page, not drawn past its bottom.
func TestPDFTallChartFits(t *testing.T) {
	needFonts(t)
	ch := reports.Chart{Title: "Many hosts", Kind: reports.ChartBar, Unit: reports.UnitBytes, Series: []reports.Series{{Name: "in"}}}
	for i := range 150 {
		ch.Categories = append(ch.Categories, "host-"+strconv.Itoa(i))
		ch.Series[0].Values = append(ch.Series[0].Values, float64(1000*(150-i)))
	}
	doc := &reports.Document{Title: "tall", Sections: []reports.Section{{Title: "s", Charts: []reports.Chart{ch}}}}
	b, err := Render(doc, FormatPDF, Options{})
	if err != nil {
		t.Fatal(err)
	}
	pdf := filepath.Join(t.TempDir(), "tall.pdf")
	if err := os.WriteFile(pdf, b, 0o600); err != nil {
		t.Fatal(err)
	}
	text := pdfText(t, pdf, 0, 0)
	for _, want := range []string{"host-0", "host-149", "Page 1 of"} {
		if !strings.Contains(text, want) {
			t.Errorf("%q is not on the page", want)
		}
	}
}

// TestPDFRowTallerThanAPage: a cell whose text fills more than a page goes
// on over the next pages, under the header again, and is printed whole.
func TestPDFRowTallerThanAPage(t *testing.T) {
	needFonts(t)
	var long strings.Builder
	for i := range 1500 {
		long.WriteString("word" + strconv.Itoa(i) + " 上海 ")
	}
	doc := &reports.Document{Title: "tall row", Sections: []reports.Section{{Title: "s", Tables: []reports.Table{{
		Columns: []reports.Column{{Name: "Key"}, {Name: "Description"}},
		Rows:    [][]reports.Cell{{{Text: "first"}, {Text: long.String()}}, {{Text: "second"}, {Text: "short"}}},
	}}}}}
	b, err := Render(doc, FormatPDF, Options{})
	if err != nil {
		t.Fatal(err)
	}
	pdf := filepath.Join(t.TempDir(), "tall.pdf")
	if err := os.WriteFile(pdf, b, 0o600); err != nil {
		t.Fatal(err)
	}
	text := pdfText(t, pdf, 0, 0)
	flat := squash(text)
	for _, w := range []string{"word0", "word777", "word1499上海", "secondshort"} {
		if !strings.Contains(flat, w) {
			t.Errorf("%q is not printed", w)
		}
	}
	pages := strings.Count(text, "\f")
	if heads := strings.Count(text, "Description"); pages < 2 || heads < pages {
		t.Errorf("%d pages, %d headers: want the row to go on over pages under repeated headers", pages, heads)
	}
}
