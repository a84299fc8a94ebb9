-- One UTC day of the Daily logs per row and name, rebuilt per partition by the example consumer DAG
-- (daily_provider.rollup): source 'api' rows are endpoints (route templates, all methods), source
-- 'webhook' rows are webhook event types; errors are statuses of 400 and up (api) or deliveries
-- answered outside 200-299 or not at all (webhook).
CREATE TABLE IF NOT EXISTS {{rollup}} (
    day DATE NOT NULL,
    source STRING NOT NULL,
    name STRING,
    requests INT64 NOT NULL,
    errors INT64 NOT NULL,
    error_rate FLOAT64 NOT NULL,
    partition_key STRING,
    rebuilt_at TIMESTAMP NOT NULL
);
