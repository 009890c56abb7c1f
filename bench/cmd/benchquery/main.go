package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flowlake/flowlake/storage/query"
	"github.com/flowlake/flowlake/storage/schema"
)

type options struct {
	flows, nfFlows int64
	days           int
	seed           int64
	dir            string
	runs, nfRuns   int
	rate           float64
	cpuProfile     string
	noNfdump       bool
	buildOnly      bool
	only           string  // comma-separated query ids; empty: all
	flowRate       float64 // > 0: the production layout (nfcapd_production.go)
	flMemory       int64   // Flowlake's per-query memory budget; 0: the engine's default
	noSizes        bool    // skip the bytes-per-flow measurement
}

func main() {
	var o options
	flag.Int64Var(&o.flows, "flows", 50_000_000, "flows in the lake Flowlake and DuckDB query")
	flag.Int64Var(&o.nfFlows, "nfdump-flows", 5_000_000, "flows of the second lake, also sent to nfcapd, on which all three engines run (0: the same as -flows)")
	flag.IntVar(&o.days, "days", 30, "days the flows span")
	flag.Int64Var(&o.seed, "seed", 1, "generator seed")
	flag.StringVar(&o.dir, "dir", filepath.Join(os.TempDir(), "flowlake-benchquery"), "where lakes and nfcapd files are built; existing ones of the same size are reused")
	flag.IntVar(&o.runs, "runs", 5, "timed runs per query and engine (after one warm-up run); the median is reported")
	flag.IntVar(&o.nfRuns, "nfdump-runs", 3, "timed runs per query for nfdump")
	flag.Float64Var(&o.rate, "rate", 100_000, "flows/s sent to nfcapd")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "directory for a CPU profile of Flowlake per query (big lake), <dir>/Q1.pprof …")
	flag.BoolVar(&o.noNfdump, "no-nfdump", false, "skip nfdump")
	flag.BoolVar(&o.buildOnly, "build-only", false, "build the lakes and nfcapd files, run no query")
	flag.StringVar(&o.only, "queries", "", "run only these queries (comma-separated ids, such as Q2,Q4); all by default")
	flag.BoolVar(&o.noSizes, "no-sizes", false, "skip the bytes-per-flow table (it rewrites the flows in DuckDB and nfdump: minutes at 10 M flows)")
	flag.Int64Var(&o.flMemory, "flowlake-memory", 0, "Flowlake's per-query memory budget and pool in bytes (0: the engine's default, 256 MiB a query)")
	flag.Float64Var(&o.flowRate, "flow-rate", 0, "> 0: the production layout: the flows start at this rate (flows/s) or a little more, in whole 5-minute nfcapd files (-days is then unused); 0: spread over -days")
	flag.Parse()
	if o.nfFlows == 0 {
		o.nfFlows = o.flows
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o, os.Stdout, log); err != nil {
		fmt.Fprintln(os.Stderr, "benchquery:", err)
		os.Exit(1)
	}
}

// tierResult is one lake's measurements.
type tierResult struct {
	info    lakeInfo
	nf      *nfInfo
	host    netip.Addr
	results []queryResult
}

type queryResult struct {
	q                *benchQuery
	fl, duck, nfdump time.Duration // medians: Flowlake on raw segments, DuckDB, nfdump (0: not run)
	planned          time.Duration // Flowlake as planned (a rollup when one answers)
	route            string        // the planner's route line
	routed           bool          // a rollup answered
	plan             query.Plan    // of the raw run
	rows             int
}

