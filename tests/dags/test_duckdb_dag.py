"""The example DuckDB DAG imports cleanly and, run for real, loads exactly the simulator's truth."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pytest

from daily_provider.simulator import SimulatorConfig, SimulatorServer
from tests.airflow_versions import dagbag

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"
DAG_ID = "daily_logs_to_duckdb"


def _dagbag():
    return dagbag(str(DAGS_FOLDER))


def test_example_dags_import_without_errors(airflow_db: Path) -> None:
    bag = _dagbag()
    assert bag.import_errors == {}
    assert DAG_ID in bag.dag_ids


def test_duckdb_dag_has_one_task_per_source_on_a_data_interval_timetable(airflow_db: Path) -> None:
    from daily_provider.compat import CronDataIntervalTimetable

    dag = _dagbag().get_dag(DAG_ID)
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert dag.catchup is True
    assert {t.task_id: t.source for t in dag.tasks} == {
        "load_api_logs": "api",
        "load_webhook_logs": "webhook",
    }
    for task in dag.tasks:
        assert task.pool == "daily_api"
        assert task.retries >= 1


def test_dag_run_loads_exactly_the_simulator_truth(
    airflow_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = SimulatorConfig(
        seed=11, start="2026-01-01T00:00:00Z", days=3, api_per_day=450, webhook_per_day=120
    )
    db_path = tmp_path / "logs.duckdb"
    with SimulatorServer(config) as server:
        monkeypatch.setenv("DAILY_LOGS_DUCKDB_PATH", str(db_path))
        monkeypatch.setenv(
            "AIRFLOW_CONN_DAILY_DEFAULT",
            json.dumps({"conn_type": "daily", "host": server.base_url, "password": config.api_key}),
        )
        dag = _dagbag().get_dag(DAG_ID)
        # A manual run at logical date D covers the day before D: [2026-01-02, 2026-01-03).
        run = dag.test(logical_date=datetime(2026, 1, 3, tzinfo=timezone.utc))
        assert str(run.state) in {"success", "DagRunState.SUCCESS"}
        start, end = datetime(2026, 1, 2, tzinfo=timezone.utc), datetime(2026, 1, 3, tzinfo=timezone.utc)
        truth = {source: server.simulator.truth(source, start, end) for source in ("api", "webhook")}

    con = duckdb.connect(str(db_path), read_only=True)
    for source, table in (("api", "daily_api_logs"), ("webhook", "daily_webhook_logs")):
        rows = con.execute(
            f"SELECT id, created_at, method, status FROM {table} ORDER BY id"  # table names are constants here
        ).fetchall()
        expected = sorted(truth[source], key=lambda r: r["id"])
        assert len(rows) == len(expected) > 0
        assert [r[0] for r in rows] == [r["id"] for r in expected]
        for (_id, created_at, method, status), record in zip(rows, expected, strict=True):
            assert created_at == datetime.fromisoformat(record["createdAt"].replace("Z", "+00:00"))
            assert method == record["method"]
            assert status == int(record["status"])
    loads = con.execute("SELECT source, status, rows FROM daily_logs_loads ORDER BY source").fetchall()
    assert loads == [("api", "success", len(truth["api"])), ("webhook", "success", len(truth["webhook"]))]


def test_example_dag_run_emits_an_asset_event_per_task_with_window_and_rows(
    airflow_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 18: the example DAG's tasks must emit Asset events, recorded in Airflow's metadata DB.
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    config = SimulatorConfig(
        seed=12, start="2026-01-01T00:00:00Z", days=3, api_per_day=80, webhook_per_day=20
    )
    db_path = tmp_path / "events.duckdb"
    with SimulatorServer(config) as server:
        monkeypatch.setenv("DAILY_LOGS_DUCKDB_PATH", str(db_path))
        monkeypatch.setenv(
            "AIRFLOW_CONN_DAILY_DEFAULT",
            json.dumps({"conn_type": "daily", "host": server.base_url, "password": config.api_key}),
        )
        dag = _dagbag().get_dag(DAG_ID)
        # Airflow normalizes the URI duckdb:///abs/path to duckdb:/abs/path.
        outlets = {task.source: [outlet.uri for outlet in task.outlets] for task in dag.tasks}
        assert outlets == {source: [f"duckdb:{db_path}/daily_{source}_logs"] for source in ("api", "webhook")}
        run = dag.test(logical_date=datetime(2026, 1, 3, tzinfo=timezone.utc))
        assert str(run.state) in {"success", "DagRunState.SUCCESS"}
        rows = {
            source: len(
                server.simulator.truth(
                    source,
                    datetime(2026, 1, 2, tzinfo=timezone.utc),
                    datetime(2026, 1, 3, tzinfo=timezone.utc),
                )
            )
            for source in ("api", "webhook")
        }

    with create_session() as session:
        events = session.execute(
            select(AssetModel.uri, AssetEvent.extra)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetEvent.source_run_id == run.run_id, AssetEvent.source_dag_id == DAG_ID)
        ).all()
    by_uri = {uri: extra for uri, extra in events}
    assert len(events) == len(by_uri)  # one event per task
    assert set(by_uri) == {uri for uris in outlets.values() for uri in uris}
    for source in ("api", "webhook"):
        extra = by_uri[outlets[source][0]]
        assert extra["table"] == f"daily_{source}_logs"
        assert (extra["window_start"], extra["window_end"]) == (
            "2026-01-02T00:00:00+00:00",
            "2026-01-03T00:00:00+00:00",
        )
        assert extra["rows"] == rows[source] > 0 and extra["window_source"] == "data_interval"
