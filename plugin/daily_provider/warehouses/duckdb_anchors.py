"""The DuckDB anchor store: the walks' cursor anchors in ``daily_logs_anchors``, beside the logs.

:class:`DuckDBAnchorStore` implements :class:`~daily_provider.warehouses.base.AnchorStore` on the
warehouse's file (``duckdb_file.py``), under the same lock. Each call runs its statements in one
transaction; a failure is a WarehouseError that the load turns into a warning (anchors only save
requests). The SQL is in ``sql/duckdb/*_anchors*.sql``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import duckdb

from daily_provider.anchors import Anchor, unique_anchors
from daily_provider.exceptions import WarehouseError
from daily_provider.scope import LoadScope
from daily_provider.sql import render
from daily_provider.warehouses.base import ANCHORS_TABLE
from daily_provider.warehouses.duckdb_file import DIALECT, DuckDBFile, quote_identifier, rollback


class DuckDBAnchorStore:
    """Cursor anchors in the DuckDB file ``file``, per load scope (an AnchorStore)."""

    def __init__(self, file: DuckDBFile) -> None:
        self.file = file

    def find_anchors(self, scope: LoadScope, *, at_or_after: datetime, limit: int) -> list[Anchor]:
        """Return up to ``limit`` anchors of ``scope`` with ``created_at >= at_or_after``, oldest first."""
        params = {**_scope_params(scope), "at_or_after": at_or_after, "limit": limit}
        rows = self._anchor_statements(f"reading anchors of {scope}", [("find_anchors", params)])
        return [
            Anchor(
                record_id=record_id,
                created_at=_utc(created_at),
                convention=convention,
                mark=_utc(mark),
                older_id=older_id,
                older_created_at=_utc(older_created_at),
            )
            for record_id, created_at, convention, mark, older_id, older_created_at in rows
        ]

    def save_anchors(self, scope: LoadScope, anchors: Sequence[Anchor]) -> None:
        """Store ``anchors`` in one transaction, replacing the scope's anchors of the same marks or ids."""
        kept = unique_anchors(anchors)
        if not kept:
            return
        scope_params = _scope_params(scope)
        marks = [anchor.mark for anchor in kept]
        record_ids = [anchor.record_id for anchor in kept]
        insert = {
            **scope_params,
            "marks": marks,
            "record_ids": record_ids,
            "created_ats": [anchor.created_at for anchor in kept],
            "conventions": [anchor.convention for anchor in kept],
            "older_ids": [anchor.older_id for anchor in kept],
            "older_created_ats": [anchor.older_created_at for anchor in kept],
            "recorded_at": datetime.now(timezone.utc),
        }
        delete = {**scope_params, "marks": marks, "record_ids": record_ids}
        self._anchor_statements(
            f"saving {len(kept)} anchors of {scope}",
            [("delete_anchors", delete), ("insert_anchors", insert)],
        )

    def drop_anchors(self, scope: LoadScope, record_ids: Sequence[str]) -> None:
        """Remove the scope's anchors with these record ids."""
        if not record_ids:
            return
        params = {**_scope_params(scope), "marks": [], "record_ids": list(record_ids)}
        self._anchor_statements(f"dropping anchors of {scope}", [("delete_anchors", params)])

    def _anchor_statements(self, doing: str, statements: list[tuple[str, dict[str, Any]]]) -> list[Any]:
        """Run anchor statements in one transaction; return the last one's rows."""
        anchors_sql = quote_identifier(ANCHORS_TABLE)
        rows: list[Any] = []
        with self.file.session() as conn:
            try:
                conn.execute(render(DIALECT, "create_anchors_table", anchors=anchors_sql))
                conn.begin()
                try:
                    for name, params in statements:
                        rows = conn.execute(render(DIALECT, name, anchors=anchors_sql), params).fetchall()
                    conn.commit()
                except BaseException:
                    rollback(conn)
                    raise
            except duckdb.Error as exc:
                raise WarehouseError(
                    f"{doing} in DuckDB table {ANCHORS_TABLE!r} ({self.file.path}) failed: {exc}. Anchors only "
                    f"save requests: loads go on without them, and the table may be dropped if it is damaged."
                ) from exc
        return rows


def _scope_params(scope: LoadScope) -> dict[str, str]:
    return {
        "table_name": scope.table,
        "source": scope.source,
        "domain_id": scope.domain_id,
        "url_filter": scope.url_filter,
    }


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc)
