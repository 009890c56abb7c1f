package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/flowlake/flowlake/storage/meta"
	"github.com/flowlake/flowlake/storage/query"
)

// The fuzz targets run their seeds (testdata/fuzz/… and the ones added in
// code, the hostile requests of issue 16 generated rather than stored)
// in every `go test`, so CI exercises them; `go test -fuzz` explores.

// fuzzEngine answers every query with an error the presenter must place:
// a filter error pointing into the filter, or a memory budget refusal.
// Its plans cost a few row groups.
type fuzzEngine struct{}

func (fuzzEngine) Run(_ context.Context, q query.Query) (*query.Result, error) {
	if q.Filter != "" {
		pos := len(q.Filter) / 2
		return nil, &query.SpecError{Field: "filter", Msg: "bad filter", Err: &query.FilterError{Pos: pos, Expected: "a value", Got: "x", Src: q.Filter}}
	}
	return nil, fmt.Errorf("run: %w", query.ErrMemoryBudget)
}

func (fuzzEngine) Explain(context.Context, query.Query) (query.Plan, error) {
	return query.Plan{Stats: query.Stats{RowGroups: 5, RowGroupsPruned: 1}}, nil
}

// emptyMeta is a metadata store with no objects; the viewer of the fuzz
// target cannot change it. (The real store under coverage
// instrumentation makes fuzzing crawl.)
type emptyMeta struct{}

var _ MetaStore = emptyMeta{}

func (emptyMeta) CreateUser(context.Context, meta.NewUser) (meta.User, error) {
	return meta.User{}, meta.ErrInvalid
}
func (emptyMeta) GetUser(context.Context, string) (meta.User, error) {
	return meta.User{}, meta.ErrNotFound
}
func (emptyMeta) ListUsers(context.Context) ([]meta.User, error) { return nil, nil }
func (emptyMeta) UpdateUser(context.Context, string, meta.UserUpdate) (meta.User, error) {
	return meta.User{}, meta.ErrNotFound
}
func (emptyMeta) DeleteUser(context.Context, string) error             { return meta.ErrNotFound }
func (emptyMeta) ListRoles(context.Context) ([]meta.Role, error)       { return meta.BuiltinRoles(), nil }
func (emptyMeta) ListIPGroups(context.Context) ([]meta.IPGroup, error) { return nil, nil }
func (emptyMeta) CreateIPGroup(context.Context, meta.IPGroupInput) (meta.IPGroup, error) {
	return meta.IPGroup{}, meta.ErrInvalid
}
func (emptyMeta) GetIPGroup(context.Context, string) (meta.IPGroup, error) {
	return meta.IPGroup{}, meta.ErrNotFound
}
func (emptyMeta) UpdateIPGroup(context.Context, string, meta.IPGroupInput) (meta.IPGroup, error) {
	return meta.IPGroup{}, meta.ErrNotFound
}
func (emptyMeta) DeleteIPGroup(context.Context, string) error { return meta.ErrNotFound }
func (emptyMeta) CreateApplication(context.Context, meta.ApplicationInput) (meta.Application, error) {
	return meta.Application{}, meta.ErrInvalid
}
func (emptyMeta) GetApplication(context.Context, string) (meta.Application, error) {
	return meta.Application{}, meta.ErrNotFound
}
func (emptyMeta) ListApplications(context.Context) ([]meta.Application, error) { return nil, nil }
func (emptyMeta) UpdateApplication(context.Context, string, meta.ApplicationInput) (meta.Application, error) {
	return meta.Application{}, meta.ErrNotFound
}
func (emptyMeta) DeleteApplication(context.Context, string) error { return meta.ErrNotFound }

