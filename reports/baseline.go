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

// Baseline deviations: a bucket is flagged when it is further from the
// baseline median than deviationK spreads, the spread being the scaled
// median absolute deviation of the same bucket in the previous weeks, at
// least minSpreadShare of the median (so a perfectly regular history does
// not flag every byte of difference).
const (
	deviationK     = 3
	minSpreadShare = 0.1
)

// baselineObject is one series compared with its baseline.
type baselineObject struct {
	name   string
	values map[int64]float64 // bytes per bucket, by bucket start (µs)
}

// baselineStat is one bucket against its baseline.
type baselineStat struct {
	at                    time.Time
	value, median, spread float64
	lower, upper          float64
	flagged, above        bool
}

// baselineStep is the bucket of the baseline: an hour up to 35 days, else a
// local day.
func baselineStep(p Period) (string, time.Duration) {
	if p.Duration() <= 35*24*time.Hour {
		return "time/1h", time.Hour
	}
	return "time/1d", 24 * time.Hour
}

// sameBucketWeeksAgo is t's local wall-clock time k weeks earlier: the same
// hour of the same weekday, across DST changes.
func sameBucketWeeksAgo(t time.Time, k int) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d-7*k, t.Hour(), t.Minute(), 0, 0, t.Location())
}

// compare computes each bucket of times against the same bucket of the
// previous weeks.
func compare(o baselineObject, times []time.Time, weeks int) []baselineStat {
	out := make([]baselineStat, len(times))
	hist := make([]float64, 0, weeks)
	for i, t := range times {
		hist = hist[:0]
		for k := 1; k <= weeks; k++ {
			hist = append(hist, o.values[sameBucketWeeksAgo(t, k).UnixMicro()])
		}
		med := median(hist)
		dev := make([]float64, len(hist))
		for j, h := range hist {
			dev[j] = math.Abs(h - med)
		}
		spread := 1.4826 * median(dev)
		band := deviationK * max(spread, minSpreadShare*med)
		v := o.values[t.UnixMicro()]
		s := baselineStat{at: t, value: v, median: med, spread: spread, lower: max(med-band, 0), upper: med + band}
		s.flagged = band > 0 && math.Abs(v-med) > band || band == 0 && v != med
		s.above = v > med
		out[i] = s
	}
	return out
}

// median of v (sorted in place).
func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// buildBaseline is the baseline report: each link's and application's
// traffic per hour against the same hour of the same weekday over the
// previous BaselineWeeks weeks (median and spread), deviations flagged.
func (b *builder) buildBaseline() error {
	dim, step := baselineStep(b.cur)
	weeks := b.def.BaselineWeeks
	y, m, d := b.cur.From.Date()
	hist := Period{Kind: Custom, Label: "baseline history",
		From: time.Date(y, m, d-7*weeks, 0, 0, 0, 0, b.loc), To: b.cur.To, Zone: b.cur.Zone}
	times := axis(b.cur, step)
	intro := fmt.Sprintf("Each %s interval is compared with the same interval of the same weekday in the %d weeks before (%s on): "+
		"the baseline is their median, the spread 1.4826 × their median absolute deviation; a value further than %d spreads "+
		"(at least %g %% of the median) from the median is flagged.", stepName(step), weeks, hist.From.Format(time.DateOnly), deviationK, minSpreadShare*100)

	if b.wants("links") {
		links, discovered, err := b.reportLinks()
		if err != nil {
			return err
		}
		lts, err := b.linkData(hist, links, dim, discovered)
		if err != nil {
			return err
		}
		var objs []baselineObject
		for _, i := range busiest(lts) {
			for d, dt := range []*dirTraffic{&lts[i].in, &lts[i].out} {
				o := baselineObject{name: lts[i].link.Name + " " + [2]string{"in", "out"}[d], values: map[int64]float64{}}
				for at, p := range dt.series {
					o.values[at] = p.bytes
				}
				objs = append(objs, o)
			}
		}
		b.add("links", b.baselineSection("Links against their baseline", "Link", intro, objs, times, weeks, 2*b.def.N))
	}
	if b.wants("applications") {
		top, err := b.r.run(b.ctx, query.Query{Dataset: schema.Flows, GroupBy: []string{"app"}, Metrics: []string{"sum(bytes)"}, Limit: b.def.N}, b.cur)
		if err != nil {
			return err
		}
		var objs []baselineObject
		var vals []string
		idx := map[string]int{}
		for i := range top.rows {
			idx[top.text(i, 0)] = len(objs)
			objs = append(objs, baselineObject{name: top.text(i, 0), values: map[int64]float64{}})
			vals = append(vals, quote(top.text(i, 0)))
		}
		if len(objs) > 0 {
			a, err := b.r.run(b.ctx, query.Query{Dataset: schema.Flows, Filter: "app in [" + strings.Join(vals, " ") + "]",
				GroupBy: []string{"app", dim}, Metrics: []string{"sum(bytes)"}}, hist)
			if err != nil {
				return err
			}
			for i := range a.rows {
				if j, ok := idx[a.text(i, 0)]; ok {
					objs[j].values[a.time(i, 1).UnixMicro()] = a.num(i, 2)
				}
			}
		}
		b.add("applications", b.baselineSection(fmt.Sprintf("The %d busiest applications against their baseline", len(objs)),
			"Application", intro, objs, times, weeks, b.def.N))
	}
	return nil
}

