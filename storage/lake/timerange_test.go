package lake

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/flowlake/flowlake/storage/schema"
)

// TestTimesOutsideTheLakeAreRefused writes a batch holding a record dated
// year 111613 (an IPFIX flowStartMilliseconds of 3.46e15) and one before
// 1970 with good rows: the good rows are stored, the two are refused and
// counted, no partition folder is created for them, and the catalog saves.
func TestTimesOutsideTheLakeAreRefused(t *testing.T) {
	ctx := context.Background()
	l := testLake(t)
	base := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	rows := []schema.Flow{
		{Time: schema.Micros(base), Bytes: 1},
		{Time: 3_460_000_000_000_000 * 1000, Bytes: 2}, // year 111613
		{Time: schema.Micros(base) + 5, Bytes: 3},
		{Time: -1, Bytes: 4}, // 1969-12-31T23:59:59.999999Z
		{Time: schema.Micros(base) + 9, Bytes: 5},
	}
	segs, err := Write(ctx, l, "edge", rows)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	var stored int64
	for _, s := range segs {
		stored += s.Rows
		if s.Hour != base {
			t.Errorf("segment %s in hour %s", s.Key, s.Hour)
		}
	}
	if stored != 3 {
		t.Errorf("stored %d rows, want the 3 in range", stored)
	}
	if got := testutil.ToFloat64(l.metrics.rowsRefused.WithLabelValues(schema.Flows)); got != 2 {
		t.Errorf("rows_refused_total = %v, want 2", got)
	}
	_ = filepath.WalkDir(l.cfg.Root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() && strings.HasPrefix(d.Name(), "dt=") && d.Name() != "dt=2026-11-01" {
			t.Errorf("partition folder %s created", p)
		}
		return nil
	})
	if err := l.Close(); err != nil {
		t.Fatalf("close (save catalog): %v", err)
	}
}

// TestCatalogSurvivesAFolderOutOfRange puts a segment under the folder an
// older build created for year 111613: the catalog marks it unreadable,
// saves, and verify reports it; readers never list it.
func TestCatalogSurvivesAFolderOutOfRange(t *testing.T) {
	ctx := context.Background()
	l := testLake(t)
	segs, err := Write(ctx, l, "edge", []schema.Flow{{Time: schema.Micros(time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)), Bytes: 1}})
	if err != nil {
		t.Fatal(err)
	}
	bad := "flows/dt=111613-01-13/hr=00/edge-" + ulid.Make().String() + ".parquet"
	if err := os.MkdirAll(filepath.Join(l.cfg.Root, filepath.Dir(bad)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(l.cfg.Root, bad), readObject(t, l, segs[0].Key), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := l.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	listed, err := l.Segments(ctx, schema.Flows, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1 || listed[0].Key != segs[0].Key {
		t.Errorf("readers list %+v, want only %s", listed, segs[0].Key)
	}
	if err := l.catalog.save(ctx); err != nil {
		t.Fatalf("save catalog: %v", err)
	}
	problems, err := l.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 1 || problems[0].Key != bad {
		t.Errorf("verify: %+v, want one problem for %s", problems, bad)
	}
}
