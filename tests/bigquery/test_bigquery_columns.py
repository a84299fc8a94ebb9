"""How staged columns map onto a BigQuery table, and the names the warehouse derives (pure code)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daily_provider.exceptions import WarehouseError
from daily_provider.schema import FIXED_COLUMNS, MAX_COLUMN_NAME_LENGTH, ColumnType, column_name
from daily_provider.warehouses.bigquery import BIGQUERY_TYPES
from daily_provider.warehouses.bigquery_columns import (
    SIBLING_SUFFIX,
    column_type_from_api,
    plan_columns,
    string_sibling,
)
from daily_provider.warehouses.bigquery_names import (
    TableRef,
    job_id,
    job_id_prefix,
    job_labels,
    label_value,
    sanitize_job_id,
)
from daily_provider.window import Window

WHAT = "window [..) into t"


def test_type_map_covers_every_logical_type():
    assert BIGQUERY_TYPES == {
        ColumnType.BOOL: "BOOL",
        ColumnType.INT64: "INT64",
        ColumnType.FLOAT64: "FLOAT64",
        ColumnType.STRING: "STRING",
        ColumnType.TIMESTAMP: "TIMESTAMP",
        ColumnType.JSON: "JSON",
    }


@pytest.mark.parametrize(
    ("api_type", "expected"),
    [
        ("INTEGER", ColumnType.INT64),
        ("FLOAT", ColumnType.FLOAT64),
        ("BOOLEAN", ColumnType.BOOL),
        ("JSON", ColumnType.JSON),
    ],
)
def test_legacy_api_type_names_map_to_logical_types(api_type, expected):
    assert column_type_from_api("p.d.t", "c", api_type, "NULLABLE") is expected


@pytest.mark.parametrize(
    ("api_type", "mode"), [("NUMERIC", "NULLABLE"), ("STRING", "REPEATED"), ("RECORD", None)]
)
def test_unmanaged_column_types_are_an_error_naming_the_column(api_type, mode):
    with pytest.raises(WarehouseError, match=r"column c of BigQuery table p\.d\.t"):
        column_type_from_api("p.d.t", "c", api_type, mode)


def test_new_columns_are_added_with_their_staged_type():
    plan = plan_columns(FIXED_COLUMNS, {**FIXED_COLUMNS, "response__n": ColumnType.INT64}, what=WHAT)

    assert plan.add == {"response__n": ColumnType.INT64}
    assert plan.to_float == []
    assert plan.insert_columns[-1] == "`response__n`"


def test_matching_table_needs_no_schema_change_and_parses_json_columns():
    plan = plan_columns(FIXED_COLUMNS, FIXED_COLUMNS, what=WHAT)

    assert not plan.changes_schema
    values = dict(zip(plan.insert_columns, plan.insert_values, strict=True))
    assert values["`request`"] == "PARSE_JSON(`request`, wide_number_mode => 'round')"
    assert values["`status`"] == "`status`"


def test_int_column_widens_to_float_in_place():
    plan = plan_columns(
        {"id": ColumnType.STRING, "x": ColumnType.INT64}, {"x": ColumnType.FLOAT64}, what=WHAT
    )

    assert plan.to_float == ["x"]
    assert plan.add == {}
    assert plan.insert_values == ["`x`"]


@pytest.mark.parametrize(
    ("table_type", "staged_type", "value"),
    [
        (ColumnType.FLOAT64, ColumnType.INT64, "CAST(`x` AS FLOAT64)"),
        (ColumnType.STRING, ColumnType.INT64, "CAST(`x` AS STRING)"),
        (ColumnType.STRING, ColumnType.JSON, "`x`"),
    ],
)
def test_narrower_staged_values_are_cast_into_the_wider_column(table_type, staged_type, value):
    plan = plan_columns({"x": table_type}, {"x": staged_type}, what=WHAT)

    assert not plan.changes_schema
    assert plan.insert_values == [value]


@pytest.mark.parametrize(
    "table_type",
    [ColumnType.INT64, ColumnType.FLOAT64, ColumnType.BOOL, ColumnType.TIMESTAMP, ColumnType.JSON],
)
def test_column_that_would_have_to_become_string_gains_a_string_sibling(table_type):
    plan = plan_columns({"x": table_type}, {"x": ColumnType.STRING}, what=WHAT)

    assert plan.add == {"x__str_": ColumnType.STRING}
    assert plan.to_float == []
    assert plan.siblings == {"x": "x__str_"}
    assert plan.insert_columns == ["`x`", "`x__str_`"]
    typed, text = plan.insert_values
    # Each value goes to exactly one of the two columns, decided by the same round-trip test.
    assert typed.endswith(", NULL)") and text.endswith(", NULL, `x`)")
    condition = text.removesuffix(", NULL, `x`)")
    assert typed.startswith(condition + ", ")


def test_existing_sibling_is_reused_not_added_again():
    plan = plan_columns(
        {"x": ColumnType.INT64, "x__str_": ColumnType.STRING}, {"x": ColumnType.STRING}, what=WHAT
    )

    assert plan.add == {}
    assert plan.insert_columns == ["`x`", "`x__str_`"]


def test_key_column_of_another_type_is_refused():
    with pytest.raises(WarehouseError, match="key column created_at is STRING"):
        plan_columns({"created_at": ColumnType.STRING}, {"created_at": ColumnType.TIMESTAMP}, what=WHAT)


@given(st.lists(st.text(min_size=1, max_size=80), min_size=1, max_size=6))
def test_sibling_names_never_collide_with_flattened_body_columns(path):
    body_column = column_name("response", path)

    sibling = string_sibling(body_column)

    assert not body_column.endswith("_")  # no key path can produce the sibling suffix
    assert sibling.endswith(SIBLING_SUFFIX)
    assert len(sibling) <= MAX_COLUMN_NAME_LENGTH


def test_long_column_names_get_a_hashed_sibling_within_the_limit():
    a, b = "r" * 299 + "a", "r" * 299 + "b"

    assert len(string_sibling(a)) <= MAX_COLUMN_NAME_LENGTH
    assert string_sibling(a) != string_sibling(b)


WINDOW = Window(datetime(2024, 3, 15, tzinfo=timezone.utc), datetime(2024, 3, 16, tzinfo=timezone.utc))


def test_job_id_prefix_names_dag_task_and_window_in_job_id_characters():
    prefix = job_id_prefix(dag_id="daily logs.bq", task_id="group.load_api", window=WINDOW)

    assert prefix == "daily_logs_daily_logs_bq_group_load_api_20240315T000000_20240316T000000"
    assert job_id(prefix, "load", 3, "abc") == f"{prefix}_load_t3_abc"


def test_job_ids_stay_within_bigquery_limits():
    prefix = sanitize_job_id("x" * 5000)

    assert len(job_id(prefix, "replace", 12, "f" * 16)) <= 1024
    assert sanitize_job_id("x" * 5000) != sanitize_job_id("x" * 4999)


def test_job_labels_follow_bigquery_label_rules():
    labels = job_labels(
        dag_id="Daily.Logs", task_id="load_api", run_id="manual__2024-03-16T00:00:00+00:00" + "x" * 80
    )

    assert labels["airflow_dag"] == "daily_logs"
    assert all(len(value) <= 63 and value == label_value(value) for value in labels.values())
    assert labels["airflow_run"].startswith("manual__2024-03-16t00_00_00_00_00")


def test_table_reference_is_backtick_quoted_after_validation():
    assert (
        TableRef.of("daily-prod-1", "logs", "daily_api_logs").sql == "`daily-prod-1`.`logs`.`daily_api_logs`"
    )
