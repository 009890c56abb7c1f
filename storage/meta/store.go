package meta

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/pressly/goose/v3"
)

// Store is the metadata store. It is safe for concurrent use by many
// goroutines and, since sessions and login counters live in the database,
// by several API replicas sharing one database.
type Store struct {
	db  *sql.DB
	d   dialect
	cfg Config
	now func() time.Time
	log *slog.Logger

	idMu    sync.Mutex
	entropy *ulid.MonotonicEntropy // guarded by idMu

	// dummyHash is verified against when a login names no user, so that
	// failing for an unknown user costs the same time as for a wrong
	// password.
	dummyHash string
}

// Option adjusts how Open builds the store.
type Option func(*Store)

// WithClock makes the store read time from now instead of time.Now: token
// expiry, session idleness and audit times in tests.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithLogger gives the store a logger for migrations and maintenance; the
// default discards.
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.log = l } }

// Open validates cfg, opens the database, migrates it to the latest schema
// and makes sure the built-in roles exist with their current permissions.
func Open(ctx context.Context, cfg Config, opts ...Option) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("meta config: %w", err)
	}
	d, err := dialectFor(cfg.Driver)
	if err != nil {
		return nil, fmt.Errorf("meta: %w", err)
	}
	dsn, err := d.dsn(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("meta: %w", err)
	}
	db, err := sql.Open(d.driverName(), dsn)
	if err != nil {
		return nil, fmt.Errorf("meta: open %s: %w", cfg.DSN, err)
	}
	db.SetMaxOpenConns(cfg.MaxOpenConns)
	db.SetMaxIdleConns(cfg.MaxOpenConns)
	s := &Store{
		db:      db,
		d:       d,
		cfg:     cfg,
		now:     time.Now,
		log:     slog.New(slog.DiscardHandler),
		entropy: ulid.Monotonic(rand.Reader, 0),
	}
	for _, o := range opts {
		o(s)
	}
	if err := s.init(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("meta: open %s: %w", cfg.DSN, err), db.Close())
	}
	return s, nil
}

func (s *Store) init(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	if err := s.migrate(ctx); err != nil {
		return err
	}
	if err := s.seedRoles(ctx); err != nil {
		return err
	}
	h, err := hashPassword("not a password of anyone", s.cfg.Password)
	if err != nil {
		return err
	}
	s.dummyHash = h
	return nil
}

// migrate brings the schema to the newest embedded migration. goose's
// provider is used without its global registry, so two stores in one
// process do not share state.
func (s *Store) migrate(ctx context.Context) error {
	fsys, err := s.d.migrations()
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	p, err := goose.NewProvider(s.d.goose(), s.db, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, r := range res {
		s.log.Info("metadata migration applied", "version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
	}
	return nil
}

// SchemaVersion returns the newest migration applied to the database.
func (s *Store) SchemaVersion(ctx context.Context) (int64, error) {
	fsys, err := s.d.migrations()
	if err != nil {
		return 0, fmt.Errorf("migrations: %w", err)
	}
	p, err := goose.NewProvider(s.d.goose(), s.db, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return 0, fmt.Errorf("migrations: %w", err)
	}
	v, err := p.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return v, nil
}

// Close closes the database. Calls after Close fail with ErrClosed.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("meta: close: %w", err)
	}
	return nil
}

// Ping checks that the database answers; readiness probes use it.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("meta: ping: %w", s.closedErr(err))
	}
	return nil
}

// newID returns a new ULID: unique, and sorting by creation time.
func (s *Store) newID() string {
	s.idMu.Lock()
	defer s.idMu.Unlock()
	ts := ulid.Timestamp(s.now())
	id, err := ulid.New(ts, s.entropy)
	if err != nil {
		// The monotonic sequence of this millisecond overflowed (after
		// billions of IDs): start a new one, whose first ID cannot fail.
		s.entropy = ulid.Monotonic(rand.Reader, 0)
		id = ulid.MustNew(ts, s.entropy)
	}
	return id.String()
}

// closedErr turns database/sql's closed-pool error into ErrClosed.
func (s *Store) closedErr(err error) error {
	if err != nil && err.Error() == "sql: database is closed" {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return err
}

// exec runs a statement outside a transaction.
func (s *Store) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	r, err := s.db.ExecContext(ctx, s.d.rebind(q), args...)
	return r, s.d.classify(s.closedErr(err))
}

// query runs a query outside a transaction.
func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	r, err := s.db.QueryContext(ctx, s.d.rebind(q), args...)
	return r, s.closedErr(err)
}

// scanner reads one row: *sql.Row or *sql.Rows.
type scanner interface{ Scan(...any) error }

// queryAll runs q outside a transaction and scans every row with scan;
// what names the listing in errors.
func queryAll[T any](ctx context.Context, s *Store, what string, scan func(scanner) (T, error), q string, args ...any) ([]T, error) {
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// queryOne runs a single-row query outside a transaction and scans the
// row with scan. A missing row is ErrNotFound; errors read
// "<label> <key>: ...".
func queryOne[T any](ctx context.Context, s *Store, label, key, kind string, scan func(scanner) (T, error), q string, args ...any) (T, error) {
	v, err := scan(s.queryRow(ctx, q, args...))
	if err != nil {
		var zero T
		return zero, fmt.Errorf("%s %q: %w", label, key, notFound(err, kind))
	}
	return v, nil
}

// deleteByID deletes the row of table with the given id; a missing row is
// ErrNotFound.
func (s *Store) deleteByID(ctx context.Context, table, kind, id string) error {
	res, err := s.exec(ctx, `DELETE FROM `+table+` WHERE id = ?`, id)
	if err := affectedOne(res, err, kind); err != nil {
		return fmt.Errorf("delete %s %q: %w", kind, id, err)
	}
	return nil
}

// queryRow runs a single-row query outside a transaction.
func (s *Store) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return s.db.QueryRowContext(ctx, s.d.rebind(q), args...)
}

// tx is a transaction with the dialect's placeholder rewriting.
type tx struct {
	tx *sql.Tx
	d  dialect
}

func (t tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	r, err := t.tx.ExecContext(ctx, t.d.rebind(q), args...)
	return r, t.d.classify(err)
}

func (t tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, t.d.rebind(q), args...)
}

func (t tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, t.d.rebind(q), args...)
}

// inTx runs fn in a write transaction, committing if it returns nil and
// rolling back otherwise. Under SQLite the transaction takes the write
// lock at BEGIN (the _txlock=immediate DSN setting), waiting up to the
// busy timeout for it.
func (s *Store) inTx(ctx context.Context, fn func(tx) error) error {
	t, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", s.closedErr(err))
	}
	if err := fn(tx{tx: t, d: s.d}); err != nil {
		return errors.Join(err, ignoreDone(t.Rollback()))
	}
	if err := t.Commit(); err != nil {
		return fmt.Errorf("commit: %w", s.d.classify(err))
	}
	return nil
}

func ignoreDone(err error) error {
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}

// micros is the stored form of a time: Unix microseconds, UTC.
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros reads a stored time.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// nullMicros stores an optional time; the zero time is NULL.
func nullMicros(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: micros(t), Valid: true}
}

// fromNullMicros reads an optional time; NULL is the zero time.
func fromNullMicros(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromMicros(n.Int64)
}

// notFound wraps sql.ErrNoRows as ErrNotFound naming what was looked for.
func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return err
}

// boolInt stores a boolean as SMALLINT.
func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// nowTime is the store's clock in UTC, truncated to the microseconds times
// are stored with, so values returned by a write equal a later read.
func (s *Store) nowTime() time.Time { return s.now().UTC().Truncate(time.Microsecond) }
