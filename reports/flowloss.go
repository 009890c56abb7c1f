package reports

import (
	"fmt"
	"strconv"

	"github.com/flowlake/flowlake/storage/query"
	"github.com/flowlake/flowlake/storage/schema"
)

// Filters of the flow_loss dataset: an exporter domain's rows, and the
// edges' own drops by unit.
var (
	lossSeqFilter   = schema.LossCause + " = " + quote(schema.LossSequence)
	lossDgramFilter = schema.LossDroppedUnit + " = " + quote(schema.LossUnitDatagrams)
	lossRowsFilter  = schema.LossDroppedUnit + " = " + quote(schema.LossUnitRows)
)

// lossMetrics are the exporter columns of the flow loss section, in the
// order of its figures and table.
var lossMetrics = []string{"sum(sequence_gaps)", "sum(lost_flows)", "sum(lost_datagrams)", "sum(flows)"}

// lossSums is what one flow_loss query says of a period: grouped by
// dropped_unit ("" for the exporters' sequence rows, else the unit of the
// edges' drops), so one query answers every figure of the section.
type lossSums struct {
	rows, gaps, lostFlows, lostDgrams, flows, exporters, dgramDrops, rowDrops float64
}

func (b *builder) lossSums(p Period) (lossSums, error) {
	a, err := b.r.run(b.ctx, query.Query{Dataset: schema.FlowLosses, GroupBy: []string{schema.LossDroppedUnit},
		Metrics: []string{"count()", "sum(sequence_gaps)", "sum(lost_flows)", "sum(lost_datagrams)", "sum(flows)", "sum(dropped)", "count_distinct(device)"}}, p)
	if err != nil {
		return lossSums{}, err
	}
	var s lossSums
	for i := range a.rows {
		s.rows += a.num(i, 1)
		switch a.text(i, 0) {
		case "":
			s.gaps, s.lostFlows, s.lostDgrams, s.flows, s.exporters = a.num(i, 2), a.num(i, 3), a.num(i, 4), a.num(i, 5), a.num(i, 7)
		case schema.LossUnitDatagrams:
			s.dgramDrops = a.num(i, 6)
		case schema.LossUnitRows:
			s.rowDrops = a.num(i, 6)
		}
	}
	return s, nil
}

// flowLoss is the fault report's flow loss section, from the flow_loss
// rows the edges write (docs/ingest-flow.md): sequence gaps, lost flows
// and lost datagrams of every exporter, and the edges' own drops by cause,
// against the previous period. "No data" only when no edge reported in
// the period; rows of zeros say "received, nothing lost".
func (b *builder) flowLoss() (Section, error) {
	s := Section{Title: "Flow loss"}
	cur, err := b.lossSums(b.cur)
	if err != nil {
		return s, err
	}
	if cur.rows == 0 {
		s.Text = []string{noData("flow collector reports (flow_loss): no edge received flows or dropped any", b.cur)}
		return s, nil
	}
	prev, err := b.lossSums(b.prev)
	if err != nil {
		return s, err
	}
	s.Figures = []Figure{
		figure("Sequence gaps", UnitCount, cur.gaps, prev.gaps),
		figure("Lost flows", UnitCount, cur.lostFlows, prev.lostFlows),
		figure("Lost datagrams", UnitCount, cur.lostDgrams, prev.lostDgrams),
		figure("Datagrams dropped by edges", UnitCount, cur.dgramDrops, prev.dgramDrops),
		figure("Rows dropped by edges", UnitCount, cur.rowDrops, prev.rowDrops),
		figure("Flows received", UnitCount, cur.flows, prev.flows),
	}
	switch {
	case cur.gaps+cur.lostFlows+cur.lostDgrams+cur.dgramDrops+cur.rowDrops == 0:
		s.Text = append(s.Text, fmt.Sprintf("No flow loss in %s: %s exporters sent %s flows without a sequence gap, and no edge dropped any.",
			b.cur.Label, strconv.FormatFloat(cur.exporters, 'f', -1, 64), strconv.FormatFloat(cur.flows, 'f', -1, 64)))
	case cur.lostFlows > 0:
		s.Text = append(s.Text, fmt.Sprintf("The sequence numbers show %.3f %% of the flows of NetFlow v5 and IPFIX exporters lost before they reached an edge.",
			cur.lostFlows/(cur.lostFlows+cur.flows)*100))
	}
	s.Text = append(s.Text, "Lost flows count the records NetFlow v5 and IPFIX exporters numbered but the edge never received; "+
		"NetFlow v9 and sFlow number datagrams, so their loss is in lost datagrams. Edges drop datagrams (full queues, read and decode errors) "+
		"and rows (failed writes, a full spool, segments the core refused).")
	t, err := b.lossByExporter()
	if err != nil {
		return s, err
	}
	s.Tables = append(s.Tables, t)
	if cur.dgramDrops+cur.rowDrops == 0 {
		s.Text = append(s.Text, "No edge dropped datagrams or rows in "+b.cur.Label+".")
		return s, nil
	}
	d, err := b.lossDrops()
	if err != nil {
		return s, err
	}
	s.Tables = append(s.Tables, d)
	return s, nil
}

