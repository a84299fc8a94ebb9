"""Daily API and webhook logs into DuckDB, one UTC day per run.

One task per source, both loading the run's data interval. Set ``DAILY_LOGS_DUCKDB_PATH`` for the
DuckDB file (default ``$AIRFLOW_HOME/daily_logs.duckdb``) and the connection
``daily_default`` (type ``daily``: API key in the password, base URL in the host).

``DAILY_LOGS_START_DATE`` (ISO date, default 2026-01-01) sets where catchup begins;
``DAILY_LOGS_CATCHUP=false`` turns catchup off (then only ``airflow backfill create`` fills history). The two tasks
share the ``daily_api`` pool: Daily's rate limit is per domain, so the pool bounds how many
requests all runs make at once (``airflow pools set daily_api 2 "Daily API"``; a missing pool
falls back to Airflow's default pool in ``dags test``).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from airflow.sdk import DAG

from daily_provider.compat import CronDataIntervalTimetable  # airflow.sdk's from Airflow 3.2
from daily_provider.operators.daily_logs import DailyLogsToDuckDBOperator, default_duckdb_path

DUCKDB_PATH = default_duckdb_path()
START = datetime.fromisoformat(os.environ.get("DAILY_LOGS_START_DATE", "2026-01-01"))

with DAG(
    dag_id="daily_logs_to_duckdb",
    description="Daily (daily.co) API and webhook logs into DuckDB, one UTC day per run",
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
    tags=["daily", "duckdb"],
) as dag:
    for source in ("api", "webhook"):
        DailyLogsToDuckDBOperator(task_id=f"load_{source}_logs", source=source, duckdb_path=DUCKDB_PATH)
