"""The chunked fast path equals record-at-a-time normalization, value for value and column for column.

The reference is :class:`Normalizer` fed one record at a time with one window's state. The fast
path is what the staging writer runs: :class:`ChunkNormalizer` over chunks (no window state),
then the window's column registry replaying each chunk's path events in order. They must agree
on every core value, every flattened value and its column name, the window's column types, and
the counters, whatever the chunk size and however the column caps bite.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from daily_provider.normalize import (
    CORE_ORDER,
    ChunkNormalizer,
    NormalizeConfig,
    Normalizer,
    created_at_value,
    encode_chunk,
)
from daily_provider.schema import ColumnType, widen
from daily_provider.simulator import SimulatorConfig, generate_records
from daily_provider.staging import _ColumnRegistry, write_part

Row = tuple[tuple[Any, ...], dict[str, Any]]


def reference(
    records: list[dict[str, Any]], config: NormalizeConfig
) -> tuple[list[Row], dict[str, Any], tuple[int, int]]:
    normalizer = Normalizer(config)
    rows: list[Row] = []
    types: dict[str, ColumnType | None] = {}
    for record in records:
        core, entries = normalizer.normalize(record)
        rows.append((core, {name: value for name, value, _ in entries}))
        for name, _, kind in entries:
            types[name] = widen(types.get(name), kind)
    return rows, types, (normalizer.redacted_values, normalizer.parse_errors)


def chunked(
    records: list[dict[str, Any]], config: NormalizeConfig, chunk_rows: int, directory: Path
) -> tuple[list[Row], dict[str, Any], tuple[int, int]]:
    engine = ChunkNormalizer(config)
    registry = _ColumnRegistry(config)
    rows: list[Row] = []
    redacted = parse_errors = 0
    for index, start in enumerate(range(0, len(records), chunk_rows)):
        chunk = engine.run(records[start : start + chunk_rows])
        part = write_part(encode_chunk(chunk), str(directory / f"part-{index}"))
        names = {column.slot: name for name, column in registry.merge(part).items()}
        flattened: list[dict[str, Any]] = [{} for _ in range(chunk.rows)]
        for slot in chunk.slots:
            name = names.get(slot.id)
            if name is not None:
                for row, value in zip(slot.rows, slot.values, strict=True):
                    flattened[row][name] = value
        core_rows = list(zip(*chunk.core, strict=True))
        for core, values in zip(core_rows, flattened, strict=True):
            created_at = CORE_ORDER.index("created_at")
            core = (*core[:created_at], created_at_value(core[created_at]), *core[created_at + 1 :])
            rows.append((core, values))
        redacted += chunk.redacted_values
        parse_errors += chunk.parse_errors
    return rows, registry.types, (redacted, parse_errors)


def assert_equivalent(
    records: list[dict[str, Any]], config: NormalizeConfig, chunk_rows: int, directory: Path
) -> None:
    expected_rows, expected_types, expected_counts = reference(records, config)
    rows, types, counts = chunked(records, config, chunk_rows, directory)
    assert len(rows) == len(expected_rows)
    for index, (row, expected) in enumerate(zip(rows, expected_rows, strict=True)):
        assert row == expected, f"record {index}: {records[index]!r}"
    assert types == expected_types
    assert counts == expected_counts


def simulated(source: str, count: int) -> list[dict[str, Any]]:
    config = SimulatorConfig(seed=7, days=2, api_per_day=count, webhook_per_day=count)
    return list(islice(generate_records(config, source), count))


@pytest.mark.parametrize("source", ["api", "webhook"])
@pytest.mark.parametrize("chunk_rows", [13, 600])
def test_simulated_records_normalize_the_same_in_chunks(tmp_path: Path, source: str, chunk_rows: int) -> None:
    assert_equivalent(simulated(source, 600), NormalizeConfig(), chunk_rows, tmp_path)


@pytest.mark.parametrize(("max_columns", "max_depth"), [(0, 5), (3, 5), (25, 2), (60, 1)])
def test_column_caps_bite_at_the_same_record_in_chunks(
    tmp_path: Path, max_columns: int, max_depth: int
) -> None:
    config = NormalizeConfig(max_columns=max_columns, max_depth=max_depth)
    assert_equivalent(simulated("api", 400), config, 7, tmp_path)


def record(index: int, request: Any = None, response: Any = None) -> dict[str, Any]:
    return {
        "id": f"r{index}",
        "createdAt": "2024-03-15T18:42:00.000Z",
        "source": "api",
        "url": "/v1/rooms",
        "status": 200,
        "request": request,
        "response": response,
    }


def test_a_key_under_a_refused_object_stays_refused_even_where_the_same_key_has_a_column(
    tmp_path: Path,
) -> None:
    records = [
        record(0, request='{"a": 1}'),
        record(1, request='{"b": {"a": 5}, "c": 2}'),  # "b" is refused: its "a" is not request__a
        record(2, request='{"b": {"a": 6}, "a": 3}'),
    ]
    for chunk_rows in (1, 3):
        assert_equivalent(records, NormalizeConfig(max_columns=1), chunk_rows, tmp_path)


def test_a_big_number_retry_admits_and_rolls_back_the_same_in_chunks(tmp_path: Path) -> None:
    # The first pass over each body admits columns, meets the big number and starts again:
    # admissions stay, values and types of the failed pass go.
    records = [
        record(0, request='{"a": 1, "b": {"c": 2.5}, "n": 123456789012345678901234}'),
        record(1, request='{"a": "x", "n": 5, "z": [1e400]}'),
        record(2, request='{"late": true, "b": {"c": 3}}', response=f"[{2**70}]"),
        record(3, request=json.dumps({"a": {"deep": 1}}), response='{"x": 1e19}'),
    ]
    for max_columns in (2, 4, 1000):
        assert_equivalent(records, NormalizeConfig(max_columns=max_columns), 2, tmp_path)


def test_bodies_keyed_by_ids_with_hundreds_of_paths_a_chunk_are_the_same(tmp_path: Path) -> None:
    # Hundreds of paths in one chunk, and the cap refuses most of them: finish puts only the
    # admitted paths' values on their rows.
    records = [
        record(index, response=json.dumps({f"room-{index}-{key}": key for key in range(40)}))
        for index in range(30)
    ]
    for max_columns in (1000, 150):
        assert_equivalent(records, NormalizeConfig(max_columns=max_columns), 30, tmp_path)


def test_bodies_that_are_not_json_or_nest_too_deep_are_the_same(tmp_path: Path) -> None:
    records = [
        record(0, request="<html>502</html>", response='{"token": "t", "ok": 1}'),
        record(1, request="[" * 5000 + "]" * 5000),
        record(2, request='{"a":' * 300 + "1" + "}" * 300),
        record(3, request={"already": {"parsed": [1, 2]}}, response=b'{"bytes": true}'),
        record(4, request={"bad": "\ud800"}, response=""),
    ]
    assert_equivalent(records, NormalizeConfig(), 2, tmp_path)


keys = st.sampled_from(["a", "b", "token", "User_Name", "From", "to", "a__b", "é", "data", "n"]) | st.text(
    max_size=4
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6)
    | st.sampled_from(["2024-03-15T18:42:00.000Z", "2024-02-30T00:00:00Z", "2024-03-15T18:42:00+05:30"])
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=12,
)
bodies = st.dictionaries(keys, values, max_size=5) | values


def as_records(pairs: list[tuple[Any, Any]]) -> Iterator[dict[str, Any]]:
    for index, (request, response) in enumerate(pairs):
        yield record(index, json.dumps(request), json.dumps(response))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    pairs=st.lists(st.tuples(bodies, bodies), min_size=1, max_size=12),
    max_columns=st.integers(0, 8),
    max_depth=st.integers(1, 3),
    chunk_rows=st.integers(1, 5),
)
def test_any_bodies_normalize_the_same_in_chunks_under_any_caps(
    tmp_path: Path, pairs: list[tuple[Any, Any]], max_columns: int, max_depth: int, chunk_rows: int
) -> None:
    config = NormalizeConfig(max_columns=max_columns, max_depth=max_depth)
    assert_equivalent(list(as_records(pairs)), config, chunk_rows, tmp_path)
