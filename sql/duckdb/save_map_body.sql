-- Record that one endpoint's body is a map for one logs table, once.
INSERT INTO {{maps}} (table_name, method, endpoint, body, decided_at)
SELECT $table_name, $method, $endpoint, $body, now()
WHERE NOT EXISTS (
    SELECT 1 FROM {{maps}}
    WHERE lower(table_name) = lower($table_name) AND method = $method AND endpoint = $endpoint AND body = $body
);
