"""The example DAGs emit Asset events, as the README says: every task has an Asset outlet. A real run of
the DuckDB DAG recording one event per task is in ``test_duckdb_dag.py``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.airflow_versions import dagbag

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"


@pytest.mark.parametrize("dag_id", ["daily_logs_to_duckdb", "daily_logs_to_bigquery"])
def test_every_task_of_the_example_dags_has_an_asset_outlet(airflow_db: Path, dag_id: str) -> None:
    from airflow.sdk import Asset

    dag = dagbag(str(DAGS_FOLDER)).get_dag(dag_id)
    for task in dag.tasks:
        assert len(task.outlets) == 1, task.task_id
        assert isinstance(task.outlets[0], Asset)
