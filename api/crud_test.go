package api

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowlake/flowlake/storage/meta"
)

func TestUsersAndRolesAPI(t *testing.T) {
	e := newEnv(t, DefaultConfig(), fakeLister{})
	adm := bearer(e.admin)

	rec := e.call(t, http.MethodPost, PathUsers, UserCreateRequest{Name: "dana", DisplayName: "Dana", Role: meta.RoleAnalyst, Password: password}, adm)
	wantStatus(t, rec, http.StatusCreated, "")
	dana := decode[meta.User](t, rec)
	if dana.ID == "" || !dana.HasPassword || dana.Role != meta.RoleAnalyst {
		t.Errorf("created %+v", dana)
	}
	if strings.Contains(rec.Body.String(), "argon2") || strings.Contains(rec.Body.String(), "password_hash") {
		t.Errorf("user JSON exposes the hash: %s", rec.Body)
	}
	for _, tt := range []struct {
		name   string
		body   any
		status int
		code   string
		detail string
	}{
		{"duplicate", UserCreateRequest{Name: "dana", Role: meta.RoleViewer}, 409, CodeConflict, "create user dana"},
		{"unknown role", UserCreateRequest{Name: "eve", Role: "god"}, 400, CodeInvalid, `role "god" does not exist`},
		{"short password", UserCreateRequest{Name: "eve", Role: meta.RoleViewer, Password: "1234"}, 400, CodeInvalid, "at least 8"},
		{"unknown field", `{"name":"eve","role":"viewer","is_admin":true}`, 400, CodeInvalid, `unknown field "is_admin"`},
		{"not json", `{"name":`, 400, CodeInvalid, "body"},
		{"two values", `{"name":"eve","role":"viewer"} {}`, 400, CodeInvalid, "data after"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := e.call(t, http.MethodPost, PathUsers, tt.body, adm)
			wantStatus(t, rec, tt.status, tt.code)
			if p := decode[Problem](t, rec); !strings.Contains(p.Detail, tt.detail) {
				t.Errorf("detail %q lacks %q", p.Detail, tt.detail)
			}
		})
	}

	rec = e.call(t, http.MethodGet, PathUsers, nil, adm)
	wantStatus(t, rec, http.StatusOK, "")
	if users := decode[UsersResponse](t, rec).Users; len(users) != 2 {
		t.Errorf("listed %d users, want root and dana", len(users))
	}
	rec = e.call(t, http.MethodGet, PathUsers+"/"+dana.ID, nil, adm)
	if got := decode[meta.User](t, rec); got.Name != "dana" {
		t.Errorf("GET user = %+v", got)
	}
	wantStatus(t, e.call(t, http.MethodGet, PathUsers+"/nope", nil, adm), http.StatusNotFound, CodeNotFound)

	rec = e.call(t, http.MethodPatch, PathUsers+"/"+dana.ID, UserPatchRequest{Role: ptr(meta.RoleViewer), DisplayName: ptr("D.")}, adm)
	wantStatus(t, rec, http.StatusOK, "")
	if got := decode[meta.User](t, rec); got.Role != meta.RoleViewer || got.DisplayName != "D." {
		t.Errorf("PATCH user = %+v", got)
	}
	// The last administrator cannot demote themselves.
	root, _ := e.store.GetUserByName(t.Context(), "root")
	wantStatus(t, e.call(t, http.MethodPatch, PathUsers+"/"+root.ID, UserPatchRequest{Role: ptr(meta.RoleViewer)}, adm), http.StatusConflict, CodeConflict)

	// Roles.
	rec = e.call(t, http.MethodPost, PathRoles, RoleCreateRequest{Name: "noc", Permissions: []meta.Permission{meta.PermAlertsRead, meta.PermAlertsWrite}}, adm)
	wantStatus(t, rec, http.StatusCreated, "")
	rec = e.call(t, http.MethodPost, PathRoles, RoleCreateRequest{Name: "bad", Permissions: []meta.Permission{"root"}}, adm)
	wantStatus(t, rec, http.StatusBadRequest, CodeInvalid)
	rec = e.call(t, http.MethodPut, PathRoles+"/noc", RoleUpdateRequest{Description: "operators", Permissions: []meta.Permission{meta.PermAlertsRead}}, adm)
	wantStatus(t, rec, http.StatusOK, "")
	if r := decode[meta.Role](t, rec); r.Description != "operators" || len(r.Permissions) != 1 {
		t.Errorf("PUT role = %+v", r)
	}
	wantStatus(t, e.call(t, http.MethodPut, PathRoles+"/admin", RoleUpdateRequest{}, adm), http.StatusConflict, CodeImmutable)
	wantStatus(t, e.call(t, http.MethodDelete, PathRoles+"/viewer", nil, adm), http.StatusConflict, CodeImmutable)
	wantStatus(t, e.call(t, http.MethodPatch, PathUsers+"/"+dana.ID, UserPatchRequest{Role: ptr("noc")}, adm), http.StatusOK, "")
	wantStatus(t, e.call(t, http.MethodDelete, PathRoles+"/noc", nil, adm), http.StatusConflict, CodeConflict)
	rec = e.call(t, http.MethodGet, PathRoles, nil, adm)
	if roles := decode[RolesResponse](t, rec).Roles; len(roles) != 5 {
		t.Errorf("%d roles, want 4 built-in and noc", len(roles))
	}
	wantStatus(t, e.call(t, http.MethodGet, PathRoles+"/noc", nil, adm), http.StatusOK, "")
	wantStatus(t, e.call(t, http.MethodDelete, PathUsers+"/"+dana.ID, nil, adm), http.StatusNoContent, "")
	wantStatus(t, e.call(t, http.MethodDelete, PathRoles+"/noc", nil, adm), http.StatusNoContent, "")
	wantStatus(t, e.call(t, http.MethodGet, PathRoles+"/noc", nil, adm), http.StatusNotFound, CodeNotFound)

	// Every mutation above was audited, failures included.
	page, err := e.store.ListAudit(t.Context(), meta.AuditFilter{Actor: "root", Limit: meta.MaxAuditLimit})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range slices.Backward(page.Entries) {
		got = append(got, a.Action+" "+a.Outcome)
	}
	want := []string{
		"user.create success", "user.create failure", "user.create failure", "user.create failure", "user.create failure", "user.create failure", "user.create failure",
		"user.update success", "user.update failure",
		"role.create success", "role.create failure", "role.update success", "role.update failure", "role.delete failure",
		"user.update success", "role.delete failure", "user.delete success", "role.delete success",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
	if first := page.Entries[len(page.Entries)-1]; first.Target != dana.ID || first.Detail != "name dana, role analyst" {
		t.Errorf("user.create entry %+v", first)
	}
}

