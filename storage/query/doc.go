// Package query is Flowlake's query engine: one query shape (Query) for the
// CLI, REST, GraphQL, reports and alerts, answered from the lake into Arrow
// record batches.
//
// A query compiles against its dataset (the nfdump-style filter language of
// docs/query-language.md, dimensions, metrics, order). Planning reads only
// metadata: the catalog's segments in the time range, each file's footer,
// row-group statistics and bloom filters, and the page index, keeping the
// row ranges that may match. Workers (GOMAXPROCS) then decode just the
// needed columns of those ranges straight from Parquet pages into typed
// vectors — byte columns as dictionary ids — evaluate the filter
// vectorised, and aggregate into per-worker hash tables merged at the end,
// or keep a listing's best rows in a bounded heap. Queries honour
// cancellation, deadlines and a memory budget. docs/query.md has the
// details and the decisions.
package query
