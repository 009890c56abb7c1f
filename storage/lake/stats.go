package lake

import (
	"context"
	"fmt"
	"time"

	"github.com/flowlake/flowlake/storage/schema"
)

// Segments returns the readable segments of dataset whose rows may fall in
// [from, to), ordered by partition hour then key. A zero from or to leaves
// that side open. It is Snapshot followed by Snapshot.Segments: code that
// reads more than one dataset for one answer takes one Snapshot instead.
func (l *Lake) Segments(ctx context.Context, dataset string, from, to time.Time) ([]Segment, error) {
	snap, err := l.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	return snap.Segments(dataset, from, to)
}

// Snapshot is one consistent version of the catalog: every file it lists
// stays on disk for at least Config.ReplacedGrace after a compaction
// replaces it, and no two of its files hold the same row. A query plans
// on one Snapshot so it sees either a compaction's inputs or its outputs,
// and a rollup together with the flows it was built from.
//
// A Snapshot is immutable and cheap: it indexes each dataset's partitions
// by hour (binary search), and consecutive snapshots share the partitions
// that did not change.
type Snapshot struct {
	byDataset map[string][]*partView // sorted by hour, then folder
	other     []*partView            // folders outside the layout
	files     int                    // files in the catalog when it was made
	complete  bool                   // made from a catalog of the whole lake
	scopes    []scope                // else: what it vouches for (SnapshotOf)
}

// Snapshot returns the current version of the catalog, refreshed first
// when it is older than a few seconds (other processes' writes).
func (l *Lake) Snapshot(ctx context.Context) (*Snapshot, error) {
	return l.catalog.snapshot(ctx)
}

// Segments returns the readable segments of dataset in the snapshot whose
// rows may fall in [from, to), ordered by partition hour then key. A zero
// from or to leaves that side open.
func (s *Snapshot) Segments(dataset string, from, to time.Time) ([]Segment, error) {
	if _, err := schema.Lookup(dataset); err != nil {
		return nil, err
	}
	if !s.covers(dataset, from, to) {
		return nil, fmt.Errorf("segments of %s from %s to %s: %w", dataset, from.Format(time.RFC3339), to.Format(time.RFC3339), ErrNotCovered)
	}
	var out []Segment
	for _, v := range hourRange(s.byDataset[dataset], from, to) {
		for _, e := range v.entries {
			if e.Problem != "" || e.Dataset != dataset {
				continue
			}
			if !from.IsZero() && e.MaxTime.Before(from) || !to.IsZero() && !e.MinTime.Before(to) {
				continue
			}
			out = append(out, e.Segment)
		}
	}
	return out, nil
}

// Unreadable returns the files of dataset in the snapshot that readers
// skip because they are damaged or foreign, and whose partition hour
// overlaps [from, to): an answer over that range is missing their rows,
// and says so. Outside a SnapshotOf's scope it knows of none.
func (s *Snapshot) Unreadable(dataset string, from, to time.Time) []Problem {
	if !s.covers(dataset, from, to) {
		return nil
	}
	var out []Problem
	for _, v := range hourRange(s.byDataset[dataset], from, to) {
		for _, e := range v.entries {
			if e.Problem == "" || e.Dataset != dataset {
				continue
			}
			out = append(out, Problem{Key: e.Key, Err: e.Problem})
		}
	}
	return out
}

// Stats summarises every dataset, empty ones included, in schema order.
func (l *Lake) Stats(ctx context.Context) ([]DatasetStats, error) {
	snap, err := l.catalog.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	entries := snap.entries()
	byName := map[string]*DatasetStats{}
	parts := map[string]map[time.Time]bool{}
	var out []DatasetStats
	for _, name := range schema.Names() {
		out = append(out, DatasetStats{Dataset: name})
		parts[name] = map[time.Time]bool{}
	}
	for i := range out {
		byName[out[i].Dataset] = &out[i]
	}
	for _, e := range entries {
		s := byName[e.Dataset]
		if e.Problem != "" || s == nil {
			continue
		}
		s.Rows += e.Rows
		s.Bytes += e.Bytes
		s.Files++
		parts[e.Dataset][e.Hour] = true
		if s.MinTime.IsZero() || e.MinTime.Before(s.MinTime) {
			s.MinTime = e.MinTime
		}
		if e.MaxTime.After(s.MaxTime) {
			s.MaxTime = e.MaxTime
		}
	}
	for i := range out {
		out[i].Partitions = len(parts[out[i].Dataset])
	}
	return out, nil
}

// Refresh re-lists the lake now, picking up segments other processes
// published and files that appeared or vanished.
func (l *Lake) Refresh(ctx context.Context) error { return l.catalog.refresh(ctx) }

// PartitionSegments lists the hour partition of dataset holding hour
// afresh (not from the catalog's cached view) and returns its readable
// live segments. Code that holds the partition's lock (LockPartition)
// uses it to see what other processes did before it took the lock.
func (l *Lake) PartitionSegments(ctx context.Context, dataset string, hour time.Time) ([]Segment, error) {
	if _, err := schema.Lookup(dataset); err != nil {
		return nil, err
	}
	if err := checkHour(hour); err != nil {
		return nil, err
	}
	files, err := l.catalog.partition(ctx, dataset, hourOf(hour.UnixMicro()))
	if err != nil {
		return nil, err
	}
	var out []Segment
	for _, e := range live(files) {
		if e.Problem == "" {
			out = append(out, e.Segment)
		}
	}
	return out, nil
}
