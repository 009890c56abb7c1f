// Package duckdb checks Flowlake's lake against DuckDB, a peer engine that
// reads Hive-partitioned Parquet in place: what DuckDB computes over the
// files must equal what Flowlake wrote. It lives in the bench module because
// DuckDB needs cgo and a large native library, which the main module avoids.
package duckdb
