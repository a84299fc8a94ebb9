-- Widen a column (BIGINT -> DOUBLE, anything -> VARCHAR); existing values are cast, never lost.
ALTER TABLE {{table}} ALTER COLUMN {{column}} TYPE {{column_type}};
