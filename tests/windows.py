"""Loading hand-made records window by window, the way ``load.py`` does: stage with the table's
current columns, then replace the window. For tests of what carries over between windows."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from daily_provider.normalize import NormalizeConfig
from daily_provider.staging import StagingStats, StagingWriter
from daily_provider.warehouses.base import MapStore, Warehouse
from daily_provider.window import Window
from tests.scopes import replace_scope

DAY0 = datetime(2024, 3, 15, tzinfo=timezone.utc)
LOADED_AT = datetime(2024, 4, 1, tzinfo=timezone.utc)


def day(n: int) -> Window:
    return Window(DAY0 + timedelta(days=n), DAY0 + timedelta(days=n + 1))


def api_record(
    window: Window,
    index: int,
    *,
    method: str = "POST",
    url: str = "/v1/rooms",
    request: Any = None,
    response: Any = None,
) -> dict[str, Any]:
    """One ``source=api`` log record inside ``window`` (a second apart by ``index``)."""
    created = window.start + timedelta(seconds=index)
    return {
        "id": f"{window.start:%Y%m%d}-{index:06d}",
        "createdAt": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "source": "api",
        "method": method,
        "url": url,
        "status": 200,
        "userId": "user-1",
        "domainId": "domain-1",
        "request": None if request is None else json.dumps(request),
        "response": None if response is None else json.dumps(response),
    }


def load_records(
    warehouse: Warehouse,
    tmp_path: Path,
    window: Window,
    records: Iterable[Mapping[str, Any]],
    *,
    table: str,
    config: NormalizeConfig | None = None,
    chunk_rows: int = 10_000,
) -> StagingStats:
    """Stage ``records`` against ``table``'s current columns and replace ``window`` with them."""
    columns = warehouse.table_columns(table)  # type: ignore[attr-defined]
    with StagingWriter(
        tmp_path / "staging",
        run_id="run-1",
        loaded_at=LOADED_AT,
        window=window,
        config=config or NormalizeConfig(),
        chunk_rows=chunk_rows,
        table_columns=columns,
        column_comments=warehouse.column_comments(table),  # type: ignore[attr-defined]
        map_bodies=warehouse.map_bodies(table) if isinstance(warehouse, MapStore) else (),
    ) as writer:
        for raw in records:
            writer.add(raw)
        staged = writer.finish()
        if isinstance(warehouse, MapStore):
            warehouse.save_map_bodies(table, writer.new_map_bodies)
    warehouse.replace_window(scope=replace_scope(table, "api", window), staged=staged)
    return writer.stats
