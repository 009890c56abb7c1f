package reports

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/flowlake/flowlake/storage/query"
	"github.com/flowlake/flowlake/storage/schema"
)

// linkTraffic is one link's traffic over one period, both directions.
type linkTraffic struct {
	link    Link
	in, out dirTraffic
}

// dirTraffic is one direction of a link: totals and the series per bucket.
type dirTraffic struct {
	bytes, packets float64
	avgBPS         float64 // bytes × 8 over the period's seconds, as the engine's bps()
	peakBPS        float64 // the highest bucket's bps()
	peakAt         time.Time
	series         map[int64]point // by bucket start, µs
}

// point is one bucket of a link direction.
type point struct{ bytes, packets, bps, pps float64 }

// util is v as a percentage of the link's capacity, NaN when unknown.
func (l *linkTraffic) util(v float64) float64 {
	if l.link.CapacityBPS <= 0 {
		return math.NaN()
	}
	return v / l.link.CapacityBPS * 100
}

// directions are the two flows columns a link's traffic is counted by:
// entering through the interface (in_if_name) and leaving it (out_if_name).
var directions = [2]string{"in_if_name", "out_if_name"}

// linkFilter is the flows filter of a link's direction column col.
func linkFilter(col string, links []Link) string {
	var terms []string
	seen := map[string]bool{}
	for _, l := range links {
		for _, in := range l.Interfaces {
			t := col + " " + quote(in.Name)
			if in.Device != "" {
				t = "(device " + quote(in.Device) + " and " + t + ")"
			}
			if !seen[t] {
				seen[t] = true
				terms = append(terms, t)
			}
		}
	}
	return strings.Join(terms, " or ")
}

// LinkFilter is the flows filter selecting the traffic of link l entering
// (in) or leaving (out) it: the filter the link report's numbers answer, for
// links that open the same traffic elsewhere.
func LinkFilter(l Link, in bool) string {
	if in {
		return linkFilter(directions[0], []Link{l})
	}
	return linkFilter(directions[1], []Link{l})
}

// discoverLinks lists every named interface with traffic in p as a link of
// its own, without capacity: the link report of a definition without links.
func (b *builder) discoverLinks(p Period) ([]Link, error) {
	seen := map[[2]string]bool{}
	var links []Link
	for _, col := range directions {
		a, err := b.r.run(b.ctx, query.Query{Dataset: schema.Flows, GroupBy: []string{"device", col},
			Metrics: []string{"sum(bytes)"}, Filter: "not " + col + ` ""`}, p)
		if err != nil {
			return nil, err
		}
		for i := range a.rows {
			k := [2]string{a.text(i, 0), a.text(i, 1)}
			if !seen[k] {
				seen[k] = true
				links = append(links, Link{Name: k[0] + " " + k[1], Interfaces: []Interface{{Device: k[0], Name: k[1]}}})
			}
		}
	}
	slices.SortFunc(links, func(x, y Link) int { return cmp.Compare(x.Name, y.Name) })
	return links, nil
}

