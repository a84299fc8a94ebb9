-- One day of webhook deliveries and failures per event type, from daily_webhook_failures_by_day.
INSERT INTO {{rollup}}
SELECT
    day,
    'webhook' AS source,
    event_type AS name,
    sum(deliveries) AS requests,
    sum(failures) AS errors,
    sum(failures) / sum(deliveries) AS error_rate,
    $partition_key AS partition_key,
    now() AS rebuilt_at
FROM {{webhook_view}}
WHERE day = CAST($day AS DATE)
GROUP BY day, event_type;
