package main

import (
	"fmt"

	"github.com/flowlake/flowlake/storage/query"
)

// quantileQueries are the exact-quantile questions of issue 11: p95 of
// bytes per application over the whole lake, against DuckDB's
// quantile_disc, whose definition (the value at rank ⌈P·n⌉ of the sorted
// values) is Flowlake's nearest-rank percentile. nfdump has no quantile,
// so it is not asked.
func quantileQueries(s lakeSpec, all func(query.Query) query.Query) []benchQuery {
	return []benchQuery{{
		id: "QP95", title: fmt.Sprintf("exact p95(bytes) by app, %d days", s.Days),
		fl: all(query.Query{GroupBy: []string{"app"}, Metrics: []string{"p95(bytes)"}}),
		// quantile_disc keeps the column's type (UBIGINT): its text is
		// what Flowlake prints for the same whole number.
		sql:       "SELECT app, quantile_disc(bytes, 0.95) AS p FROM flows GROUP BY app ORDER BY p DESC, app",
		nfdumpCmd: "none: nfdump has no quantile",
		shape:     shapeAll, target: "≤ DuckDB",
	}}
}
