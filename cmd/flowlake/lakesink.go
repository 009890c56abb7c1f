package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/flowlake/flowlake/ingest/dhcp"
	"github.com/flowlake/flowlake/storage/gen"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// lakeSink writes the generator's rows into the lake. It copies each batch
// (the generator reuses its slices) and hands it to a small pool of
// writers, so generating the next hour overlaps writing this one; the
// queue holds one batch per writer, which bounds memory.
type lakeSink struct {
	lake   *lake.Lake
	work   chan func(context.Context) error
	group  *errgroup.Group
	ctx    context.Context // canceled when a writer fails
	onHour func(time.Time) // called from Run's goroutine when a new hour starts

	hour                  int64 // last hour seen, µs; touched by Run's goroutine only
	rows, bytes, segments atomic.Int64
	// leases derive each edge's dhcp_leases from its dhcp_events, as an
	// edge does from capture; touched by Run's goroutine only.
	leases map[string]*dhcp.LeaseTracker
}

var _ gen.Sink = (*lakeSink)(nil)

// newLakeSink starts the writers; Close stops them and reports the first
// write error.
func newLakeSink(ctx context.Context, l *lake.Lake, workers int, onHour func(time.Time)) *lakeSink {
	g, gctx := errgroup.WithContext(ctx)
	s := &lakeSink{lake: l, work: make(chan func(context.Context) error, workers), group: g, ctx: gctx, onHour: onHour, hour: -1,
		leases: map[string]*dhcp.LeaseTracker{}}
	for range workers {
		g.Go(func() error {
			for w := range s.work {
				if gctx.Err() != nil {
					continue // drain: another writer failed
				}
				if err := w(gctx); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return s
}

// Close writes the lease spans still open (OPEN rows), waits for the
// queued batches and returns the first write error.
func (s *lakeSink) Close() error {
	var err error
	for _, edge := range slices.Sorted(maps.Keys(s.leases)) {
		if err == nil {
			err = submit(s, edge, s.leases[edge].Open())
		}
	}
	close(s.work)
	return errors.Join(err, s.group.Wait())
}

// Flows queues flow rows.
func (s *lakeSink) Flows(edge string, rows []schema.Flow) error { return submit(s, edge, rows) }

// TCPConns queues TCP connection rows.
func (s *lakeSink) TCPConns(edge string, rows []schema.TCPConn) error { return submit(s, edge, rows) }

// TCPPackets queues TCP packet rows.
func (s *lakeSink) TCPPackets(edge string, rows []schema.TCPPacket) error {
	return submit(s, edge, rows)
}

// DHCPEvents queues DHCP event rows and the lease spans they end.
func (s *lakeSink) DHCPEvents(edge string, rows []schema.DHCPEvent) error {
	if err := submit(s, edge, rows); err != nil {
		return err
	}
	tr := s.leases[edge]
	if tr == nil {
		tr = dhcp.NewLeaseTracker(schema.LeaseSourceWire, edge)
		s.leases[edge] = tr
	}
	order := make([]int, len(rows))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(rows[a].Time, rows[b].Time) })
	var spans []schema.DHCPLease
	for _, i := range order {
		spans = tr.Observe(&rows[i], spans)
	}
	return submit(s, edge, spans)
}

// CloudConns queues cloud-connection rows.
func (s *lakeSink) CloudConns(edge string, rows []schema.CloudConn) error {
	return submit(s, edge, rows)
}

// FlowLoss queues flow-loss rows.
func (s *lakeSink) FlowLoss(edge string, rows []schema.FlowLoss) error {
	return submit(s, edge, rows)
}

func submit[T schema.Row](s *lakeSink, edge string, rows []T) error {
	if len(rows) == 0 {
		return nil
	}
	const hourUs = int64(time.Hour / time.Microsecond)
	if h := schema.EventTime(&rows[0]) / hourUs * hourUs; h > s.hour {
		s.hour = h
		if s.onHour != nil {
			s.onHour(time.UnixMicro(h).UTC())
		}
	}
	batch := slices.Clone(rows)
	write := func(ctx context.Context) error {
		segs, err := lake.Write(ctx, s.lake, edge, batch)
		for _, seg := range segs {
			s.rows.Add(seg.Rows)
			s.bytes.Add(seg.Bytes)
			s.segments.Add(1)
		}
		if err != nil {
			return fmt.Errorf("write %d %s rows of %s: %w", len(batch), schema.DatasetOf[T]().Name, edge, err)
		}
		return nil
	}
	select {
	case s.work <- write:
		return nil
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
}
