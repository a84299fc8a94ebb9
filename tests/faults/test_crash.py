"""Crash consistency: ``daily-logs load`` killed with SIGKILL at chosen and at random points.

Every attempt replaces the newest day of a table that already holds that day from an earlier run
(``old``). After each kill the file is reopened the way the next load opens it (under the lock,
read-write, so DuckDB replays or discards its WAL) and the day must hold exactly the old run's rows
or exactly the killed run's rows, never a mix; a re-run must then load the truth. Phases are hit by
observing the process, not by guessing times:

- extraction: the simulator stalls every request after the second; kill once the third arrives;
- after staging: the test holds the DuckDB lock; kill once the staged Parquet file exists and the
  process logs that it waits for the lock;
- inside the warehouse step: release the lock, see the process take it, kill after a random delay
  shorter than the time it takes to reach COMMIT;
- at COMMIT: kill the moment the DuckDB WAL file appears (it is written by the commit);
- after COMMIT: kill once the process logs that it replaced the window, before it records success;
- anywhere: kill after a random delay within a normal run's duration.

``DAILY_CRASH_KILLS`` sets how many random kills each random phase gets (default 1; ``make soak``: 10); the seed of
the random delays is printed on failure (``DAILY_CRASH_SEED`` replays it).
"""

from __future__ import annotations

import fcntl
import os
import random
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

from daily_provider.simulator import FaultConfig, SimulatorServer
from tests.faults.harness import (
    KEY,
    audit_rows,
    day,
    expected_rows,
    forget_anchors,
    held,
    load,
    mismatch,
    sim_config,
    table_rows,
    wait_until,
    window_rows,
)
from tests.faults.zygote import Child, Zygote

TARGET = day(1)
# Added to every page while the test takes the lock: the walk's remaining pages then take far longer
# than taking a lock, so the process cannot reach the warehouse first.
PAGE_LATENCY = FaultConfig(latency_ms=80)
KILLS = int(os.environ.get("DAILY_CRASH_KILLS", "1"))
SEED = int(os.environ.get("DAILY_CRASH_SEED", str(random.SystemRandom().randrange(1_000_000))))


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorServer]:
    with SimulatorServer(sim_config(days=2, api_per_day=400, webhook_per_day=20)) as running:
        yield running


