"""How DuckDBWarehouse shares one file: the ``<path>.lock`` flock, its timeout, and the file's directory.

DuckDB allows one writing process per file; these tests hold the lock themselves or run real
processes against one file. Waiting is observed through the warehouse's "waiting" log line, never
through sleeps.
"""

from __future__ import annotations

import fcntl
import json
import logging
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.scopes import replace_scope

from daily_provider.exceptions import DailyConfigError, WarehouseError
from daily_provider.schema import ColumnType
from daily_provider.warehouses.base import LoadRecord, StagedWindow
from daily_provider.warehouses.duckdb import DuckDBWarehouse
from daily_provider.window import Window

DAY0 = datetime(2024, 3, 15, tzinfo=timezone.utc)
KEY_COLUMNS = {"id": ColumnType.STRING, "created_at": ColumnType.TIMESTAMP, "source": ColumnType.STRING}
KEY_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string()),
        pa.field("created_at", pa.timestamp("us", tz="UTC")),
        pa.field("source", pa.string()),
    ]
)


def day(n: int) -> Window:
    return Window(DAY0 + timedelta(days=n), DAY0 + timedelta(days=n + 1))


def stage_day(tmp_path: Path, n: int, rows: int) -> StagedWindow:
    """``rows`` api records spread over day ``n``, ids ``d<n>-<i>``."""
    window = day(n)
    records = [
        {"id": f"d{n}-{i}", "created_at": window.start + timedelta(minutes=i), "source": "api"}
        for i in range(rows)
    ]
    path = tmp_path / f"day{n}.parquet"
    pq.write_table(pa.Table.from_pylist(records, schema=KEY_SCHEMA), path)
    return StagedWindow(path=path, columns=dict(KEY_COLUMNS), rows=rows)


@contextmanager
def holding_lock(db: Path) -> Iterator[IO[bytes]]:
    """Hold the warehouse's lock on ``db`` the way another loading process would."""
    with open(db.with_name(db.name + ".lock"), "ab") as lock_file:
        fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
        yield lock_file


def audit(load_id: str) -> LoadRecord:
    return LoadRecord(
        load_id=load_id,
        run_id="run-1",
        table_name="logs",
        source="api",
        window_start=day(0).start,
        window_end=day(0).end,
        status="running",
        started_at=DAY0,
    )


def test_file_in_a_missing_directory_is_a_config_error_naming_the_directory(tmp_path):
    missing = tmp_path / "no" / "such" / "dir"
    warehouse = DuckDBWarehouse(missing / "logs.duckdb")
    staged = stage_day(tmp_path, 0, 1)

    for attempt in (
        lambda: warehouse.replace_window(scope=replace_scope("logs", "api", day(0)), staged=staged),
        lambda: warehouse.record_load(audit("load-1")),
        warehouse.connect,
    ):
        with pytest.raises(DailyConfigError, match=f"directory that does not exist: {missing}"):
            attempt()

    assert not (tmp_path / "no").exists()


def test_lock_timeout_says_another_load_holds_the_file_and_how_to_wait_longer(tmp_path):
    db = tmp_path / "logs.duckdb"
    warehouse = DuckDBWarehouse(db, lock_timeout=0.05)
    staged = stage_day(tmp_path, 0, 1)

    with holding_lock(db), pytest.raises(WarehouseError) as raised:
        warehouse.replace_window(scope=replace_scope("logs", "api", day(0)), staged=staged)

    message = str(raised.value)
    assert f"another load holds the DuckDB file {db}" in message
    assert "lock_timeout (now 0.05s)" in message
    assert re.search(r"gave up after waiting \d+\.\ds", message)
    assert not db.exists()


def test_record_load_waits_for_the_lock_too(tmp_path):
    db = tmp_path / "logs.duckdb"
    warehouse = DuckDBWarehouse(db, lock_timeout=0)

    with holding_lock(db), pytest.raises(WarehouseError, match="another load holds the DuckDB file"):
        warehouse.record_load(audit("load-1"))


