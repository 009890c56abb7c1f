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
	segments  int64 // the flows files as the edges wrote them, before compaction; 0: not measured
	// nfcapdLZ4 is the production store as nfcapd wrote it (-y), and
	// nfRewrite the bytes per flow of its first file rewritten by nfdump
	// in each other compression nfdump 1.7.1 has (0: not the production
	// layout).
	nfcapdLZ4 int64
	nfRewrite []nfRewrite
}

// nfRewrite is one nfcapd file rewritten by nfdump -r … -w with a
// compression flag.
type nfRewrite struct {
	name, flag string
	flows      int64
	bytes      int64
}

// measureSizes writes the tier's flows as DuckDB's zstd Parquet and, when
// the tier has nfcapd files, as one nfdump LZ4 file, and returns the sizes
// beside the compacted lake's. The copies go under dir and are removed.
func measureSizes(ctx context.Context, dir string, t *tierResult) (res sizeResult, err error) {
	res = sizeResult{rows: t.info.Rows, flowlake: t.info.DiskBytes, segments: t.info.SegmentBytes}
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
	if len(t.nf.Bins) > 0 {
		// The production store is nfcapd's LZ4 already; the other
		// compressions are measured on its first file, rewritten.
		for _, b := range t.nf.Bins {
			res.nfcapdLZ4 += b.Size
		}
		first := filepath.Join(t.nf.Root, t.nf.Bins[0].Path)
		for _, c := range []struct{ name, flag string }{{"uncompressed", ""}, {"LZO", "-z"}, {"LZ4", "-y"}, {"BZ2", "-j"}} {
			out := filepath.Join(tmp, "rewrite-"+c.name)
			args := []string{"-r", first, "-w", out}
			if c.flag != "" {
				args = append(args, c.flag)
			}
			if _, err := runNfdump(ctx, args...); err != nil {
				return res, err
			}
			n, err := fileSize(out)
			if err != nil {
				return res, err
			}
			res.nfRewrite = append(res.nfRewrite, nfRewrite{name: c.name, flag: c.flag, flows: t.nf.Bins[0].Flows, bytes: n})
		}
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
	if s.segments > 0 {
		fmt.Fprintf(w, "| Flowlake, edge segments (before compaction) | %d | %.2f | %.2f | |\n", s.segments, per(s.segments), float64(s.flowlake)/float64(s.segments))
	}
	r := float64(s.flowlake) / float64(s.duckdb)
	fmt.Fprintf(w, "| DuckDB Parquet zstd | %d | %.2f | %.2f | ≤ 0.6 %s |\n", s.duckdb, per(s.duckdb), r, ok(r <= 0.6))
	if s.nfcapdLZ4 > 0 {
		r := float64(s.flowlake) / float64(s.nfcapdLZ4)
		fmt.Fprintf(w, "| nfdump LZ4, as nfcapd -y wrote it (production layout) | %d | %.2f | %.2f | ≤ 0.5 %s |\n", s.nfcapdLZ4, per(s.nfcapdLZ4), r, ok(r <= 0.5))
		for _, x := range s.nfRewrite {
			bpf := float64(x.bytes) / float64(x.flows)
			fmt.Fprintf(w, "| nfdump %s (first file rewritten: nfdump -r … -w … %s) | %d of %s flows | %.2f | %.2f | |\n",
				x.name, x.flag, x.bytes, thousands(x.flows), bpf, per(s.flowlake)/bpf)
		}
		fmt.Fprintln(w, "| nfdump ZSTD | n/a | n/a | n/a | nfdump 1.7.1 as Debian packages it has no ZSTD (-z LZO, -y LZ4, -j BZ2) |")
	}
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
