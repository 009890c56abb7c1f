package query

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// ErrMemoryBudget ends a query whose working memory (aggregation state,
// listing candidates, decoded columns, the result) would exceed its budget,
// or the budget its request shares with its other queries
// (WithRequestBudget).
var ErrMemoryBudget = errors.New("memory budget exceeded")

// budget is a query's working memory, shared by its workers. Memory is
// charged as it is about to be held; the budget reserves it, in chunks,
// from the request's budget and the engine's pool before the query may
// spend it, so neither the query nor the request nor the server passes
// its bound.
type budget struct {
	limit int64 // 0: unlimited
	used  atomic.Int64
	peak  atomic.Int64

	pool *pool          // nil: no pool
	req  *requestBudget // nil: no request budget

	mu       sync.Mutex   // serialises reservations
	reserved atomic.Int64 // taken from req and pool

	refused     func() // tests: called when the limit refuses a charge
	refusedOnce sync.Once
}

// charge adds delta bytes (negative to give back) and fails once the
// total passes the limit, the request's budget or what the pool can give.
func (b *budget) charge(delta int64) error {
	used := b.used.Add(delta)
	for {
		p := b.peak.Load()
		if used <= p || b.peak.CompareAndSwap(p, used) {
			break
		}
	}
	if b.limit > 0 && used > b.limit {
		if b.refused != nil {
			b.refusedOnce.Do(b.refused)
		}
		return fmt.Errorf("%w: needs more than %d MiB (the limit is %d MiB); narrow the time range or filter, use fewer or coarser dimensions, or raise the budget",
			ErrMemoryBudget, used>>20, b.limit>>20)
	}
	if used > b.reserved.Load() {
		// A running query does not wait for memory: two queries waiting
		// for each other's would both hold theirs.
		return b.reserve(context.Background(), used, 0)
	}
	return nil
}

// reserve makes sure need bytes are reserved, taking at least a chunk at a
// time; it waits up to wait for the pool.
func (b *budget) reserve(ctx context.Context, need int64, wait time.Duration) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	held := b.reserved.Load()
	if need <= held {
		return nil
	}
	n := max(need-held, reserveChunk)
	if b.limit > 0 {
		n = min(n, max(b.limit-held, need-held))
	}
	if b.req != nil {
		if err := b.req.take(n); err != nil {
			return err
		}
	}
	if b.pool != nil {
		if err := b.pool.take(ctx, n, wait); err != nil {
			if b.req != nil {
				b.req.give(n)
			}
			return err
		}
	}
	b.reserved.Add(n)
	return nil
}

// end gives back what the query reserved, except keep bytes (its result):
// they stay charged to the request (which holds the answer until it
// responds) and to the pool until the returned hold is freed (nil when
// nothing is kept).
func (b *budget) end(keep int64) *resultHold {
	b.mu.Lock()
	defer b.mu.Unlock()
	held := b.reserved.Swap(0)
	keep = min(max(keep, 0), held)
	if b.req != nil {
		b.req.give(held - keep)
	}
	if b.pool == nil {
		return nil
	}
	b.pool.give(held - keep)
	if keep == 0 {
		return nil
	}
	return &resultHold{p: b.pool, n: keep}
}
