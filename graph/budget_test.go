package graph

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/99designs/gqlgen/client"

	"github.com/flowlake/flowlake/storage/meta"
	"github.com/flowlake/flowlake/storage/query"
)

// budgetRunner records the request budget each query runs under and
// answers nothing (the engine's charging is tested in storage/query).
type budgetRunner struct {
	mu   sync.Mutex
	left []int64
}

func (b *budgetRunner) Run(ctx context.Context, _ query.Query) (*query.Result, error) {
	left, ok := query.RequestBudgetLeft(ctx)
	b.mu.Lock()
	defer b.mu.Unlock()
	if !ok {
		left = -1
	}
	b.left = append(b.left, left)
	return nil, query.ErrOverloaded // any engine error: the test looks at the context only
}

// TestRequestBudget: every query of an HTTP request runs under the
// request's memory budget (Config.RequestMemoryBudget), aliases included.
func TestRequestBudget(t *testing.T) {
	st := openStore(t)
	runner := &budgetRunner{}
	cfg := DefaultConfig()
	cfg.RequestMemoryBudget = 5 << 20
	h, err := New(cfg, Deps{Meta: st, Datasets: noDatasets{}, Query: runner})
	if err != nil {
		t.Fatal(err)
	}
	var perms []meta.Permission
	for _, r := range meta.BuiltinRoles() {
		if r.Name == meta.RoleAdmin {
			perms = r.Permissions
		}
	}
	c := client.New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(WithCaller(r.Context(), Caller{
			Principal: meta.Principal{User: meta.User{Name: "root", Role: meta.RoleAdmin}, Permissions: meta.NewPermissionSet(perms...)},
		})))
	}))
	var resp any
	err = c.Post(`{ a: topN(by: ["app"]) { rows { keys } } b: topN(by: ["proto"]) { rows { keys } } c: topN(by: ["src_addr"]) { rows { keys } } }`, &resp)
	if code := codeOf(t, err); code != CodeOverloaded {
		t.Errorf("code %s, want %s", code, CodeOverloaded)
	}
	if len(runner.left) != 3 {
		t.Fatalf("%d queries ran, want 3", len(runner.left))
	}
	for i, left := range runner.left {
		if left != cfg.RequestMemoryBudget {
			t.Errorf("query %d ran with %d bytes of request budget left, want the request's %d", i, left, cfg.RequestMemoryBudget)
		}
	}
}
