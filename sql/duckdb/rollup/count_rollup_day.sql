-- How many rollup rows one day has (after its rebuild).
SELECT count(*) FROM {{rollup}} WHERE day = CAST($day AS DATE);
