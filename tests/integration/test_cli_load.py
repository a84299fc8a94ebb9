"""``daily-logs load`` runs the operator's load outside Airflow: truth in, exit codes out.

Most cases call ``cli.main`` in-process (starting a Python that imports Airflow costs seconds);
one runs the installed console script end to end.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest
from tests.cli_runner import Result, cli_runner

from daily_provider import cli
from daily_provider.simulator import SimulatorConfig, SimulatorServer

CONFIG = SimulatorConfig(seed=5, start="2026-01-01T00:00:00Z", days=2, api_per_day=300, webhook_per_day=60)
DAILY_LOGS = str(Path(sys.executable).with_name("daily-logs"))


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorServer]:
    with SimulatorServer(CONFIG) as running:
        yield running


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    return cli_runner(monkeypatch, capsys)


def run_process(command: list[str], server: SimulatorServer) -> subprocess.CompletedProcess[str]:
    """Run ``command`` in a new process with the simulator's key and URL in its environment."""
    environment = {k: v for k, v in os.environ.items() if k not in ("DAILY_API_KEY", "DAILY_API_BASE_URL")}
    environment.update(DAILY_API_KEY=CONFIG.api_key, DAILY_API_BASE_URL=server.base_url)
    return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=180, check=False)


def test_console_script_loads_a_window_end_to_end(server: SimulatorServer, tmp_path: Path) -> None:
    db = tmp_path / "script.duckdb"
    args = ["load", "--start", "2026-01-01T00:00:00Z", "--end", "2026-01-01T06:00:00Z", "--duckdb", str(db)]
    result = run_process([DAILY_LOGS, *args, "--requests-per-second", "500"], server)
    assert result.returncode == 0, result.stderr
    truth = server.simulator.truth("api", "2026-01-01T00:00:00Z", "2026-01-01T06:00:00Z")
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM daily_api_logs").fetchone() == (len(truth),)


def test_cli_load_does_not_import_airflow_and_stages_with_the_system_allocator(
    server: SimulatorServer, tmp_path: Path
) -> None:
    # Outside Airflow the CLI uses DailyClient; importing Airflow would cost seconds and >100 MB
    # of the memory budget of a load.
    args = [
        "load", "--start", "2026-01-01T00:00:00Z", "--end", "2026-01-01T03:00:00Z",
        "--duckdb", str(tmp_path / "plain.duckdb"), "--requests-per-second", "500",
    ]  # fmt: skip
    probe = (
        "import sys\n"
        "from daily_provider.cli import main\n"
        f"code = main({args!r})\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'airflow'))\n"
        "import pyarrow\n"
        "print(pyarrow.default_memory_pool().backend_name)\n"
        "sys.exit(code)\n"
    )
    result = run_process([sys.executable, "-c", probe], server)
    assert result.returncode == 0, result.stderr
    assert "loaded " in result.stdout
    *_, heavy_modules, pool = result.stdout.strip().splitlines()
    assert heavy_modules == "[]"
    # The system allocator returns staging's freed memory as it goes (see cli.main).
    assert pool == "system"


@pytest.mark.parametrize("source", ["api", "webhook"])
def test_cli_load_writes_exactly_the_window_and_exits_zero(
    server: SimulatorServer, tmp_path: Path, run: Callable[..., Result], source: str
) -> None:
    db = tmp_path / "cli.duckdb"
    result = run(
        [
            "load",
            "--source",
            source,
            "--start",
            "2026-01-01T00:00:00Z",
            "--end",
            "2026-01-02T00:00:00Z",
            "--duckdb",
            str(db),
            "--requests-per-second",
            "500",
        ],
        DAILY_API_KEY=CONFIG.api_key,
        DAILY_API_BASE_URL=server.base_url,
    )
    assert result.returncode == 0, result.stderr
    truth = server.simulator.truth(source, "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z")
    con = duckdb.connect(str(db), read_only=True)
    ids = [row[0] for row in con.execute(f"SELECT id FROM daily_{source}_logs ORDER BY id").fetchall()]
    assert ids == sorted(record["id"] for record in truth)
    assert f"loaded {len(truth)} {source} records" in result.stdout


def test_cli_base_url_flag_wins_over_the_environment(
    server: SimulatorServer, tmp_path: Path, run: Callable[..., Result]
) -> None:
    result = run(
        [
            "load",
            "--start",
            "2026-01-01T00:00:00Z",
            "--end",
            "2026-01-01T01:00:00Z",
            "--duckdb",
            str(tmp_path / "x.duckdb"),
            "--base-url",
            server.base_url,
            "--requests-per-second",
            "500",
        ],
        DAILY_API_KEY=CONFIG.api_key,
        DAILY_API_BASE_URL="http://127.0.0.1:9/v1",
    )
    assert result.returncode == 0, result.stderr


