package gen

import (
	"context"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/schema"
)

// BenchmarkFlows measures the flow hot loop: one edge's hour of 200 000
// flow records per iteration, reported as rows/s.
func BenchmarkFlows(b *testing.B) {
	g, err := New(DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	cfg := &g.cfg
	fg := newFlowGen(g.top, g.top.edges[0], cfg)
	lo := cfg.Start.Add(14 * time.Hour).UnixMicro()
	const n = 200000
	b.ReportAllocs()
	b.ResetTimer()
	rows := 0
	for i := range b.N {
		rows += len(fg.hour(cfg.Seed, int64(i), lo, lo+hourUs, n))
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

// discard is a Sink that counts rows and keeps nothing.
type discard struct{ flows, other int }

func (d *discard) Flows(_ string, r []schema.Flow) error       { d.flows += len(r); return nil }
func (d *discard) TCPConns(_ string, r []schema.TCPConn) error { d.other += len(r); return nil }
func (d *discard) TCPPackets(_ string, r []schema.TCPPacket) error {
	d.other += len(r)
	return nil
}
func (d *discard) DHCPEvents(_ string, r []schema.DHCPEvent) error {
	d.other += len(r)
	return nil
}
func (d *discard) CloudConns(_ string, r []schema.CloudConn) error {
	d.other += len(r)
	return nil
}
func (d *discard) FlowLoss(_ string, r []schema.FlowLoss) error {
	d.other += len(r)
	return nil
}

// BenchmarkRunDay measures a whole Run of one default day, every dataset,
// reported as flow rows/s.
func BenchmarkRunDay(b *testing.B) {
	cfg := DefaultConfig()
	cfg.End = cfg.Start.Add(24 * time.Hour)
	g, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var d discard
	for range b.N {
		if err := g.Run(context.Background(), &d); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(d.flows)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(d.other)/float64(b.N), "other-rows/op")
}
