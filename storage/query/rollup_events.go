package query

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/flowlake/flowlake/storage/schema"
)

// Event rollups (tcp_conns_1d, dhcp_events_1d, cloud_conn_1d,
// flow_loss_1d) are built and routed like the flows rollups: a day's
// rollup is tagged with a digest of the raw segments of the day it was
// built from, rebuilt when they change (a late upload, compaction,
// retention), and answers a query only when every day of its range with raw
// rows has a fresh rollup and the query's dimensions, filter columns and
// metrics are exact over the rollup's groups (docs/query.md, "Rollups").

// eventRollup describes one event rollup dataset, derived from its schema:
// the raw columns it groups by and those it sums.
type eventRollup struct {
	raw, name string
	g         time.Duration
	dims      []string // raw columns kept as dimensions
	sums      []string // raw columns summed (the rollup column of the same name)
	// guarded are dimensions the rollup keeps only for the rows a boolean
	// column marks (dhcp_events_1d keeps src_addr only for rogue_server
	// messages): a query may use them only when its filter requires that
	// column to be true.
	guarded map[string]string
}

// eventRollups are the event rollups by raw dataset.
var eventRollups = sync.OnceValue(func() map[string][]eventRollup {
	out := map[string][]eventRollup{}
	for raw, names := range schema.EventRollups() {
		for _, name := range names {
			d, err := schema.Lookup(name)
			if err != nil {
				panic("query: unreachable: an event rollup without dataset: " + name) // schema lists both
			}
			r := eventRollup{raw: raw, name: name, g: 24 * time.Hour, guarded: map[string]string{}}
			for _, c := range d.Columns {
				switch {
				case c.Name == schema.ColTime || c.Name == schema.RollupRowsColumn:
				case strings.HasPrefix(c.Origin, "sum of "):
					r.sums = append(r.sums, c.Name)
				default:
					r.dims = append(r.dims, c.Name)
				}
			}
			if raw == schema.DHCPEvents {
				r.guarded["src_addr"] = "rogue_server"
			}
			out[raw] = append(out[raw], r)
		}
	}
	return out
})

// eventRollupNames are the rollup datasets of raw, coarsest first.
func eventRollupNames(raw string) []string {
	var names []string
	for _, r := range eventRollups()[raw] {
		names = append(names, r.name)
	}
	return names
}

// routeEvents returns c rewritten onto one of its dataset's rollups when
// the answer is provably the raw one, with the line for EXPLAIN; otherwise
// c and why not.
func (e *Engine) routeEvents(ctx context.Context, c *compiled, rollups []eventRollup) (*compiled, string, error) {
	raw := "raw segments of " + c.d.Name
	if c.join != nil {
		return c, raw + " (the lease join needs raw rows)", nil
	}
	why := ""
	for _, r := range rollups {
		rc, reason, err := e.tryEventRollup(ctx, c, r)
		if err != nil {
			return nil, "", err
		}
		if rc != nil {
			return rc, "rollup " + r.name + " (" + reason + ")", nil
		}
		if why == "" {
			why = reason
		}
	}
	return c, raw + " (" + why + ")", nil
}

// tryEventRollup rewrites c onto rollup r, or returns nil and the reason
// it cannot.
func (e *Engine) tryEventRollup(ctx context.Context, c *compiled, r eventRollup) (*compiled, string, error) {
	gus := r.g.Microseconds()
	if c.from%gus != 0 || c.to%gus != 0 {
		return nil, fmt.Sprintf("time range not aligned to %s %s", r.name, r.g), nil
	}
	if c.timeDim >= 0 {
		b := c.dims[c.timeDim].bucket
		if b.width != 0 && b.width%r.g != 0 {
			return nil, fmt.Sprintf("bucket %s finer than %s", b, r.name), nil
		}
		if b.width == 0 && c.loc != time.UTC {
			return nil, fmt.Sprintf("calendar buckets in %s need raw rows", c.loc), nil
		}
		if !offsetsAligned(c.loc, c.from, c.to, r.g) {
			return nil, fmt.Sprintf("time zone %s is not aligned to %s", c.loc, r.g), nil
		}
	}
	d, err := schema.Lookup(r.name)
	if err != nil {
		return nil, "", err
	}
	isDim := func(col string) bool { return slices.Contains(r.dims, col) }
	guardOK := func(col string) bool {
		g, ok := r.guarded[col]
		return !ok || requiresTrue(c.filter, g)
	}
	bad := ""
	walkColumns(c.filter, func(col string) {
		if bad == "" && (!isDim(col) || !guardOK(col)) {
			bad = "filter on " + col
		}
	})
	if bad != "" {
		return nil, bad + " needs raw rows", nil
	}
	rc := *c
	rc.d = d
	rc.dims = slices.Clone(c.dims)
	for i, dim := range rc.dims {
		if dim.kind == dimTime {
			continue
		}
		col := c.d.Columns[dim.col].Name
		if !isDim(col) || !guardOK(col) {
			return nil, fmt.Sprintf("group by %s needs raw rows", col), nil
		}
		j, err := rc.column("group_by", col)
		if err != nil {
			return nil, "", err
		}
		rc.dims[i].col = j
	}
	rc.metrics = slices.Clone(c.metrics)
	for i, m := range rc.metrics {
		col := schema.RollupRowsColumn
		if m.col >= 0 {
			col = c.d.Columns[m.col].Name
		}
		switch {
		case m.fn == mCount:
			rc.metrics[i].fn, rc.metrics[i].asCount = mSum, true
		case m.fn == mSum && slices.Contains(r.sums, col):
		case (m.fn == mDistinct || m.fn == mMin || m.fn == mMax) && isDim(col) && guardOK(col):
		default:
			return nil, m.name + " needs raw rows", nil
		}
		j, err := rc.column("metrics", col)
		if err != nil {
			return nil, "", err
		}
		rc.metrics[i].col = j
	}
	reason, fresh, err := e.rollupFresh(ctx, c, r.name, r.g)
	if err != nil || !fresh {
		return nil, reason, err
	}
	rc.setColumns()
	return &rc, reason, nil
}

