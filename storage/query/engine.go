package query

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/parquet-go/parquet-go"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// Config tunes the engine. The zero value is usable.
type Config struct {
	// Workers scan row groups in parallel. Default: GOMAXPROCS.
	Workers int
	// MemoryBudget caps one query's working memory in bytes (aggregation
	// state, listing candidates, decoded columns, its result). Default
	// 256 MiB; negative: unlimited (the pool still bounds it). A budget
	// larger than MemoryPool is the pool.
	MemoryBudget int64
	// MemoryPool caps the working memory of all the engine's queries at
	// once: each reserves from it before it spends, and a query the pool
	// cannot admit fails with ErrOverloaded. Default 384 MiB (with Go's
	// garbage collector letting the heap reach about twice what is live,
	// a core with a full pool stays near 1 GiB); negative: unlimited.
	MemoryPool int64
	// AdmissionWait is how long a query waits for the pool to admit it
	// (others to finish) before it fails with ErrOverloaded. Default
	// 500ms; negative: no wait. A running query that needs more than the
	// pool has left fails at once: waiting while holding memory could
	// deadlock.
	AdmissionWait time.Duration
	// Allocator allocates the results' Arrow memory. Default: Go's.
	Allocator memory.Allocator
	// Now is the clock relative times ("-24h") resolve against.
	Now func() time.Time
	// OpenFiles is how many segments stay open, footers parsed, between
	// queries. Default 1024: a month of one dataset's hour files (720)
	// fits, so a question over 30 days (who held an address, with its
	// 30-day lookback) does not reopen every file (611 ms instead of
	// 31 ms, docs/benchmarks.md); negative: none.
	OpenFiles int
	// LeaseLookback is how far before a query's start the lease join
	// looks for the start of a span (dhcp_leases is partitioned by span
	// start, and renewals merge into one span): a binding held without a
	// break for longer is missed by the join. Default
	// DefaultLeaseLookback (30 days).
	LeaseLookback time.Duration
	// SpillDir is where an aggregation that reaches MemoryBudget writes
	// its groups (a directory per query, removed when it ends). Default:
	// the OS temporary directory.
	SpillDir string
	// SpillLimit caps the bytes of temporary files one query may write;
	// beyond it the query fails with ErrMemoryBudget. Default
	// DefaultSpillLimit (4 GiB); negative: never spill (the budget's
	// refusal ends the query).
	SpillLimit int64
}

// Defaults of Config.
const (
	// DefaultMemoryBudget is a query's working memory when Config leaves
	// it 0.
	DefaultMemoryBudget = 256 << 20
	// DefaultMemoryPool is the working memory of all queries at once when
	// Config leaves it 0.
	DefaultMemoryPool = 384 << 20
	// DefaultAdmissionWait is how long a query waits for the pool when
	// Config leaves it 0.
	DefaultAdmissionWait = 500 * time.Millisecond
)

// Engine answers queries over a lake. It holds no per-query state: any
// number of queries may run at once.
type Engine struct {
	lake    *lake.Lake
	cfg     Config
	log     *slog.Logger
	files   *fileCache
	buffers sync.Pool // of *scanBuffers
	pool    *pool     // nil: unlimited
	hooks   testHooks
}

// testHooks let tests stop a query at a known point; nil in production.
type testHooks struct {
	admitted func(context.Context) // after a Run is admitted, before it scans
	finished func(charged int64)   // an aggregate's records are built, its columns and groups still held
	refused  func()                // the budget refused a charge (once a query)
	held     func(n int64)         // a query acquired a file: it now holds n
	spilled  func(dir string)      // a worker wrote its groups to a spill file in dir
	// spillEvery > 0: a worker spills its groups after every spillEvery
	// row groups, whatever the budget (the spill tests of answers that
	// hold every group, which no budget can make spill and still answer).
	spillEvery int
}

// scanBuffers are a worker's decode buffers. The engine keeps them from
// one query to the next, so a dashboard's stream of queries does not
// allocate, zero and collect them again each time.
type scanBuffers struct {
	dec   decoder
	slots []*vector // by dataset column index
	mask  []bool
	sel   []int32
}

