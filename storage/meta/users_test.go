package meta

import (
	"encoding/base64"
	"encoding/hex"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPasswordHash(t *testing.T) {
	p := PasswordParams{MemoryKiB: 1024, Iterations: 1, Parallelism: 1}
	h, err := hashPassword("correct horse battery", p)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^\$argon2id\$v=19\$m=1024,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`).MatchString(h) {
		t.Errorf("hash %q is not an argon2id PHC string", h)
	}
	h2, _ := hashPassword("correct horse battery", p)
	if h == h2 {
		t.Error("two hashes of one password are equal: no salt")
	}
	for _, tt := range []struct {
		name, phc, pw string
		ok            bool
		err           string
	}{
		{"right", h, "correct horse battery", true, ""},
		{"wrong", h, "correct horse batterY", false, ""},
		{"empty", h, "", false, ""},
		{"default cost", mustHash(t, "x", DefaultPasswordParams()), "x", true, ""},
		// A known-answer vector of the reference implementation (password
		// "password", salt "somesalt", t=4, m=1024 KiB, p=8), as PHC.
		{"reference", "$argon2id$v=19$m=1024,t=4,p=8$c29tZXNhbHQ$" + b64hex(t, "8dafa8e004f8ea96bf7c0f93eecf67a6047476143d15577f"), "password", true, ""},
		{"reference wrong", "$argon2id$v=19$m=1024,t=4,p=8$c29tZXNhbHQ$" + b64hex(t, "8dafa8e004f8ea96bf7c0f93eecf67a6047476143d15577f"), "Password", false, ""},
		{"bcrypt", "$2a$10$abcdefghijklmnopqrstuu", "x", false, "not an argon2id PHC"},
		{"argon2i", strings.Replace(h, "argon2id", "argon2i", 1), "x", false, "not an argon2id PHC"},
		{"bad version", strings.Replace(h, "v=19", "v=16", 1), "x", false, "version"},
		{"bad params", strings.Replace(h, "m=1024,t=1,p=1", "m=1,t=1,p=1", 1), "x", false, "memory_kib"},
		{"bad salt", strings.Replace(h, strings.Split(h, "$")[4], "!!!!", 1), "x", false, "salt"},
		{"truncated", h[:len(h)-44], "x", false, "not an argon2id PHC"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := checkPassword(tt.phc, tt.pw)
			if ok != tt.ok {
				t.Errorf("ok = %v, want %v", ok, tt.ok)
			}
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("err = %v, want %q", err, tt.err)
			}
		})
	}
}

func b64hex(t *testing.T, h string) string {
	t.Helper()
	b, err := hex.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawStdEncoding.EncodeToString(b)
}

func mustHash(t *testing.T, pw string, p PasswordParams) string {
	t.Helper()
	h, err := hashPassword(pw, p)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestUsersCRUD(t *testing.T) {
	s, clk := openTest(t)
	ctx := t.Context()
	alice := mustUser(t, s, "alice", RoleAdmin, "correct horse")
	if alice.ID == "" || !alice.HasPassword || alice.CreatedAt != clk.Now() {
		t.Errorf("created user %+v", alice)
	}
	got, err := s.GetUser(ctx, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(alice, got); diff != "" {
		t.Errorf("GetUser (-created +got):\n%s", diff)
	}
	if byName, err := s.GetUserByName(ctx, "alice"); err != nil || byName.ID != alice.ID {
		t.Errorf("GetUserByName = %+v, %v", byName, err)
	}

	for _, tt := range []struct {
		name string
		nu   NewUser
		err  error
		msg  string
	}{
		{"token-only user", NewUser{Name: "grafana", Role: RoleViewer}, nil, ""},
		{"duplicate", NewUser{Name: "alice", Role: RoleViewer}, ErrConflict, "create user alice"},
		{"bad name", NewUser{Name: "al ice", Role: RoleViewer}, ErrInvalid, `user name "al ice"`},
		{"empty name", NewUser{Name: "", Role: RoleViewer}, ErrInvalid, "user name"},
		{"unknown role", NewUser{Name: "bob", Role: "wizard"}, ErrInvalid, `role "wizard" does not exist`},
		{"short password", NewUser{Name: "bob", Role: RoleViewer, Password: "short"}, ErrInvalid, "5 characters, want at least 8"},
		{"huge password", NewUser{Name: "bob", Role: RoleViewer, Password: strings.Repeat("x", 2000)}, ErrInvalid, "longer than 1024"},
		{"long display name", NewUser{Name: "bob", Role: RoleViewer, DisplayName: strings.Repeat("x", 300)}, ErrInvalid, "display name"},
		{"ok", NewUser{Name: "bob@example.com", DisplayName: "Bob", Role: RoleAnalyst, Password: "pässwörd"}, nil, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.CreateUser(ctx, tt.nu)
			wantErr(t, err, tt.err, tt.msg)
		})
	}
	users, err := s.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range users {
		names = append(names, u.Name)
	}
	if diff := cmp.Diff([]string{"alice", "bob@example.com", "grafana"}, names); diff != "" {
		t.Errorf("ListUsers (-want +got):\n%s", diff)
	}

	clk.Advance(time.Minute)
	bob, _ := s.GetUserByName(ctx, "bob@example.com")
	upd, err := s.UpdateUser(ctx, bob.ID, UserUpdate{DisplayName: ptr("Robert"), Role: ptr(RoleViewer)})
	if err != nil {
		t.Fatal(err)
	}
	if upd.DisplayName != "Robert" || upd.Role != RoleViewer || !upd.UpdatedAt.Equal(clk.Now()) || !upd.CreatedAt.Equal(bob.CreatedAt) {
		t.Errorf("updated user %+v", upd)
	}
	_, err = s.UpdateUser(ctx, bob.ID, UserUpdate{Role: ptr("wizard")})
	wantErr(t, err, ErrInvalid, "wizard")
	_, err = s.UpdateUser(ctx, "nope", UserUpdate{DisplayName: ptr("x")})
	wantErr(t, err, ErrNotFound, "user")
	_, err = s.UpdateUser(ctx, bob.ID, UserUpdate{Password: ptr("short")})
	wantErr(t, err, ErrInvalid, "password")

	// Removing a password makes a token-only user.
	upd, err = s.UpdateUser(ctx, bob.ID, UserUpdate{Password: ptr("")})
	if err != nil || upd.HasPassword {
		t.Errorf("password removal: %+v, %v", upd, err)
	}
	_, err = s.Authenticate(ctx, "bob@example.com", "pässwörd")
	wantErr(t, err, ErrUnauthenticated, "")

	wantErr(t, s.DeleteUser(ctx, bob.ID), nil, "")
	_, err = s.GetUser(ctx, bob.ID)
	wantErr(t, err, ErrNotFound, "")
	wantErr(t, s.DeleteUser(ctx, bob.ID), ErrNotFound, "")
}

func TestLastAdmin(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	alice := mustUser(t, s, "alice", RoleAdmin, "correct horse")
	_, err := s.UpdateUser(ctx, alice.ID, UserUpdate{Role: ptr(RoleViewer)})
	wantErr(t, err, ErrConflict, "last enabled administrator")
	_, err = s.UpdateUser(ctx, alice.ID, UserUpdate{Disabled: ptr(true)})
	wantErr(t, err, ErrConflict, "last enabled administrator")
	wantErr(t, s.DeleteUser(ctx, alice.ID), ErrConflict, "last enabled administrator")

	bob := mustUser(t, s, "bob", RoleAdmin, "correct horse")
	if _, err := s.UpdateUser(ctx, alice.ID, UserUpdate{Disabled: ptr(true)}); err != nil {
		t.Fatalf("disable one of two admins: %v", err)
	}
	// Alice is disabled, so Bob is now the last enabled one.
	wantErr(t, s.DeleteUser(ctx, bob.ID), ErrConflict, "last enabled administrator")
	wantErr(t, s.DeleteUser(ctx, alice.ID), nil, "")
}

func TestAuthenticate(t *testing.T) {
	s, clk := openTest(t)
	ctx := t.Context()
	alice := mustUser(t, s, "alice", RoleAdmin, "correct horse")
	mustUser(t, s, "svc", RoleViewer, "")
	carol := mustUser(t, s, "carol", RoleViewer, "carol's password")
	if _, err := s.UpdateUser(ctx, carol.ID, UserUpdate{Disabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	u, err := s.Authenticate(ctx, "alice", "correct horse")
	if err != nil || u.ID != alice.ID || !u.LastLoginAt.Equal(clk.Now()) {
		t.Fatalf("Authenticate = %+v, %v", u, err)
	}
	if got, _ := s.GetUser(ctx, alice.ID); !got.LastLoginAt.Equal(clk.Now()) {
		t.Errorf("last login not stored: %+v", got)
	}
	for _, tt := range []struct{ name, user, pw string }{
		{"wrong password", "alice", "correct horsE"},
		{"unknown user", "mallory", "correct horse"},
		{"no password", "svc", ""},
		{"disabled", "carol", "carol's password"},
		{"dummy password", "nobody", "not a password of anyone"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Authenticate(ctx, tt.user, tt.pw)
			wantErr(t, err, ErrUnauthenticated, "")
			if strings.Contains(err.Error(), tt.pw) && tt.pw != "" {
				t.Errorf("error %q contains the password", err)
			}
		})
	}
}

func TestRolesCRUD(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	roles, err := s.ListRoles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range roles {
		names = append(names, r.Name)
		if !r.Builtin {
			t.Errorf("%s is not built in", r.Name)
		}
	}
	if diff := cmp.Diff([]string{RoleAdmin, RoleAnalyst, RoleReportRecipient, RoleViewer}, names); diff != "" {
		t.Errorf("built-in roles (-want +got):\n%s", diff)
	}
	admin, _ := s.GetRole(ctx, RoleAdmin)
	if diff := cmp.Diff(AllPermissions(), admin.Permissions); diff != "" {
		t.Errorf("admin permissions (-want +got):\n%s", diff)
	}

	for _, tt := range []struct {
		name string
		role Role
		err  error
		msg  string
	}{
		{"ok", Role{Name: "noc", Description: "operators", Permissions: []Permission{PermAlertsWrite, PermAlertsRead, PermAlertsRead}}, nil, ""},
		{"duplicate", Role{Name: "noc"}, ErrConflict, "create role noc"},
		{"built-in name", Role{Name: RoleViewer}, ErrConflict, "built-in"},
		{"bad name", Role{Name: "NOC!"}, ErrInvalid, `role name "NOC!"`},
		{"unknown permission", Role{Name: "x", Permissions: []Permission{"alerts.read", "launch.missiles"}}, ErrInvalid, `unknown permission "launch.missiles"`},
		{"empty", Role{Name: "nobody"}, nil, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.CreateRole(ctx, tt.role)
			wantErr(t, err, tt.err, tt.msg)
		})
	}
	noc, err := s.GetRole(ctx, "noc")
	if err != nil {
		t.Fatal(err)
	}
	// Normalised: documentation order, no duplicates.
	if diff := cmp.Diff([]Permission{PermAlertsRead, PermAlertsWrite}, noc.Permissions); diff != "" || noc.Builtin {
		t.Errorf("noc role %+v (-want +got perms):\n%s", noc, diff)
	}
	noc, err = s.UpdateRole(ctx, "noc", "network operations", []Permission{PermAlertsRead, PermConfigRead})
	if err != nil || noc.Description != "network operations" || len(noc.Permissions) != 2 {
		t.Errorf("UpdateRole = %+v, %v", noc, err)
	}
	_, err = s.UpdateRole(ctx, RoleAdmin, "", nil)
	wantErr(t, err, ErrImmutable, "")
	_, err = s.UpdateRole(ctx, "ghost", "", nil)
	wantErr(t, err, ErrNotFound, "")
	_, err = s.UpdateRole(ctx, "noc", "", []Permission{"bogus"})
	wantErr(t, err, ErrInvalid, "bogus")
	_, err = s.GetRole(ctx, "ghost")
	wantErr(t, err, ErrNotFound, "")

	u := mustUser(t, s, "olga", "noc", "correct horse")
	wantErr(t, s.DeleteRole(ctx, "noc"), ErrConflict, "1 users hold it")
	wantErr(t, s.DeleteRole(ctx, RoleViewer), ErrImmutable, "")
	wantErr(t, s.DeleteRole(ctx, "ghost"), ErrNotFound, "")
	if err := s.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.DeleteRole(ctx, "noc"), nil, "")
}

func TestChangePassword(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	alice := mustUser(t, s, "alice", RoleViewer, "correct horse")
	svc := mustUser(t, s, "svc", RoleViewer, "")
	_, secret, _ := s.CreateSession(ctx, alice.ID, "", "")
	wantErr(t, s.ChangePassword(ctx, alice.ID, "wrong horse", "new password"), ErrUnauthenticated, "current password")
	wantErr(t, s.ChangePassword(ctx, alice.ID, "correct horse", "short"), ErrInvalid, "at least 8")
	wantErr(t, s.ChangePassword(ctx, svc.ID, "", "new password"), ErrUnauthenticated, "")
	wantErr(t, s.ChangePassword(ctx, "ghost", "correct horse", "new password"), ErrUnauthenticated, "")
	if _, err := s.AuthenticateSession(ctx, secret); err != nil {
		t.Fatalf("failed changes ended the session: %v", err)
	}
	wantErr(t, s.ChangePassword(ctx, alice.ID, "correct horse", "new password"), nil, "")
	if _, err := s.Authenticate(ctx, "alice", "new password"); err != nil {
		t.Errorf("new password: %v", err)
	}
	_, err := s.Authenticate(ctx, "alice", "correct horse")
	wantErr(t, err, ErrUnauthenticated, "")
	_, err = s.AuthenticateSession(ctx, secret)
	wantErr(t, err, ErrUnauthenticated, "")
}
