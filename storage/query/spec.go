package query

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flowlake/flowlake/storage/schema"
)

// Query is one question to the engine, as the CLI, REST, GraphQL, reports
// and alerts ask it (docs/query.md). With GroupBy or Metrics it is an
// aggregate; without, a raw listing of Columns.
type Query struct {
	// Dataset is the table asked: flows, tcp_conns, tcp_packets,
	// dhcp_events or cloud_conn.
	Dataset string `json:"dataset"`
	// From and To bound event time, [From, To): RFC 3339, a relative
	// offset from now ("-24h", "-7d", "-30m", "now"), or a date
	// ("2026-11-20", midnight in TimeZone). Defaults: -24h and now.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Filter is an expression of the filter language
	// (docs/query-language.md); empty matches every row.
	Filter string `json:"filter,omitempty"`
	// GroupBy lists the dimensions: column names, address prefixes
	// ("src_net/24", "dst_net/64", "src_net/24/64") and time buckets
	// ("time/5m", "time/1h", "time/1d", "time/week", "time/month",
	// "time/quarter", "time/year").
	GroupBy []string `json:"group_by,omitempty"`
	// Metrics lists what to compute per group: count(), sum(c), min(c),
	// max(c), avg(c), count_distinct(c), approx_count_distinct(c),
	// p50(c) … p99(c) or percentile(c, P), bps(), pps(). Default with
	// GroupBy: count().
	Metrics []string `json:"metrics,omitempty"`
	// OrderBy lists output columns (a dimension or a metric as written,
	// canonical form), "-" in front for descending. Aggregates default to
	// time ascending when grouped by a time bucket, then the first metric
	// descending; listings to time ascending.
	OrderBy []string `json:"order_by,omitempty"`
	// Limit caps the output rows (aggregates: 0 means all; listings: the
	// page size, default 100, at most MaxPageSize).
	Limit int `json:"limit,omitempty"`
	// Others adds one row aggregating every group beyond Limit.
	Others bool `json:"others,omitempty"`
	// TimeZone (IANA name) places day and calendar buckets and dates in
	// From/To; default UTC.
	TimeZone string `json:"time_zone,omitempty"`
	// Columns are the columns of a raw listing; default all.
	Columns []string `json:"columns,omitempty"`
	// Cursor continues a raw listing after the page that returned it.
	Cursor string `json:"cursor,omitempty"`

	// raw keeps the query on raw segments (rollups are built that way).
	raw bool
	// unordered skips sorting an aggregate's groups (rollup builds).
	unordered bool
}

// MaxPageSize bounds a raw listing's page.
const MaxPageSize = 100_000

// defaultPageSize is a raw listing's page when Limit is 0.
const defaultPageSize = 100

// SpecError is a query the engine cannot run: Field names the part of the
// Query at fault. Its message starts with the field, once
// ("group_by: dataset flows has no column ..."); a filter's is the
// *FilterError's own ("filter: at 4: ...").
type SpecError struct {
	Field string
	Msg   string
	Err   error // the underlying error (a *FilterError for Filter), if any
}

