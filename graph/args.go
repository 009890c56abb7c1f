package graph

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/flowlake/flowlake/storage/query"
)

// The engine queries of the data fields are built here, once for the
// resolvers (from gqlgen's typed arguments) and once for the cost check
// (from the operation's argument maps, before anything runs): both must
// plan the same query.

// aggArgs are the arguments of aggregate, topN and timeSeries.
type aggArgs struct {
	dataset                    string
	from, to, timeZone, filter *string
	groupBy, metrics, orderBy  []string
	limit                      *int
	others                     *bool
	bucket                     string // timeSeries
}

func (a aggArgs) base() query.Query {
	return query.Query{Dataset: a.dataset, From: deref(a.from, ""), To: deref(a.to, ""), TimeZone: deref(a.timeZone, ""),
		Filter: deref(a.filter, ""), GroupBy: a.groupBy, Metrics: a.metrics, OrderBy: a.orderBy, Others: deref(a.others, false)}
}

// aggregateQuery is the query of aggregate; an aggregate with neither
// dimensions nor metrics counts rows (it is never a listing).
func aggregateQuery(a aggArgs) query.Query {
	q := a.base()
	q.Limit = deref(a.limit, defaultAggLimit)
	if len(q.GroupBy) == 0 && len(q.Metrics) == 0 {
		q.Metrics = []string{"count()"}
	}
	return q
}

// topNQuery is the query of topN (groupBy holds by).
func topNQuery(a aggArgs) (query.Query, error) {
	if len(a.groupBy) == 0 {
		return query.Query{}, fmt.Errorf("%w: by: name at least one dimension", ErrInvalid)
	}
	if len(a.metrics) == 0 {
		a.metrics = defaultMetrics(a.dataset, "sum(bytes)", "count()")
	}
	a.orderBy = nil
	q := a.base()
	q.Limit = deref(a.limit, defaultTopNLimit)
	return q, nil
}

// timeSeriesQuery is the query of timeSeries (groupBy holds by): grouped
// by the bucket first, every group.
func timeSeriesQuery(a aggArgs) (query.Query, string) {
	if len(a.metrics) == 0 {
		a.metrics = defaultMetrics(a.dataset, "bps()", "pps()")
	}
	bucket := strings.TrimPrefix(strings.TrimSpace(a.bucket), "time/")
	a.groupBy = append([]string{"time/" + bucket}, a.groupBy...)
	a.orderBy, a.others = nil, nil
	return a.base(), bucket
}

// listQuery is the query of a record connection's page, without its
// columns (the selection decides them).
func listQuery(dataset string, a listArgs, maxFirst int) (query.Query, pageCursor, error) {
	first := deref(a.first, defaultFirst)
	if first < 1 || first > maxFirst {
		return query.Query{}, pageCursor{}, fmt.Errorf("%w: first: a page holds 1 to %d rows, not %d", ErrInvalid, maxFirst, first)
	}
	var cur pageCursor
	if a.after != nil {
		var err error
		if cur, err = decodePageCursor(*a.after); err != nil {
			return query.Query{}, pageCursor{}, err
		}
	}
	if cur.Skip+first > query.MaxPageSize {
		return query.Query{}, pageCursor{}, fmt.Errorf("%w: after: this cursor is too far into its page for first %d; continue from a page's end cursor", ErrInvalid, first)
	}
	return query.Query{
		Dataset: dataset, From: deref(a.from, ""), To: deref(a.to, ""), TimeZone: deref(a.timeZone, ""),
		Filter: deref(a.filter, ""), OrderBy: a.orderBy, Cursor: cur.Engine, Limit: cur.Skip + first,
	}, cur, nil
}

