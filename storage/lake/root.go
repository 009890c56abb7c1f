package lake

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Lake is a partitioned Parquet lake on a Backend. It is safe for concurrent
// use, and several processes may share one lake: every segment has a unique
// name and publishing is atomic; whatever replaces or deletes files
// (compaction, retention, uploads, rollup rebuilds) holds the partition's
// lock (Locker); readers plan on one Snapshot of the catalog.
type Lake struct {
	cfg     Config
	backend Backend
	log     *slog.Logger
	metrics *metrics
	catalog *catalog
	locker  Locker
	writers sync.Map // dataset name → *sync.Pool of reusable Parquet writers
}

// Open opens (creating if needed) the lake in cfg.Root on the local
// filesystem. Its catalog is loaded when first asked (Snapshot,
// SnapshotOf), so opening a large lake to read one hour is cheap.
func Open(cfg Config, logger *slog.Logger) (*Lake, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("lake config: %w", err)
	}
	b, err := NewFS(cfg.Root, 15*time.Minute)
	if err != nil {
		return nil, err
	}
	return OpenBackend(context.Background(), cfg, b, logger)
}

// OpenBackend opens the lake stored on b. cfg.Root is informational.
func OpenBackend(ctx context.Context, cfg Config, b Backend, logger *slog.Logger) (*Lake, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("lake config: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	l := &Lake{cfg: cfg, backend: b, log: logger, metrics: newMetrics(), locker: &localLocks{}}
	if lk, ok := b.(Locker); ok {
		l.locker = lk
	}
	// The catalog loads lazily: the first Snapshot lists the whole lake,
	// a SnapshotOf only the partitions it covers.
	l.catalog = newCatalog(l)
	return l, nil
}

// Backend returns the storage the lake lives on, for readers that open
// segments themselves (the query engine).
func (l *Lake) Backend() Backend { return l.backend }

// Config returns the configuration the lake was opened with.
func (l *Lake) Config() Config { return l.cfg }

// Close saves the catalog cache. The lake must not be used afterwards.
func (l *Lake) Close() error {
	if err := l.catalog.save(context.Background()); err != nil {
		return fmt.Errorf("close lake: %w", err)
	}
	return nil
}
