package reports

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/flowlake/flowlake/storage/query"
	"github.com/flowlake/flowlake/storage/schema"
)

// maxSummaryRawLossPeriod is the longest period whose summary reads the
// flow loss figures from raw flow_loss rows: a longer period carries them
// only when the daily rollup flow_loss_1d answers both periods (a UTC-day
// aligned period with fresh rollups, docs/query.md "Rollups"), since
// reading a year of raw rows costs about 1.3 CPU-s per query
// (BenchmarkFlowLossYearly), too slow for a one-page summary.
const maxSummaryRawLossPeriod = 95 * 24 * time.Hour

// buildSummary is the one-page summary: the headline numbers of the other
// reports, each against the previous period.
func (b *builder) buildSummary() error {
	s := Section{Title: "Headline numbers"}
	tot, totp, err := b.both(query.Query{Dataset: schema.Flows, Metrics: []string{"sum(bytes)", "sum(packets)", "count()", "bps()"}})
	if err != nil {
		return err
	}
	if tot.num(0, 2) == 0 {
		s.Text = append(s.Text, noData("flows", b.cur))
	}
	s.Figures = append(s.Figures,
		figure("Bytes", UnitBytes, tot.num(0, 0), totp.num(0, 0)),
		figure("Packets", UnitPackets, tot.num(0, 1), totp.num(0, 1)),
		figure("Flows", UnitCount, tot.num(0, 2), totp.num(0, 2)),
		figure("Average rate", UnitBPS, tot.num(0, 3), totp.num(0, 3)))
	dim, step := bucket(b.cur)
	peak, peakp, err := b.both(query.Query{Dataset: schema.Flows, GroupBy: []string{dim}, Metrics: []string{"bps()"},
		OrderBy: []string{"-bps()"}, Limit: 1})
	if err != nil {
		return err
	}
	first := func(a *answer) float64 {
		if a.rows == 0 {
			return 0
		}
		return a.num(0, 1)
	}
	s.Figures = append(s.Figures, figure(fmt.Sprintf("Peak %s rate", stepName(step)), UnitBPS, first(peak), first(peakp)))

	for _, top := range []struct{ label, dim string }{{"Top application", "app"}, {"Top source", "src_addr"}, {"Top destination", "dst_addr"}} {
		a, err := b.r.run(b.ctx, query.Query{Dataset: schema.Flows, GroupBy: []string{top.dim}, Metrics: []string{"sum(bytes)"}, Limit: 1}, b.cur)
		if err != nil {
			return err
		}
		if a.rows == 1 && tot.num(0, 0) > 0 {
			s.Text = append(s.Text, fmt.Sprintf("%s: %s with %.1f %% of the bytes.", top.label, a.text(0, 0), a.num(0, 1)/tot.num(0, 0)*100))
		}
	}

	if len(b.def.Links) > 0 {
		dim, _ := bucket(b.cur)
		cur, err := b.linkData(b.cur, b.def.Links, dim, false)
		if err != nil {
			return err
		}
		prev, err := b.linkData(b.prev, b.def.Links, dim, false)
		if err != nil {
			return err
		}
		worst, wc, wp := "", math.NaN(), math.NaN()
		for i, lt := range cur {
			u := lt.util(max(lt.in.peakBPS, lt.out.peakBPS))
			if !math.IsNaN(u) && (math.IsNaN(wc) || u > wc) {
				worst, wc, wp = lt.link.Name, u, prev[i].util(max(prev[i].in.peakBPS, prev[i].out.peakBPS))
			}
		}
		if worst != "" {
			s.Figures = append(s.Figures, figure("Highest peak utilisation ("+worst+")", UnitPercent, wc, wp))
		}
	}

	n, np, err := b.rows(schema.TCPConns, abnormalFilter)
	if err != nil {
		return err
	}
	s.Figures = append(s.Figures, figure("Abnormal TCP closes", UnitCount, n, np))
	mc, mp, err := b.msgTypes()
	if err != nil {
		return err
	}
	s.Figures = append(s.Figures, figure("DHCP NAKs", UnitCount, mc.of(schema.DHCPNak), mp.of(schema.DHCPNak)),
		figure("DHCP declines", UnitCount, mc.of(schema.DHCPDecline), mp.of(schema.DHCPDecline)))
	rc, rp, err := b.both(query.Query{Dataset: schema.DHCPEvents, Filter: "rogue_server = true", Metrics: []string{"count_distinct(src_addr)"}})
	if err != nil {
		return err
	}
	s.Figures = append(s.Figures, figure("Rogue DHCP servers", UnitCount, rc.num(0, 0), rp.num(0, 0)))
	dq := query.Query{Dataset: schema.CloudConns, Metrics: []string{"count_distinct(last_down_at)"}, Filter: downFilter(b.cur)}
	dc, err := b.r.run(b.ctx, dq, b.cur)
	if err != nil {
		return err
	}
	dq.Filter = downFilter(b.prev)
	dp, err := b.r.run(b.ctx, dq, b.prev)
	if err != nil {
		return err
	}
	s.Figures = append(s.Figures, figure("Cloud connection downs", UnitCount, dc.num(0, 0), dp.num(0, 0)))
	lq := query.Query{Dataset: schema.FlowLosses, Filter: lossSeqFilter, Metrics: []string{"sum(sequence_gaps)", "sum(lost_flows)", "sum(lost_datagrams)"}}
	lossOK, lossWhy := true, ""
	if b.cur.Duration() > maxSummaryRawLossPeriod {
		if lossOK, lossWhy, err = b.rolledUp(lq); err != nil {
			return err
		}
	}
	if lossOK {
		lc, lp, err := b.both(lq)
		if err != nil {
			return err
		}
		s.Figures = append(s.Figures, figure("Flow sequence gaps", UnitCount, lc.num(0, 0), lp.num(0, 0)),
			figure("Lost flows", UnitCount, lc.num(0, 1), lp.num(0, 1)), figure("Lost flow datagrams", UnitCount, lc.num(0, 2), lp.num(0, 2)))
	} else {
		s.Text = append(s.Text, "Flow loss over this period is in the fault statistics report: "+
			"the daily rollup flow_loss_1d does not answer it ("+lossWhy+"), and reading a year of raw rows would cost the summary seconds (docs/reports.md).")
	}

	t := Table{Title: "Against " + b.prev.Label, Columns: []Column{{Name: "Measure", Kind: ColText},
		{Name: b.cur.Label, Kind: ColFloat}, {Name: b.prev.Label, Kind: ColFloat}, {Name: "Change", Kind: ColFloat, Unit: UnitPercent}}}
	for _, f := range s.Figures {
		t.Rows = append(t.Rows, []Cell{{Text: f.Label}, numCell(f.Value), numCell(f.Previous), numCell(change(f.Value, f.Previous))})
	}
	s.Tables = []Table{t}
	b.add("headline", s)
	return nil
}

