"""Partitioned Daily logs into DuckDB, and a per-day rollup that runs on exactly the days loaded.

Two DAGs (Airflow 3.2 or later; on older releases this file defines none):

- ``daily_logs_partitioned_to_duckdb``, the producer, on ``CronPartitionTimetable``: one run per UTC
  day, keyed ``2026-01-01T00:00:00``. ``run_offset=-1``: the run at midnight loads the day that just
  ended (a backfill's runs are keyed by the days asked for). Both sources load that day into
  ``daily_api_logs`` and ``daily_webhook_logs``; each task's Asset event is tagged with the day.
- ``daily_logs_rollup_duckdb``, the consumer, on ``PartitionedAssetTimetable``: once both sources'
  events of a day have arrived, one run with that day's key rebuilds the day's rows of
  ``daily_logs_rollup`` (requests, errors and error rate per endpoint; webhook failures per event
  type) from the analysis views.

``DAILY_LOGS_DUCKDB_PATH``, ``DAILY_LOGS_START_DATE``, ``DAILY_LOGS_CATCHUP`` and the ``daily_api``
pool as in ``daily_logs_to_duckdb``. History: ``airflow backfill create --dag-id
daily_logs_partitioned_to_duckdb --from-date 2026-01-01 --to-date 2026-01-07`` (a scheduler must run).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from airflow.sdk import DAG, Asset, task

from daily_provider.compat import partitions_supported
from daily_provider.operators.daily_logs import DailyLogsToDuckDBOperator, default_duckdb_path

DUCKDB_PATH = default_duckdb_path()
START = datetime.fromisoformat(os.environ.get("DAILY_LOGS_START_DATE", "2026-01-01"))
# Named assets, apart from the data-interval DAG's file-URI ones: the consumer listens to these only.
ASSETS = {source: Asset(name=f"daily_logs.partitioned.duckdb.{source}") for source in ("api", "webhook")}


@task
def rebuild_rollup(partition_key: str | None = None, partition_date: datetime | None = None) -> int:
    """Rebuild the run's day of daily_logs_rollup from the analysis views (Airflow passes the context)."""
    from daily_provider.rollup import rebuild_rollup_day, rollup_day
    from daily_provider.warehouses.duckdb import DuckDBWarehouse

    day = rollup_day(partition_date, partition_key)
    return rebuild_rollup_day(DuckDBWarehouse(default_duckdb_path()), day, partition_key=partition_key)


def build() -> tuple[DAG, DAG]:
    from airflow.sdk import CronPartitionTimetable, PartitionedAssetTimetable

    with DAG(
        dag_id="daily_logs_partitioned_to_duckdb",
        description="Daily (daily.co) API and webhook logs into DuckDB, one UTC day partition per run",
        schedule=CronPartitionTimetable("0 0 * * *", timezone="UTC", run_offset=-1),
        start_date=datetime(START.year, START.month, START.day, tzinfo=timezone.utc),
        catchup=os.environ.get("DAILY_LOGS_CATCHUP", "true").lower() != "false",
        max_active_runs=4,
        default_args={
            "retries": 3,
            "retry_delay": timedelta(minutes=2),
            "retry_exponential_backoff": True,
            "max_retry_delay": timedelta(minutes=30),
            "pool": "daily_api",
        },
        tags=["daily", "duckdb", "partitioned"],
    ) as producer:
        for source, asset in ASSETS.items():
            DailyLogsToDuckDBOperator(
                task_id=f"load_{source}_logs", source=source, duckdb_path=DUCKDB_PATH, outlets=[asset]
            )

    with DAG(
        dag_id="daily_logs_rollup_duckdb",
        description="Per-day rollup of the Daily logs in DuckDB, rebuilt for each day the loads replaced",
        schedule=PartitionedAssetTimetable(assets=ASSETS["api"] & ASSETS["webhook"]),
        start_date=datetime(START.year, START.month, START.day, tzinfo=timezone.utc),
        default_args={"retries": 2, "retry_delay": timedelta(minutes=1)},
        tags=["daily", "duckdb", "partitioned"],
    ) as consumer:
        rebuild_rollup()
    return producer, consumer


if partitions_supported():
    producer_dag, consumer_dag = build()
