-- The anchors a walk for a window ending at @at_or_after may start from, nearest first.
SELECT record_id, created_at, convention, mark, older_id, older_created_at
FROM {{anchors}}
WHERE table_name = @table_name
  AND source = @source
  AND url_filter = @url_filter
  AND domain_id = @domain_id
  AND created_at >= @at_or_after
ORDER BY created_at, record_id
LIMIT @limit;
