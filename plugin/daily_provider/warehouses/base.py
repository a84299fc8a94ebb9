"""The Warehouse protocol: what the load orchestration needs from DuckDB, BigQuery or any sink.

A warehouse gets a staged window (one Parquet file whose columns carry the logical types of
``schema.ColumnType``) and a :class:`~daily_provider.scope.ReplaceScope`, and must replace that
scope's rows in the target table atomically: after the call the table holds the staged rows in
place of the rows the scope names (its source, domain and url filter over its covered range, and
the staged ids), and every other row is untouched; if the call fails the table holds exactly what
it held before.

A warehouse may also keep the walks' cursor anchors (see ``daily_provider.anchors``) in
``daily_logs_anchors`` next to the data: its ``anchors`` attribute is then an :class:`AnchorStore`
(:func:`anchor_store_of`). That is optional: a warehouse without one loads the same rows, its walks
just always start at the newest record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from daily_provider.anchors import Anchor
from daily_provider.exceptions import WarehouseError
from daily_provider.maps import MapBody
from daily_provider.schema import ColumnType, is_valid_column_name
from daily_provider.scope import LoadScope, ReplaceScope

LOADS_TABLE = "daily_logs_loads"
ANCHORS_TABLE = "daily_logs_anchors"
MAPS_TABLE = "daily_logs_maps"

# The replace key: the DELETE compares these, so their types must never change. (It also reads
# ``domain_id`` and ``url``, core STRING columns that no load widens.)
KEY_COLUMNS: dict[str, ColumnType] = {
    "id": ColumnType.STRING,
    "created_at": ColumnType.TIMESTAMP,
    "source": ColumnType.STRING,
}


@dataclass(frozen=True)
class StagedWindow:
    """One window's rows in a local Parquet file.

    Parquet physical types per logical type: BOOL bool, INT64 int64, FLOAT64 float64,
    STRING string, TIMESTAMP timestamp[us, tz=UTC], JSON string (JSON text). Every column in
    ``columns`` is present in the file, in that order; core and metadata columns come first.
    ``paths`` gives a flattened column's original JSON path (``response.config.maxParticipants``),
    which a warehouse records as the column's comment or description when it adds the column.
    """

    path: Path
    columns: dict[str, ColumnType]
    rows: int
    paths: dict[str, str] = field(default_factory=dict)


# Ledger statuses: a window fully replaced, partly replaced (Daily no longer has its oldest part),
# left unchanged (Daily has none of it any more), or a failed attempt (the table is unchanged).
STATUS_RUNNING = "running"
STATUS_SUCCESS = "success"
STATUS_PARTIAL = "partial"
STATUS_NOT_COVERED = "not_covered"
STATUS_FAILED = "failed"


@dataclass
class LoadRecord:
    """One row of the ``daily_logs_loads`` audit table.

    ``covered_start``/``covered_end`` are the part of the window the load replaced (None when it
    replaced nothing); ``domain_id`` and ``url_filter`` complete the load's scope.
    """

    load_id: str
    run_id: str
    table_name: str
    source: str
    window_start: datetime
    window_end: datetime
    status: str  # one of the STATUS_* values above
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
    domain_id: str | None = None
    url_filter: str | None = None
    covered_start: datetime | None = None
    covered_end: datetime | None = None
    window_source: str | None = None  # where the window came from: arguments, partition or data_interval


@runtime_checkable
class Warehouse(Protocol):
    """A sink for Daily logs windows. Implementations: DuckDB (embedded), BigQuery (production)."""

    dialect: str

    def replace_window(self, *, scope: ReplaceScope, staged: StagedWindow) -> int:
        """Create ``scope.table`` if missing, add/widen columns for ``staged``, then atomically
        replace the rows ``scope`` names by the staged rows. Returns the number of rows inserted."""
        ...

    def record_load(self, record: LoadRecord) -> None:
        """Insert or update (by ``load_id``) the audit row in ``daily_logs_loads``."""
        ...

    def close(self) -> None:
        """Release connections and locks."""
        ...


@runtime_checkable
class AnchorStore(Protocol):
    """Keeps cursor anchors in ``daily_logs_anchors``, per :class:`~daily_provider.scope.LoadScope`.

    Anchors are hints that only save requests: losing them, or the whole table, costs speed and
    never a record, so callers treat a failing store as "no anchors" and carry on.
    """

    def find_anchors(self, scope: LoadScope, *, at_or_after: datetime, limit: int) -> list[Anchor]:
        """Return up to ``limit`` anchors of ``scope`` with ``created_at >= at_or_after``, oldest first
        (empty when the table does not exist)."""
        ...

    def save_anchors(self, scope: LoadScope, anchors: Sequence[Anchor]) -> None:
        """Store ``anchors``: one per mark (a new one replaces the mark's old one) and one per id."""
        ...

    def drop_anchors(self, scope: LoadScope, record_ids: Sequence[str]) -> None:
        """Remove the anchors of ``scope`` with these record ids (the API refused them)."""
        ...


def anchor_store_of(warehouse: Warehouse) -> AnchorStore | None:
    """The warehouse's anchor store (its ``anchors`` attribute), or None when it keeps none."""
    store = getattr(warehouse, "anchors", None)
    return store if isinstance(store, AnchorStore) else None


def checked_staged_columns(columns: Mapping[str, ColumnType], what: str) -> dict[str, ColumnType]:
    """The staged columns, after checking their names and the key columns' types (every warehouse)."""
    bad = [name for name in columns if not is_valid_column_name(name)]
    if bad:
        raise WarehouseError(
            f"staged columns {bad!r} for {what} are not valid column names (lowercase letters, digits "
            "and '_', starting with a letter or '_', at most 300 characters); nothing was changed. "
            "Column names must come from schema.column_name."
        )
    for name, key_type in KEY_COLUMNS.items():
        if columns.get(name) != key_type:
            raise WarehouseError(
                f"the staged window for {what} must have column {name} of type {key_type.value}, "
                f"got {columns.get(name)!r}; nothing was changed."
            )
    return {name: ColumnType(column_type) for name, column_type in columns.items()}


@runtime_checkable
class MapStore(Protocol):
    """Keeps, beside each logs table (in ``daily_logs_maps``), the endpoints whose whole request or
    response body the key-count rule made a map (``maps.py``). A body's root columns are shared by
    every endpoint, so the table's own columns cannot record that decision; a warehouse without
    this store decides it again in every window."""

    def map_bodies(self, table: str) -> set[MapBody]:
        """The ``(method, endpoint, body)`` whose body is a map for ``table`` (empty when none)."""
        ...

    def save_map_bodies(self, table: str, bodies: Sequence[MapBody]) -> None:
        """Record ``bodies`` as maps for ``table``; recording one twice keeps one."""
        ...
