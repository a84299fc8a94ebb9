"""Range mode: one walk over a multi-day range, each day replaced atomically once the walk is past it.

Simulator on loopback -> load_range / ``daily-logs backfill`` -> DuckDB on a temp file. Stale rows
stand in for what an earlier, different load left, so a replaced day is told from an untouched one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from daily_provider.cli import main
from daily_provider.exceptions import DailyAPIError
from daily_provider.hooks.daily import DailyHook
from daily_provider.load import LoadSpec, RangeSummary, load_range, load_window, split_window
from daily_provider.simulator import FaultConfig, SimulatorConfig, SimulatorServer
from daily_provider.warehouses.duckdb import DuckDBWarehouse
from daily_provider.window import Window

KEY = "sim-key-range-0123"
DAY = [datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(days=n) for n in range(8)]
BEFORE_DATA = DAY[0] - timedelta(days=1)


@pytest.fixture(params=["stripe", "literal"])
def simulator(request: pytest.FixtureRequest) -> Iterator[SimulatorServer]:
    config = SimulatorConfig(
        seed=51, days=6, api_per_day=150, webhook_per_day=10, convention=request.param, api_key=KEY
    )
    with SimulatorServer(config) as server:
        yield server


@pytest.fixture
def stripe_simulator() -> Iterator[SimulatorServer]:
    """For behaviours the cursor convention does not change."""
    config = SimulatorConfig(seed=51, days=6, api_per_day=150, webhook_per_day=10, api_key=KEY)
    with SimulatorServer(config) as server:
        yield server


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[DuckDBWarehouse]:
    store = DuckDBWarehouse(tmp_path / "logs.duckdb")
    store.connect()
    yield store
    store.close()


def hook_for(server: SimulatorServer) -> DailyHook:
    return DailyHook(
        api_key=KEY,
        base_url=server.base_url,
        requests_per_second=1000.0,
        backoff_base=0.001,
        backoff_max=0.002,
    )


def backfill(
    server: SimulatorServer, warehouse: DuckDBWarehouse, window: Window, **options: Any
) -> RangeSummary:
    return load_range(
        hook=hook_for(server),
        warehouse=warehouse,
        window=window,
        spec=LoadSpec(source="api", run_id="range"),
        **options,
    )


def add_stale_rows(warehouse: DuckDBWarehouse, days: list[datetime], tmp_path: Path) -> None:
    """Rows of another timeline of the same Daily domain in ``days``: what a replace of a day must remove."""
    config = SimulatorConfig(
        seed=99,
        domain_seed=51,
        start="2025-12-31T00:00:00Z",
        days=9,
        api_per_day=20,
        webhook_per_day=1,
        api_key=KEY,
    )
    with SimulatorServer(config) as other:
        for day in days:
            load_window(
                hook=hook_for(other),
                warehouse=warehouse,
                window=Window(day, day + timedelta(days=1)),
                spec=LoadSpec(source="api", run_id="stale", use_anchors=False, staging_dir=tmp_path),
            )


def ids_between(warehouse: DuckDBWarehouse, start: datetime, end: datetime) -> set[str]:
    rows = warehouse.connect().execute(
        "SELECT id FROM daily_api_logs WHERE created_at >= $start AND created_at < $end",
        {"start": start, "end": end},
    )
    return {row[0] for row in rows.fetchall()}


def truth(server: SimulatorServer, start: datetime, end: datetime) -> set[str]:
    return {record["id"] for record in server.simulator.truth("api", start, end)}


def audit(warehouse: DuckDBWarehouse) -> list[tuple[Any, ...]]:
    return (
        warehouse.connect()
        .execute(
            "SELECT window_start, window_end, status, rows FROM daily_logs_loads WHERE run_id = 'range' "
            "ORDER BY window_start"
        )
        .fetchall()
    )


def test_every_day_of_the_range_holds_exactly_its_records_and_days_outside_are_untouched(
    simulator: SimulatorServer, warehouse: DuckDBWarehouse, tmp_path: Path
) -> None:
    add_stale_rows(warehouse, [DAY[0], DAY[2], DAY[4], DAY[5]], tmp_path)
    stale_outside = ids_between(warehouse, DAY[0], DAY[1]) | ids_between(warehouse, DAY[5], DAY[6])

    summary = backfill(simulator, warehouse, Window(DAY[1], DAY[5]))

    for day in DAY[1:5]:
        assert ids_between(warehouse, day, day + timedelta(days=1)) == truth(
            simulator, day, day + timedelta(days=1)
        )
    assert ids_between(warehouse, DAY[0], DAY[1]) | ids_between(warehouse, DAY[5], DAY[6]) == stale_outside
    assert [(w.window_start, w.window_end) for w in summary.windows] == [
        (day, day + timedelta(days=1)) for day in DAY[1:5]
    ]
    assert summary.rows == len(truth(simulator, DAY[1], DAY[5]))
    assert audit(warehouse) == [
        (day, day + timedelta(days=1), "success", len(truth(simulator, day, day + timedelta(days=1))))
        for day in DAY[1:5]
    ]
    assert sum(w.requests for w in summary.windows) == summary.requests == simulator.stats()["requests"]


def test_a_day_the_walk_passes_empty_is_emptied_and_a_day_older_than_dailys_data_is_kept(
    stripe_simulator: SimulatorServer, warehouse: DuckDBWarehouse, tmp_path: Path
) -> None:
    # The day after the data ends: the walk passes it and finds nothing, so it is emptied. The day
    # before the data begins: Daily has nothing that old (as after retention), so it is not covered
    # and its rows stay.
    add_stale_rows(warehouse, [BEFORE_DATA, DAY[6]], tmp_path)
    kept = ids_between(warehouse, BEFORE_DATA, DAY[0])
    assert kept

    summary = backfill(stripe_simulator, warehouse, Window(BEFORE_DATA, DAY[7]))

    assert ids_between(warehouse, BEFORE_DATA, DAY[0]) == kept
    assert ids_between(warehouse, DAY[6], DAY[7]) == set()
    assert ids_between(warehouse, DAY[0], DAY[7]) == truth(stripe_simulator, DAY[0], DAY[6])
    assert (summary.windows[0].status, summary.windows[0].rows) == ("not_covered", 0)
    assert (summary.windows[-1].status, summary.windows[-1].rows) == ("success", 0)


def test_a_failure_mid_walk_leaves_passed_days_replaced_and_the_rest_as_they_were(
    simulator: SimulatorServer, warehouse: DuckDBWarehouse, tmp_path: Path
) -> None:
    add_stale_rows(warehouse, DAY[0:5], tmp_path)
    before = {day: ids_between(warehouse, day, day + timedelta(days=1)) for day in DAY[0:5]}
    # 150 records a day, 100 a page, from the newest record (end of DAY[5]): after five pages the
    # walk is inside DAY[2] when the key is revoked. Asking for the key's domain costs one request
    # before them, detecting literal one more.
    pages = 1 + 5 + (simulator.config.convention == "literal")
    simulator.set_faults(FaultConfig(auth_fail_after=pages))

    with pytest.raises(DailyAPIError, match="401"):
        backfill(simulator, warehouse, Window(DAY[0], DAY[5]))

    for day in (DAY[3], DAY[4]):  # passed: replaced
        assert ids_between(warehouse, day, day + timedelta(days=1)) == truth(
            simulator, day, day + timedelta(days=1)
        )
    for day in (DAY[0], DAY[1], DAY[2]):  # the failed day and the older ones: untouched
        assert ids_between(warehouse, day, day + timedelta(days=1)) == before[day]
    assert [(start, status) for start, _, status, _ in audit(warehouse)] == [
        (DAY[2], "failed"),
        (DAY[3], "success"),
        (DAY[4], "success"),
    ]


def test_the_range_is_cut_at_utc_multiples_of_the_step(
    stripe_simulator: SimulatorServer, warehouse: DuckDBWarehouse
) -> None:
    window = Window(DAY[1] + timedelta(hours=3), DAY[2] + timedelta(hours=2))

    summary = backfill(stripe_simulator, warehouse, window, step=timedelta(hours=6))

    edges = [w.window_start for w in summary.windows] + [summary.windows[-1].window_end]
    assert edges == [DAY[1] + timedelta(hours=h) for h in (3, 6, 12, 18, 24, 26)]
    assert ids_between(warehouse, DAY[0], DAY[7]) == truth(stripe_simulator, window.start, window.end)


def test_split_window_gives_partial_first_and_last_pieces_and_refuses_a_zero_step() -> None:
    window = Window(DAY[1] + timedelta(hours=20), DAY[3] + timedelta(hours=1))
    assert [(w.start, w.end) for w in split_window(window, timedelta(days=1))] == [
        (DAY[1] + timedelta(hours=20), DAY[2]),
        (DAY[2], DAY[3]),
        (DAY[3], DAY[3] + timedelta(hours=1)),
    ]
    with pytest.raises(ValueError, match="step"):
        split_window(window, timedelta(0))


def test_a_window_loaded_after_a_range_starts_from_an_anchor_the_range_walk_left(
    stripe_simulator: SimulatorServer, warehouse: DuckDBWarehouse
) -> None:
    backfill(stripe_simulator, warehouse, Window(DAY[1], DAY[5]))

    summary = load_window(
        hook=hook_for(stripe_simulator),
        warehouse=warehouse,
        window=Window(DAY[2], DAY[3]),
        spec=LoadSpec(source="api", run_id="rerun"),
    )

    assert summary.started_after is not None
    assert ids_between(warehouse, DAY[2], DAY[3]) == truth(stripe_simulator, DAY[2], DAY[3])


def child_processes() -> set[int]:
    """The process ids of this process's children that are still running (or not yet reaped)."""
    pids: set[int] = set()
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/children") as listing:
                pids.update(int(pid) for pid in listing.read().split())
        except FileNotFoundError:  # a thread that ended since the listing
            continue
    return pids


