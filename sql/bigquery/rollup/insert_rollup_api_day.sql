-- One day of API requests and errors per endpoint, from the daily_api_requests_by_day view.
INSERT INTO {{rollup}} (day, source, name, requests, errors, error_rate, partition_key, rebuilt_at)
SELECT
    day,
    'api',
    endpoint,
    SUM(requests),
    SUM(errors),
    SUM(errors) / SUM(requests),
    @partition_key,
    CURRENT_TIMESTAMP()
FROM {{api_view}}
WHERE day = @day
GROUP BY day, endpoint;