func TestTokensAPI(t *testing.T) {
	e := newEnv(t, DefaultConfig(), fakeLister{})
	viewer := e.userToken(t, "vic", meta.RoleViewer)

	// A viewer issues a scoped, expiring token for themself.
	rec := e.call(t, http.MethodPost, PathMyTokens, TokenRequest{Name: "dash", Scopes: []meta.Permission{meta.PermAnalysisRead}, ExpiresIn: ptr(meta.Duration(time.Hour))}, bearer(viewer))
	wantStatus(t, rec, http.StatusCreated, "")
	tc := decode[TokenCreated](t, rec)
	if !strings.HasPrefix(tc.Secret, meta.TokenPrefix) || tc.Token.ExpiresAt.IsZero() || tc.Token.Prefix != tc.Secret[:12] {
		t.Errorf("created %+v", tc)
	}
	rec = e.call(t, http.MethodGet, PathMe, nil, bearer(tc.Secret))
	if me := decode[MeResponse](t, rec); me.Via != "token" || !cmp.Equal(me.Permissions, []meta.Permission{meta.PermAnalysisRead}) {
		t.Errorf("me with scoped token = %+v", me)
	}
	// The scope holds: the token cannot read IP groups though its user can.
	wantStatus(t, e.call(t, http.MethodGet, PathIPGroups, nil, bearer(tc.Secret)), http.StatusForbidden, CodeForbidden)
	wantStatus(t, e.call(t, http.MethodGet, PathIPGroups, nil, bearer(viewer)), http.StatusOK, "")
	// No escalation: not beyond the role, not beyond the token.
	wantStatus(t, e.call(t, http.MethodPost, PathMyTokens, TokenRequest{Name: "x", Scopes: []meta.Permission{meta.PermUsersWrite}}, bearer(viewer)), http.StatusForbidden, CodeForbidden)
	rec = e.call(t, http.MethodPost, PathMyTokens, TokenRequest{Name: "child"}, bearer(tc.Secret))
	wantStatus(t, rec, http.StatusCreated, "")
	if child := decode[TokenCreated](t, rec); !cmp.Equal(child.Token.Scopes, []meta.Permission{meta.PermAnalysisRead}) {
		t.Errorf("a scoped token minted %v", child.Token.Scopes)
	}
	for _, tt := range []struct {
		name string
		body any
		code string
	}{
		{"no name", TokenRequest{}, CodeInvalid},
		{"both expiries", TokenRequest{Name: "x", ExpiresIn: ptr(meta.Duration(time.Hour)), ExpiresAt: ptr(time.Now().Add(time.Hour))}, CodeInvalid},
		{"past", TokenRequest{Name: "x", ExpiresAt: ptr(time.Now().Add(-time.Hour))}, CodeInvalid},
		{"bad duration", `{"name":"x","expires_in":"soon"}`, CodeInvalid},
		{"unknown scope", TokenRequest{Name: "x", Scopes: []meta.Permission{"everything"}}, CodeInvalid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantStatus(t, e.call(t, http.MethodPost, PathMyTokens, tt.body, bearer(viewer)), http.StatusBadRequest, tt.code)
		})
	}
	rec = e.call(t, http.MethodGet, PathMyTokens, nil, bearer(viewer))
	mine := decode[TokensResponse](t, rec).Tokens
	if len(mine) != 3 {
		t.Errorf("viewer has %d tokens, want 3", len(mine))
	}
	if strings.Contains(rec.Body.String(), tc.Secret) {
		t.Error("token listing contains a secret")
	}

	// Nobody revokes another user's token through /me; the admin can.
	wantStatus(t, e.call(t, http.MethodDelete, PathMyTokens+"/"+tc.Token.ID, nil, bearer(e.admin)), http.StatusNotFound, CodeNotFound)
	rec = e.call(t, http.MethodDelete, PathMyTokens+"/"+tc.Token.ID, nil, bearer(viewer))
	wantStatus(t, rec, http.StatusOK, "")
	if tok := decode[meta.Token](t, rec); tok.RevokedAt.IsZero() {
		t.Errorf("revoked token %+v", tok)
	}
	wantStatus(t, e.call(t, http.MethodGet, PathMe, nil, bearer(tc.Secret)), http.StatusUnauthorized, CodeUnauthenticated)

	// Administration of every user's tokens.
	vic, _ := e.store.GetUserByName(t.Context(), "vic")
	rec = e.call(t, http.MethodPost, PathTokens, AdminTokenRequest{UserID: vic.ID, TokenRequest: TokenRequest{Name: "issued"}}, bearer(e.admin))
	wantStatus(t, rec, http.StatusCreated, "")
	issued := decode[TokenCreated](t, rec)
	wantStatus(t, e.call(t, http.MethodPost, PathTokens, AdminTokenRequest{TokenRequest: TokenRequest{Name: "x"}}, bearer(e.admin)), http.StatusBadRequest, CodeInvalid)
	wantStatus(t, e.call(t, http.MethodPost, PathTokens, AdminTokenRequest{UserID: "ghost", TokenRequest: TokenRequest{Name: "x"}}, bearer(e.admin)), http.StatusNotFound, CodeNotFound)
	rec = e.call(t, http.MethodGet, PathTokens+"?user_id="+vic.ID, nil, bearer(e.admin))
	if n := len(decode[TokensResponse](t, rec).Tokens); n != 4 {
		t.Errorf("vic's tokens: %d, want 4", n)
	}
	wantStatus(t, e.call(t, http.MethodGet, PathTokens+"/"+issued.Token.ID, nil, bearer(e.admin)), http.StatusOK, "")
	wantStatus(t, e.call(t, http.MethodDelete, PathTokens+"/"+issued.Token.ID, nil, bearer(e.admin)), http.StatusOK, "")
	wantStatus(t, e.call(t, http.MethodGet, PathMe, nil, bearer(issued.Secret)), http.StatusUnauthorized, CodeUnauthenticated)
	wantStatus(t, e.call(t, http.MethodDelete, PathTokens+"/ghost", nil, bearer(e.admin)), http.StatusNotFound, CodeNotFound)

	// A token scoped to users.write cannot mint itself a broader token
	// through the administrative endpoint either.
	root, _ := e.store.GetUserByName(t.Context(), "root")
	rec = e.call(t, http.MethodPost, PathMyTokens, TokenRequest{Name: "provisioner", Scopes: []meta.Permission{meta.PermUsersWrite}}, bearer(e.admin))
	wantStatus(t, rec, http.StatusCreated, "")
	prov := decode[TokenCreated](t, rec).Secret
	wantStatus(t, e.call(t, http.MethodPost, PathTokens, AdminTokenRequest{UserID: root.ID, TokenRequest: TokenRequest{Name: "x", Scopes: []meta.Permission{meta.PermAuditRead}}}, bearer(prov)),
		http.StatusForbidden, CodeForbidden)
	rec = e.call(t, http.MethodPost, PathTokens, AdminTokenRequest{UserID: root.ID, TokenRequest: TokenRequest{Name: "x"}}, bearer(prov))
	wantStatus(t, rec, http.StatusCreated, "")
	if got := decode[TokenCreated](t, rec).Token.Scopes; !cmp.Equal(got, []meta.Permission{meta.PermUsersWrite}) {
		t.Errorf("token minted by a scoped token has scopes %v", got)
	}
}

