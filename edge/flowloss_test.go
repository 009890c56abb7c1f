package edge

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	ft "github.com/flowlake/flowlake/ingest/flow/flowtest"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// readLoss returns the flow_loss rows of l.
func readLoss(t testing.TB, l *lake.Lake) []schema.FlowLoss {
	t.Helper()
	ctx := context.Background()
	if err := l.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	segs, err := l.Segments(ctx, schema.FlowLosses, time.Unix(0, 0), time.Now().Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var rows []schema.FlowLoss
	for _, s := range segs {
		r, err := lake.Read[schema.FlowLoss](ctx, l, s)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r...)
	}
	return rows
}

// lossTotals is what flow_loss rows add up to, per exporter domain
// ("device format domain") or edge-wide cause.
type lossTotals struct {
	Datagrams, Flows, Gaps, LostFlows, LostDatagrams, Resets, Misses, Dropped uint64
	Unit                                                                      string
}

func sumLoss(rows []schema.FlowLoss) map[string]lossTotals {
	out := map[string]lossTotals{}
	for _, r := range rows {
		k := r.Cause
		if r.Cause == schema.LossSequence {
			k = fmt.Sprintf("%s %s %d", r.Device, r.Format, r.Domain)
		}
		s := out[k]
		s.Datagrams += r.Datagrams
		s.Flows += r.Flows
		s.Gaps += r.SequenceGaps
		s.LostFlows += r.LostFlows
		s.LostDatagrams += r.LostDatagrams
		s.Resets += r.SequenceResets
		s.Misses += r.TemplateMisses
		s.Dropped += r.Dropped
		s.Unit = r.DroppedUnit
		out[k] = s
	}
	return out
}

// v9Loss returns NetFlow v9 packets of source id 9: a template, then
// data packets numbered seqs (two flows each).
func v9Loss(seqs ...uint32) [][]byte {
	tmpl := ft.Set(0, ft.TemplateRecord(300, ft.Field{ID: 8, Length: 4}, ft.Field{ID: 12, Length: 4}, ft.Field{ID: 1, Length: 4}, ft.Field{ID: 2, Length: 4}))
	data := ft.Set(300, ft.BE32(ft.BE32([]byte{172, 16, 0, 1, 172, 16, 0, 2}, 5000), 5), ft.BE32(ft.BE32([]byte{172, 16, 0, 2, 172, 16, 0, 1}, 7000), 7))
	out := [][]byte{ft.V9Packet(5000, exportSecs, seqs[0]-1, 9, tmpl)}
	for _, s := range seqs {
		out = append(out, ft.V9Packet(5000, exportSecs, s, 9, data))
	}
	return out
}

