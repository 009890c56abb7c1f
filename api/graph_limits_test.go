package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowlake/flowlake/graph"
	"github.com/flowlake/flowlake/storage/meta"
	"github.com/flowlake/flowlake/storage/query"
)

// countingEngine is the real engine, counting the queries it runs; its
// Explain is the engine's, so GraphQL plans through it.
type countingEngine struct {
	*query.Engine
	runs atomic.Int64
}

func (c *countingEngine) Run(ctx context.Context, q query.Query) (*query.Result, error) {
	c.runs.Add(1)
	return c.Engine.Run(ctx, q)
}

// limitEnv is a server over the GraphQL test lake with a GraphQL
// configuration, its log, and a viewer's token.
type limitEnv struct {
	*env
	engine *countingEngine
	viewer string
}

func newLimitEnv(t *testing.T, gcfg graph.Config) *limitEnv {
	t.Helper()
	l := testGraphLake(t)
	eng := &countingEngine{Engine: query.New(l, query.Config{Now: func() time.Time { return graphEnd }}, nil)}
	st := openStore(t)
	cfg := DefaultConfig()
	cfg.GraphQL = gcfg
	var logs bytes.Buffer
	srv, err := New(cfg, Deps{Datasets: l, Query: eng, Meta: st,
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	e := &limitEnv{env: &env{srv: srv, store: st, logs: &logs}, engine: eng}
	e.viewer = e.userToken(t, "vic", meta.RoleViewer)
	return e
}

// post sends body (a GraphQL request) as the viewer through the server's
// handler and returns the status and the decoded answer.
func (e *limitEnv) post(t *testing.T, body io.Reader, length int64) (int, gqlAnswer, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, PathGraphQL, body)
	req.ContentLength = length
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.viewer)
	rec := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(rec, req)
	var a gqlAnswer
	if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
		t.Fatalf("answer %d is not JSON: %v: %.200s", rec.Code, err, rec.Body)
	}
	return rec.Code, a, rec.Body.String()
}

// gqlAnswer is a GraphQL answer.
type gqlAnswer struct {
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
}

func (a gqlAnswer) code() string {
	if len(a.Errors) == 0 {
		return ""
	}
	c, _ := a.Errors[0].Extensions["code"].(string)
	return c
}

func gqlBody(t testing.TB, q string, vars map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"query": q, "variables": vars})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// endless is n bytes of a JSON string's inside, generated as read.
type endless struct{ n int64 }

func (r *endless) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	k := min(int64(len(p)), r.n)
	for i := range k {
		p[i] = 'A'
	}
	r.n -= k
	return int(k), nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// bigVariables is a GraphQL request of size bytes, most of them one
// string of its extensions, generated as it is read.
func bigVariables(size int64) io.Reader {
	head := `{"query":"{ me { user { name } } }","extensions":{"x":"`
	tail := `"}}`
	return io.MultiReader(strings.NewReader(head), &endless{n: size - int64(len(head)+len(tail))}, strings.NewReader(tail))
}

// TestGraphQLBodyLimit (issue 16 item 9): a GraphQL body over 1 MiB is a
// 413 like REST's, refused before it is read whole (100 MB of variables
// were answered 200); one under the limit still answers.
func TestGraphQLBodyLimit(t *testing.T) {
	e := newLimitEnv(t, graph.Config{})
	const mib = 1 << 20
	for _, tc := range []struct {
		name     string
		size     int64
		declared bool // Content-Length sent
		want     int
	}{
		{"100 MB declared", 100 << 20, true, http.StatusRequestEntityTooLarge},
		{"100 MB chunked", 100 << 20, false, http.StatusRequestEntityTooLarge},
		{"1 MiB and a byte", mib + 1, true, http.StatusRequestEntityTooLarge},
		{"just under 1 MiB", mib - 10, true, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := &countingReader{r: bigVariables(tc.size)}
			length := int64(-1)
			if tc.declared {
				length = tc.size
			}
			status, a, _ := e.post(t, body, length)
			if status != tc.want {
				t.Fatalf("status %d, want %d: %+v", status, tc.want, a.Errors)
			}
			if tc.want == http.StatusOK {
				if len(a.Errors) != 0 || !strings.Contains(string(a.Data), `"vic"`) {
					t.Errorf("answer %s %+v", a.Data, a.Errors)
				}
				return
			}
			if a.code() != graph.CodeRequestTooLarge || !strings.Contains(a.Errors[0].Message, "1048576 bytes") {
				t.Errorf("errors %+v", a.Errors)
			}
			if body.n > mib+64<<10 {
				t.Errorf("read %d bytes of a body refused at %d", body.n, mib)
			}
		})
	}
}

