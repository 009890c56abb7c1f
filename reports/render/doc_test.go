package render

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/flowlake/flowlake/reports"
)

// mustGate skips a test whose external dependency is missing, unless
// CI=true in which case the missing dependency fails it.
func mustGate(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but "+format, args...)
	}
	t.Skipf(format, args...)
}

// needTool returns the path of an external tool, gated by mustGate.
func needTool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		mustGate(t, "%s not installed (Debian package %s)", name, pkg)
	}
	return p
}

// needFonts skips (or fails under CI) when the PDF's default fonts are not
// installed.
func needFonts(t testing.TB) {
	t.Helper()
	if _, err := (Fonts{}).load(); err != nil {
		mustGate(t, "PDF fonts: %v", err)
	}
}

func berlin(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// hosts are realistic interface and host names, Chinese ones included.
var hosts = []string{
	"上海-核心交换机", "北京-汇聚-01", "广州数据中心 uplink", "深圳-边界路由器",
	"core-sw1 ge-0/0/1", "杭州-分支", "edge-fw <b>mgmt</b>", "成都-IDC-出口",
	"wan-mpls-03", "南京-办公网",
}

// sampleDoc is a realistic link report over the 25-hour day of the
// 2026 DST change in Europe/Berlin: figures with previous values, NaNs, a
// forecast with its band, thresholds, CJK names and a table of nrows rows.
func sampleDoc(t testing.TB, nrows int) *reports.Document {
	t.Helper()
	loc := berlin(t)
	from := time.Date(2026, 10, 25, 0, 0, 0, 0, loc)
	to := time.Date(2026, 10, 26, 0, 0, 0, 0, loc)
	var hours []time.Time
	for h := from; h.Before(to); h = h.Add(time.Hour) {
		hours = append(hours, h)
	}
	if len(hours) != 25 {
		t.Fatalf("DST day has %d hours, want 25", len(hours))
	}
	in := make([]float64, len(hours))
	out := make([]float64, len(hours))
	for i := range hours {
		in[i] = 4e9 + 3e9*math.Sin(float64(i)/24*2*math.Pi) + float64(i)*1e7
		out[i] = 1.5e9 + 1e9*math.Cos(float64(i)/24*2*math.Pi)
	}
	in[5] = math.NaN()

	// a week of hourly history and two days of forecast with its band
	hist := 7 * 24
	var ft []time.Time
	for i := range hist + 48 {
		ft = append(ft, from.Add(time.Duration(i-hist)*time.Hour))
	}
	histVals := make([]float64, len(ft))
	fc := make([]float64, len(ft))
	lo := make([]float64, len(ft))
	hi := make([]float64, len(ft))
	for i := range ft {
		v := 55 + 15*math.Sin(float64(i)/24*2*math.Pi) + float64(i)*0.05
		if i < hist {
			histVals[i], fc[i], lo[i], hi[i] = v, math.NaN(), math.NaN(), math.NaN()
		} else {
			histVals[i] = math.NaN()
			w := 3 + float64(i-hist)*0.2
			fc[i], lo[i], hi[i] = v, v-w, v+w
		}
	}

	rows := make([][]reports.Cell, nrows)
	for i := range rows {
		name := fmt.Sprintf("%s #%d", hosts[i%len(hosts)], i)
		inB := float64(int64(987654321)*int64(i+1) + 12345)
		rows[i] = []reports.Cell{
			{Text: name},
			{Num: inB},
			{Num: float64(123456789 * (i%7 + 1))},
			{Num: 1234.5678 * float64(i+1)},
			{Num: math.Round(float64(i%100)*0.987*1000) / 1000},
		}
		if i == 3 {
			rows[i][2] = reports.Cell{Null: true}
		}
	}
	var perHour [][]reports.Cell
	for i, h := range hours {
		perHour = append(perHour, []reports.Cell{{Time: h.UTC()}, {Num: math.Round(in[i]), Null: math.IsNaN(in[i])}, {Num: math.Round(out[i])}})
	}

	appsVals := []float64{5.5e11, 2.25e11, 1.1e11, 7.7e10, 3.3e10}
	return &reports.Document{
		Type:      "link",
		Title:     "Link analysis — 上海-核心交换机",
		Period:    reports.Period{Kind: "daily", Label: "2026-10-25", From: from, To: to, Zone: "Europe/Berlin"},
		Previous:  reports.Period{Kind: "daily", Label: "2026-10-24", From: from.AddDate(0, 0, -1), To: from, Zone: "Europe/Berlin"},
		Generated: time.Date(2026, 10, 26, 1, 5, 0, 0, loc),
		Link:      "/console/links?from=2026-10-24T22:00:00Z&to=2026-10-25T23:00:00Z",
		Warnings: []string{
			"2 files could not be read; their rows are missing from this report",
			"17 rows had an unknown sampling rate <script>alert(1)</script>",
		},
		Sections: []reports.Section{
			{
				Title: "概览 Overview",
				Text:  []string{"Traffic of every monitored link over the day, which had 25 hours (end of daylight saving time). 上海-核心交换机 carried most of it."},
				Figures: []reports.Figure{
					{Label: "Bytes in", Value: 1234567890123, Unit: reports.UnitBytes, HasPrevious: true, Previous: 1100000000000},
					{Label: "Peak rate", Value: 9876543210.5, Unit: reports.UnitBPS, HasPrevious: true, Previous: 10234567890},
					{Label: "Peak utilisation", Value: 81.234, Unit: reports.UnitPercent},
					{Label: "Packets", Value: 98765432, Unit: reports.UnitPackets, HasPrevious: true, Previous: 0},
					{Label: "Retransmissions", Value: math.NaN(), Unit: reports.UnitCount},
					{Label: "Median setup time", Value: 0.0123, Unit: reports.UnitSeconds, HasPrevious: true, Previous: 0.0101},
				},
				Charts: []reports.Chart{
					{Title: "Traffic per hour", Kind: reports.ChartLine, Times: hours, Unit: reports.UnitBPS,
						Series:     []reports.Series{{Name: "上海-核心交换机 in", Values: in}, {Name: "上海-核心交换机 out", Values: out}},
						Thresholds: []reports.Threshold{{Label: "80 % of 10 Gbit/s", Value: 8e9}}},
					{Title: "Utilisation forecast", Kind: reports.ChartLine, Times: ft, Unit: reports.UnitPercent,
						Series: []reports.Series{
							{Name: "utilisation", Values: histVals},
							{Name: "utilisation", Values: fc, Lower: lo, Upper: hi, Forecast: true},
						},
						Thresholds: []reports.Threshold{{Label: "80 %", Value: 80}}},
				},
				Tables: []reports.Table{
					{
						Title: "Per interface",
						Columns: []reports.Column{
							{Name: "Interface", Kind: reports.ColText},
							{Name: "In", Kind: reports.ColInt, Unit: reports.UnitBytes},
							{Name: "Out", Kind: reports.ColInt, Unit: reports.UnitBytes},
							{Name: "Peak", Kind: reports.ColFloat, Unit: reports.UnitBPS},
							{Name: "Utilisation", Kind: reports.ColFloat, Unit: reports.UnitPercent},
						},
						Rows: rows,
						Note: "Interfaces without capacity in the configuration have no utilisation.",
						Link: "/console/interfaces?from=2026-10-24T22:00:00Z&to=2026-10-25T23:00:00Z",
					},
					{
						Title: "Per hour",
						Columns: []reports.Column{
							{Name: "Hour", Kind: reports.ColTime},
							{Name: "In", Kind: reports.ColInt, Unit: reports.UnitBytes},
							{Name: "Out", Kind: reports.ColInt, Unit: reports.UnitBytes},
						},
						Rows: perHour,
					},
				},
			},
			{
				Title: "Hosts and applications",
				Charts: []reports.Chart{
					{Title: "Top hosts", Kind: reports.ChartBar, Categories: hosts[:6], Unit: reports.UnitBytes,
						Series: []reports.Series{{Name: "in", Values: []float64{9e11, 7.5e11, 6e11, math.NaN(), 2e11, 1e11}}, {Name: "out", Values: []float64{3e11, 2e11, 1e11, 5e10, 4e10, 1e10}}}},
					{Title: "Applications", Kind: reports.ChartPie, Categories: []string{"https", "微信 WeChat", "dns", "ssh", "unknown"}, Unit: reports.UnitBytes,
						Series: []reports.Series{{Name: "bytes", Values: appsVals}}},
					{Title: "Applications per hour", Kind: reports.ChartStacked, Times: hours, Unit: reports.UnitBPS,
						Series: []reports.Series{{Name: "https", Values: out}, {Name: "unknown", Values: in}}},
				},
			},
			{
				Title: "Application response",
				Text:  []string{"No TCP trace data in this period."},
				Charts: []reports.Chart{
					{Title: "Setup time", Kind: reports.ChartLine, Times: nil, Unit: reports.UnitSeconds, Series: []reports.Series{{Name: "p50"}}},
				},
				Tables: []reports.Table{{Title: "Abnormal closes", Columns: []reports.Column{{Name: "Reason"}, {Name: "Count", Kind: reports.ColInt, Unit: reports.UnitCount}}}},
			},
		},
	}
}