// TestFlowLossInLake sends real NetFlow v9 and IPFIX datagrams with
// sequence gaps to a running edge, twice (a restart in between, on the
// same lake and template file): the flow_loss rows in the lake give each
// exporter domain's datagrams, flows, gaps and lost flows/datagrams of
// both runs, the undecodable datagrams as an edge-wide decode_error drop,
// and add up to what the decoders counted.
func TestFlowLossInLake(t *testing.T) {
	l := openLake(t)
	cfg := testConfig(t)
	cfg.Workers = 1
	var counted lossTotals
	for run := range 2 {
		e := startEdge(t, cfg, l)
		// IPFIX domain 1: 5 records, 5 records, then 4 records missing
		// before the 3 of the last message.
		send(t, e, e.Addrs()["ipfix"][0], ft.IPFIXMessage(exportSecs, 0, 1, ipfixTmpl),
			ipfixDataAt(5, 0, exportSecs), ipfixDataAt(5, 5, exportSecs), ipfixDataAt(3, 14, exportSecs))
		// v9 source 9: packets 2 and 3 missing.
		send(t, e, e.Addrs()["netflow"][0], v9Loss(1, 4)...)
		send(t, e, e.Addrs()["netflow"][0], []byte("not a flow datagram"))
		if err := e.Stop(); err != nil {
			t.Fatal(err)
		}
		c := e.Decoder().Counters().Snapshot()
		counted.Gaps += c.SequenceGaps
		counted.LostFlows += c.LostFlows
		counted.LostDatagrams += c.LostDatagrams
		counted.Flows += c.TotalFlows()
		if s := e.Stats().Snapshot(); s.LossRowsWritten == 0 || s.LossRowsLost != 0 {
			t.Errorf("run %d: flow_loss rows written %d, lost %d", run, s.LossRowsWritten, s.LossRowsLost)
		}
	}
	rows := readLoss(t, l)
	want := map[string]lossTotals{
		"127.0.0.1 ipfix 1":    {Datagrams: 2 * 4, Flows: 2 * 13, Gaps: 2 * 1, LostFlows: 2 * 4},
		"127.0.0.1 netflow9 9": {Datagrams: 2 * 3, Flows: 2 * 4, Gaps: 2 * 1, LostDatagrams: 2 * 2},
		"decode_error":         {Dropped: 2, Unit: schema.LossUnitDatagrams},
	}
	got := sumLoss(rows)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("flow_loss totals (-want +got):\n%s", diff)
	}
	var sum lossTotals
	for _, s := range got {
		sum.Gaps += s.Gaps
		sum.LostFlows += s.LostFlows
		sum.LostDatagrams += s.LostDatagrams
		sum.Flows += s.Flows
	}
	if sum != counted {
		t.Errorf("flow_loss rows add up to %+v; the decoders counted %+v", sum, counted)
	}
	for _, r := range rows {
		if r.Edge != cfg.ID || r.Time > schema.Micros(time.Now()) || r.Time < schema.Micros(time.Now().Add(-time.Hour)) {
			t.Errorf("row %+v: wrong edge or time", r)
		}
	}
}

// waitDecoded waits until the decoder has counted n datagrams in all: send
// returns once they are read from the socket, a flush needs them decoded.
func waitDecoded(t *testing.T, e *Edge, n uint64) {
	t.Helper()
	waitFor(t, func() bool {
		var got uint64
		for _, v := range e.Decoder().Counters().Snapshot().Datagrams {
			got += v
		}
		return got >= n
	}, "datagrams decoded")
}

// fakeClock is a settable clock for Deps.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestFlowLossDeltasPerInterval: each flush writes the interval's deltas,
// dated by the interval's start and with its length; an interval with no
// traffic and no drop writes nothing.
func TestFlowLossDeltasPerInterval(t *testing.T) {
	// A minute boundary plus a second: the recorder's own timer (a real
	// one, waiting for the next boundary of this clock) does not fire
	// during the test.
	clock := &fakeClock{t: time.Now().Truncate(time.Minute).Add(time.Second)}
	t0 := clock.now()
	l := openLake(t)
	cfg := testConfig(t)
	cfg.Workers = 1
	e, err := New(cfg, Deps{Lake: l, Logger: testLogger(t), Now: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Stop() })
	lastEdge = e.Stats()
	addr := e.Addrs()["ipfix"][0]
	// Interval 1 (10 s): 7 flows, 4 lost.
	send(t, e, addr, ft.IPFIXMessage(exportSecs, 0, 1, ipfixTmpl), ipfixDataAt(5, 0, exportSecs), ipfixDataAt(2, 9, exportSecs))
	waitDecoded(t, e, 3)
	clock.add(10 * time.Second)
	e.loss.flush(context.Background(), false)
	// Interval 2 (5 s): nothing.
	clock.add(5 * time.Second)
	e.loss.flush(context.Background(), false)
	// Interval 3 (20 s, ended by Stop): 4 flows, 6 lost.
	send(t, e, addr, ipfixDataAt(3, 11, exportSecs), ipfixDataAt(1, 20, exportSecs))
	clock.add(20 * time.Second)
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	type row struct {
		Time                                    time.Time
		DurationMS                              uint32
		Datagrams, Flows, Gaps, Lost, LostDgram uint64
	}
	var got []row
	for _, r := range readLoss(t, l) {
		if r.Cause != schema.LossSequence || r.Device != "127.0.0.1" || r.Format != "ipfix" || r.Domain != 1 {
			t.Errorf("unexpected row %+v", r)
			continue
		}
		got = append(got, row{schema.FromMicros(r.Time), r.DurationMS, r.Datagrams, r.Flows, r.SequenceGaps, r.LostFlows, r.LostDatagrams})
	}
	want := []row{
		{t0.UTC(), 10000, 3, 7, 1, 4, 0},
		{t0.Add(15 * time.Second).UTC(), 20000, 2, 4, 1, 6, 0},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("flow_loss rows (-want +got):\n%s", diff)
	}
}

