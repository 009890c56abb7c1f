-- Ingest trust (issue 16, item 12): an API token may be bound to the edges
-- (segment sources) it may upload for, and every uploaded segment's content
-- hash is remembered so the same bytes under another id are a duplicate.

-- +goose Up
ALTER TABLE api_tokens ADD COLUMN edges TEXT NOT NULL DEFAULT '[]';  -- JSON array of sources; empty: unbound

CREATE TABLE ingest_contents (
    content_hash TEXT PRIMARY KEY,      -- hex SHA-256 of the uploaded file
    segment_id   TEXT NOT NULL,         -- the first id the content was uploaded under
    source       TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX ingest_contents_created ON ingest_contents (created_at);

-- +goose Down
DROP INDEX ingest_contents_created;
DROP TABLE ingest_contents;
ALTER TABLE api_tokens DROP COLUMN edges;
