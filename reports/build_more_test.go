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

func TestBuildForecastNumbers(t *testing.T) {
	p := testPeriod(t)
	links := testLinks(t)
	doc := build(t, Definition{Type: TypeForecast, Links: links[:2], Threshold: 0.5}, p)
	tb := findTable(t, doc, "Forecast per link and direction")
	if len(tb.Rows) != 4 {
		t.Fatalf("%d rows, want 2 links × 2 directions", len(tb.Rows))
	}
	for _, r := range tb.Rows {
		var l Link
		for _, x := range links {
			if x.Name == r[0].Text {
				l = x
			}
		}
		f := LinkFilter(l, r[1].Text == "in")
		checkNum(t, l.Name+" "+r[1].Text+" average", r[col(t, tb, "Average rate")].Num, engNum(t, schema.Flows, f, "bps()", p))
		checkNum(t, l.Name+" "+r[1].Text+" previous average", r[col(t, tb, "Previous average rate")].Num, engNum(t, schema.Flows, f, "bps()", p.Previous()))
		if m := r[col(t, tb, "Model")].Text; m == "" || m == "no data" {
			t.Errorf("%s %s: model %q", l.Name, r[1].Text, m)
		}
	}
	// A capacity so small that the threshold is crossed: the crossing
	// dates lie in the forecast, the upper bound's no later than the
	// mean's, the lower bound's no earlier.
	tiny := []Link{{Name: "tiny", Interfaces: links[0].Interfaces, CapacityBPS: 1000}}
	cd := build(t, Definition{Type: TypeForecast, Links: tiny}, p)
	ct := findTable(t, cd, "Forecast per link and direction")
	mean, upper, lower := col(t, ct, "Crossing"), col(t, ct, "Earliest crossing (upper 95 %)"), col(t, ct, "Latest crossing (lower 80 %)")
	for _, r := range ct.Rows {
		if r[upper].Null {
			t.Errorf("%s: the upper bound never reaches 800 bit/s", r[1].Text)
			continue
		}
		if r[upper].Time.Before(p.To) {
			t.Errorf("%s: crossing %v before the forecast starts", r[1].Text, r[upper].Time)
		}
		if !r[mean].Null && r[mean].Time.Before(r[upper].Time) {
			t.Errorf("%s: mean crosses %v before the upper bound %v", r[1].Text, r[mean].Time, r[upper].Time)
		}
		if !r[lower].Null && (r[mean].Null || r[lower].Time.Before(r[mean].Time)) {
			t.Errorf("%s: lower bound crosses %v before the mean %v", r[1].Text, r[lower].Time, r[mean].Time)
		}
	}

	charts := findSection(t, doc, "Forecast charts").Charts
	if len(charts) != 2 {
		t.Fatalf("%d forecast charts, want 2", len(charts))
	}
	for _, c := range charts {
		var fc *Series
		for i := range c.Series {
			if c.Series[i].Forecast {
				fc = &c.Series[i]
			}
		}
		if fc == nil || len(fc.Lower) != len(c.Times) || len(fc.Upper) != len(c.Times) || len(fc.Values) != len(c.Times) {
			t.Fatalf("chart %q: no forecast series with a band over the time axis", c.Title)
		}
		if !c.Times[len(c.Times)-1].After(p.To) {
			t.Errorf("chart %q ends %v, before the forecast", c.Title, c.Times[len(c.Times)-1])
		}
	}
}

