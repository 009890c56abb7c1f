package query

import (
	"context"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/gen"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// joinBenchLake is a day of generated flows at 10 flows/s (≈0.86 M rows,
// compacted) with the day's leases: every ACK of the generated DHCP stream
// as a span of its lease time. Renewals are not merged as the edge's
// tracker merges them, so the index holds more spans than a real day's.
var joinBenchLake = sync.OnceValues(func() (*lake.Lake, error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "flowlake-join-bench-")
	if err != nil {
		return nil, err
	}
	cfg := gen.DefaultConfig()
	cfg.Start = time.Date(2026, 1, 7, 0, 0, 0, 0, time.UTC)
	cfg.End = cfg.Start.Add(24 * time.Hour)
	cfg.FlowsPerSecond = 10
	c, err := gen.Collect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	var leases []schema.DHCPLease
	for _, ev := range c.DHCPRows {
		if ev.MsgType != schema.DHCPAck || ev.YIAddr.IsZero() || ev.RogueServer {
			continue
		}
		leases = append(leases, schema.DHCPLease{Time: ev.Time, Source: schema.LeaseSourceWire, Kind: schema.LeaseKindLease,
			Address: ev.YIAddr, Client: "mac:" + ev.CHAddr.String(), CHAddr: ev.CHAddr, Hostname: ev.Hostname,
			LastAck: ev.Time, EndTime: ev.Time + int64(ev.LeaseTime)*1e6, EndReason: schema.LeaseOpen})
	}
	lcfg := lake.DefaultConfig()
	lcfg.Root = dir
	l, err := lake.Open(lcfg, nil)
	if err != nil {
		return nil, err
	}
	if _, err := lake.Write(ctx, l, "edge", c.FlowRows); err != nil {
		return nil, err
	}
	if _, err := lake.Write(ctx, l, "edge", leases); err != nil {
		return nil, err
	}
	_, err = l.Compact(ctx, cfg.End)
	return l, err
})

// BenchmarkLeaseJoin runs each query shape without the join and with it,
// over the same day, and reports rows scanned per second.
//
//	go test ./storage/query -run '^$' -bench LeaseJoin -benchtime 10x
func BenchmarkLeaseJoin(b *testing.B) {
	l, err := joinBenchLake()
	if err != nil {
		b.Fatal(err)
	}
	// The addresses eng-ws-001 held that day (one per site, moved at the
	// reshuffles): the needle by address asks for the same rows as the
	// needle by name.
	e := New(l, Config{}, nil)
	ans, err := e.Leases(context.Background(), LeaseQuestion{Hostname: "eng-ws-001",
		From: time.Date(2026, 1, 7, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 1, 8, 0, 0, 0, 0, time.UTC)})
	e.Close()
	if err != nil || len(ans.Leases) == 0 {
		b.Fatalf("eng-ws-001's leases: %v, %v", ans, err)
	}
	var addrs []string
	for _, r := range ans.Leases {
		if !slices.Contains(addrs, r.Address.String()) {
			addrs = append(addrs, r.Address.String())
		}
	}
	held := "[" + strings.Join(addrs, " ") + "]"
	b.Logf("eng-ws-001 held %s", held)
	day := func(q Query) Query {
		q.Dataset, q.raw = schema.Flows, true
		q.From, q.To = "2026-01-07T00:00:00Z", "2026-01-08T00:00:00Z"
		return q
	}
	for _, bc := range []struct {
		name string
		q    Query
	}{
		{"count/plain", day(Query{Filter: "proto tcp", Metrics: []string{"count()"}})},
		{"count/reads-src_addr", day(Query{Filter: "proto tcp and not src ip 0.0.0.1", Metrics: []string{"count()"}})},
		{"count/join-every-row", day(Query{Filter: `proto tcp and not src_host = "nobody"`, Metrics: []string{"count()"}})},
		{"topn/src_addr", day(Query{GroupBy: []string{"src_addr"}, Metrics: []string{"sum(bytes)"}, Limit: 10})},
		{"topn/src_addr,src_group", day(Query{GroupBy: []string{"src_addr", "src_group"}, Metrics: []string{"sum(bytes)"}, Limit: 10})},
		{"topn/src_addr,src_host", day(Query{GroupBy: []string{"src_addr", "src_host"}, Metrics: []string{"sum(bytes)"}, Limit: 10})},
		{"needle/src_ip", day(Query{Filter: "src ip in " + held, GroupBy: []string{"dst_addr"}, Limit: 10})},
		{"needle/src_host", day(Query{Filter: "src host eng-ws-001", GroupBy: []string{"dst_addr"}, Limit: 10})},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e := New(l, Config{}, nil)
			defer e.Close()
			var rows int64
			for b.Loop() {
				res, err := e.Run(context.Background(), bc.q)
				if err != nil {
					b.Fatal(err)
				}
				rows += res.Plan.Stats.RowsScanned
				if j := res.Plan.Join; j != nil && j.Leases == 0 {
					b.Fatal("the join indexed no leases")
				}
				res.Release()
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkLeaseJoinIndex is the join's fixed cost with a month of lease
// history behind the query: the last day of leaseBenchLake (30 days, ≈400 k
// spans, 696 hour files) read and indexed for a query over that day (the
// lake has no flows: what is measured is planning and the index).
//
//	go test ./storage/query -run '^$' -bench LeaseJoinIndex -benchtime 10x
func BenchmarkLeaseJoinIndex(b *testing.B) {
	l, err := leaseBenchLake()
	if err != nil {
		b.Fatal(err)
	}
	e := New(l, Config{}, nil)
	defer e.Close()
	last := leaseBenchStart.Add(29 * 24 * time.Hour)
	q := Query{Dataset: schema.Flows, From: last.Format(time.RFC3339), To: last.Add(24 * time.Hour).Format(time.RFC3339), GroupBy: []string{"src_host"}}
	var spans int
	for b.Loop() {
		res, err := e.Run(context.Background(), q)
		if err != nil {
			b.Fatal(err)
		}
		spans = res.Plan.Join.Leases
		res.Release()
	}
	b.ReportMetric(float64(spans), "spans")
}
