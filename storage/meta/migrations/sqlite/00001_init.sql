-- The metadata store's first schema. It is written in the SQL that SQLite
-- and PostgreSQL share (TEXT ids, BIGINT times in Unix microseconds UTC,
-- SMALLINT booleans, JSON arrays in TEXT), so the PostgreSQL migrations are
-- this file plus the dialect's own trigger syntax.

-- +goose Up
CREATE TABLE roles (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    permissions TEXT NOT NULL,          -- JSON array of permission names
    builtin     SMALLINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,     -- ULID
    name          TEXT NOT NULL,
    display_name  TEXT NOT NULL DEFAULT '',
    role          TEXT NOT NULL REFERENCES roles (name) ON UPDATE RESTRICT ON DELETE RESTRICT,
    password_hash TEXT,                 -- argon2id PHC string; NULL for token-only users
    disabled      SMALLINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    last_login_at BIGINT
);
CREATE UNIQUE INDEX users_name ON users (name);

CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,      -- ULID
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    secret_hash  TEXT NOT NULL,         -- hex SHA-256 of the secret
    prefix       TEXT NOT NULL,         -- first characters of the secret, to recognise it
    scopes       TEXT NOT NULL,         -- JSON array; empty means the user's permissions
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    revoked_at   BIGINT,
    last_used_at BIGINT
);
CREATE UNIQUE INDEX api_tokens_secret ON api_tokens (secret_hash);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,      -- ULID
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    secret_hash  TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    remote_addr  TEXT NOT NULL DEFAULT '',
    user_agent   TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX sessions_secret ON sessions (secret_hash);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE ip_groups (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    members     TEXT NOT NULL,          -- JSON array of CIDRs and ranges, normalised
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX ip_groups_name ON ip_groups (name);

CREATE TABLE applications (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    protocol    TEXT NOT NULL,
    addresses   TEXT NOT NULL,          -- JSON array of CIDRs and ranges
    ports       TEXT NOT NULL,          -- JSON array of ports and port ranges
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX applications_name ON applications (name);

CREATE TABLE settings (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,           -- JSON
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL DEFAULT ''
);

CREATE TABLE audit_log (
    id          TEXT PRIMARY KEY,       -- ULID: sorts by time
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL DEFAULT '',
    outcome     TEXT NOT NULL,
    remote_addr TEXT NOT NULL DEFAULT '',
    detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_actor ON audit_log (actor, id);
CREATE INDEX audit_log_action ON audit_log (action, id);

CREATE TABLE login_failures (
    key TEXT NOT NULL,                  -- user name and remote address
    at  BIGINT NOT NULL
);
CREATE INDEX login_failures_key ON login_failures (key, at);

-- The audit log is append-only: the database refuses to change history.
-- +goose StatementBegin
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit log is append-only');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit log is append-only');
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER audit_log_no_delete;
DROP TRIGGER audit_log_no_update;
DROP TABLE login_failures;
DROP TABLE audit_log;
DROP TABLE settings;
DROP TABLE applications;
DROP TABLE ip_groups;
DROP TABLE sessions;
DROP TABLE api_tokens;
DROP TABLE users;
DROP TABLE roles;
