package meta

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestTokens(t *testing.T) {
	s, clk := openTest(t)
	ctx := t.Context()
	alice := mustUser(t, s, "alice", RoleAnalyst, "correct horse")

	tok, secret, err := s.CreateToken(ctx, NewToken{UserID: alice.ID, Name: "grafana"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, TokenPrefix) || len(secret) != len(TokenPrefix)+43 || tok.Prefix != secret[:12] {
		t.Errorf("secret %q / prefix %q malformed", secret, tok.Prefix)
	}
	var stored string
	if err := s.db.QueryRowContext(ctx, `SELECT secret_hash FROM api_tokens WHERE id = ?`, tok.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored == secret || strings.Contains(stored, secret[len(TokenPrefix):]) || stored != hashSecret(secret) {
		t.Errorf("stored form %q is not the SHA-256 of the secret", stored)
	}

	p, err := s.AuthenticateToken(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	if p.User.ID != alice.ID || p.TokenID != tok.ID || p.SessionID != "" {
		t.Errorf("principal %+v", p)
	}
	role, _ := s.GetRole(ctx, RoleAnalyst)
	if diff := cmp.Diff(role.Permissions, p.Permissions.List()); diff != "" {
		t.Errorf("unscoped token permissions (-role +got):\n%s", diff)
	}
	got, _ := s.GetToken(ctx, tok.ID)
	if !got.LastUsedAt.Equal(clk.Now()) {
		t.Errorf("last used = %s, want %s", got.LastUsedAt, clk.Now())
	}
	// Use within a minute is not written again; after it, it is.
	clk.Advance(30 * time.Second)
	s.AuthenticateToken(ctx, secret)
	if got, _ := s.GetToken(ctx, tok.ID); got.LastUsedAt.Equal(clk.Now()) {
		t.Error("last use written twice within a minute")
	}
	clk.Advance(time.Minute)
	s.AuthenticateToken(ctx, secret)
	if got, _ := s.GetToken(ctx, tok.ID); !got.LastUsedAt.Equal(clk.Now()) {
		t.Error("last use not written after a minute")
	}

	// Scopes narrow the role; scopes beyond the role grant nothing.
	scoped, sSecret, err := s.CreateToken(ctx, NewToken{UserID: alice.ID, Name: "export", Scopes: []Permission{PermAnalysisRead, PermUsersWrite}})
	if err != nil {
		t.Fatal(err)
	}
	p, err = s.AuthenticateToken(ctx, sSecret)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Permission{PermAnalysisRead}, p.Permissions.List()); diff != "" {
		t.Errorf("scoped permissions (-want +got):\n%s", diff)
	}

	// Expiry.
	exp, eSecret, err := s.CreateToken(ctx, NewToken{UserID: alice.ID, Name: "short", ExpiresAt: clk.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AuthenticateToken(ctx, eSecret); err != nil {
		t.Errorf("token before expiry: %v", err)
	}
	clk.Advance(time.Hour)
	_, err = s.AuthenticateToken(ctx, eSecret)
	wantErr(t, err, ErrUnauthenticated, "")
	if got, _ := s.GetToken(ctx, exp.ID); got.Active(clk.Now()) {
		t.Error("expired token reports active")
	}

	// Revocation.
	rev, err := s.RevokeToken(ctx, scoped.ID)
	if err != nil || !rev.RevokedAt.Equal(clk.Now()) {
		t.Fatalf("RevokeToken = %+v, %v", rev, err)
	}
	_, err = s.AuthenticateToken(ctx, sSecret)
	wantErr(t, err, ErrUnauthenticated, "")
	clk.Advance(time.Minute)
	again, err := s.RevokeToken(ctx, scoped.ID)
	if err != nil || !again.RevokedAt.Equal(rev.RevokedAt) {
		t.Errorf("second revoke moved the time: %+v, %v", again, err)
	}
	_, err = s.RevokeToken(ctx, "nope")
	wantErr(t, err, ErrNotFound, "")

	// Role changes reach existing tokens; disabling the user stops them.
	if _, err := s.UpdateUser(ctx, alice.ID, UserUpdate{Role: ptr(RoleReportRecipient)}); err != nil {
		t.Fatal(err)
	}
	p, err = s.AuthenticateToken(ctx, secret)
	if err != nil || !cmp.Equal([]Permission{PermReportsRead}, p.Permissions.List()) {
		t.Errorf("after demotion: %v, %v", p.Permissions.List(), err)
	}
	if _, err := s.UpdateUser(ctx, alice.ID, UserUpdate{Disabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	_, err = s.AuthenticateToken(ctx, secret)
	wantErr(t, err, ErrUnauthenticated, "")

	for _, bad := range []string{"", "flk_", "flk_short", "Bearer " + secret, secret + "x", "fls_" + secret[4:], TokenPrefix + strings.Repeat("A", 43)} {
		_, err := s.AuthenticateToken(ctx, bad)
		wantErr(t, err, ErrUnauthenticated, "")
	}

	list, err := s.ListTokens(ctx, alice.ID)
	if err != nil || len(list) != 3 || list[0].ID != exp.ID {
		t.Errorf("ListTokens = %d tokens (first %v), %v; want 3, newest first", len(list), list, err)
	}
	other := mustUser(t, s, "bob", RoleViewer, "")
	if _, _, err := s.CreateToken(ctx, NewToken{UserID: other.ID, Name: "x"}); err != nil {
		t.Fatal(err)
	}
	if all, _ := s.ListTokens(ctx, ""); len(all) != 4 {
		t.Errorf("ListTokens(all) = %d, want 4", len(all))
	}

	for _, tt := range []struct {
		name string
		nt   NewToken
		err  error
		msg  string
	}{
		{"no name", NewToken{UserID: alice.ID}, ErrInvalid, "name"},
		{"bad scope", NewToken{UserID: alice.ID, Name: "x", Scopes: []Permission{"root"}}, ErrInvalid, `"root"`},
		{"past expiry", NewToken{UserID: alice.ID, Name: "x", ExpiresAt: clk.Now().Add(-time.Second)}, ErrInvalid, "not in the future"},
		{"no user", NewToken{UserID: "ghost", Name: "x"}, ErrNotFound, "user"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := s.CreateToken(ctx, tt.nt)
			wantErr(t, err, tt.err, tt.msg)
		})
	}

	// Deleting the user deletes their tokens.
	if err := s.DeleteUser(ctx, other.ID); err != nil {
		t.Fatal(err)
	}
	if all, _ := s.ListTokens(ctx, ""); len(all) != 3 {
		t.Errorf("after deleting bob: %d tokens, want 3", len(all))
	}
}

func TestSessions(t *testing.T) {
	s, clk := openTest(t)
	ctx := t.Context()
	alice := mustUser(t, s, "alice", RoleViewer, "correct horse")
	ss, secret, err := s.CreateSession(ctx, alice.ID, "192.0.2.1", "curl/8")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, SessionPrefix) || !ss.ExpiresAt.Equal(clk.Now().Add(12*time.Hour)) {
		t.Errorf("session %+v secret %q", ss, secret)
	}
	p, err := s.AuthenticateSession(ctx, secret)
	if err != nil || p.SessionID != ss.ID || p.User.ID != alice.ID || !p.Permissions.Has(PermAnalysisRead) || p.Permissions.Has(PermUsersRead) {
		t.Fatalf("AuthenticateSession = %+v, %v", p, err)
	}
	_, err = s.AuthenticateSession(ctx, "fls_nope")
	wantErr(t, err, ErrUnauthenticated, "")
	_, err = s.AuthenticateToken(ctx, secret) // a session secret is not a token
	wantErr(t, err, ErrUnauthenticated, "")

	// Activity keeps the session alive past the idle timeout (30m)...
	for range 4 {
		clk.Advance(20 * time.Minute)
		if _, err := s.AuthenticateSession(ctx, secret); err != nil {
			t.Fatalf("active session ended: %v", err)
		}
	}
	// ...and idleness ends it.
	clk.Advance(31 * time.Minute)
	_, err = s.AuthenticateSession(ctx, secret)
	wantErr(t, err, ErrUnauthenticated, "")

	// The idle timeout is a setting.
	if _, err := s.UpdateSettings(ctx, SettingsPatch{SessionIdleTimeout: ptr(Duration(24 * time.Hour))}, "test"); err != nil {
		t.Fatal(err)
	}
	_, secret, _ = s.CreateSession(ctx, alice.ID, "", "")
	clk.Advance(11 * time.Hour)
	if _, err := s.AuthenticateSession(ctx, secret); err != nil {
		t.Errorf("session within its max age and idle timeout: %v", err)
	}
	// The absolute lifetime ends it whatever the activity.
	clk.Advance(time.Hour)
	_, err = s.AuthenticateSession(ctx, secret)
	wantErr(t, err, ErrUnauthenticated, "")

	// Logout.
	_, secret, _ = s.CreateSession(ctx, alice.ID, "", "")
	if list, _ := s.ListSessions(ctx, alice.ID); len(list) != 1 {
		t.Errorf("ListSessions = %d, want 1 (expired ones pruned)", len(list))
	}
	if err := s.DeleteSession(ctx, secret); err != nil {
		t.Fatal(err)
	}
	_, err = s.AuthenticateSession(ctx, secret)
	wantErr(t, err, ErrUnauthenticated, "")

	// A password change or disabling ends every session of the user.
	_, s1, _ := s.CreateSession(ctx, alice.ID, "", "")
	if _, err := s.UpdateUser(ctx, alice.ID, UserUpdate{Password: ptr("another horse")}); err != nil {
		t.Fatal(err)
	}
	_, err = s.AuthenticateSession(ctx, s1)
	wantErr(t, err, ErrUnauthenticated, "")
	_, s2, _ := s.CreateSession(ctx, alice.ID, "", "")
	if _, err := s.UpdateUser(ctx, alice.ID, UserUpdate{Disabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	_, err = s.AuthenticateSession(ctx, s2)
	wantErr(t, err, ErrUnauthenticated, "")
	if _, _, err := s.CreateSession(ctx, "ghost", "", ""); err == nil {
		t.Error("session for a missing user")
	}
}

func TestLoginFailures(t *testing.T) {
	s, clk := openTest(t)
	ctx := t.Context()
	const window = 15 * time.Minute
	for i := 1; i <= 3; i++ {
		n, err := s.RecordLoginFailure(ctx, "alice|192.0.2.1", window)
		if err != nil || n != i {
			t.Fatalf("failure %d counted as %d, %v", i, n, err)
		}
		clk.Advance(time.Minute)
	}
	s.RecordLoginFailure(ctx, "alice|192.0.2.2", window)
	n, until, err := s.LoginFailures(ctx, "alice|192.0.2.1", window)
	start := clk.Now().Add(-3 * time.Minute)
	if err != nil || n != 3 || !until.Equal(start.Add(window)) {
		t.Errorf("LoginFailures = %d until %s, %v; want 3 until %s", n, until, err, start.Add(window))
	}
	clk.Advance(window - 3*time.Minute) // exactly the first failure leaves the window
	if n, _, _ := s.LoginFailures(ctx, "alice|192.0.2.1", window); n != 2 {
		t.Errorf("after the window slid: %d, want 2", n)
	}
	if err := s.ClearLoginFailures(ctx, "alice|192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if n, until, _ := s.LoginFailures(ctx, "alice|192.0.2.1", window); n != 0 || !until.IsZero() {
		t.Errorf("after clear: %d until %s", n, until)
	}
	if n, _, _ := s.LoginFailures(ctx, "alice|192.0.2.2", window); n != 1 {
		t.Errorf("other key: %d, want 1", n)
	}
}
