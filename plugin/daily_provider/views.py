"""Analysis views over the loaded logs tables: the first queries a data team writes, ready-made.

Three views, each in ``sql/<dialect>/views/<file>.sql`` with the same file names per dialect:

- ``daily_api_requests_by_day``: API requests and errors per UTC day, method and endpoint;
- ``daily_room_activity``: the latest activity per room, with meeting tokens issued for it;
- ``daily_webhook_failures_by_day``: webhook deliveries and failures per UTC day and event type.

They read only the core columns and the ``request``/``response`` JSON columns, which every logs
table has, so they never depend on which flattened columns a load happened to create. A view is
created (or replaced) in the same database or dataset as its table; a view whose table does not
exist yet is skipped and reported, so running this again after the first load completes the set.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from daily_provider.exceptions import DailyConfigError, WarehouseError
from daily_provider.load import default_table
from daily_provider.sql import render, validate_name
from daily_provider.warehouses.base import Warehouse
from daily_provider.warehouses.duckdb import DuckDBWarehouse, quote_identifier

if TYPE_CHECKING:
    from daily_provider.warehouses.bigquery import BigQueryWarehouse

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class View:
    """One analysis view: its name, its SQL file under ``sql/<dialect>/views/``, the source it reads."""

    name: str
    sql_file: str
    source: str  # "api" or "webhook": which logs table the view reads


VIEWS = (
    View("daily_api_requests_by_day", "requests_by_day", "api"),
    View("daily_room_activity", "room_activity", "api"),
    View("daily_webhook_failures_by_day", "webhook_failures_by_day", "webhook"),
)


@dataclass
class ViewsReport:
    """What :func:`create_views` did: views created or replaced, and views skipped with the reason."""

    created: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for a log."""
        created = ", ".join(self.created) or "none"
        skipped = ", ".join(self.skipped) or "none"
        return f"analysis views created: {created}; skipped (no table yet): {skipped}"

    def describe(self) -> str:
        """One line per view, with the reason for each skipped one."""
        lines = [f"created {name}" for name in self.created]
        lines += [f"skipped {name}: {reason}" for name, reason in self.skipped.items()]
        return "\n".join(lines)


def create_views(
    warehouse: Warehouse,
    *,
    api_table: str = default_table("api"),
    webhook_table: str = default_table("webhook"),
) -> ViewsReport:
    """Create or replace the analysis views next to the logs tables of ``warehouse``.

    :param warehouse: A :class:`DuckDBWarehouse` or a ``BigQueryWarehouse`` (views go in its dataset,
        created with its credentials, location and job labels).
    :param api_table: The table of ``source="api"`` loads.
    :param webhook_table: The table of ``source="webhook"`` loads.
    """
    try:
        tables = {
            "api": validate_name(api_table, what="API logs table"),
            "webhook": validate_name(webhook_table, what="webhook logs table"),
        }
    except ValueError as exc:
        raise DailyConfigError(str(exc)) from None
    if isinstance(warehouse, DuckDBWarehouse):
        return _create_duckdb(warehouse, tables)
    if warehouse.dialect == "bigquery":
        return _create_bigquery(warehouse, tables)  # type: ignore[arg-type]
    raise TypeError(f"no analysis views for warehouse dialect {warehouse.dialect!r}; use DuckDB or BigQuery")


def create_views_duckdb(
    path: str | Path,
    *,
    api_table: str = default_table("api"),
    webhook_table: str = default_table("webhook"),
) -> ViewsReport:
    """Create or replace the analysis views in the DuckDB file ``path`` (waits for a running load).

    The file must exist: views over a mistyped path would otherwise create an empty database.
    """
    if not Path(path).is_file():
        raise DailyConfigError(
            f"no DuckDB file at {path}; load a window into it first (daily-logs load --duckdb {path} ...), "
            "then create the views"
        )
    warehouse = DuckDBWarehouse(path, memory_limit="256MB", threads=1)
    try:
        return create_views(warehouse, api_table=api_table, webhook_table=webhook_table)
    finally:
        warehouse.close()


def _missing(table: str) -> str:
    return f"table {table} does not exist yet; load a window into it first, then create the views again"


def _failed(view: str, where: str, exc: Exception, created: Iterable[str]) -> WarehouseError:
    done = ", ".join(created) or "none"
    return WarehouseError(
        f"creating the view {view} in {where} failed: {exc}. Views created before it: {done}. "
        "Fix the cause (permissions, a table changed by hand) and run create_views again: it replaces "
        "views, so repeating it is safe."
    )


def _create_duckdb(warehouse: DuckDBWarehouse, tables: dict[str, str]) -> ViewsReport:
    # One connection, file lock and transaction for all views: a failure leaves the old set.
    connection = warehouse.connect()
    existing = {source: bool(warehouse.table_columns(table)) for source, table in tables.items()}
    report = ViewsReport()
    connection.begin()
    for view in VIEWS:
        table = tables[view.source]
        if not existing[view.source]:
            report.skipped[view.name] = _missing(table)
            continue
        sql = render(
            "duckdb",
            f"views/{view.sql_file}",
            view=quote_identifier(view.name),
            **{f"{view.source}_logs": quote_identifier(table)},
        )
        try:
            connection.execute(sql)
        except duckdb.Error as exc:
            connection.rollback()
            raise _failed(view.name, f"DuckDB file {warehouse.path}", exc, []) from exc
        report.created.append(view.name)
    connection.commit()
    log.info("DuckDB %s: %s", warehouse.path, report.summary())
    return report


def _create_bigquery(warehouse: BigQueryWarehouse, tables: dict[str, str]) -> ViewsReport:
    from google.api_core import exceptions as google_exceptions
    from google.cloud import bigquery

    from daily_provider.warehouses.bigquery_names import TableRef

    client = warehouse.get_client()
    project = warehouse.project or client.project
    report = ViewsReport()
    existing = {source: bool(warehouse.table_columns(table)) for source, table in tables.items()}
    for view in VIEWS:
        table = TableRef.of(project, warehouse.dataset, tables[view.source])
        if not existing[view.source]:
            report.skipped[view.name] = _missing(table.table_id)
            continue
        sql = render(
            "bigquery",
            f"views/{view.sql_file}",
            view=TableRef.of(project, warehouse.dataset, view.name).sql,
            **{f"{view.source}_logs": table.sql},
        )
        # A view's DDL bills nothing; the labels say which tool created it.
        config = bigquery.QueryJobConfig(
            labels={**warehouse.labels, "daily_logs": "views"},
            maximum_bytes_billed=warehouse.maximum_bytes_billed,
        )
        try:
            client.query_and_wait(
                sql,
                job_config=config,
                location=warehouse.location,
                project=project,
                retry=warehouse.api_retry,
            )
        except google_exceptions.GoogleAPICallError as exc:
            where = f"BigQuery dataset {project}.{warehouse.dataset}"
            raise _failed(view.name, where, exc, report.created) from exc
        report.created.append(f"{project}.{warehouse.dataset}.{view.name}")
    log.info("BigQuery dataset %s.%s: %s", project, warehouse.dataset, report.summary())
    return report
