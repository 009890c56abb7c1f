package edge

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/flowlake/flowlake/ingest/flow"
	"github.com/flowlake/flowlake/storage/schema"
)

// worker decodes the datagrams of the exporters hashed to it into its
// current batch.
type worker struct {
	queue chan *packet
}

// batchSlack is the room a batch has beyond BatchRows: rotation is
// checked after each datagram, so a batch overshoots BatchRows by up to
// one datagram's flows (a few hundred in a jumbo frame), and its rows
// should not be copied into a larger array for those.
const batchSlack = 1024

// batchPool is the fixed set of batches an edge decodes into: one per
// worker and one being written. It bounds the memory of decoded rows
// whatever the rate — workers+1 batches of BatchRows rows, each row a
// 240-byte schema.Flow — and keeps it across batches (no garbage per
// batch). A worker takes a batch for its first datagram, so an idle
// worker's share serves the busy ones. When the writer falls behind, a
// worker that needs a new batch waits for one (counted in BatchWaits), its
// datagram queue fills — a queued datagram holds ~70 bytes per flow, a
// batch 240 — and datagrams beyond it are dropped and counted
// (QueueDrops).
type batchPool struct {
	free   chan *flow.Batch
	rows   int // capacity a batch gets on its first use
	waits  *atomic.Uint64
	onWait func() // test hook: called when a worker finds no free batch
}

// batchPoolSize is the number of batches of an edge with workers workers.
func batchPoolSize(workers int) int { return workers + 1 }

func newBatchPool(size, rows int, waits *atomic.Uint64) *batchPool {
	p := &batchPool{free: make(chan *flow.Batch, size), rows: rows, waits: waits}
	for range size {
		p.free <- &flow.Batch{} // rows are allocated on first use
	}
	return p
}

// get returns a free batch, waiting (and counting the wait) when every
// batch is in use.
func (p *batchPool) get() *flow.Batch {
	var b *flow.Batch
	select {
	case b = <-p.free:
	default:
		p.waits.Add(1)
		if p.onWait != nil {
			p.onWait()
		}
		b = <-p.free
	}
	if b.Rows == nil {
		b.Rows = make([]schema.Flow, 0, p.rows+batchSlack)
	}
	return b
}

// put returns a written batch to the pool.
func (p *batchPool) put(b *flow.Batch) {
	b.Reset()
	p.free <- b // never blocks: the pool holds every batch there is
}

// work decodes until the queue is closed, rotating the batch by rows, bytes
// and age; the last batch is handed over before returning. A worker takes
// a batch from the pool for its first datagram and hands it over when it
// rotates, so an idle worker holds none.
func (e *Edge) work(w *worker) {
	var b *flow.Batch
	var started time.Time
	size := 0 // datagram bytes decoded into b
	tick := time.NewTicker(max(e.cfg.BatchAge/4, 10*time.Millisecond))
	defer tick.Stop()
	flush := func() {
		if b.Len() > 0 {
			e.writes <- b
		} else {
			e.batches.put(b)
		}
		b, size = nil, 0
	}
	for {
		select {
		case p, ok := <-w.queue:
			if !ok {
				if b != nil {
					flush()
				}
				return
			}
			if b == nil {
				b, started = e.batches.get(), p.at
			}
			if err := e.dec.Decode(p.from, p.buf, p.at, b); err != nil {
				e.logDecodeError(err)
			}
			if len(b.Quarantined) > 0 {
				e.quar.write(b.Quarantined)
				clear(b.Quarantined)
				b.Quarantined = b.Quarantined[:0]
			}
			size += len(p.buf)
			e.packets.Put(p)
			if b.Len() >= e.cfg.BatchRows || size >= e.cfg.BatchBytes && b.Len() > 0 {
				flush()
			}
		case <-tick.C:
			if b != nil && e.now().Sub(started) >= e.cfg.BatchAge {
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

// stagedSegments bounds the batches encoded and waiting to be published:
// each holds only an open file (its rows are in the file, its batch back in
// the pool), so storage may stall for a few seconds — a slow fsync —
// without the writer stopping, while a broken disk still stops it soon.
const stagedSegments = 64

// write encodes batches into staged segments — in the lake (embedded) or
// the spool (remote) — until e.writes is closed, returning each batch to
// the pool as soon as its rows are encoded, and hands the segments to
// commit in order. Rows that fail to encode are logged and counted as
// lost.
func (e *Edge) write(ctx context.Context) {
	defer close(e.staged)
	for b := range e.writes {
		st, err := e.stageRows(context.WithoutCancel(ctx), b.Rows)
		rows := b.Len()
		e.batches.put(b)
		if err != nil {
			e.stats.WriteErrors.Add(1)
			e.stats.RowsLost.Add(uint64(rows))
			e.log.Error("encode flows segments", "rows_lost", rows, "err", err)
			continue
		}
		select {
		case e.staged <- st:
		default:
			e.stats.CommitWaits.Add(1)
			e.staged <- st
		}
	}
}

// commit publishes staged segments in the order they were encoded until
// the channel is closed. A row is acknowledged — counted in RowsWritten —
// once its segment is durable (and, in remote mode, the spool's quota is
// enforced). Failures are logged and the rows counted as lost. In remote
// mode each commit enforces the spool's quota and wakes the shipper.
func (e *Edge) commit(ctx context.Context) {
	for st := range e.staged {
		segs, err := e.commitStaged(st)
		var written int64
		for _, s := range segs {
			written += s.Rows
		}
		e.stats.Segments.Add(uint64(len(segs)))
		if err != nil {
			lost := uint64(st.Rows() - written)
			e.stats.WriteErrors.Add(1)
			e.stats.RowsLost.Add(lost)
			e.log.Error("publish flows segments", "rows_lost", lost, "err", err)
		}
		if e.spool != nil && len(segs) > 0 {
			e.spool.enforce(context.WithoutCancel(ctx))
			e.shipper.wake()
		}
		// Counted once the spool is back within its quota, so a reader
		// that sees every row acknowledged sees the quota enforced too.
		e.stats.RowsWritten.Add(uint64(written))
	}
}
