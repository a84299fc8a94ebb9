-- Bulk-load the staged window: one INSERT ... SELECT over the Parquet file. {{values}} casts
-- each staged column, by name, to the table's type; table columns the file lacks stay NULL.
INSERT INTO {{table}} ({{columns}})
SELECT {{values}}
FROM read_parquet($path);
