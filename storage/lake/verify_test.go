package lake

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/flowlake/flowlake/storage/schema"
)

func TestVerifyAndReadersSkipBadFiles(t *testing.T) {
	ctx := context.Background()
	l := testLake(t)
	hour := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	rows := []schema.Flow{{Time: schema.Micros(hour) + 10, Bytes: 1}, {Time: schema.Micros(hour) + 20, Bytes: 2}}
	good, err := Write(ctx, l, "edge", rows)
	if err != nil {
		t.Fatal(err)
	}
	victim, err := Write(ctx, l, "edge", rows)
	if err != nil {
		t.Fatal(err)
	}
	root := l.Config().Root
	// Truncate one segment, drop a foreign Parquet file and a stray file
	// into the partition.
	path := filepath.Join(root, filepath.FromSlash(victim[0].Key))
	b, _ := os.ReadFile(path)
	if err := os.WriteFile(path, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	var foreign bytes.Buffer
	fw := parquet.NewGenericWriter[struct{ X int64 }](&foreign)
	_, _ = fw.Write([]struct{ X int64 }{{1}})
	_ = fw.Close()
	dir := filepath.Dir(path)
	foreignKey := partitionKey(schema.Flows, hour) + "/other-01JD0000000000000000000000.parquet"
	if err := os.WriteFile(filepath.Join(root, filepath.FromSlash(foreignKey)), foreign.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}

	problems, err := l.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		victim[0].Key: "not a readable flowlake segment",
		foreignKey:    "foreign parquet file",
		partitionKey(schema.Flows, hour) + "/notes.txt": "not a segment",
	}
	if len(problems) != len(want) {
		t.Errorf("verify found %d problems, want %d: %+v", len(problems), len(want), problems)
	}
	for _, p := range problems {
		if !strings.Contains(p.Err, want[p.Key]) || want[p.Key] == "" {
			t.Errorf("problem %s: %q, want it to mention %q", p.Key, p.Err, want[p.Key])
		}
	}

	// A fresh reader skips the bad files with a warning and still serves
	// the good one.
	var logs bytes.Buffer
	l2, err := Open(l.Config(), slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	segs, err := l2.Segments(ctx, schema.Flows, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 1 || segs[0].Key != good[0].Key {
		t.Errorf("readers see %+v, want only %s", segs, good[0].Key)
	}
	if !strings.Contains(logs.String(), "skipping unreadable lake file") || !strings.Contains(logs.String(), victim[0].Key) {
		t.Errorf("no warning naming the truncated file in the log:\n%s", logs.String())
	}
	stats, _ := l2.Stats(ctx)
	if stats[0].Rows != 2 || stats[0].Files != 1 {
		t.Errorf("stats count bad files: %+v", stats[0])
	}
}
