-- Columns of one table in the current schema, in table order. DuckDB matches identifiers
-- case-insensitively, so the lookup does too.
SELECT column_name, data_type
FROM information_schema.columns
WHERE table_catalog = current_database()
  AND table_schema = current_schema()
  AND lower(table_name) = lower($table_name)
ORDER BY ordinal_position;
