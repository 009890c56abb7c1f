package api

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/client"
	"github.com/google/go-cmp/cmp"

	"github.com/flowlake/flowlake/storage/meta"
)

// TestGraphQLEdgeAdmissions manages the tunnel's allow-list through
// GraphQL over the server's HTTP handler: a viewer may not even list it,
// an analyst lists it but may not change it, the admin admits, issues an
// unbinding code and revokes; every change and refusal is audited under
// the REST route's action, and REST sees the same list.
func TestGraphQLEdgeAdmissions(t *testing.T) {
	e := newGraphEnv(t)
	ctx := t.Context()
	viewer := e.gql(e.userToken(t, "vic", meta.RoleViewer))
	analyst := e.gql(e.userToken(t, "ann", meta.RoleAnalyst))
	admin := e.gql(e.admin)
	var resp map[string]any

	const admit = `mutation($s: String!) { admitEdge(serial: $s) { serial enroll } }`
	wantCode(t, viewer.Post(`{ edgeAdmissions { serial } }`, &resp), "FORBIDDEN")
	if ge := wantCode(t, viewer.Post(admit, &resp, client.Var("s", "SN-GQL")), "FORBIDDEN"); !strings.Contains(ge.Message, "config.write") {
		t.Errorf("viewer's refusal %q does not name config.write", ge.Message)
	}
	wantCode(t, analyst.Post(admit, &resp, client.Var("s", "SN-GQL")), "FORBIDDEN")

	var admitted struct {
		AdmitEdge struct{ Serial, Enroll string }
	}
	admin.MustPost(admit, &admitted, client.Var("s", "SN-GQL"))
	if admitted.AdmitEdge.Serial != "SN-GQL" || !strings.HasPrefix(admitted.AdmitEdge.Enroll, meta.EnrollPrefix) {
		t.Fatalf("admit: %+v", admitted)
	}
	wantCode(t, admin.Post(admit, &resp, client.Var("s", "SN GQL")), "INVALID")

	type admission struct {
		Serial, AdmittedBy, AdmittedAt string
		Bound                          bool
		BoundAt                        *string
		UnbindPending                  bool
	}
	var list struct{ EdgeAdmissions []admission }
	const listQ = `{ edgeAdmissions { serial admittedBy admittedAt bound boundAt unbindPending } }`
	analyst.MustPost(listQ, &list)
	for i, a := range list.EdgeAdmissions {
		if a.AdmittedAt == "" {
			t.Errorf("%s without admittedAt", a.Serial)
		}
		list.EdgeAdmissions[i].AdmittedAt = ""
	}
	if diff := cmp.Diff([]admission{{Serial: "SN-GQL", AdmittedBy: "root"}}, list.EdgeAdmissions); diff != "" {
		t.Errorf("list (-want +got):\n%s", diff)
	}
	// REST lists what GraphQL admitted.
	rec := e.call(t, http.MethodGet, PathEdgeAdmissions, nil, bearer(e.admin))
	if rl := decode[AdmissionsResponse](t, rec); len(rl.Admissions) != 1 || rl.Admissions[0].Serial != "SN-GQL" {
		t.Errorf("REST list: %s", rec.Body)
	}

	const unbind = `mutation($s: String!, $ttl: Int!) { issueEdgeUnbindCode(serial: $s, ttlSeconds: $ttl) { serial code expires } }`
	wantCode(t, admin.Post(unbind, &resp, client.Var("s", "SN-GQL"), client.Var("ttl", 900)), "NOT_FOUND") // not bound yet
	if _, err := e.store.BindEdge(ctx, "SN-GQL", admitted.AdmitEdge.Enroll); err != nil {
		t.Fatal(err)
	}
	wantCode(t, admin.Post(admit, &resp, client.Var("s", "SN-GQL")), "CONFLICT")
	wantCode(t, admin.Post(unbind, &resp, client.Var("s", "SN-GQL"), client.Var("ttl", 5)), "INVALID")
	var code struct {
		IssueEdgeUnbindCode struct{ Serial, Code, Expires string }
	}
	admin.MustPost(unbind, &code, client.Var("s", "SN-GQL"), client.Var("ttl", 120))
	if !strings.HasPrefix(code.IssueEdgeUnbindCode.Code, meta.UnbindPrefix) || code.IssueEdgeUnbindCode.Expires == "" {
		t.Errorf("unbind code: %+v", code)
	}
	admin.MustPost(listQ, &list)
	if a := list.EdgeAdmissions; len(a) != 1 || !a[0].Bound || a[0].BoundAt == nil || !a[0].UnbindPending {
		t.Errorf("list after bind and code: %+v", a)
	}

	const revoke = `mutation($s: String!) { revokeEdgeAdmission(serial: $s) }`
	wantCode(t, analyst.Post(revoke, &resp, client.Var("s", "SN-GQL")), "FORBIDDEN")
	var revoked struct{ RevokeEdgeAdmission bool }
	admin.MustPost(revoke, &revoked, client.Var("s", "SN-GQL"))
	if !revoked.RevokeEdgeAdmission {
		t.Error("revoke answered false")
	}
	wantCode(t, admin.Post(revoke, &resp, client.Var("s", "SN-GQL")), "NOT_FOUND")
	admin.MustPost(listQ, &list)
	if len(list.EdgeAdmissions) != 0 {
		t.Errorf("list after revoke: %+v", list.EdgeAdmissions)
	}

	page, err := e.store.ListAudit(ctx, meta.AuditFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range page.Entries {
		if strings.HasPrefix(a.Action, "edge.") {
			got = append(got, a.Actor+" "+a.Action+" "+a.Target+" "+a.Outcome)
		}
	}
	slices.Sort(got)
	want := []string{
		"ann edge.admit SN-GQL denied",
		"ann edge.revoke SN-GQL denied",
		"root edge.admit SN GQL failure",
		"root edge.admit SN-GQL failure",
		"root edge.admit SN-GQL success",
		"root edge.revoke SN-GQL failure",
		"root edge.revoke SN-GQL success",
		"root edge.unbind_code SN-GQL failure",
		"root edge.unbind_code SN-GQL failure",
		"root edge.unbind_code SN-GQL success",
		"vic edge.admit SN-GQL denied",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}
