package reports

import (
	"fmt"
	"math"
	"strings"

	"github.com/flowlake/flowlake/storage/query"
	"github.com/flowlake/flowlake/storage/schema"
)

// trafficMetrics are the flows metrics of the traffic rankings: all three
// answered by the rollups.
var trafficMetrics = []string{"sum(bytes)", "sum(packets)", "count()"}

// trafficColumns title trafficMetrics.
var trafficColumns = []Column{{Name: "Bytes", Kind: ColInt, Unit: UnitBytes},
	{Name: "Packets", Kind: ColInt, Unit: UnitPackets}, {Name: "Flows", Kind: ColInt, Unit: UnitCount}}

// buildNetwork is the network layer report: top sources, destinations, IP
// group pairs, conversations and protocols by bytes.
func (b *builder) buildNetwork() error {
	parts := []struct {
		id, title, what string
		by, dims        []string
	}{
		{"sources", "Top source hosts", "flows", []string{"src_addr"}, []string{"Source"}},
		{"destinations", "Top destination hosts", "flows", []string{"dst_addr"}, []string{"Destination"}},
		{"groups", "Top IP group pairs", "flows", []string{"src_group", "dst_group"}, []string{"Source group", "Destination group"}},
		{"conversations", "Top conversations", "flows", []string{"src_addr", "dst_addr"}, []string{"Source", "Destination"}},
		{"protocols", "Protocols", "flows", []string{"proto"}, []string{"Protocol"}},
	}
	for _, p := range parts {
		if !b.wants(p.id) {
			continue
		}
		s, r, err := b.rankSection(p.title, p.what, ranking{title: p.title, n: b.def.N, dims: p.dims, metrics: trafficColumns,
			q: query.Query{Dataset: schema.Flows, GroupBy: p.by, Metrics: trafficMetrics}})
		if err != nil {
			return err
		}
		if p.id == "sources" && !r.failed {
			s.Figures = []Figure{figure("Bytes", UnitBytes, r.total, r.prevTotal)}
		}
		b.add(p.id, s)
	}
	return nil
}

// buildTopN is the TopN report: any dimension of any dataset by any metric.
func (b *builder) buildTopN() error {
	t := b.def.TopN
	title := fmt.Sprintf("Top %d %s by %s", b.def.N, t.Dimension, t.Metric)
	s, r, err := b.rankSection(title, "rows of "+t.Dataset, ranking{title: title, n: b.def.N,
		dims: []string{t.Dimension}, metrics: []Column{{Name: t.Metric, Kind: ColFloat, Unit: metricUnit(t.Metric)}},
		q: query.Query{Dataset: t.Dataset, Filter: t.Filter, GroupBy: []string{t.Dimension}, Metrics: []string{t.Metric}}})
	if err != nil {
		return err
	}
	if t.Filter != "" {
		s.Text = append([]string{"Filter: " + t.Filter}, s.Text...)
	}
	if !r.failed {
		s.Figures = []Figure{figure("Total "+t.Metric, metricUnit(t.Metric), r.total, r.prevTotal)}
	}
	b.add("top", s)
	return nil
}

// metricUnit guesses a metric's unit from its name.
func metricUnit(m string) Unit {
	m = strings.ReplaceAll(m, " ", "")
	switch {
	case m == "bps()":
		return UnitBPS
	case strings.Contains(m, "(bytes)"):
		return UnitBytes
	case strings.Contains(m, "(packets)") || m == "pps()":
		return UnitPackets
	case strings.HasPrefix(m, "count"):
		return UnitCount
	}
	return UnitNone
}

// unknownApps selects the flows no application rule classified.
const unknownApps = `app = "unknown" or app = ""`

