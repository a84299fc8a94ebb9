"""The API key appears nowhere a user or a log collector could read it.

A real DAG run (``dag.test``) loads one window with the key and fails another against a hostile
server that echoes the Authorization header into its error, with every logger at DEBUG (requests'
and urllib3's included). Then the key is searched for in everything the run left behind: captured
stdout/stderr and log records, every file under AIRFLOW_HOME (task logs, and the metadata database
with its XComs and rendered template fields), and the DuckDB file (every value of every table, and
its raw bytes). The CLI, which runs without Airflow's secret masker, gets the same treatment.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import traceback
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pytest

from daily_provider.cli import main as daily_logs
from daily_provider.exceptions import DailyAPIError
from daily_provider.hooks.daily import DailyHook
from daily_provider.simulator import FaultConfig, SimulatorConfig, SimulatorServer
from daily_provider.window import Window
from tests.airflow_versions import dagbag

KEY = "sk-live-leakcanary-6c1e0f9b2d7a"
START, END = "2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"


def sim(faults: FaultConfig | None = None) -> SimulatorServer:
    return SimulatorServer(
        SimulatorConfig(
            seed=8, days=2, api_per_day=150, webhook_per_day=30, api_key=KEY, faults=faults or FaultConfig()
        )
    )


@pytest.fixture
def servers() -> Iterator[tuple[SimulatorServer, SimulatorServer]]:
    """A healthy Daily, and one that revokes the key after one request and echoes it in every error."""
    with sim() as healthy, sim(FaultConfig(auth_fail_after=1, echo_key_in_errors=True)) as hostile:
        yield healthy, hostile


@pytest.fixture
def debug_logging() -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in ("", "urllib3", "requests", "daily_provider")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    yield
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)


def assert_no_key_in_files(root: Path) -> int:
    """Byte-search every file under ``root``; return how many were searched."""
    searched = 0
    for path in root.rglob("*"):
        if path.is_file():
            searched += 1
            assert KEY.encode() not in path.read_bytes(), f"the API key is in {path}"
    return searched


def assert_no_key_in_metadata_db(database: Path) -> dict[str, list[tuple[str, str]]]:
    """Every value of every table of Airflow's metadata database; return this run's XComs and rendered fields."""
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as con:
        tables = [name for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for row in con.execute(f'SELECT * FROM "{table}"'):
                assert KEY not in repr(row), f"the API key is in Airflow's {table} table"
        where = "WHERE dag_id = 'daily_key_leak_check'"
        return {
            "xcom": [(t, str(v)) for t, v in con.execute(f"SELECT task_id, value FROM xcom {where}")],
            "rendered": [
                (t, str(v))
                for t, v in con.execute(
                    f"SELECT task_id, rendered_fields FROM rendered_task_instance_fields {where}"
                )
            ],
        }


def assert_no_key_in_duckdb(db: Path) -> int:
    """Every value of every table, as text; return how many rows were searched."""
    assert KEY.encode() not in db.read_bytes(), "the API key is in the DuckDB file's bytes"
    rows = 0
    with duckdb.connect(str(db), read_only=True) as con:
        for (table,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall():
            for row in con.execute(f'SELECT * FROM "{table}"').fetchall():
                rows += 1
                assert KEY not in repr(row), f"the API key is in table {table}: {row!r:.300}"
    return rows


DAG_FILE = """
from datetime import datetime, timezone

from airflow.sdk import DAG

from daily_provider.operators.daily_logs import DailyLogsToDuckDBOperator

with DAG(dag_id="daily_key_leak_check", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=timezone.utc)):
    for task_id, conn_id in (("load_ok", "daily_leak"), ("load_revoked", "daily_leak_revoked")):
        DailyLogsToDuckDBOperator(
            task_id=task_id,
            daily_conn_id=conn_id,
            table="logs_" + task_id,
            start="{{ '%(start)s' }}",  # templated, so a rendered field is stored
            end="%(end)s",
            duckdb_path=%(db)r,
            lock_timeout=60,
            retries=0,
        )
