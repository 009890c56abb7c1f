package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/flowlake/flowlake/storage/query"
)

// explainRoute returns the route `flowlake query --explain --json` plans
// for the flows of [from, to) by device.
func explainRoute(t *testing.T, dir, from, to string) string {
	t.Helper()
	out, errOut, code := runCLI(t, nil, "query", "flows", "--from", from, "--to", to, "--by", "device", "--metrics", "count()",
		"--explain", "--json", "--data", dir)
	if code != 0 {
		t.Fatalf("query --explain exited %d: %s", code, errOut)
	}
	var p query.Plan
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("explain --json: %v: %s", err, out)
	}
	return p.Route
}

// TestLakeRollupRebuildsStaleRollups: late segments make the rollups of
// both hours stale; `lake compact --rollups=false` leaves them stale,
// `lake rollup --from --to` rebuilds only the hour asked, `lake rollup`
// the rest, and `lake compact` (rollups on by default) rebuilds what it
// compacted.
func TestLakeRollupRebuildsStaleRollups(t *testing.T) {
	t.Parallel()
	dir := genLake(t)
	const h10, h11, h12 = "2026-11-03T10:00:00Z", "2026-11-03T11:00:00Z", "2026-11-03T12:00:00Z"
	isRollup := func(route string) bool { return strings.HasPrefix(route, "rollup ") }
	for _, r := range [][2]string{{h10, h11}, {h11, h12}} {
		if route := explainRoute(t, dir, r[0], r[1]); !isRollup(route) {
			t.Fatalf("generated lake: %s..%s reads %q, want a rollup", r[0], r[1], route)
		}
	}
	writeLate(t, dir, 1, 600)
	if _, errOut, code := runCLI(t, nil, "lake", "compact", "--before", "2026-11-04", "--rollups=false", "--data", dir); code != 0 {
		t.Fatalf("lake compact exited %d: %s", code, errOut)
	}
	for _, r := range [][2]string{{h10, h11}, {h11, h12}} {
		if route := explainRoute(t, dir, r[0], r[1]); isRollup(route) {
			t.Fatalf("after late data and compaction, %s..%s reads %q: a stale rollup answered", r[0], r[1], route)
		}
	}
	out, errOut, code := runCLI(t, nil, "lake", "rollup", "--from", h10, "--to", h11, "--data", dir)
	if code != 0 || !strings.HasPrefix(out, "rebuilt ") {
		t.Fatalf("lake rollup --from --to exited %d: %s%s", code, out, errOut)
	}
	if route := explainRoute(t, dir, h10, h11); !isRollup(route) {
		t.Errorf("after lake rollup of 10:00, it reads %q", route)
	}
	if route := explainRoute(t, dir, h11, h12); isRollup(route) {
		t.Errorf("lake rollup --to 11:00 rebuilt 11:00 too: %q", route)
	}
	if _, errOut, code := runCLI(t, nil, "lake", "rollup", "--data", dir); code != 0 {
		t.Fatalf("lake rollup exited %d: %s", code, errOut)
	}
	if route := explainRoute(t, dir, h11, h12); !isRollup(route) {
		t.Errorf("after lake rollup, 11:00 reads %q", route)
	}

	// compact rebuilds by default.
	writeLate(t, dir, 2, 600)
	out, errOut, code = runCLI(t, nil, "lake", "compact", "--before", "2026-11-04", "--data", dir)
	if code != 0 || !strings.Contains(out, "rebuilt ") {
		t.Fatalf("lake compact exited %d: %s%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "lake compact: 2/2 partitions (100 %)") {
		t.Errorf("lake compact printed no progress lines on a non-terminal stderr: %q", errOut)
	}
	for _, r := range [][2]string{{h10, h11}, {h11, h12}} {
		if route := explainRoute(t, dir, r[0], r[1]); !isRollup(route) {
			t.Errorf("after lake compact, %s..%s reads %q: compaction left its rollups stale", r[0], r[1], route)
		}
	}
	out, errOut, code = runCLI(t, nil, "lake", "verify", "--data", dir)
	if code != 0 || !strings.Contains(out, " files checked") || !strings.Contains(errOut, "lake verify: ") {
		t.Errorf("lake verify: exit %d, stdout %q, stderr %q: want the files checked and progress lines", code, out, errOut)
	}
}

// TestLakeRollupBuildsEventRollups: `lake rollup` builds the daily rollups
// of the event datasets; a report's day query then reads them, and
// --explain says so, while a query they cannot answer reads raw rows and
// says why.
func TestLakeRollupBuildsEventRollups(t *testing.T) {
	t.Parallel()
	dir := genLake(t)
	if _, errOut, code := runCLI(t, nil, "lake", "rollup", "--data", dir); code != 0 {
		t.Fatalf("lake rollup exited %d: %s", code, errOut)
	}
	for _, tc := range []struct {
		args  []string
		route string
	}{
		{[]string{"tcp_conns", "not reason in [PN AN]", "--metrics", "count()"}, "rollup tcp_conns_1d"},
		{[]string{"dhcp_events", "--by", "msg_type", "--metrics", "count()"}, "rollup dhcp_events_1d"},
		{[]string{"cloud_conn", "--by", "last_down_reason", "--metrics", "count_distinct(last_down_at)"}, "rollup cloud_conn_1d"},
		{[]string{"flow_loss", "--by", "device", "--metrics", "sum(sequence_gaps),sum(flows)"}, "rollup flow_loss_1d"},
		{[]string{"tcp_conns", "--by", "foreign_addr", "--metrics", "count()"}, "raw segments of tcp_conns (group by foreign_addr needs raw rows)"},
	} {
		args := append([]string{"query"}, tc.args...)
		args = append(args, "--from", "2026-11-03", "--to", "2026-11-04", "--explain", "--json", "--data", dir)
		out, errOut, code := runCLI(t, nil, args...)
		if code != 0 {
			t.Fatalf("%v exited %d: %s", args, code, errOut)
		}
		var p query.Plan
		if err := json.Unmarshal([]byte(out), &p); err != nil {
			t.Fatalf("explain --json: %v: %s", err, out)
		}
		if !strings.HasPrefix(p.Route, tc.route) {
			t.Errorf("%v: route %q, want %s", tc.args, p.Route, tc.route)
		}
	}
}