// lossByExporter is the table of every exporter's gaps and losses (the N
// with most gaps, then an others row), each against the previous period.
func (b *builder) lossByExporter() (Table, error) {
	q := query.Query{Dataset: schema.FlowLosses, Filter: lossSeqFilter, GroupBy: []string{"device", "format"},
		Metrics: lossMetrics[:4],
		OrderBy: []string{"-sum(sequence_gaps)", "-sum(lost_flows)", "-sum(lost_datagrams)", "-sum(flows)"},
		Limit:   b.def.N,
		Others:  true,
	}
	cur, err := b.r.run(b.ctx, q, b.cur)
	if err != nil {
		return Table{}, err
	}
	pq := q
	pq.Limit, pq.Others, pq.OrderBy = 0, false, nil
	prev, err := b.r.run(b.ctx, pq, b.prev)
	if err != nil {
		return Table{}, err
	}
	before := map[string]int{}
	for i := range prev.rows {
		before[prev.key(i)] = i
	}
	t := Table{Title: "Flow loss by exporter", Link: b.topnLink(q), Columns: []Column{
		{Name: "Exporter", Kind: ColText}, {Name: "Format", Kind: ColText},
		{Name: "Sequence gaps", Kind: ColInt, Unit: UnitCount}, {Name: "Lost flows", Kind: ColInt, Unit: UnitCount},
		{Name: "Lost datagrams", Kind: ColInt, Unit: UnitCount}, {Name: "Flows", Kind: ColInt, Unit: UnitCount},
		{Name: "Previous sequence gaps", Kind: ColInt, Unit: UnitCount}, {Name: "Previous lost flows", Kind: ColInt, Unit: UnitCount},
		{Name: "Previous lost datagrams", Kind: ColInt, Unit: UnitCount}, {Name: "Change in gaps", Kind: ColFloat, Unit: UnitPercent},
	}}
	for i := range cur.rows {
		row := []Cell{cur.cell(i, 0), cur.cell(i, 1)}
		if cur.isOthers(i) {
			row = []Cell{{Text: "(others)"}, {Text: ""}}
		}
		for m := range 4 {
			row = append(row, numCell(cur.num(i, 2+m)))
		}
		if cur.isOthers(i) {
			row = append(row, Cell{Null: true}, Cell{Null: true}, Cell{Null: true}, Cell{Null: true})
		} else {
			var pg, pf, pd float64 // an exporter absent before lost nothing then
			if j, ok := before[cur.key(i)]; ok {
				pg, pf, pd = prev.num(j, 2), prev.num(j, 3), prev.num(j, 4)
			}
			row = append(row, numCell(pg), numCell(pf), numCell(pd), numCell(change(cur.num(i, 2), pg)))
		}
		t.Rows = append(t.Rows, row)
	}
	t.Note = "Exporters (devices as in flows) ordered by sequence gaps, then lost flows and datagrams; at most " + strconv.Itoa(b.def.N) + " rows and the others."
	return t, nil
}

// lossDrops is the table of the edges' own drops by edge and cause,
// against the previous period.
func (b *builder) lossDrops() (Table, error) {
	q := query.Query{Dataset: schema.FlowLosses, Filter: "not " + lossSeqFilter, GroupBy: []string{"edge", "cause", "dropped_unit"},
		Metrics: []string{"sum(dropped)"}, OrderBy: []string{"-sum(dropped)"}}
	cur, err := b.r.run(b.ctx, q, b.cur)
	if err != nil {
		return Table{}, err
	}
	q.OrderBy = nil
	prev, err := b.r.run(b.ctx, q, b.prev)
	if err != nil {
		return Table{}, err
	}
	before := map[string]float64{}
	for i := range prev.rows {
		before[prev.key(i)] = prev.num(i, 3)
	}
	t := Table{Title: "Drops at the edges", Columns: []Column{{Name: "Edge", Kind: ColText}, {Name: "Cause", Kind: ColText},
		{Name: "Unit", Kind: ColText}, {Name: "Dropped", Kind: ColInt, Unit: UnitCount},
		{Name: "Previous dropped", Kind: ColInt, Unit: UnitCount}, {Name: "Change", Kind: ColFloat, Unit: UnitPercent}}}
	for i := range cur.rows {
		p := before[cur.key(i)]
		t.Rows = append(t.Rows, []Cell{cur.cell(i, 0), cur.cell(i, 1), cur.cell(i, 2), numCell(cur.num(i, 3)), numCell(p), numCell(change(cur.num(i, 3), p))})
	}
	return t, nil
}
