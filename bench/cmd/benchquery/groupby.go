package main

// The high-cardinality group-by benchmark (issue 11): the conversation
// TopN and the port-pair group-by over one day, Flowlake at GOMAXPROCS 1
// and 2 against DuckDB (threads 2), each run in a process of its own so
// that each has its own peak RSS (getrusage of the child). Runs are
// interleaved; medians are reported.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/flowlake/flowlake/storage/query"
	"github.com/flowlake/flowlake/storage/schema"
)

var (
	groupbyRuns  = flag.Int("groupby", 0, "run only the high-cardinality group-by benchmark (G1, G2), this many interleaved runs of each engine, each in its own process")
	groupbyChild = flag.String("groupby-child", "", "internal: answer one query in this process (engine,query[,GOMAXPROCS]) and print its time and answer digest")
)

// groupbyQueries are the high-cardinality aggregations over the middle day
// of the lake.
func groupbyQueries(s lakeSpec) []benchQuery {
	w := windowOf(s)
	day := func(q query.Query) query.Query {
		q.Dataset = schema.Flows
		q.From, q.To = rfc(w.day), rfc(w.day.AddDate(0, 0, 1))
		return q
	}
	where := fmt.Sprintf("time >= %s AND time < %s AND dt = DATE '%s'", sqlTime(w.day), sqlTime(w.day.AddDate(0, 0, 1)), w.day.Format(time.DateOnly))
	return []benchQuery{
		{
			id: "G1", title: "top 10 conversations (src_addr, dst_addr) by bytes, one day",
			fl:    day(query.Query{GroupBy: []string{"src_addr", "dst_addr"}, Metrics: []string{"sum(bytes)"}, Limit: topN}),
			sql:   fmt.Sprintf("SELECT src_addr, dst_addr, sum(bytes)::UBIGINT AS b FROM flows WHERE %s GROUP BY src_addr, dst_addr ORDER BY b DESC, src_addr, dst_addr LIMIT %d", where, topN),
			shape: shapeTopN, target: "≤ DuckDB, RSS ≤ DuckDB, ≥ 1.6× on 2 cores",
		},
		{
			id: "G2", title: "top 10 port pairs (src_port, dst_port) by flows, one day",
			fl:    day(query.Query{GroupBy: []string{"src_port", "dst_port"}, Metrics: []string{"count()", "sum(bytes)"}, Limit: topN}),
			sql:   fmt.Sprintf("SELECT src_port, dst_port, count(*) AS n, sum(bytes)::UBIGINT AS b FROM flows WHERE %s GROUP BY src_port, dst_port ORDER BY n DESC, src_port, dst_port LIMIT %d", where, topN),
			shape: shapeTopN, target: "≤ DuckDB, RSS ≤ DuckDB, ≥ 1.6× on 2 cores",
		},
	}
}

// childResult is what a child prints: the timed run's wall time, the
// number of groups and a digest of the answer.
type childResult struct {
	Seconds float64 `json:"seconds"`
	Groups  int     `json:"groups"`
	Digest  string  `json:"digest"`
	Rows    int     `json:"rows"`
}

