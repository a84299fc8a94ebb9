"""Backends for the window-replace contract suite, and a staging helper that needs no production code.

Every warehouse must pass ``test_window_replace.py``. The ``backend`` fixture yields, per backend
name, an object with ``name``, ``warehouse`` (a fresh Warehouse on an empty database or dataset),
``rows(table, key="id")`` and ``columns(table)``; reading back is the only thing that differs per
backend. ``rows`` returns every column of every row, sorted by ``key``, normalized so backends
compare alike: timestamps as aware UTC datetimes, JSON columns parsed, missing values ``None``.

To add a backend: write a factory ``(request, tmp_path) -> context manager yielding a Backend``
(it may pull session fixtures with ``request.getfixturevalue``), register it in ``BACKENDS`` and
append its name to ``BACKEND_PARAMS`` (with ``marks=`` if it needs one).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import timezone
from itertools import count
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.bigquery.backend import bigquery_backend

from daily_provider.schema import ColumnType
from daily_provider.warehouses.base import StagedWindow, Warehouse
from daily_provider.warehouses.duckdb import DuckDBWarehouse


class Backend(Protocol):
    name: str
    warehouse: Warehouse

    def rows(self, table: str, *, key: str = "id") -> list[dict[str, Any]]: ...

    def columns(self, table: str) -> dict[str, ColumnType]: ...


BackendFactory = Callable[[pytest.FixtureRequest, Path], AbstractContextManager[Backend]]


def normalize_value(column_type: ColumnType, value: Any) -> Any:
    """A value as the contract compares it, whatever the backend's client returned."""
    if value is None:
        return None
    if column_type is ColumnType.JSON and isinstance(value, str | bytes):
        return json.loads(value)
    if column_type is ColumnType.TIMESTAMP:
        return value.astimezone(timezone.utc)
    return value


class DuckDBBackend:
    name = "duckdb"

    def __init__(self, warehouse: DuckDBWarehouse) -> None:
        self.warehouse = warehouse

    def columns(self, table: str) -> dict[str, ColumnType]:
        return self.warehouse.table_columns(table)

    def rows(self, table: str, *, key: str = "id") -> list[dict[str, Any]]:
        types = self.columns(table)
        if not types:
            return []
        try:
            # Read through the warehouse's own connection, then let it go so writes reopen the file.
            relation = self.warehouse.connect().table(table)
            names = relation.columns
            fetched = relation.fetchall()
        finally:
            self.warehouse.close()
        rows = [
            {name: normalize_value(types[name], value) for name, value in zip(names, values, strict=True)}
            for values in fetched
        ]
        return sorted(rows, key=lambda row: row[key])


@contextmanager
def duckdb_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    warehouse = DuckDBWarehouse(tmp_path / "contract.duckdb", memory_limit="256MB", threads=1, lock_timeout=5)
    try:
        yield DuckDBBackend(warehouse)
    finally:
        warehouse.close()


BACKENDS: dict[str, BackendFactory] = {"duckdb": duckdb_backend, "bigquery": bigquery_backend}
BACKEND_PARAMS: list[Any] = [
    pytest.param("duckdb", id="duckdb"),
    # The local-bigquery emulator, started once per session (tests/bigquery/emulator_server.py).
    pytest.param("bigquery", id="bigquery", marks=pytest.mark.bigquery),
]


@pytest.fixture(params=BACKEND_PARAMS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    with BACKENDS[request.param](request, tmp_path) as created:
        yield created


# Parquet physical types of StagedWindow (see warehouses/base.py).
ARROW_TYPES: dict[ColumnType, pa.DataType] = {
    ColumnType.BOOL: pa.bool_(),
    ColumnType.INT64: pa.int64(),
    ColumnType.FLOAT64: pa.float64(),
    ColumnType.STRING: pa.string(),
    ColumnType.TIMESTAMP: pa.timestamp("us", tz="UTC"),
    ColumnType.JSON: pa.string(),
}

_staged_files = count()


def stage(
    tmp_path: Path, rows: Sequence[Mapping[str, Any]], columns: Mapping[str, ColumnType]
) -> StagedWindow:
    """Write ``rows`` as a staged window: one Parquet file with ``columns`` in order.

    A key missing from a row is null. JSON values are Python objects, written as JSON text.
    """
    arrays = []
    for name, column_type in columns.items():
        values = [row.get(name) for row in rows]
        if column_type is ColumnType.JSON:
            values = [None if value is None else json.dumps(value) for value in values]
        arrays.append(pa.array(values, type=ARROW_TYPES[column_type]))
    schema = pa.schema([pa.field(name, ARROW_TYPES[t]) for name, t in columns.items()])
    path = tmp_path / f"staged-{next(_staged_files)}.parquet"
    pq.write_table(pa.Table.from_arrays(arrays, schema=schema), path)
    return StagedWindow(path=path, columns=dict(columns), rows=len(rows))


@pytest.fixture(name="stage")
def stage_fixture() -> Callable[[Path, Sequence[Mapping[str, Any]], Mapping[str, ColumnType]], StagedWindow]:
    """:func:`stage`, for test modules (they cannot import a conftest)."""
    return stage