// buildCustom is a report of one saved query: its answer as a table and a
// chart, against the previous period.
func (b *builder) buildCustom() error {
	q := b.def.Query.Query
	q.Cursor = ""
	s := Section{Title: b.def.Title}
	if q.Filter != "" {
		s.Text = append(s.Text, "Filter: "+q.Filter)
	}
	cur, prev, err := b.both(q)
	if err != nil {
		return err
	}
	if cur.rows == 0 || len(q.GroupBy) == 0 && len(q.Metrics) > 0 && cur.rows == 1 && allZero(cur) {
		s.Text = append(s.Text, noData("rows of "+q.Dataset, b.cur))
	}
	aggregate := len(q.GroupBy) > 0 || len(q.Metrics) > 0
	if aggregate && len(q.GroupBy) == 0 {
		for m := range cur.metrics {
			name := cur.cols[m].name
			s.Figures = append(s.Figures, figure(name, metricUnit(name), cur.numOrNaN(0, m), prev.numOrNaN(0, m)))
		}
	}
	t := Table{Title: "Answer", Link: b.topnLink(q)}
	for _, c := range cur.cols {
		kind := c.kind
		if kind == ColText && len(c.strs) == 0 {
			kind = ColText
		}
		t.Columns = append(t.Columns, Column{Name: c.name, Kind: kind, Unit: metricUnit(c.name)})
	}
	hasPrev := aggregate && len(q.GroupBy) > 0 && cur.metrics > 0
	prevVals := map[string]float64{}
	if hasPrev {
		first := cur.cols[cur.dims]
		t.Columns = append(t.Columns, Column{Name: "previous " + first.name, Kind: first.kind, Unit: metricUnit(first.name)})
		for i := range prev.rows {
			if !prev.isOthers(i) {
				prevVals[prev.key(i)] = prev.numOrNaN(i, prev.dims)
			}
		}
	}
	for i := range cur.rows {
		var row []Cell
		for c := range cur.cols {
			cell := cur.cell(i, c)
			if c < cur.dims && cur.isOthers(i) {
				cell = Cell{Text: "(others)"}
			}
			row = append(row, cell)
		}
		if hasPrev {
			pv, ok := prevVals[cur.key(i)]
			if ok && !cur.isOthers(i) {
				row = append(row, numCell(pv))
			} else {
				row = append(row, Cell{Null: true})
			}
		}
		t.Rows = append(t.Rows, row)
	}
	s.Tables = []Table{t}
	if c, ok := b.customChart(q, cur); ok {
		s.Charts = []Chart{c}
	}
	b.add("result", s)
	return nil
}

