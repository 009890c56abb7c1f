package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/flowlake/flowlake/storage/meta"
)

// TestEdgeAdmissionsREST walks the allow-list through the REST API: an
// admin admits a serial (the enrolment secret comes back once), a serial
// with odd characters is 400, the list shows it, an unbind code for an
// unbound edge is 404, a bound one gets its code, revoking removes it;
// every change is audited.
func TestEdgeAdmissionsREST(t *testing.T) {
	e := newEnv(t, DefaultConfig(), fakeLister{})
	ctx := t.Context()
	rec := e.call(t, http.MethodPost, PathEdgeAdmissions, AdmitRequest{Serial: "SN-REST"}, bearer(e.admin))
	adm := decode[AdmitResponse](t, rec)
	if rec.Code != http.StatusCreated || !strings.HasPrefix(adm.Enroll, meta.EnrollPrefix) {
		t.Fatalf("admit: %d %s", rec.Code, rec.Body)
	}
	if rec := e.call(t, http.MethodPost, PathEdgeAdmissions, AdmitRequest{Serial: "SN REST"}, bearer(e.admin)); rec.Code != http.StatusBadRequest {
		t.Errorf("odd serial: %d %s", rec.Code, rec.Body)
	}
	rec = e.call(t, http.MethodGet, PathEdgeAdmissions, nil, bearer(e.admin))
	list := decode[AdmissionsResponse](t, rec)
	if len(list.Admissions) != 1 || list.Admissions[0].Serial != "SN-REST" || list.Admissions[0].Bound || list.Admissions[0].AdmittedBy != "root" {
		t.Errorf("list: %+v", list)
	}
	if rec := e.call(t, http.MethodPost, PathEdgeAdmissions+"/SN-REST/unbind-code", UnbindCodeRequest{}, bearer(e.admin)); rec.Code != http.StatusNotFound {
		t.Errorf("unbind code of an unbound edge: %d %s", rec.Code, rec.Body)
	}
	if _, err := e.store.BindEdge(ctx, "SN-REST", adm.Enroll); err != nil {
		t.Fatal(err)
	}
	if rec := e.call(t, http.MethodPost, PathEdgeAdmissions, AdmitRequest{Serial: "SN-REST"}, bearer(e.admin)); rec.Code != http.StatusConflict {
		t.Errorf("admitting a bound serial: %d %s", rec.Code, rec.Body)
	}
	rec = e.call(t, http.MethodPost, PathEdgeAdmissions+"/SN-REST/unbind-code", UnbindCodeRequest{TTLSeconds: 120}, bearer(e.admin))
	if uc := decode[UnbindCodeResponse](t, rec); rec.Code != http.StatusCreated || !strings.HasPrefix(uc.Code, meta.UnbindPrefix) {
		t.Errorf("unbind code: %d %s", rec.Code, rec.Body)
	}
	if rec := e.call(t, http.MethodPost, PathEdgeAdmissions+"/SN-REST/unbind-code", UnbindCodeRequest{TTLSeconds: 5}, bearer(e.admin)); rec.Code != http.StatusBadRequest {
		t.Errorf("ttl 5 s: %d %s", rec.Code, rec.Body)
	}
	if rec := e.call(t, http.MethodDelete, PathEdgeAdmissions+"/SN-REST", nil, bearer(e.admin)); rec.Code != http.StatusNoContent {
		t.Errorf("revoke: %d %s", rec.Code, rec.Body)
	}
	page, err := e.store.ListAudit(ctx, meta.AuditFilter{Actor: "root"})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range page.Entries {
		actions = append(actions, a.Action+":"+a.Outcome)
	}
	for _, want := range []string{"edge.admit:success", "edge.admit:failure", "edge.unbind_code:success", "edge.revoke:success"} {
		if !strings.Contains(strings.Join(actions, " "), want) {
			t.Errorf("audit %v lacks %s", actions, want)
		}
	}
}
