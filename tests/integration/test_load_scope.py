"""A load replaces exactly what it fetched, end to end: simulator on loopback -> load -> DuckDB.

- A filtered load and a full load of one day share a table in either order: every other URL's
  row is still there.
- Two Daily domains (two keys, two simulators) load the same day into one table at the same time:
  each domain's rows equal its own truth.
- Retention: a re-run after Daily forgot part or all of a day keeps every row it cannot fetch
  again; a first load of a day Daily no longer has loads nothing, succeeds and says so. Single
  window and range mode.
- Backfill runs of adjacent days at once, in any order, leave every day equal to the truth in
  both cursor conventions (the anchors they write for each other never skip or repeat a record).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from daily_provider.hooks.daily import DailyHook
from daily_provider.hooks.pages import parse_created_at
from daily_provider.load import LoadSpec, LoadSummary, load_range, load_window
from daily_provider.simulator import FaultConfig, SimulatorConfig, SimulatorServer
from daily_provider.warehouses.duckdb import DuckDBWarehouse
from daily_provider.window import Window

KEY = "sim-key-scope-0123"
DAY0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
META = ("_loaded_at", "_run_id", "_window_start", "_window_end")


def day(n: int) -> Window:
    return Window(DAY0 + timedelta(days=n), DAY0 + timedelta(days=n + 1))


def config(**overrides: Any) -> SimulatorConfig:
    values: dict[str, Any] = {"seed": 31, "days": 4, "api_per_day": 240, "webhook_per_day": 0, "api_key": KEY}
    return SimulatorConfig(**{**values, **overrides})


@pytest.fixture
def server() -> Iterator[SimulatorServer]:
    with SimulatorServer(config()) as running:
        yield running


def hook_for(server: SimulatorServer, key: str = KEY) -> DailyHook:
    return DailyHook(api_key=key, base_url=server.base_url, requests_per_second=10_000.0)


def load(server: SimulatorServer, db: Path, window: Window, key: str = KEY, **options: Any) -> LoadSummary:
    with DuckDBWarehouse(db, threads=1, memory_limit="256MB") as warehouse:
        spec = LoadSpec(source="api", run_id="t", **options)
        return load_window(hook=hook_for(server, key), warehouse=warehouse, window=window, spec=spec)


def query(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with DuckDBWarehouse(db) as warehouse:
        return warehouse.connect().execute(sql, list(params)).fetchall()


def rows_of(db: Path, window: Window) -> list[tuple[Any, ...]]:
    """Every column of the window's rows but the load metadata, ordered by id."""
    exclude = ", ".join(META)
    return query(
        db,
        f"SELECT * EXCLUDE ({exclude}) FROM daily_api_logs WHERE created_at >= ? AND created_at < ? ORDER BY id",
        window.start,
        window.end,
    )


def ids_of(db: Path, window: Window, domain: str | None = None) -> list[str]:
    sql = "SELECT id FROM daily_api_logs WHERE created_at >= ? AND created_at < ?"
    params: list[Any] = [window.start, window.end]
    if domain is not None:
        sql += " AND domain_id = ?"
        params.append(domain)
    return [row[0] for row in query(db, sql + " ORDER BY id", *params)]


def truth(server: SimulatorServer, window: Window, url: str | None = None) -> list[str]:
    records = server.simulator.truth("api", window.start, window.end)
    return sorted(r["id"] for r in records if url is None or r["url"] == url)


def ledger(db: Path) -> list[tuple[Any, ...]]:
    return query(
        db,
        "SELECT window_start, status, rows, covered_start, covered_end, domain_id, url_filter "
        "FROM daily_logs_loads ORDER BY finished_at",
    )


def at_once(calls: list[Callable[[], object]]) -> list[BaseException]:
    """Run ``calls`` in threads at the same time; return the errors they raised."""
    errors: list[BaseException] = []

    def run(call: Callable[[], object]) -> None:
        try:
            call()
        except BaseException as exc:  # returned to the test, which asserts there are none
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


# -- url filters and domains ----------------------------------------------------------------------


@pytest.mark.parametrize("order", ["full-then-filtered", "filtered-then-full"])
def test_a_filtered_and_a_full_load_of_one_day_keep_each_others_rows(
    server: SimulatorServer, tmp_path: Path, order: str
) -> None:
    db = tmp_path / "logs.duckdb"
    filters = [None, "/v1/rooms"] if order == "full-then-filtered" else ["/v1/rooms", None]

    for url_filter in filters:
        load(server, db, day(1), url_filter=url_filter)

    assert 0 < len(truth(server, day(1), "/v1/rooms")) < len(truth(server, day(1)))
    assert ids_of(db, day(1)) == truth(server, day(1))  # every URL's rows, each once


def test_a_filtered_rerun_leaves_the_full_days_rows_exactly_as_they_were(
    server: SimulatorServer, tmp_path: Path
) -> None:
    db = tmp_path / "logs.duckdb"
    load(server, db, day(1))
    before = rows_of(db, day(1))

    summary = load(server, db, day(1), url_filter="/v1/rooms")

    assert summary.rows == len(truth(server, day(1), "/v1/rooms"))
    assert rows_of(db, day(1)) == before
    assert ledger(db)[-1][-1] == "/v1/rooms"


