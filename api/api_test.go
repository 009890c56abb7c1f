package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/meta"
	"github.com/flowlake/flowlake/storage/schema"
)

// fakeLister is a DatasetLister returning fixed stats or an error.
type fakeLister struct {
	stats []lake.DatasetStats
	err   error
}

func (f fakeLister) Stats(context.Context) ([]lake.DatasetStats, error) { return f.stats, f.err }

var _ DatasetLister = fakeLister{}

// newTestServer builds a server over l and a real metadata store in a
// temporary directory, and returns it with its log and an administrator's
// token.
func newTestServer(t *testing.T, l DatasetLister) (*Server, *bytes.Buffer, string) {
	t.Helper()
	env := newEnv(t, DefaultConfig(), l)
	return env.srv, env.logs, env.admin
}

// do sends a request with a bearer token (none if token is empty).
func do(t *testing.T, h http.Handler, method, path, token string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(method, path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	h.ServeHTTP(rec, req)
	return rec
}

func TestRoutes(t *testing.T) {
	t0 := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	t1 := t0.Add(90 * time.Minute)
	stats := []lake.DatasetStats{
		{Dataset: "flows", Rows: 1000, Bytes: 25000, Files: 3, Partitions: 2, MinTime: t0, MaxTime: t1},
		{Dataset: "dhcp_events", Rows: 10, Bytes: 1000, Files: 1, Partitions: 1, MinTime: t0, MaxTime: t0},
		{Dataset: "flows_1m", Rows: 4, Bytes: 400, Files: 1, Partitions: 1, MinTime: t0, MaxTime: t0},
	}
	ok := fakeLister{stats: stats}
	failing := fakeLister{err: errors.New("disk on fire")}
	tests := []struct {
		name        string
		lister      DatasetLister
		method      string
		path        string
		status      int
		contentType string
		body        string // JSON, compared structurally
	}{
		{"health", ok, http.MethodGet, "/healthz", 200, "application/json", `{"status":"ok"}`},
		{"ready", ok, http.MethodGet, "/readyz", 200, "application/json", `{"status":"ready"}`},
		{"datasets", ok, http.MethodGet, "/api/v1/datasets", 200, "application/json", `{"datasets":[
			{"dataset":"flows","rows":1000,"bytes":25000,"bytes_per_row":25,"files":3,"partitions":2,"min_time":"2026-11-03T10:00:00Z","max_time":"2026-11-03T11:30:00Z"},
			{"dataset":"tcp_conns","rows":0,"bytes":0,"bytes_per_row":0,"files":0,"partitions":0,"min_time":null,"max_time":null},
			{"dataset":"tcp_packets","rows":0,"bytes":0,"bytes_per_row":0,"files":0,"partitions":0,"min_time":null,"max_time":null},
			{"dataset":"dhcp_events","rows":10,"bytes":1000,"bytes_per_row":100,"files":1,"partitions":1,"min_time":"2026-11-03T10:00:00Z","max_time":"2026-11-03T10:00:00Z"},
			{"dataset":"dhcp_leases","rows":0,"bytes":0,"bytes_per_row":0,"files":0,"partitions":0,"min_time":null,"max_time":null},
			{"dataset":"cloud_conn","rows":0,"bytes":0,"bytes_per_row":0,"files":0,"partitions":0,"min_time":null,"max_time":null},
			{"dataset":"flow_loss","rows":0,"bytes":0,"bytes_per_row":0,"files":0,"partitions":0,"min_time":null,"max_time":null},
			{"dataset":"flows_1m","derived_from":"flows","rows":4,"bytes":400,"bytes_per_row":100,"files":1,"partitions":1,"min_time":"2026-11-03T10:00:00Z","max_time":"2026-11-03T10:00:00Z"},
			{"dataset":"flows_1h","derived_from":"flows","rows":0,"bytes":0,"bytes_per_row":0,"files":0,"partitions":0,"min_time":null,"max_time":null},
			{"dataset":"flows_1d","derived_from":"flows","rows":0,"bytes":0,"bytes_per_row":0,"files":0,"partitions":0,"min_time":null,"max_time":null},
			{"dataset":"flows_hosts_1h","derived_from":"flows","rows":0,"bytes":0,"bytes_per_row":0,"files":0,"partitions":0,"min_time":null,"max_time":null},
			{"dataset":"flows_hosts_1d","derived_from":"flows","rows":0,"bytes":0,"bytes_per_row":0,"files":0,"partitions":0,"min_time":null,"max_time":null},
			{"dataset":"tcp_conns_1d","derived_from":"tcp_conns","rows":0,"bytes":0,"bytes_per_row":0,"files":0,"partitions":0,"min_time":null,"max_time":null},
			{"dataset":"dhcp_events_1d","derived_from":"dhcp_events","rows":0,"bytes":0,"bytes_per_row":0,"files":0,"partitions":0,"min_time":null,"max_time":null},
			{"dataset":"cloud_conn_1d","derived_from":"cloud_conn","rows":0,"bytes":0,"bytes_per_row":0,"files":0,"partitions":0,"min_time":null,"max_time":null},
			{"dataset":"flow_loss_1d","derived_from":"flow_loss","rows":0,"bytes":0,"bytes_per_row":0,"files":0,"partitions":0,"min_time":null,"max_time":null}]}`},
		{"datasets of an empty lake", fakeLister{}, http.MethodGet, "/api/v1/datasets", 200, "application/json", `{"datasets":[
			{"dataset":"flows","rows":0,"bytes":0,"bytes_per_row":0,"files":0,"partitions":0,"min_time":null,"max_time":null},
			{"dataset":"tcp_conns","rows":0,"bytes":0,"bytes_per_row":0,"files":0,"partitions":0,"min_time":null,"max_time":null},
			{"dataset":"tcp_packets","rows":0,"bytes":0,"bytes_per_row":0,"files":0,"partitions":0,"min_time":null,"max_time":null},
			{"dataset":"dhcp_events","rows":0,"bytes":0,"bytes_per_row":0,"files":0,"partitions":0,"min_time":null,"max_time":null},
			{"dataset":"dhcp_leases","rows":0,"bytes":0,"bytes_per_row":0,"files":0,"partitions":0,"min_time":null,"max_time":null},
			{"dataset":"cloud_conn","rows":0,"bytes":0,"bytes_per_row":0,"files":0,"partitions":0,"min_time":null,"max_time":null},
			{"dataset":"flow_loss","rows":0,"bytes":0,"bytes_per_row":0,"files":0,"partitions":0,"min_time":null,"max_time":null},
			{"dataset":"flows_1m","derived_from":"flows","rows":0,"bytes":0,"bytes_per_row":0,"files":0,"partitions":0,"min_time":null,"max_time":null},
			{"dataset":"flows_1h","derived_from":"flows","rows":0,"bytes":0,"bytes_per_row":0,"files":0,"partitions":0,"min_time":null,"max_time":null},
			{"dataset":"flows_1d","derived_from":"flows","rows":0,"bytes":0,"bytes_per_row":0,"files":0,"partitions":0,"min_time":null,"max_time":null},
			{"dataset":"flows_hosts_1h","derived_from":"flows","rows":0,"bytes":0,"bytes_per_row":0,"files":0,"partitions":0,"min_time":null,"max_time":null},
			{"dataset":"flows_hosts_1d","derived_from":"flows","rows":0,"bytes":0,"bytes_per_row":0,"files":0,"partitions":0,"min_time":null,"max_time":null},
			{"dataset":"tcp_conns_1d","derived_from":"tcp_conns","rows":0,"bytes":0,"bytes_per_row":0,"files":0,"partitions":0,"min_time":null,"max_time":null},
			{"dataset":"dhcp_events_1d","derived_from":"dhcp_events","rows":0,"bytes":0,"bytes_per_row":0,"files":0,"partitions":0,"min_time":null,"max_time":null},
			{"dataset":"cloud_conn_1d","derived_from":"cloud_conn","rows":0,"bytes":0,"bytes_per_row":0,"files":0,"partitions":0,"min_time":null,"max_time":null},
			{"dataset":"flow_loss_1d","derived_from":"flow_loss","rows":0,"bytes":0,"bytes_per_row":0,"files":0,"partitions":0,"min_time":null,"max_time":null}]}`},
		{"datasets failing", failing, http.MethodGet, "/api/v1/datasets", 500, ProblemContentType,
			`{"type":"urn:flowlake:problem:internal","title":"Internal Server Error","status":500,"detail":"internal error; the server log has the cause","code":"internal","instance":"/api/v1/datasets"}`},
		{"unknown route", ok, http.MethodGet, "/api/v1/nope", 404, ProblemContentType,
			`{"type":"urn:flowlake:problem:not_found","title":"Not Found","status":404,"code":"not_found","instance":"/api/v1/nope"}`},
		{"wrong method", ok, http.MethodPost, "/api/v1/datasets", 405, ProblemContentType,
			`{"type":"urn:flowlake:problem:method_not_allowed","title":"Method Not Allowed","status":405,"code":"method_not_allowed","instance":"/api/v1/datasets"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, token := newTestServer(t, tt.lister)
			rec := do(t, s.Handler(), tt.method, tt.path, token)
			if rec.Code != tt.status {
				t.Errorf("status = %d, want %d; body %s", rec.Code, tt.status, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, tt.contentType) {
				t.Errorf("Content-Type = %q, want %q", ct, tt.contentType)
			}
			if rec.Header().Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id in the response")
			}
			var got, want any
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("response is not JSON: %v: %s", err, rec.Body)
			}
			if err := json.Unmarshal([]byte(tt.body), &want); err != nil {
				t.Fatalf("bad test body: %v", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("body mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestErrorIsLoggedNotLeaked(t *testing.T) {
	s, logs, token := newTestServer(t, fakeLister{err: errors.New("disk on fire")})
	rec := do(t, s.Handler(), http.MethodGet, PathDatasets, token)
	if strings.Contains(rec.Body.String(), "disk on fire") {
		t.Errorf("internal cause leaked to the client: %s", rec.Body)
	}
	if !strings.Contains(logs.String(), "disk on fire") {
		t.Errorf("cause missing from the log:\n%s", logs)
	}
	if !strings.Contains(logs.String(), rec.Header().Get("X-Request-Id")) {
		t.Errorf("request id missing from the log:\n%s", logs)
	}
}

func TestMetrics(t *testing.T) {
	s, _, token := newTestServer(t, fakeLister{err: errors.New("boom")})
	do(t, s.Handler(), http.MethodGet, PathHealth, "")
	do(t, s.Handler(), http.MethodGet, PathHealth, "")
	do(t, s.Handler(), http.MethodGet, PathDatasets, token)
	do(t, s.Handler(), http.MethodGet, "/nope/1", "")
	do(t, s.Handler(), http.MethodGet, PathDatasets, "")
	rec := do(t, s.Handler(), http.MethodGet, PathMetrics, token)
	if rec.Code != 200 {
		t.Fatalf("GET /metrics = %d", rec.Code)
	}
	for _, want := range []string{
		`flowlake_http_requests_total{code="200",method="GET",route="/healthz"} 2`,
		`flowlake_http_requests_total{code="500",method="GET",route="/api/v1/datasets"} 1`,
		`flowlake_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`flowlake_http_requests_total{code="401",method="GET",route="/api/v1/datasets"} 1`,
		`flowlake_http_request_duration_seconds_count{method="GET",route="/healthz"} 2`,
		`flowlake_http_requests_in_flight 1`, // the /metrics request itself
	} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestProblemFor(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		code   string
		detail string
	}{
		{"invalid", fmt.Errorf("%w: bad time range", ErrInvalid), 400, CodeInvalid, "invalid request: bad time range"},
		{"not found", fmt.Errorf("dataset x: %w", ErrNotFound), 404, CodeNotFound, "dataset x: not found"},
		{"unavailable", ErrUnavailable, 503, CodeUnavailable, "unavailable"},
		{"deadline", fmt.Errorf("scan: %w", context.DeadlineExceeded), 504, CodeTimeout, "the request took too long"},
		{"canceled", context.Canceled, 499, CodeCanceled, "the request was canceled"},
		{"other", io.ErrUnexpectedEOF, 500, CodeInternal, "internal error; the server log has the cause"},
		{"meta invalid", fmt.Errorf("create user: %w: user name", meta.ErrInvalid), 400, CodeInvalid, "create user: invalid: user name"},
		{"meta not found", fmt.Errorf("get user: %w", meta.ErrNotFound), 404, CodeNotFound, "get user: not found"},
		{"meta conflict", fmt.Errorf("create user: %w: already exists", meta.ErrConflict), 409, CodeConflict, "create user: conflict: already exists"},
		{"immutable", fmt.Errorf("update role admin: %w", meta.ErrImmutable), 409, CodeImmutable, "update role admin: built in and immutable"},
		{"unauthenticated", fmt.Errorf("token: %w", meta.ErrUnauthenticated), 401, CodeUnauthenticated, "missing, invalid or expired credentials"},
		{"forbidden", fmt.Errorf("%w: needs x", ErrForbidden), 403, CodeForbidden, "forbidden: needs x"},
		{"rate limited", ErrRateLimited, 429, CodeRateLimited, "too many attempts"},
		{"closed", fmt.Errorf("list users: %w", meta.ErrClosed), 503, CodeUnavailable, "metadata store unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := problemFor(tt.err)
			got := []any{p.Status, p.Code, p.Detail, p.Type}
			want := []any{tt.status, tt.code, tt.detail, "urn:flowlake:problem:" + tt.code}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("problemFor(%v) (-want +got):\n%s", tt.err, diff)
			}
		})
	}
}

