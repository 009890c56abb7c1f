package graph

import (
	"errors"
	"fmt"
	"time"
)

// Config tunes the GraphQL handler. DefaultConfig has the documented
// defaults (docs/graphql.md, Limits); zero fields take them too. The
// limits are checked in order of their cost, each before the work it
// guards: the body before it is read whole, the document's size, fields
// and aliases before it is parsed and validated (validation of
// overlapping fields is quadratic in the fields of a selection), then
// depth and complexity, then the number of engine queries and what they
// would scan (planned, not run) before any resolver runs.
type Config struct {
	// Endpoint is the path the playground page sends queries to; the
	// server mounting the handler sets it, so it is not configuration.
	// Default /api/v1/graphql.
	Endpoint string `koanf:"-" yaml:"-" json:"-"`
	// MaxBodyBytes refuses request bodies (query, variables and all)
	// larger than this with 413, as REST does. Default 1 MiB.
	MaxBodyBytes int64 `koanf:"max_body_bytes" yaml:"max_body_bytes" json:"max_body_bytes"`
	// MaxQueryBytes refuses documents (the query text) larger than this
	// before they are parsed. Default 64 KiB.
	MaxQueryBytes int `koanf:"max_query_bytes" yaml:"max_query_bytes" json:"max_query_bytes"`
	// MaxFields refuses operations selecting more fields than this,
	// fragments expanded as execution expands them, before they are
	// validated. Default 1 000.
	MaxFields int `koanf:"max_fields" yaml:"max_fields" json:"max_fields"`
	// MaxAliases refuses operations with more aliased fields than this
	// (fragments expanded). Default 50.
	MaxAliases int `koanf:"max_aliases" yaml:"max_aliases" json:"max_aliases"`
	// MaxQueries refuses operations whose fields would run more engine
	// queries than this (a record connection runs up to three: its page,
	// the hasNextPage probe and totalCount). Default 16.
	MaxQueries int `koanf:"max_queries" yaml:"max_queries" json:"max_queries"`
	// MaxScanRowGroups refuses operations whose engine queries would
	// read more Parquet row groups than this in total, as the engine's
	// EXPLAIN plans them (after pruning by time, statistics and bloom
	// filters, and routed to rollups where they answer). Default 20 000;
	// negative: no limit.
	MaxScanRowGroups int `koanf:"max_scan_row_groups" yaml:"max_scan_row_groups" json:"max_scan_row_groups"`
	// MaxScanRows refuses operations whose engine queries would read
	// more rows than this in total, as EXPLAIN plans them (the rows of
	// the row ranges left after pruning by statistics, bloom filters and
	// page indexes). Default 1 000 000 000; negative: no limit.
	MaxScanRows int64 `koanf:"max_scan_rows" yaml:"max_scan_rows" json:"max_scan_rows"`
	// MaxRows bounds the rows of one aggregate, topN or time series
	// answer (groups, or points of all series): a larger limit is
	// refused, and limit 0 ("every group") or a time series with more
	// fails with ROW_LIMIT_EXCEEDED. GraphQL answers are built in memory
	// field by field; exports of more rows are REST's (CSV, Arrow).
	// Default 10 000.
	MaxRows int `koanf:"max_rows" yaml:"max_rows" json:"max_rows"`
	// MaxConcurrent is how many GraphQL operations run at once (over
	// HTTP; subscriptions excepted); more wait up to AdmissionWait for a
	// slot, then are refused with 429 OVERLOADED. This bounds the memory
	// answers being built hold at once. Default 8.
	MaxConcurrent int `koanf:"max_concurrent" yaml:"max_concurrent" json:"max_concurrent"`
	// AdmissionWait is how long an operation waits for a slot. Default 1s.
	AdmissionWait time.Duration `koanf:"admission_wait" yaml:"admission_wait" json:"admission_wait"`
	// MaxComplexity refuses operations whose complexity (docs/graphql.md:
	// one per field, lists of records and groups multiplied by their page
	// size or limit) passes it. Default 20 000.
	MaxComplexity int `koanf:"max_complexity" yaml:"max_complexity" json:"max_complexity"`
	// MaxDepth refuses operations nesting selections deeper than this
	// (introspection excluded). Default 8.
	MaxDepth int `koanf:"max_depth" yaml:"max_depth" json:"max_depth"`
	// MaxFirst bounds a connection's page (first). Default 5 000.
	MaxFirst int `koanf:"max_first" yaml:"max_first" json:"max_first"`
	// MinRateInterval is the shortest interval liveRates accepts.
	// Default 1s.
	MinRateInterval time.Duration `koanf:"min_rate_interval" yaml:"min_rate_interval" json:"min_rate_interval"`
	// MaxRateWindow is the longest window liveRates accepts. Default 1h.
	MaxRateWindow time.Duration `koanf:"max_rate_window" yaml:"max_rate_window" json:"max_rate_window"`
	// MaxSubscriptionsPerCaller bounds the subscriptions (liveRates,
	// edgeStateChanged) one user holds at once, over all their
	// WebSockets; more are refused with SUBSCRIPTION_LIMIT_EXCEEDED and
	// counted (Handler.SubscriptionStats). Each one holds a goroutine and
	// a query or a watcher of the tunnel until it ends. Default 8.
	MaxSubscriptionsPerCaller int `koanf:"max_subscriptions_per_caller" yaml:"max_subscriptions_per_caller" json:"max_subscriptions_per_caller"`
	// KeepAlive is the WebSocket ping interval. Default 25s.
	KeepAlive time.Duration `koanf:"keep_alive" yaml:"keep_alive" json:"keep_alive"`
	// RequestMemoryBudget bounds the memory of all the queries of one
	// HTTP request together (query.WithRequestBudget): however many
	// fields or aliases it has, they share it. Default 256 MiB, one
	// query's default budget; negative: none. Subscriptions (WebSocket)
	// are bounded query by query instead.
	RequestMemoryBudget int64 `koanf:"request_memory_budget" yaml:"request_memory_budget" json:"request_memory_budget"`
}

