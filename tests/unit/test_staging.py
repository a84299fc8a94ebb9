"""StagingWriter: bounded chunks in, one typed Parquet file out, the same whatever the chunk size."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daily_provider.exceptions import DailyConfigError, DailyError
from daily_provider.normalize import NormalizeConfig
from daily_provider.read_ahead import READ_AHEAD_RECORDS
from daily_provider.redaction import REDACTED
from daily_provider.schema import CORE_COLUMNS, METADATA_COLUMNS, ColumnType, parse_timestamp_text
from daily_provider.staging import StagingStats, StagingWriter
from daily_provider.warehouses.base import StagedWindow
from daily_provider.window import Window

UTC = timezone.utc
WINDOW = Window.parse("2024-03-15T00:00:00Z", "2024-03-16T00:00:00Z")
LOADED_AT = datetime(2024, 3, 16, 1, 2, 3, tzinfo=UTC)
PHYSICAL = {
    ColumnType.BOOL: pa.bool_(),
    ColumnType.INT64: pa.int64(),
    ColumnType.FLOAT64: pa.float64(),
    ColumnType.STRING: pa.string(),
    ColumnType.TIMESTAMP: pa.timestamp("us", tz="UTC"),
    ColumnType.JSON: pa.string(),
}


def record(index: int, request: Any = None, response: Any = None, **fields: Any) -> dict[str, Any]:
    created = WINDOW.start + timedelta(minutes=index)
    base = {
        "id": f"rec-{index:05d}",
        "createdAt": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "source": "api",
        "method": "POST",
        "url": "/v1/rooms",
        "status": 200,
        "ip": "203.0.113.7",
        "userId": "user-1",
        "domainId": "domain-1",
        "request": None if request is None else json.dumps(request),
        "response": None if response is None else json.dumps(response),
    }
    base.update(fields)
    return base


def stage(
    tmp_path: Path, records: list[dict[str, Any]], chunk_rows: int, config: NormalizeConfig | None = None
) -> tuple[StagedWindow, StagingStats, pa.Table]:
    directory = tmp_path / f"chunk-{chunk_rows}"
    with StagingWriter(
        directory,
        run_id="run-1",
        loaded_at=LOADED_AT,
        window=WINDOW,
        config=config or NormalizeConfig(),
        chunk_rows=chunk_rows,
    ) as writer:
        writer.add_many(records)
        staged = writer.finish()
    return staged, writer.stats, pq.read_table(staged.path)


def mixed_records() -> list[dict[str, Any]]:
    """Bodies whose keys appear late, disagree in type across rows, nest, break, and hold secrets."""
    values: list[Any] = [
        1,
        2.5,
        "text",
        True,
        2**70,
        "2024-03-15T18:42:00.5Z",
        [1, {"a": 2}],
        2**53 + 1,
        None,
        7,
    ]
    records = []
    for index, value in enumerate(values * 3):
        request = {
            "v": value,
            "n": index,
            "f": index if index % 2 else float(index),
            "ts": "2024-03-15T01:00:00Z",
        }
        if index % 7 == 3:
            request["late"] = {"deep": {"key": index}}
        response: Any = {"token": "secret-token", "ok": index % 2 == 0}
        raw = record(index, request=request, response=response)
        if index % 9 == 4:
            raw["response"] = "<html>502</html>"
        records.append(raw)
    return records


def test_output_is_identical_for_small_and_large_chunks(tmp_path: Path) -> None:
    small, small_stats, small_table = stage(tmp_path, mixed_records(), chunk_rows=3)
    large, large_stats, large_table = stage(tmp_path, mixed_records(), chunk_rows=10_000)
    assert small.columns == large.columns
    assert small_table.schema == large_table.schema
    assert small_table.equals(large_table)
    assert small.rows == large.rows == 30
    assert small_stats.chunks == 10
    assert large_stats.chunks == 1
    assert (small_stats.redacted_values, small_stats.parse_errors) == (
        large_stats.redacted_values,
        large_stats.parse_errors,
    )


@pytest.mark.parametrize("chunk_rows", [1, 3, 7])
def test_chunking_never_buffers_more_than_chunk_rows(tmp_path: Path, chunk_rows: int) -> None:
    _, stats, _ = stage(tmp_path, mixed_records(), chunk_rows=chunk_rows)
    assert stats.max_buffered_rows == chunk_rows
    assert stats.rows == 30
    assert stats.chunks == -(-30 // chunk_rows)


def test_columns_come_core_then_metadata_then_flattened_by_name(tmp_path: Path) -> None:
    staged, _, table = stage(tmp_path, mixed_records(), chunk_rows=4)
    names = list(staged.columns)
    fixed = len(CORE_COLUMNS) + len(METADATA_COLUMNS)
    assert names[:fixed] == [*CORE_COLUMNS, *METADATA_COLUMNS]
    assert names[fixed:] == sorted(names[fixed:])
    assert table.column_names == names


def test_physical_types_follow_the_logical_types(tmp_path: Path) -> None:
    staged, _, table = stage(tmp_path, mixed_records(), chunk_rows=4)
    for name, kind in staged.columns.items():
        assert table.schema.field(name).type == PHYSICAL[kind], name


def test_only_text_columns_are_dictionary_encoded(tmp_path: Path) -> None:
    staged, _, _ = stage(tmp_path, many_records(40), chunk_rows=10)
    row_group = pq.ParquetFile(staged.path).metadata.row_group(0)
    dictionary = {
        row_group.column(index).path_in_schema: row_group.column(index).has_dictionary_page
        for index in range(row_group.num_columns)
    }
    assert dictionary == {
        name: kind in (ColumnType.STRING, ColumnType.JSON) for name, kind in staged.columns.items()
    }
    assert dictionary["endpoint"] and not dictionary["status"] and not dictionary["created_at"]


def test_columns_widen_across_chunks_with_deterministic_text_forms(tmp_path: Path) -> None:
    staged, _, table = stage(tmp_path, mixed_records(), chunk_rows=2)
    assert staged.columns["request__v"] is ColumnType.STRING
    assert staged.columns["request__f"] is ColumnType.FLOAT64
    assert staged.columns["request__n"] is ColumnType.INT64
    assert staged.columns["request__ts"] is ColumnType.TIMESTAMP
    assert staged.columns["request__late__deep__key"] is ColumnType.INT64
    assert table.column("request__v").to_pylist()[:10] == [
        "1", "2.5", "text", "true", str(2**70), "2024-03-15T18:42:00.5Z", '[1,{"a":2}]', str(2**53 + 1), None, "7",
    ]  # fmt: skip
    assert table.column("request__f").to_pylist()[:4] == [0.0, 1.0, 2.0, 3.0]
    assert set(table.column("request__ts").to_pylist()) == {datetime(2024, 3, 15, 1, tzinfo=UTC)}


@pytest.mark.parametrize(
    ("first", "second", "kind", "expected"),
    [
        (5, 2.5, ColumnType.FLOAT64, [5.0, 2.5]),
        (2**53 + 1, 0.5, ColumnType.FLOAT64, [float(2**53 + 1), 0.5]),
        (5, "x", ColumnType.STRING, ["5", "x"]),
        (1.0, "x", ColumnType.STRING, ["1.0", "x"]),
        (1e20, "x", ColumnType.STRING, ["1e+20", "x"]),
        (True, 1, ColumnType.STRING, ["true", "1"]),
        ("2024-03-15T18:42:00.000+01:00", "x", ColumnType.STRING, ["2024-03-15T18:42:00.000+01:00", "x"]),
        ({"a": 1}, "x", ColumnType.STRING, [None, "x"]),  # an object flattens; it is not this column
        ([1, 2], 3, ColumnType.STRING, ["[1,2]", "3"]),
        (2**64, 3, ColumnType.STRING, [str(2**64), "3"]),
    ],
)
@pytest.mark.parametrize("chunk_rows", [1, 2])
def test_two_values_that_disagree_widen_the_same_in_one_chunk_or_two(
    tmp_path: Path, first: Any, second: Any, kind: ColumnType, expected: list[Any], chunk_rows: int
) -> None:
    records = [record(0, request={"v": first}), record(1, request={"v": second})]
    staged, _, table = stage(tmp_path, records, chunk_rows=chunk_rows)
    assert staged.columns["request__v"] is kind
    assert table.column("request__v").to_pylist() == expected


def test_metadata_columns_are_constant_for_the_window(tmp_path: Path) -> None:
    _, _, table = stage(tmp_path, mixed_records(), chunk_rows=4)
    assert set(table.column("_loaded_at").to_pylist()) == {LOADED_AT}
    assert set(table.column("_run_id").to_pylist()) == {"run-1"}
    assert set(table.column("_window_start").to_pylist()) == {WINDOW.start}
    assert set(table.column("_window_end").to_pylist()) == {WINDOW.end}


def test_rows_keep_arrival_order_and_core_values(tmp_path: Path) -> None:
    records = mixed_records()
    _, _, table = stage(tmp_path, records, chunk_rows=4)
    assert table.column("id").to_pylist() == [raw["id"] for raw in records]
    assert table.column("created_at").to_pylist()[1] == WINDOW.start + timedelta(minutes=1)
    assert set(table.column("endpoint").to_pylist()) == {"/v1/rooms"}


def test_stats_count_redacted_values_and_parse_errors(tmp_path: Path) -> None:
    records = [
        record(0, request={"user_name": "a", "x": [{"token": "t"}]}),  # 2 in the body, 1 ip
        record(1, ip=None) | {"response": "not json"},
        record(2, ip=None, url="/v1/meeting-tokens/opaque"),
    ]
    _, stats, table = stage(tmp_path, records, chunk_rows=2)
    assert stats.redacted_values == 4
    assert stats.parse_errors == 1
    assert table.column("ip").to_pylist() == [REDACTED, None, None]


def test_zero_records_give_a_valid_file_with_core_and_metadata_columns(tmp_path: Path) -> None:
    staged, stats, table = stage(tmp_path, [], chunk_rows=10)
    assert staged.rows == 0 == table.num_rows
    assert list(staged.columns) == [*CORE_COLUMNS, *METADATA_COLUMNS]
    assert table.column_names == list(staged.columns)
    assert stats == StagingStats()
    assert duckdb.sql(f"SELECT count(*) FROM read_parquet('{staged.path}')").fetchall() == [(0,)]


def test_duckdb_reads_the_file_with_the_same_types(tmp_path: Path) -> None:
    staged, _, _ = stage(tmp_path, mixed_records(), chunk_rows=4)
    rows = duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet('{staged.path}')").fetchall()
    described = {row[0]: row[1] for row in rows}
    expected = {"BOOL": "BOOLEAN", "INT64": "BIGINT", "FLOAT64": "DOUBLE", "STRING": "VARCHAR",
                "TIMESTAMP": "TIMESTAMP WITH TIME ZONE", "JSON": "VARCHAR"}  # fmt: skip
    assert described == {name: expected[kind.value] for name, kind in staged.columns.items()}


def test_part_files_are_removed_and_only_the_output_stays(tmp_path: Path) -> None:
    staged, _, _ = stage(tmp_path, mixed_records(), chunk_rows=3)
    assert list(staged.path.parent.iterdir()) == [staged.path]


def test_a_failed_window_leaves_no_files_behind(tmp_path: Path) -> None:
    with (
        pytest.raises(RuntimeError, match="boom"),
        StagingWriter(tmp_path, run_id="r", loaded_at=LOADED_AT, window=WINDOW, chunk_rows=2) as writer,
    ):
        writer.add_many(mixed_records()[:5])
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "created_at",
    ["2024-03-16T00:00:00.000Z", "2024-03-14T23:59:59.999Z", None, "not a time", "2024-03-15T10:00:00"],
)
def test_a_record_outside_the_window_is_refused(tmp_path: Path, created_at: Any) -> None:
    with (
        StagingWriter(tmp_path, run_id="r", loaded_at=LOADED_AT, window=WINDOW) as writer,
        pytest.raises(DailyError, match=r"rec-00000.*not inside the window"),
    ):
        writer.add(record(0, createdAt=created_at))


def test_adding_after_finish_is_refused_and_finish_is_idempotent(tmp_path: Path) -> None:
    with StagingWriter(tmp_path, run_id="r", loaded_at=LOADED_AT, window=WINDOW) as writer:
        writer.add(record(0))
        staged = writer.finish()
        assert writer.finish() is staged
        with pytest.raises(DailyError, match="already finished"):
            writer.add(record(1))
    assert staged.path.exists()


@pytest.mark.parametrize(("chunk_rows", "loaded_at"), [(0, LOADED_AT), (10, datetime(2024, 3, 16))])
def test_bad_arguments_are_refused(tmp_path: Path, chunk_rows: int, loaded_at: datetime) -> None:
    with pytest.raises(DailyConfigError):
        StagingWriter(tmp_path, run_id="r", loaded_at=loaded_at, window=WINDOW, chunk_rows=chunk_rows)


def test_max_columns_applies_to_the_whole_window_across_chunks(tmp_path: Path) -> None:
    records = [record(index, request={f"key{index}": index}) for index in range(6)]
    staged, _, _ = stage(tmp_path, records, chunk_rows=2, config=NormalizeConfig(max_columns=3))
    assert [name for name in staged.columns if name.startswith("request__")] == [
        "request__key0", "request__key1", "request__key2",
    ]  # fmt: skip


offsets = st.sampled_from(["Z", "+00:00", "+05:30", "-08:00", "+14:00", "-12:00", "+23:59"])
fractions = st.integers(0, 6)
moments = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1))


@settings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(moments, fractions, offsets), min_size=1, max_size=40))
def test_timestamp_columns_hold_what_the_text_said(
    tmp_path_factory: pytest.TempPathFactory, stamps: list[tuple[datetime, int, str]]
) -> None:
    texts = []
    for moment, digits, offset in stamps:
        text = moment.strftime("%Y-%m-%dT%H:%M:%S")
        if digits:
            text += "." + f"{moment.microsecond:06d}"[:digits]
        texts.append(text + offset)
    records = [record(index, request={"at": text}) for index, text in enumerate(texts)]
    staged, _, table = stage(tmp_path_factory.mktemp("ts"), records, chunk_rows=7)
    assert staged.columns["request__at"] is ColumnType.TIMESTAMP
    assert table.column("request__at").to_pylist() == [parse_timestamp_text(text) for text in texts]


# -- the window check and reading ahead ----------------------------------------------------------


def many_records(count: int) -> list[dict[str, Any]]:
    """``count`` records cycling through mixed_records' bodies, each with its own id and minute."""
    bodies = mixed_records()
    records = []
    for index in range(count):
        raw = dict(bodies[index % len(bodies)])
        raw["id"] = f"rec-{index:05d}"
        raw["createdAt"] = (WINDOW.start + timedelta(seconds=index)).isoformat().replace("+00:00", ".000Z")
        records.append(raw)
    return records


