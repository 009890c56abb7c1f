package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/big"
	"net/netip"
	"path/filepath"
	"strconv"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // the DuckDB driver

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/query"
)

// flowlakeEngine is Flowlake's query engine over one lake.
type flowlakeEngine struct {
	l *lake.Lake
	e *query.Engine
}

// openFlowlake opens the lake at root; memory > 0 sets the engine's
// per-query budget and pool (0: the engine's defaults).
func openFlowlake(root string, memory int64) (*flowlakeEngine, error) {
	cfg := lake.DefaultConfig()
	cfg.Root = root
	l, err := lake.Open(cfg, nil)
	if err != nil {
		return nil, err
	}
	return &flowlakeEngine{l: l, e: query.New(l, query.Config{MemoryBudget: memory, MemoryPool: memory}, nil)}, nil
}

func (f *flowlakeEngine) close() error { return f.l.Close() }

// run answers q; the answer's text rows come after the timed part.
func (f *flowlakeEngine) run(ctx context.Context, q query.Query) (answer, time.Duration, query.Plan, error) {
	start := time.Now()
	res, err := f.e.Run(ctx, q)
	took := time.Since(start)
	if err != nil {
		return nil, took, query.Plan{}, err
	}
	defer res.Release()
	rows := res.Rows()
	return answer(rows[1:]), took, res.Plan, nil
}

// duckEngine is DuckDB reading the lake's Parquet files in place through a
// view over read_parquet with Hive partitioning.
type duckEngine struct {
	db *sql.DB
}

func openDuckDB(ctx context.Context, root string) (*duckEngine, error) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, err
	}
	// One connection: the settings and the view belong to it.
	db.SetMaxOpenConns(1)
	glob := filepath.ToSlash(filepath.Join(root, flowsGlob))
	for _, stmt := range []string{
		"SET TimeZone = 'UTC'",
		// Keep Parquet footers between queries, as Flowlake keeps its catalog.
		"SET enable_object_cache = true",
		"CREATE VIEW flows AS SELECT * FROM read_parquet('" + glob + "', hive_partitioning = true)",
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			db.Close()
			return nil, fmt.Errorf("duckdb %s: %w", stmt, err)
		}
	}
	return &duckEngine{db: db}, nil
}

func (d *duckEngine) close() error { return d.db.Close() }

// version is DuckDB's library version.
func (d *duckEngine) version(ctx context.Context) string {
	var v string
	if err := d.db.QueryRowContext(ctx, "SELECT version()").Scan(&v); err != nil {
		return "unknown"
	}
	return v
}

// threads is DuckDB's worker count.
func (d *duckEngine) threads(ctx context.Context) string {
	var v string
	if err := d.db.QueryRowContext(ctx, "SELECT current_setting('threads')").Scan(&v); err != nil {
		return "?"
	}
	return v
}

// run answers stmt; fetching the rows is part of the timed work (as it is
// for Flowlake, whose result holds its rows).
func (d *duckEngine) run(ctx context.Context, stmt string) (answer, time.Duration, error) {
	start := time.Now()
	rows, err := d.db.QueryContext(ctx, stmt)
	if err != nil {
		return nil, 0, fmt.Errorf("duckdb: %w\n%s", err, stmt)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, 0, err
	}
	var raw [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, 0, err
		}
		raw = append(raw, vals)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("duckdb: %w\n%s", err, stmt)
	}
	took := time.Since(start)
	ans := make(answer, len(raw))
	for i, r := range raw {
		ans[i] = make([]string, len(r))
		for j, v := range r {
			s, err := duckText(v)
			if err != nil {
				return nil, took, fmt.Errorf("duckdb column %s: %w", cols[j], err)
			}
			ans[i][j] = s
		}
	}
	return ans, took, nil
}

// duckText formats a DuckDB value as Flowlake formats it.
func duckText(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case []byte:
		if len(x) != 16 {
			return "", fmt.Errorf("blob of %d bytes, want a 16-byte address", len(x))
		}
		return netip.AddrFrom16([16]byte(x)).Unmap().String(), nil
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano), nil
	case string:
		return x, nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case int32:
		return strconv.FormatInt(int64(x), 10), nil
	case int16:
		return strconv.FormatInt(int64(x), 10), nil
	case int8:
		return strconv.FormatInt(int64(x), 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case uint32:
		return strconv.FormatUint(uint64(x), 10), nil
	case uint16:
		return strconv.FormatUint(uint64(x), 10), nil
	case uint8:
		return strconv.FormatUint(uint64(x), 10), nil
	case *big.Int:
		return x.String(), nil
	case float64:
		return strconv.FormatFloat(x, 'g', 10, 64), nil
	}
	return "", fmt.Errorf("unexpected type %T", v)
}
