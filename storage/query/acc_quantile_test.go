package query

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// qrow is one row of a quantile test: its group, value and whether it is
// null.
type qrow struct {
	g    int32
	v    int64
	null bool
}

// refSort sorts a group's values as the column orders them.
func refSort(vals []int64, unsigned bool) []int64 {
	xs := slices.Clone(vals)
	if unsigned {
		slices.SortFunc(xs, func(a, b int64) int {
			switch {
			case uint64(a) < uint64(b):
				return -1
			case uint64(a) > uint64(b):
				return 1
			}
			return 0
		})
	} else {
		slices.Sort(xs)
	}
	return xs
}

// refPercentile is the nearest-rank percentile the engine documents, of
// sorted values: the value at rank ⌈P/100·n⌉ (as DuckDB's quantile_disc);
// ok is false without values.
func refPercentile(sorted []int64, p float64, unsigned bool) (float64, bool) {
	if len(sorted) == 0 {
		return 0, false
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	x := sorted[max(rank, 1)-1]
	if unsigned {
		return float64(uint64(x)), true
	}
	return float64(x), true
}

// feed adds rows to a in batches of up to 4096 rows, as a worker's row
// groups arrive.
func feed(a acc, rows []qrow, groups int) {
	a.grow(groups)
	for start := 0; start < len(rows); start += 4096 {
		part := rows[start:min(start+4096, len(rows))]
		v := &vector{ints: make([]int64, len(part))}
		sel, g := make([]int32, 0, len(part)), make([]int32, 0, len(part))
		for i, r := range part {
			v.ints[i] = r.v
			if r.null {
				if v.null == nil {
					v.null = make([]bool, len(part))
				}
				v.null[i] = true
			}
			sel = append(sel, int32(i))
			g = append(g, r.g)
		}
		a.add(&batch{n: int64(len(part)), vecs: []*vector{v}}, sel, g)
	}
}

// checkMem fails when the accumulator's running count of its groups'
// bytes is not what they hold.
func checkMem(t *testing.T, a *quantileAcc) {
	t.Helper()
	var want int64
	for i := range a.g {
		want += qgroupBytes(&a.g[i])
	}
	if a.mem != want {
		t.Fatalf("the accumulator counts %d bytes in its groups, they hold %d", a.mem, want)
	}
}

// TestQuantileAccDifferential: on random and adversarial data, split
// between two workers whose groups are numbered differently, merged, then
// folded into an others group, every percentile equals the sort-based
// reference.
func TestQuantileAccDifferential(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 95))
	gen := func(n, groups int, value func(i int) int64, nullEvery int) []qrow {
		rows := make([]qrow, n)
		for i := range rows {
			rows[i] = qrow{g: int32(rng.IntN(groups)), v: value(i), null: nullEvery > 0 && i%nullEvery == 0}
		}
		return rows
	}
	cases := []struct {
		name     string
		rows     []qrow
		groups   int
		unsigned bool
	}{
		{"one row", gen(1, 1, func(int) int64 { return 42 }, 0), 1, true},
		{"all equal", gen(50_000, 3, func(int) int64 { return 1500 }, 0), 3, true},
		{"all distinct ascending", gen(60_000, 2, func(i int) int64 { return int64(i) }, 0), 2, true},
		{"all distinct descending", gen(60_000, 2, func(i int) int64 { return int64(1e9 - i) }, 0), 2, true},
		{"random wide", gen(100_000, 5, func(int) int64 { return int64(rng.Uint64() >> 1) }, 0), 5, true},
		{"counters with repetition", gen(200_000, 4, func(int) int64 { return int64(rng.IntN(40)+1) * int64(64+rng.IntN(1437)) }, 0), 4, true},
		{"one group, many compactions", gen(300_000, 1, func(int) int64 { return int64(rng.IntN(100_000)) }, 0), 1, true},
		{"many groups", gen(40_000, 10_000, func(int) int64 { return int64(rng.IntN(1000)) }, 0), 10_000, true},
		{"nulls", gen(30_000, 6, func(int) int64 { return int64(rng.IntN(500)) }, 3), 6, true},
		{"only nulls", gen(1000, 2, func(int) int64 { return 7 }, 1), 2, true},
		{"signed around zero", gen(50_000, 3, func(int) int64 { return int64(rng.IntN(2001)) - 1000 }, 0), 3, false},
		{"signed extremes", gen(20_000, 2, func(i int) int64 { return []int64{math.MinInt64, -1, 0, 1, math.MaxInt64}[i%5] }, 0), 2, false},
		{"unsigned above 2^63", gen(20_000, 2, func(i int) int64 { return int64(uint64(1)<<63 + uint64(i%7)) }, 0), 2, true},
		{"groups without rows", gen(5_000, 2, func(i int) int64 { return int64(i % 13) }, 0), 5, true},
	}
	ps := []float64{1e-9, 1, 25, 50, 90, 95, 99, 99.9, 100 - 1e-9}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Two workers see alternate rows; worker 1 numbers its groups
			// backwards, as another worker meets them in another order.
			w0 := &quantileAcc{col: 0, p: 95, signed: !tc.unsigned}
			w1 := &quantileAcc{col: 0, p: 95, signed: !tc.unsigned}
			var r0, r1 []qrow
			for i, r := range tc.rows {
				if i%3 == 0 {
					r1 = append(r1, qrow{g: int32(tc.groups) - 1 - r.g, v: r.v, null: r.null})
				} else {
					r0 = append(r0, r)
				}
			}
			feed(w0, r0, tc.groups)
			feed(w1, r1, tc.groups)
			checkMem(t, w0)
			checkMem(t, w1)
			remap := make([]int32, tc.groups)
			for i := range remap {
				remap[i] = int32(tc.groups - 1 - i)
			}
			w0.merge(w1, remap)
			checkMem(t, w0)

			byGroup := make([][]int64, tc.groups+1)
			for _, r := range tc.rows {
				if !r.null {
					byGroup[r.g] = append(byGroup[r.g], r.v)
				}
			}
			all := make([]int32, tc.groups)
			for i := range all {
				all[i] = int32(i)
			}
			check := func(groups []int32) {
				t.Helper()
				sorted := make([][]int64, len(byGroup))
				for _, g := range groups {
					sorted[g] = refSort(byGroup[g], tc.unsigned)
				}
				for _, p := range ps {
					got := w0.percentile(p, groups)
					for k, g := range groups {
						want, ok := refPercentile(sorted[g], p, tc.unsigned)
						if got.nulls[k] == ok || ok && got.floats[k] != want {
							t.Fatalf("group %d of %d values, p%v: got %v (null %v), want %v (null %v)",
								g, len(byGroup[g]), p, got.floats[k], got.nulls[k], want, !ok)
						}
					}
				}
			}
			check(all)
			// The others row: every group but the first folds into a new
			// one; the folded groups keep their answers.
			other := int32(tc.groups)
			w0.grow(tc.groups + 1)
			w0.fold(other, all[1:])
			checkMem(t, w0)
			for _, g := range all[1:] {
				byGroup[other] = append(byGroup[other], byGroup[g]...)
			}
			check(append(all, other))
		})
	}
}

