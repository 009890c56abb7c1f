package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/query"
	"github.com/flowlake/flowlake/storage/schema"
)

// readAll reads every row of a dataset in [from, to) straight from its
// segments, without the engine.
func readAll[T schema.Row](t *testing.T, l *lake.Lake, dataset string, from, to time.Time) []T {
	t.Helper()
	ctx := context.Background()
	segs, err := l.Segments(ctx, dataset, from, to)
	if err != nil {
		t.Fatal(err)
	}
	var out []T
	for _, s := range segs {
		rows, err := lake.Read[T](ctx, l, s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rows...)
	}
	return out
}

// holder is the brute-force lease join: of the spans of addr that hold t,
// the one that started last.
func holder(spans map[schema.Addr][]schema.DHCPLease, addr schema.Addr, t int64) *schema.DHCPLease {
	var best *schema.DHCPLease
	for i, s := range spans[addr] {
		if s.Time <= t && t < s.EndTime && (best == nil || s.Time >= best.Time) {
			best = &spans[addr][i]
		}
	}
	return best
}

// TestLeaseJoinGenerated is issue 13's join acceptance: eight generated
// hours around noon, where the generator's guest reshuffle moves addresses
// from one machine to another. Every flow's src_client and dst_client
// through the engine equal a brute-force join of the flows with the
// leases the same run derived; for each address that moved at noon, the
// flows of the morning name the first machine and those of the afternoon
// the second, through the engine's API and through the CLI.
func TestLeaseJoinGenerated(t *testing.T) {
	skipShort(t, "generates eight hours of telemetry")
	dir := filepath.Join(t.TempDir(), "data")
	from, to := "2026-11-03T08:00:00Z", "2026-11-03T16:00:00Z"
	if _, stderr, code := runCLI(t, nil, "gen", "--data", dir, "--from", from, "--to", to, "--rate", "5", "--seed", "7", "--log-level", "warn"); code != 0 {
		t.Fatalf("gen exited %d: %s", code, stderr)
	}
	lc := lake.DefaultConfig()
	lc.Root = dir
	l, err := lake.Open(lc, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	f, _ := time.Parse(time.RFC3339, from)
	tt, _ := time.Parse(time.RFC3339, to)
	noon := time.Date(2026, 11, 3, 12, 0, 0, 0, time.UTC).UnixMicro()

	leases := query.LatestLeases(readAll[schema.DHCPLease](t, l, schema.DHCPLeases, f.Add(-query.DefaultLeaseLookback), tt))
	spans := map[schema.Addr][]schema.DHCPLease{}
	for _, s := range leases {
		if s.Kind == schema.LeaseKindLease {
			spans[s.Address] = append(spans[s.Address], s)
		}
	}
	flows := readAll[schema.Flow](t, l, schema.Flows, f, tt)

	// The whole join: rows per src_client and per dst_client.
	e := query.New(l, query.Config{}, nil)
	defer e.Close()
	want := map[string]map[string]int64{"src_client": {}, "dst_client": {}}
	for _, fl := range flows {
		for col, a := range map[string]schema.Addr{"src_client": fl.SrcAddr, "dst_client": fl.DstAddr} {
			key := ""
			if h := holder(spans, a, fl.Time); h != nil {
				key = h.Client
			}
			want[col][key]++
		}
	}
	for _, col := range []string{"src_client", "dst_client"} {
		res, err := e.Run(context.Background(), query.Query{Dataset: schema.Flows, From: from, To: to, GroupBy: []string{col}})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		rows := res.Rows()
		for _, r := range rows[1:] {
			var n int64
			fmt.Sscan(r[1], &n)
			got[r[0]] = n
		}
		j := res.Plan.Join
		res.Release()
		if diff := cmp.Diff(want[col], got); diff != "" {
			t.Errorf("rows by %s (-brute force +engine):\n%s", col, diff)
		}
		miss := j.RowsWithoutSrcLease
		if col == "dst_client" {
			miss = j.RowsWithoutDstLease
		}
		if miss != want[col][""] {
			t.Errorf("%s: %d rows counted without a lease, want %d", col, miss, want[col][""])
		}
		if len(got) < 50 {
			t.Errorf("%s: only %d clients named: the generated flows and leases do not meet", col, len(got))
		}
	}

	// The addresses that moved from one machine to another across noon
	// (the generator's reshuffle): a span that started before it, then
	// another client's span that started at or after it.
	type move struct {
		addr          schema.Addr
		before, after schema.DHCPLease
	}
	var moves []move
	for a, ss := range spans {
		for _, x := range ss {
			for _, y := range ss {
				if x.Client != y.Client && x.Time < noon && y.Time >= noon && x.EndTime <= y.Time {
					moves = append(moves, move{a, x, y})
				}
			}
		}
	}
	if len(moves) == 0 {
		t.Fatal("no address moved between two machines across noon")
	}
	both := 0
	for _, m := range moves {
		// Every row of each span's time names that span's machine.
		var named [2]int64
		for h, sp := range []schema.DHCPLease{m.before, m.after} {
			filter := fmt.Sprintf("src ip %s and time >= %s and time < %s", m.addr,
				schema.FromMicros(sp.Time).Format(time.RFC3339Nano), schema.FromMicros(sp.EndTime).Format(time.RFC3339Nano))
			res, err := e.Run(context.Background(), query.Query{Dataset: schema.Flows, From: from, To: to,
				Filter: filter, GroupBy: []string{"src_client", "src_host"}})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res.Rows()[1:] {
				if r[0] != sp.Client || r[1] != sp.Hostname {
					t.Errorf("%s: %s answered %s %q, want %s %q", m.addr, filter, r[0], r[1], sp.Client, sp.Hostname)
				}
				fmt.Sscan(r[2], &named[h])
			}
			res.Release()
		}
		if named[0] == 0 || named[1] == 0 {
			continue
		}
		both++
		if both > 1 || m.after.Hostname == "" {
			continue
		}
		// The afternoon's question through the CLI, by the second
		// machine's host name.
		stdout, stderr, code := runCLI(t, nil, "query", "--data", dir, "flows", "--from", from, "--to", to, "--format", "csv",
			fmt.Sprintf("src ip %s and src host %q and time >= %s", m.addr, m.after.Hostname, schema.FromMicros(m.after.Time).Format(time.RFC3339Nano)),
			"--by", "src_client,src_host")
		if code != 0 {
			t.Fatalf("query exited %d: %s", code, stderr)
		}
		recs, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		wantCLI := [][]string{{"src_client", "src_host", "count()"}, {m.after.Client, m.after.Hostname, fmt.Sprint(named[1])}}
		if diff := cmp.Diff(wantCLI, recs); diff != "" {
			t.Errorf("CLI answer for %s (-want +got):\n%s", m.addr, diff)
		}
		if !strings.Contains(stderr, "lease join: 0 of ") {
			t.Errorf("CLI stderr does not count the rows without a lease: %q", stderr)
		}
	}
	if both == 0 {
		t.Errorf("none of the %d addresses that moved across noon has flows in both machines' spans", len(moves))
	}
	t.Logf("%d flows, %d lease spans, %d moves across noon, %d with flows in both spans", len(flows), len(leases), len(moves), both)
}
