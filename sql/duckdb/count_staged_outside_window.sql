-- Staged rows that do not belong to the window being replaced. Loading them would put rows
-- outside the window that no later replace of this window would remove.
SELECT count(*)
FROM read_parquet($path)
WHERE source IS DISTINCT FROM $source
   OR created_at IS NULL
   OR created_at < $window_start
   OR created_at >= $window_end;
