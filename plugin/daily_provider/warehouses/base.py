"""The Warehouse protocol: what the load orchestration needs from DuckDB, BigQuery or any sink.

A warehouse gets a staged window (one Parquet file whose columns carry the logical types of
``schema.ColumnType``) and must replace that window in the target table atomically: after the
call the table holds exactly the staged rows for ``[start, end)`` of that source, and rows outside
the window are untouched; if the call fails the table holds exactly what it held before.

A warehouse may also be an :class:`AnchorStore`: it keeps the walk's cursor anchors (see
``daily_provider.anchors``) in ``daily_logs_anchors`` next to the data. That is optional: a
warehouse without it loads the same rows, its walks just always start at the newest record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from daily_provider.anchors import Anchor, AnchorScope
from daily_provider.schema import ColumnType
from daily_provider.window import Window

LOADS_TABLE = "daily_logs_loads"
ANCHORS_TABLE = "daily_logs_anchors"


@dataclass(frozen=True)
class StagedWindow:
    """One window's rows in a local Parquet file.

    Parquet physical types per logical type: BOOL bool, INT64 int64, FLOAT64 float64,
    STRING string, TIMESTAMP timestamp[us, tz=UTC], JSON string (JSON text). Every column in
    ``columns`` is present in the file, in that order; core and metadata columns come first.
    """

    path: Path
    columns: dict[str, ColumnType]
    rows: int


@dataclass
class LoadRecord:
    """One row of the ``daily_logs_loads`` audit table."""

    load_id: str
    run_id: str
    table_name: str
    source: str
    window_start: datetime
    window_end: datetime
    status: str  # "running", "success" or "failed"
    started_at: datetime
    finished_at: datetime | None = None
    rows: int = 0
    pages: int = 0
    requests: int = 0
    retries: int = 0
    redacted_values: int = 0
    parse_errors: int = 0
    error: str | None = None
    extra: dict[str, object] = field(default_factory=dict)


@runtime_checkable
class Warehouse(Protocol):
    """A sink for Daily logs windows. Implementations: DuckDB (embedded), BigQuery (production)."""

    dialect: str

    def replace_window(self, *, table: str, source: str, window: Window, staged: StagedWindow) -> int:
        """Create ``table`` if missing, add/widen columns for ``staged``, then atomically replace
        the rows of ``source`` with ``created_at`` in ``window`` by the staged rows.
        Returns the number of rows inserted."""
        ...

    def record_load(self, record: LoadRecord) -> None:
        """Insert or update (by ``load_id``) the audit row in ``daily_logs_loads``."""
        ...

    def close(self) -> None:
        """Release connections and locks."""
        ...


@runtime_checkable
class AnchorStore(Protocol):
    """Keeps cursor anchors in ``daily_logs_anchors``, per :class:`AnchorScope`.

    Anchors are hints that only save requests: losing them, or the whole table, costs speed and
    never a record, so callers treat a failing store as "no anchors" and carry on.
    """

    def find_anchors(self, scope: AnchorScope, *, at_or_after: datetime, limit: int) -> list[Anchor]:
        """Return up to ``limit`` anchors of ``scope`` with ``created_at >= at_or_after``, oldest first
        (empty when the table does not exist)."""
        ...

    def save_anchors(self, scope: AnchorScope, anchors: Sequence[Anchor]) -> None:
        """Store ``anchors``: one per mark (a new one replaces the mark's old one) and one per id."""
        ...

    def drop_anchors(self, scope: AnchorScope, record_ids: Sequence[str]) -> None:
        """Remove the anchors of ``scope`` with these record ids (the API refused them)."""
        ...
