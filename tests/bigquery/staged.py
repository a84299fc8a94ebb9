"""Staged windows for the BigQuery tests: Parquet files laid out as ``StagedWindow`` says."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from daily_provider.schema import FIXED_COLUMNS, ColumnType
from daily_provider.warehouses.base import StagedWindow
from daily_provider.window import Window

ARROW_TYPES: dict[ColumnType, pa.DataType] = {
    ColumnType.BOOL: pa.bool_(),
    ColumnType.INT64: pa.int64(),
    ColumnType.FLOAT64: pa.float64(),
    ColumnType.STRING: pa.string(),
    ColumnType.TIMESTAMP: pa.timestamp("us", tz="UTC"),
    ColumnType.JSON: pa.string(),
}
DAY0 = datetime(2024, 3, 15, tzinfo=timezone.utc)
LOADED_AT = datetime(2024, 3, 20, 8, 0, tzinfo=timezone.utc)


def day(n: int) -> Window:
    return Window(DAY0 + timedelta(days=n), DAY0 + timedelta(days=n + 1))


def record(record_id: str | None, created_at: datetime, window: Window, **extra: Any) -> dict[str, Any]:
    """A row as the staging step writes it; ``extra`` adds or overrides columns."""
    return {
        "id": record_id,
        "created_at": created_at,
        "source": "api",
        "method": "POST",
        "url": f"/v1/rooms/room-{record_id}",
        "endpoint": "/v1/rooms/{name}",
        "status": 200,
        "is_error": False,
        "domain_id": "domain-1",
        "request": {"name": f"room-{record_id}", "properties": {"max_participants": 4}},
        "response": {"id": record_id, "tags": ["a", "b"]},
        "_loaded_at": LOADED_AT,
        "_run_id": "run-1",
        "_window_start": window.start,
        "_window_end": window.end,
        **extra,
    }


def window_rows(window: Window, ids: list[str], **extra: Any) -> list[dict[str, Any]]:
    """One row per id, spread over ``window``, the first at its very start."""
    step = (window.end - window.start) / (len(ids) + 1)
    return [record(record_id, window.start + step * n, window, **extra) for n, record_id in enumerate(ids)]


def stage(
    directory: Path,
    rows: Sequence[Mapping[str, Any]],
    columns: Mapping[str, ColumnType] = FIXED_COLUMNS,
    *,
    name: str = "staged",
) -> StagedWindow:
    """Write ``rows`` as one Parquet file with ``columns`` in order (JSON values as JSON text)."""
    arrays = []
    for column, column_type in columns.items():
        values = [row.get(column) for row in rows]
        if column_type is ColumnType.JSON:
            values = [None if value is None else json.dumps(value) for value in values]
        arrays.append(pa.array(values, type=ARROW_TYPES[column_type]))
    schema = pa.schema([pa.field(column, ARROW_TYPES[t]) for column, t in columns.items()])
    path = directory / f"{name}.parquet"
    pq.write_table(pa.Table.from_arrays(arrays, schema=schema), path)
    return StagedWindow(path=path, columns=dict(columns), rows=len(rows))
