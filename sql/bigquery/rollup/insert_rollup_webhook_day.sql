-- One day of webhook deliveries and failures per event type, from daily_webhook_failures_by_day.
INSERT INTO {{rollup}} (day, source, name, requests, errors, error_rate, partition_key, rebuilt_at)
SELECT
    day,
    'webhook',
    event_type,
    SUM(deliveries),
    SUM(failures),
    SUM(failures) / SUM(deliveries),
    @partition_key,
    CURRENT_TIMESTAMP()
FROM {{webhook_view}}
WHERE day = @day
GROUP BY day, event_type;
