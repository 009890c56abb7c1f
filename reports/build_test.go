package reports

import (
	"context"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/query"
	"github.com/flowlake/flowlake/storage/schema"
)

// The tests below check every number a report prints against an
// independent eng.Run of the same question over the same period (and the
// previous one). Flows questions add "bytes >= 0" to their filter, which
// always holds but keeps the engine off the rollups: the report's numbers,
// answered from rollups, are checked against the raw rows.

// rawFilter narrows a flows filter so the engine reads raw segments.
func rawFilter(f string) string {
	if f == "" {
		return "bytes >= 0"
	}
	return "(" + f + ") and bytes >= 0"
}

// engAnswer runs q over p.
func engAnswer(t *testing.T, q query.Query, p Period) *answer {
	t.Helper()
	r := &runner{eng: testEngine(t), zone: p.Zone, seen: map[string]bool{}}
	a, err := r.run(context.Background(), q, p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// engNum is the first metric of a query without dimensions.
func engNum(t *testing.T, dataset, filter, metric string, p Period) float64 {
	t.Helper()
	if dataset == schema.Flows {
		filter = rawFilter(filter)
	}
	a := engAnswer(t, query.Query{Dataset: dataset, Filter: filter, Metrics: []string{metric}}, p)
	return a.num(0, 0)
}

// engPeak is the highest per-bucket bps() of a flows filter.
func engPeak(t *testing.T, filter, dim string, p Period) float64 {
	t.Helper()
	a := engAnswer(t, query.Query{Dataset: schema.Flows, Filter: rawFilter(filter), GroupBy: []string{dim}, Metrics: []string{"bps()"}}, p)
	peak := 0.0
	for i := range a.rows {
		peak = max(peak, a.num(i, 1))
	}
	return peak
}

func near(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

func checkNum(t *testing.T, what string, got, want float64) {
	t.Helper()
	if !near(got, want) {
		t.Errorf("%s: report says %v, engine %v", what, got, want)
	}
}

func build(t *testing.T, def Definition, p Period) *Document {
	t.Helper()
	doc, err := Build(context.Background(), testEngine(t), def, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Warnings) > 0 {
		t.Errorf("warnings on a healthy lake: %v", doc.Warnings)
	}
	return doc
}

func findSection(t *testing.T, doc *Document, title string) *Section {
	t.Helper()
	for i := range doc.Sections {
		if doc.Sections[i].Title == title {
			return &doc.Sections[i]
		}
	}
	t.Fatalf("no section %q", title)
	return nil
}

func findTable(t *testing.T, doc *Document, title string) *Table {
	t.Helper()
	for i := range doc.Sections {
		for j := range doc.Sections[i].Tables {
			if doc.Sections[i].Tables[j].Title == title {
				return &doc.Sections[i].Tables[j]
			}
		}
	}
	t.Fatalf("no table %q", title)
	return nil
}

func findFigure(t *testing.T, s *Section, label string) Figure {
	t.Helper()
	for _, f := range s.Figures {
		if f.Label == label {
			if !f.HasPrevious {
				t.Errorf("figure %q has no previous value", label)
			}
			return f
		}
	}
	t.Fatalf("section %q has no figure %q", s.Title, label)
	return Figure{}
}

func col(t *testing.T, tb *Table, name string) int {
	t.Helper()
	for i, c := range tb.Columns {
		if c.Name == name {
			return i
		}
	}
	t.Fatalf("table %q has no column %q", tb.Title, name)
	return -1
}

// testLinks are four links over the busiest interfaces of the period: one
// interface, a group of two, an interface name on any device, and an
// interface named both with and without its device (counted once).
func testLinks(t *testing.T) []Link {
	t.Helper()
	a := engAnswer(t, query.Query{Dataset: schema.Flows, GroupBy: []string{"device", "in_if_name"},
		Metrics: []string{"sum(bytes)"}, Filter: `not in_if_name ""`, Limit: 3}, testPeriod(t))
	if a.rows < 3 {
		t.Fatalf("test lake has %d named interfaces", a.rows)
	}
	ifc := func(i int) Interface { return Interface{Device: a.text(i, 0), Name: a.text(i, 1)} }
	return []Link{
		{Name: "A", Interfaces: []Interface{ifc(0)}, CapacityBPS: 2e6},
		{Name: "B", Interfaces: []Interface{ifc(1), ifc(2)}, CapacityBPS: 1e9},
		{Name: "C", Interfaces: []Interface{{Name: ifc(0).Name}}},
		{Name: "D", Interfaces: []Interface{ifc(1), {Name: ifc(1).Name}}, CapacityBPS: 1e8},
	}
}

func TestBuildLinkNumbers(t *testing.T) {
	p := testPeriod(t)
	links := testLinks(t)
	doc := build(t, Definition{Type: TypeLink, Links: links}, p)
	sum := findTable(t, doc, "Links, busiest first")
	rows := map[string][]Cell{}
	for _, r := range sum.Rows {
		rows[r[0].Text] = r
	}
	for _, l := range links {
		row, ok := rows[l.Name]
		if !ok {
			t.Fatalf("link %s missing from the summary", l.Name)
		}
		in, out := LinkFilter(l, true), LinkFilter(l, false)
		for _, c := range []struct {
			column, filter, metric string
			p                      Period
		}{
			{"In bytes", in, "sum(bytes)", p}, {"Out bytes", out, "sum(bytes)", p},
			{"In packets", in, "sum(packets)", p}, {"Out packets", out, "sum(packets)", p},
			{"Avg in", in, "bps()", p}, {"Avg out", out, "bps()", p},
			{"Previous in bytes", in, "sum(bytes)", p.Previous()}, {"Previous out bytes", out, "sum(bytes)", p.Previous()},
		} {
			checkNum(t, l.Name+" "+c.column, row[col(t, sum, c.column)].Num, engNum(t, schema.Flows, c.filter, c.metric, c.p))
		}
		peakIn, peakOut := engPeak(t, in, "time/5m", p), engPeak(t, out, "time/5m", p)
		checkNum(t, l.Name+" peak in", row[col(t, sum, "Peak in")].Num, peakIn)
		checkNum(t, l.Name+" peak out", row[col(t, sum, "Peak out")].Num, peakOut)
		u := row[col(t, sum, "Peak utilisation")]
		if l.CapacityBPS == 0 {
			if !u.Null {
				t.Errorf("%s: utilisation %v without a capacity", l.Name, u.Num)
			}
		} else {
			checkNum(t, l.Name+" peak utilisation", u.Num, max(peakIn, peakOut)/l.CapacityBPS*100)
		}

		s := findSection(t, doc, "Link "+l.Name)
		f := findFigure(t, s, "In bytes")
		checkNum(t, l.Name+" figure in bytes", f.Value, engNum(t, schema.Flows, in, "sum(bytes)", p))
		checkNum(t, l.Name+" figure previous in bytes", f.Previous, engNum(t, schema.Flows, in, "sum(bytes)", p.Previous()))
		f = findFigure(t, s, "Peak out rate")
		checkNum(t, l.Name+" figure previous peak out", f.Previous, engPeak(t, out, "time/5m", p.Previous()))

		// The detail table: one row per 5 minutes, each the engine's bucket.
		dt := findTable(t, doc, l.Name+" per interval")
		if len(dt.Rows) != 24 {
			t.Errorf("%s: %d intervals in 2 h, want 24", l.Name, len(dt.Rows))
		}
		eb := engAnswer(t, query.Query{Dataset: schema.Flows, Filter: rawFilter(in), GroupBy: []string{"time/5m"}, Metrics: []string{"sum(bytes)"}}, p)
		want := map[time.Time]float64{}
		for i := range eb.rows {
			want[eb.time(i, 0)] = eb.num(i, 1)
		}
		for _, r := range dt.Rows {
			checkNum(t, l.Name+" in bytes at "+r[0].Time.String(), r[col(t, dt, "In bytes")].Num, want[r[0].Time.UTC()])
		}
	}
}

// checkRanking checks each row of a ranking table against the engine: the
// first metric (column metricCol) with the rows' dimension values as filter,
// in this period and the previous one, and the others row against the total.
func checkRanking(t *testing.T, tb *Table, dataset, filter string, dims []string, metric, metricCol string, p Period) {
	t.Helper()
	if len(tb.Rows) == 0 {
		t.Fatalf("table %q is empty", tb.Title)
	}
	mc, pc := col(t, tb, metricCol), col(t, tb, "Previous "+strings.ToLower(metricCol))
	sum := 0.0
	for _, r := range tb.Rows {
		if r[0].Text == "(others)" {
			total := engNum(t, dataset, filter, metric, p)
			checkNum(t, tb.Title+" (others)", r[mc].Num, total-sum)
			continue
		}
		var and []string
		for d, dim := range dims {
			and = append(and, dim+" = "+quote(r[d].Text))
		}
		f := strings.Join(and, " and ")
		if filter != "" {
			f = "(" + filter + ") and " + f
		}
		checkNum(t, tb.Title+" "+f, r[mc].Num, engNum(t, dataset, f, metric, p))
		checkNum(t, tb.Title+" previous "+f, r[pc].Num, engNum(t, dataset, f, metric, p.Previous()))
		sum += r[mc].Num
	}
}

func TestBuildRankingNumbers(t *testing.T) {
	p := testPeriod(t)
	t.Run("network", func(t *testing.T) {
		doc := build(t, Definition{Type: TypeNetwork, N: 5}, p)
		checkRanking(t, findTable(t, doc, "Top source hosts"), schema.Flows, "", []string{"src_addr"}, "sum(bytes)", "Bytes", p)
		checkRanking(t, findTable(t, doc, "Top destination hosts"), schema.Flows, "", []string{"dst_addr"}, "sum(bytes)", "Bytes", p)
		checkRanking(t, findTable(t, doc, "Top IP group pairs"), schema.Flows, "", []string{"src_group", "dst_group"}, "sum(bytes)", "Bytes", p)
		checkRanking(t, findTable(t, doc, "Top conversations"), schema.Flows, "", []string{"src_addr", "dst_addr"}, "sum(bytes)", "Bytes", p)
		checkRanking(t, findTable(t, doc, "Protocols"), schema.Flows, "", []string{"proto"}, "sum(bytes)", "Bytes", p)
		if n := len(findTable(t, doc, "Top source hosts").Rows); n != 6 {
			t.Errorf("N=5 source ranking has %d rows, want 5 and (others)", n)
		}
		f := findFigure(t, findSection(t, doc, "Top source hosts"), "Bytes")
		checkNum(t, "total bytes", f.Value, engNum(t, schema.Flows, "", "sum(bytes)", p))
		checkNum(t, "previous total bytes", f.Previous, engNum(t, schema.Flows, "", "sum(bytes)", p.Previous()))
	})
	t.Run("topn", func(t *testing.T) {
		doc := build(t, Definition{Type: TypeTopN, N: 4, TopN: TopNSpec{Dataset: schema.TCPConns, Dimension: "reason", Metric: "count()"}}, p)
		checkRanking(t, findTable(t, doc, "Top 4 reason by count()"), schema.TCPConns, "", []string{"reason"}, "count()", "count()", p)
	})
	t.Run("apps", func(t *testing.T) {
		doc := build(t, Definition{Type: TypeApps}, p)
		checkRanking(t, findTable(t, doc, "Applications by bytes"), schema.Flows, "", []string{"app"}, "sum(bytes)", "Bytes", p)
		checkRanking(t, findTable(t, doc, "Applications entering each interface"), schema.Flows, `not in_if_name ""`, []string{"device", "in_if_name", "app"}, "sum(bytes)", "Bytes", p)
		it := findTable(t, doc, "Applications leaving each interface")
		checkRanking(t, it, schema.Flows, `not out_if_name ""`, []string{"device", "out_if_name", "app"}, "sum(bytes)", "Bytes", p)
		for _, r := range it.Rows[:len(it.Rows)-1] {
			iface := "device = " + quote(r[0].Text) + " and out_if_name = " + quote(r[1].Text)
			want := engNum(t, schema.Flows, iface+" and app = "+quote(r[2].Text), "sum(bytes)", p) / engNum(t, schema.Flows, iface, "sum(bytes)", p) * 100
			checkNum(t, "share of "+iface+" "+r[2].Text, r[col(t, it, "Share of interface")].Num, want)
		}
		f := findFigure(t, findSection(t, doc, "Applications"), "Unknown application bytes")
		checkNum(t, "unknown bytes", f.Value, engNum(t, schema.Flows, unknownApps, "sum(bytes)", p))
		checkNum(t, "previous unknown bytes", f.Previous, engNum(t, schema.Flows, unknownApps, "sum(bytes)", p.Previous()))
		if f.Value == 0 {
			t.Error("the test lake has no unknown applications")
		}
		checkRanking(t, findTable(t, doc, "Unknown applications by protocol and port"), schema.Flows, unknownApps, []string{"proto", "dst_port"}, "sum(bytes)", "Bytes", p)
	})
	t.Run("custom", func(t *testing.T) {
		q := query.Query{Dataset: schema.Flows, GroupBy: []string{"proto"}, Metrics: []string{"sum(bytes)", "count()"}}
		doc := build(t, Definition{Type: TypeCustom, Title: "Bytes per protocol", Query: &CustomQuery{Query: q, Chart: ChartPie}}, p)
		tb := findTable(t, doc, "Answer")
		for _, r := range tb.Rows {
			f := "proto = " + formatNum(r[0].Num)
			checkNum(t, "custom "+f, r[1].Num, engNum(t, schema.Flows, f, "sum(bytes)", p))
			checkNum(t, "custom count "+f, r[2].Num, engNum(t, schema.Flows, f, "count()", p))
			checkNum(t, "custom previous "+f, r[col(t, tb, "previous sum(bytes)")].Num, engNum(t, schema.Flows, f, "sum(bytes)", p.Previous()))
		}
		if c := findSection(t, doc, "Bytes per protocol").Charts; len(c) != 1 || c[0].Kind != ChartPie || len(c[0].Categories) != len(tb.Rows) {
			t.Errorf("custom chart: %+v", c)
		}
	})
}

func formatNum(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// TestBuildDiscoveredLinks checks the link report of a definition without
// links: every named interface is a link, with the engine's numbers.
func TestBuildDiscoveredLinks(t *testing.T) {
	p := testPeriod(t)
	doc := build(t, Definition{Type: TypeLink}, p)
	sum := findTable(t, doc, "Links, busiest first")
	all := engAnswer(t, query.Query{Dataset: schema.Flows, GroupBy: []string{"device", "in_if_name"}, Metrics: []string{"count()"},
		Filter: `not in_if_name ""`}, p)
	if len(sum.Rows) < all.rows {
		t.Errorf("%d links for %d named input interfaces", len(sum.Rows), all.rows)
	}
	for _, r := range append(sum.Rows[:5:5], sum.Rows[len(sum.Rows)-3:]...) {
		dev, name, _ := strings.Cut(r[0].Text, " ")
		l := Link{Name: r[0].Text, Interfaces: []Interface{{Device: dev, Name: name}}}
		checkNum(t, l.Name+" in bytes", r[col(t, sum, "In bytes")].Num, engNum(t, schema.Flows, LinkFilter(l, true), "sum(bytes)", p))
		checkNum(t, l.Name+" out bytes", r[col(t, sum, "Out bytes")].Num, engNum(t, schema.Flows, LinkFilter(l, false), "sum(bytes)", p))
		checkNum(t, l.Name+" peak out", r[col(t, sum, "Peak out")].Num, engPeak(t, LinkFilter(l, false), "time/5m", p))
		checkNum(t, l.Name+" previous out bytes", r[col(t, sum, "Previous out bytes")].Num, engNum(t, schema.Flows, LinkFilter(l, false), "sum(bytes)", p.Previous()))
		if !r[col(t, sum, "Capacity")].Null {
			t.Errorf("%s: a discovered link has a capacity", l.Name)
		}
	}
}
