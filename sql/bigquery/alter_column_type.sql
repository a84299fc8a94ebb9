-- Widen a column in place. BigQuery allows only numeric coercions here (INT64 -> FLOAT64); a
-- column that would have to become STRING keeps its type and gains a STRING sibling instead.
ALTER TABLE {{table}} ALTER COLUMN {{column}} SET DATA TYPE {{column_type}};
