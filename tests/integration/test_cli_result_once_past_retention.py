"""``daily-logs load`` prints its result once also when Daily's retention cut the window (PARTIAL,
NOT_COVERED): issue 18's "the load's result line is printed twice". A partial or not-covered result
starts with its status ("PARTIAL: ...", "NOT_COVERED: "), so a filter on "loaded ..." missed it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from daily_provider.simulator import FaultConfig, SimulatorConfig, SimulatorServer

CONFIG = SimulatorConfig(
    seed=5,
    start="2026-01-01T00:00:00Z",
    days=2,
    api_per_day=120,
    webhook_per_day=20,
)
DAILY_LOGS = str(Path(sys.executable).with_name("daily-logs"))


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorServer]:
    with SimulatorServer(CONFIG) as running:
        running.set_faults(FaultConfig(retention_before="2026-01-02T12:00:00Z"))
        yield running


@pytest.mark.parametrize(
    ("start", "end", "status"),
    [
        ("2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z", "PARTIAL: "),
        ("2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", "NOT_COVERED: "),
    ],
)
def test_a_result_cut_by_retention_is_printed_once(
    server: SimulatorServer, tmp_path: Path, start: str, end: str, status: str
) -> None:
    environment = {k: v for k, v in os.environ.items() if k not in ("DAILY_API_KEY", "DAILY_API_BASE_URL")}
    environment.update(DAILY_API_KEY=CONFIG.api_key, DAILY_API_BASE_URL=server.base_url)
    result = subprocess.run(
        [
            *(DAILY_LOGS, "load", "--start", start, "--end", end, "--duckdb", str(tmp_path / "cut.duckdb")),
            *("--requests-per-second", "1000", "--no-anchors"),
        ],
        capture_output=True,
        text=True,
        env=environment,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    (summary,) = [line for line in result.stdout.splitlines() if line.startswith(status)]
    assert summary not in result.stderr
