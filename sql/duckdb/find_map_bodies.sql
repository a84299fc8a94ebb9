-- The endpoints whose body is a map for one logs table (see create_maps_table.sql).
SELECT DISTINCT method, endpoint, body
FROM {{maps}}
WHERE lower(table_name) = lower($table_name)
ORDER BY method, endpoint, body;
