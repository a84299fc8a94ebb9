"""The example BigQuery DAG imports cleanly and, run for real against the simulator and the
local-bigquery emulator, loads exactly the simulator's truth.

The DAG reads its target from Airflow Variables (set here as ``AIRFLOW_VAR_*``); the operator
reaches the emulator through ``BIGQUERY_EMULATOR_HOST``, google-cloud-bigquery's own variable for
emulators, with anonymous credentials.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from google.cloud import bigquery

from daily_provider.operators.links import bigquery_table_url
from daily_provider.simulator import SimulatorConfig, SimulatorServer
from tests.airflow_versions import dagbag, extra_link
from tests.bigquery.backend import FAST_RETRY
from tests.bigquery.emulator_server import Emulator

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"
DAG_ID = "daily_logs_to_bigquery"


def _dagbag():
    return dagbag(str(DAGS_FOLDER))


def test_bigquery_dag_imports_with_one_task_per_source_on_the_duckdb_dags_schedule(airflow_db: Path) -> None:
    from daily_provider.compat import CronDataIntervalTimetable

    bag = _dagbag()
    assert bag.import_errors == {}
    dag, duckdb_dag = bag.get_dag(DAG_ID), bag.get_dag("daily_logs_to_duckdb")
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert dag.timetable == duckdb_dag.timetable == CronDataIntervalTimetable("0 0 * * *", timezone="UTC")
    assert (dag.catchup, dag.max_active_runs) == (duckdb_dag.catchup, duckdb_dag.max_active_runs)
    assert {t.task_id: t.source for t in dag.tasks} == {
        "load_api_logs": "api",
        "load_webhook_logs": "webhook",
    }
    for task in dag.tasks:
        assert (task.pool, task.retries) == ("daily_api", 3)
        # Nothing is read at parse time: the target comes from Variables when the task runs.
        assert "var.value.get('daily_logs_bq_project'" in task.project
        assert "var.value.get('daily_logs_bq_dataset', 'daily_logs')" in task.dataset
        assert "var.value.get('daily_logs_bq_location'" in task.location
        assert "var.value.get('daily_logs_gcp_conn_id'" in task.gcp_conn_id


@pytest.mark.bigquery
def test_dag_run_loads_exactly_the_simulator_truth_into_bigquery(
    airflow_db: Path,
    bq_emulator: Emulator,
    bq_client: bigquery.Client,
    bq_dataset: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = SimulatorConfig(
        seed=17, start="2026-01-01T00:00:00Z", days=3, api_per_day=240, webhook_per_day=60
    )
    with SimulatorServer(config) as server:
        monkeypatch.setenv(
            "AIRFLOW_CONN_DAILY_DEFAULT",
            json.dumps(
                {
                    "conn_type": "daily",
                    "host": server.base_url,
                    "password": config.api_key,
                    "extra": {"requests_per_second": 1000},
                }
            ),
        )
        monkeypatch.setenv("AIRFLOW_VAR_DAILY_LOGS_BQ_PROJECT", bq_client.project)
        monkeypatch.setenv("AIRFLOW_VAR_DAILY_LOGS_BQ_DATASET", bq_dataset)
        monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", bq_emulator.endpoint)
        dag = _dagbag().get_dag(DAG_ID)
        for task in dag.tasks:
            # The emulator adds columns slowly (about 0.25 s each, some 200 for these two tables);
            # flattened columns are covered by tests/bigquery and the contract suite, not here.
            task.max_columns = 5
            # dag.test() waits out retry delays (minutes): a failure should fail the test at once.
            task.retries = 0
        # A manual run at logical date D covers the day before D: [2026-01-02, 2026-01-03).
        run = dag.test(logical_date=datetime(2026, 1, 3, tzinfo=timezone.utc))
        assert str(run.state) in {"success", "DagRunState.SUCCESS"}
        # The UI's "BigQuery Table" button, looked up the way the API server does it.
        assert extra_link(DAG_ID, run.run_id, "load_api_logs", "BigQuery Table") == (
            ["BigQuery Table"],
            bigquery_table_url(bq_client.project, bq_dataset, "daily_api_logs"),
        )
        start, end = datetime(2026, 1, 2, tzinfo=timezone.utc), datetime(2026, 1, 3, tzinfo=timezone.utc)
        truth = {source: server.simulator.truth(source, start, end) for source in ("api", "webhook")}

    dataset = f"{bq_client.project}.{bq_dataset}"
    for source in ("api", "webhook"):
        rows = bq_client.query_and_wait(
            f"SELECT id, created_at, method, status FROM `{dataset}.daily_{source}_logs` ORDER BY id",
            retry=FAST_RETRY,
        )
        loaded = [(row["id"], row["created_at"], row["method"], row["status"]) for row in rows]
        expected = sorted(truth[source], key=lambda record: record["id"])
        assert len(loaded) == len(expected) > 0
        assert loaded == [
            (
                record["id"],
                datetime.fromisoformat(record["createdAt"].replace("Z", "+00:00")),
                record["method"],
                int(record["status"]),
            )
            for record in expected
        ]
    loads = bq_client.query_and_wait(
        f"SELECT source, status, rows FROM `{dataset}.daily_logs_loads` ORDER BY source", retry=FAST_RETRY
    )
    assert [tuple(row.values()) for row in loads] == [
        ("api", "success", len(truth["api"])),
        ("webhook", "success", len(truth["webhook"])),
    ]
