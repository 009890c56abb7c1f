package api

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/flowlake/flowlake/storage/meta"
)

// accessMatrix is the specification of who may call what, written out by
// hand so the route table is checked against it rather than against
// itself. Letters: a admin, n analyst, v viewer, r report-recipient,
// x a custom "auditor" role (audit.read, metrics.read). "*" is public.
var accessMatrix = map[string]string{
	"GET /healthz":                                        "*",
	"GET /readyz":                                         "*",
	"POST /api/v1/login":                                  "*",
	"GET /metrics":                                        "ax",
	"GET /api/v1/openapi.json":                            "anvrx",
	"POST /api/v1/logout":                                 "anvrx",
	"GET /api/v1/me":                                      "anvrx",
	"GET /api/v1/permissions":                             "anvrx",
	"GET /api/v1/me/tokens":                               "anvrx",
	"POST /api/v1/me/tokens":                              "anvrx",
	"DELETE /api/v1/me/tokens/:id":                        "anvrx",
	"POST /api/v1/me/password":                            "anvrx",
	"GET /api/v1/datasets":                                "anv",
	"GET /api/v1/tcptrace/:id/pcap":                       "anv",
	"POST /api/v1/query":                                  "anv",
	"GET /api/v1/flows":                                   "anv",
	"GET /api/v1/topn":                                    "anv",
	"GET /api/v1/series":                                  "anv",
	"GET /api/v1/dhcp/leases":                             "anv",
	"POST /api/v1/graphql":                                "anvrx",
	"GET /api/v1/graphql":                                 "anvrx",
	"GET /api/v1/graphql/playground":                      "anvrx",
	"GET /api/v1/users":                                   "a",
	"POST /api/v1/users":                                  "a",
	"GET /api/v1/users/:id":                               "a",
	"PATCH /api/v1/users/:id":                             "a",
	"DELETE /api/v1/users/:id":                            "a",
	"GET /api/v1/roles":                                   "a",
	"POST /api/v1/roles":                                  "a",
	"GET /api/v1/roles/:name":                             "a",
	"PUT /api/v1/roles/:name":                             "a",
	"DELETE /api/v1/roles/:name":                          "a",
	"GET /api/v1/tokens":                                  "a",
	"POST /api/v1/tokens":                                 "a",
	"GET /api/v1/tokens/:id":                              "a",
	"DELETE /api/v1/tokens/:id":                           "a",
	"GET /api/v1/ip-groups":                               "anv",
	"POST /api/v1/ip-groups":                              "an",
	"GET /api/v1/ip-groups/:id":                           "anv",
	"PUT /api/v1/ip-groups/:id":                           "an",
	"DELETE /api/v1/ip-groups/:id":                        "an",
	"GET /api/v1/applications":                            "anv",
	"POST /api/v1/applications":                           "an",
	"GET /api/v1/applications/:id":                        "anv",
	"PUT /api/v1/applications/:id":                        "an",
	"DELETE /api/v1/applications/:id":                     "an",
	"GET /api/v1/settings":                                "an",
	"PATCH /api/v1/settings":                              "a",
	"GET /api/v1/audit":                                   "ax",
	"GET /api/v1/report-definitions":                      "anvr",
	"POST /api/v1/report-definitions":                     "an",
	"GET /api/v1/report-definitions/:id":                  "anvr",
	"PUT /api/v1/report-definitions/:id":                  "an",
	"DELETE /api/v1/report-definitions/:id":               "an",
	"GET /api/v1/report-schedules":                        "anvr",
	"POST /api/v1/report-schedules":                       "an",
	"GET /api/v1/report-schedules/:id":                    "anvr",
	"PUT /api/v1/report-schedules/:id":                    "an",
	"DELETE /api/v1/report-schedules/:id":                 "an",
	"GET /api/v1/report-runs":                             "anvr",
	"GET /api/v1/reports/archive":                         "anvr",
	"GET /api/v1/reports/archive/:definition/:kind/:file": "anvr",
	"PUT /api/v1/ingest/segments/:id":                     "a",
	"POST /api/v1/ingest/cloud-state":                     "a",
	"POST /api/v1/ingest/tcptrace":                        "a",
	"GET /api/v1/edges":                                   "an",
	"POST /api/v1/edges/:id/config":                       "a",
	"POST /api/v1/edges/:id/commands":                     "a",
	"GET /api/v1/edges/:id/dhcp/bindings":                 "anv",
	"GET /api/v1/edges/admissions":                        "an",
	"POST /api/v1/edges/admissions":                       "a",
	"DELETE /api/v1/edges/admissions/:id":                 "a",
	"POST /api/v1/edges/admissions/:id/unbind-code":       "a",
}