def test_the_backfill_command_loads_the_range_day_by_day_and_prints_a_summary(
    stripe_simulator: SimulatorServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DAILY_API_KEY", KEY)
    database = tmp_path / "cli.duckdb"
    children_before = child_processes()

    code = main(
        [
            "backfill",
            "--source",
            "api",
            "--start",
            "2026-01-02T00:00:00Z",
            "--end",
            "2026-01-05T00:00:00Z",
            "--duckdb",
            str(database),
            "--base-url",
            stripe_simulator.base_url,
            "--requests-per-second",
            "1000",
        ]
    )

    assert code == 0
    # The days are small: one staging process staged all three, and was stopped at the walk's end.
    assert child_processes() <= children_before  # none of its children is left
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 4 and "as 3 windows in one walk" in out[-1]
    assert KEY not in "".join(out)
    with DuckDBWarehouse(database) as check:
        assert ids_between(check, DAY[0], DAY[7]) == truth(stripe_simulator, DAY[1], DAY[4])


def test_the_backfill_command_refuses_a_step_under_an_hour(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DAILY_API_KEY", KEY)
    args = ["backfill", "--start", "2026-01-02T00:00:00Z", "--end", "2026-01-05T00:00:00Z"]
    code = main([*args, "--duckdb", str(tmp_path / "x.duckdb"), "--step-hours", "0"])
    assert code == 1
    assert "--step-hours 0 must be at least 1" in capsys.readouterr().err
