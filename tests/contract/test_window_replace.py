"""The window-replace contract: what every warehouse guarantees when it loads a window.

After ``replace_window`` the table holds exactly the staged rows for that source and window, rows
outside it are untouched, and a failed replace leaves the table as it was. The same tests run on
every backend of the ``backend`` fixture (see conftest.py). Backends show their tables as they
are; where the warehouses differ, the test says so and states each one's expectation (today: text
meeting a number column, in the widening test).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from tests.scopes import replace_scope

from daily_provider.exceptions import WarehouseError
from daily_provider.schema import FIXED_COLUMNS, ColumnType
from daily_provider.warehouses.base import LOADS_TABLE, LoadRecord
from daily_provider.warehouses.bigquery_columns import SIBLING_SUFFIX
from daily_provider.window import Window

TABLE = "daily_api_logs"
DAY0 = datetime(2024, 3, 15, tzinfo=timezone.utc)
LOADED_AT = datetime(2024, 3, 20, 8, 0, tzinfo=timezone.utc)
LOAD_METADATA = ("_loaded_at", "_run_id")


def day(n: int) -> Window:
    return Window(DAY0 + timedelta(days=n), DAY0 + timedelta(days=n + 1))


def record(
    record_id: str,
    created_at: datetime,
    window: Window,
    *,
    source: str = "api",
    run_id: str = "run-1",
    loaded_at: datetime = LOADED_AT,
    **extra: Any,
) -> dict[str, Any]:
    """A full row as the staging step writes it; ``extra`` adds or overrides columns."""
    return {
        "id": record_id,
        "created_at": created_at,
        "source": source,
        "method": "POST",
        "url": f"/v1/rooms/room-{record_id}",
        "endpoint": "/v1/rooms/{name}",
        "status": 200,
        "is_error": False,
        "ip": None,
        "user_id": "user-1",
        "domain_id": "domain-1",
        "request": {"name": f"room-{record_id}", "properties": {"max_participants": 4}},
        "response": {"id": record_id, "tags": ["a", "b"], "nested": {"ok": True}},
        "request_text": None,
        "response_text": None,
        "request_parse_error": None,
        "response_parse_error": None,
        "_loaded_at": loaded_at,
        "_run_id": run_id,
        "_window_start": window.start,
        "_window_end": window.end,
        **extra,
    }


def window_rows(
    window: Window, ids: list[str], *, source: str = "api", **kwargs: Any
) -> list[dict[str, Any]]:
    """Rows spread over ``window``, one per id, first at its very start."""
    step = (window.end - window.start) / (len(ids) + 1)
    return [
        record(record_id, window.start + step * position, window, source=source, **kwargs)
        for position, record_id in enumerate(ids)
    ]


def full(row: dict[str, Any], columns: dict[str, ColumnType]) -> dict[str, Any]:
    """``row`` as the table returns it: every table column, null where the row has no value."""
    return {name: row.get(name) for name in columns}


def without_load_metadata(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{name: value for name, value in row.items() if name not in LOAD_METADATA} for row in rows]


def load(
    backend: Any,
    stage: Any,
    tmp_path: Path,
    window: Window,
    rows: list[dict[str, Any]],
    *,
    source: str = "api",
    table: str = TABLE,
    columns: dict[str, ColumnType] = FIXED_COLUMNS,
) -> int:
    staged = stage(tmp_path, rows, columns)
    return backend.warehouse.replace_window(scope=replace_scope(table, source, window), staged=staged)


def test_new_table_has_the_fixed_columns_in_order(backend, stage, tmp_path):
    load(backend, stage, tmp_path, day(0), window_rows(day(0), ["a"]))

    assert backend.columns(TABLE) == FIXED_COLUMNS


def test_replace_returns_row_count_and_table_holds_exactly_the_staged_rows(backend, stage, tmp_path):
    rows = window_rows(day(0), ["a", "b", "c"])
    rows[1].update(
        is_error=True,
        status=404,
        ip="203.0.113.9",
        request=None,
        response_text="<html>",
        response_parse_error="Expecting value: line 1 column 1 (char 0)",
        response=None,
    )

    inserted = load(backend, stage, tmp_path, day(0), rows)

    assert inserted == 3
    assert backend.rows(TABLE) == [full(row, FIXED_COLUMNS) for row in rows]


def test_rerun_of_window_leaves_table_unchanged_except_load_metadata(backend, stage, tmp_path):
    load(backend, stage, tmp_path, day(0), window_rows(day(0), ["a", "b"]))
    load(backend, stage, tmp_path, day(1), window_rows(day(1), ["c"]))
    before = backend.rows(TABLE)

    rerun_at = LOADED_AT + timedelta(hours=5)
    load(
        backend, stage, tmp_path, day(0), window_rows(day(0), ["a", "b"], run_id="run-2", loaded_at=rerun_at)
    )
    after = backend.rows(TABLE)

    assert without_load_metadata(after) == without_load_metadata(before)
    assert [row["_run_id"] for row in after] == ["run-2", "run-2", "run-1"]


def test_rerun_with_fewer_records_removes_the_ones_no_longer_staged(backend, stage, tmp_path):
    load(backend, stage, tmp_path, day(0), window_rows(day(0), ["a", "b", "c"]))

    load(backend, stage, tmp_path, day(0), window_rows(day(0), ["a", "c"]))

    assert [row["id"] for row in backend.rows(TABLE)] == ["a", "c"]


def test_windows_loaded_in_any_order_give_the_same_table(backend, stage, tmp_path):
    loads = [
        (day(0), "api", window_rows(day(0), ["a0", "a1"])),
        (day(1), "api", window_rows(day(1), ["b0", "b1", "b2"])),
        (day(2), "api", window_rows(day(2), ["c0"])),
        (day(1), "webhook", window_rows(day(1), ["w0", "w1"], source="webhook")),
        (day(0), "api", window_rows(day(0), ["a0", "a1", "a2"], run_id="run-2")),
    ]
    staged = [(window, source, stage(tmp_path, rows, FIXED_COLUMNS)) for window, source, rows in loads]
    # The same loads backwards, except that the re-run of day 0 stays after its first load.
    orders = {
        "logs_in_order": staged,
        "logs_backwards": [staged[3], staged[2], staged[1], staged[0], staged[4]],
    }

    for table, order in orders.items():
        for window, source, staged_window in order:
            backend.warehouse.replace_window(scope=replace_scope(table, source, window), staged=staged_window)

    assert backend.rows("logs_backwards") == backend.rows("logs_in_order")
    assert [row["id"] for row in backend.rows("logs_in_order")] == [
        "a0",
        "a1",
        "a2",
        "b0",
        "b1",
        "b2",
        "c0",
        "w0",
        "w1",
    ]


def test_replacing_a_window_leaves_neighbour_windows_and_other_source_untouched(backend, stage, tmp_path):
    last_of_day0 = record("edge-before", day(1).start - timedelta(microseconds=1), day(0))
    first_of_day2 = record("edge-after", day(2).start, day(2))
    load(backend, stage, tmp_path, day(0), [*window_rows(day(0), ["a"]), last_of_day0])
    load(backend, stage, tmp_path, day(1), window_rows(day(1), ["b", "c"]))
    load(
        backend,
        stage,
        tmp_path,
        day(2),
        [first_of_day2, record("d", day(2).start + timedelta(hours=1), day(2))],
    )
    load(backend, stage, tmp_path, day(1), window_rows(day(1), ["w"], source="webhook"), source="webhook")
    outside = [row for row in backend.rows(TABLE) if row["id"] not in ("b", "c")]

    replacement = window_rows(day(1), ["b2"], run_id="run-2")
    load(backend, stage, tmp_path, day(1), replacement)

    after = backend.rows(TABLE)
    assert [row for row in after if row["id"] != "b2"] == outside
    assert [row["id"] for row in after] == ["a", "b2", "d", "edge-after", "edge-before", "w"]


@pytest.mark.parametrize("failure", ["null id", "unreadable file"])
def test_failed_replace_leaves_table_as_before_and_names_table_and_window(backend, stage, tmp_path, failure):
    load(backend, stage, tmp_path, day(0), window_rows(day(0), ["a", "b"]))
    load(backend, stage, tmp_path, day(1), window_rows(day(1), ["c"]))
    before = backend.rows(TABLE)
    # A NULL id passes every check up to the insert itself, when the window is already deleted.
    bad = stage(tmp_path, [*window_rows(day(0), ["a2"]), record(None, day(0).start, day(0))], FIXED_COLUMNS)
    if failure == "unreadable file":
        bad.path.write_bytes(b"PAR1 this is not a parquet file")

    with pytest.raises(WarehouseError) as raised:
        backend.warehouse.replace_window(scope=replace_scope(TABLE, "api", day(0)), staged=bad)

    assert backend.rows(TABLE) == before
    assert TABLE in str(raised.value)
    assert day(0).start.isoformat() in str(raised.value)


def test_new_columns_appear_without_losing_old_rows(backend, stage, tmp_path):
    old = window_rows(day(0), ["a", "b"])
    load(backend, stage, tmp_path, day(0), old)
    grown = {
        **FIXED_COLUMNS,
        "response__config__max_participants": ColumnType.INT64,
        "response__privacy": ColumnType.STRING,
    }
    new = window_rows(day(1), ["c"], response__config__max_participants=8, response__privacy="private")

    load(backend, stage, tmp_path, day(1), new, columns=grown)

    assert backend.columns(TABLE) == grown
    assert backend.rows(TABLE) == [full(row, grown) for row in [*old, *new]]


def test_column_type_widens_int_to_float_to_string_without_losing_values(backend, stage, tmp_path):
    column = "response__duration"
    for n, (column_type, value) in enumerate([(ColumnType.INT64, 1), (ColumnType.FLOAT64, 2.5)]):
        rows = window_rows(day(n), [f"r{n}"], **{column: value})
        load(backend, stage, tmp_path, day(n), rows, columns={**FIXED_COLUMNS, column: column_type})
        assert backend.columns(TABLE)[column] is column_type
    rows = window_rows(day(2), ["r2"], **{column: "three"})
    load(backend, stage, tmp_path, day(2), rows, columns={**FIXED_COLUMNS, column: ColumnType.STRING})

    # Where the warehouses differ: text meeting a number column.
    columns, loaded = backend.columns(TABLE), backend.rows(TABLE)
    if backend.name == "duckdb":
        # DuckDB turns the column into STRING in place; the numbers become their text.
        assert columns[column] is ColumnType.STRING
        assert [row[column] for row in loaded] == ["1.0", "2.5", "three"]
    else:
        # BigQuery cannot change a FLOAT64 column to STRING: the column keeps its type and a STRING
        # sibling <column>__str_ takes the values it cannot hold.
        sibling = column + SIBLING_SUFFIX
        assert (columns[column], columns[sibling]) == (ColumnType.FLOAT64, ColumnType.STRING)
        assert [(row[column], row[sibling]) for row in loaded] == [(1.0, None), (2.5, None), (None, "three")]


def test_staged_column_narrower_than_the_table_is_loaded_into_the_wider_type(backend, stage, tmp_path):
    column = "response__duration"
    load(
        backend,
        stage,
        tmp_path,
        day(0),
        window_rows(day(0), ["a"], **{column: 2.5}),
        columns={**FIXED_COLUMNS, column: ColumnType.FLOAT64},
    )

    load(
        backend,
        stage,
        tmp_path,
        day(1),
        window_rows(day(1), ["b"], **{column: 3}),
        columns={**FIXED_COLUMNS, column: ColumnType.INT64},
    )

    assert backend.columns(TABLE)[column] is ColumnType.FLOAT64
    assert [row[column] for row in backend.rows(TABLE)] == [2.5, 3.0]


def test_empty_staged_window_deletes_the_windows_rows(backend, stage, tmp_path):
    load(backend, stage, tmp_path, day(0), window_rows(day(0), ["a", "b"]))
    load(backend, stage, tmp_path, day(1), window_rows(day(1), ["c"]))

    inserted = load(backend, stage, tmp_path, day(0), [])

    assert inserted == 0
    assert [row["id"] for row in backend.rows(TABLE)] == ["c"]


def test_empty_staged_window_creates_an_empty_table(backend, stage, tmp_path):
    load(backend, stage, tmp_path, day(0), [])

    assert backend.columns(TABLE) == FIXED_COLUMNS
    assert backend.rows(TABLE) == []


def audit(load_id: str, **changes: Any) -> LoadRecord:
    fields: dict[str, Any] = {
        "run_id": "run-1",
        "table_name": TABLE,
        "source": "api",
        "window_start": day(0).start,
        "window_end": day(0).end,
        "status": "running",
        "started_at": LOADED_AT,
    }
    return LoadRecord(load_id=load_id, **{**fields, **changes})


def test_audit_running_then_success_leaves_one_row_with_the_final_status(backend):
    finished = LOADED_AT + timedelta(seconds=42)
    backend.warehouse.record_load(audit("load-1"))
    backend.warehouse.record_load(audit("load-2"))

    backend.warehouse.record_load(
        audit(
            "load-1",
            status="success",
            finished_at=finished,
            rows=120,
            pages=2,
            requests=3,
            retries=1,
            redacted_values=5,
            parse_errors=1,
            extra={"convention": "starting_after"},
            domain_id="domain-1",
            url_filter="/v1/rooms",
            covered_start=day(0).start + timedelta(hours=6),
            covered_end=day(0).end,
            window_source="partition",
        )
    )

    rows = backend.rows(LOADS_TABLE, key="load_id")
    assert [(row["load_id"], row["status"]) for row in rows] == [("load-1", "success"), ("load-2", "running")]
    assert rows[0] == {
        "load_id": "load-1",
        "run_id": "run-1",
        "table_name": TABLE,
        "source": "api",
        "window_start": day(0).start,
        "window_end": day(0).end,
        "status": "success",
        "started_at": LOADED_AT,
        "finished_at": finished,
        "rows": 120,
        "pages": 2,
        "requests": 3,
        "retries": 1,
        "redacted_values": 5,
        "parse_errors": 1,
        "error": None,
        "extra": {"convention": "starting_after"},
        "domain_id": "domain-1",
        "url_filter": "/v1/rooms",
        "covered_start": day(0).start + timedelta(hours=6),
        "covered_end": day(0).end,
        "window_source": "partition",
    }


def test_audit_of_a_failed_load_keeps_its_error(backend):
    backend.warehouse.record_load(audit("load-1"))

    backend.warehouse.record_load(
        audit("load-1", status="failed", error="DailyTransportError: retries ran out")
    )

    [row] = backend.rows(LOADS_TABLE, key="load_id")
    assert (row["status"], row["error"]) == ("failed", "DailyTransportError: retries ran out")