// buildApps is the application protocol distribution: each application's
// share (the unknown ones included), per interface and direction, over time,
// and what the unknown traffic is.
func (b *builder) buildApps() error {
	n := b.def.N
	share, r, err := b.rankSection("Applications", "flows", ranking{title: "Applications by bytes", n: n,
		dims: []string{"Application"}, metrics: trafficColumns,
		q: query.Query{Dataset: schema.Flows, GroupBy: []string{"app"}, Metrics: trafficMetrics}})
	if err != nil {
		return err
	}
	if !r.failed {
		share.Figures = []Figure{figure("Bytes", UnitBytes, r.total, r.prevTotal)}
	}
	// The unknown applications are a headline of their own, whether or not
	// they rank among the first N.
	uc, up, err := b.both(query.Query{Dataset: schema.Flows, Filter: unknownApps, Metrics: []string{"sum(bytes)"}})
	if err != nil {
		return err
	}
	share.Figures = append(share.Figures, figure("Unknown application bytes", UnitBytes, uc.num(0, 0), up.num(0, 0)))
	if r.total > 0 && !r.failed {
		share.Text = append(share.Text, fmt.Sprintf("Unknown applications carry %.1f %% of the bytes.", uc.num(0, 0)/r.total*100))
	}
	if r.rows > 0 {
		pie := r.chart
		pie.Kind, pie.Title = ChartPie, "Share of bytes"
		share.Charts = []Chart{pie}
	}
	b.add("share", share)

	if b.wants("interfaces") {
		s := Section{Title: "Applications per interface and direction"}
		for d, col := range directions {
			dir := [2]string{"entering", "leaving"}[d]
			title := fmt.Sprintf("Applications %s each interface", dir)
			rs, _, err := b.rankSection(title, "flows with named interfaces", ranking{title: title, n: n,
				dims: []string{"Device", "Interface", "Application"}, metrics: trafficColumns,
				q: query.Query{Dataset: schema.Flows, Filter: "not " + col + ` ""`,
					GroupBy: []string{"device", col, "app"}, Metrics: trafficMetrics}})
			if err != nil {
				return err
			}
			if err := b.interfaceShares(rs.Tables, col); err != nil {
				return err
			}
			s.Text = append(s.Text, rs.Text...)
			s.Tables = append(s.Tables, rs.Tables...)
		}
		b.add("interfaces", s)
	}

	if b.wants("trend") {
		s, err := b.appsTrend(r)
		if err != nil {
			return err
		}
		b.add("trend", s)
	}

	if b.wants("unknown") {
		s, _, err := b.rankSection("Unknown applications", "unclassified flows", ranking{
			title: "Unknown applications by protocol and port", n: n,
			dims: []string{"Protocol", "Destination port"}, metrics: trafficColumns,
			q: query.Query{Dataset: schema.Flows, Filter: unknownApps,
				GroupBy: []string{"proto", "dst_port"}, Metrics: trafficMetrics}})
		if err != nil {
			return err
		}
		s.Text = append([]string{"Flows no application rule classified, by protocol and destination port."}, s.Text...)
		b.add("unknown", s)
	}
	return nil
}

// appsTrend charts the top applications' rates over time, stacked, with the
// rest as one series.
func (b *builder) appsTrend(top *ranked) (Section, error) {
	s := Section{Title: "Applications over time"}
	if top.failed {
		s.Text = []string{"Not drawn: the applications could not be ranked (see the warnings)."}
		return s, nil
	}
	if top.rows == 0 {
		s.Text = []string{noData("flows", b.cur)}
		return s, nil
	}
	dim, step := bucket(b.cur)
	times := axis(b.cur, step)
	all, err := b.r.run(b.ctx, query.Query{Dataset: schema.Flows, GroupBy: []string{dim}, Metrics: []string{"bps()"}}, b.cur)
	if err != nil {
		return s, err
	}
	var vals []string
	for _, a := range top.chart.Categories {
		vals = append(vals, quote(a))
	}
	per, err := b.r.run(b.ctx, query.Query{Dataset: schema.Flows, Filter: "app in [" + strings.Join(vals, " ") + "]",
		GroupBy: []string{"app", dim}, Metrics: []string{"bps()"}}, b.cur)
	if err != nil {
		return s, err
	}
	idx := map[int64]int{}
	for i, t := range times {
		idx[t.UnixMicro()] = i
	}
	c := Chart{Title: "Application rates", Kind: ChartStacked, Times: times, Unit: UnitBPS}
	series := map[string]int{}
	for _, a := range top.chart.Categories {
		series[a] = len(c.Series)
		c.Series = append(c.Series, Series{Name: a, Values: make([]float64, len(times))})
	}
	rest := make([]float64, len(times))
	for i := range all.rows {
		if j, ok := idx[all.time(i, 0).UnixMicro()]; ok {
			rest[j] = all.num(i, 1)
		}
	}
	for i := range per.rows {
		j, ok := idx[per.time(i, 1).UnixMicro()]
		k, ok2 := series[per.text(i, 0)]
		if ok && ok2 {
			c.Series[k].Values[j] = per.num(i, 2)
			rest[j] -= per.num(i, 2)
		}
	}
	for j := range rest {
		rest[j] = math.Max(rest[j], 0) // rounding of the subtraction
	}
	c.Series = append(c.Series, Series{Name: "(others)", Values: rest})
	s.Charts = []Chart{c}
	s.Text = []string{fmt.Sprintf("%s rates of the %d applications with most bytes; (others) is the rest.", stepName(step), top.rows)}
	return s, nil
}

// interfaceShares adds to application × interface tables each row's share
// of its interface's bytes in that direction (column col), from the
// engine's total per interface.
func (b *builder) interfaceShares(tables []Table, col string) error {
	if len(tables) == 0 {
		return nil
	}
	a, err := b.r.run(b.ctx, query.Query{Dataset: schema.Flows, Filter: "not " + col + ` ""`,
		GroupBy: []string{"device", col}, Metrics: []string{"sum(bytes)"}}, b.cur)
	if err != nil {
		return err
	}
	totals := map[[2]string]float64{}
	for i := range a.rows {
		totals[[2]string{a.text(i, 0), a.text(i, 1)}] = a.num(i, 2)
	}
	for ti := range tables {
		t := &tables[ti]
		t.Columns = append(t.Columns, Column{Name: "Share of interface", Kind: ColFloat, Unit: UnitPercent})
		for ri, r := range t.Rows {
			c := Cell{Null: true}
			if tot := totals[[2]string{r[0].Text, r[1].Text}]; tot > 0 && r[0].Text != "(others)" {
				c = Cell{Num: r[3].Num / tot * 100}
			}
			t.Rows[ri] = append(r, c)
		}
	}
	return nil
}