// linkData answers the traffic of links over p, per bucket of the dimension
// bucketDim (e.g. time/5m): two engine queries, one per direction, grouped by
// device, interface and bucket; a link sums its interfaces.
//
// A definition without links (discovered) reads every named interface
// instead of filtering on each: the same rows, without a filter of hundreds
// of terms.
func (b *builder) linkData(p Period, links []Link, bucketDim string, discovered bool) ([]*linkTraffic, error) {
	out := make([]*linkTraffic, len(links))
	// members finds the links holding an interface: by device and name,
	// and by name alone for interfaces given without a device.
	members := map[[2]string][]int{}
	for i, l := range links {
		out[i] = &linkTraffic{link: l}
		out[i].in.series = map[int64]point{}
		out[i].out.series = map[int64]point{}
		for _, in := range l.Interfaces {
			k := [2]string{in.Device, in.Name}
			if !slices.Contains(members[k], i) {
				members[k] = append(members[k], i)
			}
		}
	}
	if len(links) == 0 {
		return out, nil
	}
	secs := p.Duration().Seconds()
	for d, col := range directions {
		filter := linkFilter(col, links)
		if discovered {
			filter = "not " + col + ` ""`
		}
		a, err := b.r.run(b.ctx, query.Query{Dataset: schema.Flows, Filter: filter,
			GroupBy: []string{"device", col, bucketDim},
			Metrics: []string{"sum(bytes)", "sum(packets)", "bps()", "pps()"}}, p)
		if err != nil {
			return nil, err
		}
		for i := range a.rows {
			dev, name, at := a.text(i, 0), a.text(i, 1), a.time(i, 2).UnixMicro()
			pt := point{a.num(i, 3), a.num(i, 4), a.num(i, 5), a.num(i, 6)}
			byDev, byName := members[[2]string{dev, name}], members[[2]string{"", name}]
			for j, li := range append(byDev[:len(byDev):len(byDev)], byName...) {
				if j >= len(byDev) && slices.Contains(byDev, li) {
					continue // the link names the interface with and without its device
				}
				lt := out[li]
				dt := &lt.in
				if d == 1 {
					dt = &lt.out
				}
				s := dt.series[at]
				s.bytes += pt.bytes
				s.packets += pt.packets
				s.bps += pt.bps
				s.pps += pt.pps
				dt.series[at] = s
				dt.bytes += pt.bytes
				dt.packets += pt.packets
			}
		}
	}
	for _, lt := range out {
		for _, dt := range []*dirTraffic{&lt.in, &lt.out} {
			dt.avgBPS = dt.bytes * 8 / secs
			for at, s := range dt.series {
				t := time.UnixMicro(at)
				if s.bps > dt.peakBPS || s.bps == dt.peakBPS && !dt.peakAt.IsZero() && t.Before(dt.peakAt) {
					dt.peakBPS, dt.peakAt = s.bps, t
				}
			}
		}
	}
	return out, nil
}

// reportLinks are the definition's links, or every interface seen in the
// period when it names none.
func (b *builder) reportLinks() ([]Link, bool, error) {
	if len(b.def.Links) > 0 {
		return b.def.Links, false, nil
	}
	links, err := b.discoverLinks(b.cur)
	return links, true, err
}

// busiest orders link indexes by their traffic in both directions, most
// first, ties by name.
func busiest(lts []*linkTraffic) []int {
	idx := make([]int, len(lts))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(x, y int) int {
		a, b := lts[x].in.bytes+lts[x].out.bytes, lts[y].in.bytes+lts[y].out.bytes
		if c := cmp.Compare(b, a); c != 0 {
			return c
		}
		return cmp.Compare(lts[x].link.Name, lts[y].link.Name)
	})
	return idx
}

// buildLink is the link analysis report: per link in/out bytes, packets,
// average and peak rate and utilisation, a trend chart and a detail table
// per sampling interval, each figure with the previous period's.
func (b *builder) buildLink() error {
	links, discovered, err := b.reportLinks()
	if err != nil {
		return err
	}
	dim, step := bucket(b.cur)
	cur, err := b.linkData(b.cur, links, dim, discovered)
	if err != nil {
		return err
	}
	prev, err := b.linkData(b.prev, links, dim, discovered)
	if err != nil {
		return err
	}
	if len(links) == 0 {
		b.add("summary", Section{Title: "Links", Text: []string{noData("flows with named interfaces", b.cur)}})
		return nil
	}
	order := busiest(cur)
	sum := Section{Title: "Links"}
	if discovered {
		sum.Text = append(sum.Text, "No links are configured: every named interface with traffic in the period is listed, without capacity or utilisation.")
	}
	if cur[order[0]].in.bytes+cur[order[0]].out.bytes == 0 {
		sum.Text = append(sum.Text, noData("traffic on these links", b.cur))
	}
	sum.Text = append(sum.Text, fmt.Sprintf("Rates are bit/s averaged over the period and, for peaks, over %s sampling intervals; utilisation is the rate against the configured capacity.", stepName(step)))
	sum.Tables = append(sum.Tables, linkSummaryTable(cur, prev, order))
	b.add("summary", sum)

	shown := order[:min(len(order), b.def.N)]
	capNote := ""
	if len(order) > len(shown) {
		capNote = fmt.Sprintf("%d of %d links have a trend and detail (the busiest); the summary table lists all.", len(shown), len(order))
	}
	times := axis(b.cur, step)
	trend := Section{Title: "Trend"}
	if capNote != "" {
		trend.Text = append(trend.Text, capNote)
	}
	for _, i := range shown {
		trend.Charts = append(trend.Charts, b.linkChart(cur[i], times))
	}
	b.add("trend", trend)
	for _, i := range shown {
		b.add("detail", b.linkDetail(cur[i], prev[i], times))
	}
	return nil
}

