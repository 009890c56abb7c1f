package gen

import (
	"github.com/flowlake/flowlake/storage/schema"
)

// Flow loss as the generator draws it: an exporter's minute with traffic
// shows a sequence gap with probability gapChance (a few whole datagrams
// lost), an exporter restart (a sequence reset) with resetChance; an
// edge's minute drops a burst of datagrams on a full queue with
// queueDropChance. Most rows are therefore zeros, as on a healthy network.
const (
	lossInterval    = int64(60e6) // µs: the edge's default loss_interval
	gapChance       = 0.004
	resetChance     = 0.0003
	queueDropChance = 0.0005
)

// lossGen produces one edge's flow_loss rows from the flows it generated:
// per exporter and minute its datagrams and flows, and the occasional gap.
type lossGen struct {
	ed   *edge
	rows []schema.FlowLoss
	// per exporter and minute of the hour: flows, then the rows built
	flows [][60]uint64
	g     rng
}

func newLossGen(ed *edge, seed int64) *lossGen {
	return &lossGen{ed: ed, flows: make([][60]uint64, len(ed.exporters)), g: newRNG(seed, streamLoss, uint64(ed.index))}
}

// lossFormat gives an exporter kind's wire format (flow.Format names), its
// observation domain, the flow records one datagram carries and whether
// its sequence numbers count records (v5, IPFIX) or datagrams (v9, sFlow).
func lossFormat(kind int) (format string, domain uint32, perDatagram uint64, countsRecords bool) {
	switch kind {
	case kindV9:
		return "netflow9", 0, 24, false
	case kindV5:
		return "netflow5", 0, 30, true
	case kindSFlow:
		return "sflow", 0, 7, false
	}
	return "ipfix", 1, 20, true
}

// hour returns the flow_loss rows of [lo, hi) µs given the hour's flows:
// one row per exporter and minute with flows (an interval cut by lo or hi
// is shortened), and one per edge-wide drop.
func (l *lossGen) hour(seed int64, abs, lo, hi int64, flows []schema.Flow) []schema.FlowLoss {
	g := &l.g
	g.reseed(seed, streamLoss, uint64(l.ed.index), uint64(abs))
	l.rows = l.rows[:0]
	hourStart := lo - lo%(3600*1e6)
	for i := range l.flows {
		l.flows[i] = [60]uint64{}
	}
	xs := l.ed.exporters
	for i := range flows {
		r := &flows[i]
		for j := range xs {
			if xs[j].name == r.Device {
				if m := (r.Time - hourStart) / lossInterval; m >= 0 && m < 60 {
					l.flows[j][m]++
				}
				break
			}
		}
	}
	for m := range int64(60) {
		start, end := max(hourStart+m*lossInterval, lo), min(hourStart+(m+1)*lossInterval, hi)
		if start >= end {
			continue
		}
		base := schema.FlowLoss{Time: start, DurationMS: uint32((end - start) / 1000), Edge: l.ed.id}
		for j := range xs {
			n := l.flows[j][m]
			if n == 0 {
				continue
			}
			format, domain, per, records := lossFormat(xs[j].kind)
			r := base
			r.Cause, r.Device, r.Format, r.Domain = schema.LossSequence, xs[j].name, format, domain
			r.Flows, r.Datagrams = n, (n+per-1)/per
			if g.chance(gapChance) {
				r.SequenceGaps = 1
				if g.chance(0.2) {
					r.SequenceGaps = 2
				}
				lost := uint64(g.between(1, 4)) * r.SequenceGaps
				if records {
					r.LostFlows = lost * per
				} else {
					r.LostDatagrams = lost
				}
			}
			if g.chance(resetChance) {
				r.SequenceResets = 1
			}
			l.rows = append(l.rows, r)
		}
		if g.chance(queueDropChance) {
			r := base
			r.Cause, r.Dropped, r.DroppedUnit = schema.LossQueueFull, uint64(g.between(5, 400)), schema.LossUnitDatagrams
			l.rows = append(l.rows, r)
		}
	}
	return l.rows
}