func run(ctx context.Context, o options, w io.Writer, log *slog.Logger) error {
	if o.days < 2 || o.runs < 1 || o.nfRuns < 1 || o.flows < 1000 {
		return errors.New("need -days ≥ 2, -runs ≥ 1, -nfdump-runs ≥ 1, -flows ≥ 1000")
	}
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return err
	}
	big := lakeSpec{Flows: o.flows, Days: o.days, Seed: o.seed, Rate: o.flowRate}
	if _, err := selectQueries(buildQueries(big, netip.Addr{}), o.only); err != nil {
		return err
	}
	bigInfo, err := buildLake(ctx, o.dir, big, log)
	if err != nil {
		return err
	}
	tiers := []*tierResult{{info: bigInfo}}
	if !o.noNfdump {
		small := lakeSpec{Flows: o.nfFlows, Days: o.days, Seed: o.seed, Rate: o.flowRate}
		t := tiers[0]
		if small != big {
			info, err := buildLake(ctx, o.dir, small, log)
			if err != nil {
				return err
			}
			t = &tierResult{info: info}
			tiers = append(tiers, t)
		}
		if t.nf, err = exportNfcapd(ctx, o.dir, small, o.rate, log); err != nil {
			return err
		}
		if t.nf.Flows != t.info.Rows || t.nf.Bytes != t.info.Bytes {
			return fmt.Errorf("nfcapd got %d flows, %d bytes; the lake holds %d rows, %d bytes", t.nf.Flows, t.nf.Bytes, t.info.Rows, t.info.Bytes)
		}
	}
	// Sizes on the tier nfdump ran on (the same flows in all three),
	// printed with -build-only too.
	var sizes sizeResult
	if !o.noSizes {
		if sizes, err = measureSizes(ctx, o.dir, tiers[len(tiers)-1]); err != nil {
			return fmt.Errorf("sizes: %w", err)
		}
	}
	if o.buildOnly {
		if !o.noSizes {
			reportSizes(w, sizes)
		}
		return nil
	}
	var duckVersion, duckThreads string
	for i, t := range tiers {
		profile := ""
		if i == 0 {
			profile = o.cpuProfile
		}
		v, th, err := runTier(ctx, o, t, profile, log)
		if err != nil {
			return err
		}
		duckVersion, duckThreads = v, th
	}
	report(w, o, tiers, duckVersion, duckThreads)
	if !o.noSizes {
		reportSizes(w, sizes)
	}
	return nil
}

