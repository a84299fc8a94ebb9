-- Error rate and bodies that were not JSON, for one logs table.
SELECT count(*) AS rows,
       round(100.0 * avg(CASE WHEN is_error THEN 1 ELSE 0 END), 1) AS error_pct,
       count(request_parse_error) AS request_not_json,
       count(response_parse_error) AS response_not_json
FROM {{table}};
