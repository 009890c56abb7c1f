package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/flowlake/flowlake/storage/meta"
)

// TestMalformedBodiesNotLogged sends malformed JSON bodies carrying a
// password (and a numeric secret) to every kind of endpoint that reads a
// body, through the server's handler with the log at debug level: each is
// refused with a 4xx, and neither the server log nor the audit log holds
// the secret. A 10 MB malformed body grows neither log by more than a
// line.
func TestMalformedBodiesNotLogged(t *testing.T) {
	e := newEnv(t, DefaultConfig(), fakeLister{})
	const secret = "Tr0ub4dor&3-horse-battery"
	const digits = "31415926535897932384626433"
	rec := e.call(t, http.MethodPost, PathUsers, UserCreateRequest{Name: "carol", Role: meta.RoleAnalyst, Password: password}, bearer(e.admin))
	wantStatus(t, rec, http.StatusCreated, "")
	carol := decode[meta.User](t, rec)
	rec = e.call(t, http.MethodPost, PathLogin, LoginRequest{Name: "carol", Password: password})
	wantStatus(t, rec, http.StatusOK, "")
	session := cookie(sessionCookie(t, rec.Result()))
	admin := bearer(e.admin)

	huge := `{"name":"carol","password":"` + strings.Repeat("x", 10<<20) + secret
	for _, tc := range []struct {
		name, method, path, body string
		auth                     []reqOpt
	}{
		{"login cut short", http.MethodPost, PathLogin, `{"name":"carol","password":"` + secret, nil},
		{"login trailing data", http.MethodPost, PathLogin, `{"name":"carol","password":"` + secret + `"}}`, nil},
		{"login password of a wrong type", http.MethodPost, PathLogin, `{"name":"carol","password":["` + secret + `"]}`, nil},
		{"login unquoted password", http.MethodPost, PathLogin, `{"name":"carol","password":` + secret + `}`, nil},
		{"login 10 MB", http.MethodPost, PathLogin, huge, nil},
		{"user create, bad field", http.MethodPost, PathUsers, `{"name":"dave","role":"analyst","password":"` + secret + `","disabled":"` + secret + `"}`, []reqOpt{admin}},
		{"user patch, bad field", http.MethodPatch, PathUsers + "/" + carol.ID, `{"password":"` + secret + `","display_name":12}`, []reqOpt{admin}},
		{"password change cut short", http.MethodPost, PathMyPassword, `{"current_password":"` + password + `","new_password":"` + secret, []reqOpt{session, header("Origin", "http://example.com")}},
		{"token expiry holding a secret", http.MethodPost, PathMyTokens, `{"name":"x","expires_in":"` + secret + `"}`, []reqOpt{admin}},
		{"settings, object for a duration", http.MethodPatch, PathSettings, `{"retention":{"password":"` + secret + `"}}`, []reqOpt{admin}},
		{"settings, number out of range", http.MethodPatch, PathSettings, `{"top_n":` + digits + `}`, []reqOpt{admin}},
		{"ip group, wrong type", http.MethodPost, PathIPGroups, `{"name":"x","members":"` + secret + `"}`, []reqOpt{admin}},
		{"query cut short", http.MethodPost, PathQuery, `{"dataset":"flows","filter":"` + secret, []reqOpt{admin}},
		{"query, number out of range", http.MethodPost, PathQuery, `{"limit":` + digits + `}`, []reqOpt{admin}},
	} {
		before := e.logs.Len()
		rec := e.call(t, tc.method, tc.path, tc.body, tc.auth...)
		if rec.Code < 400 || rec.Code >= 500 {
			t.Errorf("%s: status %d, want a 4xx: %.300s", tc.name, rec.Code, rec.Body)
		}
		if grew := e.logs.Len() - before; grew > 4<<10 {
			t.Errorf("%s: the log grew by %d bytes", tc.name, grew)
		}
	}
	page, err := e.store.ListAudit(t.Context(), meta.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var audit strings.Builder
	for _, a := range page.Entries {
		audit.WriteString(a.Actor + " " + a.Action + " " + a.Target + " " + a.Detail + "\n")
	}
	for _, s := range []string{secret, digits, password} {
		if strings.Contains(e.logs.String(), s) {
			t.Errorf("the server log holds a secret (%.6s…)", s)
		}
		if strings.Contains(audit.String(), s) {
			t.Errorf("the audit log holds a secret (%.6s…):\n%s", s, audit.String())
		}
	}
	if e.logs.Len() == 0 || !strings.Contains(audit.String(), "settings.update") {
		t.Fatalf("nothing logged or audited: the checks above prove nothing\n%s", audit.String())
	}
}
