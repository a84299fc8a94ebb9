"""What the fault, crash and concurrency tests share: a small simulated Daily, loads into DuckDB, truth checks.

A load here is the production path (:func:`daily_provider.load.load_window` with a real DailyHook
against the simulator on loopback and a DuckDBWarehouse on a temp file). The expected rows are the
simulator's ground truth for the window, normalized by the same NormalizeConfig: a window is right
when its ids, every core column and the absence of duplicates match that.
"""

from __future__ import annotations

import fcntl
import json
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb

from daily_provider.hooks.daily import DailyHook
from daily_provider.load import LoadSpec, LoadSummary, load_window
from daily_provider.normalize import NormalizeConfig, normalize_record
from daily_provider.schema import CORE_COLUMNS, ColumnType
from daily_provider.simulator import SimulatorConfig, SimulatorServer
from daily_provider.warehouses.base import ANCHORS_TABLE, LOADS_TABLE
from daily_provider.warehouses.duckdb import DuckDBWarehouse
from daily_provider.window import Window

KEY = "sk-fault-suite-3f9a0c2e7b"
DAY0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
SOURCES = ("api", "webhook")


def day(n: int) -> Window:
    """The UTC day ``n`` days after 2026-01-01."""
    return Window(DAY0 + timedelta(days=n), DAY0 + timedelta(days=n + 1))


def table_of(source: str) -> str:
    return f"daily_{source}_logs"


def sim_config(**overrides: Any) -> SimulatorConfig:
    """Three days of data, small enough that a day's walk takes a few pages."""
    values: dict[str, Any] = {
        "seed": 5,
        "days": 3,
        "api_per_day": 300,
        "webhook_per_day": 80,
        "api_key": KEY,
    }
    values.update(overrides)
    return SimulatorConfig(**values)


def make_hook(server: SimulatorServer, sleeps: list[float] | None = None, **options: Any) -> DailyHook:
    """A hook on the simulator with no client-side limit and tiny backoffs; waits go to ``sleeps``."""
    recorded = sleeps if sleeps is not None else []
    settings: dict[str, Any] = {
        "api_key": KEY,
        "base_url": server.base_url,
        "requests_per_second": math.inf,
        "backoff_base": 0.001,
        "backoff_max": 0.002,
        "max_retries": 8,
        "timeout": 5.0,
        "sleep": recorded.append,
    }
    settings.update(options)
    return DailyHook(**settings)


def make_warehouse(path: Path, **options: Any) -> DuckDBWarehouse:
    settings: dict[str, Any] = {"memory_limit": "256MB", "threads": 1, "lock_timeout": 30.0}
    settings.update(options)
    return DuckDBWarehouse(path, **settings)


def load(
    server: SimulatorServer,
    db: Path | DuckDBWarehouse,
    window: Window,
    *,
    source: str = "api",
    run_id: str = "run",
    hook: DailyHook | None = None,
    config: NormalizeConfig | None = None,
    staging_dir: Path | None = None,
) -> LoadSummary:
    """One window through the production load path into the DuckDB file ``db`` (or an open warehouse)."""
    warehouse = db if isinstance(db, DuckDBWarehouse) else make_warehouse(db)
    try:
        return load_window(
            hook=hook or make_hook(server),
            warehouse=warehouse,
            window=window,
            spec=LoadSpec(
                source=source,
                table=table_of(source),
                run_id=run_id,
                config=config or NormalizeConfig(),
                staging_dir=staging_dir,
            ),
        )
    finally:
        if warehouse is not db:
            warehouse.close()


@contextmanager
def held(db: Path) -> Iterator[DuckDBWarehouse]:
    """A warehouse that keeps its connection (and the file lock) between loads: no reopen per write."""
    warehouse = make_warehouse(db)
    warehouse.connect()
    try:
        yield warehouse
    finally:
        warehouse.close()


def forget_anchors(db: Path) -> None:
    """Drop the cursor anchors a load may have stored, so the next walk starts from the newest record."""
    with reading(db) as con:
        con.execute(f'DROP TABLE IF EXISTS "{ANCHORS_TABLE}"')


# -- reading DuckDB ------------------------------------------------------------------------------

Database = Path | DuckDBWarehouse


@contextmanager
def locked(db: Path) -> Iterator[None]:
    """Hold the warehouse's ``<db>.lock`` the way a loading process does (so no load writes meanwhile)."""
    with open(db.with_name(db.name + ".lock"), "ab") as lock_file:
        fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
        yield


@contextmanager
def reading(db: Database) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to read ``db``: the held warehouse's own, or a new one opened under the file lock."""
    if isinstance(db, DuckDBWarehouse):
        yield db.connect()
        return
    with locked(db), duckdb.connect(str(db)) as con:
        yield con


