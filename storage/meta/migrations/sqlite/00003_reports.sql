-- Report schedules (issue 12): report definitions, the schedules that run
-- them, and one row per scheduled run. The run row is also the lock that
-- makes ONE replica run each scheduled run: its (schedule_id, scheduled_for)
-- key is unique, so of several replicas firing the same run, the one whose
-- INSERT succeeds owns it.

-- +goose Up
CREATE TABLE report_definitions (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    type        TEXT NOT NULL,              -- link, forecast, ..., custom
    params      TEXT NOT NULL DEFAULT '{}', -- JSON object: sections, n, filter, query ...
    formats     TEXT NOT NULL,              -- JSON array: html, pdf, xlsx, csv
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE report_schedules (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    definition_id TEXT NOT NULL REFERENCES report_definitions (id) ON DELETE RESTRICT,
    period        TEXT NOT NULL,            -- daily, weekly, monthly, quarterly, yearly
    cron          TEXT NOT NULL DEFAULT '', -- empty: run once the period has closed
    zone          TEXT NOT NULL,            -- IANA time zone of the calendar and the cron
    delay_minutes INTEGER NOT NULL,         -- after the period closes, for late data
    formats       TEXT NOT NULL,            -- JSON array; empty: the definition's
    recipients    TEXT NOT NULL DEFAULT '[]',
    attach        SMALLINT NOT NULL DEFAULT 1, -- 1: attach files, 0: mail links
    enabled       SMALLINT NOT NULL DEFAULT 1,
    max_attempts  INTEGER NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX report_schedules_definition ON report_schedules (definition_id);

CREATE TABLE report_runs (
    id            TEXT PRIMARY KEY,
    schedule_id   TEXT NOT NULL REFERENCES report_schedules (id) ON DELETE CASCADE,
    definition_id TEXT NOT NULL,
    scheduled_for BIGINT NOT NULL,          -- the run's fire time, Unix µs
    period_kind   TEXT NOT NULL,
    period_label  TEXT NOT NULL,
    period_from   BIGINT NOT NULL,
    period_to     BIGINT NOT NULL,
    zone          TEXT NOT NULL,
    owner         TEXT NOT NULL,            -- the replica that claimed the run
    status        TEXT NOT NULL,            -- running, retrying, succeeded, failed
    attempt       INTEGER NOT NULL,
    error         TEXT NOT NULL DEFAULT '',
    archive_keys  TEXT NOT NULL DEFAULT '[]',
    mailed_to     TEXT NOT NULL DEFAULT '[]',
    started_at    BIGINT NOT NULL,
    finished_at   BIGINT,
    UNIQUE (schedule_id, scheduled_for)
);
CREATE INDEX report_runs_started ON report_runs (started_at);

-- +goose Down
DROP INDEX report_runs_started;
DROP TABLE report_runs;
DROP INDEX report_schedules_definition;
DROP TABLE report_schedules;
DROP TABLE report_definitions;
