package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
)

// TestSmallRun runs the whole benchmark on a small lake: generation, lake
// writing and compaction, DuckDB and (when installed) nfcapd and nfdump, and
// every answer check.
func TestSmallRun(t *testing.T) {
	skipShort(t, "builds a lake and runs nfcapd")
	for _, tc := range []struct {
		name     string
		flowRate float64
	}{
		{"spread over days", 0},
		// Two 5-minute nfcapd files of about 10,000 flows.
		{"production layout", 33},
	} {
		t.Run(tc.name, func(t *testing.T) { smallRun(t, tc.flowRate) })
	}
}

func smallRun(t *testing.T, flowRate float64) {
	o := options{flows: 20_000, nfFlows: 20_000, days: 2, seed: 3, dir: t.TempDir(), runs: 1, nfRuns: 1, rate: 200_000, flowRate: flowRate}
	for _, tool := range []string{"nfcapd", "nfdump"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing(t, "%s not installed (Debian package nfdump): running without nfdump's answers", tool)
			o.noNfdump = true
		}
	}
	var out bytes.Buffer
	if err := run(context.Background(), o, &out, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"Q1", "Q2", "Q3", "Q4", "Q5", "Q6", "B1", "B2", "B3", "B4", "B5"} {
		if !strings.Contains(out.String(), "| "+q+" ") {
			t.Errorf("report has no row for %s:\n%s", q, out.String())
		}
	}
	if !strings.Contains(out.String(), "| DuckDB Parquet zstd |") || (!o.noNfdump && !strings.Contains(out.String(), "| nfdump LZ4")) {
		t.Errorf("report has no bytes-per-row table:\n%s", out.String())
	} else {
		t.Log(out.String()[strings.Index(out.String(), "### Bytes per flow row"):])
	}
	// With nfdump, its answers were compared (run fails on a difference)
	// and the report says with which commands.
	if !o.noNfdump && (!strings.Contains(out.String(), "nfcapd") || !strings.Contains(out.String(), "nfdump commands:")) {
		t.Errorf("nfdump ran but the report does not show it:\n%s", out.String())
	}
	if flowRate > 0 && !o.noNfdump {
		for _, want := range []string{"the production layout", "2 files of", "| nfdump LZ4, as nfcapd -y wrote it", "| nfdump BZ2", "| Flowlake, edge segments"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("production-layout report lacks %q:\n%s", want, out.String())
			}
		}
	}
}

func TestSameAsNfdumpTopN(t *testing.T) {
	q := &benchQuery{id: "Q", shape: shapeTopN}
	fl := answer{{"a", "9"}, {"b", "5"}, {"c", "3"}}
	f := func(name string, nf answer, ok bool) {
		t.Helper()
		err := sameAsNfdump(q, fl, nf)
		if (err == nil) != ok {
			t.Errorf("%s: err = %v, want ok %v", name, err, ok)
		}
	}
	f("same", answer{{"a", "9"}, {"b", "5"}, {"c", "3"}}, true)
	f("tie at the cut-off", answer{{"a", "9"}, {"b", "5"}, {"d", "3"}}, true)
	f("other key above the cut-off", answer{{"a", "9"}, {"d", "5"}, {"c", "3"}}, false)
	f("other value", answer{{"a", "9"}, {"b", "6"}, {"c", "3"}}, false)
	f("fewer rows", answer{{"a", "9"}, {"b", "5"}}, false)
}

func TestSameAnswer(t *testing.T) {
	list := &benchQuery{id: "Q", shape: shapeListing}
	if err := sameAnswer(list, "a", answer{{"1"}, {"2"}}, "b", answer{{"2"}, {"1"}}); err != nil {
		t.Errorf("listings in another order: %v", err)
	}
	top := &benchQuery{id: "Q", shape: shapeTopN}
	if err := sameAnswer(top, "a", answer{{"1"}, {"2"}}, "b", answer{{"2"}, {"1"}}); err == nil {
		t.Error("ordered answers in another order compare equal")
	}
	if err := sameAnswer(top, "a", answer{}, "b", answer{}); err == nil {
		t.Error("empty answers compare equal")
	}
}

// TestSelectQueries checks -queries: the named queries in order, and an
// unknown name refused before any lake is built.
func TestSelectQueries(t *testing.T) {
	qs := buildQueries(lakeSpec{Flows: 1000, Days: 2, Seed: 1}, netip.Addr{})
	for _, tc := range []struct {
		only, want, err string
	}{
		{"", "Q1 Q2 Q3 Q4 Q5 Q6 B1 B2 B3 B4 B5", ""},
		{"Q4,Q2", "Q2 Q4", ""},
		{" Q5 ", "Q5", ""},
		{"Q2,Q9", "", `no query "Q9"`},
	} {
		got, err := selectQueries(qs, tc.only)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.only, err, tc.err)
			}
			continue
		}
		var ids []string
		for _, q := range got {
			ids = append(ids, q.id)
		}
		if err != nil || strings.Join(ids, " ") != tc.want {
			t.Errorf("%q: %v, %v; want %s", tc.only, ids, err, tc.want)
		}
	}
	o := options{flows: 20_000, nfFlows: 20_000, days: 2, seed: 3, dir: t.TempDir(), runs: 1, nfRuns: 1, only: "Q7"}
	if err := run(context.Background(), o, io.Discard, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), `no query "Q7"`) {
		t.Errorf("run with -queries Q7: %v", err)
	}
}
