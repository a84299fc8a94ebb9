-- Webhook deliveries and failures per UTC day, event type and receiving URL. A delivery failed
-- when the customer's server answered outside 200-299 or not at all. The event type is read from
-- the delivered JSON (request.type), which every webhook row carries whatever columns exist.
CREATE OR REPLACE VIEW {{view}} AS
SELECT
    CAST(created_at AT TIME ZONE 'UTC' AS DATE) AS day,
    request ->> '$.type' AS event_type,
    endpoint AS webhook_url,
    count(*) AS deliveries,
    count(*) FILTER (WHERE status IS NULL OR status NOT BETWEEN 200 AND 299) AS failures,
    round(100.0 * count(*) FILTER (WHERE status IS NULL OR status NOT BETWEEN 200 AND 299) / count(*), 2)
        AS failure_pct,
    max(created_at) FILTER (WHERE status IS NULL OR status NOT BETWEEN 200 AND 299) AS last_failure_at
FROM {{webhook_logs}}
GROUP BY 1, 2, 3;
