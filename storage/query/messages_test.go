package query

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestMessages: the engine's errors say each thing once, the part of the
// query first, and unknown columns and metrics get a "did you mean" as
// filter typos do.
func TestMessages(t *testing.T) {
	e := testEngine(t, Config{})
	for _, tc := range []struct {
		name string
		q    Query
		want string
	}{
		{"filter", Query{Dataset: "flows", Filter: "port 80 and prot tcp"},
			"filter: at 12: unknown column \"prot\" in flows; did you mean \"proto\"?\nport 80 and prot tcp\n            ^"},
		{"group by typo", Query{Dataset: "flows", GroupBy: []string{"srcaddr"}},
			`group_by: dataset flows has no column "srcaddr"; did you mean "src_addr"?`},
		{"group by far off", Query{Dataset: "flows", GroupBy: []string{"colour"}},
			`group_by: dataset flows has no column "colour"`},
		{"group by other dataset", Query{Dataset: "flows", GroupBy: []string{"hostname"}},
			`group_by: dataset flows has no column "hostname"; hostname is a column of dhcp_events, dhcp_leases`},
		{"metric column typo", Query{Dataset: "flows", Metrics: []string{"sum(byts)"}},
			`metrics: "sum(byts)": dataset flows has no column "byts"; did you mean "bytes"?`},
		{"metric typo", Query{Dataset: "flows", Metrics: []string{"summ(bytes)"}},
			`metrics: "summ(bytes)": unknown metric "summ" (did you mean "sum"? one of count, sum, min, max, avg, count_distinct, approx_count_distinct, p95, percentile, bps, pps)`},
		{"listing column", Query{Dataset: "flows", Columns: []string{"time", "dstport"}},
			`columns: dataset flows has no column "dstport"; did you mean "dst_port"?`},
		{"order by", Query{Dataset: "flows", OrderBy: []string{"-byte"}},
			`order_by: dataset flows has no column "byte"; did you mean "bytes"?`},
		{"from", Query{Dataset: "flows", From: "yesterday"},
			`from: "yesterday" is not a time: want RFC 3339 ("2026-11-20T08:00:00Z"), a date ("2026-11-20"), "now" or an offset ("-24h", "-7d", "-30m", "-2w")`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.Run(context.Background(), tc.q)
			if err == nil {
				t.Fatal("no error")
			}
			if diff := cmp.Diff(tc.want, err.Error()); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
		})
	}
}