// TestQuantileRunCounts: a value seen more often than a run's uint32
// count holds stays two runs, and ranks count both.
func TestQuantileRunCounts(t *testing.T) {
	a := &quantileAcc{p: 50}
	a.grow(1)
	q := &a.g[0]
	a.mergeRuns(q, []uint64{5, 9}, []uint32{math.MaxUint32 - 1, 1})
	a.mergeRuns(q, []uint64{5, 7}, []uint32{3, 1})
	if !slices.Equal(q.vals, []uint64{5, 5, 7, 9}) || !slices.Equal(q.cnts, []uint32{math.MaxUint32 - 1, 3, 1, 1}) {
		t.Fatalf("runs %v × %v, want [5 5 7 9] × [%d 3 1 1]", q.vals, q.cnts, uint32(math.MaxUint32-1))
	}
	n := float64(math.MaxUint32 + 4)
	for _, tc := range []struct {
		p    float64
		want float64
	}{
		{50, 5},
		{100 * (n - 2) / n, 5}, // the last 5
		{100 * (n - 1) / n, 7},
		{100 - 1e-12, 9},
	} {
		got := a.percentile(tc.p, []int32{0})
		if got.floats[0] != tc.want {
			t.Errorf("p%v = %v, want %v", tc.p, got.floats[0], tc.want)
		}
	}
}

