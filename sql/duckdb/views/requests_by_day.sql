-- Daily request and error counts per endpoint: one row per UTC day, method and route template
-- of the API logs table. A status of 400 or more is an error; 429 means Daily rate-limited the call.
CREATE OR REPLACE VIEW {{view}} AS
SELECT
    CAST(created_at AT TIME ZONE 'UTC' AS DATE) AS day,
    method,
    endpoint,
    count(*) AS requests,
    count(*) FILTER (WHERE status >= 400) AS errors,
    count(*) FILTER (WHERE status >= 400 AND status < 500) AS client_errors,
    count(*) FILTER (WHERE status >= 500) AS server_errors,
    count(*) FILTER (WHERE status = 429) AS rate_limited,
    round(100.0 * count(*) FILTER (WHERE status >= 400) / count(*), 2) AS error_pct
FROM {{api_logs}}
GROUP BY 1, 2, 3;
