package query

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// joinDay is the day of the hand-made join lake.
var joinDay = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

func joinHour(h float64) int64 {
	return joinDay.Add(time.Duration(h * float64(time.Hour))).UnixMicro()
}

// joinLake writes a day where 10.0.0.7 moves at noon from laptop-a to
// laptop-b (A then moves to 10.0.0.8), 2001:db8::7 is leased all day to
// a phone, and 10.0.0.9 never has a lease; flows from and to each address
// every hour. It returns the engine and the flows written.
func joinLake(t *testing.T, cfg Config) (*Engine, []schema.Flow) {
	t.Helper()
	lcfg := lake.DefaultConfig()
	lcfg.Root = t.TempDir()
	l, err := lake.Open(lcfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	macA, macB, macP := schema.MAC{2, 0, 0, 0, 0, 0xa}, schema.MAC{2, 0, 0, 0, 0, 0xb}, schema.MAC{2, 0, 0, 0, 0, 0xc}
	ip7, ip8, ip9 := schema.MustParseAddr("10.0.0.7"), schema.MustParseAddr("10.0.0.8"), schema.MustParseAddr("10.0.0.9")
	v6 := schema.MustParseAddr("2001:db8::7")
	span := func(mac schema.MAC, host string, addr schema.Addr, start, end float64, reason string) schema.DHCPLease {
		return schema.DHCPLease{Time: joinHour(start), Source: schema.LeaseSourceWire, Kind: schema.LeaseKindLease, Address: addr,
			Client: "mac:" + mac.String(), CHAddr: mac, Hostname: host, LastAck: joinHour(start), EndTime: joinHour(end), EndReason: reason}
	}
	leases := []schema.DHCPLease{
		// A's span written OPEN by one batch, then ended by the next: one
		// binding, its latest row counts.
		span(macA, "laptop-a", ip7, -1, 6, schema.LeaseOpen),
		span(macB, "laptop-b", ip7, 12, 30, schema.LeaseOpen),
		span(macA, "laptop-a", ip8, 12, 30, schema.LeaseOpen),
		span(macP, "phone", v6, -2, 30, schema.LeaseOpen),
		// An INFORM row is no lease.
		{Time: joinHour(3), Kind: schema.LeaseKindInform, Address: ip9, Client: "mac:02:00:00:00:00:0d", Hostname: "informer", EndTime: joinHour(3)},
	}
	if _, err := lake.Write(context.Background(), l, "edge-a", leases); err != nil {
		t.Fatal(err)
	}
	ended := span(macA, "laptop-a", ip7, -1, 12, schema.LeaseSuperseded)
	ended.LastAck = joinHour(11)
	if _, err := lake.Write(context.Background(), l, "edge-a", []schema.DHCPLease{ended}); err != nil {
		t.Fatal(err)
	}
	ext := schema.MustParseAddr("198.51.100.1")
	var flows []schema.Flow
	for h := range 24 {
		for k, src := range []schema.Addr{ip7, ip8, ip9, v6} {
			at := joinHour(float64(h) + 0.25 + 0.1*float64(k))
			flows = append(flows,
				schema.Flow{Time: at, SrcAddr: src, DstAddr: ext, Bytes: 100, Packets: 1, Proto: 6},
				schema.Flow{Time: at + 1000, SrcAddr: ext, DstAddr: src, Bytes: 1000, Packets: 2, Proto: 6})
		}
	}
	if _, err := lake.Write(context.Background(), l, "edge-a", flows); err != nil {
		t.Fatal(err)
	}
	cfg.Now = func() time.Time { return joinDay.Add(24 * time.Hour) }
	e := New(l, cfg, nil)
	t.Cleanup(func() { e.Close() })
	return e, flows
}

func runRows(t *testing.T, e *Engine, q Query) ([][]string, *Result) {
	t.Helper()
	res, err := e.Run(context.Background(), q)
	if err != nil {
		t.Fatalf("%+v: %v", q, err)
	}
	t.Cleanup(res.Release)
	return res.Rows(), res
}

func TestLeaseJoin(t *testing.T) {
	e, _ := joinLake(t, Config{})
	day := func(q Query) Query {
		q.Dataset, q.From, q.To = schema.Flows, "2026-03-02", "2026-03-03"
		return q
	}
	tests := []struct {
		name string
		q    Query
		want [][]string
		// rows without a lease, by side
		noSrc, noDst int64
	}{
		{"by src_host: each half of 10.0.0.7's day with its holder",
			day(Query{Filter: "src net 10.0.0.7/32", GroupBy: []string{"src_host"}, OrderBy: []string{"src_host"}}),
			[][]string{{"src_host", "count()"}, {"laptop-a", "12"}, {"laptop-b", "12"}}, 0, 0},
		{"by src_host and hour bucket at noon",
			day(Query{Filter: "src ip 10.0.0.7 and time >= 2026-03-02T11:00:00Z and time < 2026-03-02T13:00:00Z", GroupBy: []string{"time/1h", "src_host", "src_host_mac", "src_client"}}),
			[][]string{{"time/1h", "src_host", "src_host_mac", "src_client", "count()"},
				{"2026-03-02T11:00:00Z", "laptop-a", "02:00:00:00:00:0a", "mac:02:00:00:00:00:0a", "1"},
				{"2026-03-02T12:00:00Z", "laptop-b", "02:00:00:00:00:0b", "mac:02:00:00:00:00:0b", "1"}}, 0, 0},
		{"src host NAME is the lease's host name",
			day(Query{Filter: "src host laptop-a", GroupBy: []string{"src_addr"}, OrderBy: []string{"src_addr"}}),
			[][]string{{"src_addr", "count()"}, {"10.0.0.7", "12"}, {"10.0.0.8", "12"}}, 0, 0},
		{"host NAME on either side, dst_host by name",
			day(Query{Filter: `host phone and dst_host = "phone"`, Metrics: []string{"count()", "sum(bytes)"}}),
			[][]string{{"count()", "sum(bytes)"}, {"24", "24000"}}, 24, 0},
		{"an address is still an address",
			day(Query{Filter: "src host 10.0.0.9", GroupBy: []string{"src_host"}}),
			[][]string{{"src_host", "count()"}, {"", "24"}}, 24, 0},
		{"rows without a lease are counted, by side",
			day(Query{GroupBy: []string{"src_host", "dst_host"}, OrderBy: []string{"src_host", "dst_host"}}),
			[][]string{{"src_host", "dst_host", "count()"},
				{"", "", "72"}, {"", "laptop-a", "24"}, {"", "laptop-b", "12"}, {"", "phone", "24"},
				{"laptop-a", "", "24"}, {"laptop-b", "", "12"}, {"phone", "", "24"}}, 132, 132},
		{"not and !=",
			day(Query{Filter: "src_addr 10.0.0.0/8 and src host != laptop-a", GroupBy: []string{"src_host"}, OrderBy: []string{"src_host"}}),
			[][]string{{"src_host", "count()"}, {"", "36"}, {"laptop-b", "12"}}, 36, 0},
		{"host in a list of names and addresses",
			day(Query{Filter: "src host in [laptop-b 10.0.0.9]", GroupBy: []string{"src_host"}, OrderBy: []string{"src_host"}}),
			[][]string{{"src_host", "count()"}, {"", "24"}, {"laptop-b", "12"}}, 24, 0},
		{"a listing shows the join's columns when asked",
			day(Query{Filter: "src ip 2001:db8::7 and time < 2026-03-02T01:00:00Z", Columns: []string{"time", "src_addr", "src_host", "src_host_mac", "dst_host_mac"}}),
			[][]string{{"time", "src_addr", "src_host", "src_host_mac", "dst_host_mac"},
				{"2026-03-02T00:33:00Z", "2001:db8::7", "phone", "02:00:00:00:00:0c", ""}}, 0, 1},
		{"a listing ordered by a join column",
			day(Query{Filter: "src net 10.0.0.0/8 and time < 2026-03-02T13:00:00Z and time >= 2026-03-02T11:00:00Z", Columns: []string{"src_addr", "src_host"}, OrderBy: []string{"-src_host", "time"}}),
			[][]string{{"src_addr", "src_host"}, {"10.0.0.7", "laptop-b"}, {"10.0.0.7", "laptop-a"}, {"10.0.0.8", "laptop-a"}, {"10.0.0.8", ""}, {"10.0.0.9", ""}, {"10.0.0.9", ""}}, 3, 0},
		{"count_distinct of a join column",
			day(Query{Filter: "src net 10.0.0.0/8", Metrics: []string{"count_distinct(src_host)", "count_distinct(src_client)"}}),
			[][]string{{"count_distinct(src_host)", "count_distinct(src_client)"}, {"3", "3"}}, 36, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows, res := runRows(t, e, tc.q)
			if diff := cmp.Diff(tc.want, rows); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
			j := res.Plan.Join
			if j == nil {
				t.Fatalf("plan has no lease join: %+v", res.Plan)
			}
			if j.RowsWithoutSrcLease != tc.noSrc || j.RowsWithoutDstLease != tc.noDst {
				t.Errorf("rows without a lease: src %d dst %d, want %d and %d", j.RowsWithoutSrcLease, j.RowsWithoutDstLease, tc.noSrc, tc.noDst)
			}
			if j.Leases != 4 || j.Addresses != 3 {
				t.Errorf("index: %d leases of %d addresses, want 4 of 3 (the INFORM and the OPEN row of an ended span out)", j.Leases, j.Addresses)
			}
			if !strings.HasPrefix(res.Plan.Route, "raw segments of flows") {
				t.Errorf("route %q, want raw segments", res.Plan.Route)
			}
		})
	}
}

