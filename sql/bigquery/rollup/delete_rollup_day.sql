-- The rollup's rows of one day, before that day is rebuilt.
DELETE FROM {{rollup}} WHERE day = @day;
