"""Partitioned Daily logs into BigQuery, and a per-day rollup that runs on exactly the days loaded.

The shape of ``daily_logs_partitioned_duckdb`` for BigQuery (Airflow 3.2 or later; on older
releases this file defines none):

- ``daily_logs_partitioned_to_bigquery`` on ``CronPartitionTimetable`` (daily UTC partitions, keyed
  ``2026-01-01T00:00:00``; ``run_offset=-1`` loads the day that just ended), both sources;
- ``daily_logs_rollup_bigquery`` on ``PartitionedAssetTimetable``: per day both sources replaced,
  it rebuilds that day of ``daily_logs_rollup`` in the same dataset from the analysis views.

Where to load comes from the Variables of ``daily_logs_to_bigquery`` (``daily_logs_bq_project``,
``daily_logs_bq_dataset``, ``daily_logs_bq_location``, ``daily_logs_gcp_conn_id``), read when a task
runs. ``DAILY_LOGS_START_DATE``, ``DAILY_LOGS_CATCHUP`` and the ``daily_api`` pool as there.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from airflow.sdk import DAG, Asset, task

from daily_provider.compat import partitions_supported
from daily_provider.operators.bigquery import DailyLogsToBigQueryOperator

START = datetime.fromisoformat(os.environ.get("DAILY_LOGS_START_DATE", "2026-01-01"))
ASSETS = {source: Asset(name=f"daily_logs.partitioned.bigquery.{source}") for source in ("api", "webhook")}
# Rendered when a task runs; an empty value means "not set" (the credentials' project, ADC, ...).
WHERE = {
    "project_id": "{{ var.value.get('daily_logs_bq_project', '') }}",
    "dataset_id": "{{ var.value.get('daily_logs_bq_dataset', 'daily_logs') }}",
    "location": "{{ var.value.get('daily_logs_bq_location', '') }}",
    "gcp_conn_id": "{{ var.value.get('daily_logs_gcp_conn_id', '') }}",
}


@task
def rebuild_rollup(
    project_id: str,
    dataset_id: str,
    location: str,
    gcp_conn_id: str,
    partition_key: str | None = None,
    partition_date: datetime | None = None,
) -> int:
    """Rebuild the run's day of daily_logs_rollup from the analysis views (Airflow passes the context)."""
    from daily_provider.operators.bigquery import emulator_client
    from daily_provider.rollup import rebuild_rollup_day, rollup_day
    from daily_provider.warehouses.bigquery import BigQueryWarehouse

    project, location_or_none = project_id.strip() or None, location.strip() or None
    warehouse = BigQueryWarehouse(
        project=project,
        dataset=dataset_id,
        location=location_or_none,
        gcp_conn_id=gcp_conn_id.strip() or None,
        client=emulator_client(project, location_or_none),
    )
    day = rollup_day(partition_date, partition_key)
    return rebuild_rollup_day(warehouse, day, partition_key=partition_key)


def build() -> tuple[DAG, DAG]:
    from airflow.sdk import CronPartitionTimetable, PartitionedAssetTimetable

    with DAG(
        dag_id="daily_logs_partitioned_to_bigquery",
        description="Daily (daily.co) API and webhook logs into BigQuery, one UTC day partition per run",
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
        tags=["daily", "bigquery", "partitioned"],
    ) as producer:
        for source, asset in ASSETS.items():
            DailyLogsToBigQueryOperator(
                task_id=f"load_{source}_logs", source=source, outlets=[asset], **WHERE
            )

    with DAG(
        dag_id="daily_logs_rollup_bigquery",
        description="Per-day rollup of the Daily logs in BigQuery, rebuilt for each day the loads replaced",
        schedule=PartitionedAssetTimetable(assets=ASSETS["api"] & ASSETS["webhook"]),
        start_date=datetime(START.year, START.month, START.day, tzinfo=timezone.utc),
        default_args={"retries": 2, "retry_delay": timedelta(minutes=1)},
        tags=["daily", "bigquery", "partitioned"],
    ) as consumer:
        rebuild_rollup(**WHERE)
    return producer, consumer


if partitions_supported():
    producer_dag, consumer_dag = build()
