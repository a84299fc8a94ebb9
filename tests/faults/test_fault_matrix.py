"""Every fault the simulator can inject, through a full window load into DuckDB.

Faults inside one request (429, 5xx, dropped connections, timeouts, bad bodies) run under one cursor
convention each, alternating; faults that touch paging (arrivals, ties, duplicates, capped limits,
unknown cursors) run under both. Each case starts from the same table: day 0 loaded from this
simulator, day 1 (the newest day) holding stale rows of another simulator (other ids). A load of day 1 that survives its fault must leave day 1 equal to the
simulator's truth (same ids, same core columns, no duplicates, every row from this run) and day 0
untouched. A fault that cannot be survived must fail with a clear error, leave both tables exactly
as they were, and record the attempt as ``failed``.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from daily_provider.exceptions import DailyAPIError, DailyTransportError
from daily_provider.simulator import FaultConfig, SimulatorServer
from daily_provider.warehouses.duckdb import DuckDBWarehouse
from tests.faults.harness import (
    KEY,
    assert_window_is_truth,
    audit_rows,
    day,
    forget_anchors,
    held,
    load,
    make_hook,
    sim_config,
    snapshot,
    table_digest,
    table_rows,
)

TARGET = day(1)
NEIGHBOUR = day(0)
BOTH = ("stripe", "literal")
SEED = 4  # fault seed: with it every rate-driven fault below fires on this walk


@dataclass
class Outcome:
    server: SimulatorServer
    sleeps: list[float]
    injected: dict[str, int]
    by_status: dict[str, int]
    requests: int
    retries: int = 0


@dataclass(frozen=True)
class Case:
    faults: FaultConfig
    injected: str  # the simulator's name for the fault: it must have fired
    hook_options: dict[str, Any] = field(default_factory=dict)
    check: Callable[[Outcome], None] | None = None
    conventions: tuple[str, ...] = ("stripe",)


def _retry_after_seconds(outcome: Outcome) -> None:
    assert outcome.sleeps.count(3.0) == 3, (
        f"expected three 3 s waits as Retry-After asked, got {outcome.sleeps}"
    )


def _retry_after_date(outcome: Outcome) -> None:
    waits = [s for s in outcome.sleeps if s >= 0.5]
    assert len(waits) == 3 and all(1.0 <= s <= 3.5 for s in waits), f"Retry-After date not honoured: {waits}"


def _backoff_without_retry_after(outcome: Outcome) -> None:
    assert outcome.by_status.get("429") == 3
    assert len(outcome.sleeps) >= 3 and max(outcome.sleeps) <= 0.002, (
        "expected jittered backoff within the cap"
    )


def _every_5xx_seen(outcome: Outcome) -> None:
    assert set(outcome.by_status) == {"200", "500", "502", "503", "504"}, outcome.by_status


def _ties_straddle_pages(outcome: Outcome) -> None:
    records = outcome.server.simulator.truth("api", TARGET.start, TARGET.end)
    biggest = max(Counter(r["createdAt"] for r in records).values())
    assert biggest > 2 * 7, f"no createdAt is shared by more than two pages of 7 (largest tie: {biggest})"


def _arrivals_happened(outcome: Outcome) -> None:
    assert outcome.server.stats()["arrivals"]["api"] >= 7 * 3


SURVIVABLE: dict[str, Case] = {
    "429-burst-retry-after-seconds": Case(
        FaultConfig(burst_429=3, burst_429_after=2, retry_after="seconds", retry_after_seconds=3),
        "burst_429",
        check=_retry_after_seconds,
    ),
    "429-burst-retry-after-http-date": Case(
        FaultConfig(burst_429=3, burst_429_after=2, retry_after="http-date", retry_after_seconds=2),
        "burst_429",
        check=_retry_after_date,
    ),
    "429-burst-no-retry-after": Case(
        FaultConfig(burst_429=3, burst_429_after=2, retry_after="none"),
        "burst_429",
        check=_backoff_without_retry_after,
        conventions=("literal",),
    ),
    "500-502-503-504-on-random-pages": Case(
        FaultConfig(seed=3, error_5xx_rate=0.5), "5xx", check=_every_5xx_seen, conventions=("literal",)
    ),
    "connection-dropped-mid-body": Case(FaultConfig(seed=SEED, drop_rate=0.4), "drop"),
    "read-timeout": Case(
        FaultConfig(seed=SEED, stall_rate=0.4, stall_seconds=3.0),
        "stall",
        hook_options={"timeout": 0.25},
        conventions=("literal",),
    ),
    "truncated-json-page": Case(FaultConfig(seed=SEED, truncate_rate=0.4), "truncate"),
    "html-page-with-200": Case(FaultConfig(seed=SEED, html_rate=0.4), "html", conventions=("literal",)),
    "empty-body-with-200": Case(FaultConfig(seed=SEED, empty_rate=0.4), "empty"),
    "head-arrivals-during-the-walk": Case(
        FaultConfig(arrivals_per_request=7), "arrivals", check=_arrivals_happened, conventions=BOTH
    ),
    "one-createdAt-straddling-pages": Case(
        FaultConfig(max_limit=7), "ties", check=_ties_straddle_pages, conventions=BOTH
    ),
    "record-on-two-consecutive-pages": Case(
        FaultConfig(seed=SEED, duplicate_rate=0.4), "duplicate", conventions=BOTH
    ),
    "limit-capped-below-asked": Case(FaultConfig(max_limit=13), "cap", conventions=BOTH),
}


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DuckDB file: day 0 from the test simulator, day 1 stale (another seed's records)."""
    directory = tmp_path_factory.mktemp("baseline")
    db = directory / "logs.duckdb"
    with serve("stripe") as server:
        load(server, db, NEIGHBOUR, run_id="baseline-day0")
    # Another timeline of the same Daily domain: its rows are in the load's scope.
    with SimulatorServer(sim_config(days=2, seed=99, domain_seed=5)) as stale:
        load(stale, db, TARGET, run_id="baseline-stale")
    forget_anchors(db)  # anchors of the other seed's records would only be refused
    return db


