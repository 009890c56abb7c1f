package api

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/query"
	"github.com/flowlake/flowlake/storage/schema"
)

// TestQueryJSONNumbers queries, over HTTP, a lake whose sums run into the
// billions: counters print as integers, digit for digit, and no number of
// the answer is in exponent notation.
func TestQueryJSONNumbers(t *testing.T) {
	ctx := t.Context()
	cfg := lake.DefaultConfig()
	cfg.Root = t.TempDir()
	l, err := lake.Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	base := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	rows := []schema.Flow{
		{Time: schema.Micros(base), Proto: 6, Bytes: 1_098_690_039, Packets: 900_000},
		{Time: schema.Micros(base.Add(time.Minute)), Proto: 6, Bytes: 1_098_690_039, Packets: 900_001},
		{Time: schema.Micros(base.Add(2 * time.Minute)), Proto: 17, Bytes: 7_000_000_000_000_001, Packets: 3},
	}
	if _, err := lake.Write(ctx, l, "edge", rows); err != nil {
		t.Fatal(err)
	}
	st := openStore(t)
	engine := query.New(l, query.Config{Now: func() time.Time { return base.Add(time.Hour) }}, nil)
	srv, err := New(DefaultConfig(), Deps{Datasets: l, Meta: st, Query: engine, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{srv: srv, store: st}
	token := e.userToken(t, "ana", "analyst")
	q := query.Query{Dataset: "flows", From: base.Format(time.RFC3339), To: base.Add(time.Hour).Format(time.RFC3339),
		GroupBy: []string{"proto"}, Metrics: []string{"sum(bytes)", "sum(packets)", "count()", "avg(bytes)", "bps()", "max(bytes)"}, OrderBy: []string{"proto"}}
	rec := e.call(t, http.MethodPost, PathQuery, q, bearer(token))
	wantStatus(t, rec, http.StatusOK, "")
	var raw struct {
		Rows []map[string]json.RawMessage `json:"rows"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	if len(raw.Rows) != 2 {
		t.Fatalf("%d rows, want 2: %s", len(raw.Rows), rec.Body)
	}
	want := []map[string]string{
		{"proto": "6", "sum(bytes)": "2197380078", "sum(packets)": "1800001", "count()": "2", "avg(bytes)": "1098690039",
			"max(bytes)": "1098690039"},
		{"proto": "17", "sum(bytes)": "7000000000000001", "sum(packets)": "3", "count()": "1", "avg(bytes)": "7000000000000001",
			"max(bytes)": "7000000000000001"},
	}
	for i, w := range want {
		for col, v := range w {
			if got := string(raw.Rows[i][col]); got != v {
				t.Errorf("row %d %s = %s, want %s", i, col, got, v)
			}
		}
	}
	// Rates are floats: plain decimals, never an exponent.
	plain := regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)
	for i, r := range raw.Rows {
		for col, v := range r {
			if !plain.Match(v) {
				t.Errorf("row %d %s = %s: not a plain decimal number", i, col, v)
			}
		}
		if bps := string(r["bps()"]); len(bps) < 7 {
			t.Errorf("row %d bps() = %s: want a rate above a million", i, bps)
		}
	}
	// CSV answers format numbers the same way.
	rec = e.call(t, http.MethodPost, PathQuery+"?format=csv", q, bearer(token))
	wantStatus(t, rec, http.StatusOK, "")
	if body := rec.Body.String(); strings.Contains(body, "e+") || !strings.Contains(body, ",2197380078,") {
		t.Errorf("CSV answer prints numbers in exponent notation or not digit for digit:\n%s", body)
	}
}
