package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/meta"
)

// runWithStdin runs the binary in-process with stdin, like runCLI.
func runWithStdin(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	a := &app{stdout: &stdout, stderr: &stderr}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	err := root.ExecuteContext(t.Context())
	var ue usageError
	switch {
	case err == nil:
		return stdout.String(), stderr.String(), 0
	case errorsAs(err, &ue):
		return stdout.String(), stderr.String() + err.Error(), 2
	}
	return stdout.String(), stderr.String() + err.Error(), 1
}

// addUserToken creates an administrator in the lake dir's metadata store
// and returns their API token.
func addUserToken(t *testing.T, dir string) string {
	t.Helper()
	out, errOut, code := runCLI(t, nil, "user", "add", "--name", "admin", "--role", "admin", "--token", "--json", "--data", dir, "--log-level", "warn")
	if code != 0 {
		t.Fatalf("user add exited %d: %s", code, errOut)
	}
	var added UserAdded
	if err := json.Unmarshal([]byte(out), &added); err != nil || added.Secret == "" {
		t.Fatalf("user add --json: %v: %s", err, out)
	}
	return added.Secret
}

// openTestMeta opens the metadata store of a data directory.
func openTestMeta(t *testing.T, dir string) *meta.Store {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Lake.Root = dir
	st, err := meta.Open(t.Context(), cfg.MetaConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestUserAdd(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // not created yet
	const pw = "correct horse battery"
	out, errOut, code := runWithStdin(t, pw+"\n", "user", "add", "--name", "alice", "--role", "analyst", "--password-stdin", "--token",
		"--token-expires", "30d", "--json", "--data", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var added UserAdded
	if err := json.Unmarshal([]byte(out), &added); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if added.User.Name != "alice" || added.User.Role != "analyst" || !added.User.HasPassword || added.Token == nil {
		t.Errorf("added %+v", added)
	}
	if d := time.Until(added.Token.ExpiresAt); d < 29*24*time.Hour || d > 30*24*time.Hour {
		t.Errorf("token expires in %s, want 30d", d)
	}

	st := openTestMeta(t, dir)
	ctx := t.Context()
	if _, err := st.Authenticate(ctx, "alice", pw); err != nil {
		t.Errorf("password from stdin does not log in: %v", err)
	}
	if _, err := st.Authenticate(ctx, "alice", pw+"\n"); err == nil {
		t.Error("the line ending became part of the password")
	}
	p, err := st.AuthenticateToken(ctx, added.Secret)
	if err != nil || p.User.ID != added.User.ID {
		t.Errorf("printed token: %+v, %v", p, err)
	}
	page, err := st.ListAudit(ctx, meta.AuditFilter{Actor: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range page.Entries {
		actions = append(actions, e.Action+" "+e.Outcome)
	}
	if strings.Join(actions, ",") != "token.create success,user.create success" {
		t.Errorf("audit: %v", actions)
	}

	// Text output shows the secret once; no password anywhere.
	out, errOut, code = runWithStdin(t, "", "user", "add", "--name", "svc", "--role", "viewer", "--token", "--data", dir)
	if code != 0 || !strings.Contains(out, "Created user svc") || !strings.Contains(out, meta.TokenPrefix) {
		t.Errorf("text output (exit %d): %s %s", code, out, errOut)
	}

	for _, tt := range []struct {
		name  string
		stdin string
		args  []string
		code  int
		err   string
	}{
		{"duplicate", pw, []string{"--name", "alice", "--role", "viewer", "--password-stdin"}, 1, "conflict"},
		{"unknown role", pw, []string{"--name", "bob", "--role", "wizard", "--password-stdin"}, 2, `role "wizard" does not exist`},
		{"no way in", "", []string{"--name", "bob", "--role", "viewer"}, 2, "--password-stdin, --token or both"},
		{"empty stdin", "", []string{"--name", "bob", "--role", "viewer", "--password-stdin"}, 2, "stdin holds no password"},
		{"short password", "short\n", []string{"--name", "bob", "--role", "viewer", "--password-stdin"}, 2, "at least 8"},
		{"no name", pw, []string{"--role", "viewer", "--password-stdin"}, 2, "--name and --role"},
		{"bad expiry", "", []string{"--name", "bob", "--role", "viewer", "--token", "--token-expires", "soon"}, 2, "--token-expires"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := runWithStdin(t, tt.stdin, append([]string{"user", "add", "--data", dir}, tt.args...)...)
			if code != tt.code || !strings.Contains(errOut, tt.err) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errOut, tt.code, tt.err)
			}
			if strings.Contains(errOut, pw) {
				t.Error("password echoed")
			}
		})
	}

	out, _, code = runCLI(t, nil, "user", "list", "--json", "--data", dir)
	var list UserList
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list.Users) != 2 {
		t.Errorf("user list: exit %d, %s", code, out)
	}
	out, _, code = runCLI(t, nil, "user", "list", "--data", dir)
	if code != 0 || !strings.HasPrefix(out, "NAME") || !strings.Contains(out, "alice") {
		t.Errorf("user list table: %s", out)
	}
}

// TestServeRequiresAuth: serve opens the metadata store in the data
// directory; only the probes answer without a token.
func TestServeRequiresAuth(t *testing.T) {
	dir := t.TempDir()
	token := addUserToken(t, dir)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	addrs := make(chan net.Addr, 1)
	done := make(chan int, 1)
	var stdout, stderr bytes.Buffer
	go func() {
		done <- run(ctx, []string{"serve", "--data", dir, "--listen", "127.0.0.1:0"}, &stdout, &stderr,
			hooks{onListen: func(a net.Addr) { addrs <- a }})
	}()
	var base string
	select {
	case a := <-addrs:
		base = "http://" + a.String()
	case code := <-done:
		t.Fatalf("serve exited %d: %s", code, stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not listen within 10s")
	}
	status := func(path, tok string) int {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for _, tt := range []struct {
		path, token string
		want        int
	}{
		{"/healthz", "", 200}, {"/readyz", "", 200},
		{"/api/v1/datasets", "", 401}, {"/metrics", "", 401}, {"/api/v1/me", "", 401},
		{"/api/v1/me", token, 200}, {"/api/v1/users", token, 200}, {"/api/v1/openapi.json", token, 200},
	} {
		if got := status(tt.path, tt.token); got != tt.want {
			t.Errorf("GET %s (token %v) = %d, want %d", tt.path, tt.token != "", got, tt.want)
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("serve exited %d: %s", code, stderr.String())
	}
	if strings.Contains(stderr.String(), token) {
		t.Error("the token is in serve's log")
	}
	// The metadata store is not part of the lake.
	if _, errOut, code := runCLI(t, nil, "lake", "verify", "--data", dir); code != 0 {
		t.Errorf("lake verify with the metadata store in the data directory: exit %d: %s", code, errOut)
	}
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }
