package reports

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/flowlake/flowlake/storage/query"
)

// runner asks the engine every question of one report and keeps what the
// answers say about their completeness.
type runner struct {
	eng      *query.Engine
	zone     string
	warnings []string
	seen     map[string]bool
	// asked lists every query with the dataset that answered it (a rollup
	// or raw segments), for tests and benchmarks.
	asked []asked
}

// asked is one query of a report and its route.
type asked struct {
	q     query.Query
	route string
}

// run answers q over p: its From, To and TimeZone are the period's.
func (r *runner) run(ctx context.Context, q query.Query, p Period) (*answer, error) {
	q.From = p.From.UTC().Format(time.RFC3339Nano)
	q.To = p.To.UTC().Format(time.RFC3339Nano)
	q.TimeZone = r.zone
	res, err := r.eng.Run(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("query %s %v by %v over %s: %w", q.Dataset, q.Metrics, q.GroupBy, p.Label, err)
	}
	defer res.Release()
	r.asked = append(r.asked, asked{q: q, route: res.Plan.Route})
	for _, w := range res.Warnings {
		s := w.String()
		if !r.seen[s] {
			r.seen[s] = true
			r.warnings = append(r.warnings, s)
		}
	}
	return newAnswer(res, len(q.GroupBy))
}

// answer is one engine result copied out of Arrow: dimensions first, then
// metrics, in the query's order, then the others flag when asked.
type answer struct {
	dims, metrics int
	cols          []column
	others        []bool // per row; nil without the others row
	rows          int
}

// column is one result column: numbers as float64 (sums beyond 2^53 lose
// their last digits, as every chart would), text, or times.
type column struct {
	name  string
	kind  ColumnKind
	nums  []float64
	strs  []string
	times []time.Time
	nulls []bool
}

// newAnswer copies res; dims is the number of group-by dimensions.
func newAnswer(res *query.Result, dims int) (*answer, error) {
	a := &answer{dims: dims}
	fields := res.Schema.Fields()
	for _, f := range fields {
		if f.Name == "others" && len(a.cols) >= dims {
			continue
		}
		a.cols = append(a.cols, column{name: f.Name})
	}
	a.metrics = len(a.cols) - dims
	hasOthers := len(fields) > len(a.cols)
	for _, rec := range res.Records {
		n := int(rec.NumRows())
		for ci := range a.cols {
			if err := a.cols[ci].appendArray(rec.Column(ci), n); err != nil {
				return nil, fmt.Errorf("result column %s: %w", a.cols[ci].name, err)
			}
		}
		if hasOthers {
			b, ok := rec.Column(len(a.cols)).(*array.Boolean)
			if !ok {
				return nil, fmt.Errorf("result column others: not a boolean")
			}
			for i := range n {
				a.others = append(a.others, b.IsValid(i) && b.Value(i))
			}
		}
		a.rows += n
	}
	return a, nil
}

// appendArray appends n values of arr.
func (c *column) appendArray(arr arrow.Array, n int) error {
	for i := range n {
		null := arr.IsNull(i)
		c.nulls = append(c.nulls, null)
		switch v := arr.(type) {
		case *array.String:
			c.kind = ColText
			c.strs = append(c.strs, v.Value(i))
		case *array.Boolean:
			c.kind = ColText
			c.strs = append(c.strs, strconv.FormatBool(v.Value(i)))
		case *array.Timestamp:
			c.kind = ColTime
			c.times = append(c.times, time.UnixMicro(int64(v.Value(i))).UTC())
		case *array.Float64:
			c.kind = ColFloat
			c.nums = append(c.nums, v.Value(i))
		case *array.Int64:
			c.kind = ColInt
			c.nums = append(c.nums, float64(v.Value(i)))
		case *array.Int32:
			c.kind = ColInt
			c.nums = append(c.nums, float64(v.Value(i)))
		case *array.Uint64:
			c.kind = ColInt
			c.nums = append(c.nums, float64(v.Value(i)))
		case *array.Uint32:
			c.kind = ColInt
			c.nums = append(c.nums, float64(v.Value(i)))
		case *array.Uint16:
			c.kind = ColInt
			c.nums = append(c.nums, float64(v.Value(i)))
		case *array.Uint8:
			c.kind = ColInt
			c.nums = append(c.nums, float64(v.Value(i)))
		default:
			return fmt.Errorf("unsupported Arrow type %s", arr.DataType())
		}
	}
	return nil
}

// num is a numeric value; 0 for null (sums and counts of nothing) and for
// a row or column the answer does not have.
func (a *answer) num(row, col int) float64 {
	if row >= a.rows || col >= len(a.cols) {
		return 0
	}
	c := &a.cols[col]
	if c.nulls[row] || c.nums == nil {
		return 0
	}
	return c.nums[row]
}

// numOrNaN is a numeric value, NaN for null (averages of nothing) and for
// a row or column the answer does not have.
func (a *answer) numOrNaN(row, col int) float64 {
	if row >= a.rows || col >= len(a.cols) {
		return math.NaN()
	}
	c := &a.cols[col]
	if c.nulls[row] || c.nums == nil {
		return math.NaN()
	}
	return c.nums[row]
}

// text is a value as text: dimensions as the engine prints them.
func (a *answer) text(row, col int) string {
	c := &a.cols[col]
	switch {
	case c.nulls[row]:
		return ""
	case c.kind == ColText:
		return c.strs[row]
	case c.kind == ColTime:
		return c.times[row].Format(time.RFC3339)
	default:
		return strconv.FormatFloat(c.nums[row], 'f', -1, 64)
	}
}

// time is a time value.
func (a *answer) time(row, col int) time.Time { return a.cols[col].times[row] }

// isOthers reports whether row is the others row.
func (a *answer) isOthers(row int) bool { return a.others != nil && a.others[row] }

// cell is a value as a table cell of its column's kind.
func (a *answer) cell(row, col int) Cell {
	c := &a.cols[col]
	if c.nulls[row] {
		return Cell{Null: true}
	}
	switch c.kind {
	case ColText:
		return Cell{Text: c.strs[row]}
	case ColTime:
		return Cell{Time: c.times[row]}
	default:
		return Cell{Num: c.nums[row]}
	}
}

// key joins a row's dimension values, to match rows of two answers.
func (a *answer) key(row int) string {
	k := ""
	for d := range a.dims {
		if d > 0 {
			k += "\x00"
		}
		k += a.text(row, d)
	}
	return k
}