// runTier runs the query set on one lake with every engine it has.
// Flowlake runs twice: on a view of the lake holding only the flows files
// (hard links: the very files DuckDB reads), where every query reads raw
// segments; and on the lake with its rollups, as the planner routes.
func runTier(ctx context.Context, o options, t *tierResult, profileDir string, log *slog.Logger) (duckVersion, duckThreads string, err error) {
	fl, err := openFlowlake(t.info.RawRoot, o.flMemory)
	if err != nil {
		return "", "", err
	}
	defer func() { err = errors.Join(err, fl.close()) }()
	routed, err := openFlowlake(t.info.Root, o.flMemory)
	if err != nil {
		return "", "", err
	}
	defer func() { err = errors.Join(err, routed.close()) }()
	duck, err := openDuckDB(ctx, t.info.Root)
	if err != nil {
		return "", "", err
	}
	defer func() { err = errors.Join(err, duck.close()) }()
	duckVersion, duckThreads = duck.version(ctx), duck.threads(ctx)

	if err := checkTotals(ctx, t, fl, duck); err != nil {
		return "", "", err
	}
	if t.host, err = pickHost(ctx, t.info.Spec, fl); err != nil {
		return "", "", err
	}
	qs, err := selectQueries(buildQueries(t.info.Spec, t.host), o.only)
	if err != nil {
		return "", "", err
	}
	for i := range qs {
		q := &qs[i]
		r := queryResult{q: q}
		// Warm-up runs double as the answer checks.
		flAns, _, plan, err := fl.run(ctx, q.fl)
		if err != nil {
			return "", "", fmt.Errorf("%s flowlake: %w", q.id, err)
		}
		if strings.HasPrefix(plan.Route, "rollup") {
			return "", "", fmt.Errorf("%s: the raw view routed to %s", q.id, plan.Route)
		}
		r.plan, r.rows = plan, len(flAns)
		duckAns, _, err := duck.run(ctx, q.sql)
		if err != nil {
			return "", "", fmt.Errorf("%s: %w", q.id, err)
		}
		if err := sameAnswer(q, "flowlake", flAns, "duckdb", duckAns); err != nil {
			return "", "", fmt.Errorf("flowlake and duckdb disagree on %d flows: %w", t.info.Rows, err)
		}
		routedAns, _, rplan, err := routed.run(ctx, q.fl)
		if err != nil {
			return "", "", fmt.Errorf("%s flowlake with rollups: %w", q.id, err)
		}
		r.route, r.routed = rplan.Route, strings.HasPrefix(rplan.Route, "rollup")
		if err := sameAnswer(q, "raw", flAns, "planned", routedAns); err != nil {
			return "", "", fmt.Errorf("flowlake on raw segments and as planned (%s) disagree on %d flows: %w", rplan.Route, t.info.Rows, err)
		}
		var flTimes, duckTimes, plannedTimes []time.Duration
		for range o.runs {
			_, d, _, err := fl.run(ctx, q.fl)
			if err != nil {
				return "", "", err
			}
			flTimes = append(flTimes, d)
			_, d, err = duck.run(ctx, q.sql)
			if err != nil {
				return "", "", err
			}
			duckTimes = append(duckTimes, d)
			if r.routed {
				_, d, _, err := routed.run(ctx, q.fl)
				if err != nil {
					return "", "", err
				}
				plannedTimes = append(plannedTimes, d)
			}
		}
		r.fl, r.duck, r.planned = median(flTimes), median(duckTimes), median(flTimes)
		if r.routed {
			r.planned = median(plannedTimes)
		}
		if t.nf != nil && q.nfdump != nil { // nil: nfdump has no equivalent
			nfAns, err := q.nfdump(ctx, t.nf)
			if err != nil {
				return "", "", fmt.Errorf("%s: %w", q.id, err)
			}
			if err := sameAsNfdump(q, flAns, nfAns); err != nil {
				return "", "", fmt.Errorf("flowlake and nfdump disagree on %d flows: %w", t.info.Rows, err)
			}
			var nfTimes []time.Duration
			for range o.nfRuns {
				start := time.Now()
				if _, err := q.nfdump(ctx, t.nf); err != nil {
					return "", "", err
				}
				nfTimes = append(nfTimes, time.Since(start))
			}
			r.nfdump = median(nfTimes)
		}
		st := plan.Stats
		log.Info("query", "lake_rows", t.info.Rows, "id", q.id, "rows", r.rows, "flowlake_raw", r.fl, "flowlake_planned", r.planned, "duckdb", r.duck, "nfdump", r.nfdump,
			"route", r.route, "row_groups", st.RowGroups, "rg_pruned", st.RowGroupsPruned+st.RowGroupsBloom, "rg_scanned", st.RowGroupsScanned, "rows_scanned", st.RowsScanned)
		if profileDir != "" {
			if err := profileQuery(ctx, fl, q, filepath.Join(profileDir, q.id+".pprof")); err != nil {
				return "", "", err
			}
		}
		t.results = append(t.results, r)
	}
	return duckVersion, duckThreads, nil
}

// checkTotals compares the rows and bytes the lake was written with, what
// Flowlake and DuckDB count, and what nfcapd stored.
func checkTotals(ctx context.Context, t *tierResult, fl *flowlakeEngine, duck *duckEngine) error {
	w := windowOf(t.info.Spec)
	flAns, _, _, err := fl.run(ctx, query.Query{Dataset: schema.Flows, From: rfc(w.from), To: rfc(w.to), Metrics: []string{"count()", "sum(bytes)"}})
	if err != nil {
		return fmt.Errorf("totals: %w", err)
	}
	duckAns, _, err := duck.run(ctx, "SELECT count(*), sum(bytes)::UBIGINT FROM flows")
	if err != nil {
		return fmt.Errorf("totals: %w", err)
	}
	want := []string{strconv.FormatInt(t.info.Rows, 10), strconv.FormatUint(t.info.Bytes, 10)}
	if len(flAns) != 1 || !slices.Equal(flAns[0], want) || len(duckAns) != 1 || !slices.Equal(duckAns[0], want) {
		return fmt.Errorf("totals (rows, bytes): written %q, flowlake %q, duckdb %q", want, flAns, duckAns)
	}
	if t.nf != nil {
		st, err := nfdumpSummary(ctx, "-R", t.nf.Root)
		if err != nil {
			return err
		}
		if st.flows != t.info.Rows || st.bytes != t.info.Bytes {
			return fmt.Errorf("totals: nfdump -I counts %d flows, %d bytes; written %s", st.flows, st.bytes, want)
		}
	}
	return nil
}

