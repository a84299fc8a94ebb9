-- Latest activity per room: the last API call that touched the room (its own routes, its creation,
-- a meeting token for it), how many calls and errors, and the meeting tokens issued for it.
-- The room name comes from the URL (/v1/rooms/<name>/...) or, where the URL has none, from the
-- JSON bodies, so it works whether or not the flattened request__/response__ columns exist.
CREATE OR REPLACE VIEW {{view}}
OPTIONS (description = "Latest Daily API activity per room, with meeting tokens issued (airflow-provider-daily)")
AS
WITH room_calls AS (
    SELECT
        id,
        created_at,
        method,
        endpoint,
        status,
        CASE
            WHEN endpoint LIKE '/v1/rooms/%'
                THEN REGEXP_EXTRACT(url, r'^(?:https?://[^/]+)?/v1/rooms/([^/?#]+)')
            WHEN endpoint = '/v1/rooms' AND method = 'POST'
                THEN COALESCE(JSON_VALUE(request, '$.name'), JSON_VALUE(response, '$.name'))
            WHEN endpoint LIKE '/v1/meeting-tokens%'
                THEN COALESCE(JSON_VALUE(request, '$.properties.room_name'), JSON_VALUE(response, '$.room_name'))
        END AS room_name,
        COALESCE(endpoint = '/v1/meeting-tokens' AND method = 'POST' AND status < 300, FALSE) AS issued_token
    FROM {{api_logs}}
),
ranked AS (
    SELECT
        *,
        ROW_NUMBER() OVER (PARTITION BY room_name ORDER BY created_at DESC, id DESC) AS recency
    FROM room_calls
    WHERE room_name IS NOT NULL
)
SELECT
    room_name,
    MAX(created_at) AS last_activity_at,
    MAX(CASE WHEN recency = 1 THEN method END) AS last_method,
    MAX(CASE WHEN recency = 1 THEN endpoint END) AS last_endpoint,
    MAX(CASE WHEN recency = 1 THEN status END) AS last_status,
    MIN(created_at) AS first_activity_at,
    COUNT(*) AS calls,
    COUNTIF(status >= 400) AS errors,
    COUNTIF(issued_token) AS meeting_tokens_issued,
    MAX(CASE WHEN issued_token THEN created_at END) AS last_meeting_token_at
FROM ranked
GROUP BY room_name;
