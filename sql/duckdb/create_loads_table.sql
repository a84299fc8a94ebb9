-- The load audit table: one row per load attempt (warehouses.base.LoadRecord), upserted by load_id.
-- status: running, success, partial (Daily no longer has the window's oldest part: only
-- [covered_start, covered_end) was replaced), not_covered (Daily has none of it: nothing changed)
-- or failed (nothing changed).
CREATE TABLE IF NOT EXISTS {{loads}} (
    load_id VARCHAR NOT NULL,
    run_id VARCHAR,
    table_name VARCHAR,
    source VARCHAR,
    window_start TIMESTAMPTZ,
    window_end TIMESTAMPTZ,
    status VARCHAR,
    started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    rows BIGINT,
    pages BIGINT,
    requests BIGINT,
    retries BIGINT,
    redacted_values BIGINT,
    parse_errors BIGINT,
    error VARCHAR,
    extra JSON,
    domain_id VARCHAR,
    url_filter VARCHAR,
    covered_start TIMESTAMPTZ,
    covered_end TIMESTAMPTZ,
    window_source VARCHAR
);
-- Tables made before loads recorded their scope and coverage.
ALTER TABLE {{loads}} ADD COLUMN IF NOT EXISTS domain_id VARCHAR;
ALTER TABLE {{loads}} ADD COLUMN IF NOT EXISTS url_filter VARCHAR;
ALTER TABLE {{loads}} ADD COLUMN IF NOT EXISTS covered_start TIMESTAMPTZ;
ALTER TABLE {{loads}} ADD COLUMN IF NOT EXISTS covered_end TIMESTAMPTZ;
ALTER TABLE {{loads}} ADD COLUMN IF NOT EXISTS window_source VARCHAR;