def test_cli_without_a_key_fails_with_one_line_and_no_request(
    server: SimulatorServer, tmp_path: Path, run: Callable[..., Result]
) -> None:
    before = server.stats()["requests"]
    result = run(
        [
            "load",
            "--start",
            "2026-01-01T00:00:00Z",
            "--end",
            "2026-01-02T00:00:00Z",
            "--duckdb",
            str(tmp_path / "x.duckdb"),
            "--base-url",
            server.base_url,
        ]
    )
    assert result.returncode == 1
    error_lines = [line for line in result.stderr.splitlines() if "error" in line]
    assert error_lines == [
        "daily-logs load: error: set DAILY_API_KEY to your Daily API key (it is never taken as an argument)"
    ]
    assert server.stats()["requests"] == before


def test_cli_wrong_key_fails_with_dailys_error_and_never_prints_the_key(
    server: SimulatorServer, tmp_path: Path, run: Callable[..., Result]
) -> None:
    wrong_key = "definitely-not-the-key-0123456789"
    result = run(
        [
            "load",
            "--start",
            "2026-01-01T00:00:00Z",
            "--end",
            "2026-01-02T00:00:00Z",
            "--duckdb",
            str(tmp_path / "x.duckdb"),
            "--base-url",
            server.base_url,
        ],
        DAILY_API_KEY=wrong_key,
    )
    assert result.returncode == 1
    assert "authentication-error" in result.stderr
    assert wrong_key not in result.stderr + result.stdout


def test_cli_reversed_window_fails_before_any_request(
    server: SimulatorServer, tmp_path: Path, run: Callable[..., Result]
) -> None:
    before = server.stats()["requests"]
    result = run(
        [
            "load",
            "--start",
            "2026-01-02T00:00:00Z",
            "--end",
            "2026-01-01T00:00:00Z",
            "--duckdb",
            str(tmp_path / "x.duckdb"),
            "--base-url",
            server.base_url,
        ],
        DAILY_API_KEY=CONFIG.api_key,
    )
    assert result.returncode == 1
    assert "start must come before end" in result.stderr
    assert server.stats()["requests"] == before


# -- settled windows only ---------------------------------------------------------------------------

DAY1 = ["--start", "2026-01-02T00:00:00Z", "--end", "2026-01-03T00:00:00Z"]
DAY1_END = datetime(2026, 1, 3, tzinfo=timezone.utc)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Day 1 ended 4 minutes ago; every requested sleep is recorded instead of slept."""
    monkeypatch.setattr(cli, "utc_now", lambda: DAY1_END + timedelta(minutes=4))
    sleeps: list[float] = []
    monkeypatch.setattr(cli, "sleep", sleeps.append)
    return sleeps


def loaded_ids(db: Path) -> list[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return [row[0] for row in con.execute("SELECT id FROM daily_api_logs ORDER BY id").fetchall()]


@pytest.mark.parametrize("command", ["load", "backfill"])
def test_cli_waits_until_the_window_has_settled_saying_until_when(
    server: SimulatorServer, tmp_path: Path, run: Callable[..., Result], clock: list[float], command: str
) -> None:
    db = tmp_path / "logs.duckdb"
    env = {"DAILY_API_KEY": CONFIG.api_key, "DAILY_API_BASE_URL": server.base_url}

    result = run([command, *DAY1, "--duckdb", str(db), "--requests-per-second", "1000"], **env)

    assert result.returncode == 0, result.stderr
    assert clock == [6 * 60.0]  # the default settle is 10 minutes; 4 have passed
    assert result.stderr.count("waiting until 2026-01-03T00:10:00+00:00") == 1
    truth = sorted(r["id"] for r in server.simulator.truth("api", "2026-01-02T00:00:00Z", DAY1_END))
    assert loaded_ids(db) == truth


def test_cli_no_wait_refuses_an_unsettled_window_before_any_request(
    server: SimulatorServer, tmp_path: Path, run: Callable[..., Result], clock: list[float]
) -> None:
    db = tmp_path / "logs.duckdb"
    env = {"DAILY_API_KEY": CONFIG.api_key, "DAILY_API_BASE_URL": server.base_url}
    before = server.stats()["requests"]

    result = run(["load", *DAY1, "--duckdb", str(db), "--no-wait"], **env)

    assert result.returncode == 1 and clock == []
    (line,) = result.stderr.strip().splitlines()
    assert "less than --settle 600s ago" in line and "2026-01-03T00:10:00+00:00" in line
    assert server.stats()["requests"] == before and not db.exists()


def test_cli_settle_zero_loads_at_once(
    server: SimulatorServer, tmp_path: Path, run: Callable[..., Result], clock: list[float]
) -> None:
    db = tmp_path / "logs.duckdb"
    env = {"DAILY_API_KEY": CONFIG.api_key, "DAILY_API_BASE_URL": server.base_url}

    result = run(["load", *DAY1, "--duckdb", str(db), "--settle", "0", "--no-wait"], **env)

    assert result.returncode == 0, result.stderr
    assert clock == [] and len(loaded_ids(db)) > 0


def flattened_columns(db: Path, table: str = "daily_api_logs") -> list[str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = ? "
            "AND (column_name LIKE 'request\\_\\_%' ESCAPE '\\' OR column_name LIKE 'response\\_\\_%' ESCAPE '\\')",
            [table],
        ).fetchall()
    finally:
        con.close()
    return sorted(row[0] for row in rows)


def presence_room_columns(db: Path) -> list[str]:
    """Flattened columns whose recorded JSON path is a key of a presence answer (a room name)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "SELECT column_name, comment FROM duckdb_columns() WHERE table_name = 'daily_api_logs'"
        ).fetchall()
    finally:
        con.close()
    purposes = ("all-hands", "support", "standup", "interview", "sales-demo", "office-hours", "1on1")
    return [
        name
        for name, comment in rows
        if (comment or "").startswith(tuple(f'response."{p}-' for p in purposes))
    ]


