package render

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/flowlake/flowlake/reports"
)

// randomValue is a number, NaN, an infinity, zero or a huge or tiny value.
func randomValue(r *rand.Rand) float64 {
	switch r.IntN(8) {
	case 0:
		return math.NaN()
	case 1:
		return math.Inf(1 - 2*r.IntN(2))
	case 2:
		return 0
	case 3:
		return (r.Float64() - 0.5) * 1e300
	case 4:
		return r.Float64() * 1e-300
	}
	return (r.Float64() - 0.3) * math.Pow(10, float64(r.IntN(14)))
}

func randomValues(r *rand.Rand, n int) []float64 {
	if r.IntN(6) == 0 {
		return nil
	}
	out := make([]float64, max(0, n+r.IntN(3)-1))
	for i := range out {
		out[i] = randomValue(r)
	}
	return out
}

var randomTexts = []string{"", "上海-核心交换机", "<script>x</script>", "a\nb", "'quoted' \"sheet\"", "x/y:z*?[]", "История", "الشبكة", "😀 emoji", "ctrl\x01\x1f\x7f", "\xff\xfe not utf-8"}

// randomDocument builds a document of random shape: every chart kind, NaN
// and infinities, series longer and shorter than their axis, rows shorter
// and longer than their columns.
func randomDocument(r *rand.Rand, loc *time.Location) *reports.Document {
	t0 := time.Date(2026, time.Month(1+r.IntN(12)), 1+r.IntN(28), r.IntN(24), 0, 0, 0, loc)
	doc := &reports.Document{Title: randomTexts[r.IntN(len(randomTexts))], Period: reports.Period{Kind: "daily", From: t0, To: t0.AddDate(0, 0, 1)}}
	units := []reports.Unit{reports.UnitNone, reports.UnitBytes, reports.UnitPackets, reports.UnitCount, reports.UnitBPS, reports.UnitPercent, reports.UnitSeconds}
	for range 1 + r.IntN(3) {
		var s reports.Section
		s.Title = randomTexts[r.IntN(len(randomTexts))]
		for range r.IntN(4) {
			s.Figures = append(s.Figures, reports.Figure{Label: randomTexts[r.IntN(len(randomTexts))], Value: randomValue(r), Unit: units[r.IntN(len(units))], HasPrevious: r.IntN(2) == 0, Previous: randomValue(r)})
		}
		for range r.IntN(4) {
			n := r.IntN(40)
			ch := reports.Chart{Title: randomTexts[r.IntN(len(randomTexts))], Kind: reports.ChartKind(r.IntN(5)), Unit: units[r.IntN(len(units))]}
			for i := range n {
				ch.Times = append(ch.Times, t0.Add(time.Duration(i*r.IntN(5000))*time.Minute))
				ch.Categories = append(ch.Categories, randomTexts[r.IntN(len(randomTexts))])
			}
			for range r.IntN(4) {
				ch.Series = append(ch.Series, reports.Series{Name: randomTexts[r.IntN(len(randomTexts))], Values: randomValues(r, n), Lower: randomValues(r, n), Upper: randomValues(r, n), Forecast: r.IntN(2) == 0})
			}
			for range r.IntN(3) {
				ch.Thresholds = append(ch.Thresholds, reports.Threshold{Label: randomTexts[r.IntN(len(randomTexts))], Value: randomValue(r)})
			}
			s.Charts = append(s.Charts, ch)
		}
		for range r.IntN(3) {
			tb := reports.Table{Title: randomTexts[r.IntN(len(randomTexts))], Note: randomTexts[r.IntN(len(randomTexts))], Link: "/x"}
			for range r.IntN(5) {
				tb.Columns = append(tb.Columns, reports.Column{Name: randomTexts[r.IntN(len(randomTexts))], Kind: reports.ColumnKind(r.IntN(5)), Unit: units[r.IntN(len(units))]})
			}
			for range r.IntN(70) {
				row := make([]reports.Cell, max(0, len(tb.Columns)+r.IntN(3)-1))
				for i := range row {
					row[i] = reports.Cell{Text: randomTexts[r.IntN(len(randomTexts))], Num: randomValue(r), Null: r.IntN(5) == 0}
					if r.IntN(4) > 0 {
						row[i].Time = t0.Add(time.Duration(r.IntN(100000)) * time.Second)
					}
				}
				tb.Rows = append(tb.Rows, row)
			}
			s.Tables = append(s.Tables, tb)
		}
		doc.Sections = append(doc.Sections, s)
	}
	return doc
}

// TestRenderRandomDocuments renders documents of random shape in every
// format: no panic, no error.
func TestRenderRandomDocuments(t *testing.T) {
	needFonts(t)
	loc := berlin(t)
	for seed := range uint64(25) {
		doc := randomDocument(rand.New(rand.NewPCG(seed, 12)), loc)
		for _, format := range Formats() {
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("seed %d, %s: panic: %v", seed, format, p)
					}
				}()
				b, err := Render(doc, format, Options{MaxRows: 1 + int(seed)})
				if err != nil {
					t.Errorf("seed %d, %s: %v", seed, format, err)
					return
				}
				if format == FormatXLSX {
					f, err := excelize.OpenReader(bytes.NewReader(b))
					if err != nil {
						t.Errorf("seed %d: the XLSX does not open: %v", seed, err)
						return
					}
					for _, sh := range f.GetSheetList() {
						if _, err := f.GetRows(sh); err != nil {
							t.Errorf("seed %d: sheet %q does not read: %v", seed, sh, err)
						}
					}
					f.Close()
				}
			}()
		}
	}
}
