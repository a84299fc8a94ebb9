"""OpenLineage: what the operators report through the provider's own extraction path, and that it
costs nothing (no import) when nobody asks and nothing at all when the provider is absent."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from airflow.providers.openlineage.extractors.manager import ExtractorManager
from airflow.utils.state import TaskInstanceState
from tests.unit.operators.support import make_context

from daily_provider.operators.daily_logs import DailyLogsToDuckDBOperator, daily_logs_dataset
from daily_provider.simulator import SimulatorServer


def extract_on_success(task: DailyLogsToDuckDBOperator):
    """What the OpenLineage listener extracts when the task instance succeeds."""
    return ExtractorManager().extract_metadata(
        dagrun=SimpleNamespace(run_id="manual__lineage"),
        task=task,
        task_instance_state=TaskInstanceState.SUCCESS,
        task_instance=SimpleNamespace(task=task),
    )


def test_daily_endpoint_dataset_is_the_logs_route_on_the_api_host() -> None:
    api = daily_logs_dataset("https://api.daily.co/v1", "api")
    assert (api.namespace, api.name) == ("https://api.daily.co", "/v1/logs/api?source=api")
    webhook = daily_logs_dataset("http://127.0.0.1:8765/v1", "webhook", "https://example.com/hook")
    assert (webhook.namespace, webhook.name) == (
        "http://127.0.0.1:8765",
        "/v1/logs/api?source=webhook&url=https%3A%2F%2Fexample.com%2Fhook",
    )


def test_listener_gets_the_daily_endpoint_as_input_and_the_duckdb_table_as_output(
    simulator: SimulatorServer, tmp_path: Path
) -> None:
    db = tmp_path / "logs.duckdb"
    task = DailyLogsToDuckDBOperator(task_id="load_webhook_logs", source="webhook", duckdb_path=str(db))
    result = task.execute(make_context())

    lineage = extract_on_success(task)

    (source,) = lineage.inputs
    assert (source.namespace, source.name) == (
        simulator.base_url.removesuffix("/v1"),
        "/v1/logs/api?source=webhook",
    )
    (target,) = lineage.outputs
    assert (target.namespace, target.name) == (f"duckdb://{db}", "daily_webhook_logs")
    assert target.outputFacets["outputStatistics"].rowCount == result["rows"] > 0


def test_no_lineage_before_a_load_finished(tmp_path: Path) -> None:
    task = DailyLogsToDuckDBOperator(task_id="load", duckdb_path=str(tmp_path / "logs.duckdb"))
    assert task.get_openlineage_facets_on_complete(SimpleNamespace(task=task)) is None


def test_lineage_is_none_when_the_openlineage_provider_is_not_installed(
    simulator: SimulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = DailyLogsToDuckDBOperator(task_id="load", duckdb_path=str(tmp_path / "logs.duckdb"))
    task.execute(make_context())
    # A None entry in sys.modules makes the import fail as it does when the package is absent.
    monkeypatch.setitem(sys.modules, "airflow.providers.openlineage.extractors", None)
    assert task.get_openlineage_facets_on_complete(SimpleNamespace(task=task)) is None


def test_importing_the_operators_and_dags_loads_neither_openlineage_nor_bigquery() -> None:
    dags = Path(__file__).resolve().parents[3] / "dags"
    probe = f"""
import runpy, sys
import daily_provider.operators.daily_logs
for dag_file in ("daily_logs_to_bigquery.py", "daily_logs_to_duckdb.py"):
    runpy.run_path({str(dags)!r} + "/" + dag_file)
loaded = sorted(
    name for name in sys.modules
    if name.startswith(("openlineage", "airflow.providers.openlineage.extractors", "google.cloud.bigquery"))
)
print(loaded)
"""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
