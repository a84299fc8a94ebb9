-- Daily request and error counts per endpoint: one row per UTC day, method and route template
-- of the API logs table. A status of 400 or more is an error; 429 means Daily rate-limited the call.
CREATE OR REPLACE VIEW {{view}}
OPTIONS (description = "Daily API calls and errors per UTC day, method and endpoint (airflow-provider-daily)")
AS
SELECT
    DATE(created_at) AS day,
    method,
    endpoint,
    COUNT(*) AS requests,
    COUNTIF(status >= 400) AS errors,
    COUNTIF(status >= 400 AND status < 500) AS client_errors,
    COUNTIF(status >= 500) AS server_errors,
    COUNTIF(status = 429) AS rate_limited,
    ROUND(100.0 * COUNTIF(status >= 400) / COUNT(*), 2) AS error_pct
FROM {{api_logs}}
GROUP BY 1, 2, 3;
