-- Remove the rows one replace scope names (daily_provider.scope.ReplaceScope): rows of one source
-- with created_at in the covered range [window_start, window_end) that belong to the key's domain
-- (and to the url filter's URL when there is one), and any such row whose id is staged again, so
-- a re-run never duplicates a record whatever Daily's url filter matched. Other domains' and
-- URLs' rows, and rows older than what Daily still keeps, are never touched.
DELETE FROM {{table}}
WHERE source = $source
  AND created_at >= $window_start
  AND created_at < $window_end
  AND (
      (domain_id = $domain_id AND ($url_filter = '' OR url = $url_filter))
      OR id IN (SELECT id FROM read_parquet($path))
  );
