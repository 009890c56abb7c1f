package graph

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/flowlake/flowlake/graph/model"
	"github.com/flowlake/flowlake/storage/meta"
	"github.com/flowlake/flowlake/storage/query"
	"github.com/flowlake/flowlake/storage/schema"
)

// aggregate runs an aggregate and returns its rows: dimensions as text,
// metrics as floats.
func (r *Resolver) aggregate(ctx context.Context, q query.Query) (*model.AggregateResult, error) {
	if _, err := require(ctx, meta.PermAnalysisRead); err != nil {
		return nil, err
	}
	capped, err := r.capRows(&q)
	if err != nil {
		return nil, err
	}
	res, err := r.run(ctx, q)
	if err != nil {
		return nil, err
	}
	defer res.Release()
	if capped && res.NumRows() > int64(r.cfg.MaxRows) {
		return nil, fmt.Errorf("%w: the answer has more than %d rows; set a limit, narrow the range, group less finely, or export through the REST API", ErrRowLimit, r.cfg.MaxRows)
	}
	nd := len(res.Plan.GroupBy)
	nm := len(res.Plan.Metrics)
	out := &model.AggregateResult{Plan: planOf(res.Plan), Rows: []*model.AggregateRow{}}
	fields := res.Schema.Fields()
	for i, f := range fields[:nd+nm] {
		rc := &model.ResultColumn{Name: f.Name, Type: f.Type.String()}
		if i < nd {
			out.Dimensions = append(out.Dimensions, rc)
		} else {
			out.Metrics = append(out.Metrics, rc)
		}
	}
	out.Dimensions, out.Metrics = orEmpty(out.Dimensions), orEmpty(out.Metrics)
	others := -1
	if len(fields) > nd+nm && fields[nd+nm].Name == "others" {
		others = nd + nm
	}
	for _, rec := range res.Records {
		for i := range int(rec.NumRows()) {
			row := &model.AggregateRow{Keys: make([]*string, nd), Values: make([]*model.Number, nm)}
			for d := range nd {
				row.Keys[d] = text(rec.Column(d), i)
			}
			for m := range nm {
				row.Values[m] = number(rec.Column(nd+m), i)
			}
			if others >= 0 {
				row.Others = rec.Column(others).(*array.Boolean).Value(i)
			}
			out.Rows = append(out.Rows, row)
		}
	}
	return out, nil
}

// capRows bounds q's answer to Config.MaxRows: a larger limit is
// invalid; without one (every group) the query runs with one row more
// than the bound, and capped says an answer that fills it is refused.
func (r *Resolver) capRows(q *query.Query) (capped bool, err error) {
	switch {
	case q.Limit > r.cfg.MaxRows:
		return false, fmt.Errorf("%w: limit: at most %d groups in GraphQL, not %d; export more through the REST API", ErrInvalid, r.cfg.MaxRows, q.Limit)
	case q.Limit == 0 && !q.Others: // with others the engine asks for a limit
		q.Limit = r.cfg.MaxRows + 1
		return true, nil
	}
	return false, nil
}

// text is row i of arr as text; nil for null.
func text(arr arrow.Array, i int) *string {
	if arr.IsNull(i) {
		return nil
	}
	s := query.FormatValue(arr, i)
	return &s
}

// number is row i of a metric column: integers exact, floats (and times
// as Unix seconds) as floats; nil for null, NaN and infinities (JSON has
// none).
func number(arr arrow.Array, i int) *model.Number {
	if arr.IsNull(i) {
		return nil
	}
	var f float64
	switch a := arr.(type) {
	case *array.Float64:
		f = a.Value(i)
	case *array.Timestamp:
		f = float64(a.Value(i)) / 1e6
	case *array.Boolean:
		n := model.Int(0)
		if a.Value(i) {
			n = model.Int(1)
		}
		return &n
	default:
		s, u, ok := integer(arr, i)
		switch {
		case !ok:
			return nil
		case arr.DataType().ID() == arrow.UINT64:
			n := model.Uint(u)
			return &n
		default:
			n := model.Int(s)
			return &n
		}
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	n := model.Float(f)
	return &n
}

// defaultMetrics are the metrics of TopN and time series when none are
// given: traffic for datasets that carry bytes, counts for the others.
func defaultMetrics(dataset string, traffic ...string) []string {
	d, err := schema.Lookup(dataset)
	if err != nil {
		return []string{"count()"} // the engine reports the unknown dataset
	}
	if _, ok := d.Column(schema.FlowBytes); ok {
		return traffic
	}
	return []string{"count()"}
}

// timeSeries runs an aggregate by bucket and the by dimensions (q of
// timeSeriesQuery) and splits it into one series per group.
func (r *Resolver) timeSeries(ctx context.Context, q query.Query, bucket string) (*model.TimeSeriesResult, error) {
	agg, err := r.aggregate(ctx, q)
	if err != nil {
		return nil, err
	}
	out := &model.TimeSeriesResult{Metrics: agg.Metrics, Bucket: bucket, Plan: agg.Plan, Series: []*model.Series{}}
	if len(agg.Dimensions) < 1 {
		return nil, fmt.Errorf("graph: time series without its time dimension") // unreachable: GroupBy starts with it
	}
	out.Dimensions = agg.Dimensions[1:]
	index := map[string]*model.Series{}
	for _, row := range agg.Rows {
		if row.Keys[0] == nil {
			continue // an others row has no bucket; time series have no limit
		}
		t, err := parseRFC3339(*row.Keys[0])
		if err != nil {
			return nil, fmt.Errorf("graph: time bucket %q: %w", *row.Keys[0], err)
		}
		key := seriesKey(row.Keys[1:])
		s := index[key]
		if s == nil {
			s = &model.Series{Keys: row.Keys[1:], Points: []*model.SeriesPoint{}}
			index[key] = s
			out.Series = append(out.Series, s)
		}
		s.Points = append(s.Points, &model.SeriesPoint{Time: t, Values: row.Values})
	}
	return out, nil
}

// seriesKey tells groups apart, null apart from "".
func seriesKey(keys []*string) string {
	var b strings.Builder
	for _, k := range keys {
		if k == nil {
			b.WriteString("\x00n")
		} else {
			b.WriteString("\x00s" + *k)
		}
	}
	return b.String()
}