def test_two_domains_loading_the_same_day_into_one_table_at_once_each_equal_their_truth(
    tmp_path: Path,
) -> None:
    db = tmp_path / "logs.duckdb"
    keys = {"a": "sim-key-domain-a", "b": "sim-key-domain-b"}
    with (
        SimulatorServer(config(seed=41, api_key=keys["a"])) as a,
        SimulatorServer(config(seed=42, api_key=keys["b"])) as b,
    ):
        domains = {name: hook_for(server, keys[name]).domain_id() for name, server in (("a", a), ("b", b))}
        assert domains["a"] != domains["b"]

        for _ in range(2):  # a first load, then a re-run of both: neither touches the other's rows
            assert (
                at_once([lambda: load(a, db, day(1), keys["a"]), lambda: load(b, db, day(1), keys["b"])])
                == []
            )

        assert ids_of(db, day(1), domains["a"]) == truth(a, day(1))
        assert ids_of(db, day(1), domains["b"]) == truth(b, day(1))
        assert len(ids_of(db, day(1))) == len(truth(a, day(1))) + len(truth(b, day(1)))
        assert {row[5] for row in ledger(db)} == set(domains.values())


# -- retention ------------------------------------------------------------------------------------


def forget_before(server: SimulatorServer, moment: datetime) -> None:
    server.set_faults(FaultConfig(retention_before=moment.isoformat()))


def test_a_rerun_after_retention_reached_into_the_day_keeps_every_row(
    server: SimulatorServer, tmp_path: Path
) -> None:
    db = tmp_path / "logs.duckdb"
    load(server, db, day(1))
    before = rows_of(db, day(1))
    assert [row[0] for row in before] == truth(server, day(1))

    noon = day(1).start + timedelta(hours=12)
    forget_before(server, noon)
    partial = load(server, db, day(1))

    oldest = min(parse_created_at(r["createdAt"]) for r in server.simulator.truth("api", noon, day(1).end))
    assert partial.status == "partial"
    assert partial.covered_start == oldest
    assert partial.rows == len(truth(server, Window(noon, day(1).end)))
    assert "only [" in partial.describe() and "older rows were kept" in partial.describe()
    assert rows_of(db, day(1)) == before

    forget_before(server, day(2).start + timedelta(hours=1))
    gone = load(server, db, day(1))

    assert (gone.status, gone.rows, gone.covered_start) == ("not_covered", 0, None)
    assert rows_of(db, day(1)) == before
    statuses = [(row[1], row[3] is not None) for row in ledger(db)]
    assert statuses == [("success", True), ("partial", True), ("not_covered", False)]


def test_a_first_load_of_a_day_daily_no_longer_has_loads_nothing_and_says_so(
    server: SimulatorServer, tmp_path: Path
) -> None:
    db = tmp_path / "logs.duckdb"
    forget_before(server, day(2).start)

    summary = load(server, db, day(0))

    assert (summary.status, summary.rows) == ("not_covered", 0)
    assert "no longer has any api record" in summary.describe()
    assert [row[1:3] for row in ledger(db)] == [("not_covered", 0)]


def test_range_mode_after_retention_keeps_the_forgotten_days_and_reports_each(
    server: SimulatorServer, tmp_path: Path
) -> None:
    db = tmp_path / "logs.duckdb"
    span = Window(day(0).start, day(3).end)

    def backfill() -> Any:
        with DuckDBWarehouse(db, threads=1, memory_limit="256MB") as warehouse:
            return load_range(
                hook=hook_for(server),
                warehouse=warehouse,
                window=span,
                spec=LoadSpec(source="api", run_id="r"),
            )

    first = backfill()
    before = rows_of(db, span)
    assert [w.status for w in first.windows] == ["success"] * 4

    forget_before(server, day(1).start + timedelta(hours=6))
    again = backfill()

    assert [w.status for w in again.windows] == ["not_covered", "partial", "success", "success"]
    assert "1 windows partly and 1 not covered" in again.describe()
    assert rows_of(db, span) == before


# -- concurrent backfill runs ---------------------------------------------------------------------


@pytest.mark.parametrize("convention", ["stripe", "literal"])
def test_concurrent_loads_of_adjacent_days_in_any_order_each_equal_the_truth(
    tmp_path: Path, convention: str
) -> None:
    db = tmp_path / "logs.duckdb"
    with SimulatorServer(config(convention=convention)) as server:
        # Airflow's backfill runs several days at once, oldest first or not: two rounds, each
        # with every day in flight together, the second reusing the anchors the first wrote.
        for order in ([day(0), day(1), day(2), day(3)], [day(2), day(0), day(3), day(1)]):
            assert at_once([partial(load, server, db, window) for window in order]) == []
            for n in range(4):
                assert ids_of(db, day(n)) == truth(server, day(n)), f"day {n} after {order}"
        started = query(db, "SELECT count(*) FROM daily_logs_loads WHERE extra->>'started_after' IS NOT NULL")
        assert started[0][0] > 0  # the second round did walk from anchors