// A query without the join's columns plans no join.
func TestLeaseJoinOnlyWhenUsed(t *testing.T) {
	e, _ := joinLake(t, Config{})
	_, res := runRows(t, e, Query{Dataset: schema.Flows, From: "2026-03-02", To: "2026-03-03", Filter: "src ip 10.0.0.7", GroupBy: []string{"src_addr"}})
	if res.Plan.Join != nil {
		t.Errorf("join planned for a query without its columns: %+v", res.Plan.Join)
	}
	rows, _ := runRows(t, e, Query{Dataset: schema.Flows, From: "2026-03-02", To: "2026-03-03", Filter: "src ip 10.0.0.7", Limit: 1})
	for _, c := range rows[0] {
		if c == ColSrcHost {
			t.Errorf("a listing of all columns shows %s: %v", c, rows[0])
		}
	}
}

// The index counts against the query's memory budget: beyond it the
// query fails with ErrMemoryBudget and says why.
func TestLeaseJoinBudget(t *testing.T) {
	e, _ := joinLake(t, Config{MemoryBudget: 1000})
	_, err := e.Run(context.Background(), Query{Dataset: schema.Flows, From: "2026-03-02", To: "2026-03-03", GroupBy: []string{"src_host"}})
	if !errors.Is(err, ErrMemoryBudget) || !strings.Contains(err.Error(), "lease join") {
		t.Fatalf("err = %v, want ErrMemoryBudget naming the lease join", err)
	}
}

