package api

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/meta"
)

const password = "correct horse battery staple"

func sessionCookie(t *testing.T, res *http.Response) *http.Cookie {
	t.Helper()
	for _, c := range res.Cookies() {
		if c.Name == SessionCookie {
			return c
		}
	}
	t.Fatalf("no %s cookie in %v", SessionCookie, res.Header["Set-Cookie"])
	return nil
}

func TestLoginSessionLogout(t *testing.T) {
	e := newEnv(t, DefaultConfig(), fakeLister{})
	ctx := t.Context()
	alice, err := e.store.CreateUser(ctx, meta.NewUser{Name: "alice", Role: meta.RoleViewer, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	const addr = "198.51.100.7:5555"

	rec := e.call(t, http.MethodPost, PathLogin, LoginRequest{Name: "alice", Password: "wrong password"}, from(addr))
	wantStatus(t, rec, http.StatusUnauthorized, CodeUnauthenticated)
	if len(rec.Result().Cookies()) != 0 {
		t.Error("failed login set a cookie")
	}
	rec = e.call(t, http.MethodPost, PathLogin, LoginRequest{Name: "mallory", Password: password}, from(addr))
	wantStatus(t, rec, http.StatusUnauthorized, CodeUnauthenticated)

	rec = e.call(t, http.MethodPost, PathLogin, LoginRequest{Name: "alice", Password: password}, from(addr), header("User-Agent", "test/1"))
	wantStatus(t, rec, http.StatusOK, "")
	lr := decode[LoginResponse](t, rec)
	if lr.User.ID != alice.ID || !strings.Contains(permString(lr.Permissions), "analysis.read") || lr.ExpiresAt.IsZero() {
		t.Errorf("login response %+v", lr)
	}
	ck := sessionCookie(t, rec.Result())
	if !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || !strings.HasPrefix(ck.Value, meta.SessionPrefix) {
		t.Errorf("session cookie attributes: %+v", ck)
	}

	// The cookie authenticates.
	rec = e.call(t, http.MethodGet, PathMe, nil, cookie(ck))
	wantStatus(t, rec, http.StatusOK, "")
	me := decode[MeResponse](t, rec)
	if me.Via != "session" || me.User.Name != "alice" || me.SessionID == "" {
		t.Errorf("me = %+v", me)
	}
	// Permissions still apply to sessions.
	wantStatus(t, e.call(t, http.MethodGet, PathUsers, nil, cookie(ck)), http.StatusForbidden, CodeForbidden)

	// Changes with the cookie from another origin are refused (CSRF);
	// from the API's own origin, or without Origin (not a browser), fine.
	rec = e.call(t, http.MethodPost, PathMyTokens, TokenRequest{Name: "x"}, cookie(ck), header("Origin", "https://evil.example"))
	wantStatus(t, rec, http.StatusForbidden, CodeCSRF)
	rec = e.call(t, http.MethodPost, PathMyTokens, TokenRequest{Name: "x"}, cookie(ck), header("Origin", "http://example.com"))
	wantStatus(t, rec, http.StatusCreated, "")
	rec = e.call(t, http.MethodPost, PathMyTokens, TokenRequest{Name: "y"}, cookie(ck), header("Referer", "https://evil.example/page"))
	wantStatus(t, rec, http.StatusForbidden, CodeCSRF)
	// A bearer token is not a cookie: no CSRF check.
	rec = e.call(t, http.MethodPost, PathMyTokens, TokenRequest{Name: "z"}, bearer(e.admin), header("Origin", "https://elsewhere.example"))
	wantStatus(t, rec, http.StatusCreated, "")

	// Logout ends the session and clears the cookie.
	rec = e.call(t, http.MethodPost, PathLogout, nil, cookie(ck))
	wantStatus(t, rec, http.StatusNoContent, "")
	if cleared := sessionCookie(t, rec.Result()); cleared.MaxAge >= 0 || cleared.Value != "" {
		t.Errorf("logout cookie %+v does not clear", cleared)
	}
	wantStatus(t, e.call(t, http.MethodGet, PathMe, nil, cookie(ck)), http.StatusUnauthorized, CodeUnauthenticated)

	// Every attempt is in the audit log, with the remote address.
	page, err := e.store.ListAudit(ctx, meta.AuditFilter{Action: "login"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range page.Entries {
		got = append(got, a.Actor+" "+a.Outcome+" "+a.RemoteAddr)
	}
	want := []string{"alice success 198.51.100.7", "mallory failure 198.51.100.7", "alice failure 198.51.100.7"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("login audit:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if page, _ := e.store.ListAudit(ctx, meta.AuditFilter{Action: "logout"}); len(page.Entries) != 1 || page.Entries[0].Actor != "alice" {
		t.Errorf("logout audit: %+v", page.Entries)
	}

	// Malformed logins.
	wantStatus(t, e.call(t, http.MethodPost, PathLogin, `{"name":"alice"}`), http.StatusBadRequest, CodeInvalid)
	wantStatus(t, e.call(t, http.MethodPost, PathLogin, `{"name":"alice","password":"x","admin":true}`), http.StatusBadRequest, CodeInvalid)
	wantStatus(t, e.call(t, http.MethodPost, PathLogin, `name=alice`, header("Content-Type", "application/x-www-form-urlencoded")),
		http.StatusUnsupportedMediaType, CodeInvalid)
}

// TestLoginRateLimit: failures are counted per user name and address in
// the store, so a second replica on the same store enforces the same
// limit; other addresses and other names are not affected.
func TestLoginRateLimit(t *testing.T) {
	cfg := DefaultConfig()
	cfg.LoginMaxFailures = 3
	a := newEnv(t, cfg, fakeLister{})
	b := newEnvOn(t, cfg, fakeLister{}, a.store) // another replica
	ctx := t.Context()
	for _, n := range []string{"alice", "bob"} {
		if _, err := a.store.CreateUser(ctx, meta.NewUser{Name: n, Role: meta.RoleViewer, Password: password}); err != nil {
			t.Fatal(err)
		}
	}
	const attacker, other = "203.0.113.9:1000", "192.0.2.50:2000"
	for i, e := range []*env{a, b, a} {
		rec := e.call(t, http.MethodPost, PathLogin, LoginRequest{Name: "alice", Password: "guess " + strconv.Itoa(i)}, from(attacker))
		wantStatus(t, rec, http.StatusUnauthorized, CodeUnauthenticated)
	}
	// Locked on both replicas, even with the right password.
	for _, e := range []*env{b, a} {
		rec := e.call(t, http.MethodPost, PathLogin, LoginRequest{Name: "alice", Password: password}, from(attacker))
		wantStatus(t, rec, http.StatusTooManyRequests, CodeRateLimited)
		ra, err := strconv.Atoi(rec.Header().Get("Retry-After"))
		if err != nil || ra < 1 || ra > int(cfg.LoginWindow/time.Second) {
			t.Errorf("Retry-After = %q", rec.Header().Get("Retry-After"))
		}
	}
	// The name's owner logs in from elsewhere; the attacker's address can
	// still try other names. X-Forwarded-For does not move the attacker to
	// another bucket unless proxy headers are trusted.
	wantStatus(t, a.call(t, http.MethodPost, PathLogin, LoginRequest{Name: "alice", Password: password}, from(other)), http.StatusOK, "")
	wantStatus(t, a.call(t, http.MethodPost, PathLogin, LoginRequest{Name: "bob", Password: password}, from(attacker)), http.StatusOK, "")
	wantStatus(t, a.call(t, http.MethodPost, PathLogin, LoginRequest{Name: "alice", Password: password}, from(attacker), header("X-Forwarded-For", "192.0.2.99")),
		http.StatusTooManyRequests, CodeRateLimited)

	page, err := a.store.ListAudit(ctx, meta.AuditFilter{Action: "login", Outcome: meta.OutcomeDenied})
	if err != nil || len(page.Entries) != 3 {
		t.Errorf("%d rate-limited logins audited, want 3 (%v)", len(page.Entries), err)
	}
}

func TestTrustProxyHeaders(t *testing.T) {
	cfg := DefaultConfig()
	cfg.TrustProxyHeaders = true
	e := newEnv(t, cfg, fakeLister{})
	rec := e.call(t, http.MethodPost, PathLogin, LoginRequest{Name: "nobody", Password: "x"}, from("10.0.0.1:1"), header("X-Forwarded-For", "198.51.100.23"))
	wantStatus(t, rec, http.StatusUnauthorized, "")
	page, _ := e.store.ListAudit(t.Context(), meta.AuditFilter{Action: "login"})
	if len(page.Entries) != 1 || page.Entries[0].RemoteAddr != "198.51.100.23" {
		t.Errorf("behind a trusted proxy the client address is %+v", page.Entries)
	}
}

// TestNoSecretInLogs runs the flows that handle secrets and checks that
// neither the server log nor the audit log contains one.
func TestNoSecretInLogs(t *testing.T) {
	e := newEnv(t, DefaultConfig(), fakeLister{})
	const newPassword = "another secret passphrase"
	rec := e.call(t, http.MethodPost, PathUsers, UserCreateRequest{Name: "carol", Role: meta.RoleAnalyst, Password: password}, bearer(e.admin))
	wantStatus(t, rec, http.StatusCreated, "")
	carol := decode[meta.User](t, rec)
	rec = e.call(t, http.MethodPost, PathLogin, LoginRequest{Name: "carol", Password: "wrong " + password})
	wantStatus(t, rec, http.StatusUnauthorized, "")
	rec = e.call(t, http.MethodPost, PathLogin, LoginRequest{Name: "carol", Password: password})
	wantStatus(t, rec, http.StatusOK, "")
	session := sessionCookie(t, rec.Result()).Value
	rec = e.call(t, http.MethodPost, PathMyTokens, TokenRequest{Name: "cli"}, bearer(e.admin))
	wantStatus(t, rec, http.StatusCreated, "")
	created := decode[TokenCreated](t, rec)
	rec = e.call(t, http.MethodPatch, PathUsers+"/"+carol.ID, UserPatchRequest{Password: ptr(newPassword)}, bearer(created.Secret))
	wantStatus(t, rec, http.StatusOK, "")
	// A request with a bad token must not log the token either.
	e.call(t, http.MethodGet, PathMe, nil, bearer("flk_"+strings.Repeat("Q", 43)))

	page, err := e.store.ListAudit(t.Context(), meta.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var audit strings.Builder
	for _, a := range page.Entries {
		audit.WriteString(a.Actor + a.Action + a.Target + a.Detail + "\n")
	}
	if !strings.Contains(audit.String(), "changed password") {
		t.Errorf("password change not audited:\n%s", audit.String())
	}
	for _, secret := range []string{password, newPassword, session, created.Secret, e.admin, strings.Repeat("Q", 43)} {
		if strings.Contains(e.logs.String(), secret) {
			t.Errorf("server log contains a secret (%.8s...)", secret)
		}
		if strings.Contains(audit.String(), secret) {
			t.Errorf("audit log contains a secret (%.8s...)", secret)
		}
	}
	if e.logs.Len() == 0 {
		t.Error("no logs written: the check above proves nothing")
	}
}

func ptr[T any](v T) *T { return &v }

func TestChangeMyPassword(t *testing.T) {
	cfg := DefaultConfig()
	cfg.LoginMaxFailures = 2
	e := newEnv(t, cfg, fakeLister{})
	if _, err := e.store.CreateUser(t.Context(), meta.NewUser{Name: "alice", Role: meta.RoleReportRecipient, Password: password}); err != nil {
		t.Fatal(err)
	}
	rec := e.call(t, http.MethodPost, PathLogin, LoginRequest{Name: "alice", Password: password})
	wantStatus(t, rec, http.StatusOK, "")
	ck := sessionCookie(t, rec.Result())
	const next = "a brand new passphrase"
	wantStatus(t, e.call(t, http.MethodPost, PathMyPassword, PasswordChangeRequest{CurrentPassword: password, NewPassword: "short"}, cookie(ck)),
		http.StatusBadRequest, CodeInvalid)
	wantStatus(t, e.call(t, http.MethodPost, PathMyPassword, PasswordChangeRequest{CurrentPassword: "guess", NewPassword: next}, cookie(ck)),
		http.StatusForbidden, CodeForbidden)
	wantStatus(t, e.call(t, http.MethodPost, PathMyPassword, PasswordChangeRequest{CurrentPassword: password, NewPassword: next}, cookie(ck)),
		http.StatusNoContent, "")
	// The change ended the session; the new password logs in.
	wantStatus(t, e.call(t, http.MethodGet, PathMe, nil, cookie(ck)), http.StatusUnauthorized, CodeUnauthenticated)
	rec = e.call(t, http.MethodPost, PathLogin, LoginRequest{Name: "alice", Password: next})
	wantStatus(t, rec, http.StatusOK, "")
	ck = sessionCookie(t, rec.Result())
	// Wrong current passwords count as failed logins.
	wantStatus(t, e.call(t, http.MethodPost, PathMyPassword, PasswordChangeRequest{CurrentPassword: "guess 1", NewPassword: next}, cookie(ck)), http.StatusForbidden, "")
	wantStatus(t, e.call(t, http.MethodPost, PathMyPassword, PasswordChangeRequest{CurrentPassword: "guess 2", NewPassword: next}, cookie(ck)), http.StatusForbidden, "")
	wantStatus(t, e.call(t, http.MethodPost, PathMyPassword, PasswordChangeRequest{CurrentPassword: next, NewPassword: password}, cookie(ck)),
		http.StatusTooManyRequests, CodeRateLimited)
	page, _ := e.store.ListAudit(t.Context(), meta.AuditFilter{Action: "password.change", Outcome: meta.OutcomeSuccess})
	if len(page.Entries) != 1 || page.Entries[0].Actor != "alice" {
		t.Errorf("password change audit %+v", page.Entries)
	}
}
