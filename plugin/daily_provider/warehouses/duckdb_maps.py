"""The DuckDB :class:`~daily_provider.warehouses.base.MapStore`: ``daily_logs_maps`` in the same file.

A mixin of :class:`~daily_provider.warehouses.duckdb.DuckDBWarehouse`, which gives it its session.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from daily_provider.exceptions import WarehouseError
from daily_provider.maps import MapBody
from daily_provider.sql import render
from daily_provider.warehouses.base import MAPS_TABLE

_MAPS_SQL = f'"{MAPS_TABLE}"'


class DuckDBMapStore:
    """Reads and records the endpoints whose body is a map, per logs table."""

    if TYPE_CHECKING:
        path: Path

        def session(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]: ...

    def map_bodies(self, table: str) -> set[MapBody]:
        with self._maps_session("reading", table, create=False) as conn:
            try:
                rows = conn.execute(
                    render("duckdb", "find_map_bodies", maps=_MAPS_SQL), {"table_name": table}
                )
            except duckdb.CatalogException:  # no map body was ever saved in this file
                return set()
            return {(method, endpoint, body) for method, endpoint, body in rows.fetchall()}

    def save_map_bodies(self, table: str, bodies: Sequence[MapBody]) -> None:
        if not bodies:
            return
        save = render("duckdb", "save_map_body", maps=_MAPS_SQL)
        with self._maps_session("recording", table, create=True) as conn:
            for method, endpoint, body in bodies:
                conn.execute(
                    save, {"table_name": table, "method": method, "endpoint": endpoint, "body": body}
                )

    @contextmanager
    def _maps_session(self, doing: str, table: str, *, create: bool) -> Iterator[duckdb.DuckDBPyConnection]:
        with self.session() as conn:
            try:
                if create:
                    conn.execute(render("duckdb", "create_maps_table", maps=_MAPS_SQL))
                yield conn
            except duckdb.Error as exc:
                raise WarehouseError(
                    f"{doing} the map bodies of table {table!r} in DuckDB table {MAPS_TABLE!r} "
                    f"({self.path}) failed: {exc}"
                ) from exc
