package api

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/flowlake/flowlake/storage/gen"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/query"
)

// queryLake is two generated hours of telemetry, shared by the query tests.
var queryLake = sync.OnceValues(func() (*lake.Lake, error) {
	ctx := context.Background()
	cfg := gen.DefaultConfig()
	cfg.End = cfg.Start.Add(2 * time.Hour)
	cfg.FlowsPerSecond = 2
	c, err := gen.Collect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	lcfg := lake.DefaultConfig()
	lcfg.Root = queryLakeDir
	l, err := lake.Open(lcfg, nil)
	if err != nil {
		return nil, err
	}
	if _, err := lake.Write(ctx, l, "edge", c.FlowRows); err != nil {
		return nil, err
	}
	if _, err := lake.Write(ctx, l, "edge", c.DHCPRows); err != nil {
		return nil, err
	}
	return l, nil
})

var queryLakeDir string

// queryEnv is a server with a real engine over queryLake.
func queryEnv(t testing.TB) *env {
	t.Helper()
	l, err := queryLake()
	if err != nil {
		t.Fatal(err)
	}
	st := openStore(t)
	var logs bytes.Buffer
	start := gen.DefaultConfig().Start
	engine := query.New(l, query.Config{Now: func() time.Time { return start.Add(2 * time.Hour) }}, nil)
	srv, err := New(DefaultConfig(), Deps{Datasets: l, Meta: st, Query: engine, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{srv: srv, store: st, logs: &logs}
	e.admin = e.userToken(t, "ana", "analyst")
	return e
}

func TestQueryEndpoints(t *testing.T) {
	e := queryEnv(t)
	auth := bearer(e.admin)
	for _, tc := range []struct {
		name, method, path string
		body               any
		accept             string
		status             int
		contentType        string
		has                []string // substrings of the body
	}{
		{"post json", "POST", PathQuery, query.Query{Dataset: "flows", From: "-2h", GroupBy: []string{"app"}, Metrics: []string{"sum(bytes)", "count()"}, Limit: 3},
			"", 200, MediaJSON, []string{`"columns":[{"name":"app","type":"utf8"}`, `"rows":[{`, `"plan":{`, `"count()":`}},
		{"post csv", "POST", PathQuery, query.Query{Dataset: "flows", From: "-2h", GroupBy: []string{"proto"}, Limit: 2},
			MediaCSV, 200, MediaCSV, []string{"proto,count()\n6,"}},
		{"format param wins", "POST", PathQuery + "?format=csv", query.Query{Dataset: "flows", From: "-2h", GroupBy: []string{"proto"}, Limit: 2},
			MediaJSON, 200, MediaCSV, []string{"proto,count()\n"}},
		{"flows page", "GET", PathFlows + "?from=-2h&filter=" + url.QueryEscape("dst port 53") + "&columns=time,src_addr,dst_port&limit=3", nil,
			"", 200, MediaJSON, []string{`"cursor":"`, `"dst_port":53`}},
		{"topn", "GET", PathTopN + "?from=-2h&by=src_addr&limit=5&others=true", nil,
			"", 200, MediaJSON, []string{`"others":true`, `"sum(bytes)":`}},
		{"series", "GET", PathSeries + "?from=-2h&bucket=15m", nil,
			"", 200, MediaJSON, []string{`"time/15m":"`, `"bps()":`}},
		{"series of dhcp", "GET", PathSeries + "?dataset=dhcp_events&from=-2h&bucket=1h&by=msg_type", nil,
			"", 200, MediaJSON, []string{`"msg_type":"DISCOVER"`}},
		{"bad filter", "GET", PathTopN + "?from=-2h&by=app&filter=" + url.QueryEscape("src port >"), nil,
			"", 400, ProblemContentType, []string{`"code":"bad_query"`, `"field":"filter"`, `"position":10`}},
		{"bad dataset", "POST", PathQuery, `{"dataset":"nope"}`,
			"", 400, ProblemContentType, []string{`"field":"dataset"`}},
		{"unknown body field", "POST", PathQuery, `{"dataset":"flows","colour":"red"}`,
			"", 400, ProblemContentType, []string{`unknown field`}},
		{"topn without by", "GET", PathTopN + "?from=-2h", nil,
			"", 400, ProblemContentType, []string{`by:`}},
		{"not acceptable", "GET", PathTopN + "?from=-2h&by=app", nil,
			"image/png", 406, ProblemContentType, []string{`"code":"not_acceptable"`}},
		{"bad limit", "GET", PathFlows + "?limit=-1", nil,
			"", 400, ProblemContentType, []string{`limit=`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := []reqOpt{auth}
			if tc.accept != "" {
				opts = append(opts, header("Accept", tc.accept))
			}
			rec := e.call(t, tc.method, tc.path, tc.body, opts...)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, tc.contentType) {
				t.Errorf("Content-Type %q, want %s", ct, tc.contentType)
			}
			for _, s := range tc.has {
				if !strings.Contains(rec.Body.String(), s) {
					t.Errorf("body lacks %q:\n%.600s", s, rec.Body)
				}
			}
		})
	}
	// Without credentials, nothing.
	if rec := e.call(t, "GET", PathTopN+"?by=app", nil); rec.Code != http.StatusUnauthorized {
		t.Errorf("anonymous topn = %d", rec.Code)
	}
}

// TestQueryEncodingsAgree: the same query in JSON, CSV and Arrow gives the
// same rows; cursors page through a listing without repeats.
func TestQueryEncodingsAgree(t *testing.T) {
	e := queryEnv(t)
	q := query.Query{Dataset: "flows", From: "-2h", GroupBy: []string{"src_addr", "proto"}, Metrics: []string{"sum(bytes)", "p95(bytes)"}, Limit: 20}
	var js QueryResponse
	dec := json.NewDecoder(e.call(t, "POST", PathQuery, q, bearer(e.admin)).Body)
	dec.UseNumber()
	if err := dec.Decode(&js); err != nil {
		t.Fatal(err)
	}
	rec := e.call(t, "POST", PathQuery, q, bearer(e.admin), header("Accept", MediaCSV))
	rows, err := csv.NewReader(rec.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	rec = e.call(t, "POST", PathQuery, q, bearer(e.admin), header("Accept", MediaArrow))
	if rec.Header().Get(HeaderRoute) == "" {
		t.Error("no route header")
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r, err := ipc.NewReader(bytes.NewReader(rec.Body.Bytes()), ipc.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	var arrowRows [][]string
	for r.Next() {
		b := r.RecordBatch()
		for i := range int(b.NumRows()) {
			var line []string
			for c := range int(b.NumCols()) {
				line = append(line, query.FormatValue(b.Column(c), i))
			}
			arrowRows = append(arrowRows, line)
		}
	}
	r.Release()
	if len(js.Rows) != 20 || len(rows) != 21 || len(arrowRows) != 20 {
		t.Fatalf("json %d rows, csv %d lines, arrow %d rows", len(js.Rows), len(rows), len(arrowRows))
	}
	for i := range arrowRows {
		for c, col := range rows[0] {
			if rows[i+1][c] != arrowRows[i][c] || !sameValue(js.Rows[i][col], arrowRows[i][c]) {
				t.Fatalf("row %d column %s: csv %q, arrow %q, json %v", i, col, rows[i+1][c], arrowRows[i][c], js.Rows[i][col])
			}
		}
	}
	// Pages of a listing follow the cursor header.
	seen := map[string]bool{}
	path := PathFlows + "?from=-2h&columns=time,src_addr,src_port,dst_port&limit=50&format=csv"
	next := ""
	for page := 0; page < 4; page++ {
		p := path
		if next != "" {
			p += "&cursor=" + next
		}
		rec := e.call(t, "GET", p, nil, bearer(e.admin))
		next = rec.Header().Get(HeaderCursor)
		lines, _ := csv.NewReader(rec.Body).ReadAll()
		if len(lines) != 51 || next == "" {
			t.Fatalf("page %d: %d lines, cursor %q", page, len(lines), next)
		}
		for _, l := range lines[1:] {
			k := strings.Join(l, ",")
			if seen[k] {
				t.Fatalf("page %d repeats %s", page, k)
			}
			seen[k] = true
		}
	}
}