func TestStartStop(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	env := newEnv(t, cfg, fakeLister{})
	s := env.srv
	if err := s.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	waited := make(chan error, 1)
	go func() { waited <- s.Wait() }()

	req, _ := http.NewRequest(http.MethodGet, "http://"+s.Addr().String()+PathDatasets, nil)
	req.Header.Set("Authorization", "Bearer "+env.admin)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	var body DatasetsResponse
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatalf("decode: %v", err)
	}
	res.Body.Close()
	if len(body.Datasets) != len(schema.Names()) {
		t.Errorf("got %d datasets, want %d", len(body.Datasets), len(schema.Names()))
	}

	if err := s.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if err := <-waited; err != nil {
		t.Errorf("Wait after Stop = %v, want nil", err)
	}
	if rec := do(t, s.Handler(), http.MethodGet, PathReady, ""); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("readyz after Stop = %d, want 503", rec.Code)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestStartAddressInUse(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	store := openStore(t)
	a, err := New(cfg, Deps{Datasets: fakeLister{}, Meta: store})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	cfg.Listen = a.Addr().String()
	b, err := New(cfg, Deps{Datasets: fakeLister{}, Meta: store})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(t.Context()); err == nil {
		b.Stop()
		t.Fatal("second server bound the same address")
	}
}

