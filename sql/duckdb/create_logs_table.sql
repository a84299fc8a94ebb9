-- A Daily logs table with the fixed columns (schema.FIXED_COLUMNS, in order). Flattened body
-- columns are added by add_column.sql as loads discover them. No primary key or index: they slow
-- bulk loads and block ALTER COLUMN TYPE; uniqueness comes from replacing whole windows.
CREATE TABLE IF NOT EXISTS {{table}} (
    id VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    source VARCHAR,
    method VARCHAR,
    url VARCHAR,
    endpoint VARCHAR,
    status BIGINT,
    is_error BOOLEAN,
    ip VARCHAR,
    user_id VARCHAR,
    domain_id VARCHAR,
    request JSON,
    response JSON,
    request_text VARCHAR,
    response_text VARCHAR,
    request_parse_error VARCHAR,
    response_parse_error VARCHAR,
    _loaded_at TIMESTAMPTZ,
    _run_id VARCHAR,
    _window_start TIMESTAMPTZ,
    _window_end TIMESTAMPTZ
);