// groupbyChildMain answers one query once, in a fresh process (the OS
// page cache warm from the previous runs, the engines' own caches cold,
// alike for both) and prints the result.
func groupbyChildMain(ctx context.Context, o options, spec string, w io.Writer) error {
	parts := strings.Split(spec, ",")
	if len(parts) < 2 {
		return fmt.Errorf("-groupby-child %q: want engine,query[,procs]", spec)
	}
	if len(parts) == 3 {
		n, err := strconv.Atoi(parts[2])
		if err != nil {
			return err
		}
		runtime.GOMAXPROCS(n)
	}
	s := lakeSpec{Flows: o.flows, Days: o.days, Seed: o.seed}
	info, err := buildLake(ctx, o.dir, s, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	i := slices.IndexFunc(groupbyQueries(s), func(q benchQuery) bool { return q.id == parts[1] })
	if i < 0 {
		return fmt.Errorf("no query %s", parts[1])
	}
	q := groupbyQueries(s)[i]
	var (
		ans    answer
		took   time.Duration
		groups int
	)
	switch parts[0] {
	case "flowlake":
		fl, err := openFlowlake(info.RawRoot, 0) // the engine's default budget: it spills past it
		if err != nil {
			return err
		}
		defer fl.close()
		var plan query.Plan
		if ans, took, plan, err = fl.run(ctx, q.fl); err != nil {
			return err
		}
		groups = plan.Stats.Groups
	case "duckdb":
		d, err := openDuckDB(ctx, info.Root)
		if err != nil {
			return err
		}
		defer d.close()
		if ans, took, err = d.run(ctx, q.sql); err != nil {
			return err
		}
	default:
		return fmt.Errorf("no engine %s", parts[0])
	}
	h := sha256.New()
	for _, r := range ans {
		fmt.Fprintln(h, strings.Join(r, ","))
	}
	return json.NewEncoder(w).Encode(childResult{Seconds: took.Seconds(), Groups: groups, Digest: hex.EncodeToString(h.Sum(nil))[:16], Rows: len(ans)})
}

// groupbyMain runs the group-by benchmark or one of its children when
// their flags are given; ok is false otherwise.
func groupbyMain(ctx context.Context, o options) (ok bool, err error) {
	switch {
	case *groupbyChild != "":
		return true, groupbyChildMain(ctx, o, *groupbyChild, os.Stdout)
	case *groupbyRuns > 0:
		return true, runGroupby(ctx, o, os.Stdout)
	}
	return false, nil
}

// groupbyRun is one engine's configuration in the benchmark.
type groupbyRun struct {
	name, spec string
	secs       []float64
	rss        []float64 // MiB
	digest     string
	groups     int
}

// runGroupby runs the benchmark: for each query, runs interleaved rounds
// of the three configurations, each a process; answers must agree.
func runGroupby(ctx context.Context, o options, w io.Writer) error {
	s := lakeSpec{Flows: o.flows, Days: o.days, Seed: o.seed}
	if _, err := buildLake(ctx, o.dir, s, slog.New(slog.DiscardHandler)); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "lake: %d flows over %d days (seed %d); one day queried\n", o.flows, o.days, o.seed)
	fmt.Fprintf(w, "| query | engine | median wall | median peak RSS | vs DuckDB (time) | vs DuckDB (RSS) | groups |\n|---|---|---:|---:|---:|---:|---:|\n")
	for _, q := range groupbyQueries(s) {
		runs := []*groupbyRun{
			{name: "Flowlake GOMAXPROCS=1", spec: "flowlake," + q.id + ",1"},
			{name: "Flowlake GOMAXPROCS=2", spec: "flowlake," + q.id + ",2"},
			{name: "DuckDB threads=2", spec: "duckdb," + q.id},
		}
		for range *groupbyRuns {
			for _, r := range runs {
				cmd := exec.CommandContext(ctx, self, "-flows", strconv.FormatInt(o.flows, 10), "-days", strconv.Itoa(o.days),
					"-seed", strconv.FormatInt(o.seed, 10), "-dir", o.dir, "-groupby-child", r.spec)
				cmd.Stderr = os.Stderr
				out, err := cmd.Output()
				if err != nil {
					return fmt.Errorf("%s %s: %w", q.id, r.name, err)
				}
				var res childResult
				if err := json.Unmarshal(out, &res); err != nil {
					return fmt.Errorf("%s %s: %w: %s", q.id, r.name, err, out)
				}
				ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
				if !ok {
					return errors.New("no rusage of the child")
				}
				r.secs = append(r.secs, res.Seconds)
				r.rss = append(r.rss, float64(ru.Maxrss)/1024) // KiB on Linux
				if r.digest != "" && r.digest != res.Digest {
					return fmt.Errorf("%s %s: answers differ between runs", q.id, r.name)
				}
				r.digest, r.groups = res.Digest, max(r.groups, res.Groups)
			}
		}
		duck := runs[2]
		for _, r := range runs {
			if r.digest != duck.digest {
				return fmt.Errorf("%s: %s answers differently from DuckDB (digest %s vs %s)", q.id, r.name, r.digest, duck.digest)
			}
			fmt.Fprintf(w, "| %s | %s | %.3f s | %.0f MiB | %.2f× | %.2f× | %d |\n", q.id, r.name, medianOf(r.secs), medianOf(r.rss),
				medianOf(r.secs)/medianOf(duck.secs), medianOf(r.rss)/medianOf(duck.rss), r.groups)
		}
		fmt.Fprintf(w, "%s: GOMAXPROCS 1→2 speed-up %.2f×; answers identical (digest %s)\n", q.id, medianOf(runs[0].secs)/medianOf(runs[1].secs), duck.digest)
	}
	return nil
}

func medianOf(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
