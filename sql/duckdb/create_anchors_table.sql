-- Cursor anchors (daily_provider.anchors): per table, source, Daily domain and url filter, the
-- oldest record at or after each hour mark a walk passed, with its older neighbour, so a later
-- walk can start next to its window instead of at the newest record. Only hints: deleting rows,
-- or the whole table, costs requests and never a record.
CREATE TABLE IF NOT EXISTS {{anchors}} (
    table_name VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    url_filter VARCHAR NOT NULL,        -- '' when the walk had no url filter
    mark TIMESTAMPTZ NOT NULL,          -- the hour this anchor serves: created_at >= mark > older_created_at
    record_id VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    convention VARCHAR NOT NULL,        -- 'stripe' or 'literal': which cursor parameter walks older
    older_id VARCHAR NOT NULL,
    older_created_at TIMESTAMPTZ NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL,
    domain_id VARCHAR                   -- the Daily domain whose walk passed it
);
-- Tables made before anchors were kept per domain: their rows (no domain) are never used again.
ALTER TABLE {{anchors}} ADD COLUMN IF NOT EXISTS domain_id VARCHAR;
