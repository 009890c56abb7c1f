package edge

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	ft "github.com/flowlake/flowlake/ingest/flow/flowtest"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// newTinyBatchEdge builds an edge on l with one worker, one batch per data
// datagram of 6 flows and a queue of 4 datagrams, for tests that stall its
// writer or its storage.
func newTinyBatchEdge(t *testing.T, l *lake.Lake) (*Edge, Config) {
	cfg := testConfig(t)
	cfg.Workers = 1
	cfg.BatchRows = 6
	cfg.QueueDatagrams = 4
	e, err := New(cfg, Deps{Lake: l, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	return e, cfg
}

// startAndSend starts e and sends it the IPFIX template and data
// datagrams of 6 flows each.
func startAndSend(t *testing.T, e *Edge, data int) {
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Stop() })
	lastEdge = e.Stats()
	nf := e.Addrs()["ipfix"][0]
	send(t, e, nf, ft.IPFIXMessage(exportSecs, 0, 1, ipfixTmpl))
	for i := range data {
		send(t, e, nf, ipfixData(6, uint32(6*i)))
	}
}

// TestBatchPoolBoundsMemory stalls the writer and checks the back-pressure
// path end to end (UDP in, lake out): the worker waits for a free batch
// (counted), its queue absorbs what it can, everything beyond is dropped
// and counted, and no more than the pool's batches ever exist. Once the
// writer resumes, every datagram accepted is written, nothing else.
func TestBatchPoolBoundsMemory(t *testing.T) {
	l := openLake(t)
	e, cfg := newTinyBatchEdge(t, l)
	gate := make(chan struct{})
	arrays := map[*schema.Flow]bool{} // the distinct row arrays written (the writer is one goroutine)
	stage := e.stageRows
	e.stageRows = func(ctx context.Context, rows []schema.Flow) (*lake.Staged, error) {
		<-gate
		arrays[&rows[:1][0]] = true
		return stage(ctx, rows)
	}
	waiting := make(chan struct{}, 1)
	e.batches.onWait = func() {
		select {
		case waiting <- struct{}{}:
		default:
		}
	}
	const data = 20
	startAndSend(t, e, data)
	select {
	case <-waiting:
	case <-time.After(10 * time.Second):
		t.Fatalf("the worker never waited for a batch: %+v", e.Stats().Snapshot())
	}

	// The worker is stuck until the writer frees a batch: the template
	// datagram, one data datagram per batch (pool of workers+2 = 3), the
	// one it holds, and a full queue are all it can have taken.
	pool := batchPoolSize(cfg.Workers)
	s := e.Stats().Snapshot()
	accepted := s.Received - s.QueueDrops
	if most := uint64(1 + pool + 1 + cfg.QueueDatagrams); accepted > most {
		t.Errorf("accepted %d datagrams with the writer stalled; want at most %d", accepted, most)
	}
	if s.BatchWaits == 0 || s.QueueDrops == 0 || s.RowsWritten != 0 {
		t.Errorf("stalled writer: batch waits %d, queue drops %d, rows written %d; want >0, >0, 0", s.BatchWaits, s.QueueDrops, s.RowsWritten)
	}

	close(gate)
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	s = e.Stats().Snapshot()
	flows := e.Decoder().Counters().Snapshot().Flows["ipfix"]
	if s.Received != data+1 || s.Received-s.QueueDrops != accepted {
		t.Errorf("received %d, dropped %d; want %d received, %d accepted", s.Received, s.QueueDrops, data+1, accepted)
	}
	if want := 6 * (accepted - 1); flows != want || s.RowsWritten != want || s.RowsLost != 0 {
		t.Errorf("decoded %d flows, wrote %d, lost %d; want %d, %d, 0", flows, s.RowsWritten, s.RowsLost, want, want)
	}
	if got := len(readFlows(t, l)); uint64(got) != s.RowsWritten {
		t.Errorf("the lake holds %d rows; the edge wrote %d", got, s.RowsWritten)
	}
	if len(arrays) > pool {
		t.Errorf("%d distinct batches written; the pool holds %d", len(arrays), pool)
	}
}

// TestStorageStallKeepsDecoding stalls publishing (a disk whose fsync
// hangs) and checks that the edge goes on decoding and encoding into
// staged segments — more batches than the pool holds — that nothing is
// acknowledged or visible meanwhile, that the writer waits (counted) once
// the staged segments reach their bound, and that every accepted row is
// published once storage resumes.
func TestStorageStallKeepsDecoding(t *testing.T) {
	l := openLake(t)
	e, cfg := newTinyBatchEdge(t, l)
	e.staged = make(chan *lake.Staged, 3) // a smaller bound than stagedSegments
	gate := make(chan struct{})
	var staged atomic.Int64
	stage := e.stageRows
	e.stageRows = func(ctx context.Context, rows []schema.Flow) (*lake.Staged, error) {
		staged.Add(1)
		return stage(ctx, rows)
	}
	commit := e.commitStaged
	e.commitStaged = func(st *lake.Staged) ([]lake.Segment, error) {
		<-gate
		return commit(st)
	}
	const data = 20
	startAndSend(t, e, data)
	for deadline := time.Now().Add(10 * time.Second); e.Stats().CommitWaits.Load() == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the writer never waited for storage: %+v", e.Stats().Snapshot())
		}
	}
	s := e.Stats().Snapshot()
	// One segment in commit, three queued, one in the writer's hands.
	if pool, n := int64(batchPoolSize(cfg.Workers)), staged.Load(); n < 5 || n <= pool {
		t.Errorf("%d batches encoded while storage stalled; want at least 5, more than the pool's %d", n, pool)
	}
	if s.RowsWritten != 0 {
		t.Errorf("%d rows acknowledged while storage stalled", s.RowsWritten)
	}
	if got := len(readFlows(t, l)); got != 0 {
		t.Errorf("the lake shows %d rows of unpublished segments", got)
	}

	close(gate)
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	s = e.Stats().Snapshot()
	accepted := s.Received - s.QueueDrops
	if want := 6 * (accepted - 1); s.RowsWritten != want || s.RowsLost != 0 || s.Segments != uint64(staged.Load()) {
		t.Errorf("wrote %d rows in %d segments, lost %d; want %d rows in %d segments, 0 lost", s.RowsWritten, s.Segments, s.RowsLost, want, staged.Load())
	}
	if got := len(readFlows(t, l)); uint64(got) != s.RowsWritten {
		t.Errorf("the lake holds %d rows; the edge wrote %d", got, s.RowsWritten)
	}
}

// TestMemoryEstimate checks the estimate `flowlake edge` compares its
// memory limit with: the defaults fit on 2 cores, and every setting it
// counts moves it.
func TestMemoryEstimate(t *testing.T) {
	base := DefaultConfig()
	base.Workers = 2
	if est := base.MemoryEstimate(); est > base.MemoryLimit {
		t.Errorf("defaults on 2 workers: estimate %d above the default memory_limit %d", est, base.MemoryLimit)
	}
	tests := map[string]func(*Config){
		"more workers":               func(c *Config) { c.Workers = 8 },
		"larger batches":             func(c *Config) { c.BatchRows *= 4 },
		"longer queues":              func(c *Config) { c.QueueDatagrams *= 4 },
		"GOMAXPROCS, larger batches": func(c *Config) { c.Workers = 0; c.BatchRows *= 2 },
	}
	for name, f := range tests {
		c := base
		f(&c)
		if c.MemoryEstimate() <= base.MemoryEstimate() {
			t.Errorf("%s: estimate %d, not above the base %d", name, c.MemoryEstimate(), base.MemoryEstimate())
		}
	}
}