// TestGraphQLMalformedBodyNotLogged (issue 16 item 10): a malformed body
// is a 400 BAD_REQUEST saying where the JSON breaks, and neither the
// answer nor the log quotes it (a password in it was logged, and a
// 10 MB body grew the log by 10.5 MB).
func TestGraphQLMalformedBodyNotLogged(t *testing.T) {
	e := newLimitEnv(t, graph.Config{})
	const secret = "correct-horse-battery-staple-42"
	mutation := `mutation { createUser(input: {name: "eve", role: "admin", password: "` + secret + `"}) { id } }`
	valid := string(gqlBody(t, mutation, nil))
	filler := strings.Repeat("x", 900<<10)
	for _, tc := range []struct {
		name, body, where string
	}{
		{"truncated", valid[:len(valid)-2], "unexpected end of JSON"},
		{"trailing data", valid + `{"more": 1}`, "data after the JSON value"},
		{"not JSON", `query=` + secret, "at byte 1"},
		{"wrong type", `{"query": ["` + secret + `"]}`, "query is a JSON array, not a string"},
		{"large", `{"query": "` + secret + filler + `", oops}`, "invalid character 'o'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.logs.Len()
			status, a, raw := e.post(t, strings.NewReader(tc.body), int64(len(tc.body)))
			if status != http.StatusBadRequest || a.code() != graph.CodeBadRequest {
				t.Fatalf("status %d, errors %+v; want 400 %s", status, a.Errors, graph.CodeBadRequest)
			}
			if msg := a.Errors[0].Message; !strings.Contains(msg, tc.where) {
				t.Errorf("message %q does not say %q", msg, tc.where)
			}
			if strings.Contains(raw, secret) || len(raw) > 1024 {
				t.Errorf("the answer quotes the body (%d bytes)", len(raw))
			}
			logged := e.logs.String()[before:]
			if strings.Contains(logged, secret) {
				t.Errorf("the log holds the body's secret:\n%.300s", logged)
			}
			if len(logged) > 2048 {
				t.Errorf("a %d-byte body grew the log by %d bytes", len(tc.body), len(logged))
			}
			if !strings.Contains(logged, `"status":400`) {
				t.Errorf("the request was not logged at all:\n%s", logged)
			}
		})
	}
	if e.engine.runs.Load() != 0 {
		t.Errorf("%d engine queries ran", e.engine.runs.Load())
	}
}

// duplicates is `{ me { user { name } user { name } … } }` with n copies.
func duplicates(n int) string {
	return "{ me { " + strings.Repeat("user { name } ", n) + "} }"
}

// fragmentBomb doubles the fields at each of levels fragments: small to
// send, 2^levels fields to validate and execute.
func fragmentBomb(levels int) string {
	var b strings.Builder
	b.WriteString("{ me { ...F0 } }\n")
	for i := range levels {
		fmt.Fprintf(&b, "fragment F%d on Me { ...F%d ...F%d }\n", i, i+1, i+1)
	}
	fmt.Fprintf(&b, "fragment F%d on Me { user { name } }\n", levels)
	return b.String()
}

