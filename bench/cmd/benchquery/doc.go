// Command benchquery is the comparative query benchmark of issue 3 (item 7),
// run by `make bench-query`: it builds a lake of generated flows spread over
// 30 days, runs a fixed query set on Flowlake's engine, on DuckDB over the
// same Parquet files and on nfdump over the same flows (exported as NetFlow
// v9 to nfcapd), checks that the engines return the same answers, and prints
// times and ratios.
//
// Two lakes take part. The big one (-flows, default 50 M) is queried by
// Flowlake and DuckDB. Sending tens of millions of flows over UDP to nfcapd
// takes long, so nfdump gets a smaller set (-nfdump-flows, default 5 M): a
// second lake generated the same way, whose flows are also exported to
// nfcapd; Flowlake and DuckDB run the query set on that lake too, so the
// nfdump ratios compare all three on the same flows.
//
// With -flow-rate R (issue 11) there is one lake in the production layout
// instead: its flows start at R flows/s or more over whole 5-minute
// intervals, and nfdump reads them as nfcapd writes them in production, one
// LZ4 file per 5 minutes (nfcapd_production.go says exactly how the files
// are made). The query set is Q1–Q6 and B1–B5 (queries_more.go:
// conversations, port pairs, AS pairs, p95 of bytes by app, distinct
// sources), and the bytes per flow of every store are printed side by side.
//
// Answers must agree or the run fails: Flowlake and DuckDB exactly (every
// row, every value); nfdump on the values of its top-N rows, on totals and
// on the keys, allowing only ties at the cut-off of a top-N.
package main
