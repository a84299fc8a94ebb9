"""One BigQuery dataset and the client that runs jobs in it: what the BigQuery stores share.

:class:`BigQueryDataset` holds the client (built lazily: the injected one, the Google provider's
for a ``gcp_conn_id``, or Application Default Credentials) and the settings every job takes, and
runs jobs the way this provider needs them: deterministic ids that a repeated call re-attaches to,
labels, a ``maximum_bytes_billed`` guard, retries of concurrent-update aborts, and errors that say
what to do. The warehouse (``bigquery.py``) and the anchor store (``bigquery_anchors.py``) build on
it.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from functools import partial
from typing import Any, TypeVar, cast

from google.api_core import exceptions as google_exceptions
from google.api_core.retry import Retry
from google.cloud import bigquery

from daily_provider.exceptions import DailyConfigError, WarehouseError
from daily_provider.warehouses.base import LOADS_TABLE
from daily_provider.warehouses.bigquery_names import (
    TableRef,
    sanitize_job_id,
    sanitize_labels,
    validate_identifier,
    validate_project,
)

log = logging.getLogger(__name__)

DIALECT = "bigquery"
GOOGLE_EXTRA_HINT = "pip install 'airflow-provider-daily[google]'"
# Concurrent DML on one table: BigQuery aborts one of two transactions (or DML statements) that
# touch the same table at once. Parallel backfill tasks hit this; a later attempt succeeds. The
# local-bigquery emulator reports the same conflict as a failed DuckLake commit.
_CONCURRENT_UPDATE = re.compile(
    r"concurrent update|could not serialize access|failed to commit ducklake transaction", re.IGNORECASE
)
_REASON_SUFFIX = re.compile(r";\s*reason: .*$", re.DOTALL)

JobT = TypeVar("JobT", bigquery.QueryJob, bigquery.LoadJob)


class BigQueryDataset:
    """One BigQuery dataset and the client that runs this provider's jobs in it.

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

    def ref(self, table: str) -> TableRef:
        """``table`` of this dataset, in the project of the jobs (the client's when none was given)."""
        project = self.project or self.get_client().project
        return TableRef.of(project, self.dataset, table)

    def ensure_bookkeeping_table(self, ref: TableRef, wanted: bigquery.Table, what: str) -> None:
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
            raise self.api_error(exc, "adding columns to the table", ref, what) from exc
        log.info("BigQuery: added columns %s to %s", ", ".join(f.name for f in missing), ref.table_id)

    def _ensure_table(self, ref: TableRef, wanted: bigquery.Table, what: str) -> bigquery.Table:
        client = self.get_client()
        try:
            return client.get_table(ref.table_id, retry=self.api_retry)
        except google_exceptions.NotFound:
            pass
        except google_exceptions.GoogleAPICallError as exc:
            raise self.api_error(exc, "looking up the table", ref, what) from exc
        try:
            # exists_ok: another task may create it between our lookup and this call.
            created = client.create_table(wanted, exists_ok=True, retry=self.api_retry)
        except google_exceptions.NotFound as exc:
            raise self._missing_dataset(ref, what, exc) from exc
        except google_exceptions.GoogleAPICallError as exc:
            raise self.api_error(exc, "creating the table", ref, what) from exc
        log.info("BigQuery: created table %s", ref.table_id)
        return created

    def existing_table(self, table: str) -> bigquery.Table | None:
        """The table's metadata, or None when it does not exist."""
        ref = self.ref(table)
        try:
            return self.get_client().get_table(ref.table_id, retry=self.api_retry)
        except google_exceptions.NotFound:
            return None
        except google_exceptions.GoogleAPICallError as exc:
            raise self.api_error(exc, "reading the table's schema", ref, f"table {ref.table_id}") from exc

    # -- jobs ----------------------------------------------------------------------------------

    def _labels(self, step: str) -> dict[str, str]:
        return {**self.labels, "daily_logs_step": step}

    def run_query(
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
            job, reattached = self._start(
                partial(self._submit_query, sql, config, this_job_id),
                this_job_id,
                lambda existing: isinstance(existing, bigquery.QueryJob) and existing.query == sql,
                ref,
                doing,
                what,
            )
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

    def _submit_query(
        self, sql: str, config: bigquery.QueryJobConfig, query_job_id: str
    ) -> bigquery.QueryJob:
        return self.get_client().query(
            sql,
            job_config=config,
            job_id=query_job_id,
            location=self.location,
            retry=self.api_retry,
            job_retry=None,
        )

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
            raise self.api_error(exc, doing, ref, what) from exc
        try:
            existing = client.get_job(wanted_job_id, location=self.location, retry=self.api_retry)
        except google_exceptions.GoogleAPICallError as exc:
            raise self.api_error(
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
        error = self.api_error(exc, doing, ref, what, message=_message(exc, job))
        return WarehouseError(f"{error} (job {job.job_id})")

    def api_error(
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
