package tcptrace

import (
	"runtime"
	"testing"
	"time"
)

// feedConcurrent feeds traffic's packets through Decode, generated on the
// fly (no file), up to and including the data rounds: every connection
// stays open.
func feedConcurrent(t *testing.T, tr *Tracer, traffic concurrentTraffic) {
	t.Helper()
	at := testStart
	buf := make([]byte, 0, 256)
	send := func(i int, out bool, flags uint8, seq, ack uint32, data int) {
		buf = traffic.frame(buf[:0], i, out, flags, seq, ack, data)
		at = at.Add(time.Microsecond)
		if err := tr.Decode(LinkEthernet, buf, at); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
	}
	const ciss, siss = 1000, 900000
	for i := range traffic.conns {
		send(i, true, syn, ciss, 0, 0)
		send(i, false, syn|ack, siss, ciss+1, 0)
		send(i, true, ack, ciss+1, siss+1, 0)
	}
	for r := range traffic.rounds {
		for i := range traffic.conns {
			seq := uint32(ciss + 1 + r*traffic.payload)
			send(i, true, psh, seq, siss+1, traffic.payload)
			send(i, false, ack, siss+1, seq+uint32(traffic.payload), 0)
		}
	}
}

// liveHeap is the heap's live bytes after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestHundredThousandConnsInQuota opens 100 k concurrent connections
// (handshake, then a data segment and its acknowledgement each) with the
// default settings: every one is traced, none refused, within the 100 MB
// quota. And the quota counts real memory: what the tracer says it uses
// equals the heap's growth (runtime.MemStats after a collection) within
// 0.5 %, both ways, so the quota neither lets the heap pass it nor refuses
// connections it has room for.
func TestHundredThousandConnsInQuota(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: 100 k connections")
	}
	traffic := concurrentTraffic{conns: 100_000, rounds: 1, payload: 100}
	cfg := DefaultTracerConfig()
	cfg.CacheMode = CacheAll
	before := liveHeap()
	tr, err := NewTracer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	feedConcurrent(t, tr, traffic)
	grown := int64(liveHeap() - before)
	st := tr.Stats()
	if st.Tracked != traffic.conns || st.RefusedConns != 0 || st.RefusedPackets != 0 {
		t.Fatalf("%d connections tracked, %d refused (%d packets): want all %d", st.Tracked, st.RefusedConns, st.RefusedPackets, traffic.conns)
	}
	if st.MemoryUsed > cfg.MemoryQuota {
		t.Fatalf("%d bytes counted, over the %d-byte quota", st.MemoryUsed, cfg.MemoryQuota)
	}
	t.Logf("%d connections: %d bytes counted (%.0f a connection), heap grew %d bytes", st.Tracked, st.MemoryUsed,
		float64(st.MemoryUsed)/float64(st.Tracked), grown)
	if d := float64(st.MemoryUsed-grown) / float64(grown); d > 0.005 || d < -0.005 {
		t.Errorf("the quota counts %d bytes, the heap grew %d (%+.2f %%): want within 0.5 %%", st.MemoryUsed, grown, 100*d)
	}
	runtime.KeepAlive(tr)
	// Closing them all gives every byte back.
	tr.Flush(testStart.Add(time.Hour))
	if recs := tr.Take(); len(recs) != traffic.conns {
		t.Errorf("%d records at shutdown, want %d", len(recs), traffic.conns)
	}
	if st := tr.Stats(); st.MemoryUsed != 0 || st.Tracked != 0 {
		t.Errorf("after flush: %d tracked, %d bytes counted, want none", st.Tracked, st.MemoryUsed)
	}
}
