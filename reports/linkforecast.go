package reports

import (
	"fmt"
	"math"
	"time"

	"github.com/flowlake/flowlake/reports/forecast"
)

// forecastPlan is how a period's links are forecast: the step of the series,
// the seasonal periods in steps, the history before the period's end and the
// horizon after it.
type forecastPlan struct {
	dim     string
	step    time.Duration
	periods []int
	history Period
	horizon int
}

// planForecast forecasts hourly (daily and weekly seasons, at least eight
// weeks of history) up to a quarter, daily (weekly season, at least two
// years of history) beyond; the horizon is the period's length, at least a
// week.
func planForecast(p Period) forecastPlan {
	loc := p.From.Location()
	fp := forecastPlan{dim: "time/1h", step: time.Hour, periods: []int{24, 168}}
	weeks := 8
	if p.Duration() > 95*24*time.Hour {
		fp = forecastPlan{dim: "time/1d", step: 24 * time.Hour, periods: []int{7}}
		weeks = 104
	}
	y, m, d := p.To.Date()
	from := time.Date(y, m, d-7*weeks, 0, 0, 0, 0, loc)
	if p.From.Before(from) {
		from = p.From
	}
	fp.history = Period{Kind: Custom, Label: "history", From: from, To: p.To, Zone: p.Zone}
	span := max(p.Duration(), 7*24*time.Hour)
	fp.horizon = int(span / fp.step)
	return fp
}

// buildForecast is the link forecast report: each link's history and its
// forecast with 80 % prediction intervals, and when the forecast (and its
// bounds) cross the utilisation threshold.
func (b *builder) buildForecast() error {
	links, discovered, err := b.reportLinks()
	if err != nil {
		return err
	}
	if len(links) == 0 {
		b.add("summary", Section{Title: "Forecast", Text: []string{noData("flows with named interfaces", b.cur)}})
		return nil
	}
	dim, _ := bucket(b.cur)
	cur, err := b.linkData(b.cur, links, dim, discovered)
	if err != nil {
		return err
	}
	prev, err := b.linkData(b.prev, links, dim, discovered)
	if err != nil {
		return err
	}
	fp := planForecast(b.cur)
	hist, err := b.linkData(fp.history, links, fp.dim, discovered)
	if err != nil {
		return err
	}
	times := axis(fp.history, fp.step)
	order := busiest(cur)
	sum := Section{Title: "Forecast summary"}
	sum.Text = append(sum.Text, fmt.Sprintf("History from %s, one point per %s interval; forecast %d steps ahead with 80 %% and 95 %% prediction intervals. "+
		"A crossing is the first forecast step at or above %g %% of the link's capacity; the upper 95 %% bound crosses first (the earliest likely date), the lower 80 %% bound last.",
		fp.history.From.Format(time.DateOnly), stepName(fp.step), fp.horizon, b.def.Threshold*100))
	if discovered {
		sum.Text = append(sum.Text, "No links are configured: interfaces have no capacity, so no crossing is predicted.")
	}
	t := Table{Title: "Forecast per link and direction", Columns: []Column{
		{Name: "Link", Kind: ColText}, {Name: "Direction", Kind: ColText}, {Name: "Capacity", Kind: ColFloat, Unit: UnitBPS},
		{Name: "Average rate", Kind: ColFloat, Unit: UnitBPS}, {Name: "Previous average rate", Kind: ColFloat, Unit: UnitBPS},
		{Name: "Model", Kind: ColText}, {Name: "Forecast average rate", Kind: ColFloat, Unit: UnitBPS},
		{Name: "Crossing", Kind: ColTime}, {Name: "Earliest crossing (upper 95 %)", Kind: ColTime}, {Name: "Latest crossing (lower 80 %)", Kind: ColTime},
	}}
	shown := order[:min(len(order), b.def.N)]
	var charts []Chart
	for rank, i := range order {
		lt := hist[i]
		var fc [2]*forecast.Result
		for d, dt := range []*dirTraffic{&lt.in, &lt.out} {
			vals := make([]float64, len(times))
			for j, at := range times {
				vals[j] = dt.series[at.UnixMicro()].bps
			}
			row := []Cell{{Text: lt.link.Name}, {Text: [2]string{"in", "out"}[d]}, numCell(nanIfZero(lt.link.CapacityBPS)),
				{Num: [2]float64{cur[i].in.avgBPS, cur[i].out.avgBPS}[d]}, {Num: [2]float64{prev[i].in.avgBPS, prev[i].out.avgBPS}[d]}}
			if dt.bytes == 0 {
				t.Rows = append(t.Rows, append(row, Cell{Text: "no data"}, Cell{Null: true}, Cell{Null: true}, Cell{Null: true}, Cell{Null: true}))
				continue
			}
			res, err := forecast.Forecast(forecast.Series{Start: times[0], Step: fp.step, Values: vals},
				forecast.Config{Horizon: fp.horizon, Periods: fp.periods, NonNegative: true})
			if err != nil {
				return fmt.Errorf("forecast link %s %s: %w", lt.link.Name, row[1].Text, err)
			}
			fc[d] = res
			avg := 0.0
			for _, v := range res.Mean {
				avg += v
			}
			row = append(row, Cell{Text: res.Model}, Cell{Num: avg / float64(len(res.Mean))})
			if capBPS := lt.link.CapacityBPS; capBPS > 0 {
				cr, err := res.Crossing(capBPS * b.def.Threshold)
				if err != nil {
					return err
				}
				row = append(row, crossCell(cr.Mean), crossCell(cr.Upper95), crossCell(cr.Lower80))
			} else {
				row = append(row, Cell{Null: true}, Cell{Null: true}, Cell{Null: true})
			}
			t.Rows = append(t.Rows, row)
		}
		if rank < len(shown) && (fc[0] != nil || fc[1] != nil) {
			charts = append(charts, b.forecastChart(lt, times, fc))
		}
	}
	t.Note = "Crossing cells are empty when the curve stays below the threshold over the horizon or the capacity is unknown."
	sum.Tables = []Table{t}
	b.add("summary", sum)
	fs := Section{Title: "Forecast charts", Charts: charts}
	if len(order) > len(shown) {
		fs.Text = []string{fmt.Sprintf("Charts of the %d busiest of %d links; the table lists all.", len(shown), len(order))}
	}
	if len(charts) == 0 {
		fs.Text = append(fs.Text, noData("traffic on these links", fp.history))
	}
	b.add("forecast", fs)
	return nil
}