// vector returns the buffers' vector for column i.
func (sb *scanBuffers) vector(i int) *vector {
	for len(sb.slots) <= i {
		sb.slots = append(sb.slots, nil)
	}
	if sb.slots[i] == nil {
		sb.slots[i] = &vector{}
	}
	return sb.slots[i]
}

// New returns an engine over l.
func New(l *lake.Lake, cfg Config, logger *slog.Logger) *Engine {
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.MemoryBudget == 0 {
		cfg.MemoryBudget = DefaultMemoryBudget
	}
	if cfg.Allocator == nil {
		cfg.Allocator = memory.DefaultAllocator
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.OpenFiles == 0 {
		cfg.OpenFiles = 1024
	}
	if cfg.LeaseLookback <= 0 {
		cfg.LeaseLookback = DefaultLeaseLookback
	}
	if cfg.SpillLimit == 0 {
		cfg.SpillLimit = DefaultSpillLimit
	}
	if cfg.MemoryPool == 0 {
		cfg.MemoryPool = DefaultMemoryPool
	}
	if cfg.AdmissionWait == 0 {
		cfg.AdmissionWait = DefaultAdmissionWait
	}
	e := &Engine{lake: l, cfg: cfg, log: logger, files: newFileCache(l, cfg.OpenFiles)}
	if cfg.MemoryPool > 0 {
		e.pool = newPool(cfg.MemoryPool)
		if cfg.MemoryBudget < 0 || cfg.MemoryBudget > cfg.MemoryPool {
			e.cfg.MemoryBudget = cfg.MemoryPool
		}
	}
	return e
}

// Close closes the segments the engine keeps open between queries. Queries
// still running keep theirs until they finish.
func (e *Engine) Close() error { return e.files.close() }

// Stats is what planning pruned and running scanned.
type Stats struct {
	Partitions          int           `json:"partitions"`              // hour partitions with segments in range
	Files               int           `json:"files"`                   // segments in range (catalog)
	FilesSkipped        int           `json:"files_skipped"`           // unreadable segments, skipped with a warning
	RowGroups           int           `json:"row_groups"`              // row groups of those segments
	RowGroupsPruned     int           `json:"row_groups_pruned"`       // ruled out by statistics
	RowGroupsBloom      int           `json:"row_groups_bloom"`        // ruled out by bloom filters
	RowGroupsSkipped    int           `json:"row_groups_skipped"`      // not needed: a listing's page was full
	RowGroupsScanned    int           `json:"row_groups_scanned"`      // decoded
	PagesPruned         int           `json:"pages_pruned"`            // pages of filter columns ruled out by the page index
	PagesRead           int           `json:"pages_read"`              // pages decoded
	RowsScanned         int64         `json:"rows_scanned"`            // rows the filter ran on
	RowsMatched         int64         `json:"rows_matched"`            // rows that passed it
	BytesRead           int64         `json:"bytes_read"`              // uncompressed bytes of the pages decoded
	RowsPlanned         int64         `json:"rows_planned"`            // rows of the row ranges kept after pruning: what the scan will read at most
	BytesPlanned        int64         `json:"bytes_planned"`           // compressed bytes of the needed columns' chunks of the row groups kept
	PeakMemory          int64         `json:"peak_memory"`             // working memory at its peak
	Elapsed             time.Duration `json:"elapsed_ns"`              // planning and running
	Groups              int           `json:"groups"`                  // aggregate groups before the limit
	CandidateRowsListed int64         `json:"candidate_rows_listed"`   // listing rows that passed filter and cursor
	SpilledRuns         int           `json:"spilled_runs,omitempty"`  // times a worker wrote its groups to disk (budget reached)
	SpilledBytes        int64         `json:"spilled_bytes,omitempty"` // bytes of those temporary files
}

// Plan is how the engine answers a query (EXPLAIN), and after running, what
// it cost.
type Plan struct {
	Dataset string    `json:"dataset"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	Filter  string    `json:"filter"` // canonical
	Shape   string    `json:"shape"`  // "aggregate" or "listing"
	Route   string    `json:"route"`  // the dataset read: raw segments or a rollup
	Columns []string  `json:"columns"`
	GroupBy []string  `json:"group_by,omitempty"`
	Metrics []string  `json:"metrics,omitempty"`
	Order   []string  `json:"order"`
	Limit   int       `json:"limit"`
	Workers int       `json:"workers"`
	Ran     bool      `json:"ran"`
	Stats   Stats     `json:"stats"`
	// Join is the lease join of a flows query that uses src_host,
	// dst_host, src_host_mac, dst_host_mac, src_client or dst_client;
	// nil otherwise. Its counts are filled once the query ran.
	Join *LeaseJoin `json:"lease_join,omitempty"`
}

// unit is one row group to scan.
type unit struct {
	file   *lake.SegmentFile
	rg     int
	group  parquet.RowGroup
	ranges []rowRange
	tmin   int64
	tmax   int64
}

// queryRun is one query in flight.
type queryRun struct {
	e        *Engine
	c        *compiled
	cols     []colDesc
	budget   *budget
	files    []*lake.SegmentFile
	releases []func()
	units    []unit
	stats    Stats
	start    time.Time
	route    string
	leases   *leaseIndex // the lease join's index, loaded while planning
	agg      *aggMerge   // an aggregate's merge and spill files (execute)
	joined   LeaseJoin   // what the join did
	// park: the query holds more files than parkFilesAbove, and gives each
	// one's descriptor back between uses (planUnits, scan).
	park bool
	// stream: an aggregate run over more files than parkFilesAbove plans
	// and scans one file at a time (execute), so it holds one parsed
	// footer per worker instead of all of them until it ends (a year of
	// hourly dhcp_events footers is about 2 GB). streamOK: the run may
	// (Run; Explain plans every file). segs and pr are what execute
	// plans from.
	stream, streamOK bool
	segs             []lake.Segment
	pr               *pruner
	held             atomic.Int64 // files acquired and not yet released

	mu       sync.Mutex
	warnings []Warning
}

// Explain plans q — catalog, footers, statistics, bloom filters and page
// indexes — without decoding any data.
func (e *Engine) Explain(ctx context.Context, q Query) (Plan, error) {
	r, err := e.prepare(ctx, q, false)
	if err != nil {
		return Plan{}, err
	}
	defer r.close()
	return r.plan(false), nil
}

// Run answers q. Before it decodes anything it reserves working memory
// from the engine's pool, and from the request's budget when ctx has one
// (WithRequestBudget); it keeps reserving as it goes. Errors: *SpecError
// for a query that cannot run, ErrMemoryBudget (the query's or its
// request's budget), ErrOverloaded (the pool cannot admit it now), or the
// context's error when it is cancelled or its deadline passes. The
// result's memory stays reserved until it is released.
func (e *Engine) Run(ctx context.Context, q Query) (*Result, error) {
	r, err := e.prepare(ctx, q, true)
	if err != nil {
		return nil, err
	}
	defer r.close()
	r.budget.pool, r.budget.req = e.pool, requestBudgetFrom(ctx)
	var res *Result
	defer func() {
		var keep int64
		if res != nil {
			keep = res.bytes
		}
		if hold := r.budget.end(keep); hold != nil {
			res.hold = hold
			runtime.AddCleanup(res, (*resultHold).free, hold)
		}
	}()
	if err := r.budget.reserve(ctx, r.admission(), e.cfg.AdmissionWait); err != nil {
		return nil, err
	}
	if r.leases != nil {
		if err := r.budget.charge(r.leases.bytes); err != nil {
			return nil, fmt.Errorf("lease join index of %d spans: %w", len(r.leases.start), err)
		}
	}
	if e.hooks.admitted != nil {
		e.hooks.admitted(ctx)
	}
	out, err := r.execute(ctx)
	if err != nil {
		return nil, err
	}
	out.Plan = r.plan(true)
	out.Warnings = r.warnings
	res = out
	return res, nil
}

// admission is the memory a query reserves before it scans: the decode
// buffers of its workers for its largest row group, within its budget.
// What it holds beyond (groups, listed rows, the result) it reserves as
// it grows.
func (r *queryRun) admission() int64 {
	var rows int64
	for i := range r.units {
		rows = max(rows, r.units[i].group.NumRows())
	}
	units := len(r.units)
	if r.stream {
		// Not planned yet: a row group has at most its file's rows and
		// the lake's cap (a file whose catalog entry does not say is
		// taken at the cap).
		rows, units = 0, len(r.segs)
		limit := int64(r.e.lake.Config().RowGroupRows)
		for _, s := range r.segs {
			if s.Rows <= 0 || s.Rows > limit {
				rows = limit
				break
			}
			rows = max(rows, s.Rows)
		}
	}
	workers := int64(min(r.e.cfg.Workers, max(units, 1)))
	need := workers * rows * (int64(len(r.c.needCols))*9 + 5)
	if r.budget.limit > 0 {
		need = min(need, r.budget.limit)
	}
	return need
}

func (e *Engine) prepareOn(ctx context.Context, q Query, snap *lake.Snapshot, stream bool) (*queryRun, error) {
	start := time.Now()
	c, err := compile(q, e.cfg.Now())
	if err != nil {
		return nil, err
	}
	c, route, err := e.route(ctx, c)
	if err != nil {
		return nil, err
	}
	limit := max(e.cfg.MemoryBudget, 0)
	if q.raw && e.pool != nil {
		// Rollup builds are the server's own work, bounded by the pool
		// rather than a user query's budget: an hour of a busy network's
		// hosts may need more, and a failed build leaves rollups stale.
		limit = e.pool.limit
	}
	r := &queryRun{e: e, c: c, route: route, cols: describeColumns(c.d), budget: &budget{limit: limit, refused: e.hooks.refused}, start: start, streamOK: stream}
	for _, p := range snap.Unreadable(c.d.Name, schema.FromMicros(c.from), schema.FromMicros(c.to)) {
		r.warn(p.Key, p.Err)
	}
	if c.join != nil {
		// Before the query reserves: the leases are read by a query of
		// their own, which reserves and gives back its memory itself.
		// Their addresses then prune a filter on a host (c.implied).
		x, ws, err := e.loadLeaseIndex(ctx, c.from, c.to, r.budget.limit)
		if err != nil {
			r.close()
			return nil, err
		}
		r.leases = x
		for _, w := range ws {
			r.warn(w.Segment, "dhcp_leases (lease join): "+w.Error)
		}
		c.implied = c.leaseImplied(x)
	}
	if err := r.planUnits(ctx); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

func (r *queryRun) close() {
	for _, rel := range r.releases {
		if rel != nil {
			rel()
		}
	}
	r.files, r.releases = nil, nil
}

// plan describes the run.
func (r *queryRun) plan(ran bool) Plan {
	c := r.c
	p := Plan{
		Dataset: c.q.Dataset,
		From:    schema.FromMicros(c.from),
		To:      schema.FromMicros(c.to),
		Filter:  c.filter.String(),
		Route:   r.route,
		Limit:   c.limit,
		Workers: r.e.cfg.Workers,
		Ran:     ran,
		Stats:   r.stats,
	}
	for _, i := range c.needCols {
		p.Columns = append(p.Columns, c.d.Columns[i].Name)
	}
	names := c.outputNames()
	if c.listing {
		p.Shape = "listing"
		names = nil
		for _, i := range c.columns {
			names = append(names, c.d.Columns[i].Name)
		}
	} else {
		p.Shape = "aggregate"
		for _, d := range c.dims {
			p.GroupBy = append(p.GroupBy, d.name)
		}
		for _, m := range c.metrics {
			p.Metrics = append(p.Metrics, m.name)
		}
	}
	for _, k := range c.order {
		name := ""
		if c.listing {
			name = c.d.Columns[k.col].Name
		} else {
			name = names[k.col]
		}
		if k.desc {
			name = "-" + name
		}
		p.Order = append(p.Order, name)
	}
	if c.join != nil {
		j := r.joined
		j.Sides = nil
		for s, on := range c.join.sides {
			if on {
				j.Sides = append(j.Sides, joinSides[s])
			}
		}
		j.LeasesFrom = schema.FromMicros(c.from).Add(-r.e.cfg.LeaseLookback)
		if x := r.leases; x != nil {
			j.Leases, j.Addresses, j.IndexBytes = len(x.start), len(x.addrs), x.bytes
		}
		p.Join = &j
	}
	p.Stats.Elapsed = time.Since(r.start)
	return p
}
