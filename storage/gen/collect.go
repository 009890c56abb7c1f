package gen

import (
	"context"

	"github.com/flowlake/flowlake/storage/schema"
)

// Collector is a Sink that keeps a copy of every row in memory, in the
// order Run produced them. It serves tests and small demos; a week at the
// default rate holds about 30 million flows, so prefer a streaming Sink
// for anything large.
type Collector struct {
	FlowRows      []schema.Flow
	TCPConnRows   []schema.TCPConn
	TCPPacketRows []schema.TCPPacket
	DHCPRows      []schema.DHCPEvent
	CloudRows     []schema.CloudConn
	LossRows      []schema.FlowLoss
}

var _ Sink = (*Collector)(nil)

// Flows appends a copy of rows.
func (c *Collector) Flows(_ string, rows []schema.Flow) error {
	c.FlowRows = append(c.FlowRows, rows...)
	return nil
}

// TCPConns appends a copy of rows.
func (c *Collector) TCPConns(_ string, rows []schema.TCPConn) error {
	c.TCPConnRows = append(c.TCPConnRows, rows...)
	return nil
}

// TCPPackets appends a copy of rows.
func (c *Collector) TCPPackets(_ string, rows []schema.TCPPacket) error {
	c.TCPPacketRows = append(c.TCPPacketRows, rows...)
	return nil
}

// DHCPEvents appends a copy of rows.
func (c *Collector) DHCPEvents(_ string, rows []schema.DHCPEvent) error {
	c.DHCPRows = append(c.DHCPRows, rows...)
	return nil
}

// CloudConns appends a copy of rows.
func (c *Collector) CloudConns(_ string, rows []schema.CloudConn) error {
	c.CloudRows = append(c.CloudRows, rows...)
	return nil
}

// FlowLoss appends a copy of rows.
func (c *Collector) FlowLoss(_ string, rows []schema.FlowLoss) error {
	c.LossRows = append(c.LossRows, rows...)
	return nil
}

// Collect generates cfg's telemetry into a new Collector.
func Collect(ctx context.Context, cfg Config) (*Collector, error) {
	g, err := New(cfg)
	if err != nil {
		return nil, err
	}
	c := &Collector{}
	if err := g.Run(ctx, c); err != nil {
		return nil, err
	}
	return c, nil
}
