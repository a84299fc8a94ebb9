-- Comments of one table's columns: a flattened column's comment is its original JSON path.
SELECT column_name, comment
FROM duckdb_columns()
WHERE database_name = current_database()
  AND schema_name = current_schema()
  AND lower(table_name) = lower($table_name)
  AND comment IS NOT NULL
ORDER BY column_index;