// fieldQuery is the engine query a Query field would run first, from
// its arguments as the operation gives them (gqlgen's ArgumentMap:
// literals, variables and defaults); ok is false for fields that run
// none. Arguments of the wrong type are errors here, as they would be
// in the resolver.
func fieldQuery(field string, args map[string]any, maxFirst int) (q query.Query, ok bool, err error) {
	var a argReader
	switch field {
	case "aggregate", "topN", "timeSeries":
		ag := aggArgs{
			dataset: a.str(args, "dataset"), from: a.strp(args, "from"), to: a.strp(args, "to"),
			timeZone: a.strp(args, "timeZone"), filter: a.strp(args, "filter"), metrics: a.strs(args, "metrics"),
			limit: a.intp(args, "limit"), others: a.boolp(args, "others"),
		}
		switch field {
		case "aggregate":
			ag.groupBy, ag.orderBy = a.strs(args, "groupBy"), a.strs(args, "orderBy")
			q = aggregateQuery(ag)
		case "topN":
			ag.groupBy = a.strs(args, "by")
			if a.err == nil {
				q, err = topNQuery(ag)
			}
		default:
			ag.groupBy, ag.bucket = a.strs(args, "by"), a.str(args, "bucket")
			q, _ = timeSeriesQuery(ag)
		}
	default:
		rt, found := recordTypeOfField(field)
		if !found {
			return query.Query{}, false, nil
		}
		la := listArgs{from: a.strp(args, "from"), to: a.strp(args, "to"), timeZone: a.strp(args, "timeZone"),
			filter: a.strp(args, "filter"), orderBy: a.strs(args, "orderBy"), first: a.intp(args, "first"), after: a.strp(args, "after")}
		if a.err == nil {
			q, _, err = listQuery(rt.dataset.Name, la, maxFirst)
		}
	}
	if a.err != nil {
		return query.Query{}, true, a.err
	}
	return q, true, err
}

// recordTypeOfField returns the record type a Query field lists.
func recordTypeOfField(field string) (recordType, bool) {
	for _, rt := range recordTypes() {
		if rt.field == field {
			return rt, true
		}
	}
	return recordType{}, false
}

// argReader reads typed arguments from an argument map, keeping the
// first error.
type argReader struct{ err error }

func (a *argReader) fail(name string, v any, want string) {
	if a.err == nil {
		a.err = fmt.Errorf("%w: %s: %T is not %s", ErrInvalid, name, v, want)
	}
}

func (a *argReader) strp(args map[string]any, name string) *string {
	switch v := args[name].(type) {
	case nil:
		return nil
	case string:
		return &v
	default:
		a.fail(name, v, "a string")
		return nil
	}
}

func (a *argReader) str(args map[string]any, name string) string {
	return deref(a.strp(args, name), "")
}

func (a *argReader) strs(args map[string]any, name string) []string {
	switch v := args[name].(type) {
	case nil:
		return nil
	case string: // input coercion: a single value is a list of one
		return []string{v}
	case []string:
		return v
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				a.fail(name, e, "a list of strings")
				return nil
			}
			out = append(out, s)
		}
		return out
	default:
		a.fail(name, v, "a list of strings")
		return nil
	}
}

func (a *argReader) intp(args map[string]any, name string) *int {
	var n int64
	switch v := args[name].(type) {
	case nil:
		return nil
	case int:
		n = int64(v)
	case int32:
		n = int64(v)
	case int64:
		n = v
	case float64:
		if v != math.Trunc(v) || math.Abs(v) > math.MaxInt32 {
			a.fail(name, v, "an Int")
			return nil
		}
		n = int64(v)
	case json.Number:
		var err error
		if n, err = v.Int64(); err != nil {
			a.fail(name, v, "an Int")
			return nil
		}
	default:
		a.fail(name, v, "an Int")
		return nil
	}
	if n < math.MinInt32 || n > math.MaxInt32 {
		a.fail(name, n, "an Int of 32 bits")
		return nil
	}
	i := int(n)
	return &i
}

func (a *argReader) boolp(args map[string]any, name string) *bool {
	switch v := args[name].(type) {
	case nil:
		return nil
	case bool:
		return &v
	default:
		a.fail(name, v, "a Boolean")
		return nil
	}
}