func (e *SpecError) Error() string {
	switch {
	case e.Err != nil && e.Msg == "":
		return e.Err.Error()
	case e.Err != nil:
		return fmt.Sprintf("%s: %s: %v", e.Field, e.Msg, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Field, e.Msg)
}

func (e *SpecError) Unwrap() error { return e.Err }

func specErr(field, format string, args ...any) error {
	return &SpecError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// compiled is a Query resolved against its dataset and the clock.
type compiled struct {
	q        Query
	d        *schema.Dataset
	from, to int64 // µs, [from, to)
	loc      *time.Location
	filter   Expr
	dims     []dimSpec
	metrics  []metricSpec
	order    []orderKey
	limit    int
	columns  []int // raw listing: dataset column indexes
	cursor   *cursor
	listing  bool
	timeDim  int // index of the time-bucket dimension, -1 if none
	needCols []int
	// innerCols are needCols for a row group entirely inside the time
	// range: without the time column when only the range check needs it.
	innerCols []int
	// phases split needCols ([0]) and innerCols ([1]) in the order a row
	// group decodes them: the columns the filter reads first, the others
	// only when a row passed.
	phases [2]scanPhases
	// filterOnly marks the integer columns the filter alone reads: they
	// are decoded as dictionary codes (vector.coded).
	filterOnly []bool
	// built is a test hook: finishAggregate has built its records.
	built func()
	// join is the lease join the query's virtual columns need; nil when
	// it uses none.
	join *joinPlan
	// implied is what the filter implies on the address columns once the
	// lease join's index is loaded (src_host = x: src_addr is one of the
	// addresses x held); pruning uses it. Nil when nothing is implied.
	implied Expr
}

// scanPhases are the columns of a row group's scan, filter first.
type scanPhases struct{ filter, rest []int }

// dimSpec is one group-by dimension.
type dimSpec struct {
	name   string // canonical, the output column name
	col    int    // dataset column
	kind   dimKind
	v4, v6 int    // prefix lengths of a net dimension
	bucket bucket // time bucket
}

type dimKind uint8

const (
	dimColumn dimKind = iota
	dimNet
	dimTime
)

// metricSpec is one metric.
type metricSpec struct {
	name string // canonical, the output column name
	fn   metricFn
	col  int     // dataset column; -1 for count(), bps(), pps()
	p    float64 // percentile, 0 < p < 100
	// asCount marks a sum of a rollup's flows column standing for count():
	// it keeps count()'s int64 type.
	asCount bool
}

type metricFn uint8

const (
	mCount metricFn = iota
	mSum
	mMin
	mMax
	mAvg
	mDistinct
	mApproxDistinct
	mPercentile
	mBPS
	mPPS
)

var metricNames = map[string]metricFn{
	"count": mCount, "sum": mSum, "min": mMin, "max": mMax, "avg": mAvg,
	"count_distinct": mDistinct, "approx_count_distinct": mApproxDistinct,
	"percentile": mPercentile, "bps": mBPS, "pps": mPPS,
}

// orderKey sorts by output column col.
type orderKey struct {
	col  int // output column index
	desc bool
}

var (
	metricRE  = regexp.MustCompile(`^([a-z_]+[0-9]*)\(\s*([a-z_*]*)\s*(?:,\s*([0-9.]+)\s*)?\)$`)
	relTimeRE = regexp.MustCompile(`^-([0-9]+)(s|m|h|d|w)$`)
)

// compile checks q against its dataset and resolves it at now.
func compile(q Query, now time.Time) (*compiled, error) {
	d, err := schema.Lookup(q.Dataset)
	if err != nil {
		return nil, &SpecError{Field: "dataset", Msg: fmt.Sprintf("unknown dataset %q (one of %s)", q.Dataset, strings.Join(schema.Names(), ", "))}
	}
	d = queryDataset(d) // flows with its lease-join columns
	c := &compiled{q: q, d: d, loc: time.UTC, timeDim: -1}
	if q.TimeZone != "" {
		if c.loc, err = time.LoadLocation(q.TimeZone); err != nil {
			return nil, specErr("time_zone", "unknown time zone %q", q.TimeZone)
		}
	}
	from, to := q.From, q.To
	if from == "" {
		from = "-24h"
	}
	if to == "" {
		to = "now"
	}
	if c.from, err = parseTime(from, now, c.loc); err != nil {
		return nil, &SpecError{Field: "from", Msg: err.Error()}
	}
	if c.to, err = parseTime(to, now, c.loc); err != nil {
		return nil, &SpecError{Field: "to", Msg: err.Error()}
	}
	if c.to <= c.from {
		return nil, specErr("to", "time range is empty: to (%s) is not after from (%s)",
			schema.FromMicros(c.to).Format(time.RFC3339), schema.FromMicros(c.from).Format(time.RFC3339))
	}
	if c.filter, err = ParseFilter(d, q.Filter); err != nil {
		return nil, &SpecError{Field: "filter", Err: err} // "filter: at N: ..."
	}
	c.listing = len(q.GroupBy) == 0 && len(q.Metrics) == 0
	if c.listing {
		err = c.compileListing()
	} else {
		err = c.compileAggregate()
	}
	if err != nil {
		return nil, err
	}
	c.setColumns()
	return c, nil
}

func (c *compiled) column(field, name string) (int, error) {
	for i, col := range c.d.Columns {
		if col.Name == name {
			return i, nil
		}
	}
	msg := fmt.Sprintf("dataset %s has no column %q", c.d.Name, name)
	names := make([]string, len(c.d.Columns))
	for i, col := range c.d.Columns {
		names[i] = col.Name
	}
	if s := closest(name, names); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	} else if other := datasetsWith(name); len(other) > 0 {
		msg += fmt.Sprintf("; %s is a column of %s", name, strings.Join(other, ", "))
	}
	return 0, &SpecError{Field: field, Msg: msg}
}

// closest is the name nearest word by edit distance (ignoring case and
// underscores), if one is near enough to be a typo: fewer than three
// edits, and fewer than the word's length.
func closest(word string, names []string) string {
	norm := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "_", "") }
	w := norm(word)
	best, bestD := "", min(3, len(w))
	for _, n := range names {
		if d := editDistance(w, norm(n)); d < bestD && n != word {
			best, bestD = n, d
		}
	}
	return best
}

