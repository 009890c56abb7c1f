package api

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/flowlake/flowlake/storage/meta"
)

// zeros is a reader of n bytes b ('a' when zero): a big body that is
// never held in memory.
type zeros struct {
	n int64
	b byte
}

func (z *zeros) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > z.n {
		p = p[:z.n]
	}
	b := z.b
	if b == 0 {
		b = 'a'
	}
	for i := range p {
		p[i] = b
	}
	z.n -= int64(len(p))
	return len(p), nil
}

// TestQueryBodyStrict posts bodies to /api/v1/query through the server's
// handler: one JSON value and nothing after it, application/json only, at
// most 1 MiB (413 whether or not Content-Length says so in advance).
func TestQueryBodyStrict(t *testing.T) {
	e := queryEnv(t)
	const good = `{"dataset":"flows","from":"-2h","group_by":["proto"],"limit":1}`
	big := func(withLength bool) func() (io.Reader, int64) {
		return func() (io.Reader, int64) {
			n := int64(100 << 20)
			r := io.MultiReader(strings.NewReader(`{"filter":"`), &zeros{n: n}, strings.NewReader(`"}`))
			if withLength {
				return r, n + int64(len(`{"filter":""}`))
			}
			return r, -1
		}
	}
	text := func(s string) func() (io.Reader, int64) {
		return func() (io.Reader, int64) { return strings.NewReader(s), int64(len(s)) }
	}
	for _, tc := range []struct {
		name        string
		body        func() (io.Reader, int64)
		contentType string
		status      int
		detail      string
	}{
		{"one value", text(good), "application/json", 200, ""},
		{"no content type", text(good), "", 200, ""},
		{"trailing white space", text(good + " \n\t"), "application/json; charset=utf-8", 200, ""},
		{"trailing brace", text(good + "}"), "application/json", 400, "data after the JSON value"},
		{"trailing bracket", text(good + " ]"), "application/json", 400, "data after the JSON value"},
		{"second value", text(good + `{"dataset":"flows"}`), "application/json", 400, "data after the JSON value"},
		{"trailing word", text(good + " and more"), "application/json", 400, "data after the JSON value"},
		{"cut short", text(`{"dataset":"flo`), "application/json", 400, "ends early"},
		{"empty", text(""), "application/json", 400, "empty"},
		{"wrong type", text(`{"limit":"ten"}`), "application/json", 400, "limit: got a JSON string"},
		{"form", text("dataset=flows&from=-2h"), "application/x-www-form-urlencoded", 415, ""},
		{"text", text(good), "text/plain", 415, ""},
		{"100 MB with Content-Length", big(true), "application/json", 413, ""},
		{"100 MB chunked", big(false), "application/json", 413, ""},
		{"valid JSON, then 100 MB of spaces", func() (io.Reader, int64) {
			return io.MultiReader(strings.NewReader(good), &zeros{n: 100 << 20, b: ' '}), -1
		}, "application/json", 413, ""},
		{"valid JSON, then 100 MB of text", func() (io.Reader, int64) {
			return io.MultiReader(strings.NewReader(good), &zeros{n: 100 << 20}), -1
		}, "application/json", 400, "data after the JSON value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, n := tc.body()
			req := httptest.NewRequest(http.MethodPost, PathQuery, body)
			req.ContentLength = n
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			req.Header.Set("Authorization", "Bearer "+e.admin)
			rec := httptest.NewRecorder()
			e.srv.Handler().ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %.300s", rec.Code, tc.status, rec.Body)
			}
			if tc.status >= 400 {
				p := decode[Problem](t, rec)
				if p.Code != CodeInvalid || !strings.Contains(p.Detail, tc.detail) {
					t.Errorf("problem %+v, want code %s and detail with %q", p, CodeInvalid, tc.detail)
				}
			}
		})
	}
}

