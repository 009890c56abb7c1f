package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/client"

	"github.com/flowlake/flowlake/graph/model"
	"github.com/flowlake/flowlake/storage/meta"
	"github.com/flowlake/flowlake/storage/query"
)

// The lake-backed tests (connections, aggregates, the subscription, the
// complexity limit, permissions through the server's authentication) are
// in api/graph_test.go: graph may not import storage/lake. These run the
// handler over a real metadata store without an engine.

type noDatasets struct{}

func (noDatasets) DatasetStats(context.Context) ([]DatasetStats, error) { return nil, nil }

func openStore(t testing.TB) *meta.Store {
	t.Helper()
	cfg := meta.DefaultConfig()
	cfg.DSN = filepath.Join(t.TempDir(), "meta.db")
	cfg.Password = meta.PasswordParams{MemoryKiB: 1024, Iterations: 1, Parallelism: 1}
	st, err := meta.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// newClient serves the handler with the caller of role in every request's
// context (nil role: no caller) and records audit events in *audit.
func newClient(t *testing.T, cfg Config, st *meta.Store, role string, audit *[]AuditEvent) *client.Client {
	t.Helper()
	h, err := New(cfg, Deps{Meta: st, Datasets: noDatasets{}})
	if err != nil {
		t.Fatal(err)
	}
	var perms []meta.Permission
	for _, r := range meta.BuiltinRoles() {
		if r.Name == role {
			perms = r.Permissions
		}
	}
	wrapped := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if role != "" {
			r = r.WithContext(WithCaller(r.Context(), Caller{
				Principal: meta.Principal{User: meta.User{Name: role + "-user", Role: role}, Permissions: meta.NewPermissionSet(perms...)},
				Audit:     func(_ context.Context, e AuditEvent) { *audit = append(*audit, e) },
			}))
		}
		h.ServeHTTP(w, r)
	})
	return client.New(wrapped)
}

func codeOf(t *testing.T, err error) string {
	t.Helper()
	var errs []struct {
		Message    string
		Extensions map[string]any
	}
	if err := json.Unmarshal(rawErrors(t, err), &errs); err != nil || len(errs) == 0 {
		t.Fatalf("errors of %v: %v", err, err)
	}
	code, _ := errs[0].Extensions["code"].(string)
	return code
}

// rawErrors returns the errors member of a client error: the body of a
// 4xx answer (the client reports "http 422: {body}") or the errors of a
// 200 answer.
func rawErrors(t *testing.T, err error) json.RawMessage {
	t.Helper()
	var raw client.RawJsonError
	if errors.As(err, &raw) {
		return raw.RawMessage
	}
	var body struct{ Errors json.RawMessage }
	if err == nil || !strings.HasPrefix(err.Error(), "http 4") {
		t.Fatalf("want GraphQL errors, got %v", err)
	}
	_, after, _ := strings.Cut(err.Error(), ": ")
	if jerr := json.Unmarshal([]byte(after), &body); jerr != nil {
		t.Fatalf("error body of %v: %v", err, jerr)
	}
	return body.Errors
}

func TestPermissionsAndAudit(t *testing.T) {
	st := openStore(t)
	var audit []AuditEvent
	viewer := newClient(t, Config{}, st, meta.RoleViewer, &audit)
	admin := newClient(t, Config{}, st, meta.RoleAdmin, &audit)
	nobody := newClient(t, Config{}, st, "", &audit)
	var resp map[string]any

	if err := nobody.Post(`{ ipGroups { id } }`, &resp); codeOf(t, err) != CodeUnauthenticated {
		t.Errorf("no caller: %v", err)
	}
	const create = `mutation { createApplication(input: {name: "erp", ports: ["443"]}) { id name protocol } }`
	if err := viewer.Post(create, &resp); codeOf(t, err) != CodeForbidden {
		t.Errorf("viewer mutation: %v", err)
	}
	var created struct {
		CreateApplication struct{ ID, Name, Protocol string }
	}
	admin.MustPost(create, &created)
	if err := admin.Post(create, &resp); codeOf(t, err) != CodeConflict {
		t.Errorf("duplicate name: %v", err)
	}
	want := []AuditEvent{
		{Action: "application.create", Target: "erp", Outcome: meta.OutcomeDenied, Detail: "missing objects.write"},
		{Action: "application.create", Target: created.CreateApplication.ID, Outcome: meta.OutcomeSuccess},
	}
	if len(audit) != 3 || !reflect.DeepEqual(audit[:2], want) || audit[2].Outcome != meta.OutcomeFailure || !strings.HasPrefix(audit[2].Detail, CodeConflict) {
		t.Errorf("audit %+v", audit)
	}
	var apps struct{ Applications []struct{ Name string } }
	viewer.MustPost(`{ applications { name } }`, &apps)
	if len(apps.Applications) != 1 {
		t.Errorf("applications %+v", apps)
	}
	// Data fields answer UNAVAILABLE without an engine.
	if err := viewer.Post(`{ flows { nodes { time } } }`, &resp); codeOf(t, err) != CodeUnavailable {
		t.Errorf("flows without an engine: %v", err)
	}
	var roles struct {
		Roles []struct {
			Name        string
			Permissions []string
		}
	}
	admin.MustPost(`{ roles { name permissions } }`, &roles)
	if len(roles.Roles) < 4 || len(roles.Roles[0].Permissions) == 0 {
		t.Errorf("roles %+v", roles)
	}
}

