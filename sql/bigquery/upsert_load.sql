-- Insert or update the audit row of one load attempt, keyed by load_id.
MERGE {{loads}} AS target
USING (
    SELECT
        @load_id AS load_id,
        @run_id AS run_id,
        @table_name AS table_name,
        @source AS source,
        @window_start AS window_start,
        @window_end AS window_end,
        @status AS status,
        @started_at AS started_at,
        @finished_at AS finished_at,
        @rows AS `rows`,
        @pages AS pages,
        @requests AS requests,
        @retries AS retries,
        @redacted_values AS redacted_values,
        @parse_errors AS parse_errors,
        @error AS error,
        PARSE_JSON(@extra) AS extra,
        @domain_id AS domain_id,
        @url_filter AS url_filter,
        @covered_start AS covered_start,
        @covered_end AS covered_end,
        @window_source AS window_source
) AS staged
ON target.load_id = staged.load_id
WHEN MATCHED THEN UPDATE SET
    run_id = staged.run_id,
    table_name = staged.table_name,
    source = staged.source,
    window_start = staged.window_start,
    window_end = staged.window_end,
    status = staged.status,
    started_at = staged.started_at,
    finished_at = staged.finished_at,
    `rows` = staged.`rows`,
    pages = staged.pages,
    requests = staged.requests,
    retries = staged.retries,
    redacted_values = staged.redacted_values,
    parse_errors = staged.parse_errors,
    error = staged.error,
    extra = staged.extra,
    domain_id = staged.domain_id,
    url_filter = staged.url_filter,
    covered_start = staged.covered_start,
    covered_end = staged.covered_end,
    window_source = staged.window_source
WHEN NOT MATCHED THEN INSERT (
    load_id, run_id, table_name, source, window_start, window_end, status, started_at, finished_at,
    `rows`, pages, requests, retries, redacted_values, parse_errors, error, extra,
    domain_id, url_filter, covered_start, covered_end, window_source
) VALUES (
    staged.load_id, staged.run_id, staged.table_name, staged.source, staged.window_start,
    staged.window_end, staged.status, staged.started_at, staged.finished_at, staged.`rows`,
    staged.pages, staged.requests, staged.retries, staged.redacted_values, staged.parse_errors,
    staged.error, staged.extra, staged.domain_id, staged.url_filter, staged.covered_start,
    staged.covered_end, staged.window_source
);
