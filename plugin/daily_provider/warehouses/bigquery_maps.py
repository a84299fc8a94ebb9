"""The BigQuery :class:`~daily_provider.warehouses.base.MapStore`: ``daily_logs_maps`` in the dataset.

A mixin of :class:`~daily_provider.warehouses.bigquery.BigQueryWarehouse`, which gives it its client
and query jobs.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from google.api_core import exceptions as google_exceptions
from google.cloud import bigquery

from daily_provider.maps import MapBody
from daily_provider.sql import render
from daily_provider.warehouses.base import MAPS_TABLE
from daily_provider.warehouses.bigquery_names import TableRef, job_id, sanitize_job_id

MAPS_SCHEMA = {"table_name": "STRING", "method": "STRING", "endpoint": "STRING", "body": "STRING"}
MAPS_DESCRIPTION = (
    "Endpoints whose whole request or response body the key-count rule made a map (kept as one JSON "
    "column, not flattened), per logs table; written by airflow-provider-daily."
)


class BigQueryMapStore:
    """Reads and records the endpoints whose body is a map, per logs table."""

    if TYPE_CHECKING:
        api_retry: Any
        try_number: int

        def get_client(self) -> bigquery.Client: ...
        def ref(self, table: str) -> TableRef: ...
        def _ensure_table(self, ref: TableRef, wanted: bigquery.Table, what: str) -> bigquery.Table: ...
        def api_error(self, exc: Any, doing: str, ref: TableRef, what: str) -> Exception: ...
        def run_query(
            self, step: str, sql: str, params: list[Any], first_job_id: str, ref: TableRef, what: str
        ) -> bigquery.QueryJob: ...

    def map_bodies(self, table: str) -> set[MapBody]:
        ref = self.ref(MAPS_TABLE)
        try:
            self.get_client().get_table(ref.table_id, retry=self.api_retry)
        except google_exceptions.NotFound:
            return set()
        except google_exceptions.GoogleAPICallError as exc:
            raise self.api_error(exc, "looking up the table", ref, f"map bodies of {table}") from exc
        params = [bigquery.ScalarQueryParameter("table_name", "STRING", table)]
        job = self._maps_query(
            "maps_find", render("bigquery", "find_map_bodies", maps=ref.sql), params, table
        )
        return {(row["method"], row["endpoint"], row["body"]) for row in job.result(retry=self.api_retry)}

    def save_map_bodies(self, table: str, bodies: Sequence[MapBody]) -> None:
        if not bodies:
            return
        ref = self.ref(MAPS_TABLE)
        wanted = bigquery.Table(
            ref.table_id,
            schema=[
                *(bigquery.SchemaField(name, kind, mode="REQUIRED") for name, kind in MAPS_SCHEMA.items()),
                bigquery.SchemaField("decided_at", "TIMESTAMP", mode="REQUIRED"),
            ],
        )
        wanted.description = MAPS_DESCRIPTION
        self._ensure_table(ref, wanted, f"map bodies of {table}")
        sql = render("bigquery", "save_map_body", maps=ref.sql)
        for method, endpoint, body in bodies:
            values = {"table_name": table, "method": method, "endpoint": endpoint, "body": body}
            params = [bigquery.ScalarQueryParameter(name, "STRING", value) for name, value in values.items()]
            params.append(
                bigquery.ScalarQueryParameter("decided_at", "TIMESTAMP", datetime.now(timezone.utc))
            )
            self._maps_query("maps_save", sql, params, table)

    def _maps_query(self, step: str, sql: str, params: list[Any], table: str) -> bigquery.QueryJob:
        ref = self.ref(MAPS_TABLE)
        # A fresh id per call: re-attaching to an earlier read would return stale rows.
        fresh = job_id(
            sanitize_job_id(f"daily_logs_maps_{table}"), step, self.try_number, uuid.uuid4().hex[:16]
        )
        return self.run_query(step, sql, params, fresh, ref, f"map bodies of {table}")
