"""BigQuery warehouse: the production sink for Daily logs windows.

Each window goes: staged Parquet file -> a load job (never streaming inserts) into a per-run
staging table that expires on its own -> new columns added to the target (never dropped or
narrowed) -> one multi-statement transaction that deletes the window and inserts the staged rows.
The staging table is removed afterwards, also when a step fails. Jobs get deterministic ids (see
``bigquery_names``): a call repeated on the same try re-attaches to the job it already started,
and a new try runs fresh jobs, which is safe because replacing a window is idempotent. Every query
carries a ``maximum_bytes_billed`` guard and labels. The client, jobs and errors are
``bigquery_dataset.py``'s; ``anchors`` (``bigquery_anchors.py``) keeps the walks' cursor anchors in
the same dataset. The SQL is in ``sql/bigquery/``.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

try:
    from google.api_core import exceptions as google_exceptions
    from google.cloud import bigquery
except ImportError as exc:  # the client library is an optional extra
    raise ImportError(
        f"the BigQuery warehouse needs google-cloud-bigquery ({exc}); install it with "
        "pip install 'airflow-provider-daily[bigquery]' (or [google] for gcp_conn_id support)"
    ) from exc

from daily_provider.exceptions import WarehouseError
from daily_provider.schema import ColumnType
from daily_provider.scope import ReplaceScope
from daily_provider.sql import render
from daily_provider.warehouses.base import (
    LOADS_TABLE,
    LoadRecord,
    StagedWindow,
    checked_staged_columns,
)
from daily_provider.warehouses.bigquery_anchors import BigQueryAnchorStore
from daily_provider.warehouses.bigquery_columns import (
    BIGQUERY_TYPES,
    ColumnPlan,
    description_literal,
    plan_columns,
    quote_column,
)
from daily_provider.warehouses.bigquery_dataset import DIALECT, GOOGLE_EXTRA_HINT, BigQueryDataset
from daily_provider.warehouses.bigquery_maps import BigQueryMapStore
from daily_provider.warehouses.bigquery_names import (
    TableRef,
    default_job_id_prefix,
    digest,
    job_id,
    job_id_prefix,
    job_labels,
    sanitize_job_id,
)
from daily_provider.warehouses.bigquery_tables import (
    LOADS_SCHEMA,
    loads_table,
    logs_table,
    staging_name,
    staging_schema,
    table_types,
)

__all__ = [
    "BIGQUERY_TYPES",
    "GOOGLE_EXTRA_HINT",
    "BigQueryWarehouse",
    "job_id_prefix",
    "job_labels",
]

log = logging.getLogger(__name__)

_FILE_CHUNK = 1 << 20


class BigQueryWarehouse(BigQueryDataset, BigQueryMapStore):
    """Load Daily logs windows into BigQuery tables of one dataset.

    Takes :class:`~daily_provider.warehouses.bigquery_dataset.BigQueryDataset`'s parameters
    (project, dataset, location, credentials, job settings). Nothing is looked up or opened in
    ``__init__``; the client is built on first use.
    """

    @property
    def anchors(self) -> BigQueryAnchorStore:
        """The walks' cursor anchors, in this dataset's ``daily_logs_anchors`` table."""
        return BigQueryAnchorStore(self)

    # -- the Warehouse protocol --------------------------------------------------------------

    def replace_window(self, *, scope: ReplaceScope, staged: StagedWindow) -> int:
        """Replace the rows ``scope`` names by the staged rows; return how many were inserted.

        Creates the table if missing and adds or widens columns first (additive, kept even if the
        replace then fails). The DELETE and INSERT run in one transaction: on any failure the
        table's rows are what they were, and :class:`WarehouseError` is raised.
        """
        table, source, window = scope.table, scope.source, scope.covered
        target = self.ref(table)
        what = f"{scope} into BigQuery table {target.table_id}"
        staged_columns = checked_staged_columns(staged.columns, what)
        clock = time.monotonic()
        prefix = self.job_id_prefix or default_job_id_prefix(table=table, source=source, window=window)
        content = _file_sha256(staged.path, what)
        load_digest = digest(
            content,
            target.table_id,
            source,
            window.start,
            window.end,
            staged_columns,
            scope.domain_id,
            scope.url_filter,
        )
        staging = TableRef.of(
            target.project, target.dataset, staging_name(table, load_digest, self.try_number)
        )

        current_types = self._ensure_logs_table(target, what)
        with self._staging_table(staging, staged_columns, what) as staging_table:
            # Job ids also name this staging table's creation: a repeated call that finds the same
            # staging table re-attaches to the jobs that filled and used it; once a finished call
            # removed it, a repeat creates a new one and runs fresh jobs instead of trusting old ones.
            instance = digest(load_digest, staging_table.created)
            if staged.rows:
                self._load_staging(
                    staging, staged, staged_columns, job_id(prefix, "load", self.try_number, instance), what
                )
            plan = plan_columns(current_types, staged_columns, what=what)
            if plan.changes_schema:
                self._change_schema(target, plan, prefix, instance, what, staged.paths)
            self._swap_window(target, staging, scope, staged.rows, plan, prefix, instance, what)
        log.info(
            "BigQuery: replaced %s with %d staged rows in %.1fs", what, staged.rows, time.monotonic() - clock
        )
        return staged.rows

    def record_load(self, record: LoadRecord) -> None:
        """Insert or update (by ``load_id``) the audit row in ``daily_logs_loads``."""
        loads = self.ref(LOADS_TABLE)
        what = f"load {record.load_id} (status {record.status!r}) in BigQuery table {loads.table_id}"
        self.ensure_bookkeeping_table(loads, loads_table(loads), what)
        params = asdict(record)
        # The JSON text goes in as a STRING parameter; the MERGE parses it.
        params["extra"] = orjson.dumps(record.extra, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
        parameter_types = {**LOADS_SCHEMA, "extra": "STRING"}
        query_params = [
            bigquery.ScalarQueryParameter(name, parameter_types[name], value)
            for name, value in params.items()
        ]
        sql = render(DIALECT, "upsert_load", loads=loads.sql)
        step_digest = digest(sql, sorted(params.items(), key=lambda item: item[0]))
        prefix = sanitize_job_id(f"daily_logs_audit_{record.load_id}_{record.status}")
        self.run_query(
            "audit", sql, query_params, job_id(prefix, "audit", self.try_number, step_digest), loads, what
        )

    def table_columns(self, table: str) -> dict[str, ColumnType]:
        """Return ``table``'s columns and logical types in table order (empty if it does not exist)."""
        found = self.existing_table(table)
        return table_types(self.ref(table), found) if found is not None else {}

    def column_comments(self, table: str) -> dict[str, str]:
        """Each column's description (a flattened column's original JSON path); empty if no table."""
        found = self.existing_table(table)
        if found is None:
            return {}
        return {field.name: field.description for field in found.schema if field.description}

    # -- steps ---------------------------------------------------------------------------------

    def _ensure_logs_table(self, target: TableRef, what: str) -> dict[str, ColumnType]:
        table = self._ensure_table(target, logs_table(target, self.require_partition_filter), what)
        if table.time_partitioning is None or table.time_partitioning.field != "created_at":
            log.warning(
                "BigQuery table %s is not partitioned by created_at: every window DELETE scans the whole "
                "table. Recreate it with this provider (or partition it by DAY on created_at).",
                target.table_id,
            )
        return table_types(target, table)

    @contextmanager
    def _staging_table(
        self, staging: TableRef, columns: Mapping[str, ColumnType], what: str
    ) -> Iterator[bigquery.Table]:
        """A staging table that expires by itself, removed when the block ends, also on failure."""
        client = self.get_client()
        table = bigquery.Table(staging.table_id, schema=staging_schema(columns))
        table.expires = datetime.now(timezone.utc) + self.staging_expiration
        table.description = f"Staging for {what}; removed after the load, expires by itself otherwise."
        table.labels = {**self.labels, "daily_logs": "staging"}
        try:
            created = client.create_table(table, exists_ok=True, retry=self.api_retry)
        except google_exceptions.NotFound as exc:
            raise self._missing_dataset(staging, what, exc) from exc
        except google_exceptions.GoogleAPICallError as exc:
            raise self.api_error(exc, "creating the staging table", staging, what) from exc
        try:
            yield created
        finally:
            try:
                client.delete_table(staging.table_id, not_found_ok=True, retry=self.api_retry)
            except google_exceptions.GoogleAPICallError as exc:
                log.warning(
                    "BigQuery: could not remove staging table %s (%s); it expires by itself at %s",
                    staging.table_id,
                    exc,
                    table.expires.isoformat() if table.expires else "its expiration",
                )

    def _load_staging(
        self,
        staging: TableRef,
        staged: StagedWindow,
        columns: Mapping[str, ColumnType],
        load_job_id: str,
        what: str,
    ) -> None:
        client = self.get_client()
        config = bigquery.LoadJobConfig(
            source_format=bigquery.SourceFormat.PARQUET,
            schema=staging_schema(columns),
            create_disposition=bigquery.CreateDisposition.CREATE_NEVER,
            write_disposition=bigquery.WriteDisposition.WRITE_EMPTY,
            labels=self._labels("load"),
        )

        def same(existing: Any) -> bool:
            destination = getattr(existing, "destination", None)
            return isinstance(existing, bigquery.LoadJob) and (
                destination is not None and destination.table_id == staging.table
            )

        doing = "loading the staged file"

        def submit() -> bigquery.LoadJob:
            with open(staged.path, "rb") as handle:
                return client.load_table_from_file(
                    handle,
                    staging.table_id,
                    job_id=load_job_id,
                    job_config=config,
                    size=staged.path.stat().st_size,
                    location=self.location,
                )

        job, _ = self._start(submit, load_job_id, same, staging, doing, what)
        self._wait(job, doing, staging, what)
        if job.output_rows is not None and job.output_rows != staged.rows:
            raise WarehouseError(
                f"the load job {job.job_id} read {job.output_rows} rows from {staged.path} but its "
                f"StagedWindow says {staged.rows}; no rows were changed for {what}. Re-run the window."
            )

    def _change_schema(
        self,
        target: TableRef,
        plan: ColumnPlan,
        prefix: str,
        instance: str,
        what: str,
        paths: Mapping[str, str],
    ) -> None:
        statements = []
        if plan.add:
            # A new flattened column's description is its original JSON path, in the same statement.
            clauses = ",\n".join(
                f"ADD COLUMN IF NOT EXISTS {quote_column(name)} {BIGQUERY_TYPES[column_type]}"
                + (f" OPTIONS(description={description_literal(paths[name])})" if name in paths else "")
                for name, column_type in plan.add.items()
            )
            statements.append(render(DIALECT, "add_column", table=target.sql, add_columns=clauses))
        for name in plan.to_float:
            log.info("BigQuery: widening %s.%s from INT64 to FLOAT64", target.table_id, name)
            statements.append(
                render(
                    DIALECT,
                    "alter_column_type",
                    table=target.sql,
                    column=quote_column(name),
                    column_type=BIGQUERY_TYPES[ColumnType.FLOAT64],
                )
            )
        sql = "\n".join(statements)
        schema_job_id = job_id(prefix, "schema", self.try_number, digest(sql, instance))
        self.run_query("schema", sql, [], schema_job_id, target, what)

    def _swap_window(
        self,
        target: TableRef,
        staging: TableRef,
        scope: ReplaceScope,
        staged_rows: int,
        plan: ColumnPlan,
        prefix: str,
        instance: str,
        what: str,
    ) -> None:
        window = scope.covered
        delete_sql = render(DIALECT, "delete_window", table=target.sql, staging=staging.sql)
        insert_sql = render(
            DIALECT,
            "insert_window",
            table=target.sql,
            staging=staging.sql,
            columns=", ".join(plan.insert_columns),
            values=",\n       ".join(plan.insert_values),
        )
        sql = render(
            DIALECT,
            "replace_window",
            staging=staging.sql,
            delete_window=delete_sql.strip(),
            insert_window=insert_sql.strip(),
        )
        params = [
            bigquery.ScalarQueryParameter("source", "STRING", scope.source),
            bigquery.ScalarQueryParameter("window_start", "TIMESTAMP", window.start),
            bigquery.ScalarQueryParameter("window_end", "TIMESTAMP", window.end),
            bigquery.ScalarQueryParameter("domain_id", "STRING", scope.domain_id),
            bigquery.ScalarQueryParameter("url_filter", "STRING", scope.url_filter),
            bigquery.ScalarQueryParameter("staged_rows", "INT64", staged_rows),
        ]
        step_digest = digest(
            sql,
            scope.source,
            window.start,
            window.end,
            scope.domain_id,
            scope.url_filter,
            staged_rows,
            instance,
        )
        self.run_query(
            "replace", sql, params, job_id(prefix, "replace", self.try_number, step_digest), target, what
        )


def _file_sha256(path: Path, what: str) -> str:
    hasher = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(_FILE_CHUNK):
                hasher.update(chunk)
    except OSError as exc:
        raise WarehouseError(
            f"cannot read the staged file {path} for {what}: {exc}. No rows were changed; re-run the window "
            "to stage it again."
        ) from exc
    return hasher.hexdigest()
