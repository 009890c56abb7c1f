// Package query owns Flowlake's query engine: the filter language, planning,
// scanning and aggregation into Arrow record batches. This first part holds
// only the filter language: a lexer and recursive-descent parser for
// nfdump-style filters (docs/query-language.md) that resolves every
// predicate to concrete columns of a dataset. Evaluation and planning come
// later and consume the Expr trees built here.
package query
