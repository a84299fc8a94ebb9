-- Insert one scope's anchors, passed as parallel lists (unnest zips lists of equal length).
INSERT INTO {{anchors}} (
    table_name, source, url_filter, mark, record_id, created_at, convention, older_id,
    older_created_at, recorded_at, domain_id
)
SELECT
    $table_name,
    $source,
    $url_filter,
    unnest(CAST($marks AS TIMESTAMPTZ[])),
    unnest(CAST($record_ids AS VARCHAR[])),
    unnest(CAST($created_ats AS TIMESTAMPTZ[])),
    unnest(CAST($conventions AS VARCHAR[])),
    unnest(CAST($older_ids AS VARCHAR[])),
    unnest(CAST($older_created_ats AS TIMESTAMPTZ[])),
    CAST($recorded_at AS TIMESTAMPTZ),
    $domain_id;
