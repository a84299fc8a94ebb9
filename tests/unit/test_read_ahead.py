"""The read-ahead thread: order, errors and stopping early."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from daily_provider.read_ahead import read_ahead


def test_read_ahead_yields_every_record_in_order_then_raises_the_sources_error() -> None:
    def source() -> Iterator[int]:
        yield from range(50)
        raise ConnectionError("page 3 failed")

    seen: list[int] = []
    with pytest.raises(ConnectionError, match="page 3 failed"):
        for item in read_ahead(source(), limit=4):
            seen.append(item)
    assert seen == list(range(50))


def test_stopping_early_closes_the_source_in_the_reader_thread() -> None:
    closed = threading.Event()

    def source() -> Iterator[int]:
        try:
            yield from range(10_000)
        finally:
            closed.set()

    records = read_ahead(source(), limit=4)
    assert [next(records) for _ in range(3)] == [0, 1, 2]
    records.close()  # the caller stops: the reader stops and runs the source's finally
    assert closed.wait(timeout=10)
