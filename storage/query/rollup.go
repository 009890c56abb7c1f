package query

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// Rollups are datasets of their own, built from flows by this engine:
// flows_1m, flows_1h and flows_1d (flows by bucket and the low-cardinality
// dimensions) and flows_hosts_1h (every host's traffic per hour). Each
// rollup segment is named after the flows segments it was built from: its
// source is "rollup-" and a digest of their keys. A rollup of an hour (or
// day) is fresh while that digest matches the flows segments the catalog
// lists for it; the planner answers from a rollup only when every hour of
// the query's range with flows data has a fresh rollup, so a rollup answer
// always equals the raw one. Hours whose flows retention already deleted
// are answered from their rollups, which may be kept longer.

// rollupDims are the flows columns every flows rollup groups by.
var rollupDims = []string{"edge", "device", "in_if", "out_if", "in_if_name", "out_if_name", "proto", "app", "src_group", "dst_group", "direction"}

// wellKnownPorts is the highest destination port a flows rollup keeps;
// higher ones are 0.
const wellKnownPorts = 1023

// RollupResult is what MaintainRollups did.
type RollupResult struct {
	Built   []string `json:"built"`   // "<dataset> <hour>" of each rollup segment written
	Removed int      `json:"removed"` // stale rollup segments deleted
}

// keepHourRows is how many rebuilt hours' 1-hour rows MaintainRollups
// holds for their days; beyond, the days read them back from flows_1h.
const keepHourRows = 7 * 24

// rollupTag names the rollup segments built from the flows segments keys.
func rollupTag(keys []string) string {
	keys = slices.Clone(keys)
	slices.Sort(keys)
	sum := sha256.Sum256([]byte(strings.Join(keys, "\n")))
	return "rollup-" + hex.EncodeToString(sum[:8])
}

// rawKeys groups the flows segments' keys by hour.
func rawKeys(segs []lake.Segment) map[time.Time][]string {
	out := map[time.Time][]string{}
	for _, s := range segs {
		out[s.Hour] = append(out[s.Hour], s.Key)
	}
	return out
}

func bySource(segs []lake.Segment) map[time.Time][]lake.Segment {
	out := map[time.Time][]lake.Segment{}
	for _, s := range segs {
		out[s.Hour] = append(out[s.Hour], s)
	}
	return out
}

func fresh(segs []lake.Segment, tag string) bool {
	return len(segs) == 1 && segs[0].Source == tag
}

// dayKeys collects the keys of the hours of day d.
func dayKeys(raw map[time.Time][]string, d time.Time) []string {
	var keys []string
	for h := d; h.Before(d.Add(24 * time.Hour)); h = h.Add(time.Hour) {
		keys = append(keys, raw[h]...)
	}
	return keys
}

// MaintainRollups brings the rollups up to date with the flows segments:
// every hour, and every UTC day, whose rollup is missing or was built from
// other flows segments is rebuilt, and the stale rollup removed. The jobs
// scheduler runs it every minute; it is cheap when nothing changed.
func (e *Engine) MaintainRollups(ctx context.Context) (RollupResult, error) {
	return e.MaintainRollupsIn(ctx, time.Time{}, time.Time{})
}

