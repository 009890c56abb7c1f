package reports

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/query"
	"github.com/flowlake/flowlake/storage/schema"
)

// checkFlowLoss checks the fault report's flow loss section against the
// engine's answers over flow_loss: every figure and its previous value,
// the exporter table's gaps, lost flows and datagrams (and their previous
// values) row by row, and the drops table.
func checkFlowLoss(t *testing.T, doc *Document, p Period) {
	t.Helper()
	s := findSection(t, doc, "Flow loss")
	for _, c := range []struct{ label, filter, metric string }{
		{"Sequence gaps", lossSeqFilter, "sum(sequence_gaps)"},
		{"Lost flows", lossSeqFilter, "sum(lost_flows)"},
		{"Lost datagrams", lossSeqFilter, "sum(lost_datagrams)"},
		{"Flows received", lossSeqFilter, "sum(flows)"},
		{"Datagrams dropped by edges", lossDgramFilter, "sum(dropped)"},
		{"Rows dropped by edges", lossRowsFilter, "sum(dropped)"},
	} {
		f := findFigure(t, s, c.label)
		checkNum(t, c.label, f.Value, engNum(t, schema.FlowLosses, c.filter, c.metric, p))
		checkNum(t, c.label+" previous", f.Previous, engNum(t, schema.FlowLosses, c.filter, c.metric, p.Previous()))
	}
	if f := findFigure(t, s, "Sequence gaps"); f.Value == 0 || f.Previous == 0 {
		t.Errorf("the test lake has no sequence gaps in %s or before (%v, %v): the section is not exercised", p.Label, f.Value, f.Previous)
	}
	if txt := strings.Join(s.Text, " "); strings.Contains(txt, "No data") || strings.Contains(txt, "No flow loss") {
		t.Errorf("flow loss says %q on a lake with gaps", txt)
	}
	tb := findTable(t, doc, "Flow loss by exporter")
	for _, m := range []struct{ col, metric string }{
		{"Sequence gaps", "sum(sequence_gaps)"}, {"Lost flows", "sum(lost_flows)"}, {"Lost datagrams", "sum(lost_datagrams)"},
	} {
		checkRanking(t, tb, schema.FlowLosses, lossSeqFilter, []string{"device", "format"}, m.metric, m.col, p)
	}
	if tb.Rows[0][col(t, tb, "Sequence gaps")].Num == 0 {
		t.Errorf("the first exporter has no gaps: %v", tb.Rows[0])
	}
}

// TestFlowLossNoLossAndNoData: a period whose flow_loss rows are all zeros
// says "No flow loss" with zero figures and lists the exporters; a period
// without rows says "No data"; an edge drop shows in the drops table with
// its previous value.
func TestFlowLossNoLossAndNoData(t *testing.T) {
	ctx := context.Background()
	lcfg := lake.DefaultConfig()
	lcfg.Root = t.TempDir()
	l, err := lake.Open(lcfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	day := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	row := func(at time.Time, device string, flows uint64) schema.FlowLoss {
		return schema.FlowLoss{Time: schema.Micros(at), DurationMS: 60000, Edge: "e1", Cause: schema.LossSequence,
			Device: device, Format: "ipfix", Domain: 1, Datagrams: 1 + flows/20, Flows: flows}
	}
	rows := []schema.FlowLoss{
		row(day.Add(10*time.Hour), "sw1", 400), row(day.Add(10*time.Hour), "sw2", 100), row(day.Add(11*time.Hour), "sw1", 300),
		{Time: schema.Micros(day.Add(-2 * time.Hour)), DurationMS: 60000, Edge: "e1", Cause: schema.LossQueueFull, Dropped: 7, DroppedUnit: schema.LossUnitDatagrams},
		{Time: schema.Micros(day.Add(9 * time.Hour)), DurationMS: 60000, Edge: "e1", Cause: schema.LossQueueFull, Dropped: 5, DroppedUnit: schema.LossUnitDatagrams},
	}
	if _, err := lake.Write(ctx, l, "e1", rows); err != nil {
		t.Fatal(err)
	}
	eng := query.New(l, query.Config{}, nil)
	defer eng.Close()
	build := func(at string) *Section {
		p, err := ParsePeriod(Daily, at, "UTC", day.Add(72*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := Build(ctx, eng, Definition{Type: TypeFaults, Sections: []string{"flowloss"}}, p)
		if err != nil {
			t.Fatal(err)
		}
		return findSection(t, doc, "Flow loss")
	}
	s := build("2026-03-10")
	txt := strings.Join(s.Text, " ")
	if strings.Contains(txt, "No flow loss") {
		t.Errorf("a day with a queue drop says %q", txt)
	}
	for _, c := range []struct {
		label     string
		cur, prev float64
	}{{"Sequence gaps", 0, 0}, {"Lost flows", 0, 0}, {"Flows received", 800, 0}, {"Datagrams dropped by edges", 5, 7}} {
		f := findFigure(t, s, c.label)
		if f.Value != c.cur || f.Previous != c.prev {
			t.Errorf("%s: %v (previous %v), want %v (%v)", c.label, f.Value, f.Previous, c.cur, c.prev)
		}
	}
	if strings.Contains(txt, "No data") {
		t.Errorf("a day with flow_loss rows says %q", txt)
	}
	if len(s.Tables) != 2 {
		t.Fatalf("%d tables, want the exporters and the drops", len(s.Tables))
	}
	if ex := s.Tables[0]; len(ex.Rows) != 2 || ex.Rows[0][0].Text != "sw1" || ex.Rows[0][5].Num != 700 || ex.Rows[0][2].Num != 0 {
		t.Errorf("exporters table %+v", ex.Rows)
	}
	if dr := s.Tables[1]; len(dr.Rows) != 1 || dr.Rows[0][1].Text != schema.LossQueueFull || dr.Rows[0][3].Num != 5 || dr.Rows[0][4].Num != 7 {
		t.Errorf("drops table %+v", dr.Rows)
	}

	// Without drops: the exporters' zero rows say "no loss".
	if _, err := lake.Write(ctx, l, "e1", []schema.FlowLoss{row(day.Add(24*time.Hour+time.Hour), "sw1", 50)}); err != nil {
		t.Fatal(err)
	}
	if err := l.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	s = build("2026-03-11")
	if txt := strings.Join(s.Text, " "); !strings.Contains(txt, "No flow loss in") || !strings.Contains(txt, "1 exporters sent 50 flows") {
		t.Errorf("a day of zero-loss rows says %q", txt)
	}
	// No rows at all: no data.
	s = build("2026-03-12")
	if txt := strings.Join(s.Text, " "); !strings.HasPrefix(txt, "No data") || len(s.Figures) != 0 {
		t.Errorf("a day without flow_loss rows says %q with %d figures", txt, len(s.Figures))
	}
}
