package lake

import (
	"context"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/schema"
)

// TestRadixSort sorts permutation keys as timeOrder builds them: a time
// offset above the row index, indexes ascending.
func TestRadixSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{1, 2, 100, 5000} {
		for _, timeBits := range []int{0, 1, 11, 24, 39} {
			p := make([]uint64, n)
			for i := range p {
				var off uint64
				if timeBits > 0 {
					off = rng.Uint64() >> (64 - timeBits)
				}
				p[i] = off<<indexBits | uint64(i)
			}
			want := slices.Clone(p)
			slices.Sort(want)
			radixSort(p, indexBits+timeBits)
			if !slices.Equal(p, want) {
				t.Fatalf("n=%d timeBits=%d: not sorted", n, timeBits)
			}
		}
	}
}

// TestStageCommitAbort checks the two halves of Write: staged segments
// are files nobody sees (not the catalog, not a listing, not a fresh
// catalog after a restart) holding no reference to the caller's rows;
// Commit publishes exactly the staged rows, one segment per hour, and
// Abort leaves nothing behind.
func TestStageCommitAbort(t *testing.T) {
	ctx := context.Background()
	l := testLake(t)
	start := time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(7, 7))
	rows := randomRows[schema.Flow](rng, 5000, start, time.Hour) // two hours
	want := slices.Clone(rows)

	visible := func() int {
		t.Helper()
		if err := l.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		segs, err := l.Segments(ctx, schema.Flows, time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		return len(segs)
	}

	st, err := Stage(ctx, l, "stage", rows)
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows() != int64(len(rows)) {
		t.Errorf("staged %d rows, want %d", st.Rows(), len(rows))
	}
	clear(rows) // the caller may reuse its rows once Stage returns
	if n := visible(); n != 0 {
		t.Fatalf("%d segments visible before Commit", n)
	}
	segs, err := st.Commit()
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 2 || visible() != 2 {
		t.Fatalf("committed %d segments, %d visible; want 2 (two hours)", len(segs), visible())
	}
	var got []schema.Flow
	for _, s := range segs {
		r, err := Read[schema.Flow](ctx, l, s)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r...)
	}
	slices.SortStableFunc(want, byTime)
	if !slices.EqualFunc(got, want, func(a, b schema.Flow) bool { return reflect.DeepEqual(a, b) }) {
		t.Errorf("committed rows differ from the staged ones")
	}
	st.Abort() // after Commit: nothing

	st, err = Stage(ctx, l, "stage", want)
	if err != nil {
		t.Fatal(err)
	}
	st.Abort()
	if n := visible(); n != 2 {
		t.Errorf("%d segments visible after Abort, want the 2 committed", n)
	}
	var files []string
	if err := filepath.WalkDir(l.cfg.Root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), tempPrefix) {
			files = append(files, path)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(files) != 0 {
		t.Errorf("Abort left temporary files: %v", files)
	}
}
