package edge

import (
	"context"
	"errors"
	"time"

	"github.com/flowlake/flowlake/ingest/flow"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// worker decodes the datagrams of the exporters hashed to it into its
// current batch.
type worker struct {
	queue chan *packet
}

// batch returns a reusable batch.
func (e *Edge) batch() *flow.Batch {
	select {
	case b := <-e.free:
		return b
	default:
		return &flow.Batch{Rows: make([]schema.Flow, 0, min(e.cfg.BatchRows, 1<<16))}
	}
}

// work decodes until the queue is closed, rotating the batch by rows and
// age; the last batch is handed over before returning.
func (e *Edge) work(w *worker) {
	b := e.batch()
	var started time.Time
	size := 0 // datagram bytes decoded into b
	tick := time.NewTicker(max(e.cfg.BatchAge/4, 10*time.Millisecond))
	defer tick.Stop()
	flush := func() {
		if b.Len() > 0 {
			e.writes <- b
			b = e.batch()
		}
		size = 0
	}
	for {
		select {
		case p, ok := <-w.queue:
			if !ok {
				flush()
				return
			}
			if b.Len() == 0 {
				started = p.at
			}
			if err := e.dec.Decode(p.from, p.buf, p.at, b); err != nil {
				e.logDecodeError(err)
			}
			size += len(p.buf)
			e.packets.Put(p)
			if b.Len() >= e.cfg.BatchRows || size >= e.cfg.BatchBytes && b.Len() > 0 {
				flush()
			}
		case <-tick.C:
			if b.Len() > 0 && e.now().Sub(started) >= e.cfg.BatchAge {
				flush()
			}
		}
	}
}

// logDecodeError logs decode failures at debug level: they are counted in
// the decoder's counters, and a broken exporter would flood the log.
func (e *Edge) logDecodeError(err error) {
	var de *flow.DecodeError
	if errors.As(err, &de) {
		e.log.Debug("decode", "kind", de.Kind.String(), "err", err)
		return
	}
	e.log.Debug("decode", "err", err)
}

// write publishes batches into the lake (embedded) or the spool (remote)
// until the channel is closed. A row is acknowledged — counted in
// RowsWritten — once lake.Write has made its segment durable. Failures are
// logged and the rows counted as lost. In remote mode each write enforces
// the spool's quota and wakes the shipper.
func (e *Edge) write(ctx context.Context) {
	for b := range e.writes {
		segs, err := lake.Write(context.WithoutCancel(ctx), e.lake, e.cfg.ID, b.Rows)
		var written int64
		for _, s := range segs {
			written += s.Rows
		}
		e.stats.RowsWritten.Add(uint64(written))
		e.stats.Segments.Add(uint64(len(segs)))
		if err != nil {
			lost := uint64(int64(b.Len()) - written)
			e.stats.WriteErrors.Add(1)
			e.stats.RowsLost.Add(lost)
			e.log.Error("write flows to the lake", "rows_lost", lost, "err", err)
		}
		if e.spool != nil && len(segs) > 0 {
			e.spool.enforce(context.WithoutCancel(ctx))
			e.shipper.wake()
		}
		b.Reset()
		select {
		case e.free <- b:
		default:
		}
	}
}
