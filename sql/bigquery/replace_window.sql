-- Replace one source's window atomically: one multi-statement transaction that deletes the window
-- and inserts the staged rows. Any failed statement or ASSERT ends the script, and BigQuery rolls
-- the transaction back, so the table holds either the old window or the new one, never a mix.
ASSERT NOT EXISTS (
    SELECT 1
    FROM {{staging}}
    WHERE source IS DISTINCT FROM @source
       OR created_at IS NULL
       OR created_at < @window_start
       OR created_at >= @window_end
) AS 'staged rows have another source or a created_at outside the window; no rows were changed';

BEGIN TRANSACTION;

{{delete_window}}

{{insert_window}}

ASSERT @@row_count = @staged_rows
    AS 'the INSERT did not write as many rows as were staged; the transaction was rolled back';

COMMIT TRANSACTION;