// aliases is n aliases of the topN the issue reports.
func aliases(n int) string {
	var b strings.Builder
	b.WriteString("{ ")
	for i := range n {
		fmt.Fprintf(&b, `a%d: topN(from: "-24h", by: ["src_addr"], limit: 1) { rows { keys values } } `, i)
	}
	b.WriteString("}")
	return b.String()
}

// TestGraphQLDocumentLimits (issue 16 items 7 and 8): documents too
// large, with too many fields (20 000 duplicates took 300 s of CPU in
// validation) or too many aliases (1 000 topN took the core to 23 GB) are
// refused with a 4xx before validation or any engine query.
func TestGraphQLDocumentLimits(t *testing.T) {
	e := newLimitEnv(t, graph.Config{})
	for _, tc := range []struct {
		name   string
		query  string
		status int
		code   string
	}{
		{"20 000 duplicate fields (280 KB)", duplicates(20_000), http.StatusRequestEntityTooLarge, graph.CodeRequestTooLarge},
		{"4 000 duplicate fields (56 KB)", duplicates(4_000), http.StatusUnprocessableEntity, graph.CodeFieldLimit},
		{"fragments doubling 40 times", fragmentBomb(40), http.StatusUnprocessableEntity, graph.CodeFieldLimit},
		{"1 000 aliases of topN", aliases(1_000), http.StatusRequestEntityTooLarge, graph.CodeRequestTooLarge},
		{"200 aliases of topN", aliases(200), http.StatusUnprocessableEntity, graph.CodeAliasLimit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := gqlBody(t, tc.query, nil)
			status, a, _ := e.post(t, bytes.NewReader(body), int64(len(body)))
			if status != tc.status || a.code() != tc.code {
				t.Fatalf("status %d, errors %.300v; want %d %s", status, a.Errors, tc.status, tc.code)
			}
		})
	}
	// Under the limits, duplicates merge and answer.
	body := gqlBody(t, duplicates(400), nil)
	if status, a, _ := e.post(t, bytes.NewReader(body), int64(len(body))); status != http.StatusOK || len(a.Errors) != 0 {
		t.Errorf("400 duplicates: %d %+v", status, a.Errors)
	}
	if n := e.engine.runs.Load(); n != 0 {
		t.Errorf("%d engine queries ran for refused documents", n)
	}
}

