package query

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// Warning says that an answer is incomplete: the rows of one lake file
// could not be read. REST and GraphQL return warnings with the answer,
// and `flowlake query` exits with a distinct status (docs/query.md).
type Warning struct {
	Segment string `json:"segment"` // the file's key in the lake
	Error   string `json:"error"`   // why it is unreadable
}

// String is the warning in one line.
func (w Warning) String() string {
	return fmt.Sprintf("skipping unreadable segment %s: %s", w.Segment, w.Error)
}

// errSnapshotGone marks a file of the query's snapshot that was deleted
// before the query opened it: the query plans again on a new snapshot.
var errSnapshotGone = errors.New("a file of the catalog snapshot is gone")

type snapshotKey struct{}

// withSnapshot makes the catalog snapshot a query plans on reachable from
// its context, so routing and planning read one version of the lake.
func withSnapshot(ctx context.Context, s *lake.Snapshot) context.Context {
	return context.WithValue(ctx, snapshotKey{}, s)
}

type pinnedKey struct{}

// onSnapshot makes the queries run with ctx plan on snap and nowhere else:
// a rollup build reads exactly the lake version its tag names, and fails
// (to be retried) rather than plan again on a newer one.
func onSnapshot(ctx context.Context, snap *lake.Snapshot) context.Context {
	return context.WithValue(ctx, pinnedKey{}, snap)
}

// segments lists the segments of dataset in [from, to) from the query's
// snapshot, or from a new one outside a query.
func (e *Engine) segments(ctx context.Context, dataset string, from, to time.Time) ([]lake.Segment, error) {
	if s, ok := ctx.Value(snapshotKey{}).(*lake.Snapshot); ok {
		segs, err := s.Segments(dataset, from, to)
		if !errors.Is(err, lake.ErrNotCovered) {
			return segs, err
		}
		// Planning asked for more than the query's scope (snapshotScope):
		// a snapshot of the whole lake answers.
		e.log.Debug("query: reading beyond the snapshot's scope", "dataset", dataset, "err", err)
	}
	return e.lake.Segments(ctx, dataset, from, to)
}

// warn records that the rows of segment are missing from the answer.
func (r *queryRun) warn(segment, why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.warnings = append(r.warnings, Warning{Segment: segment, Error: why})
}

// snapshotRetries is how many times a query plans again on a new catalog
// snapshot when a file of its snapshot is gone (deleted by another process
// after the grace period, while this one still listed it).
const snapshotRetries = 3

// prepare plans q on one snapshot of the catalog, and on a new one when a
// file of the snapshot vanished before it was opened: an answer is always
// read from one consistent version of the lake. stream lets an aggregate
// over many files leave their planning to execute (queryRun.stream).
func (e *Engine) prepare(ctx context.Context, q Query, stream bool) (*queryRun, error) {
	if snap, ok := ctx.Value(pinnedKey{}).(*lake.Snapshot); ok {
		return e.prepareOn(withSnapshot(ctx, snap), q, snap, stream)
	}
	for attempt := 0; ; attempt++ {
		snap, err := e.snapshotFor(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("query: catalog snapshot: %w", err)
		}
		r, err := e.prepareOn(withSnapshot(ctx, snap), q, snap, stream)
		if !errors.Is(err, errSnapshotGone) {
			return r, err
		}
		if attempt == snapshotRetries {
			return nil, fmt.Errorf("query: the lake changed under %d snapshots in a row: %w", attempt+1, err)
		}
		e.log.Debug("query: a file of the catalog snapshot is gone; planning again", "err", err)
		if err := e.lake.Refresh(ctx); err != nil {
			return nil, fmt.Errorf("query: refresh catalog: %w", err)
		}
	}
}

// rollupDatasets are the datasets a flows query may be answered from.
var rollupDatasets = []string{schema.Flows, schema.Flows1m, schema.Flows1h, schema.Flows1d, schema.FlowHosts1h, schema.FlowHosts1d}

// snapshotFor takes the catalog snapshot q plans on: current for q's
// dataset (and the flows rollups) over q's range only, so a small query
// on a large lake checks a few partitions rather than the whole catalog
// (lake.SnapshotOf). A query that does not compile gets a whole snapshot
// and fails in planning with its own error.
func (e *Engine) snapshotFor(ctx context.Context, q Query) (*lake.Snapshot, error) {
	c, err := compile(q, e.cfg.Now())
	if err != nil {
		return e.lake.Snapshot(ctx)
	}
	datasets := []string{c.d.Name}
	if c.d.Name == schema.Flows && !q.raw {
		datasets = rollupDatasets
	}
	if names := eventRollupNames(c.d.Name); len(names) > 0 && !q.raw {
		datasets = append(datasets, names...)
	}
	return e.lake.SnapshotOf(ctx, schema.FromMicros(c.from), schema.FromMicros(c.to), datasets...)
}
