package meta

import (
	"errors"
	"fmt"
	"time"
)

// DriverSQLite is the embedded SQLite driver (modernc.org/sqlite), the
// default and, for now, the only driver; PostgreSQL (pgx) is the next
// dialect (see dialect.go).
const DriverSQLite = "sqlite"

// Config configures the metadata store.
type Config struct {
	// Driver names the database: "sqlite".
	Driver string `koanf:"driver" yaml:"driver" json:"driver"`
	// DSN locates the database. For SQLite it is a file path (or a
	// "file:" URI); Open adds the pragmas the store relies on (busy
	// timeout, WAL, foreign keys, immediate transactions). Empty means the
	// caller chooses (flowlake serve uses <data>/meta.db).
	DSN string `koanf:"dsn" yaml:"dsn" json:"dsn"`
	// MaxOpenConns bounds the connection pool. SQLite has one writer at a
	// time whatever this says; readers run in parallel under WAL.
	MaxOpenConns int `koanf:"max_open_conns" yaml:"max_open_conns" json:"max_open_conns"`
	// SessionMaxAge is the absolute lifetime of a login session; the idle
	// timeout is the setting session_idle_timeout.
	SessionMaxAge time.Duration `koanf:"session_max_age" yaml:"session_max_age" json:"session_max_age"`
	// Password sets the cost of new argon2id password hashes. Existing
	// hashes keep the cost they were made with (it is in their PHC string).
	Password PasswordParams `koanf:"password" yaml:"password" json:"password"`
}

// PasswordParams are argon2id's cost parameters.
type PasswordParams struct {
	// MemoryKiB is the memory each hash needs, in KiB.
	MemoryKiB uint32 `koanf:"memory_kib" yaml:"memory_kib" json:"memory_kib"`
	// Iterations is the number of passes over that memory.
	Iterations uint32 `koanf:"iterations" yaml:"iterations" json:"iterations"`
	// Parallelism is the number of lanes (threads) per hash.
	Parallelism uint8 `koanf:"parallelism" yaml:"parallelism" json:"parallelism"`
}

// DefaultPasswordParams are OWASP's recommended argon2id minimum (19 MiB,
// two passes, one lane): about 30 ms per hash on one core, affordable on
// small collector hardware and still costly for an offline attacker.
func DefaultPasswordParams() PasswordParams {
	return PasswordParams{MemoryKiB: 19 * 1024, Iterations: 2, Parallelism: 1}
}

// DefaultConfig returns the configuration used when nothing is set; the
// DSN is left for the caller to fill in.
func DefaultConfig() Config {
	return Config{
		Driver:        DriverSQLite,
		MaxOpenConns:  8,
		SessionMaxAge: 12 * time.Hour,
		Password:      DefaultPasswordParams(),
	}
}

// Validate reports every invalid setting at once.
func (c Config) Validate() error {
	var errs []error
	if c.Driver != DriverSQLite {
		errs = append(errs, fmt.Errorf("driver %q: want %q (PostgreSQL is not built in yet)", c.Driver, DriverSQLite))
	}
	if c.DSN == "" {
		errs = append(errs, errors.New("dsn: empty"))
	}
	if c.MaxOpenConns < 1 {
		errs = append(errs, fmt.Errorf("max_open_conns %d: want at least 1", c.MaxOpenConns))
	}
	if c.SessionMaxAge < time.Minute {
		errs = append(errs, fmt.Errorf("session_max_age %s: want at least 1m", c.SessionMaxAge))
	}
	if err := c.Password.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("password: %w", err))
	}
	return errors.Join(errs...)
}

// Validate checks the argon2id parameters against sane bounds: a hash must
// cost something, and must not exhaust a small machine's memory.
func (p PasswordParams) Validate() error {
	var errs []error
	if p.MemoryKiB < 1024 || p.MemoryKiB > 4*1024*1024 {
		errs = append(errs, fmt.Errorf("memory_kib %d: want 1024 to 4194304", p.MemoryKiB))
	}
	if p.Iterations < 1 || p.Iterations > 100 {
		errs = append(errs, fmt.Errorf("iterations %d: want 1 to 100", p.Iterations))
	}
	if p.Parallelism < 1 {
		errs = append(errs, fmt.Errorf("parallelism %d: want at least 1", p.Parallelism))
	}
	return errors.Join(errs...)
}
