-- How many rollup rows one day has (after its rebuild).
SELECT COUNT(*) FROM {{rollup}} WHERE day = @day;
