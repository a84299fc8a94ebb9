-- Insert one scope's anchors, passed as an array of structs.
INSERT INTO {{anchors}} (
    table_name, source, url_filter, mark, record_id, created_at, convention, older_id,
    older_created_at, recorded_at, domain_id
)
SELECT
    @table_name, @source, @url_filter, anchor.mark, anchor.record_id, anchor.created_at,
    anchor.convention, anchor.older_id, anchor.older_created_at, @recorded_at, @domain_id
FROM UNNEST(@anchors) AS anchor;