// TestAccessMatrix calls every route as every role and checks that the
// route table lets exactly the matrix's roles through: denied calls get
// 403 "forbidden" (and an audit entry), allowed ones anything but 401/403.
func TestAccessMatrix(t *testing.T) {
	e := newEnv(t, DefaultConfig(), fakeLister{})
	ctx := t.Context()
	if _, err := e.store.CreateRole(ctx, meta.Role{Name: "auditor", Permissions: []meta.Permission{meta.PermAuditRead, meta.PermMetricsRead}}); err != nil {
		t.Fatal(err)
	}
	tokens := map[byte]string{
		'a': e.admin,
		'n': e.userToken(t, "ann", meta.RoleAnalyst),
		'v': e.userToken(t, "vic", meta.RoleViewer),
		'r': e.userToken(t, "rob", meta.RoleReportRecipient),
		'x': e.userToken(t, "aud", "auditor"),
	}
	var registered []string
	for _, r := range e.srv.routes() {
		key := r.method + " " + r.path
		registered = append(registered, key)
		allowed, ok := accessMatrix[key]
		if !ok {
			t.Errorf("route %s is missing from the access matrix", key)
			continue
		}
		if allowed == "*" {
			if r.access != public {
				t.Errorf("%s: matrix says public, route table does not", key)
			}
			continue
		}
		path := strings.NewReplacer(":id", "01NOSUCHID", ":name", "nosuchrole").Replace(r.path)
		var body any
		if r.request != nil {
			body = "{}"
		}
		for _, role := range "anvrx" {
			t.Run(key+" as "+string(role), func(t *testing.T) {
				rec := e.call(t, r.method, path, body, bearer(tokens[byte(role)]))
				if strings.ContainsRune(allowed, role) {
					if rec.Code == http.StatusForbidden || rec.Code == http.StatusUnauthorized {
						t.Errorf("allowed, but got %d: %s", rec.Code, rec.Body)
					}
					return
				}
				wantStatus(t, rec, http.StatusForbidden, CodeForbidden)
			})
		}
	}
	for key := range accessMatrix {
		if !slices.Contains(registered, key) {
			t.Errorf("matrix row %s names no route", key)
		}
	}
	// Denials are audited.
	page, err := e.store.ListAudit(ctx, meta.AuditFilter{Actor: "vic", Outcome: meta.OutcomeDenied, Limit: meta.MaxAuditLimit})
	if err != nil {
		t.Fatal(err)
	}
	denied := 0
	for _, v := range accessMatrix {
		if v != "*" && !strings.ContainsRune(v, 'v') {
			denied++
		}
	}
	if len(page.Entries) != denied {
		t.Errorf("viewer has %d denied audit entries, want %d", len(page.Entries), denied)
	}
}

// TestUnauthenticated: every route but the public ones refuses a request
// without valid credentials, with 401, a problem document and a
// WWW-Authenticate challenge.
func TestUnauthenticated(t *testing.T) {
	e := newEnv(t, DefaultConfig(), fakeLister{})
	expired := e.userToken(t, "old", meta.RoleAdmin)
	tok, err := e.store.AuthenticateToken(t.Context(), expired)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.RevokeToken(t.Context(), tok.TokenID); err != nil {
		t.Fatal(err)
	}
	creds := map[string][]reqOpt{
		"none":          nil,
		"revoked token": {bearer(expired)},
		"garbage token": {bearer("flk_nope")},
		"basic auth":    {header("Authorization", "Basic cm9vdDpyb290")},
		"empty bearer":  {header("Authorization", "Bearer ")},
		"bad cookie":    {cookie(&http.Cookie{Name: SessionCookie, Value: "fls_forged"})},
	}
	for _, r := range e.srv.routes() {
		if r.access == public {
			continue
		}
		path := strings.NewReplacer(":id", "x", ":name", "x").Replace(r.path)
		for name, opts := range creds {
			rec := e.call(t, r.method, path, nil, opts...)
			if rec.Code != http.StatusUnauthorized {
				t.Errorf("%s %s with %s: %d, want 401", r.method, r.path, name, rec.Code)
				continue
			}
			if p := decode[Problem](t, rec); p.Code != CodeUnauthenticated {
				t.Errorf("%s %s with %s: code %q", r.method, r.path, name, p.Code)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != `Bearer realm="flowlake"` {
				t.Errorf("%s %s: WWW-Authenticate %q", r.method, r.path, got)
			}
		}
	}
	for _, p := range []string{PathHealth, PathReady} {
		if rec := e.call(t, http.MethodGet, p, nil); rec.Code != http.StatusOK {
			t.Errorf("public %s = %d", p, rec.Code)
		}
	}
}

// TestEveryMutationAudited checks the route table: every route that is
// not a GET (nor a read-only POST, a query) names its audit action.
func TestEveryMutationAudited(t *testing.T) {
	e := newEnv(t, DefaultConfig(), fakeLister{})
	for _, r := range e.srv.routes() {
		if r.method != http.MethodGet && !r.readOnly && r.action == "" {
			t.Errorf("%s %s changes state but has no audit action", r.method, r.path)
		}
	}
}

func TestPermissionDocs(t *testing.T) {
	for _, p := range meta.AllPermissions() {
		if permissionDocs[p] == "" {
			t.Errorf("permission %s has no description", p)
		}
	}
}
