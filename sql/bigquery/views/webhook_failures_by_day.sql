-- Webhook deliveries and failures per UTC day, event type and receiving URL. A delivery failed
-- when the customer's server answered outside 200-299 or not at all. The event type is read from
-- the delivered JSON (request.type), which every webhook row carries whatever columns exist.
CREATE OR REPLACE VIEW {{view}}
OPTIONS (description = "Daily webhook deliveries and failures per UTC day and event type (airflow-provider-daily)")
AS
SELECT
    DATE(created_at) AS day,
    JSON_VALUE(request, '$.type') AS event_type,
    endpoint AS webhook_url,
    COUNT(*) AS deliveries,
    COUNTIF(status IS NULL OR status NOT BETWEEN 200 AND 299) AS failures,
    ROUND(100.0 * COUNTIF(status IS NULL OR status NOT BETWEEN 200 AND 299) / COUNT(*), 2) AS failure_pct,
    MAX(IF(status IS NULL OR status NOT BETWEEN 200 AND 299, created_at, NULL)) AS last_failure_at
FROM {{webhook_logs}}
GROUP BY 1, 2, 3;