@pytest.fixture(scope="module")
def baseline(server: SimulatorServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("crash-baseline") / "logs.duckdb"
    load(server, db, TARGET, run_id="old")
    forget_anchors(db)
    return db


@dataclass
class Attempt:
    name: str
    db: Path
    staging: Path
    child: Child

    @property
    def lock_path(self) -> Path:
        return self.db.with_name(self.db.name + ".lock")

    @property
    def wal_path(self) -> Path:
        return self.db.with_name(self.db.name + ".wal")

    def staged_files(self) -> list[Path]:
        return sorted(self.staging.glob("**/*.parquet"))

    def says(self, text: str) -> bool:
        return text in self.child.output()

    def lock_is_taken(self) -> bool:
        with open(self.lock_path, "ab") as probe:
            try:
                fcntl.flock(probe.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(probe.fileno(), fcntl.LOCK_UN)
            return False


def start(zygote: Zygote, server: SimulatorServer, baseline: Path, tmp_path: Path, name: str) -> Attempt:
    db = tmp_path / f"{name}.duckdb"
    shutil.copyfile(baseline, db)
    staging = tmp_path / f"{name}-staging"
    staging.mkdir()
    argv = [
        "load",
        "--source",
        "api",
        "--start",
        TARGET.start.isoformat(),
        "--end",
        TARGET.end.isoformat(),
        "--duckdb",
        str(db),
        "--base-url",
        server.base_url,
        "--requests-per-second",
        "1000000",
        "--run-id",
        name,
    ]
    # TMPDIR: the load stages under the system temp directory, so its staged file shows up here.
    child = zygote.spawn("cli", {"argv": argv}, env={"DAILY_API_KEY": KEY, "TMPDIR": str(staging)})
    return Attempt(name, db, staging, child)


@pytest.fixture
def hold_lock() -> Iterator[list[IO[bytes]]]:
    """Lock files the test holds; released at the end whatever happened."""
    held: list[IO[bytes]] = []
    yield held
    for lock_file in held:
        lock_file.close()


def take_lock(attempt: Attempt, held: list[IO[bytes]]) -> IO[bytes]:
    lock_file = open(attempt.lock_path, "ab")  # noqa: SIM115 - released by closing it
    held.append(lock_file)
    fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
    return lock_file


def wait_for_staged_and_blocked(
    attempt: Attempt, server: SimulatorServer, held: list[IO[bytes]]
) -> IO[bytes]:
    """Hold the lock from the first logs request on, until the process has staged and waits for it.

    The simulator must serve PAGE_LATENCY, with fresh stats, from the process's start. The first
    request asks for the key's domain; the load reads its anchors (under the lock) before the second.
    """
    wait_until(
        lambda: server.stats()["requests"] >= 2, timeout=60, what=f"{attempt.name} asked Daily for logs"
    )
    lock_file = take_lock(attempt, held)
    wait_until(
        lambda: attempt.says("waiting up to") and attempt.staged_files(),
        timeout=60,
        what=f"{attempt.name} staged its window and waited for the DuckDB lock",
    )
    return lock_file


def verify_after_kill(attempt: Attempt, server: SimulatorServer, *, expect: set[str]) -> str:
    """The day is wholly the old run's or wholly the killed run's; the killed attempt never says success.

    Then a re-run converges to the truth, and the killed attempt stays visible in the audit table.
    """
    returncode = attempt.child.wait()
    context = f"{attempt.name} (returncode {returncode}, random seed {SEED}): "
    wal_left = attempt.wal_path.exists()
    truth = expected_rows(server, "api", TARGET)
    server.set_faults(FaultConfig())
    # Opened the way the next load opens it: under the lock, read-write, so DuckDB recovers its WAL.
    with held(attempt.db) as db:
        rows = window_rows(db, "api", TARGET)
        problem = mismatch(rows, truth)
        assert problem is None, f"{context}the day is neither version after the kill: {problem}"
        runs = {row["_run_id"] for row in rows}
        assert runs in ({"old"}, {attempt.name}), f"{context}the day mixes rows of runs {runs}"
        outcome = "old" if runs == {"old"} else "new"
        assert outcome in expect, (
            f"{context}expected the {' or '.join(sorted(expect))} content, got {outcome}"
        )
        everything = table_rows(db, "daily_api_logs", columns=["id"])
        assert len(everything) == len(rows), f"{context}rows outside the day appeared"
        statuses = [row["status"] for row in audit_rows(db) if row["run_id"] == attempt.name]
        if returncode == 0:
            assert outcome == "new" and statuses == ["success"], f"{context}{statuses}"
        else:
            assert returncode == -signal.SIGKILL, f"{context}\n{attempt.child.output()}"
            # Killed before its first audit write, while running, or after recording its success.
            assert statuses in ([], ["running"], ["success"]), f"{context}recorded as {statuses}"
            assert statuses != ["success"] or outcome == "new", f"{context}success recorded, old rows kept"

        load(server, db, TARGET, run_id=f"{attempt.name}-rerun")
        rows = window_rows(db, "api", TARGET)
        assert mismatch(rows, truth) is None, f"{context}the re-run did not load the truth"
        assert {row["_run_id"] for row in rows} == {f"{attempt.name}-rerun"}
        after = {row["run_id"]: row["status"] for row in audit_rows(db)}
    assert after[f"{attempt.name}-rerun"] == "success" and after["old"] == "success"
    assert after.get(attempt.name, "none") == (statuses[0] if statuses else "none")
    print(f"{attempt.name}: {outcome} content after the kill, WAL left behind: {wal_left}")
    return outcome


def test_kill_during_extraction_leaves_the_old_day(
    zygote: Zygote, server: SimulatorServer, baseline: Path, tmp_path: Path
) -> None:
    server.set_faults(FaultConfig(stall_after=2, stall_seconds=60))
    server.reset_stats()
    attempt = start(zygote, server, baseline, tmp_path, "killed-extracting")
    wait_until(lambda: server.stats()["requests"] >= 3, timeout=60, what="the third request was stalled")
    assert not attempt.staged_files()
    attempt.child.kill()
    assert verify_after_kill(attempt, server, expect={"old"}) == "old"
    assert [r["status"] for r in audit_rows(attempt.db) if r["run_id"] == attempt.name] == ["running"]


def test_kill_after_staging_leaves_the_old_day(
    zygote: Zygote, server: SimulatorServer, baseline: Path, tmp_path: Path, hold_lock: list[IO[bytes]]
) -> None:
    server.set_faults(PAGE_LATENCY)
    server.reset_stats()
    attempt = start(zygote, server, baseline, tmp_path, "killed-staged")
    wait_for_staged_and_blocked(attempt, server, hold_lock)
    attempt.child.kill()
    attempt.child.wait()
    hold_lock.pop().close()
    assert attempt.staged_files(), "the staged file was there when the process died"
    assert verify_after_kill(attempt, server, expect={"old"}) == "old"


def enter_warehouse_step(
    zygote: Zygote,
    server: SimulatorServer,
    baseline: Path,
    tmp_path: Path,
    held: list[IO[bytes]],
    name: str,
) -> Attempt:
    """Start a load, let it stage while the test holds the lock, then let it into the warehouse step."""
    server.set_faults(PAGE_LATENCY)
    server.reset_stats()
    attempt = start(zygote, server, baseline, tmp_path, name)
    lock_file = wait_for_staged_and_blocked(attempt, server, held)
    assert not attempt.wal_path.exists(), "a WAL before the replace would hide the commit's"
    held.remove(lock_file)
    lock_file.close()
    return attempt


def reached(attempt: Attempt, condition: Callable[[], object], what: str) -> bool:
    """Wait until ``condition`` holds (True) or the process has finished first (False: a missed point)."""
    wait_until(lambda: condition() or attempt.child.exited.is_set(), timeout=60, what=what, poll=0)
    return not attempt.child.exited.is_set()


def kill_when(attempt: Attempt, condition: Callable[[], object], what: str) -> bool:
    """SIGKILL as soon as ``condition`` holds; False when the process finished first."""
    if not reached(attempt, condition, what):
        return False
    attempt.child.kill()
    return True


def test_kills_inside_the_warehouse_step_and_at_commit_leave_one_version(
    zygote: Zygote, server: SimulatorServer, baseline: Path, tmp_path: Path, hold_lock: list[IO[bytes]]
) -> None:
    rng = random.Random(SEED)
    outcomes = []
    # At COMMIT first: it also measures how long the warehouse step takes to reach COMMIT. A test
    # process descheduled at the wrong moment can miss the WAL's short life: try again, bounded.
    for number in range(3):
        attempt = enter_warehouse_step(
            zygote, server, baseline, tmp_path, hold_lock, f"killed-at-commit-{number}"
        )
        in_step = reached(attempt, attempt.lock_is_taken, "the process took the DuckDB lock")
        taken = time.monotonic()
        if in_step and kill_when(attempt, attempt.wal_path.exists, "the commit wrote the DuckDB WAL"):
            to_commit = time.monotonic() - taken
            assert attempt.child.wait() == -signal.SIGKILL
            assert attempt.wal_path.exists(), "the WAL the kill left behind is what reopening must recover"
            outcomes.append(verify_after_kill(attempt, server, expect={"old", "new"}))
            break
        outcomes.append(verify_after_kill(attempt, server, expect={"new"}))
    else:
        pytest.fail("three loads finished before the test saw their DuckDB WAL; the machine is too busy")

    attempt = enter_warehouse_step(zygote, server, baseline, tmp_path, hold_lock, "killed-after-commit")
    kill_when(attempt, lambda: attempt.says("DuckDB: replaced"), "the window was committed")
    outcomes.append(verify_after_kill(attempt, server, expect={"new"}))

    for number in range(KILLS):
        attempt = enter_warehouse_step(
            zygote, server, baseline, tmp_path, hold_lock, f"killed-in-warehouse-{number}"
        )
        delay = rng.uniform(0, to_commit)
        if reached(attempt, attempt.lock_is_taken, "the process took the DuckDB lock"):
            time.sleep(delay)  # the random kill point, not a synchronization
            attempt.child.kill()
        outcomes.append(verify_after_kill(attempt, server, expect={"old", "new"}))
    print(f"warehouse-step kills (seed {SEED}, {to_commit * 1000:.0f} ms to COMMIT): {outcomes}")


def test_kills_at_random_points_leave_one_version(
    zygote: Zygote, server: SimulatorServer, baseline: Path, tmp_path: Path
) -> None:
    rng = random.Random(SEED + 1)
    server.set_faults(FaultConfig())
    clock = time.monotonic()
    finished = start(zygote, server, baseline, tmp_path, "not-killed")
    assert finished.child.wait() == 0, finished.child.output()
    duration = time.monotonic() - clock
    assert verify_after_kill(finished, server, expect={"new"}) == "new"
    outcomes = []
    for number in range(KILLS):
        attempt = start(zygote, server, baseline, tmp_path, f"killed-randomly-{number}")
        time.sleep(rng.uniform(0, duration))  # the random kill point, not a synchronization
        attempt.child.kill()
        outcomes.append(verify_after_kill(attempt, server, expect={"old", "new"}))
    print(f"random kills (seed {SEED + 1}, run takes {duration:.2f}s): {outcomes}")


def test_sigterm_during_extraction_records_the_attempt_as_failed(
    zygote: Zygote, server: SimulatorServer, baseline: Path, tmp_path: Path
) -> None:
    server.set_faults(FaultConfig(stall_after=2, stall_seconds=60))
    server.reset_stats()
    attempt = start(zygote, server, baseline, tmp_path, "terminated")
    wait_until(lambda: server.stats()["requests"] >= 3, timeout=60, what="the third request was stalled")
    attempt.child.signal(signal.SIGTERM)
    returncode = attempt.child.wait()
    server.set_faults(FaultConfig())
    assert {row["_run_id"] for row in window_rows(attempt.db, "api", TARGET)} == {"old"}
    attempts = [row for row in audit_rows(attempt.db) if row["run_id"] == "terminated"]
    assert [row["status"] for row in attempts] == ["failed"], attempt.child.output()
    assert "SIGTERM" in attempts[0]["error"]
    assert returncode == 128 + signal.SIGTERM