def serve(convention: str, page_shape: str = "array") -> SimulatorServer:
    return SimulatorServer(sim_config(days=2, convention=convention, page_shape=page_shape))


@pytest.fixture(params=BOTH)
def server(request: pytest.FixtureRequest) -> Iterator[SimulatorServer]:
    with serve(request.param) as running:
        yield running


@pytest.fixture
def db(baseline: Path, tmp_path: Path) -> Iterator[DuckDBWarehouse]:
    """A copy of the baseline, held open across the load and the checks (no reopen per write)."""
    copy = tmp_path / "logs.duckdb"
    shutil.copyfile(baseline, copy)
    with held(copy) as warehouse:
        yield warehouse


def run_case(
    server: SimulatorServer, db: DuckDBWarehouse, faults: FaultConfig, **hook_options: Any
) -> Outcome:
    sleeps: list[float] = []
    server.set_faults(faults)
    server.reset_stats()
    hook = make_hook(server, sleeps, **hook_options)
    try:
        summary = load(server, db, TARGET, run_id="faulty", hook=hook)
    finally:
        stats = server.stats()
    return Outcome(
        server, sleeps, stats["faults_injected"], stats["by_status"], stats["requests"], summary.retries
    )


@pytest.mark.parametrize(
    ("name", "convention", "page_shape"),
    [
        *(
            pytest.param(name, c, "array", id=f"{name}-{c}")
            for name, case in SURVIVABLE.items()
            for c in case.conventions
        ),
        # Daily's usual list object instead of a bare array: the same faults, the other convention.
        *(
            pytest.param(name, case.conventions[-1], "object", id=f"{name}-{case.conventions[-1]}-object")
            for name, case in SURVIVABLE.items()
        ),
    ],
)
def test_a_survivable_fault_still_loads_exactly_the_truth(
    db: DuckDBWarehouse, name: str, convention: str, page_shape: str
) -> None:
    case = SURVIVABLE[name]
    neighbour_before = table_digest(db, "daily_api_logs", NEIGHBOUR)

    with serve(convention, page_shape) as server:
        outcome = run_case(server, db, case.faults, **case.hook_options)
        assert_window_is_truth(db, server, "api", TARGET, run_id="faulty", context=f"{name}: ")
        if case.check is not None:
            case.check(outcome)

    if case.injected not in ("arrivals", "ties", "cap"):
        assert outcome.injected.get(case.injected, 0) >= 1, (
            f"{name}: the fault never fired: {outcome.injected}"
        )
        assert outcome.retries >= 1 or case.injected == "duplicate"
    assert table_digest(db, "daily_api_logs", NEIGHBOUR) == neighbour_before, f"{name}: the other day changed"
    assert [r["status"] for r in audit_rows(db) if r["run_id"] == "faulty"] == ["success"]