// A filter on a host prunes like one on its addresses: the addresses the
// name held in the range bound the address column. "" (no lease) prunes
// nothing.
func TestLeaseJoinPrunes(t *testing.T) {
	e, _ := joinLake(t, Config{})
	q := func(filter string) Query {
		return Query{Dataset: schema.Flows, From: "2026-03-02", To: "2026-03-03", Filter: filter, Metrics: []string{"count()"}}
	}
	rows, res := runRows(t, e, q(`src host nobody`))
	if st := res.Plan.Stats; st.RowGroupsScanned != 0 || rows[1][0] != "0" {
		t.Errorf("src host nobody: %d row groups scanned, %s rows; want none", st.RowGroupsScanned, rows[1][0])
	}
	for _, line := range []string{"join     dhcp_leases on src_addr at each row's time (spans since 2026-01-31T00:00:00Z)",
		"leases      4 spans of 3 addresses indexed", "matched rows without a lease: 0 by src_addr\n"} {
		if !strings.Contains(res.Plan.String(), line) {
			t.Errorf("EXPLAIN lacks %q:\n%s", line, res.Plan.String())
		}
	}
	rows, res = runRows(t, e, q(`src_host = "" and dst_host = ""`))
	if rows[1][0] != "72" || res.Plan.Stats.RowGroupsScanned == 0 {
		t.Errorf(`src_host = "" and dst_host = "": %s rows from %d row groups, want 72`, rows[1][0], res.Plan.Stats.RowGroupsScanned)
	}
	rows, _ = runRows(t, e, q(`src_host_mac 02:00:00:00:00:0b and src_client "mac:02:00:00:00:00:0b"`))
	if rows[1][0] != "12" {
		t.Errorf("laptop-b by MAC and client: %s rows, want 12", rows[1][0])
	}
}

