"""How many requests loads cost, counted by the simulator's own request counter (counts, not time).

N = records in the loaded windows, page = 100 records, W = windows. The bounds (issue 4):
- one window with an anchor at or after its end: at most ceil(records / page) + 2;
- a 30-day daily backfill, newest window first: at most 1.1 x N / page + 3 x W;
- the same backfill oldest window first (Airflow's order): at most 2.2 x N / page + 3 x W;
- range mode over the 30 days: at most 1.1 x N / page + 3.
Every run also checks that the table holds exactly the simulator's truth. Each load also asks
``GET /v1/`` once for the key's domain; the counts include that request.

The 30-day runs use the literal convention, the costlier one: a walk from the newest record spends
one more request there to detect it (only the first walk of a backfill does; later ones start from
anchors that carry the convention). The single-window bound runs in both conventions, with pages
as a bare JSON array and as Daily's ``{"total_count", "data"}`` list object.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from daily_provider.hooks.daily import DailyHook
from daily_provider.load import LoadSpec, load_range, load_window
from daily_provider.simulator import SimulatorConfig, SimulatorServer
from daily_provider.warehouses.duckdb import DuckDBWarehouse
from daily_provider.window import Window

KEY = "sim-key-bounds-0123"
PAGE = 100
DAYS = 30
PER_DAY = 200
START = datetime(2026, 1, 1, tzinfo=timezone.utc)
DAY_WINDOWS = [Window(START + timedelta(days=n), START + timedelta(days=n + 1)) for n in range(DAYS)]


def serve(convention: str, page_shape: str = "array") -> SimulatorServer:
    # No client or server rate limit: the counts do not depend on it, and the test stays fast.
    config = SimulatorConfig(
        seed=41,
        days=DAYS,
        api_per_day=PER_DAY,
        webhook_per_day=0,
        convention=convention,
        page_shape=page_shape,
        api_key=KEY,
    )
    return SimulatorServer(config)


@pytest.fixture(
    params=[("stripe", "array"), ("literal", "array"), ("stripe", "object"), ("literal", "object")],
    ids=lambda param: "-".join(param),
)
def simulator(request: pytest.FixtureRequest) -> Iterator[SimulatorServer]:
    """Both cursor conventions, with pages as a bare array and as Daily's list object."""
    with serve(*request.param) as server:
        yield server


@pytest.fixture
def literal() -> Iterator[SimulatorServer]:
    with serve("literal") as server:
        yield server


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[DuckDBWarehouse]:
    store = DuckDBWarehouse(tmp_path / "logs.duckdb")
    store.connect()
    yield store
    store.close()


def hook_for(server: SimulatorServer) -> DailyHook:
    return DailyHook(api_key=KEY, base_url=server.base_url, requests_per_second=10_000.0, page_limit=PAGE)


def load(server: SimulatorServer, warehouse: DuckDBWarehouse, window: Window) -> int:
    """Load one window; return how many requests the simulator served for it."""
    before = server.stats()["requests"]
    summary = load_window(
        hook=hook_for(server), warehouse=warehouse, window=window, spec=LoadSpec(source="api", run_id="t")
    )
    served = server.stats()["requests"] - before
    assert summary.requests == served
    return served


def table_ids(warehouse: DuckDBWarehouse) -> list[str]:
    return sorted(row[0] for row in warehouse.connect().execute("SELECT id FROM daily_api_logs").fetchall())


def truth_ids(server: SimulatorServer, start: datetime, end: datetime) -> list[str]:
    return sorted(record["id"] for record in server.simulator.truth("api", start, end))


@pytest.mark.parametrize(
    "window",
    [
        DAY_WINDOWS[18],
        Window(DAY_WINDOWS[18].start + timedelta(hours=5), DAY_WINDOWS[18].start + timedelta(hours=17)),
    ],
    ids=["a day", "twelve hours"],
)
def test_one_window_with_an_anchor_at_its_end_costs_at_most_its_pages_plus_two(
    simulator: SimulatorServer, warehouse: DuckDBWarehouse, window: Window
) -> None:
    load(simulator, warehouse, DAY_WINDOWS[19])  # from the newest record; leaves anchors behind

    served = load(simulator, warehouse, window)

    records = len(truth_ids(simulator, window.start, window.end))
    assert records > 0
    assert served <= math.ceil(records / PAGE) + 2
    later = DAY_WINDOWS[19]
    expected = truth_ids(simulator, window.start, window.end) + truth_ids(simulator, later.start, later.end)
    assert table_ids(warehouse) == sorted(expected)


def test_a_30_day_backfill_newest_window_first_costs_at_most_1_1_n_per_page_plus_3_per_window(
    literal: SimulatorServer, warehouse: DuckDBWarehouse
) -> None:
    served = sum(load(literal, warehouse, window) for window in reversed(DAY_WINDOWS))

    n = len(truth_ids(literal, START, DAY_WINDOWS[-1].end))
    assert served <= 1.1 * n / PAGE + 3 * DAYS
    assert table_ids(warehouse) == truth_ids(literal, START, DAY_WINDOWS[-1].end)


def test_a_30_day_backfill_oldest_window_first_costs_at_most_2_2_n_per_page_plus_3_per_window(
    literal: SimulatorServer, warehouse: DuckDBWarehouse
) -> None:
    served = sum(load(literal, warehouse, window) for window in DAY_WINDOWS)

    n = len(truth_ids(literal, START, DAY_WINDOWS[-1].end))
    assert served <= 2.2 * n / PAGE + 3 * DAYS
    assert table_ids(warehouse) == truth_ids(literal, START, DAY_WINDOWS[-1].end)


def test_range_mode_over_30_days_costs_at_most_1_1_n_per_page_plus_3(
    literal: SimulatorServer, warehouse: DuckDBWarehouse
) -> None:
    summary = load_range(
        hook=hook_for(literal),
        warehouse=warehouse,
        window=Window(START, DAY_WINDOWS[-1].end),
        spec=LoadSpec(source="api", run_id="t"),
    )

    n = len(truth_ids(literal, START, DAY_WINDOWS[-1].end))
    served = literal.stats()["requests"]
    assert served == summary.requests
    assert served <= 1.1 * n / PAGE + 3
    assert len(summary.windows) == DAYS
    assert table_ids(warehouse) == truth_ids(literal, START, DAY_WINDOWS[-1].end)
