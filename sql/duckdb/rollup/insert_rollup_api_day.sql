-- One day of API requests and errors per endpoint, from the daily_api_requests_by_day view.
INSERT INTO {{rollup}}
SELECT
    day,
    'api' AS source,
    endpoint AS name,
    sum(requests) AS requests,
    sum(errors) AS errors,
    sum(errors) / sum(requests) AS error_rate,
    $partition_key AS partition_key,
    now() AS rebuilt_at
FROM {{api_view}}
WHERE day = CAST($day AS DATE)
GROUP BY day, endpoint;
