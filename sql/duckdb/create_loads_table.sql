-- The load audit table: one row per load attempt (warehouses.base.LoadRecord), upserted by load_id.
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
    extra JSON
);