// nanIfZero maps an unknown (zero) capacity to NaN, a null cell.
func nanIfZero(v float64) float64 {
	if v == 0 {
		return math.NaN()
	}
	return v
}

// crossCell is a crossing time, null when not within the horizon.
func crossCell(c forecast.Cross) Cell {
	if !c.Found {
		return Cell{Null: true}
	}
	return Cell{Time: c.Time}
}

// forecastChart draws a link's history within the report's period and the
// forecast after it, with the 80 % interval as a band.
func (b *builder) forecastChart(lt *linkTraffic, hist []time.Time, fc [2]*forecast.Result) Chart {
	var times []time.Time
	first := 0
	for j, t := range hist {
		if !t.Before(b.cur.From) {
			first = j
			break
		}
	}
	times = append(times, hist[first:]...)
	nh := len(times)
	var horizon int
	for _, r := range fc {
		if r != nil {
			horizon = len(r.Mean)
			for j := range horizon {
				times = append(times, r.Series.TimeAt(j))
			}
			break
		}
	}
	nan := func(n int) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = math.NaN()
		}
		return v
	}
	c := Chart{Title: lt.link.Name + ": history and forecast", Kind: ChartLine, Times: times, Unit: UnitBPS}
	for d, dt := range []*dirTraffic{&lt.in, &lt.out} {
		name := [2]string{"In", "Out"}[d]
		h := nan(len(times))
		for j := range nh {
			h[j] = dt.series[times[j].UnixMicro()].bps
		}
		c.Series = append(c.Series, Series{Name: name, Values: h})
		if r := fc[d]; r != nil {
			m, lo, hi := nan(len(times)), nan(len(times)), nan(len(times))
			for j := range horizon {
				m[nh+j], lo[nh+j], hi[nh+j] = r.Mean[j], r.Lower80[j], r.Upper80[j]
			}
			c.Series = append(c.Series, Series{Name: name + " forecast (" + r.Model + ")", Values: m, Lower: lo, Upper: hi, Forecast: true})
		}
	}
	if capBPS := lt.link.CapacityBPS; capBPS > 0 {
		c.Thresholds = []Threshold{{Label: fmt.Sprintf("%g %% of capacity", b.def.Threshold*100), Value: capBPS * b.def.Threshold}}
	}
	return c
}