func (c *compiled) compileListing() error {
	q := c.q
	if q.Others {
		return specErr("others", "applies to aggregates (group_by or metrics), not to listings")
	}
	if len(q.Columns) == 0 {
		for i := range c.d.Columns {
			if virtualCol(c.d, i) == nil { // join columns are listed when asked for
				c.columns = append(c.columns, i)
			}
		}
	}
	for _, name := range q.Columns {
		i, err := c.column("columns", name)
		if err != nil {
			return err
		}
		c.columns = append(c.columns, i)
	}
	c.limit = q.Limit
	switch {
	case c.limit == 0:
		c.limit = defaultPageSize
	case c.limit < 0 || c.limit > MaxPageSize:
		return specErr("limit", "a listing's page size is 1 to %d, not %d", MaxPageSize, c.limit)
	}
	// Listing order is by dataset columns; they need not be shown.
	order := q.OrderBy
	if len(order) == 0 {
		order = []string{schema.ColTime}
	}
	for _, o := range order {
		name, desc := strings.CutPrefix(o, "-")
		i, err := c.column("order_by", name)
		if err != nil {
			return err
		}
		c.order = append(c.order, orderKey{col: i, desc: desc})
	}
	if q.Cursor != "" {
		cur, err := decodeCursor(q.Cursor, len(c.order))
		if err != nil {
			return &SpecError{Field: "cursor", Msg: err.Error()}
		}
		c.cursor = cur
	}
	return nil
}

func (c *compiled) compileAggregate() error {
	q := c.q
	if len(q.Columns) > 0 {
		return specErr("columns", "applies to listings; an aggregate's columns are its group_by and metrics")
	}
	if q.Cursor != "" {
		return specErr("cursor", "applies to listings, not to aggregates")
	}
	if len(q.GroupBy) > maxDims {
		return specErr("group_by", "at most %d dimensions, not %d", maxDims, len(q.GroupBy))
	}
	seen := map[string]bool{}
	for _, g := range q.GroupBy {
		dim, err := c.parseDim(strings.TrimSpace(g))
		if err != nil {
			return err
		}
		if seen[dim.name] {
			return specErr("group_by", "dimension %q appears twice", dim.name)
		}
		seen[dim.name] = true
		if dim.kind == dimTime {
			if c.timeDim >= 0 {
				return specErr("group_by", "one time bucket per query, not %q and %q", c.dims[c.timeDim].name, dim.name)
			}
			c.timeDim = len(c.dims)
		}
		c.dims = append(c.dims, dim)
	}
	metrics := q.Metrics
	if len(metrics) == 0 {
		metrics = []string{"count()"}
	}
	for _, m := range metrics {
		ms, err := c.parseMetric(strings.TrimSpace(m))
		if err != nil {
			return err
		}
		if seen[ms.name] {
			return specErr("metrics", "%q appears twice", ms.name)
		}
		seen[ms.name] = true
		c.metrics = append(c.metrics, ms)
	}
	if q.Limit < 0 {
		return specErr("limit", "must not be negative")
	}
	c.limit = q.Limit
	if q.Others && c.limit == 0 {
		return specErr("others", "needs a limit: the others row aggregates the groups beyond it")
	}
	names := c.outputNames()
	for _, o := range q.OrderBy {
		name, desc := strings.CutPrefix(strings.TrimSpace(o), "-")
		i := slices.Index(names, canonicalOutput(name))
		if i < 0 {
			return specErr("order_by", "%q is not an output column (one of %s)", name, strings.Join(names, ", "))
		}
		c.order = append(c.order, orderKey{col: i, desc: desc})
	}
	if len(q.OrderBy) == 0 {
		if c.timeDim >= 0 {
			c.order = append(c.order, orderKey{col: c.timeDim})
		}
		c.order = append(c.order, orderKey{col: len(c.dims), desc: true})
	}
	// Ties break on the dimensions, ascending, so answers are stable.
	for i := range c.dims {
		if !slices.ContainsFunc(c.order, func(k orderKey) bool { return k.col == i }) {
			c.order = append(c.order, orderKey{col: i})
		}
	}
	return nil
}

// canonicalOutput lets order_by name a metric with or without spaces.
func canonicalOutput(s string) string { return strings.ReplaceAll(s, " ", "") }