// pickHost chooses Q4's needle: the 20th busiest source of the hour, a
// host with a few dozen to a few hundred flows in it. In the production
// layout an hour holds tens of millions of flows and its 20th busiest
// source a hundred thousand or more (more than a page of a listing): there
// it is the busiest source with at most needleFlows flows as a source.
func pickHost(ctx context.Context, s lakeSpec, fl *flowlakeEngine) (netip.Addr, error) {
	w := windowOf(s)
	limit := 20
	if s.production() {
		limit = 5000
	}
	ans, _, _, err := fl.run(ctx, query.Query{Dataset: schema.Flows, From: rfc(w.hour), To: rfc(w.hour.Add(time.Hour)),
		GroupBy: []string{"src_addr"}, Metrics: []string{"count()"}, Limit: limit})
	if err != nil {
		return netip.Addr{}, fmt.Errorf("pick Q4 host: %w", err)
	}
	if len(ans) == 0 {
		return netip.Addr{}, errors.New("pick Q4 host: no flows in the hour")
	}
	if s.production() {
		for _, r := range ans {
			if n, err := strconv.Atoi(r[1]); err == nil && n <= needleFlows {
				return netip.ParseAddr(r[0])
			}
		}
	}
	return netip.ParseAddr(ans[len(ans)-1][0])
}

// needleFlows bounds the flows of Q4's host as a source in the production
// layout.
const needleFlows = 1000

// profileQuery records a CPU profile of Flowlake answering q repeatedly
// for about two seconds.
func profileQuery(ctx context.Context, fl *flowlakeEngine, q *benchQuery, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	defer pprof.StopCPUProfile()
	for start := time.Now(); time.Since(start) < 2*time.Second; {
		if _, _, _, err := fl.run(ctx, q.fl); err != nil {
			return err
		}
	}
	return nil
}

