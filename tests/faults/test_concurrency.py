"""Real parallel processes loading one DuckDB file: they wait for each other, all succeed, the file stays whole.

Airflow runs both sources' tasks and backfill windows at once. The children are real processes
(forked by the zygote, see ``zygote.py``) running ``daily-logs load``; the test holds the file's lock
until every one of them is waiting for it, so the waiting is proven, not hoped for.
"""

from __future__ import annotations

import fcntl
import itertools
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from daily_provider.simulator import SimulatorServer
from tests.faults.harness import (
    KEY,
    SOURCES,
    assert_window_is_truth,
    audit_rows,
    day,
    load,
    sim_config,
    snapshot,
    table_of,
    table_rows,
    wait_until,
)
from tests.faults.zygote import Child, Zygote

DAYS = 3


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorServer]:
    with SimulatorServer(sim_config(days=DAYS, api_per_day=200, webhook_per_day=60)) as running:
        yield running


def cli_load(zygote: Zygote, server: SimulatorServer, db: Path, source: str, n: int, run_id: str) -> Child:
    window = day(n)
    argv = [
        "load",
        "--source",
        source,
        "--start",
        window.start.isoformat(),
        "--end",
        window.end.isoformat(),
        "--duckdb",
        str(db),
        "--base-url",
        server.base_url,
        "--requests-per-second",
        "1000000",
        "--run-id",
        run_id,
    ]
    return zygote.spawn("cli", {"argv": argv}, env={"DAILY_API_KEY": KEY})


def test_parallel_loads_of_both_sources_and_several_windows_wait_for_each_other_and_all_land(
    zygote: Zygote, server: SimulatorServer, tmp_path: Path
) -> None:
    db = tmp_path / "shared.duckdb"
    jobs = list(itertools.product(SOURCES, range(DAYS)))
    with open(db.with_name(db.name + ".lock"), "ab") as lock_file:
        fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
        children = {
            job: cli_load(zygote, server, db, job[0], job[1], f"{job[0]}-day{job[1]}") for job in jobs
        }
        wait_until(
            lambda: all("waiting up to" in child.output() for child in children.values()),
            timeout=120,
            what=f"all {len(children)} loads wait for the DuckDB file instead of failing",
        )
    # Released: they now take turns writing.
    for (source, n), child in children.items():
        assert child.wait(180) == 0, f"{source} day {n} failed:\n{child.output()}"

    assert not db.with_name(db.name + ".wal").exists(), "a finished load left an uncheckpointed WAL"
    with duckdb.connect(str(db), read_only=True) as con:
        con.execute("SELECT count(*) FROM daily_api_logs, daily_webhook_logs LIMIT 1").fetchall()
    for source, n in jobs:
        assert_window_is_truth(db, server, source, day(n), run_id=f"{source}-day{n}")
    for source in SOURCES:
        ids = [row["id"] for row in table_rows(db, table_of(source), columns=["id"])]
        assert len(ids) == len(set(ids))
    audit = audit_rows(db)
    assert sorted((row["run_id"], row["status"]) for row in audit) == sorted(
        (f"{source}-day{n}", "success") for source, n in jobs
    )


def test_a_lock_held_past_lock_timeout_fails_with_a_clear_error_before_any_request(
    zygote: Zygote, server: SimulatorServer, tmp_path: Path
) -> None:
    db = tmp_path / "busy.duckdb"
    load(server, db, day(0), run_id="earlier")
    before = snapshot(db)
    server.reset_stats()
    with open(db.with_name(db.name + ".lock"), "ab") as lock_file:
        fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
        child = zygote.spawn(
            "load",
            {
                "duckdb": str(db),
                "lock_timeout": 0.5,
                "base_url": server.base_url,
                "source": "api",
                "start": day(1).start.isoformat(),
                "end": day(1).end.isoformat(),
                "run_id": "impatient",
            },
            env={"DAILY_API_KEY": KEY},
        )
        assert child.wait(60) == 1, child.output()
    error = child.stderr_text()
    assert "load failed: WarehouseError: another load holds the DuckDB file" in error, error
    assert "gave up after waiting" in error and "raise lock_timeout (now 0.5s)" in error
    assert server.stats()["requests"] == 0, "the load asked Daily for logs it could never store"
    assert snapshot(db) == before
