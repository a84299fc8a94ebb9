"""The example DAGs emit Asset events, as the README says: every task has an Asset outlet, and a real run
of the DuckDB DAG records one event per task whose extra carries the table, window and row count."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from daily_provider.simulator import SimulatorConfig, SimulatorServer
from tests.airflow_versions import dagbag

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"


@pytest.mark.parametrize("dag_id", ["daily_logs_to_duckdb", "daily_logs_to_bigquery"])
def test_every_task_of_the_example_dags_has_an_asset_outlet(airflow_db: Path, dag_id: str) -> None:
    from airflow.sdk import Asset

    dag = dagbag(str(DAGS_FOLDER)).get_dag(dag_id)
    for task in dag.tasks:
        assert len(task.outlets) == 1, task.task_id
        assert isinstance(task.outlets[0], Asset)


def test_a_run_of_the_duckdb_example_dag_records_an_asset_event_per_task(
    airflow_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    config = SimulatorConfig(
        seed=29, start="2026-01-01T00:00:00Z", days=2, api_per_day=120, webhook_per_day=30
    )
    db_path = tmp_path / "assets.duckdb"
    monkeypatch.setenv("DAILY_LOGS_DUCKDB_PATH", str(db_path))
    with SimulatorServer(config) as server:
        monkeypatch.setenv(
            "AIRFLOW_CONN_DAILY_DEFAULT",
            json.dumps({"conn_type": "daily", "host": server.base_url, "password": config.api_key}),
        )
        dag = dagbag(str(DAGS_FOLDER)).get_dag("daily_logs_to_duckdb")
        uris = {task.task_id: task.outlets[0].uri for task in dag.tasks}
        # A manual run at logical date D covers the day before D: [2026-01-01, 2026-01-02).
        run = dag.test(logical_date=datetime(2026, 1, 2, tzinfo=timezone.utc))
        assert str(run.state) in {"success", "DagRunState.SUCCESS"}
        start, end = datetime(2026, 1, 1, tzinfo=timezone.utc), datetime(2026, 1, 2, tzinfo=timezone.utc)
        truth = {source: len(server.simulator.truth(source, start, end)) for source in ("api", "webhook")}

    with create_session() as session:
        for task_id, uri in uris.items():
            source = task_id.split("_")[1]
            events = (
                session.query(AssetEvent)
                .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
                .filter(AssetModel.uri == uri, AssetEvent.source_run_id == run.run_id)
                .all()
            )
            assert len(events) == 1, (task_id, uri)
            extra = events[0].extra
            assert extra["table"] == f"daily_{source}_logs"
            assert (extra["window_start"], extra["window_end"]) == (start.isoformat(), end.isoformat())
            assert extra["rows"] == truth[source] > 0
