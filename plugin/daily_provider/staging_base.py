"""What staging shares without Arrow: the window check, the counters and child processes.

:class:`~daily_provider.staging.StagingWriter` (which imports pyarrow) and
:class:`~daily_provider.staging_process.StagingProcess` (which must not: it keeps pyarrow out of
the process that later runs the DuckDB load) both check records and count them the same way.
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from types import TracebackType
from typing import TYPE_CHECKING, Any

from daily_provider.exceptions import DailyConfigError, DailyError
from daily_provider.normalize import CLOSED, created_at_value, receive_message, send_message
from daily_provider.redaction import value_text
from daily_provider.window import Window

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self from Python 3.11

# Records normalized as one unit (at most chunk_rows): the memory of a chunk in flight grows with it,
# the fixed cost per part shrinks with it.
UNIT_ROWS = 5_000


@dataclass
class StagingStats:
    """What the writer did so far.

    ``max_buffered_rows``: the most records this process held waiting for their chunk.
    ``max_in_flight_rows``: the most records handed to worker processes and not yet back
    (0 when every chunk was normalized in this process).
    """

    rows: int = 0
    chunks: int = 0
    max_buffered_rows: int = 0
    redacted_values: int = 0
    parse_errors: int = 0
    max_in_flight_rows: int = 0


class Stager:
    """What both staging writers share: records go in by ``add``; ``close`` runs on leaving a ``with``."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def add(self, raw: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def add_many(self, raws: Iterable[Mapping[str, Any]]) -> None:
        for raw in raws:
            self.add(raw)

    def close(self) -> None:
        raise NotImplementedError

    def take_child(self) -> ChildProcess | None:
        """A child process left running for the walk's next window; only StagingProcess keeps one."""
        return None


def check_writer_arguments(*, chunk_rows: Any, loaded_at: datetime, workers: Any) -> None:
    """Raise DailyConfigError for arguments no staging writer takes."""
    if not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise DailyConfigError(f"chunk_rows={chunk_rows!r} must be a positive integer")
    if loaded_at.tzinfo is None or loaded_at.utcoffset() is None:
        raise DailyConfigError(f"loaded_at={loaded_at!r} must be an aware datetime (UTC)")
    if workers is not None and (type(workers) is not int or workers < 0):
        raise DailyConfigError(f"workers={workers!r} must be None (automatic) or an integer of at least 0")


class WindowCheck:
    """Raises DailyError for a record whose ``createdAt`` is not inside ``window``."""

    __slots__ = ("_end", "_first", "window")

    def __init__(self, window: Window) -> None:
        self.window = window
        self._first = millisecond_text(window.start)
        self._end = millisecond_text(window.end)

    def __call__(self, raw: Mapping[str, Any]) -> None:
        text = raw.get("createdAt")
        # Daily's own form (2024-03-15T18:42:00.000Z, nearly every record): for valid texts of one
        # fixed width, text order is time order, so comparing with the window's bounds in that form
        # (rounded up to the millisecond) decides it; fromisoformat only checks the text is a date.
        if (
            type(text) is str
            and len(text) == 24
            and self._first <= text < self._end
            and text[23] == "Z"
            and text[19] == "."
        ):
            try:
                _fromisoformat(text[:23])
                return
            except ValueError:
                pass
        created_at = created_at_value(text)
        if created_at is None or not self.window.contains(created_at):
            record_id = raw.get("id")
            raise DailyError(
                f"record id={None if record_id is None else value_text(record_id)!r} has createdAt={text!r}, "
                f"which is not inside the window {self.window}; only the window's records can be staged "
                "(a record that sits in no window would never be replaced). Check the extract that produced it."
            )


_fromisoformat = datetime.fromisoformat


def millisecond_text(moment: datetime) -> str:
    """``moment`` in Daily's text form, rounded up to the millisecond (records carry milliseconds)."""
    moment = moment.astimezone(timezone.utc)
    if moment.microsecond % 1000:
        moment += timedelta(microseconds=1000 - moment.microsecond % 1000)
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:{moment.minute:02d}:"
        f"{moment.second:02d}.{moment.microsecond // 1000:03d}Z"
    )


# -- child processes -----------------------------------------------------------------------------
#
# Children are plain interpreters started with ``sys.executable -c``, not multiprocessing: spawn and
# forkserver re-import the host's ``__main__`` (an unguarded script, an Airflow entry point) and
# fork is unsafe once Arrow or DuckDB threads run. They talk over two pipes in length-prefixed
# pickles (normalize.send_message); the first message is the child's setup.

_CHILD_CODE = (
    "import sys; sys.path[:0] = {path!r}; from {module} import {function}; {function}({inbox}, {outbox})"
)
_STOP_SECONDS = 10.0


class ChildGone(Exception):
    """The child process ended before answering."""


class ChildProcess:
    """A Python child running ``module.function(inbox_fd, outbox_fd)``, and its two pipes."""

    def __init__(self, module: str, function: str, setup: object) -> None:
        inbox_read, inbox_write = os.pipe()  # the child's inbox
        outbox_read, outbox_write = os.pipe()
        try:
            code = _CHILD_CODE.format(
                path=[p for p in sys.path if p],
                module=module,
                function=function,
                inbox=inbox_read,
                outbox=outbox_write,
            )
            self.process = subprocess.Popen(
                [sys.executable, "-c", code], pass_fds=(inbox_read, outbox_write), stdin=subprocess.DEVNULL
            )
        except BaseException:
            for fd in (inbox_read, inbox_write, outbox_read, outbox_write):
                os.close(fd)
            raise
        os.close(inbox_read)
        os.close(outbox_write)
        self.inbox = os.fdopen(inbox_write, "wb")
        # Unbuffered, so that select() sees every answer not read yet.
        self.outbox = os.fdopen(outbox_read, "rb", buffering=0)
        self.gone = False
        self.send(setup)

    def send(self, message: object) -> None:
        try:
            send_message(self.inbox, message)
        except OSError:  # a broken pipe: it ended; found out when the answer is due
            self.gone = True

    def ready(self) -> bool:
        """True when an answer (or the end of the pipe) can be read without waiting."""
        return self.gone or bool(select.select([self.outbox], [], [], 0)[0])

    def receive(self) -> Any:
        """The next answer; ChildGone when the child ended without one."""
        reply = CLOSED if self.gone else receive_message(self.outbox)
        if reply is CLOSED:
            self.gone = True
            raise ChildGone(f"exit status {self.process.wait()}")
        return reply

    def stop(self, *, kill: bool = False) -> None:
        """End the child: at once with ``kill``, else once it has read everything sent to it."""
        if kill:
            self.process.kill()
        with contextlib.suppress(OSError):
            self.inbox.close()  # EOF: the child finishes its queued work and exits
        try:
            self.process.wait(timeout=_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.outbox.close()
