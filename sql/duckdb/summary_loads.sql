-- What the loads did, per source and status, from the audit table.
SELECT source, status, count(*) AS loads, sum(rows) AS rows, sum(requests) AS requests,
       sum(retries) AS retries, sum(redacted_values) AS redacted_values, sum(parse_errors) AS parse_errors
FROM {{loads}}
GROUP BY ALL
ORDER BY source, status;