// hostileSeeds are issue 16's hostile requests and their neighbours.
func hostileSeeds() []string {
	req := func(q string, vars map[string]any) string {
		b, _ := json.Marshal(map[string]any{"query": q, "variables": vars})
		return string(b)
	}
	var aliases strings.Builder
	aliases.WriteString("{ ")
	for i := range 1_000 {
		fmt.Fprintf(&aliases, `a%d: topN(from: "-24h", by: ["src_addr"], limit: 1) { rows { keys values } } `, i)
	}
	aliases.WriteString("}")
	var bomb strings.Builder
	bomb.WriteString("{ me { ...F0 } }\n")
	for i := range 30 {
		fmt.Fprintf(&bomb, "fragment F%d on Me { ...F%d ...F%d }\n", i, i+1, i+1)
	}
	bomb.WriteString("fragment F30 on Me { user { name } }\n")
	return []string{
		req(aliases.String(), nil),
		req("{ me { "+strings.Repeat("user { name } ", 20_000)+"} }", nil),
		req("{ me { "+strings.Repeat("user { name } ", 2_000)+"} }", nil),
		req(bomb.String(), nil),
		`{"query":"{ me { user { name } } }","extensions":{"x":"` + strings.Repeat("A", DefaultMaxBodyBytes) + `"}}`,
		`{"query": "mutation { createUser(input: {name: \"eve\", role: \"admin\", password: \"hunter2\"}) { id } }", oops}`,
		req(`{ a: flows(filter: "dst port foo", first: 3) { nodes { time } pageInfo { hasNextPage } totalCount } }`, nil),
		req(`query($f: String) { topN(by: ["src_addr"], filter: $f) { rows { keys values } } }`, map[string]any{"f": "src host ∞é"}),
		req(strings.Repeat("{ me ", 5_000)+strings.Repeat("}", 5_000), nil),
	}
}

// FuzzGraphQLRequest sends raw POST bodies through the handler as a
// viewer: whatever the body, the answer is JSON with a status of the
// documented set, every error has a code, none is an internal error or
// a panic, and no answer outgrows its request by more than a bound.
func FuzzGraphQLRequest(f *testing.F) {
	for _, s := range hostileSeeds() {
		f.Add([]byte(s))
	}
	h, err := New(Config{}, Deps{Query: fuzzEngine{}, Planner: fuzzEngine{}, Meta: emptyMeta{}, Datasets: noDatasets{}})
	if err != nil {
		f.Fatal(err)
	}
	var perms []meta.Permission
	for _, r := range meta.BuiltinRoles() {
		if r.Name == meta.RoleViewer {
			perms = r.Permissions
		}
	}
	caller := Caller{Principal: meta.Principal{User: meta.User{Name: "vic", Role: meta.RoleViewer}, Permissions: meta.NewPermissionSet(perms...)}}
	allowed := map[int]bool{200: true, 400: true, 406: true, 413: true, 415: true, 422: true, 429: true}
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, DefaultEndpoint, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req = req.WithContext(WithCaller(req.Context(), caller))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if !allowed[rec.Code] {
			t.Fatalf("status %d: %.500s", rec.Code, rec.Body)
		}
		var resp struct {
			Data   json.RawMessage
			Errors []struct {
				Message    string
				Extensions map[string]any
			}
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatalf("answer is not JSON: %v: %.500s", err, rec.Body)
		}
		if rec.Code != http.StatusOK && len(resp.Errors) == 0 {
			t.Fatalf("status %d without errors", rec.Code)
		}
		for _, e := range resp.Errors {
			code, _ := e.Extensions["code"].(string)
			if code == "" || code == CodeInternal {
				t.Fatalf("error %q has code %q", e.Message, code)
			}
		}
		// Validation may report every bad part of the document, but a
		// refusal never quotes a large body back.
		if rec.Code >= 400 && rec.Body.Len() > 4096+64*min(len(body), DefaultMaxQueryBytes) {
			t.Fatalf("a refusal of %d bytes for a body of %d", rec.Body.Len(), len(body))
		}
	})
}

// FuzzPageCursor decodes any string as a connection cursor: it is a
// cursor of this API (and encodes back to itself's meaning) or an
// INVALID error, never a panic.
func FuzzPageCursor(f *testing.F) {
	for _, s := range []string{"", "gc1.", "gc1.e30", pageCursor{Engine: "abc", Skip: 7}.encode(), pageCursor{Skip: 1 << 40}.encode(),
		"gc1." + "eyJzIjotMX0", "gc1.eyJjIjoxfQ", "gc1.!!", "c1.abc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := decodePageCursor(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("%q: error %v is not INVALID", s, err)
			}
			return
		}
		if c.Skip < 0 {
			t.Fatalf("%q: negative skip %d", s, c.Skip)
		}
		again, err := decodePageCursor(c.encode())
		if err != nil || again != c {
			t.Fatalf("%q → %+v → %q → %+v, %v", s, c, c.encode(), again, err)
		}
	})
}

