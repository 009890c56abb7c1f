package graph

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/99designs/gqlgen/graphql"

	"github.com/flowlake/flowlake/storage/query"
)

// extWarnings is the response extension that lists unreadable lake files
// an answer is missing: {"extensions": {"warnings": [{"segment", "error"}]}}.
// Like REST's warnings, it says the data of the response is incomplete.
const extWarnings = "warnings"

// warningList gathers the warnings of every resolver of one response.
type warningList struct {
	mu   sync.Mutex
	list []query.Warning
}

// MarshalJSON implements json.Marshaler.
func (w *warningList) MarshalJSON() ([]byte, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return json.Marshal(w.list)
}

// warningsRegister serialises registering a response's warning list, which
// gqlgen accepts once per key.
var warningsRegister sync.Mutex

// addWarnings adds an answer's warnings to the response's extensions.
func addWarnings(ctx context.Context, ws []query.Warning) {
	if len(ws) == 0 || !graphql.HasOperationContext(ctx) {
		return
	}
	warningsRegister.Lock()
	wl, ok := graphql.GetExtension(ctx, extWarnings).(*warningList)
	if !ok {
		wl = &warningList{}
		graphql.RegisterExtension(ctx, extWarnings, wl)
	}
	warningsRegister.Unlock()
	wl.mu.Lock()
	wl.list = append(wl.list, ws...)
	wl.mu.Unlock()
}
