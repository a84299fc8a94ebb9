"""Loads that start from cursor anchors, end to end: simulator on loopback -> load_window -> DuckDB.

The rows of every window are exactly those of a load without anchors, in both cursor conventions
and whatever order the windows are loaded in; an anchor the API refuses is dropped with a warning
and the walk falls back without losing a record; the anchor table is only a hint (deleting or
breaking it costs requests, not records). Also the DuckDB anchor store on its own.
"""

from __future__ import annotations

import itertools
import logging
import random
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from daily_provider.anchors import Anchor
from daily_provider.hooks.daily import DailyHook
from daily_provider.load import LoadSpec, LoadSummary, load_window
from daily_provider.scope import LoadScope
from daily_provider.simulator import FaultConfig, SimulatorConfig, SimulatorServer
from daily_provider.simulator.fakes import Domain
from daily_provider.warehouses.base import ANCHORS_TABLE, AnchorStore, anchor_store_of
from daily_provider.warehouses.duckdb import DuckDBWarehouse
from daily_provider.window import Window

KEY = "sim-key-anchors-0123"
DAY = [datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(days=n) for n in range(5)]
DOMAIN = Domain.for_seed(21).domain_id  # the simulators below use seed 21
SCOPE = LoadScope("daily_api_logs", "api", DOMAIN)
HOUR = timedelta(hours=1)


@pytest.fixture(params=["stripe", "literal"])
def simulator(request: pytest.FixtureRequest) -> Iterator[SimulatorServer]:
    config = SimulatorConfig(
        seed=21, days=4, api_per_day=250, webhook_per_day=20, convention=request.param, api_key=KEY
    )
    with SimulatorServer(config) as server:
        yield server


@pytest.fixture
def stripe_simulator() -> Iterator[SimulatorServer]:
    """For behaviours the cursor convention does not change (the table, scopes, fallbacks)."""
    config = SimulatorConfig(seed=21, days=4, api_per_day=250, webhook_per_day=20, api_key=KEY)
    with SimulatorServer(config) as server:
        yield server


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[DuckDBWarehouse]:
    store = DuckDBWarehouse(tmp_path / "logs.duckdb")
    store.connect()  # one connection for the test: faster, and no other process shares the file
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


def load(server: SimulatorServer, warehouse: DuckDBWarehouse, window: Window, **options: Any) -> LoadSummary:
    spec = LoadSpec(source="api", run_id="test", **options)
    return load_window(hook=hook_for(server), warehouse=warehouse, window=window, spec=spec)


def rows(warehouse: DuckDBWarehouse, table: str = "daily_api_logs") -> list[tuple[Any, ...]]:
    """Every column but the load's own metadata, ordered by id."""
    conn = warehouse.connect()
    return conn.execute(f'SELECT * EXCLUDE (_loaded_at, _run_id) FROM "{table}" ORDER BY id').fetchall()


def ids(warehouse: DuckDBWarehouse) -> set[str]:
    return {row[0] for row in warehouse.connect().execute("SELECT id FROM daily_api_logs").fetchall()}


def truth(server: SimulatorServer, start: datetime, end: datetime) -> set[str]:
    return {record["id"] for record in server.simulator.truth("api", start, end)}


def stored_anchors(warehouse: DuckDBWarehouse) -> list[Anchor]:
    return warehouse.anchors.find_anchors(SCOPE, at_or_after=DAY[0] - HOUR, limit=10_000)


def windows_over_three_days() -> list[Window]:
    # Day and part-day windows with edges on midnight tie clusters and at odd minutes.
    edges = [
        DAY[0],
        DAY[0] + timedelta(hours=6, minutes=30),
        DAY[1],
        DAY[1] + timedelta(hours=13, minutes=7, seconds=1),
        DAY[1] + timedelta(hours=20),
        DAY[2],
        DAY[3] - timedelta(milliseconds=1),
        DAY[3],
    ]
    return [Window(start, end) for start, end in itertools.pairwise(edges)]


# -- the same rows with and without anchors --------------------------------------------------------