// linkSummaryTable lists every link with its totals, rates and the previous
// period's bytes.
func linkSummaryTable(cur, prev []*linkTraffic, order []int) Table {
	t := Table{Title: "Links, busiest first", Columns: []Column{
		{Name: "Link", Kind: ColText}, {Name: "Capacity", Kind: ColFloat, Unit: UnitBPS},
		{Name: "In bytes", Kind: ColInt, Unit: UnitBytes}, {Name: "Out bytes", Kind: ColInt, Unit: UnitBytes},
		{Name: "In packets", Kind: ColInt, Unit: UnitPackets}, {Name: "Out packets", Kind: ColInt, Unit: UnitPackets},
		{Name: "Avg in", Kind: ColFloat, Unit: UnitBPS}, {Name: "Avg out", Kind: ColFloat, Unit: UnitBPS},
		{Name: "Peak in", Kind: ColFloat, Unit: UnitBPS}, {Name: "Peak out", Kind: ColFloat, Unit: UnitBPS},
		{Name: "Peak utilisation", Kind: ColFloat, Unit: UnitPercent},
		{Name: "Previous in bytes", Kind: ColInt, Unit: UnitBytes}, {Name: "Previous out bytes", Kind: ColInt, Unit: UnitBytes},
		{Name: "Change", Kind: ColFloat, Unit: UnitPercent},
	}}
	for _, i := range order {
		c, p := cur[i], prev[i]
		capCell := Cell{Null: true}
		if c.link.CapacityBPS > 0 {
			capCell = Cell{Num: c.link.CapacityBPS}
		}
		t.Rows = append(t.Rows, []Cell{{Text: c.link.Name}, capCell,
			{Num: c.in.bytes}, {Num: c.out.bytes}, {Num: c.in.packets}, {Num: c.out.packets},
			{Num: c.in.avgBPS}, {Num: c.out.avgBPS}, {Num: c.in.peakBPS}, {Num: c.out.peakBPS},
			numCell(c.util(max(c.in.peakBPS, c.out.peakBPS))),
			{Num: p.in.bytes}, {Num: p.out.bytes},
			numCell(change(c.in.bytes+c.out.bytes, p.in.bytes+p.out.bytes))})
	}
	t.Note = "Change compares both directions' bytes with the previous period. Interface groups that share an interface count its traffic in each."
	return t
}

// linkChart is a link's in and out rate per sampling interval, with its
// capacity and threshold lines.
func (b *builder) linkChart(lt *linkTraffic, times []time.Time) Chart {
	c := Chart{Title: lt.link.Name + ": rate", Kind: ChartLine, Times: times, Unit: UnitBPS,
		Series: []Series{{Name: "In"}, {Name: "Out"}}}
	for _, t := range times {
		c.Series[0].Values = append(c.Series[0].Values, lt.in.series[t.UnixMicro()].bps)
		c.Series[1].Values = append(c.Series[1].Values, lt.out.series[t.UnixMicro()].bps)
	}
	if capBPS := lt.link.CapacityBPS; capBPS > 0 {
		c.Thresholds = []Threshold{{Label: "Capacity", Value: capBPS},
			{Label: fmt.Sprintf("%g %% of capacity", b.def.Threshold*100), Value: capBPS * b.def.Threshold}}
	}
	return c
}