// selectQueries keeps the queries only names (all when it is empty).
func selectQueries(qs []benchQuery, only string) ([]benchQuery, error) {
	if only == "" {
		return qs, nil
	}
	keep := map[string]bool{}
	for _, id := range strings.Split(only, ",") {
		keep[strings.TrimSpace(id)] = true
	}
	var out []benchQuery
	for _, q := range qs {
		if keep[q.id] {
			out = append(out, q)
			delete(keep, q.id)
		}
	}
	for id := range keep {
		var ids []string
		for _, q := range qs {
			ids = append(ids, q.id)
		}
		return nil, fmt.Errorf("-queries: no query %q (the queries are %s)", id, strings.Join(ids, ", "))
	}
	return out, nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// report prints the tables (Markdown) and the targets.
func report(w io.Writer, o options, tiers []*tierResult, duckVersion, duckThreads string) {
	host, _ := os.Hostname()
	fmt.Fprintf(w, "\n## benchquery: Flowlake vs DuckDB %s (threads %s) vs nfdump\n\n", duckVersion, duckThreads)
	fmt.Fprintf(w, "%s, %d CPUs (GOMAXPROCS %d), %s, %s; %d timed runs per query and engine (median, after a warm-up), nfdump %d; page cache warm.\n\n",
		host, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), time.Now().UTC().Format(time.RFC3339), o.runs, o.nfRuns)
	fmt.Fprintln(w, "\"raw\": Flowlake on the flows files alone, the files DuckDB reads. \"planned\": Flowlake on the lake with its rollups, as the planner routes (the route is named).")
	fmt.Fprintln(w)
	for i, t := range tiers {
		s := t.info.Spec
		fmt.Fprintf(w, "### %s flows over %s (asked %s; %d Parquet files, %.1f MiB, %.1f bytes/row; rollups %d segments built in %.1f s)\n\n",
			thousands(t.info.Rows), s.span(), thousands(s.Flows), t.info.Files, float64(t.info.DiskBytes)/(1<<20), float64(t.info.DiskBytes)/float64(t.info.Rows),
			t.info.RollupSegs, t.info.Rollups.Seconds())
		if t.nf != nil && len(t.nf.Bins) > 0 {
			reportProduction(w, t.nf)
		} else if t.nf != nil {
			fmt.Fprintf(w, "nfdump: the same flows sent as NetFlow v9 to nfcapd (%s flows, %.0f s at ≤ %.0f flows/s), 5-minute files.\n\n",
				thousands(t.nf.Flows), t.nf.Export.Seconds(), t.nf.Rate)
		}
		fmt.Fprintf(w, "Q4 host: %s.\n\n", t.host)
		if t.nf != nil {
			fmt.Fprintln(w, "| query | rows | Flowlake raw | Flowlake planned | DuckDB | nfdump | raw/DuckDB | planned/DuckDB | nfdump/planned | target |")
			fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
		} else {
			fmt.Fprintln(w, "| query | rows | Flowlake raw | Flowlake planned | DuckDB | raw/DuckDB | planned/DuckDB | target |")
			fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---|")
		}
		for _, r := range t.results {
			target := r.q.target
			if i == 0 {
				target += " " + verdict(r, t.nf != nil)
			} else {
				target = "nfdump ≥ 3× " + verdict3(r)
			}
			planned := ms(r.planned)
			if r.routed {
				planned += " (" + strings.TrimSuffix(strings.Fields(r.route)[1], ",") + ")"
			}
			if t.nf != nil {
				fmt.Fprintf(w, "| %s %s | %d | %s | %s | %s | %s | %.2f | %.2f | %s | %s |\n", r.q.id, r.q.title, r.rows, ms(r.fl), planned, ms(r.duck), ms(r.nfdump),
					ratio(r.fl, r.duck), ratio(r.planned, r.duck), nfRatio(r), target)
			} else {
				fmt.Fprintf(w, "| %s %s | %d | %s | %s | %s | %.2f | %.2f | %s |\n", r.q.id, r.q.title, r.rows, ms(r.fl), planned, ms(r.duck),
					ratio(r.fl, r.duck), ratio(r.planned, r.duck), target)
			}
		}
		fmt.Fprintln(w)
		for _, r := range t.results {
			st := r.plan.Stats
			fmt.Fprintf(w, "- %s raw: %d files, %d row groups (%d pruned), %s rows scanned, %s matched; planned route: %s\n",
				r.q.id, st.Files, st.RowGroups, st.RowGroupsPruned+st.RowGroupsBloom, thousands(st.RowsScanned), thousands(st.RowsMatched), r.route)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "Answers checked: Flowlake raw = DuckDB row for row, Flowlake planned = Flowlake raw, on every lake; Flowlake = nfdump on totals, top-N values and keys (ties at the cut-off aside), series, groups and listings.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "nfdump commands:")
	fmt.Fprintln(w)
	nt := tiers[len(tiers)-1] // the lake nfdump ran on
	for _, q := range buildQueries(nt.info.Spec, nt.host) {
		fmt.Fprintf(w, "- %s: `%s`\n", q.id, q.nfdumpCmd)
	}
}

func verdict(r queryResult, withNfdump bool) string {
	ok := false
	switch r.q.id {
	case "Q4":
		ok = r.planned < 100*time.Millisecond
	case "Q6":
		ok = r.planned < 50*time.Millisecond
	default: // same files: raw segments against DuckDB
		ok = r.fl <= r.duck
	}
	s := "**miss**"
	if ok {
		s = "met"
	}
	if withNfdump {
		s += "; nfdump ≥ 3× " + verdict3(r)
	}
	return s
}

// nfRatio is nfdump's time over Flowlake's as planned ("n/a": no nfdump
// equivalent).
func nfRatio(r queryResult) string {
	if r.q.nfdump == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.1f×", ratio(r.nfdump, r.planned))
}

func verdict3(r queryResult) string {
	if r.q.nfdump == nil {
		return "n/a"
	}
	if r.nfdump >= 3*r.planned {
		return "met"
	}
	return "**miss**"
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }

func ms(d time.Duration) string {
	switch {
	case d == 0:
		return "–"
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	case d < 100*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.0f ms", float64(d)/1e6)
}

func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
