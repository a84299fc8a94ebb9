"""BigQuery warehouse: the production sink for Daily logs windows.

Each window goes: staged Parquet file -> a load job (never streaming inserts) into a per-run
staging table that expires on its own -> new columns added to the target (never dropped or
narrowed) -> one multi-statement transaction that deletes the window and inserts the staged rows.
The staging table is removed afterwards, also when a step fails. Jobs get deterministic ids (see
``bigquery_names``): a call repeated on the same try re-attaches to the job it already started,
and a new try runs fresh jobs, which is safe because replacing a window is idempotent. Every query
carries a ``maximum_bytes_billed`` guard and labels. It also keeps the walks' cursor anchors in
``daily_logs_anchors`` (an AnchorStore); those jobs get fresh ids, since anchors are only hints and
a re-attached read would return stale ones. The SQL is in ``sql/bigquery/``.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar, cast

import orjson

try:
    from google.api_core import exceptions as google_exceptions
    from google.api_core.retry import Retry
    from google.cloud import bigquery
except ImportError as exc:  # the client library is an optional extra
    raise ImportError(
        f"the BigQuery warehouse needs google-cloud-bigquery ({exc}); install it with "
        "pip install 'airflow-provider-daily[bigquery]' (or [google] for gcp_conn_id support)"
    ) from exc

from daily_provider.anchors import Anchor, unique_anchors
from daily_provider.exceptions import DailyConfigError, WarehouseError
from daily_provider.schema import ColumnType
from daily_provider.scope import LoadScope, ReplaceScope
from daily_provider.sql import render
from daily_provider.warehouses.base import (
    ANCHORS_TABLE,
    LOADS_TABLE,
    LoadRecord,
    StagedWindow,
    checked_staged_columns,
)
from daily_provider.warehouses.bigquery_columns import (
    BIGQUERY_TYPES,
    ColumnPlan,
    description_literal,
    plan_columns,
    quote_column,
)
from daily_provider.warehouses.bigquery_maps import BigQueryMapStore
from daily_provider.warehouses.bigquery_names import (
    TableRef,
    default_job_id_prefix,
    digest,
    job_id,
    job_id_prefix,
    job_labels,
    sanitize_job_id,
    sanitize_labels,
    validate_identifier,
    validate_project,
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

DIALECT = "bigquery"
GOOGLE_EXTRA_HINT = "pip install 'airflow-provider-daily[google]'"
# Concurrent DML on one table: BigQuery aborts one of two transactions (or DML statements) that
# touch the same table at once. Parallel backfill tasks hit this; a later attempt succeeds. The
# local-bigquery emulator reports the same conflict as a failed DuckLake commit.
_CONCURRENT_UPDATE = re.compile(
    r"concurrent update|could not serialize access|failed to commit ducklake transaction", re.IGNORECASE
)
_FILE_CHUNK = 1 << 20
_REASON_SUFFIX = re.compile(r";\s*reason: .*$", re.DOTALL)

JobT = TypeVar("JobT", bigquery.QueryJob, bigquery.LoadJob)

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


class BigQueryWarehouse(BigQueryMapStore):
    """Load Daily logs windows into BigQuery tables of one dataset.

    :param project: Project that holds the dataset and runs the jobs; ``None`` takes the
        credentials' default project.
    :param dataset: Dataset of the logs tables, the staging tables and ``daily_logs_loads``. It
        must exist: the warehouse never creates datasets (their location and access are yours).
    :param location: Location of the dataset and jobs (e.g. ``"EU"``); ``None`` lets BigQuery infer it.
    :param gcp_conn_id: Airflow connection for Google Cloud; needs the ``google`` extra. Without it
        the client uses Application Default Credentials.
    :param client: A ready client (tests, custom endpoints); then no credentials are looked up.
    :param maximum_bytes_billed: Fail any query that would bill more bytes (``None``: no guard). The
        DELETE of a window scans that window's day partitions.
    :param require_partition_filter: Created tables refuse queries without a ``created_at`` filter.
    :param staging_expiration: How long a staging table lives if a load dies before removing it.
    :param job_id_prefix: Deterministic per dag, task and window (see :func:`job_id_prefix`);
        ``None`` derives one from table, source and window.
    :param labels: Labels for every job (see :func:`job_labels`), sanitized to BigQuery's rules.
    :param try_number: The task's try: a new try runs new jobs instead of re-attaching.
    :param api_retry: Retry policy of the API calls (the client library's default when not given).
    :param conflict_retry_delays: Seconds to wait before each new attempt when a concurrent update
        of the same table aborted the transaction; its length is the number of extra attempts.

    Nothing is looked up or opened in ``__init__``; :meth:`get_client` builds the client lazily.
    """

    dialect = DIALECT

    def __init__(
        self,
        *,
        project: str | None,
        dataset: str,
        location: str | None = None,
        gcp_conn_id: str | None = None,
        impersonation_chain: str | Sequence[str] | None = None,
        client: bigquery.Client | None = None,
        maximum_bytes_billed: int | None = 10 * 1024**3,
        require_partition_filter: bool = False,
        staging_expiration: timedelta = timedelta(hours=6),
        job_id_prefix: str | None = None,
        labels: Mapping[str, str] | None = None,
        try_number: int = 1,
        api_retry: Retry = bigquery.DEFAULT_RETRY,
        conflict_retry_delays: Sequence[float] = (5.0, 20.0, 60.0),
    ) -> None:
        self.project = validate_project(project) if project is not None else None
        self.dataset = validate_identifier(dataset, what="BigQuery dataset")
        self.location = location
        self.gcp_conn_id = gcp_conn_id
        if impersonation_chain and not gcp_conn_id:
            raise DailyConfigError(
                "impersonation_chain needs gcp_conn_id: impersonation goes through the Google provider's "
                f"hook ({GOOGLE_EXTRA_HINT}); without it the client uses Application Default Credentials"
            )
        self.impersonation_chain = impersonation_chain
        self.maximum_bytes_billed = maximum_bytes_billed
        self.require_partition_filter = require_partition_filter
        if staging_expiration <= timedelta(0):
            raise DailyConfigError(f"staging_expiration must be positive, got {staging_expiration}")
        self.staging_expiration = staging_expiration
        self.job_id_prefix = sanitize_job_id(job_id_prefix) if job_id_prefix else None
        self.labels = sanitize_labels(labels or {})
        if try_number < 1:
            raise DailyConfigError(f"try_number must be 1 or more, got {try_number}")
        self.try_number = try_number
        self.api_retry = api_retry
        self.conflict_retry_delays = tuple(conflict_retry_delays)
        self._client = client
        self._owns_client = client is None

    # -- client ------------------------------------------------------------------------------

    def get_client(self) -> bigquery.Client:
        """The BigQuery client: the injected one, the Google provider's (``gcp_conn_id``) or ADC."""
        if self._client is None:
            self._client = self._make_client()
        return self._client

    def _make_client(self) -> bigquery.Client:
        if self.gcp_conn_id:
            try:
                from airflow.providers.google.cloud.hooks.bigquery import BigQueryHook
            except ImportError as exc:
                raise DailyConfigError(
                    f"gcp_conn_id={self.gcp_conn_id!r} needs the Google provider, which is not installed "
                    f"({exc}). Run: {GOOGLE_EXTRA_HINT}, or leave gcp_conn_id unset to use Application "
                    "Default Credentials."
                ) from None
            kwargs: dict[str, Any] = {"location": self.location}
            if self.project is not None:  # else the connection's project
                kwargs["project_id"] = self.project
            hook = BigQueryHook(gcp_conn_id=self.gcp_conn_id, impersonation_chain=self.impersonation_chain)
            client: bigquery.Client = hook.get_client(**kwargs)
            return client
        from google.auth.exceptions import DefaultCredentialsError

        try:
            return bigquery.Client(project=self.project, location=self.location)
        except DefaultCredentialsError as exc:
            raise DailyConfigError(
                f"no Google credentials found for BigQuery ({exc}). Run `gcloud auth application-default "
                "login`, set GOOGLE_APPLICATION_CREDENTIALS to a service account key file, or set "
                f"gcp_conn_id to an Airflow Google Cloud connection ({GOOGLE_EXTRA_HINT})."
            ) from None

    def close(self) -> None:
        """Close the client if this warehouse created it (safe to call twice)."""
        client, self._client = self._client, None
        if client is not None and self._owns_client:
            client.close()

    def _ref(self, table: str) -> TableRef:
        project = self.project or self.get_client().project
        return TableRef.of(project, self.dataset, table)

    # -- the Warehouse protocol --------------------------------------------------------------

    def replace_window(self, *, scope: ReplaceScope, staged: StagedWindow) -> int:
        """Replace the rows ``scope`` names by the staged rows; return how many were inserted.

        Creates the table if missing and adds or widens columns first (additive, kept even if the
        replace then fails). The DELETE and INSERT run in one transaction: on any failure the
        table's rows are what they were, and :class:`WarehouseError` is raised.
        """
        table, source, window = scope.table, scope.source, scope.covered
        target = self._ref(table)
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
        loads = self._ref(LOADS_TABLE)
        what = f"load {record.load_id} (status {record.status!r}) in BigQuery table {loads.table_id}"
        self._ensure_bookkeeping_table(loads, loads_table(loads), what)
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
        self._run_query(
            "audit", sql, query_params, job_id(prefix, "audit", self.try_number, step_digest), loads, what
        )

    # -- cursor anchors (AnchorStore) ------------------------------------------------------------

    def find_anchors(self, scope: LoadScope, *, at_or_after: datetime, limit: int) -> list[Anchor]:
        """Return up to ``limit`` anchors of ``scope`` with ``created_at >= at_or_after``, oldest first."""
        anchors = self._ref(ANCHORS_TABLE)
        try:
            self.get_client().get_table(anchors.table_id, retry=self.api_retry)
        except google_exceptions.NotFound:
            return []
        except google_exceptions.GoogleAPICallError as exc:
            raise self._api_error(exc, "looking up the table", anchors, f"anchors of {scope}") from exc
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
            for row in job.result(retry=self.api_retry)
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
        ref = self._ref(ANCHORS_TABLE)
        table = bigquery.Table(
            ref.table_id,
            schema=[
                # domain_id came later: tables made before it have the column added, nullable.
                bigquery.SchemaField(name, field_type, mode="NULLABLE" if name == "domain_id" else "REQUIRED")
                for name, field_type in ANCHORS_SCHEMA.items()
            ],
        )
        table.description = ANCHORS_DESCRIPTION
        self._ensure_bookkeeping_table(ref, table, f"anchors of {scope}")
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
        fresh_job_id = job_id(prefix, step, self.try_number, uuid.uuid4().hex[:16])
        # Parallel tasks saving anchors may abort each other's transaction; one quick retry, then
        # the caller goes on without (anchors only save requests) rather than waiting minutes.
        delays = self.conflict_retry_delays[:1]
        return self._run_query(
            step, sql, params, fresh_job_id, ref, f"anchors of {scope}", conflict_retry_delays=delays
        )

    def table_columns(self, table: str) -> dict[str, ColumnType]:
        """Return ``table``'s columns and logical types in table order (empty if it does not exist)."""
        found = self._existing_table(table)
        return table_types(self._ref(table), found) if found is not None else {}

    def column_comments(self, table: str) -> dict[str, str]:
        """Each column's description (a flattened column's original JSON path); empty if no table."""
        found = self._existing_table(table)
        if found is None:
            return {}
        return {field.name: field.description for field in found.schema if field.description}

    def _existing_table(self, table: str) -> bigquery.Table | None:
        """The table's metadata, or None when it does not exist."""
        ref = self._ref(table)
        try:
            return self.get_client().get_table(ref.table_id, retry=self.api_retry)
        except google_exceptions.NotFound:
            return None
        except google_exceptions.GoogleAPICallError as exc:
            raise self._api_error(exc, "reading the table's schema", ref, f"table {ref.table_id}") from exc

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

    def _ensure_bookkeeping_table(self, ref: TableRef, wanted: bigquery.Table, what: str) -> None:
        """Ensure the ledger or anchors table, adding the nullable fields an older release's lacks."""
        table = self._ensure_table(ref, wanted, what)
        have = {field.name for field in table.schema}
        missing = [field for field in wanted.schema if field.name not in have]
        if not missing:
            return
        table.schema = [
            *table.schema,
            *(bigquery.SchemaField(field.name, field.field_type, mode="NULLABLE") for field in missing),
        ]
        try:
            self.get_client().update_table(table, ["schema"], retry=self.api_retry)
        except google_exceptions.GoogleAPICallError as exc:
            raise self._api_error(exc, "adding columns to the table", ref, what) from exc
        log.info("BigQuery: added columns %s to %s", ", ".join(f.name for f in missing), ref.table_id)

    def _ensure_table(self, ref: TableRef, wanted: bigquery.Table, what: str) -> bigquery.Table:
        client = self.get_client()
        try:
            return client.get_table(ref.table_id, retry=self.api_retry)
        except google_exceptions.NotFound:
            pass
        except google_exceptions.GoogleAPICallError as exc:
            raise self._api_error(exc, "looking up the table", ref, what) from exc
        try:
            # exists_ok: another task may create it between our lookup and this call.
            created = client.create_table(wanted, exists_ok=True, retry=self.api_retry)
        except google_exceptions.NotFound as exc:
            raise self._missing_dataset(ref, what, exc) from exc
        except google_exceptions.GoogleAPICallError as exc:
            raise self._api_error(exc, "creating the table", ref, what) from exc
        log.info("BigQuery: created table %s", ref.table_id)
        return created

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
            raise self._api_error(exc, "creating the staging table", staging, what) from exc
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
        self._run_query("schema", sql, [], schema_job_id, target, what)

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
        self._run_query(
            "replace", sql, params, job_id(prefix, "replace", self.try_number, step_digest), target, what
        )

    # -- jobs ----------------------------------------------------------------------------------

    def _labels(self, step: str) -> dict[str, str]:
        return {**self.labels, "daily_logs_step": step}

    def _run_query(
        self,
        step: str,
        sql: str,
        params: list[bigquery.ScalarQueryParameter],
        first_job_id: str,
        ref: TableRef,
        what: str,
        conflict_retry_delays: Sequence[float] | None = None,
    ) -> bigquery.QueryJob:
        """Run one query job, re-attaching to it if it exists, and retrying concurrent-update aborts
        after ``conflict_retry_delays`` (the warehouse's own when None)."""
        client = self.get_client()
        config = bigquery.QueryJobConfig(
            query_parameters=params,
            maximum_bytes_billed=self.maximum_bytes_billed,
            labels=self._labels(step),
            use_legacy_sql=False,
        )
        doing = _STEP_DESCRIPTIONS.get(step, step)
        delays = list(self.conflict_retry_delays if conflict_retry_delays is None else conflict_retry_delays)
        # One id per attempt: the first, then one per concurrent-update retry, and up to two more
        # for earlier calls' failed jobs found under our ids (a failed job changed nothing).
        job_ids = [first_job_id] + [f"{first_job_id}_a{n}" for n in range(2, len(delays) + 4)]
        failure: WarehouseError | None = None
        for this_job_id in job_ids:

            def submit(this_job_id: str = this_job_id) -> bigquery.QueryJob:
                return client.query(
                    sql,
                    job_config=config,
                    job_id=this_job_id,
                    location=self.location,
                    retry=self.api_retry,
                    job_retry=None,
                )

            def same(existing: Any) -> bool:
                return isinstance(existing, bigquery.QueryJob) and existing.query == sql

            job, reattached = self._start(submit, this_job_id, same, ref, doing, what)
            try:
                job.result(retry=self.api_retry, job_retry=None)
                return job
            except google_exceptions.GoogleAPICallError as exc:
                failure = self._job_error(job, exc, doing, ref, what)
                failure.__cause__ = exc
                if reattached:
                    log.info("BigQuery: earlier job %s had failed (%s); running it again", job.job_id, exc)
                    continue
                if delays and _is_concurrent_update(job, exc):
                    delay = delays.pop(0)
                    log.warning(
                        "BigQuery: job %s was aborted by a concurrent update of %s; trying again in %gs",
                        job.job_id,
                        ref.table_id,
                        delay,
                    )
                    time.sleep(delay)
                    continue
                raise failure from exc
        assert failure is not None  # the loop ran at least once and did not return
        raise failure

    def _start(
        self,
        submit: Callable[[], JobT],
        wanted_job_id: str,
        same: Callable[[Any], bool],
        ref: TableRef,
        doing: str,
        what: str,
    ) -> tuple[JobT, bool]:
        """Submit a job; if its id exists (a repeated call), re-attach when it is the same job.

        Returns the job and whether it was re-attached rather than newly started.
        """
        client = self.get_client()
        try:
            return submit(), False
        except google_exceptions.Conflict:
            pass
        except google_exceptions.GoogleAPICallError as exc:
            raise self._api_error(exc, doing, ref, what) from exc
        try:
            existing = client.get_job(wanted_job_id, location=self.location, retry=self.api_retry)
        except google_exceptions.GoogleAPICallError as exc:
            raise self._api_error(
                exc, f"{doing} (looking up existing job {wanted_job_id})", ref, what
            ) from exc
        if not same(existing):
            raise WarehouseError(
                f"BigQuery job {wanted_job_id} already exists in project {ref.project} but does something "
                f"else than {doing} for {what}; no rows were changed. Job ids must be unique per dag, task "
                "and window: give this load its own job_id_prefix."
            )
        log.info("BigQuery: re-attaching to existing job %s (%s) for %s", wanted_job_id, existing.state, what)
        return cast(JobT, existing), True

    def _wait(self, job: bigquery.LoadJob, doing: str, ref: TableRef, what: str) -> None:
        try:
            job.result(retry=self.api_retry)
        except google_exceptions.GoogleAPICallError as exc:
            raise self._job_error(job, exc, doing, ref, what) from exc

    # -- errors --------------------------------------------------------------------------------

    def _job_error(
        self, job: Any, exc: google_exceptions.GoogleAPICallError, doing: str, ref: TableRef, what: str
    ) -> WarehouseError:
        if "bytesBilledLimitExceeded" in _reasons(exc, job):
            return WarehouseError(
                f"{doing} for {what} would bill more than maximum_bytes_billed={self.maximum_bytes_billed} "
                f"bytes (job {job.job_id}): {_message(exc, job)}. No rows were changed. Raise maximum_bytes_billed "
                "on the warehouse or operator (None disables the guard), or load smaller windows."
            )
        error = self._api_error(exc, doing, ref, what, message=_message(exc, job))
        return WarehouseError(f"{error} (job {job.job_id})")

    def _api_error(
        self,
        exc: google_exceptions.GoogleAPICallError,
        doing: str,
        ref: TableRef,
        what: str,
        *,
        message: str | None = None,
    ) -> WarehouseError:
        reasons = _reasons(exc)
        message = message or _message(exc)
        unchanged = "No rows were changed" if ref.table != LOADS_TABLE else "The audit row was not written"
        if isinstance(exc, google_exceptions.Forbidden) and (
            "accessDenied" in reasons or not reasons or "permission" in message.lower()
        ):
            return WarehouseError(
                f"permission denied while {doing} for {what} ({ref.describe()}): {message}. {unchanged}. "
                f"The credentials need BigQuery Data Editor on dataset {ref.project}.{ref.dataset} and "
                f"BigQuery Job User on project {ref.project}; check the account behind "
                f"{'gcp_conn_id=' + repr(self.gcp_conn_id) if self.gcp_conn_id else 'Application Default Credentials'}."
            )
        if isinstance(exc, google_exceptions.NotFound):
            return WarehouseError(
                f"not found while {doing} for {what} ({ref.describe()}, location {self.location or 'inferred'}): "
                f"{message}. {unchanged}. Check that the project and dataset exist, that the "
                "location matches the dataset's, and that the credentials can see them."
            )
        return WarehouseError(
            f"{doing} failed for {what} ({ref.describe()}): {message}"
            f"{' [' + ', '.join(reasons) + ']' if reasons else ''}. {unchanged}; fix the cause and re-run the window."
        )

    def _missing_dataset(
        self, ref: TableRef, what: str, exc: google_exceptions.GoogleAPICallError
    ) -> WarehouseError:
        location = f" --location={self.location}" if self.location else ""
        return WarehouseError(
            f"BigQuery dataset {ref.project}.{ref.dataset} does not exist (or these credentials cannot see "
            f"it{' in location ' + self.location if self.location else ''}), so table {ref.table} cannot be "
            f"created for {what}: {_message(exc)}. Create the dataset first, e.g. "
            f"`bq mk --dataset{location} {ref.project}:{ref.dataset}`, or fix project/dataset/location."
        )


_STEP_DESCRIPTIONS = {
    "anchors_find": "reading cursor anchors",
    "anchors_save": "saving cursor anchors",
    "anchors_drop": "dropping refused cursor anchors",
    "schema": "adding or widening columns",
    "replace": "replacing the window (DELETE + INSERT transaction)",
    "audit": "recording the load",
}


def _scope_parameters(scope: LoadScope) -> list[bigquery.ScalarQueryParameter]:
    return [
        bigquery.ScalarQueryParameter("table_name", "STRING", scope.table),
        bigquery.ScalarQueryParameter("source", "STRING", scope.source),
        bigquery.ScalarQueryParameter("domain_id", "STRING", scope.domain_id),
        bigquery.ScalarQueryParameter("url_filter", "STRING", scope.url_filter),
    ]


def _reasons(exc: google_exceptions.GoogleAPICallError, job: Any = None) -> list[str]:
    reasons = [str(error.get("reason")) for error in (exc.errors or []) if isinstance(error, dict)]
    error_result = getattr(job, "error_result", None)
    if isinstance(error_result, dict) and error_result.get("reason"):
        reasons.append(str(error_result["reason"]))
    return [reason for reason in reasons if reason and reason != "None"]


def _message(exc: google_exceptions.GoogleAPICallError, job: Any = None) -> str:
    """The error's own words: the job's error result, else the message without the client's
    "Location: ... Job ID: ..." trailer and its repeated "; reason: ..." suffix."""
    error_result = getattr(job, "error_result", None)
    if isinstance(error_result, dict) and error_result.get("message"):
        return str(error_result["message"]).strip()
    text = str(exc.message).split("\n\n")[0]
    return _REASON_SUFFIX.sub("", text).strip()


def _is_concurrent_update(job: Any, exc: google_exceptions.GoogleAPICallError) -> bool:
    error_result = getattr(job, "error_result", None) or {}
    texts = [_message(exc), str(error_result.get("message", ""))]
    return any(_CONCURRENT_UPDATE.search(text) for text in texts)


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