def test_windows_in_any_order_load_the_same_rows_with_and_without_anchors(
    simulator: SimulatorServer, tmp_path: Path
) -> None:
    windows = windows_over_three_days()
    random.Random(simulator.config.convention).shuffle(windows)
    with_anchors = DuckDBWarehouse(tmp_path / "with.duckdb")
    without = DuckDBWarehouse(tmp_path / "without.duckdb")
    with_anchors.connect()
    without.connect()
    started_from_anchor = 0
    for window in windows:
        summary = load(simulator, with_anchors, window)
        started_from_anchor += summary.started_after is not None
        load(simulator, without, window, use_anchors=False)

    assert started_from_anchor > 0, "no window of the shuffled order started from an anchor"
    assert rows(with_anchors) == rows(without)
    assert ids(with_anchors) == truth(simulator, DAY[0], DAY[3])
    with_anchors.close()
    without.close()


def test_a_day_loaded_after_the_day_after_it_starts_exactly_at_its_end(
    simulator: SimulatorServer, warehouse: DuckDBWarehouse
) -> None:
    load(simulator, warehouse, Window(DAY[2], DAY[3]))
    (nearest,) = warehouse.anchors.find_anchors(SCOPE, at_or_after=DAY[2], limit=1)
    # The anchor for midnight is the last record of the midnight tie cluster.
    assert nearest.created_at == DAY[2] > nearest.older_created_at

    summary = load(simulator, warehouse, Window(DAY[1], DAY[2]))

    assert summary.started_after == nearest.record_id
    assert ids(warehouse) == truth(simulator, DAY[1], DAY[3])


def test_anchors_stay_about_one_per_hour_however_often_a_range_is_walked(
    stripe_simulator: SimulatorServer, warehouse: DuckDBWarehouse
) -> None:
    for _ in range(3):
        load(stripe_simulator, warehouse, Window(DAY[1], DAY[2]), use_anchors=True)
    anchors = stored_anchors(warehouse)
    marks = [anchor.mark for anchor in anchors]
    assert len(marks) == len(set(marks)) == len({anchor.record_id for anchor in anchors})
    # The walk passed hours from the newest record down to just below DAY[1].
    assert len(anchors) <= 3 * 24 + 1


def test_without_anchors_nothing_is_read_from_or_written_to_the_anchor_table(
    stripe_simulator: SimulatorServer, warehouse: DuckDBWarehouse
) -> None:
    summary = load(stripe_simulator, warehouse, Window(DAY[1], DAY[2]), use_anchors=False)
    assert summary.started_after is None
    tables = warehouse.connect().execute("SELECT table_name FROM information_schema.tables").fetchall()
    assert (ANCHORS_TABLE,) not in tables


def test_a_walk_from_an_anchor_through_faulty_pages_still_loads_exactly_the_truth(
    simulator: SimulatorServer, warehouse: DuckDBWarehouse
) -> None:
    load(simulator, warehouse, Window(DAY[2], DAY[3]))
    # Duplicates repeat the cursor record (the anchor itself on the first page), truncated and 5xx
    # pages are retried, a capped limit shortens pages.
    simulator.set_faults(
        FaultConfig(seed=8, duplicate_rate=0.8, truncate_rate=0.2, error_5xx_rate=0.2, max_limit=40)
    )

    summary = load(simulator, warehouse, Window(DAY[1], DAY[2]))

    assert summary.started_after is not None and summary.retries > 0
    assert simulator.stats()["faults_injected"].get("duplicate", 0) > 0
    assert ids(warehouse) == truth(simulator, DAY[1], DAY[3])


# -- anchors the API refuses -------------------------------------------------------------------------


