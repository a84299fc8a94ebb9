"""load_window and load_range as the orchestration they are: simulator on loopback -> DuckDB file.

What the walk, the staging and the warehouse do on their own is tested beside them; these tests
pin what ``load.py`` adds on top: the ledger row of each attempt, a failed replace leaving the
table and the earlier ledger rows as they were, the split of one
range walk's requests between its windows, and what the anchors of a failed walk are worth.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from daily_provider.exceptions import WarehouseError
from daily_provider.hooks.daily import DailyHook
from daily_provider.load import LoadSpec, LoadSummary, load_range, load_window
from daily_provider.normalize import NormalizeConfig
from daily_provider.scope import ReplaceScope
from daily_provider.simulator import SimulatorConfig, SimulatorServer
from daily_provider.warehouses.base import LoadRecord, StagedWindow
from daily_provider.warehouses.duckdb import DuckDBWarehouse
from daily_provider.window import Window

KEY = "sim-key-load-0123"
DAY0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
SPEC = LoadSpec(source="api", run_id="first")


def day(n: int) -> Window:
    return Window(DAY0 + timedelta(days=n), DAY0 + timedelta(days=n + 1))


@pytest.fixture
def server() -> Iterator[SimulatorServer]:
    config = SimulatorConfig(seed=23, days=3, api_per_day=120, webhook_per_day=0, api_key=KEY)
    with SimulatorServer(config) as running:
        yield running


def hook_for(server: SimulatorServer) -> DailyHook:
    # Small pages: each day takes several requests, so their split between windows shows.
    return DailyHook(api_key=KEY, base_url=server.base_url, requests_per_second=10_000.0, page_limit=25)


class RefusingReplace(DuckDBWarehouse):
    """A DuckDB warehouse whose replace fails, as a full disk or a lost connection would."""

    def replace_window(self, *, scope: ReplaceScope, staged: StagedWindow) -> int:
        raise WarehouseError(f"disk full while replacing {scope}")


class RecordingLedger(DuckDBWarehouse):
    """A DuckDB warehouse that also keeps the (load id, status) of every ledger write, in order."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, threads=1, memory_limit="256MB")
        self.ledger_writes: list[tuple[str, str]] = []

    def record_load(self, record: LoadRecord) -> None:
        self.ledger_writes.append((record.load_id, record.status))
        super().record_load(record)


