"""Rebuild one UTC day of a small rollup table from the analysis views: the example consumer's job.

``daily_logs_rollup`` holds, per day, API requests, errors and error rate per endpoint (all methods)
and webhook deliveries, failures and failure rate per event type. A consumer DAG on
``PartitionedAssetTimetable`` calls :func:`rebuild_rollup_day` once per partition the loads
replaced; the day's rows are deleted and inserted in one transaction (DuckDB) or one script
(BigQuery), so a re-run of a partition gives the same rows. The views are (re)created first
(``daily_provider.views``): they are cheap and it makes the rollup work on a fresh warehouse.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import TYPE_CHECKING

import duckdb

from daily_provider.exceptions import WarehouseError
from daily_provider.load import default_table
from daily_provider.operators.run_window import partition_start
from daily_provider.sql import render, validate_name
from daily_provider.views import create_views
from daily_provider.warehouses.base import Warehouse
from daily_provider.warehouses.duckdb import DuckDBWarehouse, quote_identifier

if TYPE_CHECKING:
    from daily_provider.warehouses.bigquery import BigQueryWarehouse

log = logging.getLogger(__name__)

ROLLUP_TABLE = "daily_logs_rollup"
# Which view feeds which rows of the rollup.
_PARTS = (("api", "daily_api_requests_by_day"), ("webhook", "daily_webhook_failures_by_day"))


def rollup_day(partition_date: datetime | date | None, partition_key: str | None) -> date:
    """The UTC day of a consumer run: its ``partition_date``, else its key read as a day."""
    start = partition_start(partition_date if isinstance(partition_date, datetime) else None, partition_key)
    if start is None:
        if isinstance(partition_date, date):
            return partition_date
        raise WarehouseError(
            "the rollup needs a partitioned run: it has neither a partition_date nor a partition_key"
        )
    return start.date()


def rebuild_rollup_day(
    warehouse: Warehouse,
    day: date,
    *,
    partition_key: str | None = None,
    table: str = ROLLUP_TABLE,
    api_table: str = default_table("api"),
    webhook_table: str = default_table("webhook"),
) -> int:
    """Replace ``day``'s rows of ``table`` by the views' figures for that day; return the rows written."""
    validate_name(table, what="rollup table")
    report = create_views(warehouse, api_table=api_table, webhook_table=webhook_table)
    parts = [(source, view) for source, view in _PARTS if any(name.endswith(view) for name in report.created)]
    if isinstance(warehouse, DuckDBWarehouse):
        written = _rebuild_duckdb(warehouse, day, partition_key, table, parts)
    else:
        written = _rebuild_bigquery(warehouse, day, partition_key, table, parts)  # type: ignore[arg-type]
    log.info("rollup %s: rebuilt %s (partition %s) with %d rows", table, day, partition_key, written)
    return written


def _rebuild_duckdb(
    warehouse: DuckDBWarehouse, day: date, key: str | None, table: str, parts: list[tuple[str, str]]
) -> int:
    conn = warehouse.connect()
    rollup = quote_identifier(table)
    params = {"day": day, "partition_key": key}
    try:
        conn.execute(render("duckdb", "rollup/create_rollup_table", rollup=rollup))
        conn.begin()
        conn.execute(render("duckdb", "rollup/delete_rollup_day", rollup=rollup), {"day": day})
        for source, view in parts:
            sql = render(
                "duckdb", f"rollup/insert_rollup_{source}_day", rollup=rollup, **{f"{source}_view": view}
            )
            conn.execute(sql, params)
        conn.commit()
        row = conn.execute(
            render("duckdb", "rollup/count_rollup_day", rollup=rollup), {"day": day}
        ).fetchone()
    except duckdb.Error as exc:
        conn.rollback()
        raise WarehouseError(
            f"rebuilding {day} of {table} in {warehouse.path} failed: {exc}; nothing changed"
        ) from exc
    finally:
        warehouse.close()
    return int(row[0]) if row else 0


def _rebuild_bigquery(
    warehouse: BigQueryWarehouse, day: date, key: str | None, table: str, parts: list[tuple[str, str]]
) -> int:
    from google.cloud import bigquery

    from daily_provider.warehouses.bigquery_names import TableRef

    client = warehouse.get_client()
    project = warehouse.project or client.project
    rollup = TableRef.of(project, warehouse.dataset, table).sql
    views = {f"{source}_view": TableRef.of(project, warehouse.dataset, view).sql for source, view in parts}
    statements = [render("bigquery", "rollup/delete_rollup_day", rollup=rollup)]
    statements += [
        render(
            "bigquery",
            f"rollup/insert_rollup_{source}_day",
            rollup=rollup,
            **{f"{source}_view": views[f"{source}_view"]},
        )
        for source, _ in parts
    ]
    config = bigquery.QueryJobConfig(
        labels={**warehouse.labels, "daily_logs": "rollup"},
        maximum_bytes_billed=warehouse.maximum_bytes_billed,
        query_parameters=[
            bigquery.ScalarQueryParameter("day", "DATE", day),
            bigquery.ScalarQueryParameter("partition_key", "STRING", key),
        ],
    )

    def query(sql: str, job_config: bigquery.QueryJobConfig | None = None) -> list[tuple[object, ...]]:
        rows = client.query_and_wait(
            sql,
            job_config=job_config,
            location=warehouse.location,
            project=project,
            retry=warehouse.api_retry,
        )
        return [tuple(row.values()) for row in rows]

    query(render("bigquery", "rollup/create_rollup_table", rollup=rollup))
    script = "BEGIN TRANSACTION;\n" + "\n".join(statements) + "\nCOMMIT TRANSACTION;"
    query(script, config)
    counted = query(
        render("bigquery", "rollup/count_rollup_day", rollup=rollup),
        bigquery.QueryJobConfig(query_parameters=[config.query_parameters[0]]),
    )
    return int(counted[0][0])  # type: ignore[call-overload]