def test_a_refused_anchor_is_dropped_with_a_warning_and_the_next_anchor_is_used(
    simulator: SimulatorServer, warehouse: DuckDBWarehouse, caplog: pytest.LogCaptureFixture
) -> None:
    load(simulator, warehouse, Window(DAY[2], DAY[3]))
    first, second = warehouse.anchors.find_anchors(SCOPE, at_or_after=DAY[1] + 20 * HOUR, limit=2)
    simulator.set_faults(FaultConfig(unknown_cursor_ids=frozenset({first.record_id})))
    caplog.set_level(logging.WARNING, logger="daily_provider")

    summary = load(simulator, warehouse, Window(DAY[1], DAY[1] + 20 * HOUR))

    assert summary.started_after == second.record_id
    assert summary.anchors_rejected == 1
    assert ids(warehouse) == truth(simulator, DAY[1], DAY[1] + 20 * HOUR) | truth(simulator, DAY[2], DAY[3])
    assert first.record_id not in {anchor.record_id for anchor in stored_anchors(warehouse)}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(first.record_id in text and "unknown log id" in text for text in warnings)


def test_when_every_anchor_is_refused_the_walk_starts_at_the_newest_record_and_loses_nothing(
    simulator: SimulatorServer, warehouse: DuckDBWarehouse
) -> None:
    window = Window(DAY[1], DAY[1] + 20 * HOUR)
    load(simulator, warehouse, Window(DAY[2], DAY[3]))
    candidates = warehouse.anchors.find_anchors(SCOPE, at_or_after=window.end, limit=3)
    refused = {anchor.record_id for anchor in candidates}
    simulator.set_faults(FaultConfig(unknown_cursor_ids=frozenset(refused)))

    summary = load(simulator, warehouse, window)

    assert summary.started_after is None
    assert summary.anchors_rejected == len(refused) == 3
    assert ids(warehouse) == truth(simulator, window.start, window.end) | truth(simulator, DAY[2], DAY[3])
    # Dropped, and not stored again although the fallback walk passed them.
    assert not refused & {anchor.record_id for anchor in stored_anchors(warehouse)}


def test_an_anchor_answered_by_an_empty_page_where_records_existed_is_dead_and_dropped(
    stripe_simulator: SimulatorServer, warehouse: DuckDBWarehouse
) -> None:
    # The oldest record of the data, stored as if older records had followed it (they expired).
    oldest = stripe_simulator.simulator.truth("api", DAY[0], DAY[0] + timedelta(milliseconds=1))[-1]
    expired = Anchor(
        record_id=oldest["id"],
        created_at=DAY[0],
        convention=stripe_simulator.config.convention,
        mark=DAY[0],
        older_id="expired-record",
        older_created_at=DAY[0] - timedelta(milliseconds=1),
    )
    warehouse.anchors.save_anchors(SCOPE, [expired])

    summary = load(stripe_simulator, warehouse, Window(DAY[0] - HOUR, DAY[0]))

    assert summary.anchors_rejected == 1 and summary.started_after is None
    assert expired.record_id not in {anchor.record_id for anchor in stored_anchors(warehouse)}


# -- the anchor table is only a hint ------------------------------------------------------------------


def test_deleting_the_anchor_table_costs_requests_not_records(
    stripe_simulator: SimulatorServer, warehouse: DuckDBWarehouse
) -> None:
    load(stripe_simulator, warehouse, Window(DAY[2], DAY[3]))
    warehouse.connect().execute(f"DROP TABLE {ANCHORS_TABLE}")

    summary = load(stripe_simulator, warehouse, Window(DAY[1], DAY[2]))

    assert summary.started_after is None
    assert ids(warehouse) == truth(stripe_simulator, DAY[1], DAY[3])
    assert stored_anchors(warehouse), "the load did not recreate the anchor table"


def test_a_broken_anchor_table_is_a_warning_and_the_load_still_succeeds(
    stripe_simulator: SimulatorServer, warehouse: DuckDBWarehouse, caplog: pytest.LogCaptureFixture
) -> None:
    warehouse.connect().execute(f"CREATE TABLE {ANCHORS_TABLE} (something_else INTEGER)")
    caplog.set_level(logging.WARNING, logger="daily_provider")

    summary = load(stripe_simulator, warehouse, Window(DAY[1], DAY[2]))

    assert summary.rows == len(truth(stripe_simulator, DAY[1], DAY[2]))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("could not read cursor anchors" in text for text in warnings)
    assert any("could not store" in text for text in warnings)


