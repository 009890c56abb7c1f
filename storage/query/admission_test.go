package query

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// blockAfterAdmission makes the engine's next Run stop once admitted until
// the returned release is called; admitted is closed when it stops.
func blockAfterAdmission(e *Engine) (admitted <-chan struct{}, release func()) {
	in, out := make(chan struct{}), make(chan struct{})
	var once sync.Once
	e.hooks.admitted = func(context.Context) {
		first := false
		once.Do(func() { first = true })
		if first {
			close(in)
			<-out
		}
	}
	return in, func() { close(out) }
}

// TestAdmissionOverloaded: while one query holds the pool, another fails
// fast with ErrOverloaded; the first still answers, and once every result
// is released the pool is empty again.
func TestAdmissionOverloaded(t *testing.T) {
	e := testEngine(t, Config{MemoryPool: reserveChunk, AdmissionWait: -1})
	small := Query{Dataset: "flows", From: "2026-01-07T13:00:00Z", To: "2026-01-07T14:00:00Z", Metrics: []string{"count()"}}
	admitted, release := blockAfterAdmission(e)
	type answer struct {
		res *Result
		err error
	}
	first := make(chan answer, 1)
	go func() {
		res, err := e.Run(context.Background(), small)
		first <- answer{res, err}
	}()
	<-admitted
	_, err := e.Run(context.Background(), small)
	if !errors.Is(err, ErrOverloaded) || !strings.Contains(err.Error(), "retry") {
		t.Errorf("second query: err = %v, want ErrOverloaded saying to retry", err)
	}
	release()
	a := <-first
	if a.err != nil {
		t.Fatalf("first query: %v", a.err)
	}
	if a.res.NumRows() != 1 {
		t.Errorf("first query: %d rows, want 1", a.res.NumRows())
	}
	if e.pool.inUse() != a.res.bytes || a.res.bytes == 0 {
		t.Errorf("pool holds %d bytes with the result (%d bytes) unreleased, want the result's", e.pool.inUse(), a.res.bytes)
	}
	a.res.Release()
	if n := e.pool.inUse(); n != 0 {
		t.Errorf("pool holds %d bytes after every result was released, want 0", n)
	}
}

// TestAdmissionWaits: a query the pool cannot admit waits for a running
// one to finish, then runs.
func TestAdmissionWaits(t *testing.T) {
	e := testEngine(t, Config{MemoryPool: reserveChunk, AdmissionWait: time.Hour})
	waiting := make(chan struct{})
	e.pool.onWait = func() { close(waiting) }
	q := Query{Dataset: "flows", From: "2026-01-07T13:00:00Z", To: "2026-01-07T14:00:00Z", Metrics: []string{"count()"}}
	admitted, release := blockAfterAdmission(e)
	errs := make(chan error, 2)
	run := func() {
		res, err := e.Run(context.Background(), q)
		if err == nil {
			res.Release()
		}
		errs <- err
	}
	go run()
	<-admitted
	go run()
	<-waiting
	release()
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("query: %v", err)
		}
	}
	if n := e.pool.inUse(); n != 0 {
		t.Errorf("pool holds %d bytes after both queries, want 0", n)
	}
}