func (c *compiled) outputNames() []string {
	var names []string
	for _, d := range c.dims {
		names = append(names, d.name)
	}
	for _, m := range c.metrics {
		names = append(names, m.name)
	}
	return names
}

// maxDims bounds the group-by dimensions.
const maxDims = 16

// setColumns lists the columns the scan decodes: needCols for any row
// group, innerCols for one inside the time range, each split into the
// filter's columns and the rest; and the integer columns only the filter
// reads.
func (c *compiled) setColumns() {
	filter, output := c.filterColumns(), c.outputColumns()
	c.setJoin(filter, output)
	c.filterOnly = make([]bool, len(c.d.Columns))
	for k := range filter {
		c.filterOnly[k] = k != 0 && !output[k] // time is delta-encoded: never coded
	}
	c.needCols, c.innerCols = nil, nil
	for i, inRange := range []bool{true, false} {
		ph := &c.phases[i]
		ph.filter, ph.rest = nil, nil
		for k := range c.d.Columns {
			switch {
			case filter[k] || k == 0 && inRange: // the range check reads time
				ph.filter = append(ph.filter, k)
			case output[k]:
				ph.rest = append(ph.rest, k)
			default:
				continue
			}
			if inRange {
				c.needCols = append(c.needCols, k)
			} else {
				c.innerCols = append(c.innerCols, k)
			}
		}
	}
}

// filterColumns are the columns the filter reads.
func (c *compiled) filterColumns() map[int]bool {
	cols := map[int]bool{}
	walkColumns(c.filter, func(name string) {
		if k, err := c.column("", name); err == nil {
			cols[k] = true
		}
	})
	return cols
}

// outputColumns are the columns the groups, metrics, listing and its
// order read.
func (c *compiled) outputColumns() map[int]bool {
	cols := map[int]bool{}
	for _, d := range c.dims {
		cols[d.col] = true
	}
	for _, m := range c.metrics {
		if m.col >= 0 {
			cols[m.col] = true
		}
	}
	for _, k := range c.columns {
		cols[k] = true
	}
	if c.listing {
		for _, o := range c.order {
			cols[o.col] = true
		}
	}
	return cols
}

// walkColumns calls fn with every column e refers to.
func walkColumns(e Expr, fn func(string)) {
	switch e := e.(type) {
	case And:
		for _, t := range e.Terms {
			walkColumns(t, fn)
		}
	case Or:
		for _, t := range e.Terms {
			walkColumns(t, fn)
		}
	case Not:
		walkColumns(e.Term, fn)
	case Compare:
		fn(e.Column)
	case InSet:
		fn(e.Column)
	case AddrMatch:
		fn(e.Column)
	case FlagsAll:
		fn(e.Column)
	}
}

// maxOffset bounds a relative time ("-100y" is not a query anyone means,
// and a time.Duration cannot hold much more).
const maxOffset = 100 * 365 * 24 * time.Hour

// parseTime reads an absolute or relative time at now.
func parseTime(s string, now time.Time, loc *time.Location) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "now" {
		return now.UnixMicro(), nil
	}
	if m := relTimeRE.FindStringSubmatch(s); m != nil {
		n, err := strconv.ParseInt(m[1], 10, 64)
		unit := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour}[m[2]]
		// A time.Duration holds 292 years: a larger offset would wrap
		// around into the future.
		if err != nil || n > int64(maxOffset/unit) {
			return 0, fmt.Errorf("%q: offset too large (at most %d years back)", s, int64(maxOffset/(365*24*time.Hour)))
		}
		return now.Add(-time.Duration(n) * unit).UnixMicro(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UnixMicro(), nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, loc); err == nil {
		return t.UnixMicro(), nil
	}
	if t, err := time.ParseInLocation("2006-01-02T15:04", s, loc); err == nil {
		return t.UnixMicro(), nil
	}
	return 0, errors.New(strconv.Quote(s) + ` is not a time: want RFC 3339 ("2026-11-20T08:00:00Z"), a date ("2026-11-20"), "now" or an offset ("-24h", "-7d", "-30m", "-2w")`)
}

// SplitList splits a comma-separated list of dimensions, metrics or
// columns, as the CLI and the REST parameters take them, keeping commas
// inside parentheses (percentile(packets, 99)) and dropping empty items.
func SplitList(s string) []string {
	var out []string
	depth, start := 0, 0
	add := func(p string) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				add(s[start:i])
				start = i + 1
			}
		}
	}
	add(s[start:])
	return out
}
