"""What ``daily-logs`` prints: each result once on stdout (logs on stderr), or one JSON document with
``--json`` for scripts; the simulator on loopback is the API.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.cli_runner import Result, cli_runner

from daily_provider.simulator import SimulatorConfig, SimulatorServer

CONFIG = SimulatorConfig(seed=7, start="2026-01-01T00:00:00Z", days=3, api_per_day=200, webhook_per_day=40)
DAILY_LOGS = str(Path(sys.executable).with_name("daily-logs"))
FAST = ["--requests-per-second", "1000"]


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorServer]:
    with SimulatorServer(CONFIG) as running:
        yield running


@pytest.fixture
def run(
    server: SimulatorServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., Result]:
    return cli_runner(monkeypatch, capsys, DAILY_API_KEY=CONFIG.api_key, DAILY_API_BASE_URL=server.base_url)


def count_ids(server: SimulatorServer, source: str, start: str, end: str) -> int:
    return len(server.simulator.truth(source, start, end))


@pytest.mark.parametrize(
    ("command", "result_line"),
    [
        (["load", "--start", "2026-01-01T00:00:00Z", "--end", "2026-01-01T12:00:00Z"], "loaded "),
        (["backfill", "--start", "2026-01-01T00:00:00Z", "--end", "2026-01-03T00:00:00Z"], "as 2 windows"),
    ],
)
def test_the_result_is_printed_once_on_stdout_and_not_repeated_by_the_log(
    server: SimulatorServer, tmp_path: Path, command: list[str], result_line: str
) -> None:
    # A real process: in-process, pytest captures the log records and the repeat would not show.
    environment = {k: v for k, v in os.environ.items() if k not in ("DAILY_API_KEY", "DAILY_API_BASE_URL")}
    environment.update(DAILY_API_KEY=CONFIG.api_key, DAILY_API_BASE_URL=server.base_url)
    result = subprocess.run(
        [DAILY_LOGS, *command, "--duckdb", str(tmp_path / "once.duckdb"), *FAST],
        capture_output=True,
        text=True,
        env=environment,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    (summary,) = [line for line in result.stdout.splitlines() if result_line in line]
    assert summary not in result.stderr
    assert "INFO daily_provider" in result.stderr  # progress logs still go to stderr


def test_load_json_is_one_document_with_the_loads_counts(
    server: SimulatorServer, run: Callable[..., Result], tmp_path: Path
) -> None:
    start, end = "2026-01-01T00:00:00Z", "2026-01-01T12:00:00Z"
    result = run(
        ["load", "--start", start, "--end", end, "--duckdb", str(tmp_path / "j.duckdb"), *FAST, "--json"]
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 1
    document = json.loads(result.stdout)
    assert document["rows"] == count_ids(server, "api", start, end)
    assert (document["window_start"], document["window_end"]) == (
        "2026-01-01T00:00:00+00:00",
        "2026-01-01T12:00:00+00:00",
    )
    assert document["source"] == "api" and document["table"] == "daily_api_logs"
    assert document["requests"] >= document["pages"] >= 1


def test_backfill_json_holds_the_range_and_each_replaced_day(
    server: SimulatorServer, run: Callable[..., Result], tmp_path: Path
) -> None:
    args = [
        "backfill",
        "--source",
        "webhook",
        "--start",
        "2026-01-01T00:00:00Z",
        "--end",
        "2026-01-03T00:00:00Z",
    ]
    result = run([*args, "--duckdb", str(tmp_path / "b.duckdb"), *FAST, "--json"])
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    days = [(w["window_start"][:10], w["rows"]) for w in document["windows"]]
    assert days == [
        ("2026-01-01", count_ids(server, "webhook", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z")),
        ("2026-01-02", count_ids(server, "webhook", "2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z")),
    ]
    assert document["rows"] == sum(rows for _, rows in days)


def test_summary_json_matches_what_was_loaded(
    server: SimulatorServer, run: Callable[..., Result], tmp_path: Path
) -> None:
    database = str(tmp_path / "s.duckdb")
    start, end = "2026-01-01T00:00:00Z", "2026-01-03T00:00:00Z"
    assert run(["backfill", "--start", start, "--end", end, "--duckdb", database, *FAST]).returncode == 0

    result = run(["summary", "--duckdb", database, "--json"])
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    api = document["tables"]["daily_api_logs"]
    assert api["rows_per_day"] == [
        {
            "day": "2026-01-01",
            "source": "api",
            "rows": count_ids(server, "api", start, "2026-01-02T00:00:00Z"),
        },
        {"day": "2026-01-02", "source": "api", "rows": count_ids(server, "api", "2026-01-02T00:00:00Z", end)},
    ]
    assert api["quality"][0]["rows"] == count_ids(server, "api", start, end)
    assert document["tables"]["daily_webhook_logs"] is None  # never loaded
    assert [(load["source"], load["status"], load["loads"]) for load in document["loads"]] == [
        ("api", "success", 2)
    ]
    # The text form reads the same queries.
    text = run(["summary", "--duckdb", database]).stdout
    assert "daily_webhook_logs: not loaded yet" in text
    assert str(api["quality"][0]["rows"]) in text


def test_a_base_url_without_v1_loads_from_dailys_v1_paths(
    server: SimulatorServer, run: Callable[..., Result], tmp_path: Path
) -> None:
    bare = server.base_url.removesuffix("/v1")
    args = ["load", "--start", "2026-01-01T00:00:00Z", "--end", "2026-01-01T01:00:00Z"]
    result = run([*args, "--duckdb", str(tmp_path / "bare.duckdb"), "--base-url", bare, *FAST, "--json"])
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["rows"] == count_ids(
        server, "api", "2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z"
    )


def test_simulate_on_a_port_in_use_is_one_line_and_exit_one(
    server: SimulatorServer, run: Callable[..., Result]
) -> None:
    result = run(["simulate", "--port", str(server.port)])
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("daily-logs simulate: error: ") and "in use" in line
    assert result.stdout == ""
