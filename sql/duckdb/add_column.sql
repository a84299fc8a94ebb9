-- A new nullable column for a body key the table has not seen yet.
ALTER TABLE {{table}} ADD COLUMN IF NOT EXISTS {{column}} {{column_type}};