func TestObjectsSettingsAuditAPI(t *testing.T) {
	e := newEnv(t, DefaultConfig(), fakeLister{})
	analyst := bearer(e.userToken(t, "ann", meta.RoleAnalyst))

	rec := e.call(t, http.MethodPost, PathIPGroups, meta.IPGroupInput{Name: "branch", Members: []string{"10.8.0.0/16", "2001:db8:8::/48"}}, analyst)
	wantStatus(t, rec, http.StatusCreated, "")
	g := decode[meta.IPGroup](t, rec)
	rec = e.call(t, http.MethodPost, PathIPGroups, meta.IPGroupInput{Name: "bad", Members: []string{"10.8.0.0/16", "10.9.1.0/8"}}, analyst)
	wantStatus(t, rec, http.StatusBadRequest, CodeInvalid)
	if p := decode[Problem](t, rec); !strings.Contains(p.Detail, `members[1]: prefix "10.9.1.0/8": host bits set; the network is 10.0.0.0/8`) {
		t.Errorf("bad CIDR detail: %q", p.Detail)
	}
	rec = e.call(t, http.MethodPut, PathIPGroups+"/"+g.ID, meta.IPGroupInput{Name: "branch", Members: []string{"10.8.0.1-10.8.0.99"}}, analyst)
	wantStatus(t, rec, http.StatusOK, "")
	if got := decode[meta.IPGroup](t, rec); !cmp.Equal(got.Members, []string{"10.8.0.1-10.8.0.99"}) {
		t.Errorf("PUT ip group = %+v", got)
	}
	rec = e.call(t, http.MethodGet, PathIPGroups, nil, analyst)
	if gs := decode[IPGroupsResponse](t, rec).IPGroups; len(gs) != 1 {
		t.Errorf("ip groups %+v", gs)
	}
	wantStatus(t, e.call(t, http.MethodGet, PathIPGroups+"/"+g.ID, nil, analyst), http.StatusOK, "")
	wantStatus(t, e.call(t, http.MethodDelete, PathIPGroups+"/"+g.ID, nil, analyst), http.StatusNoContent, "")
	wantStatus(t, e.call(t, http.MethodGet, PathIPGroups+"/"+g.ID, nil, analyst), http.StatusNotFound, CodeNotFound)

	rec = e.call(t, http.MethodPost, PathApplications, meta.ApplicationInput{Name: "erp", Protocol: "tcp", Addresses: []string{"10.0.5.10"}, Ports: []string{"443"}}, analyst)
	wantStatus(t, rec, http.StatusCreated, "")
	app := decode[meta.Application](t, rec)
	wantStatus(t, e.call(t, http.MethodPost, PathApplications, meta.ApplicationInput{Name: "erp", Ports: []string{"1"}}, analyst), http.StatusConflict, CodeConflict)
	wantStatus(t, e.call(t, http.MethodPut, PathApplications+"/"+app.ID, meta.ApplicationInput{Name: "erp", Ports: []string{"99999"}}, analyst), http.StatusBadRequest, CodeInvalid)
	wantStatus(t, e.call(t, http.MethodPut, PathApplications+"/"+app.ID, meta.ApplicationInput{Name: "erp2", Protocol: "udp", Ports: []string{"53"}}, analyst), http.StatusOK, "")
	rec = e.call(t, http.MethodGet, PathApplications+"/"+app.ID, nil, analyst)
	if got := decode[meta.Application](t, rec); got.Name != "erp2" || got.Protocol != "udp" {
		t.Errorf("application %+v", got)
	}
	if as := decode[ApplicationsResponse](t, e.call(t, http.MethodGet, PathApplications, nil, analyst)).Applications; len(as) != 1 {
		t.Errorf("applications %+v", as)
	}
	wantStatus(t, e.call(t, http.MethodDelete, PathApplications+"/"+app.ID, nil, analyst), http.StatusNoContent, "")

	// Settings.
	adm := bearer(e.admin)
	rec = e.call(t, http.MethodGet, PathSettings, nil, analyst)
	if diff := cmp.Diff(meta.DefaultSettings(), decode[meta.Settings](t, rec)); diff != "" {
		t.Errorf("default settings (-want +got):\n%s", diff)
	}
	rec = e.call(t, http.MethodPatch, PathSettings, `{"top_n": 25, "retention": "30d"}`, adm)
	wantStatus(t, rec, http.StatusOK, "")
	if !strings.Contains(rec.Body.String(), `"retention":"30d"`) || !strings.Contains(rec.Body.String(), `"top_n":25`) {
		t.Errorf("patched settings %s", rec.Body)
	}
	rec = e.call(t, http.MethodPatch, PathSettings, `{"top_n": 0, "disk_threshold_percent": 101}`, adm)
	wantStatus(t, rec, http.StatusBadRequest, CodeInvalid)
	if p := decode[Problem](t, rec); !strings.Contains(p.Detail, "top_n 0") || !strings.Contains(p.Detail, "disk_threshold_percent 101") {
		t.Errorf("settings detail %q", p.Detail)
	}
	wantStatus(t, e.call(t, http.MethodPatch, PathSettings, `{"refresh":"5m"}`, adm), http.StatusBadRequest, CodeInvalid)

	// The audit log pages through, newest first, and filters.
	var all []meta.AuditEntry
	cursor := ""
	for range 100 {
		rec := e.call(t, http.MethodGet, PathAudit+"?limit=3&cursor="+cursor, nil, adm)
		wantStatus(t, rec, http.StatusOK, "")
		page := decode[meta.AuditPage](t, rec)
		all = append(all, page.Entries...)
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	if len(all) < 12 {
		t.Fatalf("audit paged %d entries, want every mutation", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].ID >= all[i-1].ID {
			t.Fatalf("audit not newest first at %d", i)
		}
	}
	if all[len(all)-1].Action != "ip_group.create" || all[0].Action != "settings.update" || all[0].Outcome != meta.OutcomeFailure {
		t.Errorf("oldest %+v, newest %+v", all[len(all)-1], all[0])
	}
	rec = e.call(t, http.MethodGet, PathAudit+"?actor=ann&outcome=failure", nil, adm)
	if n := len(decode[meta.AuditPage](t, rec).Entries); n != 3 {
		t.Errorf("ann's failures: %d, want 3", n)
	}
	since := queryTime(all[0].At.Add(time.Nanosecond))
	rec = e.call(t, http.MethodGet, PathAudit+"?since="+since, nil, adm)
	if n := len(decode[meta.AuditPage](t, rec).Entries); n != 0 {
		t.Errorf("entries since the newest: %d", n)
	}
	for _, q := range []string{"limit=0", "limit=x", "limit=5000", "outcome=meh", "since=yesterday", "until=2026-13-01T00:00:00Z"} {
		wantStatus(t, e.call(t, http.MethodGet, PathAudit+"?"+q, nil, adm), http.StatusBadRequest, CodeInvalid)
	}
}

func queryTime(t time.Time) string {
	return strings.ReplaceAll(t.UTC().Format(time.RFC3339Nano), "+", "%2B")
}

// TestOpenAPIMatchesRoutes: every route echo serves is in the OpenAPI
// document and every operation of the document is served.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newEnv(t, DefaultConfig(), fakeLister{})
	rec := e.call(t, http.MethodGet, PathOpenAPI, nil, bearer(e.admin))
	wantStatus(t, rec, http.StatusOK, "")
	var doc struct {
		OpenAPI    string                               `json:"openapi"`
		Paths      map[string]map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi = %q", doc.OpenAPI)
	}
	var documented []string
	for p, ops := range doc.Paths {
		for m, op := range ops {
			documented = append(documented, strings.ToUpper(m)+" "+p)
			if op["operationId"] == "" || op["summary"] == "" || op["responses"] == nil {
				t.Errorf("%s %s: incomplete operation", m, p)
			}
		}
	}
	var served []string
	for _, r := range e.srv.echo.Routes() {
		p, _ := openAPIPath(r.Path)
		served = append(served, r.Method+" "+p)
	}
	slices.Sort(documented)
	slices.Sort(served)
	if diff := cmp.Diff(served, documented); diff != "" {
		t.Errorf("routes (-served +documented):\n%s", diff)
	}
	// Every $ref resolves.
	for _, ref := range regexpAll(rec.Body.String(), `"#/components/schemas/([A-Za-z]+)"`) {
		if doc.Components.Schemas[ref] == nil {
			t.Errorf("dangling $ref %s", ref)
		}
	}
	users := doc.Paths["/api/v1/users/{id}"]["patch"]
	if users["x-flowlake-permission"] != "users.write" || users["x-flowlake-audit-action"] != "user.update" {
		t.Errorf("PATCH /users/{id}: %v", users)
	}
}

func regexpAll(s, expr string) []string {
	var out []string
	for _, m := range regexp.MustCompile(expr).FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestReadiness: readiness follows the metadata store.
func TestReadiness(t *testing.T) {
	e := newEnv(t, DefaultConfig(), fakeLister{})
	wantStatus(t, e.call(t, http.MethodGet, PathReady, nil), http.StatusOK, "")
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, e.call(t, http.MethodGet, PathReady, nil), http.StatusServiceUnavailable, CodeUnavailable)
	// Requests needing the store fail as unavailable, not as bad credentials.
	wantStatus(t, e.call(t, http.MethodGet, PathMe, nil, bearer(e.admin)), http.StatusServiceUnavailable, CodeUnavailable)
}