def _json_value(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def table_rows(
    db: Database,
    table: str,
    where: str = "TRUE",
    params: Sequence[Any] = (),
    columns: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """The matching rows (all columns, or ``columns``), sorted by id; JSON parsed. [] when the table is missing."""
    selected = ", ".join(f'"{name}"' for name in columns) if columns else "*"
    with reading(db) as con:
        present = {
            row[0] for row in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        if table not in present:
            return []
        types = dict(
            con.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?", [table]
            ).fetchall()
        )
        cursor = con.execute(f'SELECT {selected} FROM "{table}" WHERE {where}', list(params))
        names = [d[0] for d in cursor.description]
        rows = [
            {
                name: _json_value(value) if types.get(name) == "JSON" else value
                for name, value in zip(names, values, strict=True)
            }
            for values in cursor.fetchall()
        ]
    return sorted(rows, key=lambda row: (str(row.get("id") or row.get("load_id")), str(row.get("status"))))


def window_rows(db: Database, source: str, window: Window) -> list[dict[str, Any]]:
    """The window's rows of ``source``: core columns and ``_run_id``."""
    return table_rows(
        db,
        table_of(source),
        "created_at >= ? AND created_at < ?",
        [window.start, window.end],
        columns=[*CORE_COLUMNS, "_run_id"],
    )


def table_digest(db: Database, table: str, window: Window | None = None) -> list[tuple[Any, ...]]:
    """Every value of the table's rows (of ``window``, if given), as sorted tuples: cheap to compare."""
    where, params = (
        ("created_at >= ? AND created_at < ?", [window.start, window.end]) if window else ("TRUE", [])
    )
    with reading(db) as con:
        present = {
            row[0] for row in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        if table not in present:
            return []
        rows = con.execute(f'SELECT * FROM "{table}" WHERE {where}', params).fetchall()
    return sorted(rows, key=repr)


def audit_rows(db: Database) -> list[dict[str, Any]]:
    return table_rows(db, LOADS_TABLE)


def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """The logs tables and the audit table, in full, to compare before and after a failed load."""
    return {table: table_digest(db, table) for table in (*map(table_of, SOURCES), LOADS_TABLE)}


# -- the truth -----------------------------------------------------------------------------------


def expected_rows(
    server: SimulatorServer, source: str, window: Window, config: NormalizeConfig | None = None
) -> list[dict[str, Any]]:
    """The simulator's records of the window as core-column rows, sorted by id."""
    rows = []
    for record in server.simulator.truth(source, window.start, window.end):
        row = normalize_record(record, config or NormalizeConfig())
        rows.append(
            {
                name: _json_value(value) if CORE_COLUMNS[name] is ColumnType.JSON else _utc(value)
                for name, value in ((name, row[name]) for name in CORE_COLUMNS)
            }
        )
    return sorted(rows, key=lambda row: row["id"])


def _utc(value: Any) -> Any:
    return value.astimezone(timezone.utc) if isinstance(value, datetime) else value


def core_of(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The core columns of rows read by :func:`table_rows` (JSON already parsed)."""
    return [{name: _utc(row.get(name)) for name in CORE_COLUMNS} for row in rows]


def mismatch(actual: Sequence[Mapping[str, Any]], expected: Sequence[Mapping[str, Any]]) -> str | None:
    """None when the window's rows equal the truth (ids, no duplicates, every core column); else why not."""
    ids = [row["id"] for row in actual]
    want = [row["id"] for row in expected]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        return f"duplicated ids {duplicates[:5]} ({len(duplicates)} in all)"
    if ids != want:
        missing, extra = sorted(set(want) - set(ids)), sorted(set(ids) - set(want))
        return f"{len(missing)} ids missing (e.g. {missing[:3]}), {len(extra)} unexpected (e.g. {extra[:3]})"
    for got, wanted in zip(core_of(actual), expected, strict=True):
        if got != wanted:
            differing = {k: (got[k], wanted[k]) for k in CORE_COLUMNS if got[k] != wanted[k]}
            return f"record {got['id']} differs in core columns: {differing}"
    return None


def assert_window_is_truth(
    db: Database,
    server: SimulatorServer,
    source: str,
    window: Window,
    *,
    run_id: str | None = None,
    context: str = "",
    allow_empty: bool = False,
) -> list[dict[str, Any]]:
    """The window in the table equals the simulator's truth; with ``run_id``, every row is that run's."""
    actual = window_rows(db, source, window)
    expected = expected_rows(server, source, window)
    assert expected or allow_empty, (
        f"the simulator holds no {source} records in {window}: the test proves nothing"
    )
    problem = mismatch(actual, expected)
    assert problem is None, f"{context}{source} window {window} is not the simulator's truth: {problem}"
    if run_id is not None and actual:
        runs = {row["_run_id"] for row in actual}
        assert runs == {run_id}, f"{context}window rows come from runs {runs}, expected only {run_id!r}"
    return actual


# -- waiting on what other processes do ----------------------------------------------------------


def wait_until(condition: Callable[[], Any], *, timeout: float, what: str, poll: float = 0.002) -> Any:
    """Poll ``condition`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting until {what}")
        time.sleep(poll)  # polling an observable condition, bounded by the deadline