def table(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with DuckDBWarehouse(db) as warehouse:
        return warehouse.connect().execute(sql).fetchall()


def logs(db: Path) -> list[tuple[Any, ...]]:
    return table(db, "SELECT * FROM daily_api_logs ORDER BY id")


def ledger(db: Path) -> list[tuple[Any, ...]]:
    return table(db, "SELECT * FROM daily_logs_loads ORDER BY started_at")


def truth(server: SimulatorServer, window: Window) -> list[str]:
    return sorted(r["id"] for r in server.simulator.truth("api", window.start, window.end))


def test_a_replace_that_fails_leaves_the_table_and_earlier_ledger_rows_as_they_were(
    server: SimulatorServer, tmp_path: Path
) -> None:
    db = tmp_path / "logs.duckdb"
    with DuckDBWarehouse(db) as warehouse:
        load_window(hook=hook_for(server), warehouse=warehouse, window=day(1), spec=SPEC)
    rows_before, ledger_before = logs(db), ledger(db)

    with RefusingReplace(db) as failing, pytest.raises(WarehouseError, match="disk full"):
        spec = LoadSpec(source="api", run_id="second")
        load_window(hook=hook_for(server), warehouse=failing, window=day(1), spec=spec)

    assert logs(db) == rows_before
    after = ledger(db)
    assert after[: len(ledger_before)] == ledger_before
    (failed,) = table(
        db,
        "SELECT status, rows, error, finished_at IS NOT NULL FROM daily_logs_loads WHERE run_id = 'second'",
    )
    assert failed[:2] == ("failed", 0)
    assert failed[2].startswith("WarehouseError: disk full") and failed[3]


def test_a_window_is_recorded_running_then_success_and_its_ledger_row_matches_its_summary(
    server: SimulatorServer, tmp_path: Path
) -> None:
    db = tmp_path / "logs.duckdb"
    with RecordingLedger(db) as warehouse:
        summary = load_window(hook=hook_for(server), warehouse=warehouse, window=day(1), spec=SPEC)

    assert warehouse.ledger_writes == [(summary.load_id, "running"), (summary.load_id, "success")]
    (row,) = table(
        db,
        "SELECT load_id, status, rows, requests, pages, retries, covered_start, covered_end, domain_id, "
        "url_filter FROM daily_logs_loads",
    )
    assert row == (
        summary.load_id,
        "success",
        len(truth(server, day(1))),
        summary.requests,
        summary.pages,
        summary.retries,
        day(1).start,
        day(1).end,
        summary.domain_id,
        None,
    )
    assert summary.rows == len(truth(server, day(1))) and summary.requests > 2


def test_range_mode_splits_the_walks_requests_between_its_windows_and_records_each(
    server: SimulatorServer, tmp_path: Path
) -> None:
    db = tmp_path / "logs.duckdb"
    server.reset_stats()
    with DuckDBWarehouse(db) as warehouse:
        summary = load_range(
            hook=hook_for(server), warehouse=warehouse, window=Window(day(0).start, day(2).end), spec=SPEC
        )
    served = server.stats()["requests"]

    windows = summary.windows
    assert [(w.window_start, w.window_end) for w in windows] == [(day(n).start, day(n).end) for n in range(3)]
    assert sum(w.requests for w in windows) == summary.requests == served
    assert all(w.requests > 0 for w in windows), [w.requests for w in windows]
    assert [w.rows for w in windows] == [len(truth(server, day(n))) for n in range(3)]
    assert len({w.load_id for w in windows}) == 3
    recorded = table(
        db, "SELECT load_id, window_start, status, rows, requests FROM daily_logs_loads ORDER BY window_start"
    )
    assert recorded == [(w.load_id, w.window_start, "success", w.rows, w.requests) for w in windows]


def test_the_anchors_a_failed_walk_passed_are_kept_so_the_retry_starts_next_to_its_window(
    server: SimulatorServer, tmp_path: Path
) -> None:
    # Anchors describe Daily's records, not the table: a walk that failed at its replace still
    # passed real records, and its retry should not pay again for the newer days.
    db = tmp_path / "logs.duckdb"
    with RefusingReplace(db) as failing, pytest.raises(WarehouseError):
        load_window(hook=hook_for(server), warehouse=failing, window=day(0), spec=SPEC)
    server.reset_stats()

    with DuckDBWarehouse(db) as warehouse:
        retry: LoadSummary = load_window(hook=hook_for(server), warehouse=warehouse, window=day(0), spec=SPEC)

    assert retry.started_after is not None
    day_pages = -(-len(truth(server, day(0))) // 25)
    # The key's domain, the day's pages and one more at its start; not the two newer days' pages.
    assert server.stats()["requests"] == retry.requests <= day_pages + 3
    assert sorted(row[0] for row in logs(db)) == truth(server, day(0))


def test_a_spec_without_table_or_url_filter_loads_the_sources_table_and_every_url() -> None:
    # The CLI passes None for an option not given.
    spec = LoadSpec(source="webhook", run_id="r", table=None, url_filter=None)  # type: ignore[arg-type]

    assert (spec.table, spec.url_filter) == ("daily_webhook_logs", "")


class CountingMapReads(DuckDBWarehouse):
    """A DuckDB warehouse that counts how often the map-body decisions are read."""

    reads = 0

    def map_bodies(self, table: str) -> set[tuple[str, str, str]]:
        self.reads += 1
        return super().map_bodies(table)


def test_a_range_walk_reads_the_map_decisions_once_and_later_windows_keep_earlier_ones(
    server: SimulatorServer, tmp_path: Path
) -> None:
    # Every window of one range walk stages against the same decisions, plus those its earlier
    # windows made; reading them again per window would be one more warehouse query each (BigQuery).
    spec = LoadSpec(source="api", run_id="maps", config=NormalizeConfig(map_key_threshold=2))
    with CountingMapReads(tmp_path / "logs.duckdb") as warehouse:
        load_range(
            hook=hook_for(server), warehouse=warehouse, window=Window(day(0).start, day(2).end), spec=spec
        )
        assert warehouse.reads == 1
        decided = warehouse.map_bodies("daily_api_logs")
    assert decided  # with a threshold of 2 keys, some endpoint's body became a map
