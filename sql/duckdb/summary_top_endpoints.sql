-- The busiest endpoints (method + route template) with their error rate.
SELECT method, endpoint, count(*) AS calls,
       round(100.0 * avg(CASE WHEN is_error THEN 1 ELSE 0 END), 1) AS error_pct
FROM {{table}}
GROUP BY ALL
ORDER BY calls DESC, endpoint
LIMIT 8;