func TestBuildBaselineNumbers(t *testing.T) {
	p := testPeriod(t)
	links := testLinks(t)
	week := Period{Kind: Custom, Label: "week before", From: p.From.AddDate(0, 0, -7), To: p.To.AddDate(0, 0, -7), Zone: p.Zone}
	doc := build(t, Definition{Type: TypeBaseline, Links: links[:2], BaselineWeeks: 1, N: 3}, p)
	tb := findTable(t, doc, "Deviations per link")
	if len(tb.Rows) != 4 {
		t.Fatalf("%d rows, want 2 links × 2 directions", len(tb.Rows))
	}
	for _, r := range tb.Rows {
		name, dir, _ := strings.Cut(r[0].Text, " ")
		var l Link
		for _, x := range links {
			if x.Name == name {
				l = x
			}
		}
		f := LinkFilter(l, dir == "in")
		checkNum(t, r[0].Text+" bytes", r[col(t, tb, "Bytes")].Num, engNum(t, schema.Flows, f, "sum(bytes)", p))
		// One week of baseline: the median of one value is that week's.
		checkNum(t, r[0].Text+" baseline bytes", r[col(t, tb, "Baseline bytes")].Num, engNum(t, schema.Flows, f, "sum(bytes)", week))
	}
	apps := findTable(t, doc, "Deviations per application")
	if len(apps.Rows) != 3 {
		t.Fatalf("%d application rows, want N=3", len(apps.Rows))
	}
	for _, r := range apps.Rows {
		f := "app = " + quote(r[0].Text)
		checkNum(t, r[0].Text+" bytes", r[col(t, apps, "Bytes")].Num, engNum(t, schema.Flows, f, "sum(bytes)", p))
		checkNum(t, r[0].Text+" baseline bytes", r[col(t, apps, "Baseline bytes")].Num, engNum(t, schema.Flows, f, "sum(bytes)", week))
	}
}

func TestBaselineCompare(t *testing.T) {
	loc, _ := time.LoadLocation("Europe/Berlin")
	// Monday after the fall-back: the same local hour one and two weeks
	// earlier lies across the DST change.
	at := time.Date(2026, 10, 26, 9, 0, 0, 0, loc)
	o := baselineObject{name: "x", values: map[int64]float64{}}
	for k, v := range []float64{1000, 1100, 900, 1000} { // weeks 1..4 before
		o.values[sameBucketWeeksAgo(at, k+1).UnixMicro()] = v
	}
	tests := []struct {
		name    string
		value   float64
		flagged bool
	}{
		{"within the spread", 1100, false},
		{"far above", 5000, true},
		{"far below", 10, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o.values[at.UnixMicro()] = tt.value
			st := compare(o, []time.Time{at}, 4)[0]
			if st.median != 1000 {
				t.Errorf("median %v, want 1000 (the same local hour, not the same UTC hour)", st.median)
			}
			if st.flagged != tt.flagged {
				t.Errorf("flagged %v, want %v (band %v–%v)", st.flagged, tt.flagged, st.lower, st.upper)
			}
		})
	}
}

