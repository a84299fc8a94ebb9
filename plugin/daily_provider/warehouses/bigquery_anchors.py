"""The BigQuery anchor store: the walks' cursor anchors in ``daily_logs_anchors``, beside the logs.

:class:`BigQueryAnchorStore` implements :class:`~daily_provider.warehouses.base.AnchorStore` in the
warehouse's dataset (``bigquery_dataset.py``). Its jobs get fresh ids, since anchors are only
hints and a re-attached read would return stale ones; a failure is a WarehouseError that the load
turns into a warning. The SQL is in ``sql/bigquery/*_anchors.sql``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from google.api_core import exceptions as google_exceptions
from google.cloud import bigquery

from daily_provider.anchors import Anchor, unique_anchors
from daily_provider.scope import LoadScope
from daily_provider.sql import render
from daily_provider.warehouses.base import ANCHORS_TABLE
from daily_provider.warehouses.bigquery_dataset import DIALECT, BigQueryDataset
from daily_provider.warehouses.bigquery_names import TableRef, job_id, sanitize_job_id

ANCHORS_SCHEMA: dict[str, str] = {
    "table_name": "STRING",
    "source": "STRING",
    "url_filter": "STRING",
    "mark": "TIMESTAMP",
    "record_id": "STRING",
    "created_at": "TIMESTAMP",
    "convention": "STRING",
    "older_id": "STRING",
    "older_created_at": "TIMESTAMP",
    "recorded_at": "TIMESTAMP",
    "domain_id": "STRING",
}
_ANCHOR_FIELDS = ("mark", "record_id", "created_at", "convention", "older_id", "older_created_at")
ANCHORS_DESCRIPTION = (
    "Cursor anchors of airflow-provider-daily: per table, source, Daily domain and url filter, the oldest Daily log "
    "record at or after each hour mark a walk passed, so later walks can start next to their window. "
    "Only hints: deleting rows or the table costs API requests, never a record."
)


class BigQueryAnchorStore:
    """Cursor anchors in ``dataset``'s ``daily_logs_anchors`` table, per load scope (an AnchorStore)."""

    def __init__(self, dataset: BigQueryDataset) -> None:
        self.dataset = dataset

    def find_anchors(self, scope: LoadScope, *, at_or_after: datetime, limit: int) -> list[Anchor]:
        """Return up to ``limit`` anchors of ``scope`` with ``created_at >= at_or_after``, oldest first."""
        anchors = self.dataset.ref(ANCHORS_TABLE)
        try:
            self.dataset.get_client().get_table(anchors.table_id, retry=self.dataset.api_retry)
        except google_exceptions.NotFound:
            return []
        except google_exceptions.GoogleAPICallError as exc:
            raise self.dataset.api_error(exc, "looking up the table", anchors, f"anchors of {scope}") from exc
        params = [
            *_scope_parameters(scope),
            bigquery.ScalarQueryParameter("at_or_after", "TIMESTAMP", at_or_after),
            bigquery.ScalarQueryParameter("limit", "INT64", limit),
        ]
        sql = render(DIALECT, "find_anchors", anchors=anchors.sql)
        job = self._anchor_query("anchors_find", sql, params, scope, anchors)
        return [
            Anchor(
                record_id=row["record_id"],
                created_at=row["created_at"],
                convention=row["convention"],
                mark=row["mark"],
                older_id=row["older_id"],
                older_created_at=row["older_created_at"],
            )
            for row in job.result(retry=self.dataset.api_retry)
        ]

    def save_anchors(self, scope: LoadScope, anchors: Sequence[Anchor]) -> None:
        """Store ``anchors`` in one transaction, replacing the scope's anchors of the same marks or ids."""
        kept = unique_anchors(anchors)
        if not kept:
            return
        ref = self._ensure_anchors_table(scope)
        structs = [
            bigquery.StructQueryParameter(
                None,
                *(
                    bigquery.ScalarQueryParameter(name, ANCHORS_SCHEMA[name], getattr(anchor, name))
                    for name in _ANCHOR_FIELDS
                ),
            )
            for anchor in kept
        ]
        params = [
            *_scope_parameters(scope),
            bigquery.ArrayQueryParameter("marks", "TIMESTAMP", [anchor.mark for anchor in kept]),
            bigquery.ArrayQueryParameter("record_ids", "STRING", [anchor.record_id for anchor in kept]),
            bigquery.ArrayQueryParameter("anchors", "STRUCT", structs),
            bigquery.ScalarQueryParameter("recorded_at", "TIMESTAMP", datetime.now(timezone.utc)),
        ]
        sql = render(
            DIALECT,
            "save_anchors",
            delete_anchors=render(DIALECT, "delete_anchors", anchors=ref.sql).strip(),
            insert_anchors=render(DIALECT, "insert_anchors", anchors=ref.sql).strip(),
        )
        self._anchor_query("anchors_save", sql, params, scope, ref)

    def drop_anchors(self, scope: LoadScope, record_ids: Sequence[str]) -> None:
        """Remove the scope's anchors with these record ids."""
        if not record_ids:
            return
        ref = self._ensure_anchors_table(scope)
        params = [
            *_scope_parameters(scope),
            bigquery.ArrayQueryParameter("marks", "TIMESTAMP", []),
            bigquery.ArrayQueryParameter("record_ids", "STRING", list(record_ids)),
        ]
        sql = render(DIALECT, "delete_anchors", anchors=ref.sql)
        self._anchor_query("anchors_drop", sql, params, scope, ref)

    def _ensure_anchors_table(self, scope: LoadScope) -> TableRef:
        ref = self.dataset.ref(ANCHORS_TABLE)
        table = bigquery.Table(
            ref.table_id,
            schema=[
                # domain_id came later: tables made before it have the column added, nullable.
                bigquery.SchemaField(name, field_type, mode="NULLABLE" if name == "domain_id" else "REQUIRED")
                for name, field_type in ANCHORS_SCHEMA.items()
            ],
        )
        table.description = ANCHORS_DESCRIPTION
        self.dataset.ensure_bookkeeping_table(ref, table, f"anchors of {scope}")
        return ref

    def _anchor_query(
        self,
        step: str,
        sql: str,
        params: list[Any],
        scope: LoadScope,
        ref: TableRef,
    ) -> bigquery.QueryJob:
        prefix = sanitize_job_id(f"daily_logs_anchors_{scope.table}_{scope.source}")
        # A fresh id per call: re-attaching to an earlier read would return stale anchors.
        fresh_job_id = job_id(prefix, step, self.dataset.try_number, uuid.uuid4().hex[:16])
        # Parallel tasks saving anchors may abort each other's transaction; one quick retry, then
        # the caller goes on without (anchors only save requests) rather than waiting minutes.
        delays = self.dataset.conflict_retry_delays[:1]
        return self.dataset.run_query(
            step, sql, params, fresh_job_id, ref, f"anchors of {scope}", conflict_retry_delays=delays
        )


def _scope_parameters(scope: LoadScope) -> list[bigquery.ScalarQueryParameter]:
    return [
        bigquery.ScalarQueryParameter("table_name", "STRING", scope.table),
        bigquery.ScalarQueryParameter("source", "STRING", scope.source),
        bigquery.ScalarQueryParameter("domain_id", "STRING", scope.domain_id),
        bigquery.ScalarQueryParameter("url_filter", "STRING", scope.url_filter),
    ]
