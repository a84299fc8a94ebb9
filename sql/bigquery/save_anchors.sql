-- Replace one scope's anchors of the same marks or ids by the new ones, in one transaction, so
-- concurrent walks never leave two anchors for one mark.
BEGIN TRANSACTION;

{{delete_anchors}}

{{insert_anchors}}

COMMIT TRANSACTION;
