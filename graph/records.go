package graph

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/flowlake/flowlake/graph/model"
	"github.com/flowlake/flowlake/storage/meta"
	"github.com/flowlake/flowlake/storage/query"
	"github.com/flowlake/flowlake/storage/schema"
)

// listArgs are the arguments every record connection takes.
type listArgs struct {
	from, to, timeZone, filter *string
	orderBy                    []string
	first                      *int
	after                      *string
}

// pageCursor is a connection cursor: the engine's listing cursor of a
// page boundary and how many rows after it this position is. The engine
// only has a cursor after the last row of a page; a row inside a page is
// addressed as "that page's start, skip k rows" (docs/graphql.md).
type pageCursor struct {
	Engine string `json:"c,omitempty"`
	Skip   int    `json:"s,omitempty"`
}

const cursorPrefix = "gc1."

func (c pageCursor) encode() string {
	b, _ := json.Marshal(c) // a struct of a string and an int always encodes
	return cursorPrefix + base64.RawURLEncoding.EncodeToString(b)
}

func decodePageCursor(s string) (pageCursor, error) {
	raw, ok := strings.CutPrefix(s, cursorPrefix)
	if !ok {
		return pageCursor{}, fmt.Errorf("%w: after: not a cursor of this API", ErrInvalid)
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	var c pageCursor
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.Skip < 0 {
		return pageCursor{}, fmt.Errorf("%w: after: not a cursor of this API", ErrInvalid)
	}
	return c, nil
}

// page is one answer of a record connection.
type page[N, E any] struct {
	edges []*E
	nodes []*N
	info  *model.PageInfo
	total int64
	plan  *model.QueryPlan
}

// listConn answers a record connection: a page of dataset's rows decoded
// into N (the dataset's generated model type), with their edges, page
// info, total and plan. Only the columns the selection asks for are read;
// the probe for hasNextPage and the total run only when selected.
func listConn[N, E any](ctx context.Context, r *Resolver, dataset string, a listArgs, edge func(cursor string, node *N) *E) (*page[N, E], error) {
	if _, err := require(ctx, meta.PermAnalysisRead); err != nil {
		return nil, err
	}
	rt, ok := recordTypeOf(dataset)
	if !ok {
		return nil, fmt.Errorf("graph: dataset %s has no record type", dataset) // unreachable: fields are generated from the datasets
	}
	q, cur, err := listQuery(dataset, a, r.cfg.MaxFirst)
	if err != nil {
		return nil, err
	}
	cols, sel := requestedColumns(ctx, rt)
	q.Columns = cols
	res, err := r.run(ctx, q)
	if err != nil {
		return nil, err
	}
	defer res.Release()
	nodes, err := decodeRows[N](res, rt, cur.Skip)
	if err != nil {
		return nil, err
	}
	edges := make([]*E, len(nodes))
	for k, n := range nodes {
		c := pageCursor{Engine: cur.Engine, Skip: cur.Skip + k + 1}
		if k == len(nodes)-1 && res.Cursor != "" {
			c = pageCursor{Engine: res.Cursor}
		}
		edges[k] = edge(c.encode(), n)
	}
	info := &model.PageInfo{HasPreviousPage: a.after != nil}
	if len(nodes) > 0 {
		start, end := pageCursor{Engine: cur.Engine, Skip: cur.Skip + 1}.encode(), pageCursor{Engine: cur.Engine, Skip: cur.Skip + len(nodes)}.encode()
		if res.Cursor != "" {
			end = pageCursor{Engine: res.Cursor}.encode()
		}
		info.StartCursor, info.EndCursor = &start, &end
	}
	// The probe and the total ask about the same time range as the page,
	// not one a relative "-1h" resolves to a moment later.
	q.From, q.To = res.Plan.From.UTC().Format(time.RFC3339Nano), res.Plan.To.UTC().Format(time.RFC3339Nano)
	if res.Cursor != "" && sel.pageInfo {
		// The engine's cursor says rows may follow; look for one.
		q.Cursor, q.Limit, q.Columns = res.Cursor, 1, []string{schema.ColTime}
		more, err := r.run(ctx, q)
		if err != nil {
			return nil, err
		}
		info.HasNextPage = more.NumRows() > 0
		more.Release()
	}
	p := &page[N, E]{edges: edges, nodes: nodes, info: info, plan: planOf(res.Plan)}
	if sel.totalCount {
		cq := query.Query{Dataset: q.Dataset, From: q.From, To: q.To, TimeZone: q.TimeZone, Filter: q.Filter, Metrics: []string{"count()"}}
		cres, err := r.run(ctx, cq)
		if err != nil {
			return nil, err
		}
		defer cres.Release()
		if len(cres.Records) == 1 && cres.Records[0].NumRows() == 1 {
			p.total, _, _ = integer(cres.Records[0].Column(0), 0)
		}
	}
	return p, nil
}

// selection says which costly parts of a connection a request selects.
type selection struct{ pageInfo, totalCount bool }

// requestedColumns lists the columns the connection's selection reads
// (nodes, edges.node), in dataset order, and what else it selects.
func requestedColumns(ctx context.Context, rt recordType) (cols []string, sel selection) {
	oc := graphql.GetOperationContext(ctx)
	want := map[string]bool{}
	addNode := func(sel []graphql.CollectedField) {
		for _, f := range sel {
			want[f.Name] = true
		}
	}
	// Type conditions of fragments name the connection, edge and record
	// types; fields under them count.
	conn, edge, node := []string{rt.typeName + "Connection"}, []string{rt.typeName + "Edge"}, []string{rt.typeName}
	for _, f := range graphql.CollectFieldsCtx(ctx, conn) {
		switch f.Name {
		case "nodes":
			addNode(graphql.CollectFields(oc, f.Selections, node))
		case "edges":
			for _, ef := range graphql.CollectFields(oc, f.Selections, edge) {
				if ef.Name == "node" {
					addNode(graphql.CollectFields(oc, ef.Selections, node))
				}
			}
		case "pageInfo":
			sel.pageInfo = true
		case "totalCount":
			sel.totalCount = true
		}
	}
	for _, f := range rt.fields {
		if want[f.name] {
			cols = append(cols, f.column)
		}
	}
	if len(cols) == 0 {
		cols = []string{schema.ColTime} // a page of cursors only
	}
	return cols, sel
}

// fieldIndexes maps a model type's GraphQL field names (its json tags) to
// struct field indexes.
var fieldIndexes sync.Map // reflect.Type → map[string]int

func fieldIndex(t reflect.Type) map[string]int {
	if m, ok := fieldIndexes.Load(t); ok {
		return m.(map[string]int)
	}
	m := map[string]int{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		m[name] = i
	}
	fieldIndexes.Store(t, m)
	return m
}

// decodeRows turns a listing's records into model values, skipping the
// first skip rows.
func decodeRows[N any](res *query.Result, rt recordType, skip int) ([]*N, error) {
	t := reflect.TypeFor[N]()
	idx := fieldIndex(t)
	byColumn := map[string]string{}
	for _, f := range rt.fields {
		byColumn[f.column] = f.name
	}
	var out []*N
	row := 0
	for _, rec := range res.Records {
		targets := make([]int, rec.NumCols())
		for c := range targets {
			name := rec.ColumnName(c)
			i, ok := idx[byColumn[name]]
			if !ok {
				return nil, fmt.Errorf("graph: column %s of %s has no field in %s", name, rt.dataset.Name, t)
			}
			targets[c] = i
		}
		for i := range int(rec.NumRows()) {
			if row++; row <= skip {
				continue
			}
			n := new(N)
			v := reflect.ValueOf(n).Elem()
			for c, fi := range targets {
				if err := setField(v.Field(fi), rec.Column(c), i); err != nil {
					return nil, fmt.Errorf("graph: %s.%s: %w", rt.dataset.Name, rec.ColumnName(c), err)
				}
			}
			out = append(out, n)
		}
	}
	return out, nil
}

// setField stores row i of arr in v (a value or, for nullable fields, a
// pointer left nil for null).
func setField(v reflect.Value, arr arrow.Array, i int) error {
	if arr.IsNull(i) {
		return nil
	}
	if v.Kind() == reflect.Pointer {
		p := reflect.New(v.Type().Elem())
		v.Set(p)
		v = p.Elem()
	}
	switch a := arr.(type) {
	case *array.String:
		v.SetString(a.Value(i))
		return nil
	case *array.Boolean:
		v.SetBool(a.Value(i))
		return nil
	case *array.Timestamp:
		v.Set(reflect.ValueOf(time.UnixMicro(int64(a.Value(i))).UTC()))
		return nil
	}
	s, u, ok := integer(arr, i)
	if !ok {
		return fmt.Errorf("unexpected arrow type %s", arr.DataType())
	}
	switch v.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(s)
	case reflect.Uint, reflect.Uint64, reflect.Uint32:
		v.SetUint(u)
	default:
		return fmt.Errorf("cannot store %s in %s", arr.DataType(), v.Type())
	}
	return nil
}