// linkDetail is a link's section: headline figures against the previous
// period and a table per sampling interval.
func (b *builder) linkDetail(c, p *linkTraffic, times []time.Time) Section {
	s := Section{Title: "Link " + c.link.Name}
	s.Figures = []Figure{
		figure("In bytes", UnitBytes, c.in.bytes, p.in.bytes),
		figure("Out bytes", UnitBytes, c.out.bytes, p.out.bytes),
		figure("In packets", UnitPackets, c.in.packets, p.in.packets),
		figure("Out packets", UnitPackets, c.out.packets, p.out.packets),
		figure("Average in rate", UnitBPS, c.in.avgBPS, p.in.avgBPS),
		figure("Average out rate", UnitBPS, c.out.avgBPS, p.out.avgBPS),
		figure("Peak in rate", UnitBPS, c.in.peakBPS, p.in.peakBPS),
		figure("Peak out rate", UnitBPS, c.out.peakBPS, p.out.peakBPS),
	}
	if c.link.CapacityBPS > 0 {
		s.Figures = append(s.Figures,
			figure("Average in utilisation", UnitPercent, c.util(c.in.avgBPS), p.util(p.in.avgBPS)),
			figure("Average out utilisation", UnitPercent, c.util(c.out.avgBPS), p.util(p.out.avgBPS)),
			figure("Peak in utilisation", UnitPercent, c.util(c.in.peakBPS), p.util(p.in.peakBPS)),
			figure("Peak out utilisation", UnitPercent, c.util(c.out.peakBPS), p.util(p.out.peakBPS)))
	}
	for d, dt := range []*dirTraffic{&c.in, &c.out} {
		if !dt.peakAt.IsZero() {
			s.Text = append(s.Text, fmt.Sprintf("Peak %s rate in the interval from %s.", [2]string{"in", "out"}[d], dt.peakAt.In(b.loc).Format("2006-01-02 15:04 MST")))
		}
	}
	if c.in.bytes+c.out.bytes == 0 {
		s.Text = append(s.Text, noData("traffic on this link", b.cur))
	}
	t := Table{Title: c.link.Name + " per interval", Columns: []Column{
		{Name: "Time", Kind: ColTime}, {Name: "In bytes", Kind: ColInt, Unit: UnitBytes}, {Name: "Out bytes", Kind: ColInt, Unit: UnitBytes},
		{Name: "In packets", Kind: ColInt, Unit: UnitPackets}, {Name: "Out packets", Kind: ColInt, Unit: UnitPackets},
		{Name: "In rate", Kind: ColFloat, Unit: UnitBPS}, {Name: "Out rate", Kind: ColFloat, Unit: UnitBPS},
		{Name: "In utilisation", Kind: ColFloat, Unit: UnitPercent}, {Name: "Out utilisation", Kind: ColFloat, Unit: UnitPercent},
	}}
	t.Link = b.apiLink("/api/v1/series", map[string][]string{"dataset": {"flows"}, "filter": {LinkFilter(c.link, true)}}, b.cur)
	for _, at := range times {
		i, o := c.in.series[at.UnixMicro()], c.out.series[at.UnixMicro()]
		t.Rows = append(t.Rows, []Cell{{Time: at}, {Num: i.bytes}, {Num: o.bytes}, {Num: i.packets}, {Num: o.packets},
			{Num: i.bps}, {Num: o.bps}, numCell(c.util(i.bps)), numCell(c.util(o.bps))})
	}
	s.Tables = append(s.Tables, t)
	return s
}
