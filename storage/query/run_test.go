package query

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

func testEngine(t *testing.T, cfg Config) *Engine {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return fixtureNow }
	}
	return New(testLake(t), cfg, nil)
}

// TestCancel: a cancelled context ends a query with the context's error.
func TestCancel(t *testing.T) {
	e := testEngine(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := e.Run(ctx, Query{Dataset: "flows", From: "-3h", GroupBy: []string{"src_addr"}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	ctx, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	_, err = e.Run(ctx, Query{Dataset: "flows", From: "-3h"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
}

// TestMemoryBudget: a query whose state outgrows the budget fails with
// ErrMemoryBudget and a message saying what to do; the same query runs
// within a larger budget, and every Arrow buffer is released either way.
func TestMemoryBudget(t *testing.T) {
	q := Query{Dataset: "flows", From: "-3h", GroupBy: []string{"src_addr", "dst_addr", "src_port"}, Metrics: []string{"count_distinct(dst_port)", "p95(bytes)"}}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	_, err := testEngine(t, Config{MemoryBudget: 256 << 10, Allocator: mem}).Run(context.Background(), q)
	if !errors.Is(err, ErrMemoryBudget) || !strings.Contains(err.Error(), "narrow the time range") {
		t.Fatalf("err = %v, want ErrMemoryBudget with advice", err)
	}
	res, err := testEngine(t, Config{MemoryBudget: 1 << 30, Allocator: mem}).Run(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if res.Plan.Stats.PeakMemory <= 256<<10 {
		t.Errorf("peak memory %d, want above the small budget", res.Plan.Stats.PeakMemory)
	}
	res.Release()
}

// TestPruning: a needle query skips what cannot match — partitions by
// time, row groups by statistics and bloom filters — and says so.
func TestPruning(t *testing.T) {
	e := testEngine(t, Config{})
	all, err := e.Explain(context.Background(), Query{Dataset: "flows", From: "-3h"})
	if err != nil {
		t.Fatal(err)
	}
	hour, err := e.Explain(context.Background(), Query{Dataset: "flows", From: "2026-01-07T13:00:00Z", To: "2026-01-07T14:00:00Z"})
	if err != nil {
		t.Fatal(err)
	}
	if hour.Stats.Partitions != 1 || hour.Stats.Files >= all.Stats.Files {
		t.Errorf("one hour: %d partitions, %d files (of %d): want 1 partition and fewer files", hour.Stats.Partitions, hour.Stats.Files, all.Stats.Files)
	}
	needle := Query{Dataset: "flows", From: "-3h", Filter: "src ip 52.62.59.187", Columns: []string{"time", "src_addr", "bytes"}}
	p, err := e.Explain(context.Background(), needle)
	if err != nil {
		t.Fatal(err)
	}
	if p.Ran || p.Stats.RowGroupsBloom+p.Stats.RowGroupsPruned == 0 {
		t.Errorf("needle plan %+v: want row groups pruned by bloom filters or statistics", p.Stats)
	}
	res, err := e.Run(context.Background(), needle)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	s := res.Plan.Stats
	if !res.Plan.Ran || s.RowGroupsScanned >= s.RowGroups || s.RowsMatched == 0 || s.RowsMatched != res.NumRows() {
		t.Errorf("needle run %+v, %d rows: want a few row groups scanned and every match listed", s, res.NumRows())
	}
	// Ports are sorted within nothing, but an impossible range prunes by
	// statistics alone.
	p, err = e.Explain(context.Background(), Query{Dataset: "flows", From: "-3h", Filter: "duration_ms > 4000000000"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Stats.RowGroupsPruned != p.Stats.RowGroups {
		t.Errorf("impossible filter: %+v, want every row group pruned", p.Stats)
	}
}

// TestSpecErrors: queries that cannot run say which part is wrong.
func TestSpecErrors(t *testing.T) {
	e := testEngine(t, Config{})
	for _, tc := range []struct {
		q     Query
		field string
		msg   string
	}{
		{Query{Dataset: "nope"}, "dataset", "unknown dataset"},
		{Query{Dataset: "flows", From: "yesterday"}, "from", "is not a time"},
		{Query{Dataset: "flows", From: "-1h", To: "-2h"}, "to", "time range is empty"},
		{Query{Dataset: "flows", Filter: "src port >"}, "filter", "filter: at 10: expected"},
		{Query{Dataset: "flows", GroupBy: []string{"colour"}}, "group_by", `no column "colour"`},
		{Query{Dataset: "flows", GroupBy: []string{"time/7m"}}, "group_by", "dividing a day"},
		{Query{Dataset: "flows", GroupBy: []string{"src_port/24"}}, "group_by", "take a slash"},
		{Query{Dataset: "flows", Metrics: []string{"sum(app)"}}, "metrics", "numeric"},
		{Query{Dataset: "flows", Metrics: []string{"median(bytes)"}}, "metrics", "unknown metric"},
		{Query{Dataset: "flows", Metrics: []string{"p100(bytes)"}}, "metrics", "p1 … p99"},
		{Query{Dataset: "flows", GroupBy: []string{"app"}, OrderBy: []string{"bytes"}}, "order_by", "not an output column"},
		{Query{Dataset: "flows", GroupBy: []string{"app"}, Others: true}, "others", "needs a limit"},
		{Query{Dataset: "flows", Limit: MaxPageSize + 1}, "limit", "page size"},
		{Query{Dataset: "flows", Cursor: "%%%"}, "cursor", "not a cursor"},
		{Query{Dataset: "flows", TimeZone: "Mars/Olympus"}, "time_zone", "unknown time zone"},
		{Query{Dataset: "flows", GroupBy: []string{"time/"}}, "group_by", "dividing a day"},                  // panicked
		{Query{Dataset: "flows", GroupBy: []string{"time/5124095576030431h"}}, "group_by", "dividing a day"}, // wrapped around
		{Query{Dataset: "flows", From: "-1000000d"}, "from", "offset too large"},                             // wrapped into the future
	} {
		_, err := e.Run(context.Background(), tc.q)
		var se *SpecError
		if !errors.As(err, &se) || se.Field != tc.field || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%+v: err = %v, want a SpecError on %s saying %q", tc.q, err, tc.field, tc.msg)
		}
	}
}

// TestBuckets checks bucket starts against the time package in zones with
// DST and with 30- and 45-minute offsets.
func TestBuckets(t *testing.T) {
	for _, zone := range []string{"UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Lord_Howe"} {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"1m", "5m", "15m", "1h", "6h", "1d", "week", "month", "quarter", "year"} {
			b, err := parseBucket(name)
			if err != nil {
				t.Fatal(err)
			}
			k := newBucketer(b, loc)
			for ts := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixMicro(); ts < time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC).UnixMicro(); ts += 7919e6 * 60 {
				if got, want := k.start(ts), refBucket(b, loc, ts); got != want {
					t.Fatalf("%s %s at %s: start %s, want %s", zone, name, time.UnixMicro(ts).UTC(), time.UnixMicro(got).UTC(), time.UnixMicro(want).UTC())
				}
			}
		}
	}
}

// TestFilterFirst: a row group decodes the filter's columns first and the
// others only when a row passed, so a filter that matches nothing costs
// the same pages whatever the listing shows; one that matches costs more
// with more columns.
func TestFilterFirst(t *testing.T) {
	e := testEngine(t, Config{})
	run := func(filter string, cols []string) Stats {
		t.Helper()
		res, err := e.Run(context.Background(), Query{Dataset: "flows", From: "-3h", Filter: filter, Columns: cols, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		defer res.Release()
		return res.Plan.Stats
	}
	narrow := []string{"time"}
	wide := []string{"time", "src_addr", "dst_addr", "src_port", "dst_port", "proto", "bytes", "packets", "app", "in_if_name"}
	// Both ports are 53 in some rows and 443 in others, so statistics
	// keep every row group, but no flow goes from 53 to 443.
	const none = "src port 53 and dst port 443"
	a, b := run(none, narrow), run(none, wide)
	if a.RowsMatched != 0 || a.RowGroupsScanned == 0 {
		t.Fatalf("%q matched %d rows in %d row groups; the test needs 0 rows in some", none, a.RowsMatched, a.RowGroupsScanned)
	}
	if a.PagesRead != b.PagesRead {
		t.Errorf("no row passed, yet %d columns read %d pages and %d columns %d", len(narrow), a.PagesRead, len(wide), b.PagesRead)
	}
	const some = "dst port 443"
	if a, b := run(some, narrow), run(some, wide); a.RowsMatched == 0 || b.PagesRead <= a.PagesRead {
		t.Errorf("%q: %d rows matched; pages %d for %d columns, %d for %d", some, a.RowsMatched, a.PagesRead, len(narrow), b.PagesRead, len(wide))
	}
}
