package api

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowlake/flowlake/storage/meta"
)

// openStore opens a real metadata store on a SQLite file in t.TempDir(),
// with cheap password hashing.
func openStore(t testing.TB) *meta.Store {
	t.Helper()
	cfg := meta.DefaultConfig()
	cfg.DSN = filepath.Join(t.TempDir(), "meta.db")
	cfg.Password = meta.PasswordParams{MemoryKiB: 1024, Iterations: 1, Parallelism: 1}
	st, err := meta.Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("meta.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// env is a server over a real store, with an administrator and its token.
type env struct {
	srv   *Server
	store *meta.Store
	logs  *bytes.Buffer
	admin string // the administrator's token
}

func newEnv(t *testing.T, cfg Config, l DatasetLister) *env {
	t.Helper()
	st := openStore(t)
	return newEnvOn(t, cfg, l, st)
}

// newEnvOn builds a server over an existing store (a second replica).
func newEnvOn(t *testing.T, cfg Config, l DatasetLister, st *meta.Store) *env {
	t.Helper()
	var logs bytes.Buffer
	srv, err := New(cfg, Deps{Datasets: l, Meta: st,
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e := &env{srv: srv, store: st, logs: &logs}
	u, err := st.GetUserByName(t.Context(), "root")
	if err != nil {
		u, err = st.CreateUser(t.Context(), meta.NewUser{Name: "root", Role: meta.RoleAdmin})
		if err != nil {
			t.Fatal(err)
		}
	}
	_, e.admin, err = st.CreateToken(t.Context(), meta.NewToken{UserID: u.ID, Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// userToken creates a user of a role and returns a token of theirs.
func (e *env) userToken(t testing.TB, name, role string) string {
	t.Helper()
	u, err := e.store.CreateUser(t.Context(), meta.NewUser{Name: name, Role: role})
	if err != nil {
		t.Fatal(err)
	}
	_, secret, err := e.store.CreateToken(t.Context(), meta.NewToken{UserID: u.ID, Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// reqOpt adjusts a test request.
type reqOpt func(*http.Request)

func bearer(token string) reqOpt {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
}

func cookie(c *http.Cookie) reqOpt { return func(r *http.Request) { r.AddCookie(c) } }

func header(k, v string) reqOpt { return func(r *http.Request) { r.Header.Set(k, v) } }

func from(addr string) reqOpt { return func(r *http.Request) { r.RemoteAddr = addr } }

// call sends a request with a JSON body (a string is sent as is; nil
// sends none).
func (e *env) call(t testing.TB, method, path string, body any, opts ...reqOpt) *httptest.ResponseRecorder {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, o := range opts {
		o(req)
	}
	rec := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(rec, req)
	return rec
}

// decode reads a JSON response body into a T.
func decode[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("response %d is not the JSON expected: %v: %s", rec.Code, err, rec.Body)
	}
	return v
}

// wantStatus fails the test unless rec has the status (and, for
// problems, the code).
func wantStatus(t *testing.T, rec *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status %d, want %d: %s", rec.Code, status, rec.Body)
	}
	if code != "" {
		p := decode[Problem](t, rec)
		if p.Code != code {
			t.Fatalf("problem code %q, want %q: %s", p.Code, code, rec.Body)
		}
	}
}
