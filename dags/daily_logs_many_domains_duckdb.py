"""Daily logs of several Daily domains into one set of DuckDB tables, one mapped task per domain.

A team with a production, a staging and a per-region domain gives each its own Airflow connection
(type ``daily``: that domain's API key in the password) and lists the connection ids in the Variable
``daily_logs_domains`` (a JSON list, e.g. ``["daily_prod", "daily_staging"]``) or, without it, in
``$DAILY_LOGS_DOMAIN_CONN_IDS`` (comma-separated; default ``daily_default``). The list is read when
the run starts (never at parse time), and each source's load is mapped over it with
``partial(...).expand(daily_conn_id=...)``: one task instance per domain and source.

All domains share ``daily_api_logs`` and ``daily_webhook_logs``; each row's ``domain_id`` says whose
it is, and a load replaces only its own domain's rows of the window, so domains never overwrite
each other. Cursor anchors and ledger rows (``daily_logs_loads.domain_id``) are per domain too.
DuckDB takes one writer at a time: concurrent tasks queue on the file's lock (``lock_timeout``).

Rate limits: Daily limits requests per domain, and the operator's ``requests_per_second`` (or the
connection's) limits one task. A domain's two tasks (api, webhook) may run at once, so give each
connection half its domain's budget; the ``daily_api`` pool bounds how many loads of all domains
run together (``airflow pools set daily_api 4 "Daily API"`` lets two domains load both sources at once).
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone

from airflow.sdk import DAG, Asset, task

from daily_provider.compat import CronDataIntervalTimetable  # airflow.sdk's from Airflow 3.2
from daily_provider.operators.daily_logs import DailyLogsToDuckDBOperator, default_duckdb_path

DUCKDB_PATH = default_duckdb_path()
START = datetime.fromisoformat(os.environ.get("DAILY_LOGS_START_DATE", "2026-01-01"))
DOMAINS_VARIABLE = "daily_logs_domains"
DOMAINS_ENV = "DAILY_LOGS_DOMAIN_CONN_IDS"


@task
def domain_connections() -> list[str]:
    """The Daily connection ids to load: the Variable ``daily_logs_domains``, else the env list."""
    from airflow.sdk import Variable

    configured = Variable.get(DOMAINS_VARIABLE, default=None)
    if configured:
        conn_ids = json.loads(configured)
    else:
        conn_ids = [c.strip() for c in os.environ.get(DOMAINS_ENV, "daily_default").split(",") if c.strip()]
    if not isinstance(conn_ids, list) or not conn_ids or not all(isinstance(c, str) for c in conn_ids):
        raise ValueError(
            f"Variable {DOMAINS_VARIABLE} must be a JSON list of connection ids, e.g. "
            f'["daily_prod", "daily_staging"]; got {configured!r}'
        )
    return conn_ids


with DAG(
    dag_id="daily_logs_many_domains_to_duckdb",
    description="Daily (daily.co) logs of several domains into shared DuckDB tables, one UTC day per run",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(START.year, START.month, START.day, tzinfo=timezone.utc),
    catchup=os.environ.get("DAILY_LOGS_CATCHUP", "true").lower() != "false",
    max_active_runs=2,
    default_args={
        "retries": 3,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
    },
    tags=["daily", "duckdb", "domains"],
) as dag:
    conn_ids = domain_connections()
    for source in ("api", "webhook"):
        DailyLogsToDuckDBOperator.partial(
            task_id=f"load_{source}_logs",
            source=source,
            duckdb_path=DUCKDB_PATH,
            pool="daily_api",
            # A mapped task's outlets must be known at parse time: one Asset per shared table.
            outlets=[Asset(name=f"daily_logs.domains.duckdb.{source}")],
            map_index_template="{{ task.daily_conn_id }}",
        ).expand(daily_conn_id=conn_ids)
