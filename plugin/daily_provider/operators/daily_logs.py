"""Operators that load one window of Daily logs into a warehouse.

``DailyLogsToWarehouseOperator`` wires the hook, the normalizer and a warehouse through
:func:`daily_provider.load.load_window`; subclasses only say which warehouse to build and how its
table is named for lineage. Nothing here runs at DAG-parse time beyond argument checks, and the
optional libraries (google-cloud-bigquery, the OpenLineage provider) are imported only when a task
needs them.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar
from urllib.parse import urlencode, urlsplit

from airflow.configuration import conf
from airflow.sdk import Asset, BaseOperator

from daily_provider.compat import AirflowFailException
from daily_provider.exceptions import DailyAPIError, DailyConfigError
from daily_provider.hooks.daily import DailyHook
from daily_provider.hooks.settings import DEFAULT_BASE_URL, base_url_from_connection, normalize_base_url
from daily_provider.load import (
    DEFAULT_CHUNK_ROWS,
    LoadSpec,
    LoadSummary,
    RangeSummary,
    default_table,
    load_range,
    load_window,
    redaction_policy,
)
from daily_provider.maps import DEFAULT_MAP_KEY_THRESHOLD
from daily_provider.normalize import NormalizeConfig
from daily_provider.operators.links import BigQueryTableLink
from daily_provider.scope import checked_source
from daily_provider.warehouses.base import Warehouse
from daily_provider.warehouses.duckdb import DuckDBWarehouse
from daily_provider.window import DEFAULT_SETTLE, Window, resolve_window, settle_wait, utc_now

if TYPE_CHECKING:
    from airflow.sdk import Context
    from google.cloud import bigquery

    from daily_provider.warehouses.bigquery import BigQueryWarehouse

log = logging.getLogger(__name__)

_T = TypeVar("_T")
DUCKDB_PATH_ENV = "DAILY_LOGS_DUCKDB_PATH"
# google-cloud-bigquery's own variable for emulators (it sends requests there when set). Emulators
# take no credentials, so with it set the BigQuery operator uses anonymous ones: local testing only.
BIGQUERY_EMULATOR_ENV = "BIGQUERY_EMULATOR_HOST"
DEFAULT_MAXIMUM_BYTES_BILLED = 10 * 1024**3
LOGS_PATH = "/logs/api"


def default_duckdb_path() -> str:
    """``$DAILY_LOGS_DUCKDB_PATH``, else ``daily_logs.duckdb`` in ``$AIRFLOW_HOME`` (default ``~/airflow``)."""
    configured = os.environ.get(DUCKDB_PATH_ENV)
    if configured:
        return configured
    home = os.environ.get("AIRFLOW_HOME") or os.path.join(os.path.expanduser("~"), "airflow")
    return os.path.join(home, "daily_logs.duckdb")


def sleep(seconds: float) -> None:
    """Wait ``seconds`` (a module function so tests never wait for real)."""
    time.sleep(seconds)


def _as_timedelta(name: str, value: timedelta | float | None) -> timedelta | None:
    if value is None or isinstance(value, timedelta):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DailyConfigError(f"{name}={value!r} must be a timedelta or a number of seconds")
    return timedelta(seconds=value)


# Daily's answers that no retry changes: a bad or missing key, a malformed request, no permission.
_FAIL_FAST_STATUSES = frozenset({400, 401, 403})


@contextmanager
def fail_without_retries() -> Iterator[None]:
    """Turn configuration and authentication errors into AirflowFailException: the task fails at once.

    A wrong key or a bad argument fails the same way on every try, so Airflow's retries (and their
    backoff) would only delay the error. Everything else (429s that outlasted the client's retries,
    5xx, network, a warehouse hiccup) stays retryable.
    """
    try:
        yield
    except DailyConfigError as exc:
        raise AirflowFailException(f"bad configuration, not retried: {exc}") from exc
    except DailyAPIError as exc:
        if exc.status not in _FAIL_FAST_STATUSES:
            raise
        raise AirflowFailException(f"Daily refused the request, not retried: {exc}") from exc


def _renamed(old_name: str, old_value: _T | None, new_name: str, new_value: _T | None) -> _T | None:
    """``new_value``, or the deprecated ``old_value`` with a warning; both given is an error."""
    if old_value is None:
        return new_value
    if new_value is not None:
        raise DailyConfigError(f"give {new_name}= only; {old_name}= is its deprecated alias")
    warnings.warn(
        f"{old_name}= is deprecated and goes in the next release; use {new_name}= (the Google provider's name)",
        DeprecationWarning,
        stacklevel=3,
    )
    return old_value


def _is_templated(value: object) -> bool:
    return isinstance(value, str) and "{{" in value


def _blank_to_none(value: str | None) -> str | None:
    # A Variable template with an empty default renders "": that means "not set".
    if value is None or not value.strip():
        return None
    return value.strip()


@dataclass(frozen=True)
class LineageDataset:
    """An OpenLineage dataset: ``namespace`` (where) and ``name`` (what, inside it)."""

    namespace: str
    name: str


@dataclass(frozen=True)
class LoadTarget:
    """The table a load wrote: its URI (the form the operators' Assets use) and its lineage dataset."""

    uri: str
    dataset: LineageDataset


@dataclass(frozen=True)
class _Lineage:
    """What a finished load wrote, kept for ``get_openlineage_facets_on_complete``."""

    target: LoadTarget
    rows: int


def daily_logs_dataset(base_url: str, source: str, url_filter: str | None = None) -> LineageDataset:
    """The Daily logs endpoint as an OpenLineage dataset.

    ``daily_logs_dataset("https://api.daily.co/v1", "api")`` is namespace ``https://api.daily.co``,
    name ``/v1/logs/api?source=api``.
    """
    parts = urlsplit(base_url)
    query = {"source": source, **({"url": url_filter} if url_filter else {})}
    return LineageDataset(f"{parts.scheme}://{parts.netloc}", f"{parts.path}{LOGS_PATH}?{urlencode(query)}")


class DailyLogsToWarehouseOperator(BaseOperator):
    """Load Daily logs of one source for one window into a warehouse table, replacing the window.

    The window is the run's data interval unless ``start`` and ``end`` are given. Re-running a
    window is a no-op in content; a failed run leaves the table as it was.

    :param source: ``"api"`` (REST API calls) or ``"webhook"`` (webhook deliveries). (templated)
    :param table: Target table; default ``daily_<source>_logs``. (templated)
    :param start: Window start (ISO-8601 with time zone); overrides the data interval. (templated)
    :param end: Window end, exclusive. (templated)
    :param daily_conn_id: Airflow connection of type ``daily`` (API key and base URL).
    :param url_filter: Only records whose ``url`` equals this (Daily's ``url`` query parameter). (templated)
    :param chunk_rows: Records normalized and staged at a time; bounds the task's memory.
    :param redaction: Overrides of the redaction rules, key name or dotted path -> ``drop``/``hash``/``keep``.
    :param max_depth: Nesting depth flattened into columns; deeper objects stay JSON.
    :param max_columns: Flattened columns per table at most: once the table has that many, new keys
        stay only in the ``request``/``response`` JSON columns (one warning per load says how many).
    :param map_paths: Paths whose objects are data keyed by names or ids (room names, user ids),
        kept as one JSON column instead of a column per key: a list of paths such as
        ``["response.data.byRoom", "GET /v1/presence response"]`` declares them; a mapping
        ``{path: False}`` undeclares one of Daily's known maps or a path the key-count rule would catch.
    :param map_key_threshold: A path nobody declared is a map once its objects show more distinct
        keys than this (default 50); ``None`` turns the rule off. A path's decision is kept by the
        table: a path stored as one JSON column stays so in every later window.
    :param staging_dir: Directory for the window's staging files (default: the system temp dir).
    :param requests_per_second: Client-side rate limit; overrides the connection's.
    :param max_retries: Retries of one request for 429/5xx/timeouts/dropped connections; overrides
        the connection's ``max_retries`` extra (the same name). Airflow's own ``retries`` retry the task.
    :param timeout: Read timeout of one request in seconds; overrides the connection's ``timeout``.
    :param api_max_retries: Deprecated alias of ``max_retries`` (kept for one release).
    :param use_anchors: Start the walk from a stored cursor anchor at or after the window's end
        (``daily_logs_anchors``) instead of from the newest record.
    :param range_mode: Load the window as consecutive ``range_step`` pieces in one walk, each
        replaced atomically as the walk passes it: for a backfill DAG whose one run covers many days.
    :param range_step: Width of each piece in range mode (default one day).
    :param settle: How long after the window's end to wait before loading it (a timedelta or
        seconds): Daily writes some logs after their ``createdAt``. Default: the connection's
        ``settle_seconds`` extra, else 10 minutes; ``0`` loads at once.
    :param deferrable: Wait for the window to settle by deferring to the triggerer (no worker slot
        is held) instead of sleeping in the task. Default: ``[operators] default_deferrable``.

    A window Daily no longer fully has (retention) is replaced only from its oldest record on, or
    not at all: the summary's ``status`` is then ``partial`` or ``not_covered`` and the task succeeds.

    When the OpenLineage provider is installed, the task reports the Daily endpoint as its input
    and the table as its output (with the row count).
    """

    template_fields: Sequence[str] = ("source", "table", "start", "end", "url_filter")
    ui_color = "#1bebb9"
    warehouse_label: ClassVar[str] = "warehouse"

    def __init__(
        self,
        *,
        source: str = "api",
        table: str | None = None,
        start: str | None = None,
        end: str | None = None,
        daily_conn_id: str = "daily_default",
        url_filter: str | None = None,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
        redaction: Mapping[str, str] | None = None,
        max_depth: int = 5,
        max_columns: int = 1000,
        map_paths: Mapping[str, bool] | Sequence[str] | None = None,
        map_key_threshold: int | None = DEFAULT_MAP_KEY_THRESHOLD,
        staging_dir: str | None = None,
        requests_per_second: float | None = None,
        max_retries: int | None = None,
        timeout: float | None = None,
        api_max_retries: int | None = None,
        use_anchors: bool = True,
        range_mode: bool = False,
        range_step: timedelta = timedelta(days=1),
        settle: timedelta | float | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not _is_templated(source):
            checked_source(source)
        if chunk_rows < 1:
            raise DailyConfigError(f"chunk_rows={chunk_rows} must be at least 1")
        self.settle = _as_timedelta("settle", settle)
        if self.settle is not None and self.settle < timedelta(0):
            raise DailyConfigError(f"settle={settle!r} must not be negative; give 0 to load at once")
        self.deferrable = deferrable
        self.source = source
        self.table = table
        self.start = start
        self.end = end
        self.daily_conn_id = daily_conn_id
        self.url_filter = url_filter
        self.chunk_rows = chunk_rows
        self.redaction = dict(redaction or {})
        self.max_depth = max_depth
        self.max_columns = max_columns
        self.map_paths = map_paths
        self.map_key_threshold = map_key_threshold
        # Checked now: a mistyped path fails at DAG parse time, not in the task.
        NormalizeConfig(map_paths=map_paths, map_key_threshold=map_key_threshold)
        self.staging_dir = staging_dir
        self.requests_per_second = requests_per_second
        self.max_retries = _renamed("api_max_retries", api_max_retries, "max_retries", max_retries)
        self.timeout = timeout
        self.use_anchors = use_anchors
        self.range_mode = range_mode
        self.range_step = range_step
        self._lineage: _Lineage | None = None

    # Subclasses say which warehouse to load and how its tables are named for lineage.
    def make_warehouse(self, context: Context, window: Window) -> Warehouse:
        raise NotImplementedError("DailyLogsToWarehouseOperator needs a subclass that builds the warehouse")

    def load_target(self, warehouse: Warehouse, table: str) -> LoadTarget:
        """Name the loaded table (called after a successful load, while ``warehouse`` is still open)."""
        raise NotImplementedError("DailyLogsToWarehouseOperator needs a subclass that names its table")

    def make_hook(self) -> DailyHook:
        return DailyHook(
            self.daily_conn_id,
            requests_per_second=self.requests_per_second,
            max_retries=self.max_retries,
            timeout=self.timeout,
        )

    def normalize_config(self, hook: DailyHook) -> NormalizeConfig:
        policy = redaction_policy(self.redaction, connection_secret=hook.redaction_secret())  # type: ignore[arg-type]
        return NormalizeConfig(
            redaction=policy,
            max_depth=self.max_depth,
            max_columns=self.max_columns,
            map_paths=self.map_paths,
            map_key_threshold=self.map_key_threshold,
        )

    def execute(self, context: Context) -> dict[str, Any]:
        """Wait until the window has settled (deferring or sleeping), then load it."""
        with fail_without_retries():
            return self._settle_then_load(context)

    def execute_complete(self, context: Context, event: Any = None) -> dict[str, Any]:
        """Resume after the deferral: the window has settled, load it."""
        with fail_without_retries():
            return self._load(context, self._window(context), self.make_hook())

    def _settle_then_load(self, context: Context) -> dict[str, Any]:
        window = self._window(context)
        hook = self.make_hook()
        settle = self.settle
        if settle is None:
            configured = hook.settle_seconds()
            settle = DEFAULT_SETTLE if configured is None else timedelta(seconds=configured)
        wait = settle_wait(window, settle, utc_now())
        if wait > timedelta(0):
            ready = window.end + settle
            if self.deferrable:
                from airflow.providers.standard.triggers.temporal import DateTimeTrigger

                log.info("window %s is loaded once it has settled at %s; deferring until then", window, ready)
                self.defer(trigger=DateTimeTrigger(moment=ready), method_name="execute_complete")
            log.info(
                "window %s is loaded once it has settled at %s (its end + settle %s); sleeping %.0f s. "
                "Set deferrable=True to free the worker slot meanwhile, or settle=0 to load at once.",
                window,
                ready.isoformat(),
                settle,
                wait.total_seconds(),
            )
            sleep(wait.total_seconds())
        return self._load(context, window, hook)

    def _window(self, context: Context) -> Window:
        checked_source(self.source)
        return resolve_window(
            self.start, self.end, context.get("data_interval_start"), context.get("data_interval_end")
        )

    def _load(self, context: Context, window: Window, hook: DailyHook) -> dict[str, Any]:
        self._lineage = None
        table = self.table or default_table(self.source)
        warehouse = self.make_warehouse(context, window)
        run_id = str(context.get("run_id") or "manual")
        spec = LoadSpec(
            source=self.source,
            table=table,
            run_id=run_id,
            config=self.normalize_config(hook),
            chunk_rows=self.chunk_rows,
            staging_dir=self.staging_dir,
            url_filter=self.url_filter or "",
            use_anchors=self.use_anchors,
        )
        try:
            summary: LoadSummary | RangeSummary
            if self.range_mode:
                summary = load_range(
                    hook=hook, warehouse=warehouse, window=window, spec=spec, step=self.range_step
                )
            else:
                summary = load_window(hook=hook, warehouse=warehouse, window=window, spec=spec)
            target = self.load_target(warehouse, table)
        finally:
            warehouse.close()
        self._lineage = _Lineage(target=target, rows=summary.rows)
        result = summary.as_dict()
        extra: dict[str, Any] = {
            "source": summary.source,
            "table": summary.table,
            "target": target.uri,
            "window_start": window.start.isoformat(),
            "window_end": window.end.isoformat(),
            "rows": summary.rows,
        }
        outlet_events = context.get("outlet_events")
        if outlet_events is not None:
            for outlet in self.outlets:
                if isinstance(outlet, Asset):
                    outlet_events[outlet].extra = extra
        return result

    def daily_base_url(self) -> str:
        """The base URL of the Daily connection (its host only; the key is not read)."""
        connection = DailyHook.get_connection(self.daily_conn_id)
        host = base_url_from_connection(connection.host, connection.port)
        return normalize_base_url(host or DEFAULT_BASE_URL, allow_insecure_http=True)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Report the Daily endpoint read and the table written (OpenLineage provider only).

        Returns ``None`` when the provider is not installed or no load finished; the import happens
        here so that tasks pay nothing for OpenLineage when it is absent.
        """
        try:
            from airflow.providers.common.compat.openlineage.facet import (
                Dataset,
                OutputDataset,
                OutputStatisticsOutputDatasetFacet,
            )
            from airflow.providers.openlineage.extractors import OperatorLineage
        except ImportError:
            return None
        if self._lineage is None:
            return None
        lineage = self._lineage
        source = daily_logs_dataset(self.daily_base_url(), self.source, self.url_filter)
        return OperatorLineage(
            inputs=[Dataset(namespace=source.namespace, name=source.name)],
            outputs=[
                OutputDataset(
                    namespace=lineage.target.dataset.namespace,
                    name=lineage.target.dataset.name,
                    outputFacets={
                        "outputStatistics": OutputStatisticsOutputDatasetFacet(rowCount=lineage.rows)
                    },
                )
            ],
        )


class DailyLogsToDuckDBOperator(DailyLogsToWarehouseOperator):
    """Load one window of Daily logs into a DuckDB file.

    :param duckdb_path: DuckDB database file; default ``$DAILY_LOGS_DUCKDB_PATH``, else
        ``$AIRFLOW_HOME/daily_logs.duckdb``, read when the task runs. (templated)
    :param memory_limit: DuckDB ``memory_limit`` for the load connection (e.g. ``"1GB"``).
    :param threads: DuckDB ``threads`` for the load connection.
    :param lock_timeout: Seconds to wait for another load holding the same DuckDB file.

    An Asset ``duckdb://<absolute path>/<table>`` is added to ``outlets`` when the path and table
    are given and not templated; its event's extra carries the window and the row count. Lineage
    names the table ``<table>`` in namespace ``duckdb://<absolute path>``.
    """

    template_fields: Sequence[str] = (*DailyLogsToWarehouseOperator.template_fields, "duckdb_path")
    warehouse_label = "duckdb"

    def __init__(
        self,
        *,
        duckdb_path: str | None = None,
        memory_limit: str | None = "1GB",
        threads: int | None = 2,
        lock_timeout: float = 600.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.duckdb_path = duckdb_path
        self.memory_limit = memory_limit
        self.threads = threads
        self.lock_timeout = lock_timeout
        table = self.table or (None if _is_templated(self.source) else default_table(self.source))
        if not self.outlets and table and duckdb_path and not _is_templated(table + duckdb_path):
            path = Path(duckdb_path).expanduser().absolute()
            self.outlets = [
                Asset(name=f"duckdb.{path.stem}.{table}", uri=f"duckdb://{path.as_posix()}/{table}")
            ]

    def make_warehouse(self, context: Context, window: Window) -> Warehouse:
        return DuckDBWarehouse(
            self.duckdb_path or default_duckdb_path(),
            memory_limit=self.memory_limit,
            threads=self.threads,
            lock_timeout=self.lock_timeout,
        )

    def load_target(self, warehouse: Warehouse, table: str) -> LoadTarget:
        path = Path(self.duckdb_path or default_duckdb_path()).expanduser().absolute().as_posix()
        return LoadTarget(f"duckdb://{path}/{table}", LineageDataset(f"duckdb://{path}", table))


class DailyLogsToBigQueryOperator(DailyLogsToWarehouseOperator):
    """Load one window of Daily logs into a BigQuery table (needs the ``bigquery`` extra).

    :param dataset_id: Dataset of the logs tables and ``daily_logs_loads``; it must exist. (templated)
    :param project_id: Project of the dataset and the jobs; empty or ``None``: the credentials' (or the
        Google Cloud connection's) default project. (templated)
    :param location: Location of the dataset and jobs (e.g. ``"EU"``); empty or ``None``: inferred.
        (templated)
    :param gcp_conn_id: Airflow Google Cloud connection (needs the ``google`` extra); empty or
        ``None``: Application Default Credentials. (templated)
    :param impersonation_chain: Service account(s) to impersonate through ``gcp_conn_id``, as the
        Google provider's operators take it (needs ``gcp_conn_id``). (templated)
    :param dataset: Deprecated alias of ``dataset_id`` (kept for one release).
    :param project: Deprecated alias of ``project_id`` (kept for one release).
    :param maximum_bytes_billed: Fail any query that would bill more bytes; ``None`` disables the guard.
    :param require_partition_filter: Tables this operator creates refuse queries without a
        ``created_at`` filter.

    Jobs get ids derived from dag, task, window and try (a retried call re-attaches to its job) and
    labels naming dag, task and run. An Asset ``bigquery://<project>/<dataset>/<table>`` is added to
    ``outlets`` when project, dataset and table are given and not templated. With
    ``$BIGQUERY_EMULATOR_HOST`` set (e.g. ``http://127.0.0.1:9050``), the client talks to that
    emulator without credentials: for local testing only.

    The task's "BigQuery Table" button in the Airflow UI opens the table in the Google Cloud console
    (once project, dataset and table are known: after the load, or from the rendered arguments).
    """

    template_fields: Sequence[str] = (
        *DailyLogsToWarehouseOperator.template_fields,
        "project_id",
        "dataset_id",
        "location",
        "gcp_conn_id",
        "impersonation_chain",
    )
    warehouse_label = "bigquery"
    operator_extra_links = (BigQueryTableLink(),)

    def __init__(
        self,
        *,
        dataset_id: str | None = None,
        project_id: str | None = None,
        location: str | None = None,
        gcp_conn_id: str | None = None,
        impersonation_chain: str | Sequence[str] | None = None,
        maximum_bytes_billed: int | None = DEFAULT_MAXIMUM_BYTES_BILLED,
        require_partition_filter: bool = False,
        dataset: str | None = None,
        project: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if maximum_bytes_billed is not None and maximum_bytes_billed < 1:
            raise DailyConfigError(
                f"maximum_bytes_billed={maximum_bytes_billed} must be positive, or None to disable the guard"
            )
        dataset_id = _renamed("dataset", dataset, "dataset_id", dataset_id)
        project_id = _renamed("project", project, "project_id", project_id)
        if dataset_id is None:
            raise DailyConfigError("dataset_id is required: the BigQuery dataset of the logs tables")
        self.dataset_id = dataset_id
        self.project_id = project_id
        self.location = location
        self.gcp_conn_id = gcp_conn_id
        self.impersonation_chain = impersonation_chain
        self.maximum_bytes_billed = maximum_bytes_billed
        self.require_partition_filter = require_partition_filter
        self._loaded_table: tuple[str, str, str] | None = None
        table = self.table or (None if _is_templated(self.source) else default_table(self.source))
        names = (project_id, dataset_id, table)
        if not self.outlets and all(names) and not any(_is_templated(name) for name in names):
            self.outlets = [
                Asset(
                    name=f"bigquery.{project_id}.{dataset_id}.{table}",
                    uri=f"bigquery://{project_id}/{dataset_id}/{table}",
                )
            ]

    @property
    def dataset(self) -> str:
        """Deprecated alias of :attr:`dataset_id`."""
        return self.dataset_id

    @property
    def project(self) -> str | None:
        """Deprecated alias of :attr:`project_id`."""
        return self.project_id

    def make_warehouse(self, context: Context, window: Window) -> Warehouse:
        # Imported here: google-cloud-bigquery is an optional extra, and importing it costs time.
        from daily_provider.warehouses.bigquery import BigQueryWarehouse, job_id_prefix, job_labels

        ti = context["ti"]
        project = _blank_to_none(self.project_id)
        location = _blank_to_none(self.location)
        client = self._emulator_client(project, location)
        warehouse = BigQueryWarehouse(
            project=project,
            dataset=self.dataset_id,
            location=location,
            gcp_conn_id=_blank_to_none(self.gcp_conn_id),
            impersonation_chain=self.impersonation_chain or None,
            client=client,
            maximum_bytes_billed=self.maximum_bytes_billed,
            require_partition_filter=self.require_partition_filter,
            job_id_prefix=job_id_prefix(dag_id=ti.dag_id, task_id=ti.task_id, window=window),
            labels=job_labels(dag_id=ti.dag_id, task_id=ti.task_id, run_id=str(context["run_id"])),
            try_number=ti.try_number,
        )
        if client is not None:
            # The warehouse leaves a client it was given open; this one lives as long as the warehouse.
            weakref.finalize(warehouse, client.close)
        return warehouse

    def load_target(self, warehouse: Warehouse, table: str) -> LoadTarget:
        bigquery_warehouse: BigQueryWarehouse = warehouse  # type: ignore[assignment]
        project = bigquery_warehouse.project or bigquery_warehouse.get_client().project
        dataset = bigquery_warehouse.dataset
        self._loaded_table = (project, dataset, table)
        return LoadTarget(
            f"bigquery://{project}/{dataset}/{table}",
            LineageDataset("bigquery", f"{project}.{dataset}.{table}"),
        )

    def bigquery_table(self) -> tuple[str, str, str] | None:
        """``(project, dataset, table)`` this task loads: the loaded table's once a load finished, else
        the rendered arguments when all three are set (no project means the credentials' default,
        known only after the load); ``None`` otherwise. Never raises: the extra link calls it."""
        if self._loaded_table is not None:
            return self._loaded_table
        project, dataset = _blank_to_none(self.project_id), _blank_to_none(self.dataset_id)
        table = _blank_to_none(self.table) or default_table(self.source)
        if project is None or dataset is None or any(map(_is_templated, (project, dataset, table))):
            return None
        return project, dataset, table

    def _emulator_client(self, project: str | None, location: str | None) -> bigquery.Client | None:
        endpoint = os.environ.get(BIGQUERY_EMULATOR_ENV)
        if not endpoint:
            return None
        if project is None:
            raise DailyConfigError(
                f"${BIGQUERY_EMULATOR_ENV}={endpoint} points BigQuery at an emulator, which has no default "
                "project: set project_id= on the operator (or unset the variable to use real BigQuery)"
            )
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import bigquery

        log.warning(
            "$%s is set: BigQuery requests go to the emulator at %s without credentials (local testing only)",
            BIGQUERY_EMULATOR_ENV,
            endpoint,
        )
        return bigquery.Client(
            project=project,
            location=location,
            credentials=AnonymousCredentials(),
            client_options=ClientOptions(api_endpoint=endpoint),
        )
