package edge

import (
	"context"
	"net/netip"
	"sync"
	"time"

	"github.com/flowlake/flowlake/ingest/flow"
	"github.com/flowlake/flowlake/storage/schema"
)

// lossKey identifies an exporter domain between two flushes.
type lossKey struct {
	exporter netip.Addr
	format   flow.Format
	domain   uint32
}

// lossRecorder turns the decoder's per-domain totals and the edge's drop
// counters into flow_loss rows: every LossInterval (on its multiples) and
// at Stop, the deltas since the last flush. It keeps the totals of the
// last flush only, so a restart (counters from zero, and so the baseline)
// needs nothing persisted; a total below its baseline (never expected:
// domains are not forgotten) counts as a reset and is taken whole.
type lossRecorder struct {
	e  *Edge
	mu sync.Mutex // one flush at a time: the loop's or Stop's
	// since is the start of the current interval.
	since time.Time
	lossBaseline
}

func newLossRecorder(e *Edge, start time.Time) *lossRecorder {
	return &lossRecorder{e: e, since: start, lossBaseline: lossBaseline{domains: map[lossKey]flow.DomainLoss{}, drops: map[string]uint64{}}}
}

// run flushes at every multiple of the interval until ctx is done.
func (r *lossRecorder) run(ctx context.Context) {
	every := r.e.cfg.LossInterval
	for {
		now := r.e.now()
		t := time.NewTimer(now.Truncate(every).Add(every).Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		r.flush(ctx, false)
	}
}

// dropTotals reads the edge-wide drop counters by cause.
func (r *lossRecorder) dropTotals() map[string]uint64 {
	s := r.e.stats.Snapshot()
	return map[string]uint64{
		schema.LossQueueFull:      s.QueueDrops,
		schema.LossReadError:      s.ReadErrors,
		schema.LossDecodeError:    r.e.dec.Counters().Snapshot().TotalErrors(),
		schema.LossWriteError:     s.RowsLost,
		schema.LossSpoolFull:      s.SpoolDroppedRows,
		schema.LossRejected:       s.RowsRejected,
		schema.LossQuarantineLost: s.QuarantineLost,
	}
}

// delta is cur−prev, or cur when the counter went backwards (a reset).
func delta(cur, prev uint64) uint64 {
	if cur < prev {
		return cur
	}
	return cur - prev
}

// lossBaseline is the totals of one flush, the baseline of the next.
type lossBaseline struct {
	domains map[lossKey]flow.DomainLoss
	drops   map[string]uint64
}

// rows returns the rows of the interval [r.since, now) and the totals they
// were measured against; flush makes those the baseline once the rows are
// written.
func (r *lossRecorder) rows(now time.Time) ([]schema.FlowLoss, lossBaseline) {
	start := r.since
	if now.Before(start) {
		now = start // a clock stepped back: an empty interval, not a negative one
	}
	dur := now.Sub(start).Milliseconds()
	if dur > int64(^uint32(0)) {
		dur = int64(^uint32(0))
	}
	base := schema.FlowLoss{Time: schema.Micros(start), DurationMS: uint32(dur), Edge: r.e.cfg.ID}
	next := lossBaseline{domains: make(map[lossKey]flow.DomainLoss, len(r.domains)), drops: r.dropTotals()}
	var out []schema.FlowLoss
	for _, cur := range r.e.dec.DomainLoss() {
		k := lossKey{cur.Exporter, cur.Format, cur.Domain}
		prev := r.domains[k]
		next.domains[k] = cur
		row := base
		row.Cause, row.Device, row.Format, row.Domain = schema.LossSequence, cur.Device, cur.Format.String(), cur.Domain
		row.Datagrams = delta(cur.Datagrams, prev.Datagrams)
		row.Flows = delta(cur.Flows, prev.Flows)
		row.SequenceGaps = delta(cur.SequenceGaps, prev.SequenceGaps)
		row.LostFlows = delta(cur.LostFlows, prev.LostFlows)
		row.LostDatagrams = delta(cur.LostDatagrams, prev.LostDatagrams)
		row.SequenceResets = delta(cur.SequenceResets, prev.SequenceResets)
		row.TemplateMisses = delta(cur.TemplateMisses, prev.TemplateMisses)
		if row.Datagrams > 0 { // every count above comes with a datagram
			out = append(out, row)
		}
	}
	for _, cause := range schema.LossCauses() {
		if d := delta(next.drops[cause], r.drops[cause]); d > 0 {
			row := base
			row.Cause, row.Dropped, row.DroppedUnit = cause, d, schema.LossUnit(cause)
			out = append(out, row)
		}
	}
	return out, next
}

// flush writes the interval's rows through the edge's segment path (the
// lake, or the spool the shipper uploads). When nothing could be written
// the interval stays open: the next flush covers it too, from its start,
// so its counts are late but not lost. The last flush (at Stop) has no
// next one: rows it fails to write, like the rows of a partial write, are
// counted in Stats.LossRowsLost and logged.
func (r *lossRecorder) flush(ctx context.Context, last bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.e.now()
	rows, next := r.rows(now)
	if len(rows) > 0 {
		n, err := writeRows(ctx, r.e.lake, r.e.cfg.ID, rows)
		r.e.stats.LossRowsWritten.Add(uint64(n))
		switch {
		case err != nil && n == 0 && !last:
			r.e.log.Warn("write flow_loss segments; the next interval includes this one", "rows", len(rows), "err", err)
			return
		case err != nil:
			lost := uint64(len(rows)) - uint64(n)
			r.e.stats.LossRowsLost.Add(lost)
			r.e.log.Error("write flow_loss segments", "rows_lost", lost, "err", err)
		}
		if r.e.spool != nil && n > 0 {
			r.e.spool.enforce(ctx)
			r.e.shipper.wake()
		}
	}
	if now.After(r.since) {
		r.since = now
	}
	r.domains, r.drops = next.domains, next.drops
}
