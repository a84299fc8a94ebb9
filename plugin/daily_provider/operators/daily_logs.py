"""Operators that load one window of Daily logs into a warehouse.

``DailyLogsToWarehouseOperator`` wires the hook, the normalizer and a warehouse through
:func:`daily_provider.load.load_window`; subclasses only say which warehouse to build.
Nothing here runs at DAG-parse time beyond argument checks.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import Asset, BaseOperator

from daily_provider.exceptions import DailyConfigError
from daily_provider.hooks.daily import DailyHook
from daily_provider.load import (
    DEFAULT_CHUNK_ROWS,
    REDACTION_SECRET_ENV,
    SOURCES,
    default_table,
    load_window,
)
from daily_provider.normalize import DEFAULT_REDACTION, NormalizeConfig
from daily_provider.warehouses.base import Warehouse
from daily_provider.warehouses.duckdb import DuckDBWarehouse
from daily_provider.window import resolve_window

if TYPE_CHECKING:
    from airflow.sdk import Context

DUCKDB_PATH_ENV = "DAILY_LOGS_DUCKDB_PATH"


def default_duckdb_path() -> str:
    """``$DAILY_LOGS_DUCKDB_PATH``, else ``daily_logs.duckdb`` in ``$AIRFLOW_HOME`` (default ``~/airflow``)."""
    configured = os.environ.get(DUCKDB_PATH_ENV)
    if configured:
        return configured
    home = os.environ.get("AIRFLOW_HOME") or os.path.join(os.path.expanduser("~"), "airflow")
    return os.path.join(home, "daily_logs.duckdb")


def _is_templated(value: object) -> bool:
    return isinstance(value, str) and "{{" in value


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
    :param max_columns: Flattened columns per window at most; the rest stays in the JSON columns.
    :param staging_dir: Directory for the window's staging files (default: the system temp dir).
    :param requests_per_second: Client-side rate limit; overrides the connection's.
    :param api_max_retries: Retries for 429/5xx/timeouts; overrides the connection's.
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
        staging_dir: str | None = None,
        requests_per_second: float | None = None,
        api_max_retries: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not _is_templated(source) and source not in SOURCES:
            raise DailyConfigError(f"source={source!r} is not one of {', '.join(SOURCES)}")
        if chunk_rows < 1:
            raise DailyConfigError(f"chunk_rows={chunk_rows} must be at least 1")
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
        self.staging_dir = staging_dir
        self.requests_per_second = requests_per_second
        self.api_max_retries = api_max_retries

    # Subclasses say which warehouse to load.
    def make_warehouse(self, context: Context) -> Warehouse:
        raise NotImplementedError("DailyLogsToWarehouseOperator needs a subclass that builds the warehouse")

    def make_hook(self) -> DailyHook:
        return DailyHook(
            self.daily_conn_id,
            requests_per_second=self.requests_per_second,
            max_retries=self.api_max_retries,
        )

    def normalize_config(self, hook: DailyHook) -> NormalizeConfig:
        secret = os.environ.get(REDACTION_SECRET_ENV) or hook.redaction_secret()
        policy = DEFAULT_REDACTION.with_overrides(self.redaction)  # type: ignore[arg-type]
        if secret:
            policy = type(policy)(rules=policy.rules, secret=secret.encode("utf-8"))
        return NormalizeConfig(redaction=policy, max_depth=self.max_depth, max_columns=self.max_columns)

    def execute(self, context: Context) -> dict[str, Any]:
        if self.source not in SOURCES:
            raise DailyConfigError(f"source={self.source!r} is not one of {', '.join(SOURCES)}")
        window = resolve_window(
            self.start, self.end, context.get("data_interval_start"), context.get("data_interval_end")
        )
        hook = self.make_hook()
        warehouse = self.make_warehouse(context)
        try:
            summary = load_window(
                hook=hook,
                warehouse=warehouse,
                window=window,
                source=self.source,
                table=self.table or default_table(self.source),
                run_id=str(context.get("run_id") or "manual"),
                config=self.normalize_config(hook),
                chunk_rows=self.chunk_rows,
                staging_dir=self.staging_dir,
                url_filter=self.url_filter,
            )
        finally:
            warehouse.close()
        result = summary.as_dict()
        extra = {
            "source": summary.source,
            "table": summary.table,
            "window_start": result["window_start"],
            "window_end": result["window_end"],
            "rows": summary.rows,
        }
        outlet_events = context.get("outlet_events")
        if outlet_events is not None:
            for outlet in self.outlets:
                if isinstance(outlet, Asset):
                    outlet_events[outlet].extra = extra
        return result


class DailyLogsToDuckDBOperator(DailyLogsToWarehouseOperator):
    """Load one window of Daily logs into a DuckDB file.

    :param duckdb_path: DuckDB database file; default ``$DAILY_LOGS_DUCKDB_PATH``, else
        ``$AIRFLOW_HOME/daily_logs.duckdb``, read when the task runs. (templated)
    :param memory_limit: DuckDB ``memory_limit`` for the load connection (e.g. ``"1GB"``).
    :param threads: DuckDB ``threads`` for the load connection.
    :param lock_timeout: Seconds to wait for another load holding the same DuckDB file.

    An Asset ``duckdb://<absolute path>/<table>`` is added to ``outlets`` when the path and table
    are given and not templated; its event's extra carries the window and the row count.
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

    def make_warehouse(self, context: Context) -> Warehouse:
        return DuckDBWarehouse(
            self.duckdb_path or default_duckdb_path(),
            memory_limit=self.memory_limit,
            threads=self.threads,
            lock_timeout=self.lock_timeout,
        )