@pytest.mark.parametrize(
    ("convention", "faults", "status", "error"),
    [
        pytest.param(
            "stripe", FaultConfig(auth_fail_after=2), 401, "authentication-error", id="401-mid-walk"
        ),
        pytest.param("literal", FaultConfig(forbidden_after=2), 403, "forbidden-error", id="403-mid-walk"),
    ],
)
def test_a_rejected_key_mid_walk_fails_fast_and_writes_nothing(
    db: DuckDBWarehouse, convention: str, faults: FaultConfig, status: int, error: str
) -> None:
    before = snapshot(db)
    with serve(convention) as server, pytest.raises(DailyAPIError) as caught:
        run_case(server, db, faults)
    # Two good pages, then one refused request: no retry storm.
    assert server.stats()["requests"] == 3
    assert caught.value.status == status and caught.value.error == error
    message = str(caught.value)
    assert f"{status} {error}" in message and "Not retried" in message
    assert ("Check the API key" if status == 401 else "not allowed to read these logs") in message
    assert KEY not in message
    assert_failed_and_unchanged(db, before, f"DailyAPIError: Daily answered {status} {error}")


def test_an_unknown_cursor_fails_with_the_cursor_named_and_writes_nothing(
    server: SimulatorServer, db: DuckDBWarehouse
) -> None:
    newest_first = server.simulator.truth("api", day(0).start, day(2).end)
    cursor = newest_first[99]["id"]  # the oldest record of the first page
    before = snapshot(db)
    with pytest.raises(DailyAPIError) as caught:
        run_case(server, db, FaultConfig(unknown_cursor_ids=frozenset({cursor})))
    assert caught.value.status == 400 and f"unknown log id '{cursor}'" in str(caught.value)
    assert f"={cursor}" in str(caught.value), "the message must name the cursor that was refused"
    assert server.stats()["requests"] <= 3
    assert_failed_and_unchanged(db, before, "DailyAPIError")


def test_retries_running_out_fail_clearly_and_write_nothing(db: DuckDBWarehouse) -> None:
    before = snapshot(db)
    faults = FaultConfig(error_5xx_rate=1.0, server_error_statuses=(503,))
    with serve("stripe") as server, pytest.raises(DailyTransportError) as caught:
        run_case(server, db, faults, max_retries=2)
    assert server.stats()["requests"] == 3
    message = str(caught.value)
    assert (
        "after 3 attempts (2 retries)" in message and "503" in message and "re-run the task later" in message
    )
    assert_failed_and_unchanged(db, before, "DailyTransportError")


def assert_failed_and_unchanged(
    db: DuckDBWarehouse, before: dict[str, list[tuple[Any, ...]]], error: str
) -> None:
    after = snapshot(db)
    for table in ("daily_api_logs", "daily_webhook_logs"):
        assert after[table] == before[table], f"{table} changed although the load failed"
    audit_before, audit_after = before["daily_logs_loads"], after["daily_logs_loads"]
    assert len(audit_after) == len(audit_before) + 1 and set(audit_before) <= set(audit_after)
    attempts = [row for row in audit_rows(db) if row["run_id"] == "faulty"]
    assert [row["status"] for row in attempts] == ["failed"]
    assert attempts[0]["error"].startswith(error), attempts[0]["error"]
    assert KEY not in attempts[0]["error"]


def test_the_baseline_really_holds_stale_rows_for_the_target_day(baseline: Path) -> None:
    # Guards the matrix's premise: a load that did nothing could not pass as a replace.
    stale = table_rows(baseline, "daily_api_logs", "_run_id = ?", ["baseline-stale"])
    with serve("stripe") as server:
        truth = {r["id"] for r in server.simulator.truth("api", TARGET.start, TARGET.end)}
    assert stale and not truth & {r["id"] for r in stale}