// Rollups hold no hosts: a query on the join's columns reads raw flows
// even where a rollup answers the same query without them.
func TestLeaseJoinSkipsRollups(t *testing.T) {
	e := testEngine(t, Config{})
	span := Query{Dataset: schema.Flows, From: fixtureStart.Format(time.RFC3339), To: fixtureNow.Format(time.RFC3339)}
	q := span
	q.GroupBy = []string{"app"}
	_, res := runRows(t, e, q)
	if !strings.HasPrefix(res.Plan.Route, "rollup ") {
		t.Fatalf("by app: route %q, want a rollup (the fixture keeps them)", res.Plan.Route)
	}
	for _, tc := range []Query{
		{GroupBy: []string{"app", "src_host"}},
		{GroupBy: []string{"app"}, Filter: "not src host laptop-42"},
	} {
		q := span
		q.GroupBy, q.Filter = tc.GroupBy, tc.Filter
		_, res := runRows(t, e, q)
		if !strings.HasPrefix(res.Plan.Route, "raw segments of flows") || res.Plan.Join == nil {
			t.Errorf("%v %q: route %q, join %v: want raw segments and the join", q.GroupBy, q.Filter, res.Plan.Route, res.Plan.Join)
		}
	}
}

// A binding written OPEN (its promised expiry ahead) and ended early by a
// later row: from a time after the end, and before the promise, nobody
// holds the address — the question sees the ended row even though it ends
// before the range it asks about.
func TestLeaseEndedBeforeTheRange(t *testing.T) {
	mac := schema.MAC{2, 0, 0, 0, 0, 0xe}
	ip := schema.MustParseAddr("10.0.0.70")
	open := schema.DHCPLease{Time: joinHour(8), Kind: schema.LeaseKindLease, Address: ip, Client: "mac:" + mac.String(), CHAddr: mac,
		Hostname: "early-leaver", LastAck: joinHour(8), EndTime: joinHour(20), EndReason: schema.LeaseOpen}
	ended := open
	ended.EndTime, ended.EndReason = joinHour(9), schema.LeaseReleased
	e := leaseLake(t, []schema.DHCPLease{open}, []schema.DHCPLease{ended})
	ans, err := e.LeasesAt(context.Background(), ip.Netip(), time.UnixMicro(joinHour(10)), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ans.Leases) != 0 {
		t.Errorf("who held %s at 10:00: %+v, want nobody (released at 09:00)", ip, ans.Leases)
	}
	ans, err = e.LeasesAt(context.Background(), ip.Netip(), time.UnixMicro(joinHour(8.5)), 0)
	if err != nil || len(ans.Leases) != 1 || ans.Leases[0].EndReason != schema.LeaseReleased {
		t.Errorf("who held %s at 08:30: %+v, %v: want the released span", ip, ans, err)
	}
	// The same through the join.
	flows := []schema.Flow{{Time: joinHour(8.5), SrcAddr: ip, Bytes: 1}, {Time: joinHour(10.5), SrcAddr: ip, Bytes: 1}}
	if _, err := lake.Write(context.Background(), e.lake, "edge-a", flows); err != nil {
		t.Fatal(err)
	}
	rows, _ := runRows(t, e, Query{Dataset: schema.Flows, From: joinDay.Add(10 * time.Hour).Format(time.RFC3339), To: joinDay.Add(11 * time.Hour).Format(time.RFC3339),
		GroupBy: []string{"src_host"}})
	if diff := cmp.Diff([][]string{{"src_host", "count()"}, {"", "1"}}, rows); diff != "" {
		t.Errorf("the 10:30 flow after the release (-want +got):\n%s", diff)
	}
}

