-- How wide the table is: all its columns, and the flattened body columns among them.
SELECT
    count(*) AS columns,
    count(*) FILTER (
        WHERE starts_with(column_name, 'request__') OR starts_with(column_name, 'response__')
    ) AS flattened
FROM (DESCRIBE {{table}});
