"""The DuckDB map store (daily_logs_maps): per table, once each, and nothing until one is saved."""

from __future__ import annotations

from pathlib import Path

from daily_provider.warehouses.base import MAPS_TABLE, MapStore
from daily_provider.warehouses.duckdb import DuckDBWarehouse

PRESENCE = ("GET", "/v1/presence", "response")


def test_map_bodies_are_kept_per_table_once_each_and_reading_none_creates_nothing(tmp_path: Path) -> None:
    with DuckDBWarehouse(tmp_path / "maps.duckdb") as store:
        assert isinstance(store, MapStore)
        assert store.map_bodies("daily_api_logs") == set()
        tables = store.connect().execute("SELECT table_name FROM duckdb_tables()").fetchall()
        assert (MAPS_TABLE,) not in tables
        store.save_map_bodies("daily_api_logs", [PRESENCE])
        store.save_map_bodies("daily_api_logs", [PRESENCE, ("", "/v1/other", "request")])
        assert store.map_bodies("daily_api_logs") == {PRESENCE, ("", "/v1/other", "request")}
        assert store.map_bodies("daily_webhook_logs") == set()
        count = store.connect().execute(f'SELECT count(*) FROM "{MAPS_TABLE}"').fetchone()
        assert count == (2,)
