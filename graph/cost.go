package graph

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/flowlake/flowlake/storage/query"
)

// Planner plans queries without running them: the engine's EXPLAIN
// (catalog, footers, statistics, bloom filters; no data decoded).
// *query.Engine implements it.
type Planner interface {
	Explain(ctx context.Context, q query.Query) (query.Plan, error)
}

// scanLimit refuses, after validation and before any resolver runs, an
// operation whose fields would run more engine queries than maxQueries,
// or whose queries would scan more than maxRowGroups row groups in total
// as the engine plans them. Complexity counts the answer's size; this
// counts the work behind it, which one alias of topN over a day can make
// thousands of times larger.
type scanLimit struct {
	planner      Planner // nil: the scan is not planned, only queries counted
	maxQueries   int
	maxRowGroups int   // negative: no limit
	maxRows      int64 // negative: no limit
	maxFirst     int
	log          *slog.Logger
}

var (
	_ graphql.HandlerExtension        = scanLimit{}
	_ graphql.OperationContextMutator = scanLimit{}
)

// ExtensionName names the extension in gqlgen's list.
func (scanLimit) ExtensionName() string { return "ScanLimit" }

// Validate accepts every schema.
func (scanLimit) Validate(graphql.ExecutableSchema) error { return nil }

// plannedQuery is one engine query an operation's field would run, and
// how many times (a connection's page, probe and total).
type plannedQuery struct {
	q    query.Query
	runs int
}

// MutateOperationContext counts and plans the operation's engine queries.
func (s scanLimit) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil || oc.Operation.Operation != ast.Query {
		return nil // mutations run no engine query; liveRates has its own bounds
	}
	planned, runs := s.queries(oc)
	if runs > s.maxQueries {
		err := requestError(CodeQueryLimit, "the operation would run %d engine queries, more than the limit of %d; split it into several requests", runs, s.maxQueries)
		err.Extensions["limit"] = s.maxQueries
		return err
	}
	if s.planner == nil || (s.maxRowGroups < 0 && s.maxRows < 0) {
		return nil
	}
	var total scan
	seen := map[string]scan{}
	for _, p := range planned {
		key := fmt.Sprintf("%#v", p.q)
		sc, ok := seen[key]
		if !ok {
			plan, err := s.planner.Explain(ctx, p.q)
			if err != nil {
				if ctx.Err() != nil {
					return requestError(CodeCanceled, "request canceled")
				}
				continue // the query cannot run: its resolver reports why
			}
			sc = scan{rowGroups: plannedRowGroups(plan), rows: plan.Stats.RowsPlanned}
			seen[key] = sc
		}
		total.rowGroups += sc.rowGroups * p.runs
		total.rows += sc.rows * int64(p.runs)
	}
	var err *gqlerror.Error
	switch {
	case s.maxRowGroups >= 0 && total.rowGroups > s.maxRowGroups:
		err = requestError(CodeScanLimit, "the operation would scan %d row groups of the lake, more than the limit of %d; narrow the time range or filter, or send fewer fields per request", total.rowGroups, s.maxRowGroups)
		err.Extensions["limit"] = s.maxRowGroups
	case s.maxRows >= 0 && total.rows > s.maxRows:
		err = requestError(CodeScanLimit, "the operation would scan %d rows of the lake, more than the limit of %d; narrow the time range or filter, or send fewer fields per request", total.rows, s.maxRows)
		err.Extensions["limit"] = s.maxRows
	default:
		return nil
	}
	err.Extensions["rowGroups"] = total.rowGroups
	err.Extensions["rows"] = total.rows
	return err
}

// scan is what planned queries will read.
type scan struct {
	rowGroups int
	rows      int64
}

// plannedRowGroups is what a plan will read: its row groups left after
// pruning by statistics and bloom filters.
func plannedRowGroups(p query.Plan) int {
	return max(p.Stats.RowGroups-p.Stats.RowGroupsPruned-p.Stats.RowGroupsBloom, 0)
}

// queries lists the engine queries of the operation's root fields
// (fragments expanded, @skip and @include applied) and how many runs they
// make in all.
func (s scanLimit) queries(oc *graphql.OperationContext) (out []plannedQuery, runs int) {
	for _, f := range graphql.CollectFields(oc, oc.Operation.SelectionSet, []string{"Query"}) {
		q, ok, err := s.fieldQuery(oc, f)
		if !ok {
			continue
		}
		n := 1
		if _, conn := recordTypeOfField(f.Name); conn {
			n = connectionRuns(oc, f)
		}
		runs += n
		if err == nil {
			out = append(out, plannedQuery{q: q, runs: n})
		}
	}
	return out, runs
}

// fieldQuery is f's engine query.
func (s scanLimit) fieldQuery(oc *graphql.OperationContext, f graphql.CollectedField) (query.Query, bool, error) {
	args, err := s.arguments(oc, f)
	if err != nil {
		return query.Query{}, false, err
	}
	return fieldQuery(f.Name, args, s.maxFirst)
}

// arguments is f's argument map. gqlgen's ArgumentMap panics on values
// that validation let through but it cannot convert; only that call is
// guarded, so a panic in Flowlake's own code still reaches the fuzzers.
// The resolver then reports the argument.
func (s scanLimit) arguments(oc *graphql.OperationContext, f graphql.CollectedField) (args map[string]any, err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Debug("graphql cost: arguments", "field", f.Name, "panic", fmt.Sprint(p))
			args, err = nil, fmt.Errorf("%w: arguments of %s", ErrInvalid, f.Name)
		}
	}()
	return f.ArgumentMap(oc.Variables), nil
}

// connectionRuns is how many engine queries a connection field runs: its
// page, and the hasNextPage probe and the total when selected.
func connectionRuns(oc *graphql.OperationContext, f graphql.CollectedField) int {
	n := 1
	var typ []string
	if f.Definition != nil && f.Definition.Type != nil {
		typ = []string{f.Definition.Type.Name()}
	}
	for _, sub := range graphql.CollectFields(oc, f.Selections, typ) {
		if sub.Name == "pageInfo" || sub.Name == "totalCount" {
			n++
		}
	}
	return n
}
