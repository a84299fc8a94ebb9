"""A staging writer whose Arrow work runs in a child process that exits before the load.

:class:`StagingProcess` takes the records of one window like
:class:`~daily_provider.staging.StagingWriter` and gives the same staged file. This process only
checks each record against the window, buffers a chunk and writes it to disk; a child process
runs the StagingWriter on those files (with its own worker processes) and exits once the file is
written. So this process never imports pyarrow, and the memory staging needed (pyarrow's
code and the heap it leaves behind, about 100 MB at 1,000,000 records) is handed back before the
warehouse load, which needs its own. After a small window the child may stay for the walk's next
one instead (``keep_child``): its heap is small then, and starting a child costs more than staging
a small window does.

``daily-logs load`` and ``daily-logs backfill`` stage this way; the operator stages in its own
process (an Airflow task process is large anyway, and starting pyarrow twice costs a second).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import shutil
import tempfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from daily_provider.exceptions import DailyError
from daily_provider.normalize import DEFAULT_CONFIG, NormalizeConfig, write_records
from daily_provider.staging_base import (
    UNIT_ROWS,
    ChildGone,
    ChildProcess,
    Stager,
    StagingStats,
    WindowCheck,
    check_writer_arguments,
)
from daily_provider.warehouses.base import StagedWindow
from daily_provider.window import Window

# Chunks written for the child and not yet taken by it: a few keep it busy while this process
# fetches; more would only fill the disk while the child is behind.
_CHUNKS_AHEAD = 2
# A child that staged fewer records than this may stay for the next window of the same walk:
# starting one costs about 0.4 s (pyarrow's import), which doubled the time of a 30-day range of
# 1,000 records a day, and after a window this small its heap is still small.
REUSE_BELOW_ROWS = 10_000


class StagingProcess(Stager):
    """Stages one window's records as one Parquet file, in a child process.

    Takes the same arguments as :class:`~daily_provider.staging.StagingWriter`, and its
    ``add``, ``add_many``, ``finish`` and ``close``; ``stats`` are the child writer's once
    :meth:`finish` has returned (``max_buffered_rows`` is the larger of either process's).
    An error in the child is raised here again; a child that dies raises DailyError.

    :param child: A child left running by an earlier writer (:meth:`take_child`) to stage this
        window in; None starts a new one.
    :param keep_child: Let the child stay after :meth:`finish` when the window had fewer than
        :data:`REUSE_BELOW_ROWS` records, for :meth:`take_child` to hand on. Otherwise it exits
        before :meth:`finish` returns.
    """

    def __init__(
        self,
        directory: Path,
        *,
        run_id: str,
        loaded_at: datetime,
        window: Window,
        config: NormalizeConfig = DEFAULT_CONFIG,
        chunk_rows: int = 10_000,
        workers: int | None = None,
        child: ChildProcess | None = None,
        keep_child: bool = False,
    ) -> None:
        check_writer_arguments(chunk_rows=chunk_rows, loaded_at=loaded_at, workers=workers)
        self.directory = Path(directory)
        self.window = window
        self.stats = StagingStats()
        self._unit_rows = min(chunk_rows, UNIT_ROWS)
        self._check = WindowCheck(window)
        self._pending: list[Mapping[str, Any]] = []
        self._ahead = 0  # chunks sent and not acknowledged
        self._staged: StagedWindow | None = None
        self._keep_child = keep_child
        self._kept: ChildProcess | None = None
        self.directory.mkdir(parents=True, exist_ok=True)
        self._chunks_dir = Path(tempfile.mkdtemp(prefix=".daily-logs-chunks-", dir=self.directory))
        setup = {
            "directory": self.directory,
            "run_id": run_id,
            "loaded_at": loaded_at,
            "window": window,
            "config": config,
            "chunk_rows": chunk_rows,
            "workers": workers,
        }
        try:
            if child is None:
                child = ChildProcess("daily_provider.staging", "stager_main", setup)
            else:
                child.send(setup)
        except BaseException:
            shutil.rmtree(self._chunks_dir, ignore_errors=True)
            raise
        self._child: ChildProcess | None = child

    def close(self) -> None:
        """Stop the child (one kept and not taken too) and remove the chunk files (the child removes its own)."""
        kept, self._kept = self._kept, None
        if kept is not None:
            kept.stop()
        self._end_child()

    def _end_child(self) -> None:
        child, self._child = self._child, None
        if child is not None:
            child.stop(kill=self._staged is None)
        shutil.rmtree(self._chunks_dir, ignore_errors=True)

    def take_child(self) -> ChildProcess | None:
        """The child, still running, if it stayed after :meth:`finish` (see ``keep_child``); the
        caller then owns it: it passes it to the next writer, or calls its ``stop()``."""
        child, self._kept = self._kept, None
        return child

    def add(self, raw: Mapping[str, Any]) -> None:
        """Take one record into the current chunk; send the chunk on once it is full."""
        if self._staged is not None:
            raise DailyError("this staging writer already finished its window; start a new writer")
        self._check(raw)
        pending = self._pending
        pending.append(raw)
        if len(pending) > self.stats.max_buffered_rows:
            self.stats.max_buffered_rows = len(pending)
        if len(pending) >= self._unit_rows:
            self._send_chunk()

    def finish(self) -> StagedWindow:
        """Have the child write the window's file; return it once the child has exited."""
        if self._staged is not None:
            return self._staged
        if self._pending:
            self._send_chunk()
        child = self._running()
        stay = self._keep_child and self.stats.rows < REUSE_BELOW_ROWS
        child.send(("finish", stay))
        while self._ahead:
            self._receive("taken")
        staged, stats = self._receive("staged")
        stats.max_buffered_rows = max(stats.max_buffered_rows, self.stats.max_buffered_rows)
        self._staged, self.stats = staged, stats
        if stay:
            self._kept, self._child = child, None
        self._end_child()  # else waits for the child to exit, so its memory is back before the load
        return staged

    def _send_chunk(self) -> None:
        records, self._pending = self._pending, []
        child = self._running()
        path = self._chunks_dir / f"chunk-{self.stats.chunks:06d}.records"
        try:
            write_records(str(path), records)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            raise DailyError(
                f"a record of this window cannot be sent to the staging process ({exc}); records must "
                "be plain JSON values, as Daily's API returns them"
            ) from None
        self.stats.rows += len(records)
        self.stats.chunks += 1
        child.send(("chunk", str(path), len(records)))
        self._ahead += 1
        while self._ahead > _CHUNKS_AHEAD or (self._ahead and child.ready()):
            self._receive("taken")

    def _running(self) -> ChildProcess:
        if self._child is None:
            raise DailyError("this staging writer was closed; start a new writer")
        return self._child

    def _receive(self, expected: str) -> Any:
        child = self._running()
        try:
            kind, *values = child.receive()
        except ChildGone as exc:
            raise DailyError(
                f"the staging process ended unexpectedly ({exc}), for instance killed for memory; "
                "nothing was loaded. Re-run the window."
            ) from None
        if kind == "error":
            raise values[0]
        assert kind == expected, f"staging process answered {kind!r}, expected {expected!r}"
        if kind == "taken":
            self._ahead -= 1
            return None
        return values
