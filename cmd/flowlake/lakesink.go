package main

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

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
}

var _ gen.Sink = (*lakeSink)(nil)

// newLakeSink starts the writers; Close stops them and reports the first
// write error.
func newLakeSink(ctx context.Context, l *lake.Lake, workers int, onHour func(time.Time)) *lakeSink {
	g, gctx := errgroup.WithContext(ctx)
	s := &lakeSink{lake: l, work: make(chan func(context.Context) error, workers), group: g, ctx: gctx, onHour: onHour, hour: -1}
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

// Close waits for the queued batches and returns the first write error.
func (s *lakeSink) Close() error {
	close(s.work)
	return s.group.Wait()
}

// Flows queues flow rows.
func (s *lakeSink) Flows(edge string, rows []schema.Flow) error { return submit(s, edge, rows) }

// TCPConns queues TCP connection rows.
func (s *lakeSink) TCPConns(edge string, rows []schema.TCPConn) error { return submit(s, edge, rows) }

// TCPPackets queues TCP packet rows.
func (s *lakeSink) TCPPackets(edge string, rows []schema.TCPPacket) error {
	return submit(s, edge, rows)
}

// DHCPEvents queues DHCP event rows.
func (s *lakeSink) DHCPEvents(edge string, rows []schema.DHCPEvent) error {
	return submit(s, edge, rows)
}

// CloudConns queues cloud-connection rows.
func (s *lakeSink) CloudConns(edge string, rows []schema.CloudConn) error {
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
