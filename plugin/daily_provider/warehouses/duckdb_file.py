"""A DuckDB database file opened under an exclusive lock: the connection both DuckDB stores share.

DuckDB lets only one process open a file for writing, so every write holds an exclusive ``flock``
on ``<path>.lock`` and opens the database under it: concurrent loads of one file wait for each other
instead of failing. :class:`DuckDBFile` opens nothing in ``__init__``; each write takes the lock,
opens the file and releases both when done, unless :meth:`DuckDBFile.connect` holds them. The
warehouse (``duckdb.py``) and the anchor store (``duckdb_anchors.py``) both write through it.
"""

from __future__ import annotations

import fcntl
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import duckdb

from daily_provider.exceptions import DailyConfigError, WarehouseError
from daily_provider.sql import render

log = logging.getLogger(__name__)

DIALECT = "duckdb"

_LOCK_POLL_SECONDS = 0.05


def quote_identifier(name: str) -> str:
    """Quote ``name`` as a DuckDB identifier (doubling embedded quotes)."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """Quote ``text`` as a DuckDB string literal (doubling embedded quotes)."""
    return "'" + text.replace("'", "''") + "'"


def rollback(conn: duckdb.DuckDBPyConnection) -> None:
    """Roll back the open transaction, if any is still open."""
    # A failed COMMIT has already ended the transaction; the original error is the one to raise.
    with suppress(duckdb.TransactionException):
        conn.rollback()


class DuckDBFile:
    """A DuckDB database file, written under an exclusive lock.

    The parameters are :class:`~daily_provider.warehouses.duckdb.DuckDBWarehouse`'s. Nothing is
    opened in ``__init__``; :meth:`session` gives the connection for one write.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        memory_limit: str | None = "1GB",
        threads: int | None = 2,
        lock_timeout: float = 600.0,
    ) -> None:
        self.path = Path(path).expanduser()
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.memory_limit = memory_limit
        self.threads = threads
        self.lock_timeout = lock_timeout
        self._conn: duckdb.DuckDBPyConnection | None = None
        self._lock_file: IO[bytes] | None = None

    def connect(self) -> duckdb.DuckDBPyConnection:
        """Return the open connection, taking the file lock and opening the file if needed.

        The lock is held until :meth:`close`, so other processes loading this file wait meanwhile.
        """
        if self._conn is None:
            self._lock()
            try:
                self._conn = self._open()
            except BaseException:
                self._unlock()
                raise
        return self._conn

    def close(self) -> None:
        """Close the connection and release the file lock (safe to call twice)."""
        conn, self._conn = self._conn, None
        try:
            if conn is not None:
                conn.close()
        finally:
            self._unlock()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def session(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The connection for one write; released afterwards unless :meth:`connect` holds it."""
        if self._conn is not None:
            yield self._conn
            return
        conn = self.connect()
        try:
            yield conn
        finally:
            self.close()

    def _lock(self) -> None:
        if not self.path.parent.is_dir():
            raise DailyConfigError(
                f"the DuckDB file {self.path} is in a directory that does not exist: {self.path.parent}. "
                "Create that directory or point the warehouse at a file in an existing one."
            )
        lock_file = open(self.lock_path, "ab")  # noqa: SIM115 - held open for the lock's lifetime
        started = time.monotonic()
        waiting_logged = False
        while True:
            try:
                fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                waited = time.monotonic() - started
                if waited >= self.lock_timeout:
                    lock_file.close()
                    raise WarehouseError(
                        f"another load holds the DuckDB file {self.path} (lock file {self.lock_path}); "
                        f"gave up after waiting {waited:.1f}s. Let that load finish and retry, or raise "
                        f"lock_timeout (now {self.lock_timeout:g}s) on DuckDBWarehouse or the operator."
                    ) from None
                if not waiting_logged:
                    log.info("waiting up to %gs for another load to release %s", self.lock_timeout, self.path)
                    waiting_logged = True
                time.sleep(min(_LOCK_POLL_SECONDS, max(self.lock_timeout - waited, 0.0)))
        self._lock_file = lock_file

    def _unlock(self) -> None:
        lock_file, self._lock_file = self._lock_file, None
        if lock_file is not None:
            # Closing the descriptor releases the flock.
            lock_file.close()

    def _open(self) -> duckdb.DuckDBPyConnection:
        # Rows of a window have no order: without this setting DuckDB keeps the file's row order
        # through a parallel INSERT, which took the 1M-row load from ~8 s to ~18 s (BENCHMARKS.md).
        config: dict[str, Any] = {"preserve_insertion_order": False}
        if self.memory_limit is not None:
            config["memory_limit"] = self.memory_limit
        if self.threads is not None:
            config["threads"] = self.threads
        try:
            conn = duckdb.connect(str(self.path), config=config)
        except duckdb.Error as exc:
            raise WarehouseError(
                f"could not open the DuckDB file {self.path}: {exc}. Check that it is a DuckDB database "
                "and that no other program (e.g. the duckdb CLI) has it open."
            ) from exc
        try:
            conn.execute(render(DIALECT, "configure_session"))
        except duckdb.Error as exc:
            conn.close()
            raise WarehouseError(f"could not configure the DuckDB connection to {self.path}: {exc}") from exc
        return conn
