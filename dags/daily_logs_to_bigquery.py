"""Daily API and webhook logs into BigQuery, one UTC day per run.

One task per source, both loading the run's data interval into ``daily_api_logs`` and
``daily_webhook_logs`` of one dataset (plus the audit table ``daily_logs_loads``). Where to load is
read from Airflow Variables when a task runs, never at parse time:

- ``daily_logs_bq_project``: project of the dataset and the jobs (default: the credentials' project)
- ``daily_logs_bq_dataset``: the dataset, which must exist (default ``daily_logs``)
- ``daily_logs_bq_location``: its location, e.g. ``EU`` (default: inferred by BigQuery)
- ``daily_logs_gcp_conn_id``: a Google Cloud connection (needs the ``google`` extra; default:
  Application Default Credentials)

e.g. ``airflow variables set daily_logs_bq_project my-project`` or
``AIRFLOW_VAR_DAILY_LOGS_BQ_PROJECT=my-project``. The Daily connection is ``daily_default``.

Schedule, catchup, retries and the ``daily_api`` pool are the DuckDB DAG's:
``DAILY_LOGS_START_DATE`` (ISO date, default 2026-01-01) sets where catchup begins,
``DAILY_LOGS_CATCHUP=false`` turns it off, and both DAGs share the pool because Daily's rate limit
is per domain (``airflow pools set daily_api 2 "Daily API"``). Each task emits an event of the
Asset ``daily_logs.bigquery.<source>``; its extra names the table, the window and the row count.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from airflow.sdk import DAG, Asset

from daily_provider.compat import CronDataIntervalTimetable  # airflow.sdk's from Airflow 3.2
from daily_provider.operators.daily_logs import DailyLogsToBigQueryOperator

START = datetime.fromisoformat(os.environ.get("DAILY_LOGS_START_DATE", "2026-01-01"))

with DAG(
    dag_id="daily_logs_to_bigquery",
    description="Daily (daily.co) API and webhook logs into BigQuery, one UTC day per run",
    # Not schedule="@daily": in Airflow 3 that gives zero-width data intervals.
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
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
    tags=["daily", "bigquery"],
) as dag:
    for source in ("api", "webhook"):
        DailyLogsToBigQueryOperator(
            task_id=f"load_{source}_logs",
            source=source,
            # Rendered when the task runs; an empty value means "not set" (see the docstring).
            project_id="{{ var.value.get('daily_logs_bq_project', '') }}",
            dataset_id="{{ var.value.get('daily_logs_bq_dataset', 'daily_logs') }}",
            location="{{ var.value.get('daily_logs_bq_location', '') }}",
            gcp_conn_id="{{ var.value.get('daily_logs_gcp_conn_id', '') }}",
            outlets=[Asset(name=f"daily_logs.bigquery.{source}")],
        )