// TestGraphQLScanLimit (issue 16 item 7): an operation is costed by what
// its engine queries would scan, as the engine's EXPLAIN plans them, and
// by how many it would run; over either limit it is refused with 422
// before any query runs.
func TestGraphQLScanLimit(t *testing.T) {
	probe := newLimitEnv(t, graph.Config{})
	plan, err := probe.engine.Explain(t.Context(), query.Query{Dataset: "flows", From: "-24h", GroupBy: []string{"src_addr"},
		Metrics: []string{"sum(bytes)", "count()"}, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	per := plan.Stats.RowGroups - plan.Stats.RowGroupsPruned - plan.Stats.RowGroupsBloom
	if per < 2 {
		t.Fatalf("the test lake plans %d row groups for a day's topN; the limits below need several", per)
	}
	e := newLimitEnv(t, graph.Config{MaxScanRowGroups: 3 * per})
	for _, tc := range []struct {
		name   string
		query  string
		status int
		code   string
		rgs    int // planned row groups reported
	}{
		{"three topN fit", aliases(3), http.StatusOK, "", 0},
		{"four topN scan too much", aliases(4), http.StatusUnprocessableEntity, graph.CodeScanLimit, 4 * per},
		{"seventeen topN are too many queries", aliases(17), http.StatusUnprocessableEntity, graph.CodeQueryLimit, 0},
		{"a connection with its probe and total counts three", `{ a: flows(from: "-24h", first: 1) { nodes { time } pageInfo { hasNextPage } totalCount } b: ` +
			`topN(from: "-24h", by: ["src_addr"], limit: 1) { rows { keys } } }`, http.StatusUnprocessableEntity, graph.CodeScanLimit, 4 * per},
		{"twelve topN whose filter prunes every row group fit", strings.ReplaceAll(aliases(12), `limit: 1)`, `limit: 1, filter: "src host 203.0.113.77")`),
			http.StatusOK, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.engine.runs.Load()
			body := gqlBody(t, tc.query, nil)
			status, a, _ := e.post(t, bytes.NewReader(body), int64(len(body)))
			if status != tc.status || a.code() != tc.code {
				t.Fatalf("status %d, errors %.300v; want %d %q", status, a.Errors, tc.status, tc.code)
			}
			ran := e.engine.runs.Load() - before
			if tc.status != http.StatusOK {
				if ran != 0 {
					t.Errorf("%d engine queries ran before the refusal", ran)
				}
				if tc.rgs > 0 && a.Errors[0].Extensions["rowGroups"] != float64(tc.rgs) {
					t.Errorf("rowGroups %v, want %d", a.Errors[0].Extensions["rowGroups"], tc.rgs)
				}
			} else if ran == 0 {
				t.Error("an accepted operation ran no query")
			}
		})
	}
}

// TestGraphQLStopsWhenClientLeaves (issue 16 item 8): the engine queries
// of a request run under its context, which ends when the client goes
// away, over a real connection.
func TestGraphQLStopsWhenClientLeaves(t *testing.T) {
	st := openStore(t)
	running, stopped := make(chan struct{}), make(chan error, 1)
	q := blockingQuerier{running: running, stopped: stopped}
	cfg := DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	srv, err := New(cfg, Deps{Datasets: fakeLister{}, Query: q, Meta: st})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	e := &env{srv: srv, store: st}
	token := e.userToken(t, "vic", meta.RoleViewer)

	ctx, cancel := context.WithCancel(t.Context())
	body := gqlBody(t, `{ topN(by: ["src_addr"]) { rows { keys } } }`, nil)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+srv.Addr().String()+PathGraphQL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	done := make(chan error, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
		}
		done <- err
	}()
	<-running
	cancel() // the client leaves
	if err := <-done; err == nil {
		t.Error("the request finished although the client left")
	}
	if err := <-stopped; err == nil {
		t.Error("the query stopped without its context ending")
	}
}

// blockingQuerier runs every query until its context ends, and reports
// why it stopped.
type blockingQuerier struct {
	running chan struct{}
	stopped chan error
}

func (b blockingQuerier) Run(ctx context.Context, _ query.Query) (*query.Result, error) {
	close(b.running)
	<-ctx.Done()
	b.stopped <- ctx.Err()
	return nil, ctx.Err()
}

// TestGraphQLIntegersPrintAsIntegers (issue 16 item 18): counters print
// as exact integers and floats without exponent (2.197380078e+09 was
// printed for a sum of bytes), through the server's HTTP answer.
func TestGraphQLIntegersPrintAsIntegers(t *testing.T) {
	e := newLimitEnv(t, graph.Config{})
	res, err := e.engine.Run(t.Context(), query.Query{Dataset: "flows", From: "-24h", Metrics: []string{"sum(bytes)", "count()", "avg(bytes)"}})
	if err != nil {
		t.Fatal(err)
	}
	sum, count, avg := query.FormatValue(res.Records[0].Column(0), 0), query.FormatValue(res.Records[0].Column(1), 0), query.FormatValue(res.Records[0].Column(2), 0)
	res.Release()
	if len(sum) < 7 {
		t.Fatalf("sum(bytes) %s is too small to tell exponents", sum)
	}
	body := gqlBody(t, `{
  aggregate(from: "-24h", metrics: ["sum(bytes)", "count()", "avg(bytes)"]) { rows { values } }
  timeSeries(from: "-24h", bucket: "1h", metrics: ["sum(bytes)", "bps()"]) { series { points { values } } }
}`, nil)
	status, a, raw := e.post(t, bytes.NewReader(body), int64(len(body)))
	if status != http.StatusOK || len(a.Errors) != 0 {
		t.Fatalf("%d %+v", status, a.Errors)
	}
	var got struct {
		Aggregate struct {
			Rows []struct{ Values []json.RawMessage }
		}
	}
	if err := json.Unmarshal(a.Data, &got); err != nil {
		t.Fatal(err)
	}
	vals := got.Aggregate.Rows[0].Values
	if string(vals[0]) != sum || string(vals[1]) != count {
		t.Errorf("sum and count print as %s %s, want %s %s", vals[0], vals[1], sum, count)
	}
	if f, err := strconv.ParseFloat(string(vals[2]), 64); err != nil || strconv.FormatFloat(f, 'f', -1, 64) != string(vals[2]) {
		t.Errorf("avg prints as %s (engine: %s), want plain digits", vals[2], avg)
	}
	if strings.Contains(raw, "e+") || strings.Contains(raw, "E+") {
		t.Errorf("the answer has exponents: %.400s", raw)
	}
}

