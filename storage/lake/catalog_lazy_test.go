package lake

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowlake/flowlake/storage/schema"
)

// countingFS is the filesystem backend that records which objects were
// opened and which prefixes listed: what a reader's catalog cost.
type countingFS struct {
	*FS
	mu       sync.Mutex
	opened   []string
	listed   []string
	versions int
}

func (b *countingFS) FolderVersion(ctx context.Context, name string) (string, bool, error) {
	b.mu.Lock()
	b.versions++
	b.mu.Unlock()
	return b.FS.FolderVersion(ctx, name)
}

func (b *countingFS) Open(ctx context.Context, key string) (Object, error) {
	b.mu.Lock()
	b.opened = append(b.opened, key)
	b.mu.Unlock()
	return b.FS.Open(ctx, key)
}

func (b *countingFS) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	b.mu.Lock()
	b.listed = append(b.listed, prefix)
	b.mu.Unlock()
	return b.FS.List(ctx, prefix)
}

// footers returns the segments it opened (a footer read) and forgets.
func (b *countingFS) reset() (footers, lists []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, k := range b.opened {
		if strings.HasSuffix(k, segmentExt) {
			footers = append(footers, k)
		}
	}
	lists = b.listed
	b.opened, b.listed = nil, nil
	return footers, lists
}