def test_a_url_filtered_walk_neither_uses_nor_overwrites_the_unfiltered_anchors(
    stripe_simulator: SimulatorServer, warehouse: DuckDBWarehouse
) -> None:
    load(stripe_simulator, warehouse, Window(DAY[2], DAY[3]))
    unfiltered = stored_anchors(warehouse)

    summary = load(
        stripe_simulator, warehouse, Window(DAY[1], DAY[2]), url_filter="/v1/rooms", table="daily_rooms_logs"
    )

    assert summary.started_after is None
    assert stored_anchors(warehouse) == unfiltered
    filtered = warehouse.anchors.find_anchors(
        LoadScope("daily_rooms_logs", "api", DOMAIN, "/v1/rooms"), at_or_after=DAY[0], limit=1000
    )
    urls = {record["id"]: record["url"] for record in stripe_simulator.simulator.truth("api", DAY[0], DAY[4])}
    assert filtered and {urls[anchor.record_id] for anchor in filtered} == {"/v1/rooms"}


# -- the DuckDB anchor store ------------------------------------------------------------------------


def anchor(hour: int, record_id: str, *, minute: int = 0) -> Anchor:
    mark = DAY[0] + hour * HOUR
    return Anchor(
        record_id=record_id,
        created_at=mark + timedelta(minutes=minute, milliseconds=7),
        convention="stripe",
        mark=mark,
        older_id=f"{record_id}-older",
        older_created_at=mark - timedelta(milliseconds=1),
    )


def test_the_duckdb_warehouse_keeps_an_anchor_store(warehouse: DuckDBWarehouse) -> None:
    assert isinstance(warehouse.anchors, AnchorStore)
    assert isinstance(anchor_store_of(warehouse), AnchorStore)


def test_duckdb_returns_the_nearest_anchors_at_or_after_the_end_with_exact_times(
    warehouse: DuckDBWarehouse,
) -> None:
    assert warehouse.anchors.find_anchors(SCOPE, at_or_after=DAY[0], limit=3) == []
    warehouse.anchors.save_anchors(SCOPE, [anchor(5, "e"), anchor(1, "a"), anchor(3, "c"), anchor(2, "b")])

    found = warehouse.anchors.find_anchors(SCOPE, at_or_after=DAY[0] + 2 * HOUR, limit=2)

    assert found == [anchor(2, "b"), anchor(3, "c")]


def test_duckdb_keeps_anchors_per_scope_one_per_mark_and_id_and_drops_by_id(
    warehouse: DuckDBWarehouse,
) -> None:
    other = LoadScope("daily_api_logs", "webhook", DOMAIN)
    other_domain = LoadScope("daily_api_logs", "api", "another-domain")
    warehouse.anchors.save_anchors(SCOPE, [anchor(1, "old-of-mark-1"), anchor(2, "moves"), anchor(4, "gone")])
    warehouse.anchors.save_anchors(other, [anchor(1, "gone")])
    warehouse.anchors.save_anchors(other_domain, [anchor(5, "theirs")])

    warehouse.anchors.save_anchors(SCOPE, [anchor(1, "new-of-mark-1", minute=5), anchor(3, "moves")])
    warehouse.anchors.drop_anchors(SCOPE, ["gone", "not-there"])

    assert [
        (a.mark, a.record_id) for a in warehouse.anchors.find_anchors(SCOPE, at_or_after=DAY[0], limit=9)
    ] == [
        (DAY[0] + HOUR, "new-of-mark-1"),
        (DAY[0] + 3 * HOUR, "moves"),
    ]
    assert [a.record_id for a in warehouse.anchors.find_anchors(other, at_or_after=DAY[0], limit=9)] == [
        "gone"
    ]
    assert [
        a.record_id for a in warehouse.anchors.find_anchors(other_domain, at_or_after=DAY[0], limit=9)
    ] == ["theirs"]
