package query

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

// ErrOverloaded ends a query the engine's memory pool cannot admit: the
// queries already running hold the pool (Config.MemoryPool), so this one
// would push the server past its bound. It is not the query's fault:
// retrying later may succeed (HTTP 429, GraphQL OVERLOADED).
var ErrOverloaded = errors.New("engine overloaded")

// reserveChunk is the smallest amount a query takes from its request's
// budget and the pool at a time, so that workers charging a few bytes do
// not contend on them.
const reserveChunk = 1 << 20

// pool is the working memory of every query of an engine at once. A query
// reserves from it before it spends (budget.reserve); what it reserved goes
// back when it ends, and a result's share when the result is released.
type pool struct {
	limit int64 // 0: unlimited

	mu      sync.Mutex
	used    int64
	peak    int64
	changed chan struct{} // closed and replaced whenever memory goes back
	onWait  func()        // tests: a query starts waiting
}

func newPool(limit int64) *pool {
	return &pool{limit: limit, changed: make(chan struct{})}
}

// take reserves n bytes, waiting up to wait (and while ctx lives) for
// other queries to give memory back. It fails with ErrOverloaded.
func (p *pool) take(ctx context.Context, n int64, wait time.Duration) error {
	var timeout <-chan time.Time
	for {
		p.mu.Lock()
		if p.limit <= 0 || p.used+n <= p.limit {
			p.used += n
			p.peak = max(p.peak, p.used)
			p.mu.Unlock()
			return nil
		}
		used, changed := p.used, p.changed
		p.mu.Unlock()
		if wait <= 0 || n > p.limit {
			return p.overloaded(n, used)
		}
		if timeout == nil {
			if p.onWait != nil {
				p.onWait()
			}
			t := time.NewTimer(wait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-changed:
		case <-timeout:
			return p.overloaded(n, used)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (p *pool) overloaded(n, used int64) error {
	return fmt.Errorf("%w: the queries running hold %d MiB of the %d MiB query memory pool and this one needs %d MiB more; retry shortly",
		ErrOverloaded, used>>20, p.limit>>20, max(n>>20, 1))
}

// give returns n bytes and wakes the queries waiting for memory.
func (p *pool) give(n int64) {
	if n == 0 {
		return
	}
	p.mu.Lock()
	p.used -= n
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

// inUse is the memory reserved now.
func (p *pool) inUse() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.used
}

// requestBudget is the memory every query of one request shares
// (WithRequestBudget).
type requestBudget struct {
	limit int64
	used  atomic.Int64
}

type requestBudgetKey struct{}

// WithRequestBudget returns a context under which every Run also charges
// one shared budget of limit bytes: what the request's queries hold at
// once while they run, plus the results they returned (the request holds
// those, converted, until it answers). A query that would take the
// request past it fails with ErrMemoryBudget. A server gives each request
// one, so a request of many aliased fields or many queries is bounded as a
// whole, not query by query. A limit of 0 or less adds no bound; nesting
// replaces the outer budget.
func WithRequestBudget(ctx context.Context, limit int64) context.Context {
	if limit <= 0 {
		return context.WithValue(ctx, requestBudgetKey{}, (*requestBudget)(nil))
	}
	return context.WithValue(ctx, requestBudgetKey{}, &requestBudget{limit: limit})
}

// RequestBudgetLeft is what is left of the request budget of ctx
// (WithRequestBudget): a caller can refuse work whose planned cost
// (Explain) will not fit before running it. ok is false without one.
func RequestBudgetLeft(ctx context.Context) (left int64, ok bool) {
	rb := requestBudgetFrom(ctx)
	if rb == nil {
		return 0, false
	}
	return max(rb.limit-rb.used.Load(), 0), true
}

func requestBudgetFrom(ctx context.Context) *requestBudget {
	rb, _ := ctx.Value(requestBudgetKey{}).(*requestBudget)
	return rb
}

// take charges n bytes or fails without charging.
func (rb *requestBudget) take(n int64) error {
	if used := rb.used.Add(n); used > rb.limit {
		rb.used.Add(-n)
		return fmt.Errorf("%w: the request's queries together need more than its %d MiB; ask for fewer or smaller queries in one request",
			ErrMemoryBudget, rb.limit>>20)
	}
	return nil
}

func (rb *requestBudget) give(n int64) { rb.used.Add(-n) }

// resultHold is a result's share of the pool, given back once when the
// result is released (or, as a safety net, when it is collected).
type resultHold struct {
	once sync.Once
	p    *pool
	n    int64
}

func (h *resultHold) free() {
	h.once.Do(func() { h.p.give(h.n) })
}

// recordsBytes is the memory of the records' buffers.
func recordsBytes(recs []arrow.RecordBatch) int64 {
	var n int64
	for _, rec := range recs {
		for _, col := range rec.Columns() {
			n += dataBytes(col.Data())
		}
	}
	return n
}

func dataBytes(d arrow.ArrayData) int64 {
	var n int64
	for _, b := range d.Buffers() {
		if b != nil {
			n += int64(b.Cap())
		}
	}
	for _, c := range d.Children() {
		n += dataBytes(c)
	}
	return n
}

// finishMemory is what finishAggregate holds at its peak besides the
// groups: the rows' order, the decoded key of each group (garbage, but
// heap until collected), one column of each dimension and metric, and the
// Arrow records built from them.
func (c *compiled) finishMemory(g *grouper) int64 {
	n := int64(len(g.keys))
	if n == 0 {
		return 0
	}
	avgKey := g.keyBytes / n
	per := 4 + 8 + avgKey + allocSize(24*len(c.dims)) // all, rows, decodeKey's copy and slices
	for _, d := range c.dims {
		switch {
		case d.kind == dimNet || d.kind == dimColumn && isByteColumn(c, d.col):
			// text: a string header and its bytes, the raw bytes, a null
			// flag; Arrow offsets and data (grown by doubling)
			per += 16 + 32 + 24 + 1 + 2*(4+32)
		default:
			per += 8 + 1 + 8
		}
	}
	per += int64(len(c.metrics)) * (8 + 8 + 1 + 8)
	if c.q.Others {
		per += 2
	}
	return n * per
}

func isByteColumn(c *compiled, col int) bool {
	ci, _ := columnInfo(c.d.Columns[col])
	return ci.addr || ci.kind == KindMAC || ci.kind == KindString
}

// finishMemory is what finish holds besides the listed rows: a column of
// each listed column and the Arrow records.
func (l *lister) finishMemory() int64 {
	return int64(len(l.rows)) * int64(len(l.c.columns)) * (24 + 16 + 1 + 2*40)
}