// FuzzFieldArguments builds the engine query of a data field from any
// JSON arguments, as the cost check does before resolvers run: an error
// or a query within the field's bounds, never a panic.
func FuzzFieldArguments(f *testing.F) {
	for _, s := range []struct{ field, args string }{
		{"topN", `{"dataset":"flows","from":"-24h","by":["src_addr"],"limit":1}`},
		{"topN", `{"dataset":"flows","by":[]}`},
		{"topN", `{"dataset":"flows","by":"src_addr","limit":1e40}`},
		{"aggregate", `{"dataset":"flows","groupBy":["src_addr","time/1m"],"metrics":["sum(bytes)"],"limit":0,"others":true}`},
		{"aggregate", `{"dataset":"dhcp_events","limit":-1}`},
		{"timeSeries", `{"dataset":"flows","bucket":" time/5m ","by":["app"],"metrics":null}`},
		{"flows", `{"first":5000,"after":"gc1.eyJjIjoiYWJjIiwicyI6N30"}`},
		{"flows", `{"first":0}`},
		{"tcpConns", `{"first":"10","orderBy":[1,2]}`},
		{"flowsHosts1h", `{"first":99999,"after":"gc1.eyJzIjo5OTk5OX0"}`},
		{"me", `{}`},
	} {
		f.Add(s.field, []byte(s.args))
	}
	f.Fuzz(func(t *testing.T, field string, raw []byte) {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var args map[string]any
		if dec.Decode(&args) != nil {
			return
		}
		q, ok, err := fieldQuery(field, args, DefaultMaxFirst)
		if !ok || err != nil {
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("%s %s: error %v is not INVALID", field, raw, err)
			}
			return
		}
		if _, conn := recordTypeOfField(field); conn {
			if q.Dataset == "" || q.Limit < 1 || q.Limit > query.MaxPageSize {
				t.Fatalf("%s %s: listing %+v out of bounds", field, raw, q)
			}
			return
		}
		if len(q.GroupBy) == 0 && len(q.Metrics) == 0 {
			t.Fatalf("%s %s: an aggregate with neither dimensions nor metrics would be a listing: %+v", field, raw, q)
		}
		if field == "topN" && len(q.GroupBy) == 0 {
			t.Fatalf("%s %s: topN without dimensions", field, raw)
		}
	})
}

func (emptyMeta) CreateReportDefinition(context.Context, meta.ReportDefinitionInput) (meta.ReportDefinition, error) {
	return meta.ReportDefinition{}, meta.ErrInvalid
}
func (emptyMeta) ListReportDefinitions(context.Context) ([]meta.ReportDefinition, error) {
	return nil, nil
}
func (emptyMeta) UpdateReportDefinition(context.Context, string, meta.ReportDefinitionInput) (meta.ReportDefinition, error) {
	return meta.ReportDefinition{}, meta.ErrNotFound
}
func (emptyMeta) DeleteReportDefinition(context.Context, string) error { return meta.ErrNotFound }
func (emptyMeta) CreateReportSchedule(context.Context, meta.ReportScheduleInput) (meta.ReportSchedule, error) {
	return meta.ReportSchedule{}, meta.ErrInvalid
}
func (emptyMeta) ListReportSchedules(context.Context) ([]meta.ReportSchedule, error) { return nil, nil }
func (emptyMeta) UpdateReportSchedule(context.Context, string, meta.ReportScheduleInput) (meta.ReportSchedule, error) {
	return meta.ReportSchedule{}, meta.ErrNotFound
}
func (emptyMeta) DeleteReportSchedule(context.Context, string) error { return meta.ErrNotFound }
func (emptyMeta) ListReportRuns(context.Context, string, int) ([]meta.ReportRun, error) {
	return nil, nil
}
