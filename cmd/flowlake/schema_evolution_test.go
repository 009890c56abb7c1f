package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/lake/laketest"
	"github.com/flowlake/flowlake/storage/schema"
)

// TestLakeSchemaEvolution: a lake holding tcp_conns segments written
// before the dataset gained opened_at and setup_time, next to current
// ones, through the commands users run: lake verify finds nothing wrong,
// query lists every row with the missing columns empty (null) and filters
// on them, and lake compact merges the hour keeping every row.
func TestLakeSchemaEvolution(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	cfg := lake.DefaultConfig()
	cfg.Root = dir
	l, err := lake.Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	conn := func(sec int, id uint64, setup int64) schema.TCPConn {
		c := schema.TCPConn{Time: at.Add(time.Duration(sec) * time.Second).UnixMicro(), Edge: "e1", Device: "r1",
			Reason: schema.ReasonRetransmitTimeout, Source: "passive", TraceID: id}
		if setup > 0 {
			c.OpenedAt, c.SetupTime = c.Time-10_000_000, setup
		}
		return c
	}
	if _, err := lake.Write(ctx, l, "edge-new", []schema.TCPConn{conn(1, 1, 1500), conn(3, 3, 900)}); err != nil {
		t.Fatal(err)
	}
	// The older edge knew neither column: its rows carry none.
	if _, err := laketest.PublishOlder(ctx, l, "edge-old", []schema.TCPConn{conn(2, 2, 0), conn(4, 4, 0)},
		schema.TCPOpenedAt, schema.TCPSetupTime); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	query := func(filter string) string {
		t.Helper()
		args := []string{"query", "tcp_conns", "--data", dir, "--from", "2026-11-03T10:00:00Z", "--to", "2026-11-03T11:00:00Z",
			"--format", "csv", "--columns", "time,trace_id,setup_time", "--order", "time"}
		if filter != "" {
			args = append(args, filter)
		}
		out, errOut, code := runCLI(t, nil, args...)
		if code != 0 {
			t.Fatalf("query %q exited %d: %s", filter, code, errOut)
		}
		return strings.TrimSpace(out)
	}
	all := "time,trace_id,setup_time\n" +
		"2026-11-03T10:00:01Z,1,1500\n" +
		"2026-11-03T10:00:02Z,2,\n" +
		"2026-11-03T10:00:03Z,3,900\n" +
		"2026-11-03T10:00:04Z,4,"
	check := func(when string) {
		t.Helper()
		if out, errOut, code := runCLI(t, nil, "lake", "verify", "--data", dir); code != 0 {
			t.Fatalf("%s: lake verify exited %d: %s%s", when, code, out, errOut)
		}
		if diff := cmp.Diff(all, query("")); diff != "" {
			t.Errorf("%s: every row (-want +got):\n%s", when, diff)
		}
		want := "time,trace_id,setup_time\n2026-11-03T10:00:01Z,1,1500"
		if diff := cmp.Diff(want, query("setup_time > 1000")); diff != "" {
			t.Errorf("%s: setup_time > 1000 (-want +got):\n%s", when, diff)
		}
	}
	check("before compaction")
	if out, errOut, code := runCLI(t, nil, "lake", "compact", "--before", "2026-11-04", "--data", dir); code != 0 {
		t.Fatalf("lake compact exited %d: %s%s", code, out, errOut)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "tcp_conns", "dt=2026-11-03", "hr=10", "*.parquet"))
	if len(files) != 1 || !strings.Contains(filepath.Base(files[0]), "compact-") {
		t.Errorf("after compaction the hour holds %v, want one compacted file", files)
	}
	check("after compaction")
}