// TestGraphQLRowLimit: an aggregate answer is bounded by MaxRows: a
// larger limit is INVALID, every group (limit 0) or a time series past
// it fails whole with 422 ROW_LIMIT_EXCEEDED.
func TestGraphQLRowLimit(t *testing.T) {
	e := newLimitEnv(t, graph.Config{MaxRows: 50})
	for _, tc := range []struct {
		name, query string
		status      int
		code        string
	}{
		{"limit over the bound", `{ aggregate(from: "-24h", groupBy: ["src_addr"], limit: 51) { rows { keys } } }`, http.StatusOK, graph.CodeInvalid},
		{"every group past the bound", `{ aggregate(from: "-24h", groupBy: ["src_addr", "dst_addr"], limit: 0) { rows { keys } } }`,
			http.StatusUnprocessableEntity, graph.CodeRowLimit},
		{"a time series past the bound", `{ timeSeries(from: "-24h", bucket: "1m") { series { points { time } } } }`,
			http.StatusUnprocessableEntity, graph.CodeRowLimit},
		{"within the bound", `{ aggregate(from: "-24h", groupBy: ["proto"], limit: 0) { rows { keys } } }`, http.StatusOK, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := gqlBody(t, tc.query, nil)
			status, a, _ := e.post(t, bytes.NewReader(body), int64(len(body)))
			if status != tc.status || a.code() != tc.code {
				t.Fatalf("status %d, errors %.300v; want %d %q", status, a.Errors, tc.status, tc.code)
			}
		})
	}
}

// TestGraphQLAdmission: with every slot taken, an operation waits
// AdmissionWait and is refused with 429 OVERLOADED and Retry-After; the
// slot's operation then finishes and frees it.
func TestGraphQLAdmission(t *testing.T) {
	st := openStore(t)
	running, stopped := make(chan struct{}), make(chan error, 1)
	cfg := DefaultConfig()
	cfg.GraphQL = graph.Config{MaxConcurrent: 1, AdmissionWait: time.Millisecond}
	srv, err := New(cfg, Deps{Datasets: fakeLister{}, Query: blockingQuerier{running: running, stopped: stopped}, Meta: st})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{srv: srv, store: st}
	token := e.userToken(t, "vic", meta.RoleViewer)
	send := func(ctx context.Context) *httptest.ResponseRecorder {
		body := gqlBody(t, `{ topN(by: ["src_addr"]) { rows { keys } } }`, nil)
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, PathGraphQL, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		return rec
	}
	ctx, cancel := context.WithCancel(t.Context())
	first := make(chan *httptest.ResponseRecorder, 1)
	go func() { first <- send(ctx) }()
	<-running // the first operation holds the only slot
	rec := send(t.Context())
	var a gqlAnswer
	if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusTooManyRequests || a.code() != graph.CodeOverloaded || rec.Header().Get("Retry-After") == "" {
		t.Errorf("second operation: %d %v %q", rec.Code, a.Errors, rec.Header().Get("Retry-After"))
	}
	cancel()
	<-stopped
	<-first
}

