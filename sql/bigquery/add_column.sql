-- New nullable columns for body keys the table has not seen yet, all in ONE statement: BigQuery
-- allows about five table metadata updates per table every ten seconds. The placeholder below is
-- a list of "ADD COLUMN IF NOT EXISTS `name` TYPE" clauses, so parallel loads adding the same
-- column do not fail.
ALTER TABLE {{table}}
{{add_columns}};
