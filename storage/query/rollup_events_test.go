package query

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/gen"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// eventLake is a lake of two generated days of the event datasets (no
// flows), with its engine.
func eventLake(t *testing.T) (*gen.Collector, *lake.Lake, *Engine) {
	t.Helper()
	cfg := gen.DefaultConfig()
	cfg.Start = time.Date(2026, 1, 6, 0, 0, 0, 0, time.UTC)
	cfg.End = cfg.Start.Add(48 * time.Hour)
	cfg.FlowsPerSecond = 1
	c, err := gen.Collect(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	lcfg := lake.DefaultConfig()
	lcfg.Root = t.TempDir()
	l, err := lake.Open(lcfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	e := New(l, Config{}, nil)
	t.Cleanup(func() { e.Close() })
	return c, l, e
}

func writeEvents(t *testing.T, l *lake.Lake, source string, c *gen.Collector) {
	t.Helper()
	ctx := t.Context()
	for _, err := range []error{
		write(ctx, l, source, c.TCPConnRows), write(ctx, l, source, c.DHCPRows),
		write(ctx, l, source, c.CloudRows), write(ctx, l, source, c.LossRows),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func write[T schema.Row](ctx context.Context, l *lake.Lake, source string, rows []T) error {
	if len(rows) == 0 {
		return nil
	}
	_, err := lake.Write(ctx, l, source, rows)
	return err
}

// routedEqualsRaw runs q, checks its route starts with route, and that its
// answer is the raw rows' answer; it returns that answer.
func routedEqualsRaw(t *testing.T, e *Engine, q Query, route string) string {
	t.Helper()
	ctx := t.Context()
	r, err := e.Run(ctx, q)
	if err != nil {
		t.Fatalf("%+v: %v", q, err)
	}
	defer r.Release()
	if !strings.HasPrefix(r.Plan.Route, route) {
		t.Errorf("%+v: route %q, want %s", q, r.Plan.Route, route)
	}
	qr := q
	qr.raw = true
	rr, err := e.Run(ctx, qr)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	got, raw := csvText(r.Rows()), csvText(rr.Rows())
	if got != raw {
		t.Errorf("%+v: answer on %s differs from raw:\n%s\nraw:\n%s", q, r.Plan.Route, got, raw)
	}
	return got
}

// TestEventRollupsAgreeWithRaw: for each event dataset, the reports'
// queries are answered from its daily rollup, and equal the raw rows'
// answer; queries the rollup cannot answer exactly stay raw, saying why.
func TestEventRollupsAgreeWithRaw(t *testing.T) {
	c, l, e := eventLake(t)
	writeEvents(t, l, "a", c)
	res, err := e.MaintainRollups(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, ds := range []string{schema.TCPConns1d, schema.DHCPEvents1d, schema.CloudConns1d, schema.FlowLosses1d} {
		n := 0
		for _, b := range res.Built {
			if strings.HasPrefix(b, ds+" ") {
				n++
			}
		}
		if n != 2 {
			t.Errorf("MaintainRollups built %d days of %s, want 2: %v", n, ds, res.Built)
		}
	}
	if again, err := e.MaintainRollups(t.Context()); err != nil || len(again.Built) != 0 {
		t.Fatalf("second MaintainRollups: %+v, %v: want nothing to do", again, err)
	}
	days := func(q Query) Query { q.From, q.To = "2026-01-06", "2026-01-08"; return q }
	downs := "last_down_at >= 2026-01-06T00:00:00Z and last_down_at < 2026-01-08T00:00:00Z"
	for _, tc := range []struct {
		q        Query
		route    string
		nonEmpty bool // the answer must hold a non-zero number: the data exercises it
	}{
		{days(Query{Dataset: "tcp_conns", Filter: "not reason in [PN AN]", Metrics: []string{"count()"}}), "rollup tcp_conns_1d", true},
		{days(Query{Dataset: "tcp_conns", GroupBy: []string{"reason"}, Metrics: []string{"count()"}}), "rollup tcp_conns_1d", true},
		{days(Query{Dataset: "tcp_conns", GroupBy: []string{"time/1d", "device", "source"}, Metrics: []string{"count()", "sum(retrans_packets)", "sum(in_dropped)"}}), "rollup tcp_conns_1d", true},
		{days(Query{Dataset: "tcp_conns", GroupBy: []string{"foreign_addr", "foreign_port"}, Metrics: []string{"count()"}}), "raw segments of tcp_conns (group by foreign_addr needs raw rows)", false},
		{days(Query{Dataset: "tcp_conns", Filter: "setup_time > 0", Metrics: []string{"count()"}}), "raw segments of tcp_conns (filter on setup_time needs raw rows)", false},
		{days(Query{Dataset: "dhcp_events", GroupBy: []string{"msg_type"}, Metrics: []string{"count()"}}), "rollup dhcp_events_1d", true},
		{days(Query{Dataset: "dhcp_events", Filter: "rogue_server = true", Metrics: []string{"count_distinct(src_addr)"}}), "rollup dhcp_events_1d", true},
		{days(Query{Dataset: "dhcp_events", Filter: "rogue_server = true", GroupBy: []string{"src_addr", "interface"}, Metrics: []string{"count()"}}), "rollup dhcp_events_1d", true},
		{days(Query{Dataset: "dhcp_events", Metrics: []string{"count_distinct(src_addr)"}}), "raw segments of dhcp_events (count_distinct(src_addr) needs raw rows)", true},
		{days(Query{Dataset: "dhcp_events", Filter: "rogue_server = true or msg_type = NAK", GroupBy: []string{"src_addr"}}), "raw segments", false},
		{days(Query{Dataset: "cloud_conn", Filter: downs, Metrics: []string{"count_distinct(last_down_at)"}}), "rollup cloud_conn_1d", true},
		{days(Query{Dataset: "cloud_conn", Filter: downs, GroupBy: []string{"device", "last_down_reason"}, Metrics: []string{"count_distinct(last_down_at)"}}), "rollup cloud_conn_1d", true},
		{days(Query{Dataset: "flow_loss", Filter: "cause = \"sequence\"", Metrics: []string{"sum(sequence_gaps)", "sum(lost_flows)", "sum(lost_datagrams)"}}), "rollup flow_loss_1d", true},
		{days(Query{Dataset: "flow_loss", GroupBy: []string{"dropped_unit"}, Metrics: []string{"count()", "sum(sequence_gaps)", "sum(lost_flows)", "sum(lost_datagrams)", "sum(flows)", "sum(dropped)", "count_distinct(device)"}}), "rollup flow_loss_1d", true},
		{days(Query{Dataset: "flow_loss", Filter: "cause = \"sequence\"", GroupBy: []string{"device", "format"}, Metrics: []string{"sum(sequence_gaps)", "sum(lost_flows)", "sum(lost_datagrams)", "sum(flows)"},
			OrderBy: []string{"-sum(sequence_gaps)", "-sum(flows)"}, Limit: 3, Others: true}), "rollup flow_loss_1d", true},
		{days(Query{Dataset: "flow_loss", Filter: "not cause = \"sequence\"", GroupBy: []string{"edge", "cause", "dropped_unit"}, Metrics: []string{"sum(dropped)"}}), "rollup flow_loss_1d", false},
		{days(Query{Dataset: "flow_loss", Filter: "sequence_gaps > 0", Metrics: []string{"count()"}}), "raw segments of flow_loss (filter on sequence_gaps needs raw rows)", false},
		{days(Query{Dataset: "flow_loss", Metrics: []string{"max(duration_ms)"}}), "raw segments of flow_loss (max(duration_ms) needs raw rows)", false},
		{Query{Dataset: "flow_loss", From: "2026-01-06T06:00:00Z", To: "2026-01-07T00:00:00Z", Metrics: []string{"sum(flows)"}}, "raw segments of flow_loss (time range not aligned", true},
		{days(Query{Dataset: "flow_loss", TimeZone: "Asia/Kolkata", GroupBy: []string{"time/1d"}, Metrics: []string{"sum(flows)"}}), "raw segments of flow_loss (", true},
	} {
		got := routedEqualsRaw(t, e, tc.q, tc.route)
		if tc.nonEmpty && !hasNonZero(got) {
			t.Errorf("%+v: answer holds no non-zero number, the test exercises nothing:\n%s", tc.q, got)
		}
	}
}

// hasNonZero reports whether a CSV answer holds a number other than 0 past
// its header.
func hasNonZero(csv string) bool {
	lines := strings.Split(csv, "\n")
	for _, line := range lines[min(1, len(lines)):] {
		for _, f := range strings.Split(line, ",") {
			if f != "" && f != "0" && strings.Trim(f, "0123456789.") == "" {
				return true
			}
		}
	}
	return false
}

// TestEventRollupLateUpload: a late upload into a day the rollup covers
// makes it stale (the query reads raw rows, with the new ones), until
// MaintainRollups rebuilds it; the answer equals the raw one throughout.
func TestEventRollupLateUpload(t *testing.T) {
	c, l, e := eventLake(t)
	half := *c
	half.TCPConnRows = c.TCPConnRows[:len(c.TCPConnRows)/2]
	half.DHCPRows = c.DHCPRows[:len(c.DHCPRows)/2]
	half.CloudRows = c.CloudRows[:len(c.CloudRows)/2]
	half.LossRows = c.LossRows[:len(c.LossRows)/2]
	writeEvents(t, l, "a", &half)
	if _, err := e.MaintainRollups(t.Context()); err != nil {
		t.Fatal(err)
	}
	qs := []Query{
		{Dataset: "tcp_conns", From: "2026-01-06", To: "2026-01-08", GroupBy: []string{"reason"}, Metrics: []string{"count()"}},
		{Dataset: "dhcp_events", From: "2026-01-06", To: "2026-01-08", GroupBy: []string{"msg_type"}, Metrics: []string{"count()"}},
		{Dataset: "cloud_conn", From: "2026-01-06", To: "2026-01-08", GroupBy: []string{"device"}, Metrics: []string{"count()"}},
		{Dataset: "flow_loss", From: "2026-01-06", To: "2026-01-08", Metrics: []string{"count()", "sum(flows)"}},
	}
	var before []string
	for _, q := range qs {
		before = append(before, routedEqualsRaw(t, e, q, "rollup "+q.Dataset+"_1d"))
	}
	late := *c
	late.TCPConnRows = c.TCPConnRows[len(c.TCPConnRows)/2:]
	late.DHCPRows = c.DHCPRows[len(c.DHCPRows)/2:]
	late.CloudRows = c.CloudRows[len(c.CloudRows)/2:]
	late.LossRows = c.LossRows[len(c.LossRows)/2:]
	writeEvents(t, l, "late", &late)
	var stale []string
	for i, q := range qs {
		a := routedEqualsRaw(t, e, q, "raw segments of "+q.Dataset+" ("+q.Dataset+"_1d of ")
		if a == before[i] {
			t.Errorf("%s: the late upload changed nothing", q.Dataset)
		}
		stale = append(stale, a)
	}
	res, err := e.MaintainRollups(t.Context())
	if err != nil || res.Removed == 0 {
		t.Fatalf("MaintainRollups after the late upload: %+v, %v: want stale rollups removed", res, err)
	}
	for i, q := range qs {
		if a := routedEqualsRaw(t, e, q, "rollup "+q.Dataset+"_1d"); a != stale[i] {
			t.Errorf("%s: rebuilt rollup answers\n%s\nraw answered\n%s", q.Dataset, a, stale[i])
		}
	}
}
