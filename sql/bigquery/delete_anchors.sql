-- Remove one scope's anchors for the given marks (about to be replaced) or record ids (replaced,
-- or refused by the API).
DELETE FROM {{anchors}}
WHERE table_name = @table_name
  AND source = @source
  AND url_filter = @url_filter
  AND domain_id = @domain_id
  AND (mark IN UNNEST(@marks) OR record_id IN UNNEST(@record_ids));
