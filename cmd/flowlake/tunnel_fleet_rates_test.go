package main

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowlake/flowlake/edge"
	wire "github.com/flowlake/flowlake/tunnel"
)

// TestFleetStatusRates: rates are measured between status pulls (the
// first since the edge started, however short); pulls less than a second
// apart answer the previous rates; a counter that went back (a restart)
// is a rate of 0; spool, drops and their total pass through.
func TestFleetStatusRates(t *testing.T) {
	start := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	var now time.Time
	var st edge.Status
	f := newFleetStatus(func(context.Context) edge.Status { return st }, "v9.9.9", func() time.Time { return now })
	for _, step := range []struct {
		name                     string
		at                       time.Duration
		datagrams, rows, shipped uint64
		want                     wire.Rates
	}{
		{"first pull, since the start", 500 * time.Millisecond, 50, 100, 0, wire.Rates{WindowSeconds: 0.5, DatagramsPerSecond: 100, RowsPerSecond: 200}},
		{"10 s later", 10500 * time.Millisecond, 150, 1100, 500, wire.Rates{WindowSeconds: 10, DatagramsPerSecond: 10, RowsPerSecond: 100, RowsShippedPerSecond: 50}},
		{"too soon: the previous rates", 10900 * time.Millisecond, 999, 9999, 999, wire.Rates{WindowSeconds: 10, DatagramsPerSecond: 10, RowsPerSecond: 100, RowsShippedPerSecond: 50}},
		{"a counter went back", 12500 * time.Millisecond, 10, 1300, 700, wire.Rates{WindowSeconds: 2, DatagramsPerSecond: 0, RowsPerSecond: 100, RowsShippedPerSecond: 100}},
	} {
		now = start.Add(step.at)
		st = edge.Status{StartedAt: start, Datagrams: step.datagrams, RowsAcknowledged: step.rows, RowsShipped: step.shipped,
			SpoolSegments: 3, SpoolBytes: 4096, UploadFailures: 2, Drops: map[string]uint64{"queue": 1, "spool_full": 5}}
		got, err := f.report(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		want := &wire.EdgeStatus{Version: "v9.9.9", StartedAt: start, Rates: step.want, SpoolSegments: 3, SpoolBytes: 4096,
			Drops: map[string]uint64{"queue": 1, "spool_full": 5}, DropsTotal: 6, UploadFailures: 2}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", step.name, diff)
		}
	}
}
