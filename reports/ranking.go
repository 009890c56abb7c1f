package reports

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/flowlake/flowlake/storage/query"
)

// ranking is one TopN table: the first N groups of q's dimensions by its
// first metric, an "(others)" row with the rest, each group's share of the
// total and its value in the previous period.
type ranking struct {
	title   string
	q       query.Query // Dataset, Filter, GroupBy, Metrics
	dims    []string    // column titles of the dimensions
	metrics []Column    // one per metric
	n       int
}

// ranked is a ranking's answer.
type ranked struct {
	table     Table
	chart     Chart // top groups by the first metric, as bars
	total     float64
	prevTotal float64
	rows      int  // groups shown, others excluded
	groups    int  // groups in the period
	failed    bool // not ranked: past the memory budget
}

// additive reports whether a metric's total is the sum of its groups', so a
// share and an others row mean something.
func additive(m string) bool {
	m = strings.ReplaceAll(m, " ", "")
	return m == "count()" || strings.HasPrefix(m, "sum(")
}

// rank answers a ranking over the report's period and its previous one.
func (b *builder) rank(rk ranking) (*ranked, error) {
	q := rk.q
	q.Limit, q.Others = rk.n, additive(q.Metrics[0])
	cur, err := b.r.run(b.ctx, q, b.cur)
	if err != nil {
		return nil, err
	}
	tq := query.Query{Dataset: q.Dataset, Filter: q.Filter, Metrics: q.Metrics[:1]}
	tc, tp, err := b.both(tq)
	if err != nil {
		return nil, err
	}
	out := &ranked{total: tc.num(0, 0), prevTotal: tp.num(0, 0)}
	// The previous period's value of each shown group: the same query
	// narrowed to those groups when the dimensions are plain columns (a
	// host ranking over a year must not list every host), else all groups.
	pq := q
	pq.Limit, pq.Others = 0, false
	keys := map[string]bool{}
	var terms []string
	plain := true
	for _, d := range q.GroupBy {
		plain = plain && !strings.Contains(d, "/")
	}
	for i := range cur.rows {
		if cur.isOthers(i) {
			continue
		}
		keys[cur.key(i)] = true
		var and []string
		for d := range cur.dims {
			if cur.cols[d].nulls[i] {
				and = nil
				break
			}
			v := cur.text(i, d)
			if v == "" {
				// The engine prints an unset address as "", which no
				// filter can name: ask for every group instead.
				plain = false
			}
			and = append(and, q.GroupBy[d]+" = "+quote(v))
		}
		if len(and) > 0 {
			terms = append(terms, "("+strings.Join(and, " and ")+")")
		}
	}
	prevVals := map[string]float64{}
	if len(terms) > 0 {
		if plain {
			pq.Filter = strings.Join(terms, " or ")
			if q.Filter != "" {
				pq.Filter = "(" + q.Filter + ") and (" + pq.Filter + ")"
			}
		}
		pa, err := b.r.run(b.ctx, pq, b.prev)
		if err != nil {
			return nil, err
		}
		for i := range pa.rows {
			if k := pa.key(i); keys[k] {
				prevVals[k] = pa.numOrNaN(i, pa.dims)
			}
		}
	}
	t := Table{Title: rk.title, Link: b.topnLink(q)}
	for _, d := range rk.dims {
		t.Columns = append(t.Columns, Column{Name: d, Kind: ColText})
	}
	t.Columns = append(t.Columns, rk.metrics...)
	share := additive(q.Metrics[0])
	if share {
		t.Columns = append(t.Columns, Column{Name: "Share", Kind: ColFloat, Unit: UnitPercent})
	}
	first := rk.metrics[0]
	t.Columns = append(t.Columns, Column{Name: "Previous " + strings.ToLower(first.Name), Kind: first.Kind, Unit: first.Unit},
		Column{Name: "Change", Kind: ColFloat, Unit: UnitPercent})
	out.chart = Chart{Title: rk.title, Kind: ChartBar, Unit: first.Unit, Series: []Series{{Name: first.Name}}}
	for i := range cur.rows {
		var row []Cell
		others := cur.isOthers(i)
		label := ""
		for d := range cur.dims {
			c := cur.cell(i, d)
			if others {
				c = Cell{Text: "(others)"}
			} else if c.Null {
				c = Cell{Text: "(none)"}
			}
			if cur.cols[d].kind != ColText && !others && !c.Null {
				c = Cell{Text: cur.text(i, d)}
			}
			row = append(row, c)
			if d > 0 {
				label += " → "
			}
			label += c.Text
		}
		for m := range cur.metrics {
			row = append(row, numCell(cur.numOrNaN(i, cur.dims+m)))
		}
		v := cur.numOrNaN(i, cur.dims)
		if share {
			sh := math.NaN()
			if out.total > 0 {
				sh = v / out.total * 100
			}
			row = append(row, numCell(sh))
		}
		if others {
			row = append(row, Cell{Null: true}, Cell{Null: true})
		} else {
			pv, ok := prevVals[cur.key(i)]
			if !ok && additive(q.Metrics[0]) {
				pv, ok = 0, true
			}
			if ok {
				row = append(row, numCell(pv), numCell(change(v, pv)))
			} else {
				row = append(row, Cell{Null: true}, Cell{Null: true})
			}
			out.rows++
			out.chart.Categories = append(out.chart.Categories, label)
			out.chart.Series[0].Values = append(out.chart.Series[0].Values, v)
		}
		t.Rows = append(t.Rows, row)
	}
	out.groups = out.rows
	if cur.others != nil && cur.isOthers(cur.rows-1) {
		t.Note = fmt.Sprintf("The first %d groups by %s; (others) sums the rest.", rk.n, strings.ToLower(first.Name))
	}
	out.table = t
	return out, nil
}

// rankSection is a ranking as a section: its table and bar chart, or the
// sentence that the period has no data. A ranking with more groups than a
// query's memory budget holds (conversations over a year) does not sink
// the report: its section and the document's warnings say it was not
// ranked and why, and ranked.failed is set so no figure is taken from it.
func (b *builder) rankSection(title, what string, rk ranking) (Section, *ranked, error) {
	s := Section{Title: title}
	r, err := b.rank(rk)
	if errors.Is(err, query.ErrMemoryBudget) {
		msg := fmt.Sprintf("Not ranked: %s of %s need more memory than one query may use (%v); rank a shorter period or narrow it with a filter.",
			strings.ToLower(rk.title), b.cur.Label, err)
		s.Text = []string{msg}
		b.r.warnings = append(b.r.warnings, msg)
		return s, &ranked{failed: true}, nil
	}
	if err != nil {
		return Section{}, nil, err
	}
	if r.rows == 0 {
		s.Text = []string{noData(what, b.cur)}
		return s, r, nil
	}
	s.Tables = []Table{r.table}
	s.Charts = []Chart{r.chart}
	return s, r, nil
}
