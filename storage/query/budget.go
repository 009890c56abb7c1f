package query

import (
	"errors"
	"fmt"
	"sync/atomic"
)

// ErrMemoryBudget ends a query whose working memory (aggregation state,
// listing candidates, decoded columns) would exceed its budget.
var ErrMemoryBudget = errors.New("query memory budget exceeded")

// budget is a query's working memory, shared by its workers.
type budget struct {
	limit int64 // 0: unlimited
	used  atomic.Int64
	peak  atomic.Int64
}

// charge adds delta bytes (negative to give back) and fails once the
// total passes the limit.
func (b *budget) charge(delta int64) error {
	used := b.used.Add(delta)
	for {
		p := b.peak.Load()
		if used <= p || b.peak.CompareAndSwap(p, used) {
			break
		}
	}
	if b.limit > 0 && used > b.limit {
		return fmt.Errorf("%w: needs more than %d MiB (the limit is %d MiB); narrow the time range or filter, use fewer or coarser dimensions, or raise the budget",
			ErrMemoryBudget, used>>20, b.limit>>20)
	}
	return nil
}
