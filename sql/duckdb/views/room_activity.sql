-- Latest activity per room: the last API call that touched the room (its own routes, its creation,
-- a meeting token for it), how many calls and errors, and the meeting tokens issued for it.
-- The room name comes from the URL (/v1/rooms/<name>/...) or, where the URL has none, from the
-- JSON bodies, so it works whether or not the flattened request__/response__ columns exist.
CREATE OR REPLACE VIEW {{view}} AS
WITH room_calls AS (
    SELECT
        id,
        created_at,
        method,
        endpoint,
        status,
        CASE
            WHEN endpoint LIKE '/v1/rooms/%'
                THEN nullif(regexp_extract(url, '^(?:https?://[^/]+)?/v1/rooms/([^/?#]+)', 1), '')
            WHEN endpoint = '/v1/rooms' AND method = 'POST'
                THEN coalesce(request ->> '$.name', response ->> '$.name')
            WHEN endpoint LIKE '/v1/meeting-tokens%'
                THEN coalesce(request ->> '$.properties.room_name', response ->> '$.room_name')
        END AS room_name,
        endpoint = '/v1/meeting-tokens' AND method = 'POST' AND status < 300 AS issued_token
    FROM {{api_logs}}
),
ranked AS (
    SELECT
        *,
        row_number() OVER (PARTITION BY room_name ORDER BY created_at DESC, id DESC) AS recency
    FROM room_calls
    WHERE room_name IS NOT NULL
)
SELECT
    room_name,
    max(created_at) AS last_activity_at,
    max(CASE WHEN recency = 1 THEN method END) AS last_method,
    max(CASE WHEN recency = 1 THEN endpoint END) AS last_endpoint,
    max(CASE WHEN recency = 1 THEN status END) AS last_status,
    min(created_at) AS first_activity_at,
    count(*) AS calls,
    count(*) FILTER (WHERE status >= 400) AS errors,
    count(*) FILTER (WHERE issued_token) AS meeting_tokens_issued,
    max(CASE WHEN issued_token THEN created_at END) AS last_meeting_token_at
FROM ranked
GROUP BY room_name;