_BASE = datetime(2024, 3, 15, tzinfo=UTC)
_OFFSETS = st.integers(min_value=-3_000_000, max_value=3_000_000)  # microseconds around the base


@settings(max_examples=300, deadline=None)
@given(
    start=_OFFSETS,
    width=st.integers(min_value=1, max_value=3_000_000),
    at=_OFFSETS,
    mangle=st.sampled_from(["", "month", "hour", "day", "letter"]),
)
def test_the_window_check_agrees_with_parsing_the_timestamp(
    tmp_path_factory: pytest.TempPathFactory, start: int, width: int, at: int, mangle: str
) -> None:
    # The writer must accept exactly the records whose createdAt parses to a moment inside the
    # window, bounds with sub-millisecond parts included.
    from daily_provider.normalize import created_at_value

    window = Window(_BASE + timedelta(microseconds=start), _BASE + timedelta(microseconds=start + width))
    moment = _BASE + timedelta(microseconds=at - at % 1000)  # records carry milliseconds
    text = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    text = {
        "": text,
        "month": text[:5] + "13" + text[7:],
        "hour": text[:11] + "24" + text[13:],
        "day": text[:8] + "00" + text[10:],
        "letter": text[:17] + "x" + text[18:],
    }[mangle]
    parsed = created_at_value(text)
    expected = parsed is not None and window.contains(parsed)
    writer = StagingWriter(tmp_path_factory.mktemp("check"), run_id="r", loaded_at=LOADED_AT, window=window)
    with writer:
        try:
            writer.add(record(0, createdAt=text))
            accepted = True
        except DailyError:
            accepted = False
    assert accepted == expected, (text, window)