// TestFlowLossWriteRetried: an interval whose rows cannot be written stays
// open, and the next flush writes its counts from its start: late, not
// lost.
func TestFlowLossWriteRetried(t *testing.T) {
	clock := &fakeClock{t: time.Now().Truncate(time.Minute).Add(time.Second)}
	t0 := clock.now()
	l := openLake(t)
	cfg := testConfig(t)
	cfg.Workers = 1
	e, err := New(cfg, Deps{Lake: l, Logger: testLogger(t), Now: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Stop() })
	lastEdge = e.Stats()
	addr := e.Addrs()["ipfix"][0]
	send(t, e, addr, ft.IPFIXMessage(exportSecs, 0, 1, ipfixTmpl), ipfixDataAt(5, 0, exportSecs), ipfixDataAt(2, 9, exportSecs))
	waitDecoded(t, e, 3)
	clock.add(10 * time.Second)
	failing, cancel := context.WithCancel(context.Background())
	cancel() // the write fails before anything is published
	e.loss.flush(failing, false)
	if n := len(readLoss(t, l)); n != 0 {
		t.Fatalf("%d rows written by a failing flush", n)
	}
	send(t, e, addr, ipfixDataAt(1, 15, exportSecs))
	clock.add(5 * time.Second)
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	rows := readLoss(t, l)
	if len(rows) != 1 {
		t.Fatalf("rows %+v, want one covering both intervals", rows)
	}
	r := rows[0]
	if r.Time != schema.Micros(t0) || r.DurationMS != 15000 || r.Datagrams != 4 || r.Flows != 8 || r.SequenceGaps != 2 || r.LostFlows != 8 {
		t.Errorf("row %+v: want time %s, 15 s, 4 datagrams, 8 flows, 2 gaps, 8 lost flows", r, t0)
	}
	if s := e.Stats().Snapshot(); s.LossRowsLost != 0 || s.LossRowsWritten != 1 {
		t.Errorf("flow_loss rows written %d, lost %d", s.LossRowsWritten, s.LossRowsLost)
	}
}

// TestLossDelta: a counter below its baseline (a reset) counts whole.
func TestLossDelta(t *testing.T) {
	for _, c := range []struct{ cur, prev, want uint64 }{{10, 4, 6}, {4, 4, 0}, {3, 10, 3}, {0, 0, 0}} {
		if got := delta(c.cur, c.prev); got != c.want {
			t.Errorf("delta(%d, %d) = %d, want %d", c.cur, c.prev, got, c.want)
		}
	}
}

// TestFlowLossShipsToCore: a remote edge writes flow_loss rows into its
// spool and ships them to the core like its flows.
func TestFlowLossShipsToCore(t *testing.T) {
	core := newTestCore(t)
	cfg := remoteConfig(t, core)
	cfg.LossInterval = time.Minute
	e := startEdge(t, cfg, nil)
	send(t, e, e.Addrs()["netflow"][0], v9Loss(10, 11, 15)...)
	// Every flow shipped: every datagram decoded, so the flush below
	// holds them all (with what a minute boundary's flush took first).
	waitFor(t, func() bool { return e.Stats().RowsShipped.Load() == 6 }, "flows shipped")
	e.loss.flush(context.Background(), false)
	want := map[string]lossTotals{"127.0.0.1 netflow9 9": {Datagrams: 4, Flows: 6, Gaps: 1, LostDatagrams: 3}}
	var got map[string]lossTotals
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if got = sumLoss(readLoss(t, core.lake)); cmp.Equal(want, got) || time.Now().After(deadline) {
			break
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("flow_loss totals shipped to the core while the edge runs (-want +got):\n%s", diff)
	}
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
}
