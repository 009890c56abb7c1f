package lake

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/schema"
)

// vanishingBackend deletes a file right after it is listed, as a running
// serve does when its compaction's grace period ends or a rollup is rebuilt
// while verify walks the lake.
type vanishingBackend struct {
	*FS
	victim string
}

func (b *vanishingBackend) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	objs, err := b.FS.List(ctx, prefix)
	if err == nil && b.victim != "" {
		_ = os.Remove(filepath.Join(b.Root(), filepath.FromSlash(b.victim)))
	}
	return objs, err
}

// TestVerifyIgnoresFilesReplacedMeanwhile: a file deleted between verify's
// listing and its reading is not a problem, and the summary counts only
// the files really checked.
func TestVerifyIgnoresFilesReplacedMeanwhile(t *testing.T) {
	ctx := context.Background()
	cfg := DefaultConfig()
	cfg.Root = t.TempDir()
	fsb, err := NewFS(cfg.Root, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	b := &vanishingBackend{FS: fsb}
	l, err := OpenBackend(ctx, cfg, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	hour := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	var keys []string
	for i := range 3 {
		segs, err := Write(ctx, l, "edge", []schema.Flow{{Time: schema.Micros(hour) + int64(i), Bytes: uint64(i)}})
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, segs[0].Key)
	}
	b.victim = keys[1]
	res, err := l.VerifyProgress(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Problems) != 0 || res.Files != 2 || res.Rows != 2 {
		t.Errorf("verify = %+v, want no problem, 2 files and 2 rows checked", res)
	}
}

// TestVerifyFindsRowsInTwoLiveFiles copies a segment under a second name in
// its partition, as the race of two old compactions left the 10:00 hour:
// verify reports the rows found in both.
func TestVerifyFindsRowsInTwoLiveFiles(t *testing.T) {
	ctx := context.Background()
	l := testLake(t)
	hour := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	segs, err := Write(ctx, l, "compact", []schema.Flow{{Time: schema.Micros(hour), Bytes: 1}, {Time: schema.Micros(hour) + 1, Bytes: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Write(ctx, l, "edge", []schema.Flow{{Time: schema.Micros(hour) + 2, Bytes: 3}}); err != nil {
		t.Fatal(err)
	}
	twin := partitionKey(schema.Flows, hour) + "/compact-01JD0000000000000000000001.parquet"
	if err := os.WriteFile(filepath.Join(l.cfg.Root, filepath.FromSlash(twin)), readObject(t, l, segs[0].Key), 0o644); err != nil {
		t.Fatal(err)
	}
	problems, err := l.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 1 {
		t.Fatalf("verify = %+v, want one problem: rows in two live files", problems)
	}
	if !strings.Contains(problems[0].Err, "duplicated rows: 2 rows") {
		t.Errorf("problem = %+v", problems[0])
	}
}