// TestDisableEndsTokens disables a user over the API: their token stops
// working at once, stays revoked when the user is enabled again, and is
// listed with its revocation time.
func TestDisableEndsTokens(t *testing.T) {
	e := newEnv(t, DefaultConfig(), fakeLister{})
	rec := e.call(t, http.MethodPost, PathUsers, UserCreateRequest{Name: "dora", Role: meta.RoleViewer}, bearer(e.admin))
	wantStatus(t, rec, http.StatusCreated, "")
	dora := decode[meta.User](t, rec)
	rec = e.call(t, http.MethodPost, PathTokens, AdminTokenRequest{UserID: dora.ID, TokenRequest: TokenRequest{Name: "grafana"}}, bearer(e.admin))
	wantStatus(t, rec, http.StatusCreated, "")
	tok := decode[TokenCreated](t, rec)

	steps := []struct {
		name     string
		disabled *bool
		me       int
	}{
		{"enabled", nil, http.StatusOK},
		{"disabled", ptr(true), http.StatusUnauthorized},
		{"enabled again", ptr(false), http.StatusUnauthorized},
	}
	for _, st := range steps {
		if st.disabled != nil {
			rec := e.call(t, http.MethodPatch, PathUsers+"/"+dora.ID, UserPatchRequest{Disabled: st.disabled}, bearer(e.admin))
			wantStatus(t, rec, http.StatusOK, "")
		}
		rec := e.call(t, http.MethodGet, PathMe, nil, bearer(tok.Secret))
		if rec.Code != st.me {
			t.Errorf("%s: GET /me with the token = %d, want %d", st.name, rec.Code, st.me)
		}
	}
	rec = e.call(t, http.MethodGet, PathTokens+"/"+tok.Token.ID, nil, bearer(e.admin))
	wantStatus(t, rec, http.StatusOK, "")
	if got := decode[meta.Token](t, rec); got.RevokedAt.IsZero() {
		t.Errorf("token of the disabled user is not marked revoked: %+v", got)
	}
	// A token made after enabling works: only the old ones ended.
	rec = e.call(t, http.MethodPost, PathTokens, AdminTokenRequest{UserID: dora.ID, TokenRequest: TokenRequest{Name: "new"}}, bearer(e.admin))
	wantStatus(t, rec, http.StatusCreated, "")
	fresh := decode[TokenCreated](t, rec)
	if rec := e.call(t, http.MethodGet, PathMe, nil, bearer(fresh.Secret)); rec.Code != http.StatusOK {
		t.Errorf("new token after re-enabling: %d %s", rec.Code, rec.Body)
	}
}

// TestEveryJSONBodyCapped sends a 2 MiB JSON body to every route of the
// route table that takes one (GraphQL aside: graph caps its own), streamed
// and with Content-Length: each answers 413, so no REST body is read past
// 1 MiB.
func TestEveryJSONBodyCapped(t *testing.T) {
	e := newEnv(t, DefaultConfig(), fakeLister{})
	n := 0
	for _, r := range e.srv.routes() {
		if r.request == nil || strings.HasPrefix(r.path, PathGraphQL) {
			continue
		}
		path := strings.NewReplacer(":id", "01M98H0WB179ZN1DFMAAEVTRJC", ":name", "analyst").Replace(r.path)
		for _, withLength := range []bool{false, true} {
			size := int64(2 << 20)
			body := io.MultiReader(strings.NewReader(`{"name":"`), &zeros{n: size}, strings.NewReader(`"}`))
			req := httptest.NewRequest(r.method, path, body)
			req.ContentLength = -1
			if withLength {
				req.ContentLength = size + int64(len(`{"name":""}`))
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+e.admin)
			rec := httptest.NewRecorder()
			e.srv.Handler().ServeHTTP(rec, req)
			if rec.Code != http.StatusRequestEntityTooLarge {
				t.Errorf("%s %s (Content-Length %v): %d, want 413: %.200s", r.method, path, withLength, rec.Code, rec.Body)
			}
		}
		n++
	}
	if n < 10 {
		t.Fatalf("only %d routes take a JSON body: the route table lost its request types", n)
	}
}
