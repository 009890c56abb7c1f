package query

import (
	"context"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// TestPooledVectorOptionalThenRequired scans an optional integer column,
// then a required one at the same column index of another dataset with
// more rows: tcp_conns' setup_time and flow_loss's lost_datagrams are both
// column 11. The scan buffers are pooled by column index across queries,
// so the second scan reuses the first's vector, whose null buffer is too
// short for its rows: a required column must not keep it.
func TestPooledVectorOptionalThenRequired(t *testing.T) {
	ctx := context.Background()
	tc, _ := schema.Lookup(schema.TCPConns)
	fl, _ := schema.Lookup(schema.FlowLosses)
	const idx = 11
	if a, b := tc.Arrow.Field(idx), fl.Arrow.Field(idx); a.Name != "setup_time" || !a.Nullable || b.Name != "lost_datagrams" || b.Nullable {
		t.Fatalf("column %d: %s (nullable %v) and %s (nullable %v): pick two columns at one index again", idx, a.Name, a.Nullable, b.Name, b.Nullable)
	}
	cfg := lake.DefaultConfig()
	cfg.Root = t.TempDir()
	l, err := lake.Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 7, 12, 0, 0, 0, time.UTC)
	var conns []schema.TCPConn
	for i := range 10 {
		conns = append(conns, schema.TCPConn{Time: at.Add(time.Duration(i) * time.Second).UnixMicro(), Edge: "e", Device: "d", Reason: "PN", Source: "passive", TraceID: uint64(i + 1), SetupTime: int64(1000 + i)})
	}
	var loss []schema.FlowLoss
	var want int64
	for i := range 5000 {
		loss = append(loss, schema.FlowLoss{Time: at.Add(time.Duration(i) * 100 * time.Millisecond).UnixMicro(), DurationMS: 60000, Edge: "e", Cause: "sequence", Device: "x", Format: "netflow9", LostDatagrams: uint64(i % 3)})
		want += int64(i % 3)
	}
	if _, err := lake.Write(ctx, l, "t", conns); err != nil {
		t.Fatal(err)
	}
	if _, err := lake.Write(ctx, l, "t", loss); err != nil {
		t.Fatal(err)
	}
	eng := New(l, Config{Workers: 1}, nil)
	defer eng.Close()
	for round := range 3 {
		for _, q := range []struct {
			dataset, metric string
			want            int64
		}{{schema.TCPConns, "sum(setup_time)", 10*1000 + 45}, {schema.FlowLosses, "sum(lost_datagrams)", want}} {
			res, err := eng.Run(ctx, Query{Dataset: q.dataset, From: at.Format(time.RFC3339), To: at.Add(time.Hour).Format(time.RFC3339), Metrics: []string{q.metric}})
			if err != nil {
				t.Fatalf("round %d: %s of %s: %v", round, q.metric, q.dataset, err)
			}
			if len(res.Records) == 0 || res.Records[0].NumRows() != 1 {
				t.Fatalf("round %d: %s of %s: no single row", round, q.metric, q.dataset)
			}
			var got int64
			switch c := res.Records[0].Column(0).(type) {
			case *array.Int64:
				got = c.Value(0)
			case *array.Uint64:
				got = int64(c.Value(0))
			case *array.Float64:
				got = int64(c.Value(0))
			default:
				t.Fatalf("round %d: %s is a %T", round, q.metric, c)
			}
			if got != q.want {
				t.Errorf("round %d: %s of %s = %d, want %d", round, q.metric, q.dataset, got, q.want)
			}
			res.Release()
		}
	}
}
