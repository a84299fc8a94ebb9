-- Record a flattened column's original JSON path (e.g. response.config.maxParticipants), so a user
-- can look it up: SELECT column_name, comment FROM duckdb_columns() WHERE table_name = '...'.
COMMENT ON COLUMN {{table}}.{{column}} IS {{comment}};
