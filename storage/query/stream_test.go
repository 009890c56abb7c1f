package query

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// TestStreamedAggregate runs aggregates over more files than
// parkFilesAbove, which plan and scan one file at a time (a year of hourly
// files: one footer per worker held instead of all of them), and checks
// each answer and its plan counts against the same query planned file by
// file up front, and that the run never held more files than its workers.
func TestStreamedAggregate(t *testing.T) {
	ctx := t.Context()
	cfg := lake.DefaultConfig()
	cfg.Root = t.TempDir()
	l, err := lake.Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	base := time.Date(2026, 2, 2, 0, 0, 0, 0, time.UTC)
	const files = parkFilesAbove + 40
	types := []string{schema.DHCPDiscover, schema.DHCPAck, schema.DHCPNak, schema.DHCPDecline, schema.DHCPOffer}
	var rows []schema.DHCPEvent
	for h := range files {
		for j := range 3 {
			n := h*3 + j
			rows = append(rows, schema.DHCPEvent{Time: schema.Micros(base.Add(time.Duration(h)*time.Hour + time.Duration(j)*time.Minute)),
				Edge: "e1", Device: "d1", MsgType: types[n%len(types)], Op: uint8(1 + n%2), Secs: uint16(n % 7),
				SrcAddr: schema.MustParseAddr(fmt.Sprintf("10.0.%d.%d", n%3, n%11)), RogueServer: n%13 == 0})
		}
	}
	if _, err := lake.Write(ctx, l, "edge", rows); err != nil {
		t.Fatal(err)
	}
	var most atomic.Int64
	e := New(l, Config{Workers: 2}, nil)
	e.hooks.held = func(n int64) {
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
	}
	defer e.Close()
	from, to := base.Add(time.Hour).Format(time.RFC3339), base.Add((files-1)*time.Hour).Format(time.RFC3339)
	for _, q := range []Query{
		{Dataset: schema.DHCPEvents, GroupBy: []string{"msg_type"}, Metrics: []string{"count()"}},
		{Dataset: schema.DHCPEvents, Filter: "rogue_server = true", Metrics: []string{"count_distinct(src_addr)", "count()"}},
		{Dataset: schema.DHCPEvents, Filter: "msgtype NAK or secs > 4", GroupBy: []string{"src_addr", "op"}, Metrics: []string{"count()", "sum(secs)"}},
		{Dataset: schema.DHCPEvents, Filter: "msgtype INFORM", Metrics: []string{"count()"}}, // every row group pruned
	} {
		t.Run(q.Filter+fmt.Sprint(q.GroupBy), func(t *testing.T) {
			q.From, q.To = from, to
			most.Store(0)
			res, err := e.Run(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Release()
			if m := most.Load(); m > 2 {
				t.Errorf("the streamed run held %d files at once, want at most its 2 workers", m)
			}
			most.Store(0)
			r, err := e.prepare(ctx, q, false)
			if err != nil {
				t.Fatal(err)
			}
			defer r.close()
			if r.stream {
				t.Fatal("prepare without stream streamed")
			}
			// The planned run holds every file with something to scan
			// until it ends (and gives the others back at once).
			kept := 0
			for _, f := range r.files {
				if f != nil {
					kept++
				}
			}
			if m := most.Load(); kept <= 2 || m < int64(kept) {
				t.Fatalf("the planned run held at most %d files, %d at the end: the test does not compare two ways", m, kept)
			}
			want, err := r.execute(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer want.Release()
			if got, w := csvText(res.Rows()), csvText(want.Rows()); got != w {
				t.Errorf("streamed answer\n%s\nplanned answer\n%s", got, w)
			}
			g, w := res.Plan.Stats, r.plan(true).Stats
			for _, c := range []struct {
				what      string
				got, want int64
			}{
				{"files", int64(g.Files), int64(w.Files)}, {"row groups", int64(g.RowGroups), int64(w.RowGroups)},
				{"pruned", int64(g.RowGroupsPruned), int64(w.RowGroupsPruned)}, {"rows planned", g.RowsPlanned, w.RowsPlanned},
				{"bytes planned", g.BytesPlanned, w.BytesPlanned}, {"rows scanned", g.RowsScanned, w.RowsScanned},
				{"rows matched", g.RowsMatched, w.RowsMatched},
			} {
				if c.got != c.want {
					t.Errorf("%s: streamed %d, planned %d", c.what, c.got, c.want)
				}
			}
			if g.Files != files-2 || g.RowGroups != files-2 {
				t.Errorf("%d files, %d row groups, want %d of each", g.Files, g.RowGroups, files-2)
			}
		})
	}
}

// TestStreamedAggregateErrors checks a streamed run's error paths: an
// unreadable file is left out with a warning, and a cancelled run returns the context's error having given back
// every file it took.
func TestStreamedAggregateErrors(t *testing.T) {
	ctx := t.Context()
	cfg := lake.DefaultConfig()
	cfg.Root = t.TempDir()
	l, err := lake.Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	base := time.Date(2026, 2, 2, 0, 0, 0, 0, time.UTC)
	const files = parkFilesAbove + 10
	rows := make([]schema.Flow, files)
	for i := range rows {
		rows[i] = schema.Flow{Time: schema.Micros(base.Add(time.Duration(i) * time.Hour)), Bytes: uint64(i + 1)}
	}
	segs, err := lake.Write(ctx, l, "edge", rows)
	if err != nil {
		t.Fatal(err)
	}
	bad := segs[7]
	if err := os.WriteFile(filepath.Join(cfg.Root, filepath.FromSlash(bad.Key)), []byte("PAR1 not a segment PAR1"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := New(l, Config{Workers: 2, OpenFiles: -1}, nil)
	defer e.Close()
	q := Query{Dataset: schema.Flows, From: base.Format(time.RFC3339), To: base.Add(files * time.Hour).Format(time.RFC3339),
		Metrics: []string{"count()", "sum(bytes)"}, raw: true}
	res, err := e.Run(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	if got, want := csvText(res.Rows()), fmt.Sprintf("count(),sum(bytes)\n%d,%d\n", files-1, files*(files+1)/2-8); got != want {
		t.Errorf("answer %q, want %q (every row but the unreadable file's)", got, want)
	}
	// The catalog notices the rewritten file (its size changed) and the
	// snapshot leaves it out with its warning; a file that fails only when
	// opened is skipped by queryRun.open with the same warning.
	if len(res.Warnings) != 1 || res.Warnings[0].Segment != bad.Key {
		t.Errorf("warnings %v: want one, for the unreadable file %s", res.Warnings, bad.Key)
	}

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var opened, open atomic.Int64
	e.hooks.held = func(n int64) {
		if opened.Add(1) == 20 {
			cancel()
		}
	}
	r, err := e.prepare(cctx, q, true)
	if err != nil {
		t.Fatal(err)
	}
	if !r.stream {
		t.Fatal("the run does not stream")
	}
	_, err = r.execute(cctx)
	open.Store(r.held.Load())
	r.close()
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled run: err %v, want context.Canceled", err)
	}
	if n := opened.Load(); n >= files-1 {
		t.Errorf("the cancelled run opened %d of %d files", n, files)
	}
	if n := open.Load(); n != 0 {
		t.Errorf("the cancelled run still holds %d files", n)
	}
}
