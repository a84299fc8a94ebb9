-- Record, once, that one endpoint's whole request or response body is a map for one logs table
-- (maps.py): a body's root columns are shared by every endpoint, so the table cannot record it.
INSERT INTO {{maps}} (table_name, method, endpoint, body, decided_at)
SELECT @table_name, @method, @endpoint, @body, @decided_at
FROM (SELECT 1)
WHERE NOT EXISTS (
    SELECT 1 FROM {{maps}}
    WHERE table_name = @table_name AND method = @method AND endpoint = @endpoint AND body = @body
);
