package graph

import (
	"errors"
	"fmt"
	"time"
)

// Config tunes the GraphQL handler. DefaultConfig has the documented
// defaults; zero fields take them too.
type Config struct {
	// Endpoint is the path the playground page sends queries to.
	// Default /api/v1/graphql.
	Endpoint string
	// MaxComplexity refuses operations whose complexity (docs/graphql.md:
	// one per field, lists of records and groups multiplied by their page
	// size or limit) passes it. Default 20 000.
	MaxComplexity int
	// MaxDepth refuses operations nesting selections deeper than this
	// (introspection excluded). Default 8.
	MaxDepth int
	// MaxFirst bounds a connection's page (first). Default 5 000.
	MaxFirst int
	// MinRateInterval is the shortest interval liveRates accepts.
	// Default 1s.
	MinRateInterval time.Duration
	// MaxRateWindow is the longest window liveRates accepts. Default 1h.
	MaxRateWindow time.Duration
	// KeepAlive is the WebSocket ping interval. Default 25s.
	KeepAlive time.Duration
	// RequestMemoryBudget bounds the memory of all the queries of one
	// HTTP request together (query.WithRequestBudget): however many
	// fields or aliases it has, they share it. Default 256 MiB, one
	// query's default budget; negative: none. Subscriptions (WebSocket)
	// are bounded query by query instead.
	RequestMemoryBudget int64
}

// Defaults of Config.
const (
	DefaultEndpoint        = "/api/v1/graphql"
	DefaultMaxComplexity   = 20_000
	DefaultMaxDepth        = 8
	DefaultMaxFirst        = 5_000
	DefaultMinRateInterval = time.Second
	DefaultMaxRateWindow   = time.Hour
	DefaultKeepAlive       = 25 * time.Second
	DefaultRequestMemory   = 256 << 20
)

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Endpoint:            DefaultEndpoint,
		MaxComplexity:       DefaultMaxComplexity,
		MaxDepth:            DefaultMaxDepth,
		MaxFirst:            DefaultMaxFirst,
		MinRateInterval:     DefaultMinRateInterval,
		MaxRateWindow:       DefaultMaxRateWindow,
		KeepAlive:           DefaultKeepAlive,
		RequestMemoryBudget: DefaultRequestMemory,
	}
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Endpoint == "" {
		c.Endpoint = d.Endpoint
	}
	if c.MaxComplexity == 0 {
		c.MaxComplexity = d.MaxComplexity
	}
	if c.MaxDepth == 0 {
		c.MaxDepth = d.MaxDepth
	}
	if c.MaxFirst == 0 {
		c.MaxFirst = d.MaxFirst
	}
	if c.MinRateInterval == 0 {
		c.MinRateInterval = d.MinRateInterval
	}
	if c.MaxRateWindow == 0 {
		c.MaxRateWindow = d.MaxRateWindow
	}
	if c.KeepAlive == 0 {
		c.KeepAlive = d.KeepAlive
	}
	if c.RequestMemoryBudget == 0 {
		c.RequestMemoryBudget = d.RequestMemoryBudget
	}
	return c
}

// Validate checks the configuration after defaults.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.MaxComplexity < 0 {
		errs = append(errs, fmt.Errorf("max_complexity %d: must be positive", c.MaxComplexity))
	}
	if c.MaxDepth < 0 {
		errs = append(errs, fmt.Errorf("max_depth %d: must be positive", c.MaxDepth))
	}
	if c.MaxFirst < 0 {
		errs = append(errs, fmt.Errorf("max_first %d: must be positive", c.MaxFirst))
	}
	if c.MinRateInterval < 0 || c.MaxRateWindow < 0 || c.KeepAlive < 0 {
		errs = append(errs, errors.New("durations must not be negative"))
	}
	return errors.Join(errs...)
}
