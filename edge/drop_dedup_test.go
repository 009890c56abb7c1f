package edge

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/flowlake/flowlake/ingest/tcptrace"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// TestDropFolderWritesNothingTwice drops the device documents' trace
// samples into an edge's drop folder again and again: the same file
// twice, an output overlapping one taken before, one dump pasted twice
// into a file and, for the embedded edge, a dump `flowlake tcptrace
// import` had written into the lake already; the remote edge is
// restarted before the last drop (its trace index survives). Every
// connection reaches the lake once, by trace_id, with its packets once,
// and the connections left out are counted on the status and /metrics.
func TestDropFolderWritesNothingTwice(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(tcptraceSamples, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	v4, v6, table4, table6 := read("cache-packet-ip.txt"), read("cache-packet-ipv6.txt"), read("cache-connection-ip.txt"), read("cache-connection-ipv6.txt")
	conns := func(b []byte) int {
		res, err := tcptrace.Parse(bytes.NewReader(b), tcptrace.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return len(res.Conns)
	}
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, []byte("\n")) }
	type drop struct {
		name string
		body []byte
	}
	for _, tc := range []struct {
		name     string
		remote   bool
		imported []byte // written into the lake first, as `flowlake tcptrace import` does
		drops    []drop
		restart  int // drops before the edge restarts (remote: its index is read back)
	}{
		{name: "embedded", imported: table4, drops: []drop{
			{"a.txt", v4}, {"b.txt", v4}, {"c.txt", cat(v4, v6)}, {"d.txt", cat(table6, table6)}, {"e.txt", table4},
		}},
		{name: "remote", remote: true, restart: 4, drops: []drop{
			{"a.txt", v4}, {"b.txt", v4}, {"c.txt", cat(v4, v6)}, {"d.txt", cat(table6, table6)}, {"e.txt", cat(v6, table6)},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dir := filepath.Join(t.TempDir(), "drop")
			var (
				cfg Config
				lk  *lake.Lake
			)
			if tc.remote {
				core := newTestCore(t)
				cfg, lk = remoteConfig(t, core), core.lake
			} else {
				cfg, lk = testConfig(t), openLake(t)
			}
			cfg.Drop = DropConfig{Dir: dir, Interval: 20 * time.Millisecond, MaxBytes: 1 << 20, TZ: "UTC"}
			if tc.imported != nil {
				res, err := tcptrace.Parse(bytes.NewReader(tc.imported), tcptrace.Options{Edge: "import"})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := lake.Write(ctx, lk, "import", res.Conns); err != nil {
					t.Fatal(err)
				}
			}
			start := func() *Edge {
				e, err := New(cfg, Deps{Lake: lk, Logger: testLogger(t)})
				if err != nil {
					t.Fatal(err)
				}
				if err := e.Start(ctx); err != nil {
					t.Fatal(err)
				}
				return e
			}
			e := start()
			var parsed, known, done uint64
			for i, d := range tc.drops {
				if tc.restart > 0 && i == tc.restart {
					known += e.Status(ctx).Drop.ConnsKnown
					if err := e.Stop(); err != nil {
						t.Fatal(err)
					}
					e, done = start(), 0
				}
				if err := os.WriteFile(filepath.Join(dir, d.name), d.body, 0o644); err != nil {
					t.Fatal(err)
				}
				done++
				waitFor(t, func() bool { return e.Status(ctx).Drop.Done == done }, d.name+" taken")
				parsed += uint64(conns(d.body))
			}
			if tc.remote {
				waitFor(t, func() bool { return e.Status(ctx).SpoolSegments == 0 }, "the spool shipped")
			}
			st := e.Status(ctx).Drop
			known += st.ConnsKnown
			if st.Failed != 0 {
				t.Fatalf("drop status %+v: a file failed", st)
			}
			if err := e.Stop(); err != nil {
				t.Fatal(err)
			}

			ids := map[uint64]int{}
			for _, c := range readAll[schema.TCPConn](t, lk, schema.TCPConns) {
				ids[c.TraceID]++
			}
			pkts := map[string]int{}
			for _, p := range readAll[schema.TCPPacket](t, lk, schema.TCPPackets) {
				pkts[fmt.Sprint(p.TraceID, "/", p.Index)]++
			}
			for id, n := range ids {
				if n != 1 {
					t.Errorf("connection %d in tcp_conns %d times", id, n)
				}
			}
			for k, n := range pkts {
				if n != 1 {
					t.Errorf("packet %s in tcp_packets %d times", k, n)
				}
			}
			imported := 0
			if tc.imported != nil {
				imported = conns(tc.imported)
			}
			want := conns(v4) + conns(v6) + conns(table6) + imported
			if len(ids) != want || len(pkts) != 6 {
				t.Errorf("%d connections and %d packets in the lake, want %d and the 3 + 3 of the verbose samples", len(ids), len(pkts), want)
			}
			if written := uint64(len(ids) - imported); parsed != written+known {
				t.Errorf("%d connections dropped, %d written, %d counted as already imported: want written + counted = dropped", parsed, written, known)
			}
		})
	}
}