// Defaults of Config.
const (
	DefaultEndpoint         = "/api/v1/graphql"
	DefaultMaxBodyBytes     = 1 << 20
	DefaultMaxQueryBytes    = 64 << 10
	DefaultMaxFields        = 1_000
	DefaultMaxAliases       = 50
	DefaultMaxQueries       = 16
	DefaultMaxScanRowGroups = 20_000
	DefaultMaxScanRows      = 1_000_000_000
	DefaultMaxRows          = 10_000
	DefaultMaxConcurrent    = 8
	DefaultAdmissionWait    = time.Second
	DefaultMaxComplexity    = 20_000
	DefaultMaxDepth         = 8
	DefaultMaxFirst         = 5_000
	DefaultMinRateInterval  = time.Second
	DefaultMaxRateWindow    = time.Hour
	DefaultKeepAlive        = 25 * time.Second
	DefaultMaxSubscriptions = 8
	DefaultRequestMemory    = 256 << 20
)

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	c := Config{
		Endpoint:            DefaultEndpoint,
		MaxBodyBytes:        DefaultMaxBodyBytes,
		MaxQueryBytes:       DefaultMaxQueryBytes,
		MaxFields:           DefaultMaxFields,
		MaxAliases:          DefaultMaxAliases,
		MaxQueries:          DefaultMaxQueries,
		MaxScanRowGroups:    DefaultMaxScanRowGroups,
		MaxScanRows:         DefaultMaxScanRows,
		MaxRows:             DefaultMaxRows,
		MaxConcurrent:       DefaultMaxConcurrent,
		AdmissionWait:       DefaultAdmissionWait,
		MaxComplexity:       DefaultMaxComplexity,
		MaxDepth:            DefaultMaxDepth,
		MaxFirst:            DefaultMaxFirst,
		MinRateInterval:     DefaultMinRateInterval,
		MaxRateWindow:       DefaultMaxRateWindow,
		KeepAlive:           DefaultKeepAlive,
		RequestMemoryBudget: DefaultRequestMemory,
	}
	c.MaxSubscriptionsPerCaller = DefaultMaxSubscriptions
	return c
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	orDefault(&c.Endpoint, d.Endpoint)
	orDefault(&c.MaxBodyBytes, d.MaxBodyBytes)
	orDefault(&c.MaxQueryBytes, d.MaxQueryBytes)
	orDefault(&c.MaxFields, d.MaxFields)
	orDefault(&c.MaxAliases, d.MaxAliases)
	orDefault(&c.MaxQueries, d.MaxQueries)
	orDefault(&c.MaxScanRowGroups, d.MaxScanRowGroups)
	orDefault(&c.MaxScanRows, d.MaxScanRows)
	orDefault(&c.MaxRows, d.MaxRows)
	orDefault(&c.MaxConcurrent, d.MaxConcurrent)
	orDefault(&c.AdmissionWait, d.AdmissionWait)
	orDefault(&c.MaxComplexity, d.MaxComplexity)
	orDefault(&c.MaxDepth, d.MaxDepth)
	orDefault(&c.MaxFirst, d.MaxFirst)
	orDefault(&c.MinRateInterval, d.MinRateInterval)
	orDefault(&c.MaxRateWindow, d.MaxRateWindow)
	orDefault(&c.KeepAlive, d.KeepAlive)
	orDefault(&c.MaxSubscriptionsPerCaller, d.MaxSubscriptionsPerCaller)
	orDefault(&c.RequestMemoryBudget, d.RequestMemoryBudget)
	return c
}

func orDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Validate checks the configuration after defaults.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	for _, l := range []struct {
		name string
		v    int64
	}{
		{"max_body_bytes", c.MaxBodyBytes},
		{"max_query_bytes", int64(c.MaxQueryBytes)},
		{"max_fields", int64(c.MaxFields)},
		{"max_aliases", int64(c.MaxAliases)},
		{"max_queries", int64(c.MaxQueries)},
		{"max_rows", int64(c.MaxRows)},
		{"max_concurrent", int64(c.MaxConcurrent)},
		{"max_complexity", int64(c.MaxComplexity)},
		{"max_depth", int64(c.MaxDepth)},
		{"max_first", int64(c.MaxFirst)},
		{"max_subscriptions_per_caller", int64(c.MaxSubscriptionsPerCaller)},
	} {
		if l.v < 0 {
			errs = append(errs, fmt.Errorf("%s %d: must be positive", l.name, l.v))
		}
	}
	if c.MaxQueryBytes > 0 && int64(c.MaxQueryBytes) > c.MaxBodyBytes {
		errs = append(errs, fmt.Errorf("max_query_bytes %d: more than max_body_bytes %d, which holds the query", c.MaxQueryBytes, c.MaxBodyBytes))
	}
	if c.MinRateInterval < 0 || c.MaxRateWindow < 0 || c.KeepAlive < 0 || c.AdmissionWait < 0 {
		errs = append(errs, errors.New("durations must not be negative"))
	}
	return errors.Join(errs...)
}
