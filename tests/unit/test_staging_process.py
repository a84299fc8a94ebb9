"""StagingProcess: the staging writer's Arrow work in a child process, the same file out."""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from daily_provider.exceptions import DailyError
from daily_provider.staging import StagingWriter
from daily_provider.staging_base import UNIT_ROWS
from daily_provider.staging_process import StagingProcess

from .test_staging import LOADED_AT, WINDOW, many_records, mixed_records, record


def writer(kind: type[StagingWriter] | type[StagingProcess], directory: Path, **options: Any) -> Any:
    return kind(directory, run_id="run-1", loaded_at=LOADED_AT, window=WINDOW, **options)


@pytest.mark.parametrize("workers", [0, 1])
def test_the_child_process_stages_the_same_file_as_this_process(tmp_path: Path, workers: int) -> None:
    records = mixed_records() + many_records(60)
    for index, raw in enumerate(records):
        raw["id"] = f"rec-{index:05d}"  # the two record sets number their ids alike
    with writer(StagingWriter, tmp_path / "here", chunk_rows=7, workers=workers) as here:
        here.add_many(records)
        expected = pq.read_table(here.finish().path)
    with writer(StagingProcess, tmp_path / "child", chunk_rows=7, workers=workers) as child:
        child.add_many(records)
        staged = child.finish()
        table = pq.read_table(staged.path)
    assert table.equals(expected)
    assert table.schema == expected.schema
    assert staged.rows == len(records)
    assert (child.stats.rows, child.stats.chunks, child.stats.redacted_values, child.stats.parse_errors) == (
        here.stats.rows,
        here.stats.chunks,
        here.stats.redacted_values,
        here.stats.parse_errors,
    )
    assert child.stats.redacted_values > 0 and child.stats.parse_errors > 0


def test_the_child_has_exited_and_its_chunk_files_are_gone_once_finished(tmp_path: Path) -> None:
    with writer(StagingProcess, tmp_path, chunk_rows=10) as child:
        process = child._child.process
        child.add_many(many_records(35))
        staged = child.finish()
        # finish() waits for the child: its memory is back before the warehouse load starts.
        assert process.poll() == 0
        assert [path.name for path in tmp_path.iterdir()] == [staged.path.name]


def test_this_process_buffers_at_most_one_chunk(tmp_path: Path) -> None:
    with writer(StagingProcess, tmp_path, chunk_rows=25) as child:
        child.add_many(many_records(140))
        child.finish()
    assert child.stats.rows == 140
    assert child.stats.max_buffered_rows == 25
    assert min(25, UNIT_ROWS) == 25


def test_a_record_outside_the_window_is_refused_here(tmp_path: Path) -> None:
    late = record(0, createdAt="2024-03-16T00:00:00.000Z")
    with writer(StagingProcess, tmp_path) as child:
        child.add(record(1))
        with pytest.raises(DailyError, match="not inside the window"):
            child.add(late)
    assert list(tmp_path.iterdir()) == []


class _FailsToArrive:
    """Pickles here; unpickling it (in the child or its worker) raises ZeroDivisionError."""

    def __reduce__(self) -> tuple[Any, tuple[int, int]]:
        return operator.truediv, (1, 0)


def test_an_error_in_the_child_is_raised_here_and_leaves_no_file(tmp_path: Path) -> None:
    records = many_records(30)
    records[12]["request"] = _FailsToArrive()
    with writer(StagingProcess, tmp_path, chunk_rows=10) as child:
        child.add_many(records)
        with pytest.raises(ZeroDivisionError):
            child.finish()
    assert list(tmp_path.iterdir()) == []


def test_a_record_that_cannot_be_sent_says_so(tmp_path: Path) -> None:
    local = type("Local", (dict,), {})  # pickle cannot find a class made here by name
    records = many_records(3)
    records[1]["request"] = local(name="room")
    with writer(StagingProcess, tmp_path, chunk_rows=10) as child:
        child.add_many(records)
        with pytest.raises(DailyError, match="cannot be sent to the staging process"):
            child.finish()


def test_a_child_that_dies_fails_the_window_with_a_clear_error(tmp_path: Path) -> None:
    with writer(StagingProcess, tmp_path, chunk_rows=10) as child:
        child.add_many(many_records(20))
        child._child.process.kill()
        child._child.process.wait()
        with pytest.raises(DailyError, match="staging process ended unexpectedly"):
            child.add_many(many_records(30))
            child.finish()
    assert list(tmp_path.iterdir()) == []


def test_a_small_window_leaves_its_child_for_the_next_window(tmp_path: Path) -> None:
    first_records, second_records = many_records(30), many_records(45)
    with writer(StagingProcess, tmp_path / "first", chunk_rows=10, keep_child=True) as first:
        first.add_many(first_records)
        first.finish()
        child = first.take_child()
    assert child is not None and child.process.poll() is None  # still running, now ours
    with writer(StagingProcess, tmp_path / "second", chunk_rows=10, child=child, keep_child=True) as second:
        second.add_many(second_records)
        table = pq.read_table(second.finish().path)
        assert second.take_child() is child  # the same process staged both windows
    with writer(StagingWriter, tmp_path / "here", chunk_rows=10) as here:
        here.add_many(second_records)
        assert table.equals(pq.read_table(here.finish().path))
    child.stop()
    assert child.process.poll() == 0


def test_a_large_window_ends_its_child_even_when_asked_to_keep_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("daily_provider.staging_process.REUSE_BELOW_ROWS", 20)
    with writer(StagingProcess, tmp_path, chunk_rows=10, keep_child=True) as child:
        process = child._child.process
        child.add_many(many_records(20))
        child.finish()
        assert child.take_child() is None
        assert process.poll() == 0  # exited before finish() returned: its memory is back for the load


def test_closing_stops_a_kept_child_nobody_took(tmp_path: Path) -> None:
    with writer(StagingProcess, tmp_path, keep_child=True) as child:
        process = child._child.process
        child.add_many(many_records(5))
        child.finish()
        assert process.poll() is None
    assert process.poll() == 0