"""


def test_a_dag_run_leaves_the_key_in_no_log_xcom_rendered_field_or_table(
    airflow_db: Path,
    servers: tuple[SimulatorServer, SimulatorServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    debug_logging: None,
) -> None:
    from airflow import settings as airflow_settings

    healthy, hostile = servers
    for conn_id, server in (("DAILY_LEAK", healthy), ("DAILY_LEAK_REVOKED", hostile)):
        monkeypatch.setenv(
            f"AIRFLOW_CONN_{conn_id}",
            json.dumps({"conn_type": "daily", "host": server.base_url, "password": KEY}),
        )
    db = tmp_path / "leak.duckdb"
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "key_leak_dag.py").write_text(DAG_FILE % {"start": START, "end": END, "db": str(db)})
    # dag.test() syncs the DAG from the dags-folder bundle, which Airflow resolves from this setting.
    monkeypatch.setattr(airflow_settings, "DAGS_FOLDER", str(dags))
    caplog.set_level(logging.DEBUG)
    bag = dagbag(str(dags))
    assert bag.import_errors == {}
    dag = bag.get_dag("daily_key_leak_check")

    run = dag.test(logical_date=datetime(2026, 1, 3, tzinfo=timezone.utc))

    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert states == {"load_ok": "success", "load_revoked": "failed"}, states
    assert hostile.stats()["by_status"].get("401") == 1, "the hostile server never got to echo the key"
    captured = capfd.readouterr()
    output = captured.out + captured.err + caplog.text
    assert "authentication-error" in output, "the failed task's error was not captured: nothing was searched"
    assert KEY not in output, "the API key is in the task output or log records"
    home = Path(os.environ["AIRFLOW_HOME"])
    metadata = assert_no_key_in_metadata_db(home / "airflow.db")
    assert any(task == "load_ok" and "rows_per_second" in value for task, value in metadata["xcom"]), (
        "the run's XCom (the summary dict) was not found: nothing was searched"
    )
    assert any(task == "load_ok" and START in value for task, value in metadata["rendered"]), (
        "no rendered template field was stored: nothing was searched"
    )
    assert assert_no_key_in_files(home) > 0
    assert assert_no_key_in_duckdb(db) > 0


def test_the_cli_never_prints_logs_or_stores_the_key_even_when_the_server_echoes_it(
    servers: tuple[SimulatorServer, SimulatorServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    debug_logging: None,
) -> None:
    # No Airflow task runner here, so no secret masker either: only our own scrubbing stands.
    healthy, hostile = servers
    monkeypatch.setenv("DAILY_API_KEY", KEY)
    db = tmp_path / "cli.duckdb"
    caplog.set_level(logging.DEBUG)
    common = ["--start", START, "--end", END, "--duckdb", str(db), "--requests-per-second", "1000"]
    assert daily_logs(["-v", "load", *common, "--base-url", healthy.base_url]) == 0
    assert daily_logs(["-v", "load", *common, "--base-url", hostile.base_url, "--table", "revoked"]) == 1
    captured = capsys.readouterr()
    output = captured.out + captured.err + caplog.text
    assert "authentication-error" in output and "urllib3" in caplog.text
    assert KEY not in output
    assert assert_no_key_in_duckdb(db) > 0


def test_exceptions_tracebacks_and_reprs_of_a_hostile_answer_hold_no_key(
    servers: tuple[SimulatorServer, SimulatorServer],
) -> None:
    _, hostile = servers
    hook = DailyHook(api_key=KEY, base_url=hostile.base_url, requests_per_second=1000, backoff_base=0.0)
    window = Window.parse(START, END)
    with pytest.raises(DailyAPIError) as caught:
        list(hook.iter_logs(window.start, window.end))
    error = caught.value
    said = "".join(traceback.format_exception(error)) + repr(error) + repr(vars(error)) + repr(hook)
    assert "request had Authorization: Bearer ***" in str(error), "the echo was not scrubbed but dropped"
    assert KEY not in said
