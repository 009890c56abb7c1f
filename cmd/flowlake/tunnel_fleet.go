package main

import (
	"context"
	"sync"
	"time"

	"github.com/flowlake/flowlake/edge"
	wire "github.com/flowlake/flowlake/tunnel"
)

// minRateWindow is the shortest window the fleet rates are measured
// over: pulls closer together than this answer the previous rates (the
// first pull answers the rates since the start, however short).
const minRateWindow = time.Second

// fleetStatus reports `flowlake edge`'s collector to the core's fleet
// view over the tunnel's status service: version, rates, spool, drops.
// The rates are measured between status pulls: each pull answers the
// rates since the previous one (the first: since the edge started), so an
// operator listing the fleet every minute sees one-minute rates.
type fleetStatus struct {
	status  func(ctx context.Context) edge.Status
	version string
	now     func() time.Time

	mu     sync.Mutex
	prevAt time.Time
	prev   [3]uint64 // datagrams, rows acknowledged, rows shipped
	rates  wire.Rates
}

func newFleetStatus(status func(ctx context.Context) edge.Status, version string, now func() time.Time) *fleetStatus {
	return &fleetStatus{status: status, version: version, now: now}
}

// report answers one status pull.
func (f *fleetStatus) report(ctx context.Context) (*wire.EdgeStatus, error) {
	st := f.status(ctx)
	now := f.now()
	cur := [3]uint64{st.Datagrams, st.RowsAcknowledged, st.RowsShipped}
	f.mu.Lock()
	if f.prevAt.IsZero() {
		f.prevAt = st.StartedAt
	}
	if win := now.Sub(f.prevAt); win >= minRateWindow || f.rates.WindowSeconds == 0 && win > 0 {
		rate := func(i int) float64 {
			if cur[i] < f.prev[i] { // counters never go back; a restart would
				return 0
			}
			return float64(cur[i]-f.prev[i]) / win.Seconds()
		}
		f.rates = wire.Rates{WindowSeconds: win.Seconds(), DatagramsPerSecond: rate(0), RowsPerSecond: rate(1), RowsShippedPerSecond: rate(2)}
		f.prevAt, f.prev = now, cur
	}
	rates := f.rates
	f.mu.Unlock()
	out := &wire.EdgeStatus{Version: f.version, StartedAt: st.StartedAt, Rates: rates, SpoolSegments: st.SpoolSegments,
		SpoolBytes: st.SpoolBytes, Drops: st.Drops, UploadFailures: st.UploadFailures}
	for _, n := range st.Drops {
		out.DropsTotal += n
	}
	return out, nil
}
