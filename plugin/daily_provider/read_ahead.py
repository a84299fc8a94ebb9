"""Read-ahead: a thread that pulls records from their source while the caller stages the last ones.

When the records come from the API, the thread waits for the next page while the staging writer
normalizes the last, so staging never adds its time to the requests'. It is the pipeline's one
other thread; everything it hands over goes through one bounded queue.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any

# Records a reader thread may hold ahead of normalizing: a few of the API's pages of 100.
READ_AHEAD_RECORDS = 1_000
# How long a caller that stopped early waits for the reader (inside a request, say) to stop.
_STOP_WAIT_SECONDS = 1.0


class _ReaderEnd:
    """What the reader thread hands over last: None when ``records`` ran out, else its exception."""

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


def read_ahead(records: Iterable[Any], limit: int = READ_AHEAD_RECORDS) -> Iterator[Any]:
    """Yield ``records`` in order, read by a thread at most ``limit`` ahead of the caller.

    An exception of ``records`` is raised here; when the caller stops early, the thread stops and
    closes ``records`` (a generator's ``finally`` runs in the thread that ran it).
    """
    handoff: queue.Queue[Any] = queue.Queue(maxsize=limit)
    stop = threading.Event()

    def hand_over(item: Any) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        iterator = iter(records)
        ended = _ReaderEnd(None)
        try:
            for record in iterator:
                if not hand_over(record):
                    break
        except BaseException as exc:  # raised again by the caller, in its own thread
            ended = _ReaderEnd(exc)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
        hand_over(ended)

    reader = threading.Thread(target=read, name="daily-logs-read-ahead", daemon=True)
    reader.start()
    finished = False
    try:
        while not isinstance(item := handoff.get(), _ReaderEnd):
            yield item
        finished = True
        if item.error is not None:
            raise item.error
    finally:
        stop.set()
        reader.join(timeout=None if finished else _STOP_WAIT_SECONDS)