func TestBuildEventNumbers(t *testing.T) {
	p := testPeriod(t)
	t.Run("response", func(t *testing.T) {
		doc := build(t, Definition{Type: TypeResponse, N: 5}, p)
		s := findSection(t, doc, "Servers")
		for _, c := range []struct{ label, filter string }{{"Traced connections", ""}, {"Abnormal closes", abnormalFilter}} {
			f := findFigure(t, s, c.label)
			checkNum(t, c.label, f.Value, engNum(t, schema.TCPConns, c.filter, "count()", p))
			checkNum(t, c.label+" previous", f.Previous, engNum(t, schema.TCPConns, c.filter, "count()", p.Previous()))
			if f.Value == 0 {
				t.Errorf("%s: the test lake has none", c.label)
			}
		}
		f := findFigure(t, s, "Median smoothed RTT (ms)")
		checkNum(t, "median srtt", f.Value, engNum(t, schema.TCPPackets, "", "p50(srtt)", p))
		checkRanking(t, findTable(t, doc, "Connections by server"), schema.TCPConns, "", []string{"foreign_addr", "foreign_port"}, "count()", "Connections", p)
		checkRanking(t, findTable(t, doc, "Abnormal closes by server"), schema.TCPConns, abnormalFilter, []string{"foreign_addr", "foreign_port"}, "count()", "Abnormal closes", p)
		checkRanking(t, findTable(t, doc, "Closes by reason"), schema.TCPConns, "", []string{"reason"}, "count()", "Closes", p)
	})
	t.Run("faults", func(t *testing.T) {
		doc := build(t, Definition{Type: TypeFaults}, p)
		f := findFigure(t, findSection(t, doc, "Abnormal TCP closes"), "Abnormal closes")
		checkNum(t, "abnormal closes", f.Value, engNum(t, schema.TCPConns, abnormalFilter, "count()", p))
		checkRanking(t, findTable(t, doc, "Abnormal closes by reason"), schema.TCPConns, abnormalFilter, []string{"reason"}, "count()", "Closes", p)
		d := findSection(t, doc, "DHCP")
		for _, c := range []struct{ label, filter, metric string }{
			{"NAKs", "msgtype NAK", "count()"}, {"Declines", "msgtype DECLINE", "count()"},
			{"Rogue servers", "rogue_server = true", "count_distinct(src_addr)"},
		} {
			f := findFigure(t, d, c.label)
			checkNum(t, c.label, f.Value, engNum(t, schema.DHCPEvents, c.filter, c.metric, p))
			checkNum(t, c.label+" previous", f.Previous, engNum(t, schema.DHCPEvents, c.filter, c.metric, p.Previous()))
		}
		f = findFigure(t, findSection(t, doc, "Cloud connection downs"), "Downs")
		checkNum(t, "cloud downs", f.Value, engNum(t, schema.CloudConns, downFilter(p), "count_distinct(last_down_at)", p))
		checkNum(t, "previous cloud downs", f.Previous, engNum(t, schema.CloudConns, downFilter(p.Previous()), "count_distinct(last_down_at)", p.Previous()))
		checkFlowLoss(t, doc, p)
	})
	t.Run("summary", func(t *testing.T) {
		doc := build(t, Definition{Type: TypeSummary, Links: testLinks(t)}, p)
		s := findSection(t, doc, "Headline numbers")
		for _, c := range []struct{ label, dataset, filter, metric string }{
			{"Bytes", schema.Flows, "", "sum(bytes)"}, {"Packets", schema.Flows, "", "sum(packets)"},
			{"Flows", schema.Flows, "", "count()"}, {"Average rate", schema.Flows, "", "bps()"},
			{"Abnormal TCP closes", schema.TCPConns, abnormalFilter, "count()"},
			{"DHCP NAKs", schema.DHCPEvents, "msgtype NAK", "count()"},
			{"DHCP declines", schema.DHCPEvents, "msgtype DECLINE", "count()"},
			{"Flow sequence gaps", schema.FlowLosses, lossSeqFilter, "sum(sequence_gaps)"},
			{"Lost flows", schema.FlowLosses, lossSeqFilter, "sum(lost_flows)"},
			{"Lost flow datagrams", schema.FlowLosses, lossSeqFilter, "sum(lost_datagrams)"},
		} {
			f := findFigure(t, s, c.label)
			checkNum(t, c.label, f.Value, engNum(t, c.dataset, c.filter, c.metric, p))
			checkNum(t, c.label+" previous", f.Previous, engNum(t, c.dataset, c.filter, c.metric, p.Previous()))
		}
		f := findFigure(t, s, "Peak 5-minute rate")
		checkNum(t, "peak rate", f.Value, engPeak(t, "", "time/5m", p))
		checkNum(t, "previous peak rate", f.Previous, engPeak(t, "", "time/5m", p.Previous()))
		tb := findTable(t, doc, "Against "+p.Previous().Label)
		if len(tb.Rows) != len(s.Figures) {
			t.Errorf("comparison table has %d rows for %d figures", len(tb.Rows), len(s.Figures))
		}
	})
}