class _WaitingSeen(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("waiting up to"):
            self.seen.set()


def test_write_waits_for_the_lock_and_proceeds_once_it_is_released(tmp_path):
    db = tmp_path / "logs.duckdb"
    warehouse = DuckDBWarehouse(db, threads=1, lock_timeout=60)
    staged = stage_day(tmp_path, 0, 3)
    handler = _WaitingSeen()
    logger = logging.getLogger("daily_provider.warehouses.duckdb_file")
    logger.addHandler(handler)
    previous_level = logger.level
    logger.setLevel(logging.INFO)
    results: list[int | BaseException] = []

    def load() -> None:
        try:
            results.append(
                warehouse.replace_window(scope=replace_scope("logs", "api", day(0)), staged=staged)
            )
        except BaseException as exc:
            results.append(exc)

    try:
        with holding_lock(db):
            loader = threading.Thread(target=load)
            loader.start()
            assert handler.seen.wait(timeout=30), "the load never reported waiting for the lock"
            assert results == []
        loader.join(timeout=30)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)

    assert results == [3]


def test_connect_holds_the_file_until_close(tmp_path):
    db = tmp_path / "logs.duckdb"
    reader = DuckDBWarehouse(db)
    writer = DuckDBWarehouse(db, lock_timeout=0)
    staged = stage_day(tmp_path, 0, 2)
    reader.connect()

    with pytest.raises(WarehouseError, match="another load holds the DuckDB file"):
        writer.replace_window(scope=replace_scope("logs", "api", day(0)), staged=staged)
    reader.close()

    assert writer.replace_window(scope=replace_scope("logs", "api", day(0)), staged=staged) == 2


# One loading process: waits for the lock like any load, then replaces each window it was given
# and records it in the audit table. Log lines go to stdout so the test sees when it waits.
LOADER = """
import json, logging, sys
from datetime import datetime, timezone
from pathlib import Path
from daily_provider.schema import ColumnType
from daily_provider.warehouses.base import LoadRecord, StagedWindow
from daily_provider.warehouses.duckdb import DuckDBWarehouse
from daily_provider.window import Window
from daily_provider.scope import LoadScope

logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s", force=True)
db, jobs = sys.argv[1], json.loads(sys.argv[2])
key = {"id": ColumnType.STRING, "created_at": ColumnType.TIMESTAMP, "source": ColumnType.STRING}
warehouse = DuckDBWarehouse(db, threads=1, memory_limit="256MB", lock_timeout=60)
for job in jobs:
    window = Window.parse(job["start"], job["end"])
    record = LoadRecord(job["load_id"], "run-1", "logs", "api", window.start, window.end, "running",
                        datetime.now(timezone.utc))
    warehouse.record_load(record)
    staged = StagedWindow(Path(job["path"]), key, job["rows"])
    scope = LoadScope("logs", "api", "domain-1").covering(window)
    record.rows = warehouse.replace_window(scope=scope, staged=staged)
    record.status = "success"
    warehouse.record_load(record)
"""


def test_two_processes_loading_one_file_both_succeed_and_the_file_is_intact(tmp_path):
    db = tmp_path / "logs.duckdb"
    rows_per_window = 40
    jobs: dict[str, list[dict[str, object]]] = {"even": [], "odd": []}
    for n in range(8):
        staged = stage_day(tmp_path, n, rows_per_window)
        jobs["odd" if n % 2 else "even"].append(
            {
                "start": day(n).start.isoformat(),
                "end": day(n).end.isoformat(),
                "path": str(staged.path),
                "rows": staged.rows,
                "load_id": f"load-{n}",
            }
        )

    with holding_lock(db):
        loaders = [
            subprocess.Popen(
                [sys.executable, "-u", "-c", LOADER, str(db), json.dumps(process_jobs)],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for process_jobs in jobs.values()
        ]
        # Both processes must be blocked on the lock at once before it is released, so they contend.
        for loader in loaders:
            assert loader.stdout is not None
            first_line = loader.stdout.readline()
            assert first_line.startswith("waiting up to"), first_line
    outputs = [loader.communicate(timeout=120)[0] for loader in loaders]

    assert [loader.returncode for loader in loaders] == [0, 0], outputs
    with duckdb.connect(str(db), read_only=True) as conn:
        per_day = conn.execute(
            "SELECT CAST(created_at AT TIME ZONE 'UTC' AS DATE), count(*), count(DISTINCT id) FROM logs GROUP BY 1 ORDER BY 1"
        ).fetchall()
        loads = conn.execute("SELECT load_id, status, rows FROM daily_logs_loads ORDER BY load_id").fetchall()
    assert per_day == [
        ((DAY0 + timedelta(days=n)).date(), rows_per_window, rows_per_window) for n in range(8)
    ]
    assert loads == [(f"load-{n}", "success", rows_per_window) for n in range(8)]
