-- Remove one source's rows in the half-open window [window_start, window_end). The created_at
-- bounds are the partition filter, so only the window's day partitions are scanned.
DELETE FROM {{table}}
WHERE source = @source
  AND created_at >= @window_start
  AND created_at < @window_end;
