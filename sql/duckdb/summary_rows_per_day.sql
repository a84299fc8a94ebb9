-- Rows per UTC day and source in one logs table.
SELECT CAST(created_at AT TIME ZONE 'UTC' AS DATE) AS day, source, count(*) AS rows
FROM {{table}}
GROUP BY ALL
ORDER BY day, source;
