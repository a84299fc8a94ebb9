-- Endpoints whose whole request or response body the key-count rule made a map (maps.py), per logs
-- table: a body's root columns are shared by every endpoint, so the table's columns cannot record
-- it. Later windows read it back and keep those bodies whole, however few keys they show.
CREATE TABLE IF NOT EXISTS {{maps}} (
    table_name VARCHAR NOT NULL,
    method VARCHAR NOT NULL,            -- '' when the records had none
    endpoint VARCHAR NOT NULL,          -- the endpoint template, e.g. /v1/presence
    body VARCHAR NOT NULL,              -- 'request' or 'response'
    decided_at TIMESTAMPTZ NOT NULL
);