// MaintainRollupsIn is MaintainRollups for the hours in [from, to) and
// the days holding them; a zero from or to leaves that side open. Each
// hour and day is rebuilt under its rollup partition's lock, after
// checking afresh that no other process (serve, `flowlake lake rollup`)
// rebuilt it meanwhile, and from one catalog snapshot that its tag names:
// a rollup's content and its tag always describe the same flows.
func (e *Engine) MaintainRollupsIn(ctx context.Context, from, to time.Time) (RollupResult, error) {
	var res RollupResult
	l := e.lake
	if err := l.Refresh(ctx); err != nil {
		return res, err
	}
	raw, have, err := rollupState(ctx, l)
	if err != nil {
		return res, err
	}
	hours := make([]time.Time, 0, len(raw))
	for h := range raw {
		if !from.IsZero() && h.Add(time.Hour).Compare(from) <= 0 || !to.IsZero() && !h.Before(to) {
			continue
		}
		hours = append(hours, h)
	}
	slices.SortFunc(hours, time.Time.Compare)
	days := map[time.Time]bool{}
	var stale []time.Time
	for _, h := range hours {
		days[h.Truncate(24*time.Hour)] = true
		tag := rollupTag(raw[h])
		if !fresh(have[schema.Flows1m][h], tag) || !fresh(have[schema.Flows1h][h], tag) || !fresh(have[schema.FlowHosts1h][h], tag) {
			stale = append(stale, h)
		}
	}
	// Hours build in parallel: each is small, and most of its time is
	// fixed costs (planning, writing three files).
	var mu sync.Mutex
	var firstErr error
	var next atomic.Int64
	var wg sync.WaitGroup
	hourRows := map[time.Time]builtHour{}
	// The days reuse the hourly rows just built rather than read them
	// back, unless there are so many hours (a lake built at once, a year
	// of them) that holding their rows would cost more than reading them.
	keepRows := len(stale) <= keepHourRows
	for range min(e.cfg.Workers, max(len(stale), 1)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(stale) || ctx.Err() != nil {
					return
				}
				h := stale[i]
				bh, built, removed, err := e.rebuildHour(ctx, h)
				mu.Lock()
				res.Built = append(res.Built, built...)
				res.Removed += removed
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("rollups of %s: %w", h.Format(time.RFC3339), err)
				}
				if bh.tag != "" && keepRows {
					hourRows[h] = bh
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
		return res, firstErr
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	// Days are cut from the lake as it is now, hours rebuilt included.
	if raw, have, err = rollupState(ctx, l); err != nil {
		return res, err
	}
	for d := range days {
		tag := rollupTag(dayKeys(raw, d))
		if fresh(have[schema.Flows1d][d], tag) && fresh(have[schema.FlowHosts1d][d], tag) {
			continue
		}
		built, n, err := e.rebuildDay(ctx, d, tag, raw, hourRows)
		res.Removed += n
		if built {
			res.Built = append(res.Built, schema.Flows1d+" "+d.Format(time.RFC3339), schema.FlowHosts1d+" "+d.Format(time.RFC3339))
		}
		if err != nil {
			return res, fmt.Errorf("rollup of day %s: %w", d.Format(time.DateOnly), err)
		}
	}
	if err := e.maintainEventRollups(ctx, from, to, &res); err != nil {
		return res, err
	}
	slices.Sort(res.Built)
	return res, nil
}

// rollupState reads one catalog snapshot: the flows segments' keys by
// hour, and the rollup segments by dataset and hour.
func rollupState(ctx context.Context, l *lake.Lake) (map[time.Time][]string, map[string]map[time.Time][]lake.Segment, error) {
	snap, err := l.Snapshot(ctx)
	if err != nil {
		return nil, nil, err
	}
	flowSegs, err := snap.Segments(schema.Flows, time.Time{}, time.Time{})
	if err != nil {
		return nil, nil, err
	}
	have := map[string]map[time.Time][]lake.Segment{}
	for _, ds := range []string{schema.Flows1m, schema.Flows1h, schema.Flows1d, schema.FlowHosts1h, schema.FlowHosts1d} {
		segs, err := snap.Segments(ds, time.Time{}, time.Time{})
		if err != nil {
			return nil, nil, err
		}
		have[ds] = bySource(segs)
	}
	return rawKeys(flowSegs), have, nil
}

// builtHour is an hour's 1-hour rollup rows as built under tag.
type builtHour struct {
	tag  string
	rows []schema.Flows1hRow
}

// rebuildHour rebuilds the rollups of hour h while holding the hour's
// flows_1h partition lock, unless another process already did. The
// hour's flows are listed afresh and read from one snapshot, whose keys
// make the tag. It returns what it built (a zero builtHour when nothing),
// the rollups written and the stale segments removed.
func (e *Engine) rebuildHour(ctx context.Context, h time.Time) (builtHour, []string, int, error) {
	l := e.lake
	unlock, err := l.LockPartition(ctx, schema.Flows1h, h)
	if err != nil {
		return builtHour{}, nil, 0, err
	}
	defer unlock()
	for attempt := 0; ; attempt++ {
		bh, built, removed, err := e.rebuildHourLocked(ctx, h)
		if !errors.Is(err, errSnapshotGone) || attempt == snapshotRetries {
			return bh, built, removed, err
		}
	}
}

// rebuildHourLocked is rebuildHour's work under the lock, on one snapshot.
func (e *Engine) rebuildHourLocked(ctx context.Context, h time.Time) (builtHour, []string, int, error) {
	l := e.lake
	// Listing the partition afresh brings the catalog up to date with it
	// (other processes' appends and compactions) before the snapshot.
	if _, err := l.PartitionSegments(ctx, schema.Flows, h); err != nil {
		return builtHour{}, nil, 0, err
	}
	// A snapshot of this hour's flows: a whole one would list the lake
	// again every few seconds of a long build.
	snap, err := l.SnapshotOf(ctx, h, h.Add(time.Hour), schema.Flows)
	if err != nil {
		return builtHour{}, nil, 0, err
	}
	segs, err := snap.Segments(schema.Flows, h, h.Add(time.Hour))
	if err != nil {
		return builtHour{}, nil, 0, err
	}
	keys := rawKeys(segs)[h]
	if len(keys) == 0 {
		return builtHour{}, nil, 0, nil // gone meanwhile (retention): nothing to build
	}
	tag := rollupTag(keys)
	dss := []string{schema.Flows1m, schema.Flows1h, schema.FlowHosts1h}
	now := map[string][]lake.Segment{}
	done := true
	for _, ds := range dss {
		segs, err := l.PartitionSegments(ctx, ds, h)
		if err != nil {
			return builtHour{}, nil, 0, err
		}
		now[ds] = segs
		done = done && fresh(segs, tag)
	}
	if done {
		return builtHour{}, nil, 0, nil
	}
	rows, err := e.buildHour(onSnapshot(ctx, snap), h, tag)
	if err != nil {
		return builtHour{}, nil, 0, err
	}
	var built []string
	removed := 0
	for _, ds := range dss {
		n, err := removeStale(ctx, l, now[ds])
		removed += n
		built = append(built, ds+" "+h.Format(time.RFC3339))
		if err != nil {
			return builtHour{}, built, removed, err
		}
	}
	return builtHour{tag: tag, rows: rows}, built, removed, nil
}

// rebuildDay rebuilds the daily rollups (flows_1d and flows_hosts_1d) of
// day d under tag, the day's flows keys in raw, while holding its
// partition lock, unless another process already did. It sums the day's
// hourly rollups, each of which must be the one built from raw's keys of
// its hour; when one is not (yet), the day is left stale for the next run
// rather than built from other flows.
func (e *Engine) rebuildDay(ctx context.Context, d time.Time, tag string, raw map[time.Time][]string, built map[time.Time]builtHour) (bool, int, error) {
	l := e.lake
	unlock, err := l.LockPartition(ctx, schema.Flows1d, d)
	if err != nil {
		return false, 0, err
	}
	defer unlock()
	segs, err := l.PartitionSegments(ctx, schema.Flows1d, d)
	if err != nil {
		return false, 0, err
	}
	hostSegs, err := l.PartitionSegments(ctx, schema.FlowHosts1d, d)
	if err != nil || fresh(segs, tag) && fresh(hostSegs, tag) {
		return false, 0, err
	}
	day := map[schema.FlowRollup]*schema.FlowRollup{}
	hosts := map[schema.FlowHostRow]*schema.FlowHostRow{}
	for h := d; h.Before(d.Add(24 * time.Hour)); h = h.Add(time.Hour) {
		if len(raw[h]) == 0 {
			continue
		}
		hourTag := rollupTag(raw[h])
		hourHosts, err := l.PartitionSegments(ctx, schema.FlowHosts1h, h)
		if err != nil {
			return false, 0, err
		}
		rows := built[h].rows
		if built[h].tag != hourTag {
			hour, err := l.PartitionSegments(ctx, schema.Flows1h, h)
			if err != nil {
				return false, 0, err
			}
			if !fresh(hour, hourTag) {
				e.log.Debug("rollups: an hour of the day changed meanwhile; the day waits for the next run", "day", d, "hour", h)
				return false, 0, nil
			}
			if rows, err = lake.Read[schema.Flows1hRow](ctx, l, hour[0]); err != nil {
				return false, 0, err
			}
		}
		if !fresh(hourHosts, hourTag) {
			e.log.Debug("rollups: an hour of the day changed meanwhile; the day waits for the next run", "day", d, "hour", h)
			return false, 0, nil
		}
		for _, r := range rows {
			sumInto(day, schema.FlowRollup(r), d.UnixMicro())
		}
		hr, err := lake.Read[schema.FlowHostRow](ctx, l, hourHosts[0])
		if err != nil {
			return false, 0, err
		}
		for _, r := range hr {
			k := r
			k.Time, k.Flows, k.Bytes, k.Packets = d.UnixMicro(), 0, 0, 0
			acc := hosts[k]
			if acc == nil {
				acc = &k
				hosts[k] = acc
			}
			acc.Flows += r.Flows
			acc.Bytes += r.Bytes
			acc.Packets += r.Packets
		}
	}
	var rows []schema.Flows1dRow
	for _, r := range day {
		rows = append(rows, schema.Flows1dRow(*r))
	}
	hostRows := make([]schema.FlowHost1dRow, 0, len(hosts))
	for _, r := range hosts {
		hostRows = append(hostRows, schema.FlowHost1dRow(*r))
	}
	if err := writeRollup(ctx, l, tag, rows); err != nil {
		return false, 0, err
	}
	if err := writeRollup(ctx, l, tag, hostRows); err != nil {
		return false, 0, err
	}
	n, err := removeStale(ctx, l, append(segs, hostSegs...))
	return true, n, err
}

// removeStale deletes segs, a rollup partition's segments as listed under
// its lock before a rebuild wrote the new one: all of them, those under
// the rebuild's own tag too. One with that tag is the leftover of a build
// that stopped part way (a crash between writing an hour's three rollups):
// kept, it would leave the partition with two files forever, never fresh,
// rebuilt and doubled at every run.
func removeStale(ctx context.Context, l *lake.Lake, segs []lake.Segment) (int, error) {
	return len(segs), l.Remove(ctx, segs...)
}

// buildHour aggregates hour h of flows into the 1-minute, 1-hour and hosts
// rollups, writes them under tag and returns the hour's 1-hour rows.
func (e *Engine) buildHour(ctx context.Context, h time.Time, tag string) ([]schema.Flows1hRow, error) {
	from, to := h.Format(time.RFC3339), h.Add(time.Hour).Format(time.RFC3339)
	metrics := []string{"count()", "sum(bytes)", "sum(packets)"}
	var minute []schema.Flows1mRow
	for _, withPort := range []bool{true, false} {
		dims := append([]string{"time/1m"}, rollupDims...)
		filter := fmt.Sprintf("dst_port > %d", wellKnownPorts)
		if withPort {
			dims, filter = append(dims, "dst_port"), fmt.Sprintf("dst_port <= %d", wellKnownPorts)
		}
		err := e.rawAggregate(ctx, Query{Dataset: schema.Flows, From: from, To: to, Filter: filter, GroupBy: dims, Metrics: metrics}, func(v rowValues) {
			r := schema.Flows1mRow{
				Time: v.int("time/1m"), Edge: v.str("edge"), Device: v.str("device"),
				InIf: uint32(v.int("in_if")), OutIf: uint32(v.int("out_if")), InIfName: v.str("in_if_name"), OutIfName: v.str("out_if_name"),
				Proto: uint8(v.int("proto")), App: v.str("app"), SrcGroup: v.str("src_group"), DstGroup: v.str("dst_group"),
				Direction: uint8(v.int("direction")),
				Flows:     uint64(v.int("count()")), Bytes: uint64(v.int("sum(bytes)")), Packets: uint64(v.int("sum(packets)")),
			}
			if withPort {
				r.DstPort = uint16(v.int("dst_port"))
			}
			minute = append(minute, r)
		})
		if err != nil {
			return nil, err
		}
	}
	hour := map[schema.FlowRollup]*schema.FlowRollup{}
	for _, m := range minute {
		sumInto(hour, schema.FlowRollup(m), h.UnixMicro())
	}
	var hourRows []schema.Flows1hRow
	for _, r := range hour {
		hourRows = append(hourRows, schema.Flows1hRow(*r))
	}
	var hosts []schema.FlowHostRow
	for role, col := range []string{"src_addr", "dst_addr"} {
		q := Query{Dataset: schema.Flows, From: from, To: to, GroupBy: []string{"edge", "device", col}, Metrics: metrics}
		err := e.rawAggregate(ctx, q, func(v rowValues) {
			a, err := schema.ParseAddr(v.str(col))
			if err != nil {
				return // unreachable: the engine printed it
			}
			hosts = append(hosts, schema.FlowHostRow{Time: h.UnixMicro(), Edge: v.str("edge"), Device: v.str("device"), Role: uint8(role), Addr: a,
				Flows: uint64(v.int("count()")), Bytes: uint64(v.int("sum(bytes)")), Packets: uint64(v.int("sum(packets)"))})
		})
		if err != nil {
			return nil, err
		}
	}
	if err := writeRollup(ctx, e.lake, tag, minute); err != nil {
		return nil, err
	}
	if err := writeRollup(ctx, e.lake, tag, hourRows); err != nil {
		return nil, err
	}
	return hourRows, writeRollup(ctx, e.lake, tag, hosts)
}

// sumInto adds r into m, grouped by every dimension with time t.
func sumInto(m map[schema.FlowRollup]*schema.FlowRollup, r schema.FlowRollup, t int64) {
	k := r
	k.Time, k.Flows, k.Bytes, k.Packets = t, 0, 0, 0
	acc := m[k]
	if acc == nil {
		acc = &k
		m[k] = acc
	}
	acc.Flows += r.Flows
	acc.Bytes += r.Bytes
	acc.Packets += r.Packets
}

func writeRollup[T schema.Row](ctx context.Context, l *lake.Lake, tag string, rows []T) error {
	if len(rows) == 0 {
		return nil
	}
	_, err := lake.Write(ctx, l, tag, rows)
	return err
}

// rowValues reads one row of an aggregate result by output column name.
type rowValues struct {
	rec arrow.RecordBatch
	idx map[string]int
	i   int
}

func (v rowValues) col(name string) arrow.Array { return v.rec.Column(v.idx[name]) }

func (v rowValues) str(name string) string {
	a := v.col(name)
	if a.IsNull(v.i) {
		return ""
	}
	return a.(*array.String).Value(v.i)
}

func (v rowValues) int(name string) int64 {
	a := v.col(name)
	if a.IsNull(v.i) {
		return 0
	}
	switch a := a.(type) {
	case *array.Timestamp:
		return int64(a.Value(v.i))
	case *array.Int64:
		return a.Value(v.i)
	case *array.Uint64:
		return int64(a.Value(v.i))
	case *array.Uint32:
		return int64(a.Value(v.i))
	case *array.Uint16:
		return int64(a.Value(v.i))
	case *array.Uint8:
		return int64(a.Value(v.i))
	}
	return 0
}

// rawAggregate runs q on raw segments only and calls fn for every row.
func (e *Engine) rawAggregate(ctx context.Context, q Query, fn func(rowValues)) error {
	q.raw, q.unordered = true, true
	res, err := e.Run(ctx, q)
	if err != nil {
		return err
	}
	defer res.Release()
	for _, rec := range res.Records {
		v := rowValues{rec: rec, idx: map[string]int{}}
		for i, f := range rec.Schema().Fields() {
			v.idx[f.Name] = i
		}
		for i := range int(rec.NumRows()) {
			v.i = i
			fn(v)
		}
	}
	return nil
}