// baselineSection is the table of every object's deviations, a chart per
// object (at most charts), and the table of flagged buckets.
func (b *builder) baselineSection(title, objName, intro string, objs []baselineObject, times []time.Time, weeks, charts int) Section {
	s := Section{Title: title, Text: []string{intro}}
	if len(objs) == 0 {
		s.Text = append(s.Text, noData("flows", b.cur))
		return s
	}
	sum := Table{Title: "Deviations per " + strings.ToLower(objName), Columns: []Column{{Name: objName, Kind: ColText},
		{Name: "Bytes", Kind: ColInt, Unit: UnitBytes}, {Name: "Baseline bytes", Kind: ColFloat, Unit: UnitBytes},
		{Name: "Intervals above", Kind: ColInt, Unit: UnitCount}, {Name: "Intervals below", Kind: ColInt, Unit: UnitCount},
		{Name: "Largest deviation", Kind: ColFloat, Unit: UnitPercent}, {Name: "At", Kind: ColTime}}}
	flagged := Table{Title: "Flagged intervals", Columns: []Column{{Name: objName, Kind: ColText}, {Name: "Time", Kind: ColTime},
		{Name: "Bytes", Kind: ColInt, Unit: UnitBytes}, {Name: "Baseline median", Kind: ColFloat, Unit: UnitBytes},
		{Name: "Spread", Kind: ColFloat, Unit: UnitBytes}, {Name: "Deviation", Kind: ColFloat, Unit: UnitPercent}}}
	for n, o := range objs {
		stats := compare(o, times, weeks)
		var total, base float64
		var above, below int
		worst, worstAt := math.NaN(), time.Time{}
		for _, st := range stats {
			total += st.value
			base += st.median
			if !st.flagged {
				continue
			}
			dev := change(st.value, st.median)
			if st.above {
				above++
			} else {
				below++
			}
			if math.IsNaN(worst) || math.Abs(dev) > math.Abs(worst) || math.IsNaN(dev) {
				worst, worstAt = dev, st.at
			}
			flagged.Rows = append(flagged.Rows, []Cell{{Text: o.name}, {Time: st.at}, {Num: st.value}, {Num: st.median}, {Num: st.spread}, numCell(dev)})
		}
		at := Cell{Null: true}
		if !worstAt.IsZero() {
			at = Cell{Time: worstAt}
		}
		sum.Rows = append(sum.Rows, []Cell{{Text: o.name}, {Num: total}, {Num: base}, {Num: float64(above)}, {Num: float64(below)}, numCell(worst), at})
		if n < charts {
			c := Chart{Title: o.name + " against its baseline", Kind: ChartLine, Times: times, Unit: UnitBytes,
				Series: []Series{{Name: "Bytes"}, {Name: "Baseline median"}}}
			for _, st := range stats {
				c.Series[0].Values = append(c.Series[0].Values, st.value)
				c.Series[1].Values = append(c.Series[1].Values, st.median)
				c.Series[1].Lower = append(c.Series[1].Lower, st.lower)
				c.Series[1].Upper = append(c.Series[1].Upper, st.upper)
			}
			s.Charts = append(s.Charts, c)
		}
	}
	if len(objs) > charts {
		s.Text = append(s.Text, fmt.Sprintf("Charts of the first %d of %d series; the tables list all.", charts, len(objs)))
	}
	sum.Note = "Deviation is the flagged interval's bytes against the baseline median; empty when nothing was flagged or the median is 0."
	s.Tables = []Table{sum, flagged}
	return s
}
