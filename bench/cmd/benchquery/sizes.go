package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// sizeResult is the disk size of the same flows in each store.
type sizeResult struct {
	rows      int64
	flowlake  int64 // compacted lake: the flows Parquet files
	duckdb    int64 // DuckDB's COPY … (FORMAT parquet, COMPRESSION zstd) of the same rows
	nfdumpLZ4 int64 // nfdump -y (LZ4) of the same flows in one file; 0: nfdump not run
}

// measureSizes writes the tier's flows as DuckDB's zstd Parquet and, when
// the tier has nfcapd files, as one nfdump LZ4 file, and returns the sizes
// beside the compacted lake's. The copies go under dir and are removed.
func measureSizes(ctx context.Context, dir string, t *tierResult) (res sizeResult, err error) {
	res = sizeResult{rows: t.info.Rows, flowlake: t.info.DiskBytes}
	tmp, err := os.MkdirTemp(dir, "sizes-")
	if err != nil {
		return res, err
	}
	defer func() { err = errors.Join(err, os.RemoveAll(tmp)) }()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return res, err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	out := filepath.Join(tmp, "flows.parquet")
	glob := filepath.ToSlash(filepath.Join(t.info.RawRoot, flowsGlob))
	stmt := fmt.Sprintf("COPY (SELECT * FROM read_parquet('%s', hive_partitioning = false)) TO '%s' (FORMAT parquet, COMPRESSION zstd)",
		glob, filepath.ToSlash(out))
	if _, err := db.ExecContext(ctx, stmt); err != nil {
		return res, fmt.Errorf("duckdb %s: %w", stmt, err)
	}
	if res.duckdb, err = fileSize(out); err != nil {
		return res, err
	}
	if t.nf == nil {
		return res, nil
	}
	nf := filepath.Join(tmp, "flows.nf")
	if _, err := runNfdump(ctx, "-R", t.nf.Root, "-y", "-w", nf); err != nil {
		return res, err
	}
	if res.nfdumpLZ4, err = fileSize(nf); err != nil {
		return res, err
	}
	return res, nil
}

func fileSize(path string) (int64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// reportSizes prints bytes per flow row of each store and the ratios the
// issue's acceptance names (≤ 14 B, ≤ 0.6× DuckDB, ≤ 0.5× nfdump LZ4).
func reportSizes(w io.Writer, s sizeResult) {
	per := func(b int64) float64 { return float64(b) / float64(s.rows) }
	fmt.Fprintf(w, "\n### Bytes per flow row (%s rows, the same flows in each store)\n\n", thousands(s.rows))
	fmt.Fprintln(w, "| store | bytes | bytes/row | Flowlake / store | target |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---|")
	fmt.Fprintf(w, "| Flowlake, compacted | %d | %.2f | 1.00 | ≤ 14 B/row %s |\n", s.flowlake, per(s.flowlake), ok(per(s.flowlake) <= 14))
	r := float64(s.flowlake) / float64(s.duckdb)
	fmt.Fprintf(w, "| DuckDB Parquet zstd | %d | %.2f | %.2f | ≤ 0.6 %s |\n", s.duckdb, per(s.duckdb), r, ok(r <= 0.6))
	if s.nfdumpLZ4 > 0 {
		r := float64(s.flowlake) / float64(s.nfdumpLZ4)
		fmt.Fprintf(w, "| nfdump LZ4 | %d | %.2f | %.2f | ≤ 0.5 %s |\n", s.nfdumpLZ4, per(s.nfdumpLZ4), r, ok(r <= 0.5))
	}
	fmt.Fprintln(w, strings.TrimSpace(`
DuckDB: COPY of the same rows (read from the compacted files) TO parquet with COMPRESSION zstd, its defaults otherwise.
nfdump: nfdump -R <nfcapd files> -y -w <one file> (LZ4).`))
}

func ok(b bool) string {
	if b {
		return "met"
	}
	return "MISSED"
}