func TestDepthLimit(t *testing.T) {
	st := openStore(t)
	var audit []AuditEvent
	c := newClient(t, Config{MaxDepth: 2}, st, meta.RoleAdmin, &audit)
	var resp map[string]any
	if err := c.Post(`{ me { user { name } } }`, &resp); codeOf(t, err) != CodeDepthLimit {
		t.Errorf("3 levels with a limit of 2: %v", err)
	}
	if err := c.Post(`query { ...F } fragment F on Query { me { user { name } } }`, &resp); codeOf(t, err) != CodeDepthLimit {
		t.Errorf("3 levels through a fragment: %v", err)
	}
	c.MustPost(`{ me { permissions } }`, &resp)
	// Introspection is not counted: the playground's query is deep.
	c.MustPost(`{ __schema { types { name fields { name type { name ofType { name ofType { name } } } } } } }`, &resp)
}

func TestPageCursor(t *testing.T) {
	for _, c := range []pageCursor{{}, {Engine: "abc_-"}, {Engine: "x", Skip: 7}, {Skip: 3}} {
		got, err := decodePageCursor(c.encode())
		if err != nil || got != c {
			t.Errorf("%+v → %q → %+v, %v", c, c.encode(), got, err)
		}
	}
	for _, s := range []string{"", "gc1.!!", "abc", "gc1." + "eyJzIjotMX0"} {
		if _, err := decodePageCursor(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: %v", s, err)
		}
	}
}

func TestClassify(t *testing.T) {
	f := func(err error, code string, public bool) {
		t.Helper()
		if c, p := classify(err); c != code || p != public {
			t.Errorf("%v: %s %v, want %s %v", err, c, p, code, public)
		}
	}
	f(&query.SpecError{Field: "filter", Err: &query.FilterError{Pos: 3}}, CodeBadQuery, true)
	f(fmt.Errorf("run: %w", query.ErrMemoryBudget), CodeMemoryBudget, true)
	f(fmt.Errorf("x: %w", meta.ErrNotFound), CodeNotFound, true)
	f(meta.ErrImmutable, CodeImmutable, true)
	f(meta.ErrConflict, CodeConflict, true)
	f(meta.ErrInvalid, CodeInvalid, true)
	f(ErrForbidden, CodeForbidden, true)
	f(context.DeadlineExceeded, CodeTimeout, true)
	f(context.Canceled, CodeCanceled, true)
	f(errors.New("disk on fire"), CodeInternal, false)
}

// TestModelsMatchColumns: every record type's generated model has one
// field per column, of a Go type the column's values decode into.
func TestModelsMatchColumns(t *testing.T) {
	models := map[string]reflect.Type{
		"Flow": reflect.TypeFor[model.Flow](), "TCPConn": reflect.TypeFor[model.TCPConn](),
		"TCPPacket": reflect.TypeFor[model.TCPPacket](), "DHCPEvent": reflect.TypeFor[model.DHCPEvent](), "DHCPLease": reflect.TypeFor[model.DHCPLease](),
		"CloudConn": reflect.TypeFor[model.CloudConn](), "FlowLoss": reflect.TypeFor[model.FlowLoss](), "Flows1mRow": reflect.TypeFor[model.Flows1mRow](),
		"Flows1hRow": reflect.TypeFor[model.Flows1hRow](), "Flows1dRow": reflect.TypeFor[model.Flows1dRow](),
		"FlowHostRow": reflect.TypeFor[model.FlowHostRow](), "FlowHost1dRow": reflect.TypeFor[model.FlowHost1dRow](),
		"TCPConn1dRow":   reflect.TypeFor[model.TCPConn1dRow](),
		"DHCPEvent1dRow": reflect.TypeFor[model.DHCPEvent1dRow](), "CloudConn1dRow": reflect.TypeFor[model.CloudConn1dRow](),
		"FlowLoss1dRow": reflect.TypeFor[model.FlowLoss1dRow](),
	}
	goKind := map[string]reflect.Kind{"Time": reflect.Struct, "String": reflect.String, "IP": reflect.String, "MAC": reflect.String,
		"Boolean": reflect.Bool, "Int": reflect.Int, "Int64": reflect.Int64, "UInt64": reflect.Uint64}
	if len(recordTypes()) != len(models) {
		t.Fatalf("%d record types, %d models listed here", len(recordTypes()), len(models))
	}
	for _, rt := range recordTypes() {
		m := models[rt.typeName]
		if m == nil {
			t.Errorf("no model %s", rt.typeName)
			continue
		}
		idx := fieldIndex(m)
		if len(idx) != len(rt.fields) {
			t.Errorf("%s: %d fields, %d columns", rt.typeName, len(idx), len(rt.fields))
		}
		for _, f := range rt.fields {
			i, ok := idx[f.name]
			if !ok {
				t.Errorf("%s: no field %s for column %s", rt.typeName, f.name, f.column)
				continue
			}
			ft := m.Field(i).Type
			if (ft.Kind() == reflect.Pointer) != f.nullable {
				t.Errorf("%s.%s: nullable %v, Go type %s", rt.typeName, f.name, f.nullable, ft)
			}
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() != goKind[f.gqlType] {
				t.Errorf("%s.%s: %s as %s", rt.typeName, f.name, f.gqlType, ft)
			}
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Error(err)
	}
	if err := (Config{MaxDepth: -1, KeepAlive: -1}).Validate(); err == nil {
		t.Error("negative limits accepted")
	}
}
