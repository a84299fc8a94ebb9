"""DuckDB-specific behaviour of DuckDBWarehouse: names, guards on the staged window, connection settings.

The window-replace behaviour every warehouse shares is in tests/contract/.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.scopes import TEST_DOMAIN, replace_scope

from daily_provider.exceptions import DailyConfigError, WarehouseError
from daily_provider.schema import FIXED_COLUMNS, ColumnType
from daily_provider.warehouses.base import StagedWindow, Warehouse
from daily_provider.warehouses.duckdb import DUCKDB_TYPES, DuckDBWarehouse, doubled_memory_limit
from daily_provider.window import Window

WINDOW = Window(datetime(2024, 3, 15, tzinfo=timezone.utc), datetime(2024, 3, 16, tzinfo=timezone.utc))
KEY_COLUMNS = {"id": ColumnType.STRING, "created_at": ColumnType.TIMESTAMP, "source": ColumnType.STRING}
ARROW_TYPES = {
    ColumnType.BOOL: pa.bool_(),
    ColumnType.INT64: pa.int64(),
    ColumnType.FLOAT64: pa.float64(),
    ColumnType.STRING: pa.string(),
    ColumnType.TIMESTAMP: pa.timestamp("us", tz="UTC"),
    ColumnType.JSON: pa.string(),
}


def write_staged(
    path: Path,
    columns: dict[str, ColumnType],
    rows: list[dict[str, Any]],
    *,
    declared_rows: int | None = None,
) -> StagedWindow:
    schema = pa.schema([pa.field(name, ARROW_TYPES[column_type]) for name, column_type in columns.items()])
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return StagedWindow(
        path=path, columns=columns, rows=len(rows) if declared_rows is None else declared_rows
    )


def rows_at(*ids: str, source: str = "api", **extra: Any) -> list[dict[str, Any]]:
    return [
        {"id": record_id, "created_at": WINDOW.start + timedelta(hours=n), "source": source, **extra}
        for n, record_id in enumerate(ids)
    ]


@pytest.fixture
def warehouse(tmp_path):
    with DuckDBWarehouse(
        tmp_path / "logs.duckdb", memory_limit="300MB", threads=1, lock_timeout=5
    ) as created:
        yield created


def table_rows(warehouse: DuckDBWarehouse, table: str) -> list[tuple[Any, ...]]:
    try:
        return warehouse.connect().table(table).order("id").fetchall()
    finally:
        warehouse.close()


def test_duckdb_types_map_every_logical_type():
    assert DUCKDB_TYPES == {
        ColumnType.BOOL: "BOOLEAN",
        ColumnType.INT64: "BIGINT",
        ColumnType.FLOAT64: "DOUBLE",
        ColumnType.STRING: "VARCHAR",
        ColumnType.TIMESTAMP: "TIMESTAMPTZ",
        ColumnType.JSON: "JSON",
    }


def test_warehouse_meets_the_protocol_and_constructing_it_touches_no_file(tmp_path):
    warehouse = DuckDBWarehouse(tmp_path / "missing-dir" / "logs.duckdb")

    assert isinstance(warehouse, Warehouse)
    assert warehouse.dialect == "duckdb"
    assert list(tmp_path.iterdir()) == []


def test_connection_uses_the_configured_memory_limit_threads_and_utc(warehouse):
    settings = (
        warehouse.connect()
        .execute(
            "SELECT current_setting('memory_limit'), current_setting('threads'), current_setting('TimeZone')"
        )
        .fetchone()
    )

    assert settings == ("286.1 MiB", 1, "UTC")  # DuckDB shows 300 MB in MiB


@pytest.mark.parametrize(
    "table",
    ['logs"; DROP TABLE daily_logs_loads; --', "logs.other", "1logs", "logs name", "", "ünïcode"],
)
def test_hostile_table_names_are_rejected_before_the_file_is_opened(tmp_path, table):
    warehouse = DuckDBWarehouse(tmp_path / "logs.duckdb")
    staged = write_staged(tmp_path / "staged.parquet", KEY_COLUMNS, rows_at("a"))

    with pytest.raises(DailyConfigError, match="not allowed"):
        warehouse.replace_window(scope=replace_scope(table, "api", WINDOW), staged=staged)
    with pytest.raises(DailyConfigError, match="not allowed"):
        warehouse.table_columns(table)

    assert not (tmp_path / "logs.duckdb").exists()


@pytest.mark.parametrize(
    "column",
    ['x"; DROP TABLE logs; --', "Response__Mixed", "response.dotted", "1starts_with_digit", "a" * 301],
)
def test_hostile_staged_column_names_are_rejected_and_leave_the_table_alone(warehouse, tmp_path, column):
    warehouse.replace_window(
        scope=replace_scope("logs", "api", WINDOW),
        staged=write_staged(tmp_path / "a.parquet", KEY_COLUMNS, rows_at("a")),
    )
    hostile = write_staged(tmp_path / "b.parquet", {**KEY_COLUMNS, column: ColumnType.STRING}, rows_at("b"))

    with pytest.raises(WarehouseError, match="not valid column names"):
        warehouse.replace_window(scope=replace_scope("logs", "api", WINDOW), staged=hostile)

    assert warehouse.table_columns("logs") == FIXED_COLUMNS
    assert [row[0] for row in table_rows(warehouse, "logs")] == ["a"]


def test_column_names_that_are_sql_keywords_are_quoted_and_load(warehouse, tmp_path):
    keywords = {
        "select": ColumnType.STRING,
        "from": ColumnType.INT64,
        "order": ColumnType.BOOL,
        "group": ColumnType.JSON,
    }
    staged = write_staged(
        tmp_path / "s.parquet",
        {**KEY_COLUMNS, **keywords},
        rows_at("a", select="*", **{"from": 3, "order": True, "group": '{"by": 1}'}),
    )

    warehouse.replace_window(scope=replace_scope("logs", "api", WINDOW), staged=staged)

    assert list(warehouse.table_columns("logs").items())[-4:] == list(keywords.items())
    relation = warehouse.connect().table("logs").select('"select", "from", "order", "group"')
    assert relation.fetchall() == [("*", 3, True, '{"by": 1}')]


def test_table_name_in_another_case_loads_into_the_same_table(warehouse, tmp_path):
    extra = {**KEY_COLUMNS, "domain_id": ColumnType.STRING, "response__n": ColumnType.INT64}
    warehouse.replace_window(
        scope=replace_scope("Logs", "api", WINDOW),
        staged=write_staged(tmp_path / "a.parquet", extra, rows_at("a", domain_id=TEST_DOMAIN)),
    )

    warehouse.replace_window(
        scope=replace_scope("LOGS", "api", WINDOW),
        staged=write_staged(tmp_path / "b.parquet", extra, rows_at("b", domain_id=TEST_DOMAIN)),
    )

    assert [row[0] for row in table_rows(warehouse, "logs")] == ["b"]


@pytest.mark.parametrize("column", ["id", "created_at", "source"])
def test_staged_window_key_column_of_another_type_is_refused_before_any_change(warehouse, tmp_path, column):
    columns = {**KEY_COLUMNS, column: ColumnType.JSON}
    staged = StagedWindow(path=tmp_path / "never-read.parquet", columns=columns, rows=0)

    with pytest.raises(WarehouseError, match=f"must have column {column} of type"):
        warehouse.replace_window(scope=replace_scope("logs", "api", WINDOW), staged=staged)

    assert warehouse.table_columns("logs") == {}


@pytest.mark.parametrize(
    "stray",
    [
        {"created_at": WINDOW.end},
        {"created_at": WINDOW.start - timedelta(microseconds=1)},
        {"source": "webhook"},
        {"source": None},
    ],
    ids=["at-window-end", "before-window-start", "other-source", "no-source"],
)
def test_staged_rows_outside_the_window_or_source_are_refused_and_change_nothing(warehouse, tmp_path, stray):
    warehouse.replace_window(
        scope=replace_scope("logs", "api", WINDOW),
        staged=write_staged(tmp_path / "a.parquet", KEY_COLUMNS, rows_at("a")),
    )
    rows = rows_at("b", "c")
    rows[1].update(stray)
    staged = write_staged(tmp_path / "b.parquet", {**KEY_COLUMNS, "response__new": ColumnType.STRING}, rows)

    with pytest.raises(
        WarehouseError, match=r"1 staged rows .* another source or a created_at outside the window"
    ):
        warehouse.replace_window(scope=replace_scope("logs", "api", WINDOW), staged=staged)

    assert warehouse.table_columns("logs") == FIXED_COLUMNS
    assert [row[0] for row in table_rows(warehouse, "logs")] == ["a"]


def test_staged_file_with_another_row_count_than_declared_is_rolled_back(warehouse, tmp_path):
    warehouse.replace_window(
        scope=replace_scope("logs", "api", WINDOW),
        staged=write_staged(tmp_path / "a.parquet", KEY_COLUMNS, rows_at("a")),
    )
    staged = write_staged(tmp_path / "b.parquet", KEY_COLUMNS, rows_at("b", "c"), declared_rows=5)

    with pytest.raises(WarehouseError, match="holds 2 rows but its StagedWindow says 5"):
        warehouse.replace_window(scope=replace_scope("logs", "api", WINDOW), staged=staged)

    assert [row[0] for row in table_rows(warehouse, "logs")] == ["a"]


def test_invalid_json_in_a_json_column_is_rolled_back(warehouse, tmp_path):
    columns = {**KEY_COLUMNS, "request": ColumnType.JSON}
    warehouse.replace_window(
        scope=replace_scope("logs", "api", WINDOW),
        staged=write_staged(tmp_path / "a.parquet", columns, rows_at("a")),
    )
    staged = write_staged(tmp_path / "b.parquet", columns, rows_at("b", request="{not json"))

    with pytest.raises(WarehouseError, match="rolled back"):
        warehouse.replace_window(scope=replace_scope("logs", "api", WINDOW), staged=staged)

    assert [row[0] for row in table_rows(warehouse, "logs")] == ["a"]


def test_timestamp_column_widened_to_text_reads_in_utc(warehouse, tmp_path):
    column = "response__expires"
    at = datetime(2024, 3, 15, 18, 42, tzinfo=timezone.utc)
    warehouse.replace_window(
        scope=replace_scope("logs", "api", WINDOW),
        staged=write_staged(
            tmp_path / "a.parquet",
            {**KEY_COLUMNS, column: ColumnType.TIMESTAMP},
            rows_at("a", **{column: at}),
        ),
    )

    later = Window(WINDOW.end, WINDOW.end + timedelta(days=1))
    text_rows = [{"id": "b", "created_at": later.start, "source": "api", column: "never"}]
    staged = write_staged(tmp_path / "b.parquet", {**KEY_COLUMNS, column: ColumnType.STRING}, text_rows)
    warehouse.replace_window(scope=replace_scope("logs", "api", later), staged=staged)

    assert warehouse.table_columns("logs")[column] is ColumnType.STRING
    values = warehouse.connect().table("logs").order("id").select(f'"{column}"').fetchall()
    assert values == [("2024-03-15 18:42:00+00",), ("never",)]


def test_column_of_a_type_the_provider_does_not_manage_is_named_in_the_error(warehouse, tmp_path):
    warehouse.connect().execute(
        "CREATE TABLE logs (id VARCHAR NOT NULL, created_at TIMESTAMPTZ NOT NULL, source VARCHAR, n INTEGER)"
    )
    warehouse.close()
    staged = write_staged(tmp_path / "a.parquet", {**KEY_COLUMNS, "n": ColumnType.INT64}, rows_at("a", n=1))

    with pytest.raises(WarehouseError, match="column n of DuckDB table 'logs' has type INTEGER"):
        warehouse.replace_window(scope=replace_scope("logs", "api", WINDOW), staged=staged)


def test_existing_table_whose_window_key_has_another_type_is_refused(warehouse, tmp_path):
    warehouse.connect().execute(
        "CREATE TABLE logs (id VARCHAR NOT NULL, created_at VARCHAR NOT NULL, source VARCHAR)"
    )
    warehouse.close()
    staged = write_staged(
        tmp_path / "a.parquet", {**KEY_COLUMNS, "response__n": ColumnType.INT64}, rows_at("a", response__n=1)
    )

    with pytest.raises(WarehouseError, match="window key column created_at is STRING but must be TIMESTAMP"):
        warehouse.replace_window(scope=replace_scope("logs", "api", WINDOW), staged=staged)

    assert warehouse.table_columns("logs") == {**KEY_COLUMNS, "created_at": ColumnType.STRING}


# -- memory_limit retries --------------------------------------------------------------------------


def wide_window(tmp_path: Path, name: str, ids: list[str], columns: int = 150) -> StagedWindow:
    """A window whose INSERT needs more than a few MB of DuckDB buffers: many filled columns."""
    wide = {**KEY_COLUMNS, **{f"response__c{n:03d}": ColumnType.STRING for n in range(columns)}}
    filler = {f"response__c{n:03d}": f"value {n} " * 4 for n in range(columns)}
    rows = [{**row, **filler} for row in rows_at(*ids)]
    return write_staged(tmp_path / name, wide, rows)


def test_a_window_that_outgrows_the_memory_limit_is_retried_with_more_and_loads(tmp_path, caplog):
    ids = [f"r{n:05d}" for n in range(20)]  # few rows: the columns are what needs the buffers
    staged = wide_window(tmp_path, "wide.parquet", ids)
    warehouse = DuckDBWarehouse(tmp_path / "logs.duckdb", memory_limit="8MB", threads=2)
    caplog.set_level("WARNING", logger="daily_provider.warehouses.duckdb")

    with warehouse:
        rows = warehouse.replace_window(scope=replace_scope("logs", "api", WINDOW), staged=staged)
        limit = warehouse.connect().execute("SELECT current_setting('memory_limit')").fetchone()

    assert rows == len(ids)
    assert [row[0] for row in table_rows(warehouse, "logs")] == sorted(ids)
    retries = [
        record.getMessage() for record in caplog.records if "ran out of memory_limit" in record.getMessage()
    ]
    assert retries and "retrying with 16MB" in retries[0]
    assert limit == ("7.6 MiB",)  # the configured limit is back once the window is loaded


def test_running_out_of_memory_on_every_retry_fails_clearly_and_keeps_the_old_rows(tmp_path, monkeypatch):
    warehouse = DuckDBWarehouse(tmp_path / "logs.duckdb", memory_limit="1GB", threads=2)
    warehouse.replace_window(
        scope=replace_scope("logs", "api", WINDOW), staged=wide_window(tmp_path, "a.parquet", ["old"])
    )
    monkeypatch.setattr("daily_provider.warehouses.duckdb.MEMORY_RETRIES", 0)
    small = DuckDBWarehouse(tmp_path / "logs.duckdb", memory_limit="8MB", threads=2)
    staged = wide_window(tmp_path, "b.parquet", [f"n{n}" for n in range(20)])

    with pytest.raises(
        WarehouseError, match=r"ran out of DuckDB's memory_limit \(8MB\) and was rolled back.*--memory-limit"
    ):
        small.replace_window(scope=replace_scope("logs", "api", WINDOW), staged=staged)

    assert [row[0] for row in table_rows(warehouse, "logs")] == ["old"]


@pytest.mark.parametrize(
    ("limit", "doubled"), [("128MB", "256MB"), ("1GB", "2000MB"), ("100 MiB", "209MB"), ("0.5GB", "1000MB")]
)
def test_memory_limits_double_in_megabytes(limit, doubled):
    assert doubled_memory_limit(limit) == doubled
