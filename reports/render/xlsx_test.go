package render

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/flowlake/flowlake/reports"
)

// TestXLSXTypedAndComplete reads the workbook back with excelize: Summary
// first with every figure as a number, one sheet per table with every row
// (no cap), numbers as numbers, times as Excel dates in the report's zone
// with a date format, and one native chart part per chart with data.
func TestXLSXTypedAndComplete(t *testing.T) {
	doc := sampleDoc(t, 120)
	b, err := Render(doc, FormatXLSX, Options{MaxRows: 10})
	if err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sheets := f.GetSheetList()
	want := []string{"Summary", "Charts", "Per interface", "Per hour", "Abnormal closes", "Traffic per hour", "Utilisation forecast", "Top hosts", "Applications", "Applications per hour", "Setup time"}
	if strings.Join(sheets, "|") != strings.Join(want, "|") {
		t.Fatalf("sheets %q, want %q", sheets, want)
	}

	// Summary: each figure's value and previous as numbers
	rows, err := f.GetRows("Summary", excelize.Options{RawCellValue: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, fg := range doc.Sections[0].Figures {
		found := false
		for _, r := range rows {
			if len(r) < 3 || r[1] != fg.Label {
				continue
			}
			found = true
			if !finite(fg.Value) {
				if r[2] != "" {
					t.Errorf("figure %q: NaN written as %q, want a blank", fg.Label, r[2])
				}
				continue
			}
			if v, err := strconv.ParseFloat(r[2], 64); err != nil || v != fg.Value {
				t.Errorf("figure %q: %q, want %v", fg.Label, r[2], fg.Value)
			}
			if fg.HasPrevious {
				if v, err := strconv.ParseFloat(r[4], 64); err != nil || v != fg.Previous {
					t.Errorf("figure %q previous: %q, want %v", fg.Label, r[4], fg.Previous)
				}
			}
		}
		if !found {
			t.Errorf("figure %q not on the Summary sheet", fg.Label)
		}
	}

	// every row of the table, typed
	tb := doc.Sections[0].Tables[0]
	rows, err = f.GetRows("Per interface", excelize.Options{RawCellValue: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < len(tb.Rows)+1 {
		t.Fatalf("%d rows on the sheet, want %d and a header", len(rows), len(tb.Rows))
	}
	for i, r := range tb.Rows {
		got := rows[i+1]
		if got[0] != r[0].Text {
			t.Errorf("row %d name %q, want %q", i, got[0], r[0].Text)
		}
		for c := 1; c < len(tb.Columns); c++ {
			if r[c].Null {
				if got[c] != "" {
					t.Errorf("row %d col %d: a Null cell written as %q", i, c, got[c])
				}
				continue
			}
			if v, err := strconv.ParseFloat(got[c], 64); err != nil || v != r[c].Num {
				t.Errorf("row %d col %d: %q, want %v", i, c, got[c], r[c].Num)
			}
		}
	}
	for _, c := range []struct {
		cell string
		want []excelize.CellType
	}{
		{"A2", []excelize.CellType{excelize.CellTypeSharedString, excelize.CellTypeInlineString}},
		{"B2", []excelize.CellType{excelize.CellTypeUnset, excelize.CellTypeNumber}},
		{"E2", []excelize.CellType{excelize.CellTypeUnset, excelize.CellTypeNumber}},
	} {
		ct, err := f.GetCellType("Per interface", c.cell)
		if err != nil {
			t.Fatal(err)
		}
		ok := false
		for _, w := range c.want {
			ok = ok || ct == w
		}
		if !ok {
			t.Errorf("cell %s has type %v, want one of %v", c.cell, ct, c.want)
		}
	}

	// times: Excel serial dates of the local wall clock, a date format, and
	// the UTC offset beside them on the 25-hour day
	loc := berlin(t)
	hours := doc.Sections[0].Tables[1]
	rows, err = f.GetRows("Per hour", excelize.Options{RawCellValue: true})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], "|") != "Hour|Hour UTC offset|In (bytes)|Out (bytes)" {
		t.Errorf("header %q", rows[0])
	}
	for i, r := range hours.Rows {
		serial, err := strconv.ParseFloat(rows[i+1][0], 64)
		if err != nil {
			t.Fatalf("row %d time %q is not a number: %v", i, rows[i+1][0], err)
		}
		got, err := excelize.ExcelDateToTime(serial, false)
		if err != nil {
			t.Fatal(err)
		}
		lt := r[0].Time.In(loc)
		wall := time.Date(lt.Year(), lt.Month(), lt.Day(), lt.Hour(), lt.Minute(), lt.Second(), 0, time.UTC)
		if d := got.Sub(wall); d > time.Second || d < -time.Second {
			t.Errorf("row %d: Excel time %v, want the wall clock %v", i, got, wall)
		}
		if rows[i+1][1] != lt.Format("-07:00") {
			t.Errorf("row %d offset %q, want %q", i, rows[i+1][1], lt.Format("-07:00"))
		}
	}
	st, err := f.GetCellStyle("Per hour", "A2")
	if err != nil {
		t.Fatal(err)
	}
	style, err := f.GetStyle(st)
	if err != nil {
		t.Fatal(err)
	}
	if style.CustomNumFmt == nil || !strings.Contains(*style.CustomNumFmt, "yyyy-mm-dd hh:mm") {
		t.Errorf("time cells have no date format: %+v", style)
	}

	// native charts: one chart part per chart with data
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	charts := 0
	for _, zf := range zr.File {
		if strings.HasPrefix(zf.Name, "xl/charts/chart") && strings.HasSuffix(zf.Name, ".xml") {
			charts++
		}
	}
	if charts != 5 {
		t.Errorf("%d chart parts, want 5 (the empty chart has none)", charts)
	}
	if _, err := zr.Open("xl/charts/chart1.xml"); err != nil {
		t.Errorf("no xl/charts/chart1.xml: %v", err)
	}
}

// TestXLSXInLibreOffice converts every sheet to CSV with LibreOffice
// headless and finds every row of the tables, CJK names included.
func TestXLSXInLibreOffice(t *testing.T) {
	soffice := needTool(t, "soffice", "libreoffice-calc-nogui")
	doc := sampleDoc(t, 120)
	b, err := Render(doc, FormatXLSX, Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "report.xlsx")
	if err := os.WriteFile(in, b, 0o600); err != nil {
		t.Fatal(err)
	}
	profile := "file://" + filepath.Join(dir, "profile")
	// CSV filter options: comma, double quote, UTF-8, from line 1, …, raw
	// values (not as shown), every sheet (-1) to report-<sheet>.csv.
	cmd := exec.Command(soffice, "-env:UserInstallation="+profile, "--headless", "--norestore",
		"--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1",
		"--outdir", dir, in)
	cmd.Env = append(os.Environ(), "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("soffice: %v: %s", err, out)
	}
	for _, c := range []struct {
		sheet string
		table reports.Table
	}{
		{"Per interface", doc.Sections[0].Tables[0]},
		{"Per hour", doc.Sections[0].Tables[1]},
	} {
		raw, err := os.ReadFile(filepath.Join(dir, "report-"+c.sheet+".csv"))
		if err != nil {
			t.Fatalf("LibreOffice wrote no CSV of sheet %q: %v (%s)", c.sheet, err, out)
		}
		recs, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
		if err != nil {
			t.Fatalf("sheet %q: %v", c.sheet, err)
		}
		if len(recs) < len(c.table.Rows)+1 {
			t.Fatalf("sheet %q: %d CSV lines, want %d rows and a header", c.sheet, len(recs), len(c.table.Rows))
		}
		for i, r := range c.table.Rows {
			for j, col := range c.table.Columns {
				got := recs[i+1]
				switch {
				case col.Kind == reports.ColText && got[j] != r[j].Text:
					t.Errorf("sheet %q row %d: %q, want %q", c.sheet, i, got[j], r[j].Text)
				case (col.Kind == reports.ColInt || col.Kind == reports.ColFloat) && c.sheet == "Per interface":
					if r[j].Null {
						continue
					}
					// LibreOffice prints 15 significant digits, as FormatExact does
					if v, err := strconv.ParseFloat(got[j], 64); err != nil || FormatExact(v) != FormatExact(r[j].Num) {
						t.Errorf("sheet %q row %d col %d: %q, want %v", c.sheet, i, j, got[j], r[j].Num)
					}
				}
			}
		}
	}
	raw, err := os.ReadFile(filepath.Join(dir, "report-Summary.csv"))
	if err != nil {
		t.Fatalf("no Summary sheet in LibreOffice's output: %v", err)
	}
	recs, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, fg := range doc.Sections[0].Figures {
		found := false
		for _, r := range recs {
			if len(r) < 5 || r[1] != fg.Label {
				continue
			}
			found = true
			if v, err := strconv.ParseFloat(r[2], 64); finite(fg.Value) && (err != nil || FormatExact(v) != FormatExact(fg.Value)) {
				t.Errorf("Summary %q: %q, want %s", fg.Label, r[2], FormatExact(fg.Value))
			}
			if v, err := strconv.ParseFloat(r[4], 64); fg.HasPrevious && (err != nil || FormatExact(v) != FormatExact(fg.Previous)) {
				t.Errorf("Summary %q previous: %q, want %s", fg.Label, r[4], FormatExact(fg.Previous))
			}
		}
		if !found {
			t.Errorf("figure %q not in LibreOffice's Summary", fg.Label)
		}
	}
}
