package meta

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect is everything that differs between the databases the store runs
// on. The store's SQL is written once, in the subset SQLite and PostgreSQL
// share, with "?" placeholders; a dialect rewrites placeholders, builds the
// DSN, classifies driver errors and brings its migrations. Adding
// PostgreSQL is adding a pgx dialect and its migration directory.
type dialect interface {
	// driverName is the database/sql driver to open.
	driverName() string
	// dsn turns the configured DSN into the driver's, with the settings
	// the store relies on.
	dsn(configured string) (string, error)
	// goose is the dialect goose migrates with.
	goose() goose.Dialect
	// migrations holds the dialect's numbered goose SQL files.
	migrations() (fs.FS, error)
	// rebind rewrites "?" placeholders to the driver's syntax.
	rebind(query string) string
	// classify wraps a driver error with the store's sentinel errors
	// (unique or foreign-key violations become ErrConflict), or returns it
	// unchanged.
	classify(err error) error
}

// dialectFor returns the dialect of a driver name.
func dialectFor(driver string) (dialect, error) {
	switch driver {
	case DriverSQLite:
		return sqliteDialect{}, nil
	}
	return nil, fmt.Errorf("driver %q: not supported", driver)
}

//go:embed migrations
var migrationFiles embed.FS

// sqliteDialect is embedded SQLite through modernc.org/sqlite.
type sqliteDialect struct{}

// sqlitePragmas are the connection settings of STACK.md: wait up to 5 s
// for the single writer lock instead of failing with SQLITE_BUSY, WAL so
// readers never block the writer, enforced foreign keys, and BEGIN
// IMMEDIATE so a transaction takes the write lock up front (no deadlocked
// read-then-write upgrades).
const sqlitePragmas = "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate"

func (sqliteDialect) driverName() string { return "sqlite" }

func (sqliteDialect) dsn(configured string) (string, error) {
	if configured == "" {
		return "", errors.New("empty dsn")
	}
	if strings.Contains(configured, ":memory:") || strings.Contains(configured, "mode=memory") {
		// Every pooled connection would get a database of its own.
		return "", fmt.Errorf("dsn %q: in-memory databases are not supported; use a file", configured)
	}
	path, query, _ := strings.Cut(configured, "?")
	if query != "" {
		if _, err := url.ParseQuery(query); err != nil {
			return "", fmt.Errorf("dsn %q: %w", configured, err)
		}
		query += "&"
	}
	return path + "?" + query + sqlitePragmas, nil
}

func (sqliteDialect) goose() goose.Dialect { return goose.DialectSQLite3 }

func (sqliteDialect) migrations() (fs.FS, error) { return fs.Sub(migrationFiles, "migrations/sqlite") }

func (sqliteDialect) rebind(query string) string { return query } // SQLite takes "?" as it is

func (sqliteDialect) classify(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return fmt.Errorf("%w: already exists", ErrConflict)
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return fmt.Errorf("%w: still referenced, or refers to something missing", ErrConflict)
	}
	return err
}
