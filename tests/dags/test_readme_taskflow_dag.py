"""The README's TaskFlow example runs as written: copied into a DAGs folder, it imports, and its task,
executed the way Airflow executes it (context keys passed by argument name) against the simulator,
returns the day's error counts."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest

from daily_provider.simulator import SimulatorConfig, SimulatorServer
from tests.airflow_versions import dagbag

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def _taskflow_example() -> str:
    (block,) = [
        block
        for block in re.findall(r"^```python\n(.*?)^```$", README, flags=re.MULTILINE | re.DOTALL)
        if "DailyHook()" in block and "@task" in block
    ]
    return block


def test_the_readmes_taskflow_dag_counts_the_days_errors(
    airflow_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "daily_api_errors.py").write_text(_taskflow_example())
    config = SimulatorConfig(
        seed=31, start="2026-01-01T00:00:00Z", days=2, api_per_day=150, webhook_per_day=10
    )
    start, end = datetime(2026, 1, 1, tzinfo=timezone.utc), datetime(2026, 1, 2, tzinfo=timezone.utc)
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
        bag = dagbag(str(folder))
        assert bag.import_errors == {}
        task = bag.get_dag("daily_api_errors").get_task("count_errors")
        assert task.pool == "daily_api"
        # The operator's own execute: Airflow passes the context keys the function names as arguments.
        result = task.execute({"data_interval_start": start, "data_interval_end": end})
        expected = Counter(
            f"{record['method']} {record['status']}"
            for record in server.simulator.truth("api", start, end)
            if int(record["status"]) >= 400
        )
    assert result == dict(expected) != {}
