"""A warehouse seen through the operator: each ledger row it writes names where the window came from.

The load orchestration (``daily_provider.load``) writes ``daily_logs_loads`` rows and knows nothing
of Airflow runs; the operator does know whether the window came from its arguments, the run's
partition or its data interval. Wrapping the warehouse stamps that on every ledger row of the task
without widening the load functions' signatures. Everything else goes straight to the warehouse.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from daily_provider.anchors import Anchor
from daily_provider.scope import LoadScope, ReplaceScope
from daily_provider.warehouses.base import AnchorStore, LoadRecord, StagedWindow, Warehouse


class WindowSourceLedger:
    """``warehouse`` with ``window_source`` set on every :class:`LoadRecord` it records."""

    def __init__(self, warehouse: Warehouse, window_source: str) -> None:
        self.warehouse = warehouse
        self.window_source = window_source
        self.dialect = warehouse.dialect

    def replace_window(self, *, scope: ReplaceScope, staged: StagedWindow) -> int:
        return self.warehouse.replace_window(scope=scope, staged=staged)

    def record_load(self, record: LoadRecord) -> None:
        record.window_source = self.window_source
        self.warehouse.record_load(record)

    def close(self) -> None:
        self.warehouse.close()

    def __getattr__(self, name: str) -> Any:
        # Optional warehouse methods (table_columns, column_comments) and a warehouse's own fields.
        return getattr(self.warehouse, name)


class WindowSourceAnchorLedger(WindowSourceLedger):
    """The same, for a warehouse that also keeps cursor anchors (an explicit AnchorStore)."""

    warehouse: Any

    def find_anchors(self, scope: LoadScope, *, at_or_after: datetime, limit: int) -> list[Anchor]:
        return list(self.warehouse.find_anchors(scope, at_or_after=at_or_after, limit=limit))

    def save_anchors(self, scope: LoadScope, anchors: Sequence[Anchor]) -> None:
        self.warehouse.save_anchors(scope, anchors)

    def drop_anchors(self, scope: LoadScope, record_ids: Sequence[str]) -> None:
        self.warehouse.drop_anchors(scope, record_ids)


def with_window_source(warehouse: Warehouse, window_source: str) -> Warehouse:
    """``warehouse`` whose ledger rows carry ``window_source`` (an AnchorStore stays one)."""
    if isinstance(warehouse, AnchorStore):
        return WindowSourceAnchorLedger(warehouse, window_source)
    return WindowSourceLedger(warehouse, window_source)