// TestAdmissionConcurrent: many heavy queries at once over a small pool:
// those that cannot have memory fail with ErrOverloaded (or their own
// budget), the pool is never passed, and nothing stays reserved.
func TestAdmissionConcurrent(t *testing.T) {
	q := Query{Dataset: "flows", From: "-3h", GroupBy: []string{"src_addr", "dst_addr", "src_port"}}
	res, err := testEngine(t, Config{}).Run(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	res.Release()
	// One query fits; two do not.
	limit := res.Plan.Stats.PeakMemory*3/2 + reserveChunk
	e := testEngine(t, Config{MemoryPool: limit, AdmissionWait: -1})
	// Every query admitted waits until all are admitted or refused, so
	// they run at the same time.
	const n = 8
	var (
		mu      sync.Mutex
		arrived int
		cond    = sync.NewCond(&mu)
	)
	arrive := func() {
		arrived++
		cond.Broadcast()
	}
	type admittedKey struct{}
	e.hooks.admitted = func(ctx context.Context) {
		mu.Lock()
		defer mu.Unlock()
		*ctx.Value(admittedKey{}).(*bool) = true
		arrive()
		for arrived < n {
			cond.Wait()
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			admitted := new(bool)
			res, err := e.Run(context.WithValue(context.Background(), admittedKey{}, admitted), q)
			if err == nil {
				res.Release()
			}
			errs[i] = err
			mu.Lock()
			if !*admitted {
				arrive()
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	overloaded := 0
	for _, err := range errs {
		switch {
		case errors.Is(err, ErrOverloaded):
			overloaded++
		case err != nil:
			t.Errorf("err = %v, want ErrOverloaded or an answer", err)
		}
	}
	if overloaded == 0 {
		t.Errorf("8 queries of %d bytes each over a %d-byte pool: none was refused", res.Plan.Stats.PeakMemory, limit)
	}
	if e.pool.peak > limit {
		t.Errorf("pool peak %d bytes, over its %d", e.pool.peak, limit)
	}
	if n := e.pool.inUse(); n != 0 {
		t.Errorf("pool holds %d bytes after every query, want 0", n)
	}
}

// TestRequestBudget: the queries of one request share its budget. A query
// that fits its own budget but not the request's fails with
// ErrMemoryBudget; an answered query's result stays charged to the
// request; queries outside any request are not bounded by it.
func TestRequestBudget(t *testing.T) {
	e := testEngine(t, Config{})
	q := Query{Dataset: "flows", From: "-3h", GroupBy: []string{"src_addr", "dst_addr", "src_port"}}
	res, err := e.Run(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	peak := res.Plan.Stats.PeakMemory
	res.Release()

	ctx := WithRequestBudget(context.Background(), peak/2)
	_, err = e.Run(ctx, q)
	if !errors.Is(err, ErrMemoryBudget) || !strings.Contains(err.Error(), "request") {
		t.Errorf("query needing %d bytes under a %d-byte request budget: err = %v, want ErrMemoryBudget naming the request", peak, peak/2, err)
	}
	if n := requestBudgetFrom(ctx).used.Load(); n != 0 {
		t.Errorf("request holds %d bytes after its only query failed, want 0", n)
	}

	ctx = WithRequestBudget(context.Background(), 4*peak)
	res, err = e.Run(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	if n := requestBudgetFrom(ctx).used.Load(); n != res.bytes || n == 0 {
		t.Errorf("request holds %d bytes after one answer of %d bytes, want the answer's", n, res.bytes)
	}
	if left, ok := RequestBudgetLeft(ctx); !ok || left != 4*peak-res.bytes {
		t.Errorf("RequestBudgetLeft = %d, %v; want %d", left, ok, 4*peak-res.bytes)
	}
	if _, ok := RequestBudgetLeft(context.Background()); ok {
		t.Errorf("RequestBudgetLeft without a request budget: ok")
	}
}

// TestPlannedScan: Explain says what a plan will read — rows and
// compressed bytes of the row groups kept — and a run reads no more.
func TestPlannedScan(t *testing.T) {
	e := testEngine(t, Config{})
	all := Query{Dataset: "flows", From: "-3h", GroupBy: []string{"src_addr"}}
	needle := Query{Dataset: "flows", From: "-3h", GroupBy: []string{"src_addr"}, Filter: "src ip 52.62.59.187"}
	pa, err := e.Explain(context.Background(), all)
	if err != nil {
		t.Fatal(err)
	}
	pn, err := e.Explain(context.Background(), needle)
	if err != nil {
		t.Fatal(err)
	}
	if pa.Stats.RowsPlanned == 0 || pa.Stats.BytesPlanned == 0 {
		t.Fatalf("plan of every row: %+v, want rows and bytes planned", pa.Stats)
	}
	if pn.Stats.RowsPlanned >= pa.Stats.RowsPlanned || pn.Stats.BytesPlanned >= pa.Stats.BytesPlanned {
		t.Errorf("needle plans %d rows, %d bytes; every row %d rows, %d bytes: want fewer", pn.Stats.RowsPlanned, pn.Stats.BytesPlanned, pa.Stats.RowsPlanned, pa.Stats.BytesPlanned)
	}
	res, err := e.Run(context.Background(), all)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	if s := res.Plan.Stats; s.RowsScanned != pa.Stats.RowsPlanned || s.RowsPlanned != pa.Stats.RowsPlanned {
		t.Errorf("run scanned %d rows (planned %d), Explain planned %d: want equal", s.RowsScanned, s.RowsPlanned, pa.Stats.RowsPlanned)
	}
}