def test_cli_flattening_flags_reach_the_normalizer(
    server: SimulatorServer, tmp_path: Path, run: Callable[..., Result]
) -> None:
    env = {"DAILY_API_KEY": CONFIG.api_key, "DAILY_API_BASE_URL": server.base_url}
    window = ["--start", "2026-01-01T00:00:00Z", "--end", "2026-01-02T00:00:00Z", "--settle", "0"]

    default_db = tmp_path / "default.duckdb"
    assert run(["load", *window, "--duckdb", str(default_db)], **env).returncode == 0
    capped_db = tmp_path / "capped.duckdb"
    assert run(["load", *window, "--duckdb", str(capped_db), "--max-columns", "3"], **env).returncode == 0
    rooms_db = tmp_path / "rooms.duckdb"
    undeclared = ["--not-map-path", "GET /v1/presence response"]
    assert run(["load", *window, "--duckdb", str(rooms_db), *undeclared], **env).returncode == 0
    rule_db = tmp_path / "rule.duckdb"
    # The rule counts a window's keys: two days of presence answers name more than 50 rooms.
    two_days = ["--start", "2026-01-01T00:00:00Z", "--end", "2026-01-03T00:00:00Z", "--settle", "0"]
    assert run(["load", *two_days, "--duckdb", str(rule_db), "--no-default-map-paths"], **env).returncode == 0

    assert len(flattened_columns(default_db)) > 3
    assert len(flattened_columns(capped_db)) == 3
    # Presence answers are keyed by room name: declared a map by default, so no room becomes a column,
    # until the declaration and the key-count rule are both turned off (--not-map-path forces it flat).
    assert presence_room_columns(default_db) == []
    assert presence_room_columns(rooms_db) != []
    # With no map declared, the key-count rule finds presence's room names and keeps the body whole.
    assert presence_room_columns(rule_db) == []
    con = duckdb.connect(str(rule_db), read_only=True)
    try:
        kept_whole = con.execute("SELECT method, endpoint, body FROM daily_logs_maps").fetchall()
    finally:
        con.close()
    assert ("GET", "/v1/presence", "response") in kept_whole


def test_cli_bad_map_path_fails_with_one_line_before_any_request(
    server: SimulatorServer, tmp_path: Path, run: Callable[..., Result]
) -> None:
    env = {"DAILY_API_KEY": CONFIG.api_key, "DAILY_API_BASE_URL": server.base_url}
    server.simulator.reset_stats()
    args = ["load", "--start", "2026-01-01T00:00:00Z", "--end", "2026-01-01T01:00:00Z", "--settle", "0"]

    result = run([*args, "--duckdb", str(tmp_path / "x.duckdb"), "--map-path", "payload.sip_headers"], **env)

    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "payload.sip_headers" in result.stderr
    assert server.simulator.stats()["requests"] == 0