// integer reads row i of an integer array as signed and unsigned.
func integer(arr arrow.Array, i int) (int64, uint64, bool) {
	switch a := arr.(type) {
	case *array.Int64:
		return a.Value(i), uint64(a.Value(i)), true
	case *array.Int32:
		return int64(a.Value(i)), uint64(a.Value(i)), true
	case *array.Uint64:
		return int64(a.Value(i)), a.Value(i), true
	case *array.Uint32:
		return int64(a.Value(i)), uint64(a.Value(i)), true
	case *array.Uint16:
		return int64(a.Value(i)), uint64(a.Value(i)), true
	case *array.Uint8:
		return int64(a.Value(i)), uint64(a.Value(i)), true
	}
	return 0, 0, false
}

// planOf converts the engine's plan.
func planOf(p query.Plan) *model.QueryPlan {
	return &model.QueryPlan{
		Dataset: p.Dataset, From: p.From, To: p.To, Filter: p.Filter, Shape: p.Shape, Route: p.Route,
		Columns: orEmpty(p.Columns), GroupBy: orEmpty(p.GroupBy), Metrics: orEmpty(p.Metrics), Order: orEmpty(p.Order),
		Files: p.Stats.Files, RowGroups: p.Stats.RowGroups, RowGroupsScanned: p.Stats.RowGroupsScanned,
		RowsScanned: p.Stats.RowsScanned, RowsMatched: p.Stats.RowsMatched, BytesRead: p.Stats.BytesRead,
		ElapsedMs: float64(p.Stats.Elapsed) / float64(time.Millisecond),
	}
}

func orEmpty[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}
