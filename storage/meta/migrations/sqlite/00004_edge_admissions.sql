-- Edge admission (issue 15): the allow-list of edge serial numbers a core
-- lets open a management tunnel, with the per-edge secrets of enrolment,
-- binding and unbinding (stored as SHA-256 of 256-bit random secrets).
-- Numbered after the issue so parallel branches' migrations do not clash.

-- +goose Up
CREATE TABLE edge_admissions (
    serial          TEXT PRIMARY KEY,
    admitted_at     BIGINT NOT NULL,
    admitted_by     TEXT NOT NULL,
    enroll_hash     TEXT,               -- one-time enrolment secret; NULL once bound
    credential_hash TEXT,               -- the bound edge's tunnel credential; NULL until bound
    bound_at        BIGINT,
    unbind_hash     TEXT,               -- pending unbinding code
    unbind_expires  BIGINT
);

-- +goose Down
DROP TABLE edge_admissions;
