package reports

import (
	"context"
	"strings"
	"testing"

	"github.com/flowlake/flowlake/storage/schema"
)

// TestFaultsReadEventRollups: over UTC days, every query the fault
// statistics report and the summary ask of tcp_conns, dhcp_events,
// cloud_conn and flow_loss is answered by their daily rollups (the
// rollups' own tests check each answer against raw rows); in a zone whose
// days are not UTC days they read raw rows, and say why.
func TestFaultsReadEventRollups(t *testing.T) {
	events := map[string]bool{schema.TCPConns: true, schema.DHCPEvents: true, schema.CloudConns: true, schema.FlowLosses: true}
	for _, tc := range []struct {
		zone, route string
	}{
		{"UTC", "rollup "},
		{"Asia/Shanghai", "raw segments of "},
	} {
		p, err := ParsePeriod(Daily, "2026-01-07", tc.zone, fixtureTo)
		if err != nil {
			t.Fatal(err)
		}
		for _, typ := range []string{TypeFaults, TypeSummary} {
			b, err := assemble(context.Background(), testEngine(t), Definition{Type: typ, Zone: tc.zone}, p)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, a := range b.r.asked {
				if !events[a.q.Dataset] {
					continue
				}
				n++
				if !strings.HasPrefix(a.route, tc.route) {
					t.Errorf("%s report in %s: %s %v by %v filtered %q: route %q, want %s…", typ, tc.zone, a.q.Dataset, a.q.Metrics, a.q.GroupBy, a.q.Filter, a.route, tc.route)
				}
			}
			if n < 6 {
				t.Errorf("%s report in %s asked the event datasets %d times", typ, tc.zone, n)
			}
		}
	}
}