// openCounting opens the lake in root as another process would, on a
// countingFS.
func openCounting(t *testing.T, root string) (*Lake, *countingFS) {
	t.Helper()
	fsb, err := NewFS(root, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	b := &countingFS{FS: fsb}
	cfg := DefaultConfig()
	cfg.Root = root
	l, err := OpenBackend(t.Context(), cfg, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	return l, b
}

// settle ages every folder's modification time by an hour, as if the
// writes were long ago: FolderVersion vouches only for settled folders.
func settle(t *testing.T, root string) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		old := info.ModTime().Add(-time.Hour)
		return os.Chtimes(p, old, old)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// truth lists dataset's segments in [from, to) from a catalog of the whole
// lake, freshly listed: what any snapshot must agree with.
func truth(t *testing.T, root, dataset string, from, to time.Time) []string {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Root = root
	l, err := Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	segs, err := l.Segments(t.Context(), dataset, from, to)
	if err != nil {
		t.Fatal(err)
	}
	return keysOf(segs)
}

func keysOf(segs []Segment) []string {
	var out []string
	for _, s := range segs {
		out = append(out, s.Key)
	}
	return out
}

func scoped(t *testing.T, l *Lake, from, to time.Time) []string {
	t.Helper()
	snap, err := l.SnapshotOf(t.Context(), from, to, schema.Flows)
	if err != nil {
		t.Fatal(err)
	}
	segs, err := snap.Segments(schema.Flows, from, to)
	if err != nil {
		t.Fatal(err)
	}
	return keysOf(segs)
}

// TestSnapshotOfUsesTheCache opens a warm three-day lake as a new process
// would and asks one hour: its catalog reads no footer and lists nothing
// but that hour's folder (the footers come from the day's cache file),
// and a second process does the same. Outside its scope the snapshot says
// so.
func TestSnapshotOfUsesTheCache(t *testing.T) {
	ctx := t.Context()
	w := testLake(t)
	base := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	for i := range 3 { // several segments per hour
		if _, err := Write(ctx, w, "edge", seqRows(uint64(i)*10000, 3000, 72, base)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil { // saves the cache
		t.Fatal(err)
	}
	root := w.Config().Root
	settle(t, root)
	h := base.Add(30 * time.Hour)
	want := truth(t, root, schema.Flows, h, h.Add(time.Hour))
	if len(want) != 3 {
		t.Fatalf("the hour holds %d segments, want 3", len(want))
	}

	r, b := openCounting(t, root)
	if got := scoped(t, r, h, h.Add(time.Hour)); !slices.Equal(got, want) {
		t.Fatalf("first reader's segments (-want +got):\n%s", cmp.Diff(want, got))
	}
	footers, lists := b.reset()
	if len(footers) != 0 {
		t.Errorf("first reader read %d footers, want none (cached): %v", len(footers), footers)
	}
	if wantLists := []string{partitionKey(schema.Flows, h) + "/"}; !slices.Equal(lists, wantLists) {
		t.Errorf("first reader listed %q, want only %q", lists, wantLists)
	}
	snap, err := r.SnapshotOf(ctx, h, h.Add(time.Hour), schema.Flows)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := snap.Segments(schema.Flows, h, h.Add(2*time.Hour)); !errors.Is(err, ErrNotCovered) {
		t.Errorf("segments beyond the scope: err %v, want ErrNotCovered", err)
	}
	if _, err := snap.Segments(schema.TCPConns, h, h.Add(time.Hour)); !errors.Is(err, ErrNotCovered) {
		t.Errorf("segments of another dataset: err %v, want ErrNotCovered", err)
	}
	if err := r.Close(); err != nil { // saves the day's cache
		t.Fatal(err)
	}

	r2, b2 := openCounting(t, root)
	defer r2.Close()
	if got := scoped(t, r2, h, h.Add(time.Hour)); !slices.Equal(got, want) {
		t.Fatalf("second reader's segments (-want +got):\n%s", cmp.Diff(want, got))
	}
	// A new process lists the hour it asks once itself (a folder version
	// written by another process is not trusted: catalog_cache.go), and
	// reads no footer: the cache holds them.
	if footers, lists := b2.reset(); len(footers) != 0 || !slices.Equal(lists, []string{partitionKey(schema.Flows, h) + "/"}) {
		t.Errorf("second reader read footers %v and listed %q, want no footer and only its hour", footers, lists)
	}
}

// TestSnapshotOfSeesOtherProcesses keeps a reader open on a lake while
// another process appends to an hour, compacts it and retains a day away:
// each scoped snapshot of the reader equals a fresh full listing, whether
// the folders changed a moment ago (their versions not yet trusted) or
// long ago (settled).
func TestSnapshotOfSeesOtherProcesses(t *testing.T) {
	ctx := t.Context()
	w := testLake(t)
	base := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	if _, err := Write(ctx, w, "edge", seqRows(0, 3000, 72, base)); err != nil {
		t.Fatal(err)
	}
	root := w.Config().Root
	settle(t, root)
	r, _ := openCounting(t, root)
	defer r.Close()
	// The reader's clock: each check comes later than the catalog's
	// staleness bound after the one before.
	var offset time.Duration
	r.catalog.now = func() time.Time { return time.Now().Add(offset) }
	from, to := base.Add(24*time.Hour), base.Add(26*time.Hour) // two hours of day 2
	check := func(step string, from, to time.Time) {
		t.Helper()
		offset += catalogRefreshEvery + time.Second
		want := truth(t, root, schema.Flows, from, to)
		if got := scoped(t, r, from, to); !slices.Equal(got, want) {
			t.Fatalf("%s: reader's segments (-fresh listing +reader):\n%s", step, cmp.Diff(want, got))
		}
	}
	check("before", from, to)

	for _, settled := range []bool{false, true} {
		if _, err := Write(ctx, w, "late", seqRows(50000, 10, 1, from)); err != nil {
			t.Fatal(err)
		}
		if settled {
			settle(t, root)
		}
		check("after an append", from, to)
		if _, err := w.Compact(ctx, to); err != nil {
			t.Fatal(err)
		}
		if settled {
			settle(t, root)
		}
		check("after a compaction", from, to)
	}
	res, err := w.Retain(ctx, RetentionPolicy{MaxAge: map[string]time.Duration{schema.Flows: 24 * time.Hour}}, base.Add(50*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if res.Partitions == 0 {
		t.Fatal("retention deleted nothing; the test needs it to delete day 1")
	}
	check("after retention", base, base.Add(24*time.Hour))
	if got := scoped(t, r, base, base.Add(24*time.Hour)); len(got) != 0 {
		t.Fatalf("reader still lists %d segments of the retained day", len(got))
	}
}

// TestSnapshotOfLongRange asks a three-day lake for 1970 to 2100: the
// answer is the whole lake, and the reader checks only the folders of the
// days the lake holds (a range's cost is the data's, not the calendar's).
// Once retention removes a day the reader had seen, the same long range
// no longer answers with it.
func TestSnapshotOfLongRange(t *testing.T) {
	ctx := t.Context()
	w := testLake(t)
	base := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	if _, err := Write(ctx, w, "edge", seqRows(0, 3000, 72, base)); err != nil {
		t.Fatal(err)
	}
	root := w.Config().Root
	settle(t, root)
	from, to := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	r, b := openCounting(t, root)
	defer r.Close()
	var offset time.Duration
	r.catalog.now = func() time.Time { return time.Now().Add(offset) }
	want := truth(t, root, schema.Flows, from, to)
	if got := scoped(t, r, from, to); len(want) == 0 || !slices.Equal(got, want) {
		t.Fatalf("segments of 1970–2100 (-want +got):\n%s", cmp.Diff(want, got))
	}
	if b.versions > 3*25 {
		t.Errorf("reader checked %d folder versions for a three-day lake, want at most %d", b.versions, 3*25)
	}

	if _, err := w.Retain(ctx, RetentionPolicy{MaxAge: map[string]time.Duration{schema.Flows: 24 * time.Hour}}, base.Add(50*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, schema.Flows, "dt=2026-03-02")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("retention left the first day's folder: %v", err)
	}
	offset += catalogRefreshEvery + time.Second
	want = truth(t, root, schema.Flows, from, to)
	if got := scoped(t, r, from, to); !slices.Equal(got, want) {
		t.Fatalf("after retention (-fresh listing +reader):\n%s", cmp.Diff(want, got))
	}
}

// TestWriterKeepsTheDayCache: a process that only writes into a day it
// never read rewrites that day's cache file with the other folders'
// footers kept, so the next reader of those folders still reads none.
func TestWriterKeepsTheDayCache(t *testing.T) {
	ctx := t.Context()
	w := testLake(t)
	base := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	if _, err := Write(ctx, w, "edge", seqRows(0, 300, 3, base)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	root := w.Config().Root
	w2, _ := openCounting(t, root) // writes hour 3, reads nothing
	if _, err := Write(ctx, w2, "late", seqRows(1000, 10, 1, base.Add(3*time.Hour))); err != nil {
		t.Fatal(err)
	}
	if err := w2.Close(); err != nil {
		t.Fatal(err)
	}
	settle(t, root)
	r, b := openCounting(t, root)
	defer r.Close()
	got := scoped(t, r, base, base.Add(4*time.Hour))
	if footers, _ := b.reset(); len(footers) != 0 {
		t.Errorf("reader read %d footers, want none: %v", len(footers), footers)
	}
	// The truth last: a whole listing rewrites the cache.
	if want := truth(t, root, schema.Flows, base, base.Add(4*time.Hour)); !slices.Equal(got, want) {
		t.Fatalf("reader's segments (-want +got):\n%s", cmp.Diff(want, got))
	}
}