// allZero reports whether a one-row answer's metrics are all zero or null.
func allZero(a *answer) bool {
	for m := range a.metrics {
		if v := a.num(0, a.dims+m); v != 0 {
			return false
		}
	}
	return true
}

// customChart draws an aggregate's answer: a time bucket first gives a line
// (or stacked) chart, one series per metric, or per value of a second
// dimension (the N largest); other groupings give bars or a pie of the first
// metric.
func (b *builder) customChart(q query.Query, a *answer) (Chart, bool) {
	if a.dims == 0 || a.metrics == 0 || a.rows == 0 {
		return Chart{}, false
	}
	kind := b.def.Query.Chart
	unit := metricUnit(a.cols[a.dims].name)
	if strings.HasPrefix(q.GroupBy[0], "time/") && a.cols[0].kind == ColTime && a.dims <= 2 {
		if kind != ChartStacked {
			kind = ChartLine
		}
		c := Chart{Title: b.def.Title, Kind: kind, Unit: unit}
		idx := map[int64]int{}
		for i := range a.rows {
			if a.isOthers(i) {
				continue
			}
			t := a.time(i, 0)
			if _, ok := idx[t.UnixMicro()]; !ok {
				idx[t.UnixMicro()] = len(c.Times)
				c.Times = append(c.Times, t)
			}
		}
		slices.SortFunc(c.Times, func(x, y time.Time) int { return x.Compare(y) })
		for j, t := range c.Times {
			idx[t.UnixMicro()] = j
		}
		nanSeries := func(name string) Series {
			v := make([]float64, len(c.Times))
			for j := range v {
				v[j] = math.NaN()
			}
			return Series{Name: name, Values: v}
		}
		if a.dims == 1 {
			for m := range a.metrics {
				sr := nanSeries(a.cols[a.dims+m].name)
				for i := range a.rows {
					if !a.isOthers(i) {
						sr.Values[idx[a.time(i, 0).UnixMicro()]] = a.numOrNaN(i, a.dims+m)
					}
				}
				c.Series = append(c.Series, sr)
			}
			return c, true
		}
		totals := map[string]float64{}
		for i := range a.rows {
			if !a.isOthers(i) {
				totals[a.text(i, 1)] += a.num(i, 2)
			}
		}
		names := make([]string, 0, len(totals))
		for k := range totals {
			names = append(names, k)
		}
		slices.SortFunc(names, func(x, y string) int {
			if totals[x] != totals[y] {
				return map[bool]int{true: -1, false: 1}[totals[x] > totals[y]]
			}
			return strings.Compare(x, y)
		})
		names = names[:min(len(names), b.def.N)]
		pos := map[string]int{}
		for _, n := range names {
			pos[n] = len(c.Series)
			c.Series = append(c.Series, nanSeries(n))
		}
		for i := range a.rows {
			if k, ok := pos[a.text(i, 1)]; ok && !a.isOthers(i) {
				c.Series[k].Values[idx[a.time(i, 0).UnixMicro()]] = a.numOrNaN(i, 2)
			}
		}
		return c, true
	}
	if kind != ChartPie {
		kind = ChartBar
	}
	c := Chart{Title: b.def.Title, Kind: kind, Unit: unit, Series: []Series{{Name: a.cols[a.dims].name}}}
	for i := range a.rows {
		var parts []string
		for d := range a.dims {
			parts = append(parts, a.text(i, d))
		}
		label := strings.Join(parts, " → ")
		if a.isOthers(i) {
			label = "(others)"
		}
		c.Categories = append(c.Categories, label)
		c.Series[0].Values = append(c.Series[0].Values, a.numOrNaN(i, a.dims))
	}
	return c, true
}

// rolledUp reports whether the engine answers q from a rollup over both the
// report's period and the previous one, and if not the route it would take.
func (b *builder) rolledUp(q query.Query) (bool, string, error) {
	for _, p := range []Period{b.cur, b.prev} {
		q.From = p.From.UTC().Format(time.RFC3339Nano)
		q.To = p.To.UTC().Format(time.RFC3339Nano)
		q.TimeZone = b.r.zone
		plan, err := b.r.eng.Explain(b.ctx, q)
		if err != nil {
			return false, "", fmt.Errorf("explain %s over %s: %w", q.Dataset, p.Label, err)
		}
		if !strings.HasPrefix(plan.Route, "rollup ") {
			return false, p.Label + ": " + plan.Route, nil
		}
	}
	return true, "", nil
}
