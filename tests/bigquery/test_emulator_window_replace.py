"""The BigQuery warehouse end to end on the local-bigquery emulator (0.3.2) over loopback.

The shared window-replace contract (tests/contract) runs on this emulator too, through
``tests/bigquery/backend.py``; the tests here cover what is BigQuery's own: table options, the
staging table's life, the INT64 -> FLOAT64 widening and STRING siblings, job re-attachment, and
the transaction's guards.

Where the emulator differs from BigQuery, the production code follows BigQuery's documentation
and these tests do not lean on the difference:
- No partition decorators (``table$20240315`` is "not found"); the warehouse never uses them.
- IAM is not enforced (no 403): permission errors are tested at request level.
- ``maximum_bytes_billed`` is stored on the job but never trips (tables bill 0 bytes): the guard's
  error is tested at request level.
- Writers to one table are serialized, so BigQuery's "Transaction is aborted due to concurrent
  update" never happens here: the retry under a new job id is tested at request level.
- ``PARSE_JSON(..., wide_number_mode => 'round')`` keeps big integers exact; BigQuery rounds them.
- Table metadata update rate limits (about 5 per 10 s per table) are not enforced.
- Any location is accepted and reported as ``US``; location handling is tested at request level.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from daily_provider.exceptions import WarehouseError
from daily_provider.schema import CORE_COLUMN_DESCRIPTIONS, FIXED_COLUMNS, ColumnType
from daily_provider.warehouses.bigquery import job_id_prefix, job_labels
from tests.bigquery.backend import FAST_RETRY, BigQueryBackend, emulator_warehouse
from tests.bigquery.staged import day, record, stage, window_rows
from tests.scopes import replace_scope

pytestmark = pytest.mark.bigquery

TABLE = "daily_api_logs"


def load(
    backend: BigQueryBackend, tmp_path, window, rows, columns=FIXED_COLUMNS, *, warehouse=None, name="s"
):
    staged = stage(tmp_path, rows, columns, name=name)
    return (warehouse or backend.warehouse).replace_window(
        scope=replace_scope(TABLE, "api", window), staged=staged
    )


def table_names(backend: BigQueryBackend) -> list[str]:
    return sorted(t.table_id for t in backend.client.list_tables(backend.dataset, retry=FAST_RETRY))


def ids(backend: BigQueryBackend) -> list[str]:
    return [row["id"] for row in backend.rows(TABLE)]


def test_created_table_is_partitioned_clustered_described_and_jobs_are_labelled(bq_backend, tmp_path):
    labels = job_labels(dag_id="daily_logs_bigquery", task_id="load_api", run_id="manual__1")
    warehouse = emulator_warehouse(
        bq_backend.client,
        bq_backend.dataset,
        require_partition_filter=True,
        labels=labels,
        job_id_prefix=job_id_prefix(dag_id="daily_logs_bigquery", task_id="load_api", window=day(0)),
    )

    assert load(bq_backend, tmp_path, day(0), window_rows(day(0), ["a", "b"]), warehouse=warehouse) == 2
    # With require_partition_filter the window DELETE still works: it filters on created_at.
    assert load(bq_backend, tmp_path, day(0), window_rows(day(0), ["a"]), warehouse=warehouse, name="t") == 1

    table = bq_backend.client.get_table(f"{bq_backend.client.project}.{bq_backend.dataset}.{TABLE}")
    assert (table.time_partitioning.type_, table.time_partitioning.field) == ("DAY", "created_at")
    assert table.clustering_fields == ["source", "endpoint", "status"]
    assert table.require_partition_filter is True
    assert {field.name: field.description for field in table.schema} == CORE_COLUMN_DESCRIPTIONS
    assert table_names(bq_backend) == [TABLE]  # the staging tables are gone
    jobs = [
        job
        for job in bq_backend.client.list_jobs(retry=FAST_RETRY)
        if job.job_id.startswith("daily_logs_daily_logs_bigquery")
    ]
    assert {job.labels["daily_logs_step"] for job in jobs} == {"load", "replace"}
    assert all(job.labels["airflow_dag"] == "daily_logs_bigquery" for job in jobs)


@pytest.mark.parametrize(
    "bad_row",
    [
        pytest.param(record(None, day(0).start, day(0)), id="null id fails the insert"),
        pytest.param(record("late", day(1).start, day(0)), id="row outside the window"),
        pytest.param(record("hook", day(0).start, day(0), source="webhook"), id="row of another source"),
    ],
)
def test_failed_replace_changes_no_row_and_removes_its_staging_table(bq_backend, tmp_path, bad_row):
    load(bq_backend, tmp_path, day(0), window_rows(day(0), ["a", "b"]))
    load(bq_backend, tmp_path, day(1), window_rows(day(1), ["c"]), name="day1")
    before = bq_backend.rows(TABLE)

    with pytest.raises(WarehouseError) as raised:
        load(bq_backend, tmp_path, day(0), [*window_rows(day(0), ["a2"]), bad_row], name="bad")

    assert bq_backend.rows(TABLE) == before
    assert table_names(bq_backend) == [TABLE]
    assert TABLE in str(raised.value) and day(0).start.isoformat() in str(raised.value)


def test_repeating_the_same_call_reloads_the_window_with_fresh_jobs(bq_backend, tmp_path):
    # The same staged file, window and try twice: the first call removed its staging table, so the
    # second must load it again rather than re-attach to jobs whose staging rows are gone.
    staged = stage(tmp_path, window_rows(day(0), ["a", "b"]))
    load(bq_backend, tmp_path, day(1), window_rows(day(1), ["c"]), name="day1")

    first = bq_backend.warehouse.replace_window(scope=replace_scope(TABLE, "api", day(0)), staged=staged)
    after_first = bq_backend.rows(TABLE)
    second = bq_backend.warehouse.replace_window(scope=replace_scope(TABLE, "api", day(0)), staged=staged)

    assert first == second == 2
    assert bq_backend.rows(TABLE) == after_first
    assert ids(bq_backend) == ["a", "b", "c"]


def test_rerun_replaces_only_its_window_and_source(bq_backend, tmp_path):
    load(bq_backend, tmp_path, day(0), window_rows(day(0), ["a"]), name="day0")
    load(bq_backend, tmp_path, day(1), window_rows(day(1), ["b", "c"]), name="day1")
    webhook = stage(tmp_path, window_rows(day(1), ["w"], source="webhook"), name="hook")
    bq_backend.warehouse.replace_window(scope=replace_scope(TABLE, "webhook", day(1)), staged=webhook)
    load(bq_backend, tmp_path, day(2), [record("edge", day(2).start, day(2))], name="day2")

    load(bq_backend, tmp_path, day(1), window_rows(day(1), ["b2"], _run_id="run-2"), name="rerun")

    assert ids(bq_backend) == ["a", "b2", "edge", "w"]


def test_column_types_widen_int_to_float_in_place_and_keep_other_values_in_a_string_sibling(
    bq_backend, tmp_path
):
    column = "response__duration"
    loads: list[tuple[ColumnType, list[Any]]] = [
        (ColumnType.INT64, [1, 2]),
        (ColumnType.FLOAT64, [2.5, None]),
        (ColumnType.STRING, ["42", "three"]),
    ]
    for n, (column_type, values) in enumerate(loads):
        rows = [
            record(f"r{n}{i}", day(n).start + timedelta(hours=i), day(n), **{column: value})
            for i, value in enumerate(values)
        ]
        load(bq_backend, tmp_path, day(n), rows, {**FIXED_COLUMNS, column: column_type}, name=f"day{n}")

    columns = bq_backend.columns(TABLE)
    assert (columns[column], columns[f"{column}__str_"]) == (ColumnType.FLOAT64, ColumnType.STRING)
    query = (
        f"SELECT id, {column} AS typed, {column}__str_ AS text "
        f"FROM `{bq_backend.client.project}`.`{bq_backend.dataset}`.`{TABLE}` ORDER BY id"
    )
    rows = [tuple(row.values()) for row in bq_backend.client.query_and_wait(query, retry=FAST_RETRY)]
    # "42" survives a round trip through FLOAT64, so it lands in the typed column; "three" does not.
    assert rows == [
        ("r00", 1.0, None),
        ("r01", 2.0, None),
        ("r10", 2.5, None),
        ("r11", None, None),
        ("r20", 42.0, None),
        ("r21", None, "three"),
    ]


def test_json_columns_land_as_json_and_can_be_queried(bq_backend, tmp_path):
    rows = window_rows(day(0), ["a"], request={"name": "room-a", "properties": {"exp": 12345678901}})
    load(bq_backend, tmp_path, day(0), rows)

    query = (
        "SELECT JSON_VALUE(request, '$.name') AS name, INT64(request.properties.exp) AS exp, "
        f"JSON_TYPE(response.tags) AS tags FROM `{bq_backend.client.project}`.`{bq_backend.dataset}`.`{TABLE}`"
    )
    [row] = list(bq_backend.client.query_and_wait(query, retry=FAST_RETRY))

    assert (row["name"], row["exp"], row["tags"]) == ("room-a", 12345678901, "array")
