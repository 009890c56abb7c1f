package lake

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/schema"
)

// spooled writes rows into a scratch lake and returns each segment's id
// and bytes, as an edge's spool holds them.
func spooled(t *testing.T, rows []schema.Flow) map[string][]byte {
	t.Helper()
	spool := testLake(t)
	segs, err := Write(context.Background(), spool, "edge-1", rows)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, s := range segs {
		b, err := os.ReadFile(filepath.Join(spool.Config().Root, filepath.FromSlash(s.Key)))
		if err != nil {
			t.Fatal(err)
		}
		out[SegmentID(s)] = b
	}
	return out
}

func TestPublishIsIdempotentAndValidates(t *testing.T) {
	ctx := context.Background()
	base := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	rows := randomRows[schema.Flow](rand.New(rand.NewPCG(1, 2)), 3000, base, 2*time.Hour)
	files := spooled(t, rows)
	if len(files) != 2 {
		t.Fatalf("%d segments, want 2 (two hours)", len(files))
	}
	core := testLake(t, func(c *Config) { c.CompactRows = 1 << 20 })
	for id, b := range files {
		for attempt, want := range []bool{true, false} {
			p, err := core.Publish(ctx, id, bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatalf("publish %s attempt %d: %v", id, attempt, err)
			}
			if p.Created != want || SegmentID(p.Segment) != id {
				t.Errorf("publish %s attempt %d: created %v key %s", id, attempt, p.Created, p.Key)
			}
		}
	}
	stats, err := core.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stats[0].Rows != 3000 {
		t.Errorf("core holds %d rows, want 3000", stats[0].Rows)
	}

	// A second segment of the same hour, then compaction merges the hour:
	// re-uploading the merged-away segments still publishes nothing.
	more := spooled(t, randomRows[schema.Flow](rand.New(rand.NewPCG(3, 4)), 100, base, time.Hour))
	for id, b := range more {
		if _, err := core.Publish(ctx, id, bytes.NewReader(b), int64(len(b))); err != nil {
			t.Fatal(err)
		}
		files[id] = b
	}
	if res, err := core.Compact(ctx, base.Add(3*time.Hour)); err != nil || res.FilesBefore == 0 {
		t.Fatalf("compact: %+v %v", res, err)
	}
	for id, b := range files {
		p, err := core.Publish(ctx, id, bytes.NewReader(b), int64(len(b)))
		if err != nil || p.Created {
			t.Errorf("re-publish %s after compaction: created %v, %v", id, p.Created, err)
		}
	}
	if stats, _ := core.Stats(ctx); stats[0].Rows != 3100 {
		t.Errorf("after compaction and re-uploads: %d rows, want 3100", stats[0].Rows)
	}

	var id string
	var good []byte
	for id, good = range more {
	}
	tests := []struct {
		name string
		id   string
		b    []byte
		want error
	}{
		{"garbage", id, []byte("not parquet at all"), ErrCorrupt},
		{"truncated", id, good[:len(good)/2], ErrCorrupt},
		{"empty", id, nil, ErrCorrupt},
		{"id without ulid", "edge-1", good, ErrSegmentID},
		{"id with slash", "../x-01KAFV4S1Q5ZP6T4J1H2J3K4M5", good, ErrSegmentID},
		{"id of another source", "edge-2-" + id[len("edge-1-"):], good, ErrSegmentID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := core.Publish(ctx, tc.id, bytes.NewReader(tc.b), int64(len(tc.b)))
			if !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
		})
	}
}

// TestPublishConcurrentRetries: uploads of one segment racing each other
// (a retry while the first attempt still runs) publish it once.
func TestPublishConcurrentRetries(t *testing.T) {
	ctx := context.Background()
	base := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	files := spooled(t, randomRows[schema.Flow](rand.New(rand.NewPCG(5, 6)), 500, base, time.Hour))
	core := testLake(t)
	for id, b := range files {
		created := make(chan bool, 8)
		for range cap(created) {
			go func() {
				p, err := core.Publish(ctx, id, bytes.NewReader(b), int64(len(b)))
				if err != nil {
					t.Error(err)
				}
				created <- p.Created
			}()
		}
		n := 0
		for range cap(created) {
			if <-created {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s created %d times, want once", id, n)
		}
	}
	if stats, _ := core.Stats(ctx); stats[0].Rows != 500 || stats[0].Files != 1 {
		t.Errorf("core: %d rows in %d files, want 500 in 1", stats[0].Rows, stats[0].Files)
	}
}