func TestConfigValidate(t *testing.T) {
	f := func(name string, mutate func(*Config), wantErr string) {
		t.Run(name, func(t *testing.T) {
			c := DefaultConfig()
			mutate(&c)
			err := c.Validate()
			switch {
			case wantErr == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
				t.Errorf("error = %v, want it to contain %q", err, wantErr)
			}
		})
	}
	f("default", func(*Config) {}, "")
	f("any port", func(c *Config) { c.Listen = ":0" }, "")
	f("empty listen", func(c *Config) { c.Listen = "" }, "listen: empty")
	f("no port", func(c *Config) { c.Listen = "localhost" }, "missing port")
	f("negative", func(c *Config) { c.IdleTimeout = -time.Second }, "idle_timeout: negative")
	f("no header timeout", func(c *Config) { c.ReadHeaderTimeout = 0 }, "read_header_timeout")
	f("no login failures", func(c *Config) { c.LoginMaxFailures = 0 }, "login_max_failures 0")
	f("short login window", func(c *Config) { c.LoginWindow = time.Millisecond }, "login_window 1ms")
}

func TestNewNeedsDeps(t *testing.T) {
	if _, err := New(DefaultConfig(), Deps{Meta: openStore(t)}); err == nil {
		t.Error("New without a dataset lister succeeded")
	}
	if _, err := New(DefaultConfig(), Deps{Datasets: fakeLister{}}); err == nil {
		t.Error("New without a metadata store succeeded")
	}
}