// The index finds, of the spans that hold a time, the one that started
// last; spans are [start, end).
func TestLeaseIndexFind(t *testing.T) {
	ip := schema.MustParseAddr("10.0.0.1")
	other := schema.MustParseAddr("10.0.0.2")
	span := func(client string, addr schema.Addr, start, end int64) schema.DHCPLease {
		return schema.DHCPLease{Time: start, EndTime: end, Kind: schema.LeaseKindLease, Address: addr, Client: client, Hostname: client}
	}
	x := buildLeaseIndex([]schema.DHCPLease{
		span("a", ip, 0, 10), span("b", ip, 5, 8), span("c", ip, 12, 20), span("d", ip, 15, 30),
		span("e", other, 3, 4),
		span("gone", ip, -20, -5), // ended before the range
		{Time: 1, EndTime: 1, Kind: schema.LeaseKindInform, Address: ip, Client: "inform"}, // no lease
	}, -1)
	if len(x.start) != 5 || len(x.addrs) != 2 {
		t.Fatalf("indexed %d spans of %d addresses, want 5 of 2", len(x.start), len(x.addrs))
	}
	sp := x.addrs[ip]
	for _, tc := range []struct {
		t    int64
		want string
	}{{-1, ""}, {0, "a"}, {4, "a"}, {5, "b"}, {7, "b"}, {8, "a"}, {9, "a"}, {10, ""}, {11, ""}, {12, "c"}, {15, "d"}, {19, "d"}, {20, "d"}, {29, "d"}, {30, ""}} {
		got := ""
		if k := x.find(sp[0], sp[1], tc.t); k >= 0 {
			got = x.dicts[fieldHost].str(x.vals[fieldHost][k])
		}
		if got != tc.want {
			t.Errorf("at %d: %q, want %q", tc.t, got, tc.want)
		}
	}
}

// A binding held without a break since before the lookback is found with
// a longer one (Config.LeaseLookback).
func TestLeaseJoinLookback(t *testing.T) {
	phone := schema.MustParseAddr("10.0.0.90")
	old := schema.DHCPLease{Time: joinHour(-40 * 24), Kind: schema.LeaseKindLease, Address: phone, Client: "mac:02:00:00:00:00:90",
		Hostname: "desk-phone", LastAck: joinHour(-1), EndTime: joinHour(100), EndReason: schema.LeaseOpen}
	for _, tc := range []struct {
		lookback time.Duration
		want     string
	}{{0, ""}, {60 * 24 * time.Hour, "desk-phone"}} {
		e := leaseLake(t, []schema.DHCPLease{old})
		e.cfg.LeaseLookback = cmpOr(tc.lookback, DefaultLeaseLookback)
		if _, err := lake.Write(context.Background(), e.lake, "edge-a", []schema.Flow{{Time: joinHour(1), SrcAddr: phone, Bytes: 1}}); err != nil {
			t.Fatal(err)
		}
		rows, res := runRows(t, e, Query{Dataset: schema.Flows, From: "2026-03-02", To: "2026-03-03", GroupBy: []string{"src_host"}})
		if rows[1][0] != tc.want {
			t.Errorf("lookback %s: src_host %q, want %q (leases from %s)", tc.lookback, rows[1][0], tc.want, res.Plan.Join.LeasesFrom)
		}
	}
}

func cmpOr(a, b time.Duration) time.Duration {
	if a != 0 {
		return a
	}
	return b
}