// TestRadixSortBytes: the radix sort agrees with slices.Sort on short,
// long, narrow and wide values, whichever buffer it ends in.
func TestRadixSortBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name string
		n    int
		mask uint64
	}{
		{"short", 100, math.MaxUint64},
		{"one byte varies", 5000, 0xff},
		{"two bytes vary", 5000, 0xff00ff},
		{"wide", 20_000, math.MaxUint64},
		{"constant", 3000, 0},
	} {
		xs := make([]uint64, tc.n)
		for i := range xs {
			xs[i] = rng.Uint64()&tc.mask | 1<<40
		}
		want := slices.Clone(xs)
		slices.Sort(want)
		got, spare := radixSortBytes(xs, nil)
		if !slices.Equal(got, want) {
			t.Errorf("%s: not sorted", tc.name)
		}
		if len(got) > 0 && len(spare) > 0 && &got[0] == &spare[0] {
			t.Errorf("%s: the sorted values and the spare buffer share storage", tc.name)
		}
	}
}

// TestPercentilesShareAccumulator: through Engine.Run, several
// percentiles of one column (and one of another), with a limit and an
// others row, equal the reference evaluator; the percentiles of bytes
// read one accumulator.
func TestPercentilesShareAccumulator(t *testing.T) {
	l := testLake(t)
	q := Query{Dataset: "flows", From: "-3h", GroupBy: []string{"app"},
		Metrics: []string{"p50(bytes)", "p95(bytes)", "percentile(packets,99.9)", "percentile(bytes,99.99)", "p1(bytes)"}, Limit: 3, Others: true}
	e := New(l, Config{Now: func() time.Time { return fixtureNow }, Workers: 2}, nil)
	got := answer(t, e, paged{Query: q})
	compareAnswers(t, got, refAnswer(t, l, q, fixtureNow), q)
	if len(got) < 5 {
		t.Fatalf("%d rows: want 3 groups and others", len(got)-1)
	}

	c, err := compile(q, fixtureNow)
	if err != nil {
		t.Fatal(err)
	}
	accs := newAccs(c.metrics, describeColumns(c.d))
	src, ok := accs[0].(*quantileAcc)
	if !ok {
		t.Fatalf("p50(bytes) is a %T", accs[0])
	}
	for _, i := range []int{1, 3, 4} {
		if v, ok := accs[i].(quantileView); !ok || v.src != src {
			t.Errorf("%s does not read p50(bytes)'s accumulator: %T", q.Metrics[i], accs[i])
		}
	}
	if _, ok := accs[2].(*quantileAcc); !ok {
		t.Errorf("percentile(packets) is a %T, want its own accumulator", accs[2])
	}
}

// TestPercentileBudget: percentiles over a group per flow under a small
// budget are refused with ErrMemoryBudget, not held.
func TestPercentileBudget(t *testing.T) {
	q := Query{Dataset: "flows", From: "-3h", GroupBy: []string{"src_addr", "dst_addr", "src_port", "dst_port", "time/1m"}, Metrics: []string{"p50(bytes)", "p99(packets)"}}
	e := testEngine(t, Config{MemoryBudget: 1 << 20})
	_, err := e.Run(context.Background(), q)
	if !errors.Is(err, ErrMemoryBudget) {
		t.Fatalf("err = %v, want ErrMemoryBudget", err)
	}
}

// BenchmarkPercentile: p95(bytes) by app over benchLake's day on raw
// segments, beside sum(bytes) by app (the same scan without the
// quantile), in rows scanned per second.
//
//	go test ./storage/query -run '^$' -bench Percentile -cpu 1,2
func BenchmarkPercentile(b *testing.B) {
	l, err := benchLake()
	if err != nil {
		b.Fatal(err)
	}
	for _, m := range []string{"sum(bytes)", "p95(bytes)", "p50(bytes),p95(bytes),p99(bytes)"} {
		q := Query{Dataset: "flows", From: "2026-01-07T00:00:00Z", To: "2026-01-08T00:00:00Z", GroupBy: []string{"app"}, Metrics: strings.Split(m, ","), raw: true}
		b.Run(m, func(b *testing.B) {
			e := New(l, Config{}, nil)
			defer e.Close()
			var rows int64
			for b.Loop() {
				res, err := e.Run(context.Background(), q)
				if err != nil {
					b.Fatal(err)
				}
				rows += res.Plan.Stats.RowsScanned
				res.Release()
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkQuantileAcc: the accumulator alone, counter-like values
// (packets × size) into 20 groups, in ns per row.
func BenchmarkQuantileAcc(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	rows := make([]qrow, 1<<22)
	for i := range rows {
		rows[i] = qrow{g: int32(rng.IntN(20)), v: int64(rng.IntN(40)+1) * int64(64+rng.IntN(1437))}
	}
	for b.Loop() {
		a := &quantileAcc{p: 95}
		feed(a, rows, 20)
		a.percentile(95, []int32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19})
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rows)), "ns/row")
}