// requiresTrue reports whether filter e keeps only rows whose boolean
// column col is true: e is that test, or an And with it among its terms.
func requiresTrue(e Expr, col string) bool {
	switch e := e.(type) {
	case Compare:
		return e.Column == col && e.Value.Kind == KindBool && e.Op == OpEq && e.Value.Bool
	case And:
		for _, t := range e.Terms {
			if requiresTrue(t, col) {
				return true
			}
		}
	}
	return false
}

// maintainEventRollups brings the event rollups of the days meeting
// [from, to) (open when zero) up to date with their raw segments, like
// MaintainRollupsIn does for flows.
func (e *Engine) maintainEventRollups(ctx context.Context, from, to time.Time, res *RollupResult) error {
	snap, err := e.lake.Snapshot(ctx)
	if err != nil {
		return err
	}
	type job struct {
		r eventRollup
		d time.Time
	}
	var jobs []job
	for _, raw := range slices.Sorted(mapKeys(eventRollups())) {
		segs, err := snap.Segments(raw, time.Time{}, time.Time{})
		if err != nil {
			return err
		}
		keys := rawKeys(segs)
		days := map[time.Time]bool{}
		for h := range keys {
			if !from.IsZero() && h.Add(time.Hour).Compare(from) <= 0 || !to.IsZero() && !h.Before(to) {
				continue
			}
			days[h.Truncate(24*time.Hour)] = true
		}
		for _, r := range eventRollups()[raw] {
			have, err := snap.Segments(r.name, time.Time{}, time.Time{})
			if err != nil {
				return err
			}
			by := bySource(have)
			for d := range days {
				if !fresh(by[d], rollupTag(dayKeys(keys, d))) {
					jobs = append(jobs, job{r, d})
				}
			}
		}
	}
	slices.SortFunc(jobs, func(a, b job) int {
		if c := a.d.Compare(b.d); c != 0 {
			return c
		}
		return strings.Compare(a.r.name, b.r.name)
	})
	var mu sync.Mutex
	var firstErr error
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(e.cfg.Workers, max(len(jobs), 1)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(jobs) || ctx.Err() != nil {
					return
				}
				j := jobs[i]
				built, removed, err := e.rebuildEventDay(ctx, j.r, j.d)
				mu.Lock()
				if built {
					res.Built = append(res.Built, j.r.name+" "+j.d.Format(time.RFC3339))
				}
				res.Removed += removed
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("rollup %s of day %s: %w", j.r.name, j.d.Format(time.DateOnly), err)
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// rebuildEventDay rebuilds rollup r of day d under its partition lock,
// unless another process already did, from one snapshot of the day's raw
// segments whose keys make the tag. It reports whether it wrote a rollup
// and how many stale segments it removed.
func (e *Engine) rebuildEventDay(ctx context.Context, r eventRollup, d time.Time) (bool, int, error) {
	unlock, err := e.lake.LockPartition(ctx, r.name, d)
	if err != nil {
		return false, 0, err
	}
	defer unlock()
	for attempt := 0; ; attempt++ {
		built, removed, err := e.rebuildEventDayLocked(ctx, r, d)
		if !errors.Is(err, errSnapshotGone) || attempt == snapshotRetries {
			return built, removed, err
		}
	}
}

func (e *Engine) rebuildEventDayLocked(ctx context.Context, r eventRollup, d time.Time) (bool, int, error) {
	l := e.lake
	end := d.Add(24 * time.Hour)
	// Listing the day's partitions afresh brings the catalog up to date
	// with other processes' appends and compactions before the snapshot.
	for h := d; h.Before(end); h = h.Add(time.Hour) {
		if _, err := l.PartitionSegments(ctx, r.raw, h); err != nil {
			return false, 0, err
		}
	}
	snap, err := l.SnapshotOf(ctx, d, end, r.raw)
	if err != nil {
		return false, 0, err
	}
	segs, err := snap.Segments(r.raw, d, end)
	if err != nil {
		return false, 0, err
	}
	now, err := l.PartitionSegments(ctx, r.name, d)
	if err != nil {
		return false, 0, err
	}
	keys := dayKeys(rawKeys(segs), d)
	if len(keys) == 0 {
		// Gone meanwhile (retention): the rollup outlives its raw rows.
		return false, 0, nil
	}
	tag := rollupTag(keys)
	if fresh(now, tag) {
		return false, 0, nil
	}
	sctx := onSnapshot(ctx, snap)
	switch r.name {
	case schema.TCPConns1d:
		err = buildEventDay[schema.TCPConn1dRow](sctx, e, r, d, tag)
	case schema.DHCPEvents1d:
		err = buildEventDay[schema.DHCPEvent1dRow](sctx, e, r, d, tag)
	case schema.CloudConns1d:
		err = buildEventDay[schema.CloudConn1dRow](sctx, e, r, d, tag)
	case schema.FlowLosses1d:
		err = buildEventDay[schema.FlowLoss1dRow](sctx, e, r, d, tag)
	default:
		err = fmt.Errorf("no builder for rollup %s", r.name)
	}
	if err != nil {
		return false, 0, err
	}
	n, err := removeStale(ctx, l, now)
	return true, n, err
}

// buildEventDay aggregates day d of r's raw dataset into rows of T (one
// per combination of r's dimensions) and writes them under tag. A guarded
// dimension is grouped by only for the rows its column marks, and is zero
// in the others.
func buildEventDay[T schema.Row](ctx context.Context, e *Engine, r eventRollup, d time.Time, tag string) error {
	metrics := []string{"count()"}
	for _, s := range r.sums {
		metrics = append(metrics, "sum("+s+")")
	}
	type pass struct {
		filter string
		dims   []string
	}
	passes := []pass{{dims: r.dims}}
	for col, guard := range r.guarded {
		without := slices.DeleteFunc(slices.Clone(r.dims), func(s string) bool { return s == col })
		passes = []pass{{filter: guard + " = true", dims: r.dims}, {filter: guard + " = false", dims: without}}
	}
	var rows []T
	for _, p := range passes {
		q := Query{Dataset: r.raw, From: d.Format(time.RFC3339), To: d.Add(r.g).Format(time.RFC3339),
			Filter: p.filter, GroupBy: p.dims, Metrics: metrics}
		var convErr error
		err := e.rawAggregate(ctx, q, func(v rowValues) {
			var row T
			if err := fillRollupRow(reflect.ValueOf(&row).Elem(), v, d); err != nil && convErr == nil {
				convErr = err
			}
			rows = append(rows, row)
		})
		if err != nil {
			return err
		}
		if convErr != nil {
			return fmt.Errorf("%s: %w", r.name, convErr)
		}
	}
	return writeRollup(ctx, e.lake, tag, rows)
}

// fillRollupRow sets the fields of rollup row rv from one aggregate row:
// time is the day d, rows count(), a summed column sum(col), a dimension
// its group value (zero when the query did not group by it).
func fillRollupRow(rv reflect.Value, v rowValues, d time.Time) error {
	t := rv.Type()
	for i := range t.NumField() {
		name := strings.Split(t.Field(i).Tag.Get("parquet"), ",")[0]
		f := rv.Field(i)
		src := name
		switch {
		case name == schema.ColTime:
			f.SetInt(d.UnixMicro())
			continue
		case name == schema.RollupRowsColumn:
			src = "count()"
		case strings.HasPrefix(t.Field(i).Tag.Get("origin"), "sum of "):
			src = "sum(" + name + ")"
		}
		if _, ok := v.idx[src]; !ok {
			continue
		}
		switch f.Kind() {
		case reflect.String:
			f.SetString(v.str(src))
		case reflect.Bool:
			a, ok := v.col(src).(*array.Boolean)
			f.SetBool(ok && !a.IsNull(v.i) && a.Value(v.i))
		case reflect.Int64:
			f.SetInt(v.int(src))
		case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			f.SetUint(uint64(v.int(src)))
		case reflect.Array: // schema.Addr
			s := v.str(src)
			if s == "" {
				continue
			}
			a, err := schema.ParseAddr(s)
			if err != nil {
				return fmt.Errorf("column %s: %w", name, err)
			}
			f.Set(reflect.ValueOf(a))
		default:
			return fmt.Errorf("column %s: unsupported kind %s", name, f.Kind())
		}
	}
	return nil
}
