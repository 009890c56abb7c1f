package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowlake/flowlake/storage/meta"
)

// TestEdgeAdmitCommands: `edge admit` prints an enrolment secret the
// store accepts for that serial, `edge admissions` lists it, a serial
// with odd characters is a usage error, `edge unbind-code` refuses an
// unbound edge, `edge revoke` removes it; every action is audited.
func TestEdgeAdmitCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	out, stderr, code := runCLI(t, nil, "edge", "admit", "SN-42", "--data", dir, "--json")
	var adm EdgeAdmitted
	if code != 0 || json.Unmarshal([]byte(out), &adm) != nil || !strings.HasPrefix(adm.Enroll, meta.EnrollPrefix) {
		t.Fatalf("admit: exit %d, %s %s", code, out, stderr)
	}
	if _, stderr, code := runCLI(t, nil, "edge", "admit", "SN/42", "--data", dir); code != 2 || !strings.Contains(stderr, `edge "SN/42": want 1-64 characters, no slash`) {
		t.Errorf("odd serial: exit %d, %q; want a usage error", code, stderr)
	}
	if _, stderr, code := runCLI(t, nil, "edge", "unbind-code", "SN-42", "--data", dir); code != 1 || !strings.Contains(stderr, "not an admitted, bound edge") {
		t.Errorf("unbind-code of an unbound edge: exit %d, %q", code, stderr)
	}
	out, _, code = runCLI(t, nil, "edge", "admissions", "--data", dir)
	if code != 0 || !strings.Contains(out, "SN-42") || !strings.Contains(out, "no") {
		t.Errorf("admissions: exit %d:\n%s", code, out)
	}
	st := openTestMeta(t, dir)
	bound, err := st.AuthenticateEdge(t.Context(), "SN-42", adm.Enroll)
	if err != nil || bound {
		t.Errorf("the printed enrolment secret: bound %v, %v", bound, err)
	}
	cred, err := st.BindEdge(t.Context(), "SN-42", adm.Enroll)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	out, stderr, code = runCLI(t, nil, "edge", "unbind-code", "SN-42", "--data", dir, "--json")
	var uc EdgeUnbindCode
	if code != 0 || json.Unmarshal([]byte(out), &uc) != nil {
		t.Fatalf("unbind-code: exit %d, %s %s", code, out, stderr)
	}
	st = openTestMeta(t, dir)
	if err := st.UnbindEdge(t.Context(), "SN-42", cred, uc.Code); err != nil {
		t.Errorf("the printed unbinding code: %v", err)
	}
	page, err := st.ListAudit(t.Context(), meta.AuditFilter{Actor: "cli"})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range page.Entries {
		actions = append(actions, e.Action+":"+e.Outcome)
	}
	for _, want := range []string{"edge.admit:success", "edge.admit:failure", "edge.unbind_code:failure", "edge.unbind_code:success"} {
		if !strings.Contains(strings.Join(actions, " "), want) {
			t.Errorf("audit %v lacks %s", actions, want)
		}
	}
	if _, stderr, code := runCLI(t, nil, "edge", "revoke", "SN-42", "--data", dir); code != 1 || !strings.Contains(stderr, "not found") {
		t.Errorf("revoke after unbinding: exit %d, %q", code, stderr)
	}
}