def test_a_writer_that_refuses_a_record_stops_reading_and_closes_the_source(tmp_path: Path) -> None:
    pulled: list[int] = []
    closed = threading.Event()

    def source() -> Iterator[dict[str, Any]]:
        try:
            for index in range(10_000):
                pulled.append(index)
                outside = {"createdAt": "2020-01-01T00:00:00.000Z"} if index == 10 else {}
                yield record(index % 1000, **outside)
        finally:
            closed.set()

    writer = StagingWriter(tmp_path, run_id="r", loaded_at=LOADED_AT, window=WINDOW)
    with writer, pytest.raises(DailyError, match="not inside the window"):
        writer.add_many(source())
    assert closed.wait(timeout=10)
    assert len(pulled) <= 10 + READ_AHEAD_RECORDS + 2  # read ahead a bounded number, not the whole source


@pytest.mark.parametrize("chunk_rows", [3, 100])
def test_a_path_that_becomes_a_map_midway_is_json_in_every_row_of_the_window(
    tmp_path: Path, chunk_rows: int
) -> None:
    # 4 keys per record, 80 over the window: the key-count rule (more than 50) turns "stats" into a
    # map at the 13th record; the rows staged before, in earlier parts too, get their object as JSON.
    records = [
        record(index, response={"stats": {f"region-{key}": key for key in range(index * 4, index * 4 + 4)}})
        for index in range(20)
    ]
    staged, _, table = stage(tmp_path, records, chunk_rows=chunk_rows)
    assert [name for name in staged.columns if name.startswith("response__")] == ["response__stats"]
    assert staged.columns["response__stats"] is ColumnType.JSON
    values = [json.loads(text) for text in table.column("response__stats").to_pylist()]
    assert values == [
        {f"region-{key}": key for key in range(index * 4, index * 4 + 4)} for index in range(20)
    ]
    assert staged.paths == {"response__stats": "response.stats"}


def test_staged_columns_carry_their_original_json_paths(tmp_path: Path) -> None:
    records = [record(0, request={"callId": "c", "payload": {"X-Call-Id": "x"}})]
    staged, _, _ = stage(tmp_path, records, chunk_rows=10)
    assert staged.paths == {
        "request__call_id": "request.callId",
        "request__payload__x_call_id": 'request.payload."X-Call-Id"',
    }
