-- Remove one source's rows in the half-open window [window_start, window_end).
DELETE FROM {{table}}
WHERE source = $source
  AND created_at >= $window_start
  AND created_at < $window_end;
