// Package meta owns Flowlake's metadata store: users and their argon2id
// password hashes, roles and permissions, API tokens, server-side
// sessions, IP groups, applications (business services), typed settings,
// the append-only audit log and the login-failure counters that rate-limit
// password guessing.
//
// The store sits on database/sql. Embedded SQLite (modernc.org/sqlite, pure
// Go) is the default, so a single binary needs no other server; everything
// that differs between databases (driver, DSN, placeholder syntax, error
// classification, migrations) sits behind the dialect type in dialect.go,
// and the SQL is written in the subset SQLite and PostgreSQL share so a
// pgx dialect can follow. Migrations are embedded and run by goose on Open.
//
// Every method takes a context and returns errors wrapped with what was
// being done; callers test them against the sentinel errors (ErrNotFound,
// ErrConflict, ErrInvalid, ...) to choose an HTTP status. Secrets (passwords,
// token and session secrets) are never stored in the clear and never appear
// in errors.
//
// The package imports no other Flowlake package.
package meta
