-- The endpoints whose body is a map for one logs table (see save_map_body.sql).
SELECT DISTINCT method, endpoint, body
FROM {{maps}}
WHERE table_name = @table_name
ORDER BY method, endpoint, body;