// TestGraphQLRequestShape: requests that are not GraphQL over HTTP are
// refused with the status of their fault and a BAD_REQUEST or
// UNSUPPORTED_MEDIA_TYPE code, never INTERNAL.
func TestGraphQLRequestShape(t *testing.T) {
	e := newLimitEnv(t, graph.Config{})
	for _, tc := range []struct {
		name, method, target, ctype, body string
		status                            int
		code                              string
	}{
		{"GET with variables that are not JSON", http.MethodGet, PathGraphQL + "?query=%7Bme%7Bpermissions%7D%7D&variables=%7Bnope", "", "", http.StatusBadRequest, graph.CodeBadRequest},
		{"GET with a bad query string", http.MethodGet, PathGraphQL + "?query=%zz", "", "", http.StatusBadRequest, graph.CodeBadRequest},
		{"POST of text", http.MethodPost, PathGraphQL, "text/plain", `{"query":"{ me { permissions } }"}`, http.StatusUnsupportedMediaType, graph.CodeUnsupportedMediaType},
		{"POST of an empty body", http.MethodPost, PathGraphQL, "application/json", ``, http.StatusBadRequest, graph.CodeBadRequest},
		{"POST of a document that does not parse", http.MethodPost, PathGraphQL, "application/json", `{"query":"{ me { "}`, http.StatusBadRequest, "GRAPHQL_PARSE_FAILED"},
		{"GET that answers", http.MethodGet, PathGraphQL + "?query=%7Bme%7Bpermissions%7D%7D", "", "", http.StatusOK, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			req.Header.Set("Authorization", "Bearer "+e.viewer)
			rec := httptest.NewRecorder()
			e.srv.Handler().ServeHTTP(rec, req)
			var a gqlAnswer
			if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
				t.Fatalf("%d %s: %v", rec.Code, rec.Body, err)
			}
			if rec.Code != tc.status || a.code() != tc.code {
				t.Errorf("status %d, errors %+v; want %d %q", rec.Code, a.Errors, tc.status, tc.code)
			}
		})
	}
}

// TestGraphQLScanRowsLimit (issue 16 item 7): the scan is also costed in
// the rows the engine's plan will read (RowsPlanned), summed over the
// operation's queries.
func TestGraphQLScanRowsLimit(t *testing.T) {
	probe := newLimitEnv(t, graph.Config{})
	plan, err := probe.engine.Explain(t.Context(), query.Query{Dataset: "flows", From: "-24h", GroupBy: []string{"src_addr"},
		Metrics: []string{"sum(bytes)", "count()"}, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	rows := plan.Stats.RowsPlanned
	if rows < 1000 {
		t.Fatalf("the test lake plans %d rows for a day's topN", rows)
	}
	e := newLimitEnv(t, graph.Config{MaxScanRows: 3 * rows})
	for _, tc := range []struct {
		name   string
		n      int
		status int
		code   string
	}{
		{"three topN fit", 3, http.StatusOK, ""},
		{"four topN read too many rows", 4, http.StatusUnprocessableEntity, graph.CodeScanLimit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.engine.runs.Load()
			body := gqlBody(t, aliases(tc.n), nil)
			status, a, _ := e.post(t, bytes.NewReader(body), int64(len(body)))
			if status != tc.status || a.code() != tc.code {
				t.Fatalf("status %d, errors %.300v; want %d %q", status, a.Errors, tc.status, tc.code)
			}
			if tc.status != http.StatusOK {
				if ran := e.engine.runs.Load() - before; ran != 0 {
					t.Errorf("%d engine queries ran before the refusal", ran)
				}
				if got := a.Errors[0].Extensions["rows"]; got != float64(4*rows) {
					t.Errorf("rows %v, want %d", got, 4*rows)
				}
			}
		})
	}
}
