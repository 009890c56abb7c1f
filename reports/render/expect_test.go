package render

import (
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/flowlake/flowlake/reports"
)

// expected lists what a capped format (PDF, HTML) must print of doc, in
// the model's own terms: each figure's human and exact value, its previous
// value and change; each printed row of each table as the texts of its
// cells in order; the note of each capped table.
type expected struct {
	figures []string
	rows    [][]string // one entry per printed row
	heads   [][]string // per table
	more    []string
	names   []string // every text cell printed
}

func expectations(t testing.TB, doc *reports.Document, opts Options) expected {
	t.Helper()
	var e expected
	loc := doc.Period.From.Location()
	for _, s := range doc.Sections {
		for _, f := range s.Figures {
			e.figures = append(e.figures, f.Label, FormatHuman(f.Value, f.Unit), FormatExact(f.Value))
			if f.HasPrevious {
				e.figures = append(e.figures, FormatExact(f.Previous), FormatChange(f.Value, f.Previous))
			}
		}
		for _, tb := range s.Tables {
			var heads []string
			for _, c := range tb.Columns {
				heads = append(heads, columnHeading(c))
			}
			e.heads = append(e.heads, heads)
			n := len(tb.Rows)
			if c := opts.maxRows(); c >= 0 && n > c {
				e.more = append(e.more, moreRows(n-c))
				n = c
			}
			var times []time.Time
			for _, r := range tb.Rows {
				for i, c := range tb.Columns {
					if c.Kind == reports.ColTime && !r[i].Null {
						times = append(times, r[i].Time.In(loc))
					}
				}
			}
			layout := timeLayout(times)
			for _, r := range tb.Rows[:n] {
				var row []string
				for i, c := range tb.Columns {
					switch {
					case r[i].Null:
						row = append(row, NoValue)
					case c.Kind == reports.ColText:
						row = append(row, r[i].Text)
						e.names = append(e.names, r[i].Text)
					case c.Kind == reports.ColTime:
						row = append(row, r[i].Time.In(loc).Format(layout))
					default:
						row = append(row, FormatExact(r[i].Num))
					}
				}
				e.rows = append(e.rows, row)
			}
		}
	}
	return e
}

// squash removes every white space, so text laid out in columns or
// wrapped compares with the model's strings in order.
func squash(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}

// checkPrinted fails for every expected string text does not contain
// (both squashed); a row must appear as its cells in order.
func checkPrinted(t *testing.T, format, text string, e expected) {
	t.Helper()
	flat := squash(text)
	miss := 0
	report := func(what, s string) {
		miss++
		if miss <= 10 {
			t.Errorf("%s: %s %q not printed", format, what, s)
		}
	}
	for _, f := range e.figures {
		if !strings.Contains(flat, squash(f)) {
			report("figure", f)
		}
	}
	for _, r := range e.rows {
		if !strings.Contains(flat, squash(strings.Join(r, ""))) {
			report("row", strings.Join(r, " | "))
		}
	}
	for _, h := range e.heads {
		if !strings.Contains(flat, squash(strings.Join(h, ""))) {
			report("header", strings.Join(h, " | "))
		}
	}
	for _, m := range e.more {
		if !strings.Contains(text, m) {
			report("cap note", m)
		}
	}
	if miss > 10 {
		t.Errorf("%s: %d expected strings missing in all", format, miss)
	}
}
