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
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.configuration import conf
from airflow.sdk import Asset, BaseOperator

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
from daily_provider.operators import events
from daily_provider.operators.arguments import checked_arguments, fail_without_retries, is_templated, renamed
from daily_provider.operators.lineage import (
    Lineage,
    LineageDataset,
    LoadTarget,
    daily_logs_dataset,
    operator_lineage,
)
from daily_provider.operators.run_window import (
    DEFAULT_PARTITION_KEY_FORMAT,
    DEFAULT_PARTITION_WIDTH,
    RunWindow,
    window_for_run,
)
from daily_provider.scope import checked_source
from daily_provider.warehouses.base import Warehouse
from daily_provider.warehouses.duckdb import DuckDBWarehouse
from daily_provider.window import DEFAULT_SETTLE, Window, settle_wait, utc_now

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = [
    "DailyLogsToDuckDBOperator",
    "DailyLogsToWarehouseOperator",
    "LineageDataset",
    "LoadTarget",
    "daily_logs_dataset",
    "default_duckdb_path",
]

log = logging.getLogger(__name__)

DUCKDB_PATH_ENV = "DAILY_LOGS_DUCKDB_PATH"


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


def __getattr__(name: str) -> Any:
    # The BigQuery operator lives in its own module; importing it from here still works, lazily
    # (an eager import would be circular: it subclasses the operator below).
    if name in ("DailyLogsToBigQueryOperator", "BIGQUERY_EMULATOR_ENV", "DEFAULT_MAXIMUM_BYTES_BILLED"):
        from daily_provider.operators import bigquery

        return getattr(bigquery, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class DailyLogsToWarehouseOperator(BaseOperator):
    """Load Daily logs of one source for one window into a warehouse table, replacing the window.

    The window is ``start``/``end`` when given, else the run's partition (Airflow 3.2+:
    ``[partition_date, partition_date + partition_width)``), else the run's data interval; the
    summary's and the ledger's ``window_source`` say which. Re-running a window is a no-op in
    content; a failed run leaves the table as it was.

    :param source: ``"api"`` (REST API calls) or ``"webhook"`` (webhook deliveries). (templated)
    :param table: Target table; default ``daily_<source>_logs``. (templated)
    :param start: Window start (ISO-8601 with time zone); overrides the partition and the data
        interval. (templated)
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
    :param default_map_paths: Declare Daily's known maps (presence by room name, SIP headers,
        permissions); False leaves them to the key-count rule.
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
    :param partition_width: Width of the window of a partitioned run, from its ``partition_date``
        (default one day: a daily ``CronPartitionTimetable``).
    :param partition_key_format: How partition keys read and write days: the run's key is parsed
        with it when the run has no ``partition_date``, and each UTC day the task replaced is added
        to its Asset events as a key in it. Default ``%Y-%m-%dT%H:%M:%S``, CronPartitionTimetable's
        default ``key_format``; give the DAG's if it sets another.
    :param deferrable: Wait for the window to settle by deferring to the triggerer (no worker slot
        is held) instead of sleeping in the task. Default: ``[operators] default_deferrable``.

    Each Asset in ``outlets`` gets an event whose extra carries the table, the window, its source and
    the rows; on Airflow 3.2+ the event is tagged with one partition key per UTC day replaced, for
    consumers on ``PartitionedAssetTimetable`` (see ``daily_provider.operators.events``).

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
        default_map_paths: bool = True,
        staging_dir: str | None = None,
        requests_per_second: float | None = None,
        max_retries: int | None = None,
        timeout: float | None = None,
        api_max_retries: int | None = None,
        use_anchors: bool = True,
        range_mode: bool = False,
        range_step: timedelta = timedelta(days=1),
        settle: timedelta | float | None = None,
        partition_width: timedelta = DEFAULT_PARTITION_WIDTH,
        partition_key_format: str = DEFAULT_PARTITION_KEY_FORMAT,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.settle = checked_arguments(
            source=source, chunk_rows=chunk_rows, partition_width=partition_width, settle=settle
        )
        # Checked now: a mistyped map path fails at DAG parse time, not in the task.
        NormalizeConfig(
            map_paths=map_paths, map_key_threshold=map_key_threshold, default_map_paths=default_map_paths
        )
        self.partition_width, self.partition_key_format = partition_width, partition_key_format
        self.deferrable = deferrable
        self.source = source
        self.table = table
        self.start, self.end = start, end
        self.daily_conn_id = daily_conn_id
        self.url_filter = url_filter
        self.chunk_rows = chunk_rows
        self.redaction = dict(redaction or {})
        self.max_depth = max_depth
        self.max_columns = max_columns
        self.map_paths = map_paths
        self.map_key_threshold = map_key_threshold
        self.default_map_paths = default_map_paths
        self.staging_dir = staging_dir
        self.requests_per_second = requests_per_second
        self.max_retries = renamed("api_max_retries", api_max_retries, "max_retries", max_retries)
        self.timeout = timeout
        self.use_anchors = use_anchors
        self.range_mode = range_mode
        self.range_step = range_step
        self._lineage: Lineage | None = None

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
            default_map_paths=self.default_map_paths,
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
        run_window = self._window(context)
        window = run_window.window
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
        return self._load(context, run_window, hook)

    def _window(self, context: Context) -> RunWindow:
        checked_source(self.source)
        return window_for_run(
            context,
            start=self.start,
            end=self.end,
            partition_width=self.partition_width,
            partition_key_format=self.partition_key_format,
        )

    def _load(self, context: Context, run_window: RunWindow, hook: DailyHook) -> dict[str, Any]:
        self._lineage = None
        window = run_window.window
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
            window_source=run_window.source,
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
        self._lineage = Lineage(target=target, rows=summary.rows)
        return self._announce(context, summary.as_dict(), target, run_window)

    def _announce(
        self, context: Context, result: dict[str, Any], target: LoadTarget, run_window: RunWindow
    ) -> dict[str, Any]:
        """Add the window's source to the summary and emit the outlets' Asset events."""
        result["window_source"] = run_window.source
        windows = result.get("windows", [result])  # range mode: one per piece
        partitions = events.replaced_partitions(windows, self.partition_key_format)
        result["partitions"] = list(partitions)
        extra = events.event_extra(result, target=target.uri, run_window=run_window, partitions=partitions)
        outlet_events = context.get("outlet_events")
        if outlet_events is not None:
            assets = [outlet for outlet in self.outlets if isinstance(outlet, Asset)]
            events.emit(outlet_events, assets, extra, list(partitions))
        return result

    def daily_base_url(self) -> str:
        """The base URL of the Daily connection (its host only; the key is not read)."""
        connection = DailyHook.get_connection(self.daily_conn_id)
        host = base_url_from_connection(connection.host, connection.port)
        return normalize_base_url(host or DEFAULT_BASE_URL, allow_insecure_http=True)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Report the Daily endpoint read and the table written (OpenLineage provider only).

        Returns ``None`` when the provider is not installed or no load finished.
        """
        if self._lineage is None:
            return None
        source = daily_logs_dataset(self.daily_base_url(), self.source, self.url_filter)
        return operator_lineage(source, self._lineage)


class DailyLogsToDuckDBOperator(DailyLogsToWarehouseOperator):
    """Load one window of Daily logs into a DuckDB file.

    :param duckdb_path: DuckDB database file; default ``$DAILY_LOGS_DUCKDB_PATH``, else
        ``$AIRFLOW_HOME/daily_logs.duckdb``, read when the task runs. (templated)
    :param memory_limit: DuckDB ``memory_limit`` for the load connection (e.g. ``"1GB"``).
    :param threads: DuckDB ``threads`` for the load connection.
    :param lock_timeout: Seconds to wait for another load holding the same DuckDB file.

    Unless ``outlets`` are given, the Asset ``duckdb://<absolute path>/<table>`` is the task's outlet
    (without ``duckdb_path``, the default path as the DAG is parsed); a templated path or table
    gives no default outlet, since an Asset must be known at parse time: pass ``outlets=`` then.
    Lineage names the table ``<table>`` in namespace ``duckdb://<absolute path>``.
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
        table = self.table or (None if is_templated(self.source) else default_table(self.source))
        outlet_path = duckdb_path or default_duckdb_path()
        if not self.outlets and table and not is_templated(table + outlet_path):
            path = Path(outlet_path).expanduser().absolute()
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
