"""``airflow connections test`` on a ``daily`` connection answers through DailyHook.test_connection.

Airflow's CLI finds the hook from the connection type (the provider's ``get_provider_info``), builds
it with the connection id and calls ``test_connection``: one cheap request to the simulator here.
The CLI runs as its own process, as an operator on call would type it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from daily_provider.simulator import SimulatorConfig, SimulatorServer

KEY = "sk-conn-test-9f8e7d6c5b4a39281706"
WRONG_KEY = "sk-conn-test-wrong-00112233445566"
CONFIG = SimulatorConfig(
    seed=3, start="2026-01-01T00:00:00Z", days=1, api_per_day=20, webhook_per_day=5, api_key=KEY
)
AIRFLOW = str(Path(sys.executable).with_name("airflow"))


def _connections_test(conn_id: str, base_url: str, key: str) -> subprocess.CompletedProcess[str]:
    env = os.environ.copy()
    env["AIRFLOW__CORE__TEST_CONNECTION"] = "Enabled"
    env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(
        {"conn_type": "daily", "host": base_url, "password": key}
    )
    return subprocess.run(
        [AIRFLOW, "connections", "test", conn_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_airflow_connections_test_reports_success_and_a_wrong_key_without_echoing_either() -> None:
    with SimulatorServer(CONFIG) as server:
        good = _connections_test("daily_cli_ok", server.base_url, KEY)
        bad = _connections_test("daily_cli_wrong", server.base_url, WRONG_KEY)
        by_status = server.stats()["by_status"]

    assert good.returncode == 0, good.stdout + good.stderr
    assert "Connection success!" in good.stdout
    # A failed test exits 1 on Airflow 3.3 but 0 on 3.0.2: the message is the answer.
    assert "Connection failed!" in bad.stdout, bad.stdout + bad.stderr
    # The hook's message: what Daily answered (401) for this connection, so the fix is obvious.
    assert "401" in bad.stdout
    for result in (good, bad):
        output = result.stdout + result.stderr
        assert KEY not in output and WRONG_KEY not in output
    # One request each: the CLI really asked the simulator, and did not retry the 401.
    assert {int(status): count for status, count in by_status.items()} == {200: 1, 401: 1}