// TestBuildEmptyPeriod builds every type over a period without data: no
// error, and the sections say "No data" instead of inventing numbers.
func TestBuildEmptyPeriod(t *testing.T) {
	p, err := ParsePeriod(Daily, "2030-06-01", "Europe/Berlin", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	links := testLinks(t)
	for _, typ := range Types() {
		t.Run(typ, func(t *testing.T) {
			def := Definition{Type: typ, Zone: "Europe/Berlin", Links: links, BaselineWeeks: 1}
			if typ == TypeCustom {
				def.Query = &CustomQuery{Query: query.Query{Dataset: schema.DHCPEvents, GroupBy: []string{"msg_type"}}}
			}
			doc, err := Build(context.Background(), testEngine(t), def, p)
			if err != nil {
				t.Fatal(err)
			}
			if len(doc.Sections) == 0 {
				t.Fatal("no sections")
			}
			var text []string
			for _, s := range doc.Sections {
				text = append(text, s.Text...)
				for _, f := range s.Figures {
					if f.Value != 0 {
						t.Errorf("section %q: figure %q is %v in an empty period", s.Title, f.Label, f.Value)
					}
				}
			}
			if !strings.Contains(strings.Join(text, "\n"), "No data") {
				t.Errorf("no section says there is no data: %q", text)
			}
		})
	}
}

func TestBuildErrors(t *testing.T) {
	eng := testEngine(t)
	p := testPeriod(t)
	tests := []struct {
		name string
		def  Definition
		p    Period
		want string
	}{
		{"unknown type", Definition{Type: "linkz"}, p, `report type "linkz": unknown; known types: link, forecast`},
		{"unknown zone", Definition{Type: TypeSummary, Zone: "Europe/Nowhere"}, p, `zone: time zone "Europe/Nowhere": not an IANA time zone name`},
		{"period of another zone", Definition{Type: TypeSummary, Zone: "Asia/Shanghai"}, p, `period 2026-01-07T12:00:00Z..2026-01-07T14:00:00Z was cut in UTC, the report is in Asia/Shanghai`},
		{"empty period", Definition{Type: TypeSummary}, Period{}, `period "" is empty`},
		{"query the engine refuses", Definition{Type: TypeTopN, TopN: TopNSpec{Dimension: "src_adr"}}, p, `src_adr`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Build(context.Background(), eng, tt.def, tt.p)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Build(ctx, eng, Definition{Type: TypeSummary}, p); err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("cancelled build: %v", err)
	}
}

func TestAxisDSTDays(t *testing.T) {
	tests := []struct {
		day       string
		step      time.Duration
		intervals int
	}{
		{"2026-03-29", 5 * time.Minute, 23 * 12},
		{"2026-10-25", 5 * time.Minute, 25 * 12},
		{"2026-10-26", 5 * time.Minute, 24 * 12},
	}
	for _, tt := range tests {
		t.Run(tt.day, func(t *testing.T) {
			p, err := ParsePeriod(Daily, tt.day, "Europe/Berlin", time.Now())
			if err != nil {
				t.Fatal(err)
			}
			dim, step := bucket(p)
			if dim != "time/5m" || step != tt.step {
				t.Fatalf("bucket %s %v", dim, step)
			}
			ts := axis(p, step)
			if len(ts) != tt.intervals || !ts[0].Equal(p.From) || !ts[len(ts)-1].Add(step).Equal(p.To) {
				t.Errorf("%d intervals from %v to %v, want %d covering [%v, %v)", len(ts), ts[0], ts[len(ts)-1], tt.intervals, p.From, p.To)
			}
		})
	}
	p, _ := ParsePeriod(Monthly, "2026-10", "Europe/Berlin", time.Now())
	if ts := axis(p, 24*time.Hour); len(ts) != 31 {
		t.Errorf("October in daily buckets: %d days", len(ts))
	}
}

// TestBuildInZone builds a daily report in Europe/Berlin: the local day
// (23:00 UTC to 23:00 UTC in winter), 288 intervals, numbers of that range.
func TestBuildInZone(t *testing.T) {
	p, err := ParsePeriod(Daily, "2026-01-07", "Europe/Berlin", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 1, 6, 23, 0, 0, 0, time.UTC); !p.From.Equal(want) {
		t.Fatalf("local day starts %v, want %v", p.From, want)
	}
	links := testLinks(t)[:1]
	doc := build(t, Definition{Type: TypeLink, Zone: "Europe/Berlin", Links: links, BaseURL: "https://flowlake.example/"}, p)
	if doc.Period.Label != "2026-01-07" || doc.Previous.Label != "2026-01-06" || doc.Period.Zone != "Europe/Berlin" {
		t.Errorf("period %+v previous %+v", doc.Period, doc.Previous)
	}
	dt := findTable(t, doc, "A per interval")
	if len(dt.Rows) != 288 {
		t.Errorf("%d intervals, want 288", len(dt.Rows))
	}
	f := findFigure(t, findSection(t, doc, "Link A"), "In bytes")
	checkNum(t, "in bytes of the local day", f.Value, engNum(t, schema.Flows, LinkFilter(links[0], true), "sum(bytes)", p))
	if f.Value == 0 {
		t.Error("the local day holds the test data, yet no bytes")
	}
	want := "https://flowlake.example/api/v1/series?dataset=flows&from=2026-01-07T00%3A00%3A00%2B01%3A00&to=2026-01-08T00%3A00%3A00%2B01%3A00&tz=Europe%2FBerlin"
	if doc.Link != want {
		t.Errorf("link %s\nwant %s", doc.Link, want)
	}
	if !strings.HasPrefix(dt.Link, "https://flowlake.example/api/v1/series?") || !strings.Contains(dt.Link, "filter=") {
		t.Errorf("detail table link %q", dt.Link)
	}
}

// TestBuildSections checks that a definition's sections pick and order
// what is built, and that N caps the detail.
func TestBuildSections(t *testing.T) {
	p := testPeriod(t)
	doc := build(t, Definition{Type: TypeNetwork, Sections: []string{"protocols", "sources"}, N: 2}, p)
	var titles []string
	for _, s := range doc.Sections {
		titles = append(titles, s.Title)
	}
	if got := strings.Join(titles, ","); got != "Protocols,Top source hosts" {
		t.Errorf("sections %s", got)
	}
	doc = build(t, Definition{Type: TypeLink, N: 2}, p)
	details := 0
	for _, s := range doc.Sections {
		if strings.HasPrefix(s.Title, "Link ") {
			details++
		}
	}
	links := len(findTable(t, doc, "Links, busiest first").Rows)
	if details != 2 || links <= 2 {
		t.Errorf("%d detail sections for %d links, want N=2 and a summary of all", details, links)
	}
	if txt := strings.Join(findSection(t, doc, "Trend").Text, " "); !strings.Contains(txt, "2 of ") {
		t.Errorf("the cap is not stated: %q", txt)
	}
}

// TestBuildRoutes checks that every flows question of the built-in reports
// is answered by a rollup, except the two the rollups cannot answer:
// conversations (source and destination host together) and unknown
// applications by destination port (the rollups keep only ports 1–1023).
func TestBuildRoutes(t *testing.T) {
	p := testPeriod(t)
	links := testLinks(t)[:2]
	for _, typ := range []string{TypeLink, TypeForecast, TypeNetwork, TypeTopN, TypeApps, TypeBaseline, TypeSummary} {
		t.Run(typ, func(t *testing.T) {
			b, err := assemble(context.Background(), testEngine(t), Definition{Type: typ, Links: links, BaselineWeeks: 1}, p)
			if err != nil {
				t.Fatal(err)
			}
			flows := 0
			for _, a := range b.r.asked {
				if a.q.Dataset != schema.Flows {
					continue
				}
				flows++
				by := strings.Join(a.q.GroupBy, ",")
				raw := by == "src_addr,dst_addr" || strings.Contains(by, "dst_port")
				if got := strings.HasPrefix(a.route, "rollup "); got == raw {
					t.Errorf("query by [%s] of %v filtered %q: route %q", by, a.q.Metrics, a.q.Filter, a.route)
				}
			}
			if flows == 0 {
				t.Error("no flows query")
			}
		})
	}
}

// TestBuildYearly builds the yearly summary and link report of 2026 over
// the test lake: daily intervals (365), numbers of the whole year, answered
// by rollups.
func TestBuildYearly(t *testing.T) {
	p, err := ParsePeriod(Yearly, "2026", "UTC", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b, err := assemble(context.Background(), testEngine(t), Definition{Type: TypeSummary}, p)
	if err != nil {
		t.Fatal(err)
	}
	s := findSection(t, b.doc, "Headline numbers")
	f := findFigure(t, s, "Bytes")
	checkNum(t, "yearly bytes", f.Value, engNum(t, schema.Flows, "", "sum(bytes)", p))
	checkNum(t, "bytes of 2025", f.Previous, engNum(t, schema.Flows, "", "sum(bytes)", p.Previous()))
	f = findFigure(t, s, "Peak 1-day rate")
	checkNum(t, "peak day", f.Value, engPeak(t, "", "time/1d", p))
	// Every query of the summary is answered by a rollup: a year of raw
	// event datasets is 26,280 hour partitions per dataset and period.
	// The event rollups are daily: dhcp_events_1d, tcp_conns_1d,
	// cloud_conn_1d, flow_loss_1d.
	dhcp, loss := 0, 0
	for _, a := range b.r.asked {
		switch a.q.Dataset {
		case schema.DHCPEvents:
			dhcp++
		case schema.FlowLosses:
			loss++
		}
		if !strings.HasPrefix(a.route, "rollup ") {
			t.Errorf("yearly %s %v by %v: route %q", a.q.Dataset, a.q.Metrics, a.q.GroupBy, a.route)
		}
	}
	if dhcp != 4 || loss != 2 {
		t.Errorf("the yearly summary asks dhcp_events %d times and flow_loss %d times, want 4 (msg_type counts and rogue servers, 2026 and 2025) and 2", dhcp, loss)
	}
	// (The test lake has no NAK or decline: TestDHCPMsgTypeCounts has.)
	for _, c := range []struct{ label, filter string }{{"DHCP NAKs", "msgtype NAK"}, {"DHCP declines", "msgtype DECLINE"}} {
		f := findFigure(t, s, c.label)
		checkNum(t, "yearly "+c.label, f.Value, engNum(t, schema.DHCPEvents, c.filter, "count()", p))
		checkNum(t, c.label+" of 2025", f.Previous, engNum(t, schema.DHCPEvents, c.filter, "count()", p.Previous()))
	}
	for _, c := range []struct{ label, metric string }{{"Flow sequence gaps", "sum(sequence_gaps)"}, {"Lost flows", "sum(lost_flows)"}, {"Lost flow datagrams", "sum(lost_datagrams)"}} {
		f := findFigure(t, s, c.label)
		checkNum(t, "yearly "+c.label, f.Value, rawNum(t, schema.FlowLosses, lossSeqFilter, c.metric, p))
		checkNum(t, c.label+" of 2025", f.Previous, rawNum(t, schema.FlowLosses, lossSeqFilter, c.metric, p.Previous()))
	}
	checkNum(t, "yearly abnormal closes", findFigure(t, s, "Abnormal TCP closes").Value, rawNum(t, schema.TCPConns, abnormalFilter, "count()", p))
	checkNum(t, "yearly rogue servers", findFigure(t, s, "Rogue DHCP servers").Value, rawNum(t, schema.DHCPEvents, "rogue_server = true", "count_distinct(src_addr)", p))
	checkNum(t, "yearly cloud downs", findFigure(t, s, "Cloud connection downs").Value, rawNum(t, schema.CloudConns, downFilter(p), "count_distinct(last_down_at)", p))
	if rawNum(t, schema.FlowLosses, lossSeqFilter, "sum(flows)", p) == 0 {
		t.Error("the test lake has no flow_loss rows in 2026: the flow loss figures check nothing")
	}
	links := testLinks(t)[:1]
	doc := build(t, Definition{Type: TypeLink, Links: links}, p)
	if n := len(findTable(t, doc, "A per interval").Rows); n != 365 {
		t.Errorf("%d daily intervals in 2026", n)
	}
}

// TestBuildRankingPastBudget builds the network report on an engine whose
// query memory budget no ranking fits: the report is still built, each
// section and the warnings say what was not ranked and why, and no figure
// is printed from a ranking that did not run.
func TestBuildRankingPastBudget(t *testing.T) {
	testEngine(t)
	eng := query.New(fixtureLake, query.Config{MemoryBudget: 1 << 10}, nil)
	defer eng.Close()
	doc, err := Build(context.Background(), eng, Definition{Type: TypeNetwork}, testPeriod(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Sections) != 5 || len(doc.Warnings) != 5 {
		t.Fatalf("%d sections, warnings %q", len(doc.Sections), doc.Warnings)
	}
	for _, s := range doc.Sections {
		if len(s.Text) != 1 || !strings.HasPrefix(s.Text[0], "Not ranked: ") || !strings.Contains(s.Text[0], "memory budget") {
			t.Errorf("section %q says %q", s.Title, s.Text)
		}
		if len(s.Figures)+len(s.Tables)+len(s.Charts) > 0 {
			t.Errorf("section %q prints numbers of a ranking that did not run", s.Title)
		}
	}
}

// TestRankingUnsetAddress ranks servers of a lake where one connection has
// no foreign address (a device row without one): the engine prints it as
// "", which a filter cannot name, so the previous period's values come from
// an unnarrowed query instead of a refused one.
func TestRankingUnsetAddress(t *testing.T) {
	ctx := context.Background()
	lcfg := lake.DefaultConfig()
	lcfg.Root = t.TempDir()
	l, err := lake.Open(lcfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := testPeriod(t)
	var rows []schema.TCPConn
	for i, at := range []time.Time{p.From.Add(time.Minute), p.From.Add(2 * time.Minute), p.Previous().From.Add(time.Minute)} {
		r := schema.TCPConn{Time: at.UnixMicro(), Edge: "e1", Device: "d1", LocalPort: 40000 + uint16(i), ForeignPort: 443, Reason: "RR", Source: "device", TraceID: uint64(i + 1)}
		if i == 1 {
			r.ForeignAddr = schema.AddrFrom(netip.MustParseAddr("192.0.2.7"))
		}
		rows = append(rows, r)
	}
	if err := write(ctx, l, rows); err != nil {
		t.Fatal(err)
	}
	eng := query.New(l, query.Config{}, nil)
	defer eng.Close()
	doc, err := Build(ctx, eng, Definition{Type: TypeResponse, N: 5}, p)
	if err != nil {
		t.Fatal(err)
	}
	tb := findTable(t, doc, "Connections by server")
	if len(tb.Rows) != 2 {
		t.Fatalf("Connections by server: %d rows, want 2 (the unset address and 192.0.2.7)", len(tb.Rows))
	}
	for _, w := range doc.Warnings {
		t.Errorf("warning: %s", w)
	}
}

// rawNum is engNum read from raw rows: a term on a column no rollup keeps
// (always true) sends the query to raw segments, which the route confirms.
func rawNum(t *testing.T, dataset, filter, metric string, p Period) float64 {
	t.Helper()
	always := map[string]string{schema.FlowLosses: "duration_ms >= 0", schema.TCPConns: "iss >= 0",
		schema.DHCPEvents: "xid >= 0", schema.CloudConns: "duration_s >= 0"}[dataset]
	if filter != "" {
		filter = "(" + filter + ") and " + always
	} else {
		filter = always
	}
	r := &runner{eng: testEngine(t), zone: p.Zone, seen: map[string]bool{}}
	a, err := r.run(context.Background(), query.Query{Dataset: dataset, Filter: filter, Metrics: []string{metric}}, p)
	if err != nil {
		t.Fatal(err)
	}
	if route := r.asked[0].route; !strings.HasPrefix(route, "raw segments") {
		t.Fatalf("%s filtered %q: route %q, want raw segments", dataset, filter, route)
	}
	return a.num(0, 0)
}
