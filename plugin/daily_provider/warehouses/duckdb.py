"""DuckDB warehouse: the embedded default sink for Daily logs windows.

Each window is replaced in one transaction (DELETE the window, one bulk INSERT ... SELECT from the
staged Parquet file), after the table's columns were added or widened to fit the staged ones.
Every write goes through the file's lock (``duckdb_file.py``), so concurrent loads of one file wait
for each other; ``anchors`` (``duckdb_anchors.py``) keeps the walks' cursor anchors in the same
file. The SQL is in ``sql/duckdb/``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import asdict
from functools import partial
from typing import Any

import duckdb
import orjson

from daily_provider.exceptions import DailyConfigError, WarehouseError
from daily_provider.schema import ColumnType, widen
from daily_provider.scope import ReplaceScope
from daily_provider.sql import render, validate_name
from daily_provider.warehouses.base import (
    KEY_COLUMNS,
    LOADS_TABLE,
    LoadRecord,
    StagedWindow,
    checked_staged_columns,
)
from daily_provider.warehouses.duckdb_anchors import DuckDBAnchorStore
from daily_provider.warehouses.duckdb_file import (
    DIALECT,
    DuckDBFile,
    quote_identifier,
    quote_literal,
    rollback,
)
from daily_provider.warehouses.duckdb_maps import DuckDBMapStore

__all__ = ["DUCKDB_TYPES", "DuckDBWarehouse", "quote_identifier"]

log = logging.getLogger(__name__)

# Times a swap is retried with twice the memory_limit after DuckDB ran out of it (8x at most).
MEMORY_RETRIES = 3

DUCKDB_TYPES: dict[ColumnType, str] = {
    ColumnType.BOOL: "BOOLEAN",
    ColumnType.INT64: "BIGINT",
    ColumnType.FLOAT64: "DOUBLE",
    ColumnType.STRING: "VARCHAR",
    ColumnType.TIMESTAMP: "TIMESTAMPTZ",
    ColumnType.JSON: "JSON",
}

# information_schema spells TIMESTAMPTZ out in full.
_COLUMN_TYPES_BY_DUCKDB_NAME: dict[str, ColumnType] = {
    **{duckdb_type: column_type for column_type, duckdb_type in DUCKDB_TYPES.items()},
    "TIMESTAMP WITH TIME ZONE": ColumnType.TIMESTAMP,
}


def _table_name(table: str) -> str:
    try:
        return validate_name(table, what="table")
    except ValueError as exc:
        raise DailyConfigError(str(exc)) from None


class DuckDBWarehouse(DuckDBFile, DuckDBMapStore):
    """Load Daily logs windows into a DuckDB file.

    :param path: The DuckDB database file. Its directory must exist; the file is created on first use.
    :param memory_limit: DuckDB ``memory_limit`` for the connection (e.g. ``"1GB"``); ``None`` keeps
        DuckDB's default (80% of RAM). The buffer cache, not Python, sets the load's peak memory.
    :param threads: DuckDB ``threads`` for the connection; ``None`` keeps DuckDB's default (all cores).
    :param lock_timeout: Seconds to wait while another process writes to the same file.

    Nothing is opened in ``__init__``. Each write takes the file lock, opens the database, and
    closes both when done, unless :meth:`connect` was called: then the connection and the lock are
    held until :meth:`close`. ``anchors`` keeps the walks' cursor anchors in the same file.
    """

    dialect = DIALECT

    @property
    def anchors(self) -> DuckDBAnchorStore:
        """The walks' cursor anchors, in this file's ``daily_logs_anchors`` table."""
        return DuckDBAnchorStore(self)

    # -- the Warehouse protocol ----------------------------------------------------------------

    def replace_window(self, *, scope: ReplaceScope, staged: StagedWindow) -> int:
        """Replace the rows ``scope`` names by the staged rows; return how many were inserted.

        Creates the table if missing and adds or widens columns first (additive, kept even if
        the replace then fails). The DELETE and the INSERT run in one transaction: on any failure
        the table's rows are exactly what they were, and :class:`WarehouseError` is raised.
        """
        table = scope.table
        table_sql = quote_identifier(_table_name(table))
        what = f"{scope} into DuckDB table {table!r} ({self.path})"
        staged_columns = checked_staged_columns(staged.columns, what)
        clock = time.monotonic()
        with self.session() as conn:
            self._check_staged_rows(conn, scope, staged, what)
            try:
                conn.execute(render(DIALECT, "create_logs_table", table=table_sql))
                table_types = self._settle_columns(conn, table, table_sql, staged_columns, what, staged.paths)
            except duckdb.Error as exc:
                raise WarehouseError(
                    f"preparing the table for {what} failed: {exc}. No rows were changed; "
                    "fix the cause and re-run the window."
                ) from exc
            deleted, inserted = self._with_memory_retries(
                conn,
                partial(self._swap_window, conn, table_sql, scope, staged, table_types, what),
                what=what,
                columns=len(table_types),
            )
        log.info(
            "DuckDB: replaced %d rows with %d staged rows for %s in %.2fs",
            deleted,
            inserted,
            what,
            time.monotonic() - clock,
        )
        return inserted

    def record_load(self, record: LoadRecord) -> None:
        """Insert or update (by ``load_id``) the audit row in ``daily_logs_loads``."""
        loads_sql = quote_identifier(LOADS_TABLE)
        params = asdict(record)
        params["extra"] = orjson.dumps(record.extra, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
        with self.session() as conn:
            try:
                conn.execute(render(DIALECT, "create_loads_table", loads=loads_sql))
                conn.execute(render(DIALECT, "upsert_load", loads=loads_sql), params)
            except duckdb.Error as exc:
                raise WarehouseError(
                    f"recording load {record.load_id} (status {record.status!r}) in DuckDB table "
                    f"{LOADS_TABLE!r} ({self.path}) failed: {exc}"
                ) from exc

    def table_columns(self, table: str) -> dict[str, ColumnType]:
        """Return ``table``'s columns and logical types in table order (empty if it does not exist)."""
        name = _table_name(table)
        with self.session() as conn:
            raw = self._raw_columns(conn, name)
        return {column: _column_type(name, column, duckdb_type) for column, duckdb_type in raw.items()}

    def column_comments(self, table: str) -> dict[str, str]:
        """Each commented column's comment (a flattened column's original JSON path); empty if no table."""
        name = _table_name(table)
        with self.session() as conn:
            rows = conn.execute(render(DIALECT, "column_comments"), {"table_name": name}).fetchall()
        return {column: comment for column, comment in rows}

    # -- steps -----------------------------------------------------------------------------------

    def _raw_columns(self, conn: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
        rows = conn.execute(render(DIALECT, "table_columns"), {"table_name": table}).fetchall()
        return {column: duckdb_type for column, duckdb_type in rows}

    def _check_staged_rows(
        self, conn: duckdb.DuckDBPyConnection, scope: ReplaceScope, staged: StagedWindow, what: str
    ) -> None:
        params = {
            "path": str(staged.path),
            "source": scope.source,
            "window_start": scope.covered.start,
            "window_end": scope.covered.end,
        }
        try:
            row = conn.execute(render(DIALECT, "count_staged_outside_window"), params).fetchone()
        except duckdb.Error as exc:
            raise WarehouseError(
                f"could not read the staged file {staged.path} for {what}: {exc}. No rows were changed; "
                "re-run the window to stage it again."
            ) from exc
        outside = row[0] if row else 0
        if outside:
            raise WarehouseError(
                f"{outside} staged rows for {what} have another source or a created_at outside the "
                "window; loading them would leave rows no replace of this window removes. No rows were "
                "changed; the staging step must write only the window's rows of that source."
            )

    def _settle_columns(
        self,
        conn: duckdb.DuckDBPyConnection,
        table: str,
        table_sql: str,
        staged_columns: Mapping[str, ColumnType],
        what: str,
        paths: Mapping[str, str],
    ) -> dict[str, ColumnType]:
        """Add missing columns and widen narrower ones; return the table types of the staged columns.

        A new flattened column's comment is its original JSON path (``paths``).

        Types are settled once, before any row is written: a type change in the middle of a load
        costs a rewrite of the column each time.
        """
        raw = self._raw_columns(conn, table)
        current = {name.lower(): (name, duckdb_type) for name, duckdb_type in raw.items()}
        _check_key_columns(table, current, what)
        settled: dict[str, ColumnType] = {}
        for column, staged_type in staged_columns.items():
            column_sql = quote_identifier(column)
            if column not in current:
                _add_column(conn, table_sql, column_sql, staged_type, paths.get(column))
                settled[column] = staged_type
                continue
            table_type = _column_type(table, *current[column])
            wider = widen(table_type, staged_type)
            assert wider is not None  # both types are known
            if wider != table_type:
                log.info("DuckDB: widening %s.%s from %s to %s", table, column, table_type.value, wider.value)
                conn.execute(
                    render(
                        DIALECT,
                        "alter_column_type",
                        table=table_sql,
                        column=column_sql,
                        column_type=DUCKDB_TYPES[wider],
                    )
                )
            settled[column] = wider
        return settled

    def _with_memory_retries(
        self, conn: duckdb.DuckDBPyConnection, swap: Callable[[], tuple[int, int]], *, what: str, columns: int
    ) -> tuple[int, int]:
        """Run ``swap`` (a :meth:`_swap_window`), again with twice the memory_limit when DuckDB runs out of it.

        A low memory_limit keeps a load's peak small, but the INSERT needs buffers per column:
        a window with many more columns than usual can need more. Each failed attempt rolled
        back, so retrying is safe; the session's limit is restored after the swap.
        """
        limit = self.memory_limit
        attempt = 0
        try:
            while True:
                try:
                    return swap()
                except _OutOfMemory as exc:
                    if limit is None or attempt == MEMORY_RETRIES:
                        raise WarehouseError(
                            f"replacing {what} ran out of DuckDB's memory_limit ({limit or 'default'}) and was "
                            f"rolled back, so the table holds what it held before: {exc.message}. Raise the "
                            "memory limit (--memory-limit, or memory_limit= on the operator) and re-run the window."
                        ) from None
                    larger = doubled_memory_limit(limit)
                    log.warning(
                        "DuckDB ran out of memory_limit %s replacing %s (%d columns); rolled back, retrying "
                        "with %s. Set a larger memory limit to skip this retry.",
                        limit,
                        what,
                        columns,
                        larger,
                    )
                    conn.execute(render(DIALECT, "set_memory_limit", memory_limit=quote_literal(larger)))
                    limit = larger
                    attempt += 1
        finally:
            if limit != self.memory_limit and self.memory_limit is not None:
                with suppress(duckdb.Error):
                    conn.execute(
                        render(DIALECT, "set_memory_limit", memory_limit=quote_literal(self.memory_limit))
                    )

    def _swap_window(
        self,
        conn: duckdb.DuckDBPyConnection,
        table_sql: str,
        scope: ReplaceScope,
        staged: StagedWindow,
        table_types: Mapping[str, ColumnType],
        what: str,
    ) -> tuple[int, int]:
        columns_sql = ", ".join(quote_identifier(column) for column in table_types)
        values_sql = ", ".join(
            f"CAST({quote_identifier(column)} AS {DUCKDB_TYPES[column_type]})"
            for column, column_type in table_types.items()
        )
        delete_sql = render(DIALECT, "delete_window", table=table_sql)
        insert_sql = render(DIALECT, "insert_window", table=table_sql, columns=columns_sql, values=values_sql)
        scope_params = {
            "source": scope.source,
            "window_start": scope.covered.start,
            "window_end": scope.covered.end,
            "domain_id": scope.domain_id,
            "url_filter": scope.url_filter,
            "path": str(staged.path),
        }
        conn.begin()
        try:
            deleted = _count(conn.execute(delete_sql, scope_params).fetchone())
            inserted = _count(conn.execute(insert_sql, {"path": str(staged.path)}).fetchone())
            if inserted != staged.rows:
                raise WarehouseError(
                    f"the staged file {staged.path} holds {inserted} rows but its StagedWindow says "
                    f"{staged.rows}; rolled back {what}. Re-run the window to stage it again."
                )
            conn.commit()
        except duckdb.OutOfMemoryException as exc:
            rollback(conn)
            raise _OutOfMemory(str(exc).splitlines()[0]) from exc
        except duckdb.Error as exc:
            rollback(conn)
            raise WarehouseError(
                f"replacing {what} failed and was rolled back, so the table holds what it held before: "
                f"{exc}. Fix the cause and re-run the window."
            ) from exc
        except BaseException:
            rollback(conn)
            raise
        return deleted, inserted


class _OutOfMemory(Exception):
    """DuckDB ran out of its memory_limit in a swap that was rolled back."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


_UNITS = {
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "TB": 1000**4,
    "KIB": 1024,
    "MIB": 1024**2,
    "GIB": 1024**3,
}


def doubled_memory_limit(limit: str) -> str:
    """``limit`` (DuckDB's size text, e.g. ``"128MB"``) times two, in MB."""
    text = limit.strip().upper().replace(" ", "")
    for unit in sorted(_UNITS, key=len, reverse=True):
        if text.endswith(unit) and text[: -len(unit)].replace(".", "", 1).isdigit():
            return f"{int(float(text[: -len(unit)]) * _UNITS[unit] * 2 / 1000**2)}MB"
    raise WarehouseError(f"memory_limit={limit!r} is not a size DuckDB-style like '128MB' or '1GB'")


def _count(row: tuple[Any, ...] | None) -> int:
    return int(row[0]) if row else 0


def _column_type(table: str, column: str, duckdb_type: str) -> ColumnType:
    try:
        return _COLUMN_TYPES_BY_DUCKDB_NAME[duckdb_type]
    except KeyError:
        known = ", ".join(sorted(set(DUCKDB_TYPES.values())))
        raise WarehouseError(
            f"column {column} of DuckDB table {table!r} has type {duckdb_type}, which this provider does "
            f"not manage (it writes {known}); change the column back to one of those types or drop it"
        ) from None


def _check_key_columns(table: str, current: Mapping[str, tuple[str, str]], what: str) -> None:
    """Refuse a table whose key columns (``base.KEY_COLUMNS``) are missing or of another type."""
    for column, key_type in KEY_COLUMNS.items():
        table_type = _column_type(table, *current[column]) if column in current else None
        if table_type is not key_type:
            raise WarehouseError(
                f"the table's window key column {column} is {table_type.value if table_type else 'missing'} but must "
                f"be {key_type.value} to replace {what}; nothing was changed. Load into a table created "
                "by this provider."
            )


def _add_column(
    conn: duckdb.DuckDBPyConnection,
    table_sql: str,
    column_sql: str,
    column_type: ColumnType,
    path: str | None,
) -> None:
    """Add a nullable column; a flattened column's comment is its original JSON path."""
    conn.execute(
        render(
            DIALECT, "add_column", table=table_sql, column=column_sql, column_type=DUCKDB_TYPES[column_type]
        )
    )
    if path is not None:
        conn.execute(
            render(DIALECT, "comment_column", table=table_sql, column=column_sql, comment=quote_literal(path))
        )
