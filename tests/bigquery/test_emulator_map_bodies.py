"""The BigQuery map store (daily_logs_maps) on the local-bigquery emulator: the same behaviours as
the DuckDB store in tests/unit/warehouses/test_duckdb_map_bodies.py."""

from __future__ import annotations

import pytest

from daily_provider.warehouses.base import MAPS_TABLE, MapStore
from tests.bigquery.backend import FAST_RETRY, BigQueryBackend

pytestmark = pytest.mark.bigquery

PRESENCE = ("GET", "/v1/presence", "response")


def test_the_bigquery_warehouse_is_a_map_store(bq_backend: BigQueryBackend) -> None:
    assert isinstance(bq_backend.warehouse, MapStore)


def test_map_bodies_are_kept_per_table_once_each_and_reading_none_creates_nothing(
    bq_backend: BigQueryBackend,
) -> None:
    store = bq_backend.warehouse
    assert store.map_bodies("daily_api_logs") == set()
    tables = [t.table_id for t in bq_backend.client.list_tables(bq_backend.dataset, retry=FAST_RETRY)]
    assert MAPS_TABLE not in tables
    store.save_map_bodies("daily_api_logs", [PRESENCE])
    store.save_map_bodies("daily_api_logs", [PRESENCE, ("", "/v1/other", "request")])
    assert store.map_bodies("daily_api_logs") == {PRESENCE, ("", "/v1/other", "request")}
    assert store.map_bodies("daily_webhook_logs") == set()
    rows = list(
        bq_backend.client.query(f"SELECT COUNT(*) AS n FROM `{bq_backend.dataset}.{MAPS_TABLE}`").result()
    )
    assert rows[0]["n"] == 2
