package api

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/meta"
	"github.com/flowlake/flowlake/storage/query"
)

// TestOverloaded: when the engine's memory pool is taken, a REST query and
// a GraphQL request whose every field was refused for it answer 429 with
// Retry-After, before any memory is spent; once memory is free the same
// requests answer 200.
func TestOverloaded(t *testing.T) {
	l := testGraphLake(t)
	eng := query.New(l, query.Config{Now: func() time.Time { return graphEnd }, MemoryPool: 1 << 20, AdmissionWait: -1}, nil)
	st := openStore(t)
	srv, err := New(DefaultConfig(), Deps{Datasets: l, Query: eng, Meta: st})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{srv: srv, store: st}
	u, err := st.CreateUser(t.Context(), meta.NewUser{Name: "root", Role: meta.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if _, e.admin, err = st.CreateToken(t.Context(), meta.NewToken{UserID: u.ID, Name: "test"}); err != nil {
		t.Fatal(err)
	}
	// A result not yet released keeps its share of the pool: the pool
	// cannot admit another query.
	held, err := eng.Run(context.Background(), query.Query{Dataset: "flows", From: "-1h", Metrics: []string{"count()"}})
	if err != nil {
		t.Fatal(err)
	}
	rest := query.Query{Dataset: "flows", From: "-1h", GroupBy: []string{"proto"}, Limit: 1}
	gql := map[string]string{"query": `{ a: topN(from: "-1h", by: ["proto"], limit: 1) { rows { keys } } b: topN(from: "-1h", by: ["app"], limit: 1) { rows { keys } } }`}

	rec := e.call(t, "POST", PathQuery, rest, bearer(e.admin))
	wantStatus(t, rec, http.StatusTooManyRequests, CodeOverloaded)
	if rec.Header().Get("Retry-After") == "" {
		t.Errorf("REST 429 without Retry-After")
	}
	rec = e.call(t, "POST", PathGraphQL, gql, bearer(e.admin))
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("GraphQL with every field overloaded: status %d, Retry-After %q, want 429 with one: %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	var resp struct {
		Errors []gqlError `json:"errors"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.Errors) != 2 || resp.Errors[0].Extensions["code"] != "OVERLOADED" || resp.Errors[1].Extensions["code"] != "OVERLOADED" {
		t.Errorf("errors %+v, want two OVERLOADED", resp.Errors)
	}

	held.Release()
	wantStatus(t, e.call(t, "POST", PathQuery, rest, bearer(e.admin)), http.StatusOK, "")
	// One field at a time: two would share the 1 MiB pool.
	one := map[string]string{"query": `{ topN(from: "-1h", by: ["proto"], limit: 1) { rows { keys } } }`}
	rec = e.call(t, "POST", PathGraphQL, one, bearer(e.admin))
	resp.Errors = nil
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || rec.Code != http.StatusOK || len(resp.Errors) > 0 {
		t.Errorf("GraphQL after the pool freed: status %d: %s", rec.Code, rec.Body)
	}
}
