package reports

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/query"
	"github.com/flowlake/flowlake/storage/schema"
)

// TestBuildResponseSetup checks the connection setup section against the
// engine's own answers: the overall median and 95th percentile of
// tcp_conns.setup_time (µs, printed as seconds) in the period and the
// previous one, and per server each row's median, 95th percentile and
// connections, slowest median first.
func TestBuildResponseSetup(t *testing.T) {
	p := testPeriod(t)
	doc := build(t, Definition{Type: TypeResponse, N: 5}, p)
	s := findSection(t, doc, "Connection setup")
	for _, c := range []struct{ label, metric string }{
		{"Median setup time", "p50(setup_time)"},
		{"95th percentile setup time", "p95(setup_time)"},
	} {
		f := findFigure(t, s, c.label)
		if f.Unit != UnitSeconds {
			t.Errorf("%s: unit %q, want seconds", c.label, f.Unit)
		}
		checkNum(t, c.label, f.Value, engNum(t, schema.TCPConns, setupFilter, c.metric, p)/usPerSecond)
		checkNum(t, c.label+" previous", f.Previous, engNum(t, schema.TCPConns, setupFilter, c.metric, p.Previous())/usPerSecond)
		if f.Value <= 0 {
			t.Errorf("%s is %v: the test lake has passive connections with setup times", c.label, f.Value)
		}
	}
	n := findFigure(t, s, "Connections with a setup time")
	checkNum(t, "connections with a setup time", n.Value, engNum(t, schema.TCPConns, setupFilter, "count()", p))

	tb := findTable(t, doc, "Setup time by server")
	if len(tb.Rows) == 0 || len(tb.Rows) > 5 {
		t.Fatalf("%d server rows, want 1 to 5", len(tb.Rows))
	}
	med, p95, conns := col(t, tb, "Median setup"), col(t, tb, "95th percentile setup"), col(t, tb, "Connections")
	prev := col(t, tb, "Previous median setup")
	for i, r := range tb.Rows {
		f := setupFilter + " and foreign_addr = " + quote(r[0].Text) + " and foreign_port = " + quote(r[1].Text)
		checkNum(t, "median "+f, r[med].Num, engNum(t, schema.TCPConns, f, "p50(setup_time)", p)/usPerSecond)
		checkNum(t, "p95 "+f, r[p95].Num, engNum(t, schema.TCPConns, f, "p95(setup_time)", p)/usPerSecond)
		checkNum(t, "connections "+f, r[conns].Num, engNum(t, schema.TCPConns, f, "count()", p))
		if !r[prev].Null {
			checkNum(t, "previous median "+f, r[prev].Num, engNum(t, schema.TCPConns, f, "p50(setup_time)", p.Previous())/usPerSecond)
		}
		if i > 0 && r[med].Num > tb.Rows[i-1][med].Num {
			t.Errorf("row %d: median %v after %v: want the slowest first", i+1, r[med].Num, tb.Rows[i-1][med].Num)
		}
	}
}

// TestBuildResponseSetupNoData: a period whose connections have no setup
// time (device traces only: the device does not print when a connection
// was opened) says so instead of printing zeros, while the other sections
// report the connections.
func TestBuildResponseSetupNoData(t *testing.T) {
	ctx := context.Background()
	lcfg := lake.DefaultConfig()
	lcfg.Root = t.TempDir()
	l, err := lake.Open(lcfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := testPeriod(t)
	row := schema.TCPConn{Time: p.From.Add(time.Minute).UnixMicro(), Edge: "e", Device: "dev", Reason: schema.ReasonRetransmitTimeout,
		ForeignAddr: schema.AddrFrom(netip.MustParseAddr("192.0.2.10")), ForeignPort: 443, Source: "device", TraceID: 1, ConnectedAt: p.From.UnixMicro()}
	if err := write(ctx, l, []schema.TCPConn{row}); err != nil {
		t.Fatal(err)
	}
	eng := query.New(l, query.Config{}, nil)
	defer eng.Close()
	doc, err := Build(ctx, eng, Definition{Type: TypeResponse}, p)
	if err != nil {
		t.Fatal(err)
	}
	s := findSection(t, doc, "Connection setup")
	if len(s.Figures) != 0 || len(s.Tables) != 0 || !strings.HasPrefix(strings.Join(s.Text, " "), "No data") {
		t.Errorf("setup section %+v: want only a No data sentence", s)
	}
	if f := findFigure(t, findSection(t, doc, "Servers"), "Traced connections"); f.Value != 1 {
		t.Errorf("traced connections %v, want the device's 1", f.Value)
	}
}
