package query

import (
	"context"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// TestQueryPlansAgainWhenASnapshotFileIsGone: this process's catalog still
// lists segments another process compacted and deleted (grace 0, within
// the catalog's refresh interval); the query meets the vanished files,
// plans again on a new snapshot and answers every row once, with no
// warning.
func TestQueryPlansAgainWhenASnapshotFileIsGone(t *testing.T) {
	ctx := context.Background()
	cfg := lake.DefaultConfig()
	cfg.Root = t.TempDir()
	cfg.ReplacedGrace = 0
	reader, err := lake.Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	hour := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	for i := range 4 {
		rows := make([]schema.Flow, 50)
		for j := range rows {
			rows[j] = schema.Flow{Time: schema.Micros(hour) + int64(i*100+j), Bytes: 1}
		}
		if _, err := lake.Write(ctx, reader, "edge", rows); err != nil {
			t.Fatal(err)
		}
	}
	other, err := lake.Open(cfg, nil) // another process
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if res, err := other.Compact(ctx, hour.Add(2*time.Hour)); err != nil || res.Partitions != 1 {
		t.Fatalf("compact: %+v, %v", res, err)
	}
	if err := other.Refresh(ctx); err != nil { // deletes the replaced inputs (grace 0)
		t.Fatal(err)
	}
	e := New(reader, Config{}, nil)
	defer e.Close()
	res, err := e.Run(ctx, Query{Dataset: schema.Flows, From: hour.Format(time.RFC3339), To: hour.Add(time.Hour).Format(time.RFC3339),
		Metrics: []string{"count()"}})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	if len(res.Warnings) > 0 {
		t.Errorf("warnings: %+v", res.Warnings)
	}
	if n := res.Records[0].Column(0).(*array.Int64).Value(0); n != 200 {
		t.Errorf("count() = %d, want 200", n)
	}
}
