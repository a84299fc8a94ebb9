"""What the BigQuery warehouse sends over HTTP: tables, load and query jobs, ids, labels and errors.

The real google-cloud-bigquery client runs against a scripted REST API (``fake_api``, on
``responses``) with anonymous credentials and its retries disabled, so every failure is immediate.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import responses
from google.api_core import exceptions as google_exceptions
from google.api_core.retry import Retry, if_exception_type
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from daily_provider.exceptions import WarehouseError
from daily_provider.schema import CORE_COLUMN_DESCRIPTIONS, FIXED_COLUMNS, ColumnType
from daily_provider.warehouses.base import LOADS_TABLE, LoadRecord
from daily_provider.warehouses.bigquery import BigQueryWarehouse, job_id_prefix, job_labels
from tests.bigquery.fake_api import FakeBigQueryAPI
from tests.bigquery.staged import LOADED_AT, day, stage, window_rows
from tests.scopes import replace_scope

PROJECT = "daily-prod-1"
DATASET = "daily_logs"
TABLE = "daily_api_logs"
NO_RETRY = Retry(predicate=lambda exc: False)
PREFIX = job_id_prefix(dag_id="daily_logs_bigquery", task_id="load_api", window=day(0))
LABELS = job_labels(
    dag_id="daily_logs_bigquery", task_id="load_api", run_id="scheduled__2024-03-16T00:00:00+00:00"
)


@pytest.fixture
def api() -> Iterator[FakeBigQueryAPI]:
    fake = FakeBigQueryAPI(datasets={f"{PROJECT}.{DATASET}"})
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake.register(mock)
        yield fake


def warehouse(**overrides: Any) -> BigQueryWarehouse:
    client = bigquery.Client(project=PROJECT, credentials=AnonymousCredentials(), location="EU")  # type: ignore[no-untyped-call]
    settings: dict[str, Any] = {
        "project": PROJECT,
        "dataset": DATASET,
        "location": "EU",
        "client": client,
        "maximum_bytes_billed": 10**9,
        "job_id_prefix": PREFIX,
        "labels": LABELS,
        "try_number": 2,
        "api_retry": NO_RETRY,
        "conflict_retry_delays": (0.0,),
    }
    return BigQueryWarehouse(**{**settings, **overrides})


def replace(tmp_path: Path, rows: list[dict[str, Any]] | None = None, **overrides: Any) -> int:
    staged = stage(tmp_path, window_rows(day(0), ["a", "b"]) if rows is None else rows)
    return warehouse(**overrides).replace_window(scope=replace_scope(TABLE, "api", day(0)), staged=staged)


def step_of(job: dict[str, Any]) -> str:
    return str(job["jobReference"]["jobId"]).removeprefix(PREFIX + "_").split("_")[0]


def the_query(api: FakeBigQueryAPI, step: str) -> dict[str, Any]:
    [job] = [job for job in api.queries() if step_of(job) == step]
    return job


def test_new_table_is_day_partitioned_on_created_at_clustered_and_described(api, tmp_path):
    replace(tmp_path, require_partition_filter=True)

    target = next(t for t in api.created_tables if t["tableReference"]["tableId"] == TABLE)
    assert target["timePartitioning"] == {"type": "DAY", "field": "created_at"}
    assert target["clustering"] == {"fields": ["source", "endpoint", "status"]}
    assert target["requirePartitionFilter"] is True
    assert "Daily" in target["description"]
    fields = {field["name"]: field for field in target["schema"]["fields"]}
    assert list(fields) == list(FIXED_COLUMNS)
    assert {name: field["description"] for name, field in fields.items()} == {
        name: CORE_COLUMN_DESCRIPTIONS[name] for name in FIXED_COLUMNS
    }
    assert fields["id"]["mode"] == fields["created_at"]["mode"] == "REQUIRED"
    assert (fields["request"]["type"], fields["status"]["type"]) == ("JSON", "INT64")


def test_staged_file_goes_through_a_parquet_load_job_into_an_expiring_staging_table(api, tmp_path):
    before = datetime.now(timezone.utc)
    replace(tmp_path)

    [load] = api.loads()
    config = load["configuration"]["load"]
    staging = config["destinationTable"]["tableId"]
    assert staging.startswith(f"_daily_stage_{TABLE}_")
    assert (config["sourceFormat"], config["writeDisposition"], config["createDisposition"]) == (
        "PARQUET",
        "WRITE_EMPTY",
        "CREATE_NEVER",
    )
    # JSON travels as text and is parsed in the INSERT; everything else keeps its type.
    types = {field["name"]: field["type"] for field in config["schema"]["fields"]}
    assert types["request"] == types["response"] == "STRING"
    assert (types["created_at"], types["status"]) == ("TIMESTAMP", "INT64")
    assert load["jobReference"]["location"] == "EU"
    assert api.uploads[0] == (tmp_path / "staged.parquet").read_bytes()
    created = next(t for t in api.created_tables if t["tableReference"]["tableId"] == staging)
    expires = datetime.fromtimestamp(int(created["expirationTime"]) / 1000, timezone.utc)
    assert before + timedelta(hours=6) <= expires <= datetime.now(timezone.utc) + timedelta(hours=6)
    assert api.deleted_tables == [f"{PROJECT}.{DATASET}.{staging}"]


def test_every_job_is_labelled_with_dag_task_and_run_and_its_step(api, tmp_path):
    replace(tmp_path)

    labels = {step_of(job): job["configuration"]["labels"] for job in api.submitted_jobs}
    assert set(labels) == {"load", "replace"}
    for step, job_labels_sent in labels.items():
        assert job_labels_sent == {
            "airflow_dag": "daily_logs_bigquery",
            "airflow_task": "load_api",
            "airflow_run": "scheduled__2024-03-16t00_00_00_00_00",
            "daily_logs_step": step,
        }


def test_transaction_deletes_exactly_the_window_with_bound_parameters(api, tmp_path):
    replace(tmp_path)

    job = the_query(api, "replace")
    query = job["configuration"]["query"]
    text = query["query"]
    assert text.index("BEGIN TRANSACTION") < text.index("DELETE FROM") < text.index("INSERT INTO")
    assert text.index("INSERT INTO") < text.index("COMMIT TRANSACTION")
    assert f"DELETE FROM `{PROJECT}`.`{DATASET}`.`{TABLE}`" in text
    assert (
        "WHERE source = @source\n  AND created_at >= @window_start\n  AND created_at < @window_end\n" in text
    )
    assert "(domain_id = @domain_id AND (@url_filter = '' OR url = @url_filter))" in text
    parameters = {
        p["name"]: (p["parameterType"]["type"], p["parameterValue"]["value"])
        for p in query["queryParameters"]
    }
    assert parameters["source"] == ("STRING", "api")
    assert parameters["domain_id"] == ("STRING", "domain-1")
    assert parameters["url_filter"] == ("STRING", "")
    assert parameters["staged_rows"] == ("INT64", "2")
    assert parameters["window_start"][0] == parameters["window_end"][0] == "TIMESTAMP"
    assert datetime.fromisoformat(parameters["window_start"][1]) == day(0).start
    assert datetime.fromisoformat(parameters["window_end"][1]) == day(0).end
    # No value is formatted into the SQL: not the source, not the window.
    assert "'api'" not in text and "2024-03-15" not in text and "2024-03-16" not in text
    assert query["maximumBytesBilled"] == str(10**9)
    assert query["useLegacySql"] is False


def test_json_columns_are_parsed_from_the_staged_text_in_the_insert(api, tmp_path):
    replace(tmp_path)

    text = the_query(api, "replace")["configuration"]["query"]["query"]
    assert "PARSE_JSON(`request`, wide_number_mode => 'round')" in text
    assert "PARSE_JSON(`response`, wide_number_mode => 'round')" in text


def job_ids(api: FakeBigQueryAPI) -> list[str]:
    return [job["jobReference"]["jobId"] for job in api.submitted_jobs]


def test_job_ids_are_deterministic_per_window_content_and_try(tmp_path):
    def run(directory: Path, **overrides: Any) -> list[str]:
        directory.mkdir()
        fake = FakeBigQueryAPI(datasets={f"{PROJECT}.{DATASET}"})
        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            fake.register(mock)
            rows = overrides.pop("rows", None)
            replace(directory, rows, **overrides)
        return job_ids(fake)

    first = run(tmp_path / "first")
    again = run(tmp_path / "again")
    next_try = run(tmp_path / "next_try", try_number=3)
    other_content = run(tmp_path / "other", rows=window_rows(day(0), ["a", "b"], _run_id="run-2"))

    assert first == again
    assert [job_id.split("_t2_")[0] for job_id in first] == [f"{PREFIX}_load", f"{PREFIX}_replace"]
    assert all(job_id.startswith(PREFIX) and "_t2_" in job_id for job_id in first)
    assert set(next_try).isdisjoint(first) and all("_t3_" in job_id for job_id in next_try)
    assert set(other_content).isdisjoint(first)


def test_lost_insert_response_reattaches_to_the_job_instead_of_running_it_twice(api, tmp_path):
    # The first jobs.insert of the transaction reaches BigQuery but its answer is lost (503); the
    # client retries the same id, gets 409 Already Exists, and the warehouse waits for that job.
    retry_503 = Retry(
        predicate=if_exception_type(google_exceptions.ServiceUnavailable), initial=0.01, timeout=5
    )
    api.lose_response("jobs.insert")

    inserted = replace(tmp_path, api_retry=retry_503)

    assert inserted == 2
    assert [step_of(job) for job in api.submitted_jobs] == ["load", "replace"]


def test_job_id_taken_by_other_work_is_an_error_not_a_reattach(api, tmp_path):
    replace(tmp_path)
    [load_id] = [job["jobReference"]["jobId"] for job in api.loads()]
    api.jobs[load_id] = {
        "jobReference": {"projectId": PROJECT, "jobId": load_id, "location": "EU"},
        "configuration": {"query": {"query": "SELECT 1"}},
        "status": {"state": "DONE"},
    }
    api.tables.pop(f"{PROJECT}.{DATASET}.{TABLE}")

    with pytest.raises(WarehouseError, match=rf"job {load_id} already exists in project {PROJECT} but does"):
        replace(tmp_path)


def test_failed_job_found_under_its_id_is_run_again_under_the_next_id(api, tmp_path):
    api.fail_job("replace", "invalidQuery", "Syntax error from an older release")
    with pytest.raises(WarehouseError, match="Syntax error from an older release"):
        replace(tmp_path)
    failed_id = job_ids(api)[-1]

    assert replace(tmp_path) == 2

    assert job_ids(api)[-1] == f"{failed_id}_a2"


def test_transaction_aborted_by_a_concurrent_update_is_retried_under_a_new_id(api, tmp_path):
    api.fail_job("replace", "invalidQuery", "Transaction is aborted due to concurrent update against table x")

    assert replace(tmp_path) == 2

    replace_jobs = [job["jobReference"]["jobId"] for job in api.queries()]
    assert replace_jobs == [replace_jobs[0], f"{replace_jobs[0]}_a2"]


def test_concurrent_update_retries_are_bounded(api, tmp_path):
    api.fail_job("replace", "invalidQuery", "Transaction is aborted due to concurrent update", times=5)

    with pytest.raises(WarehouseError, match="concurrent update"):
        replace(tmp_path, conflict_retry_delays=(0.0, 0.0))

    assert len(api.queries()) == 3


def test_bytes_billed_guard_failure_says_how_to_raise_it(api, tmp_path):
    api.fail_job("replace", "bytesBilledLimitExceeded", "Query exceeded limit for bytes billed: 1000000000.")

    with pytest.raises(WarehouseError) as raised:
        replace(tmp_path)

    message = str(raised.value)
    assert "maximum_bytes_billed=1000000000" in message
    assert "Raise maximum_bytes_billed" in message
    assert f"{PROJECT}.{DATASET}.{TABLE}" in message


def test_missing_dataset_error_names_project_dataset_and_how_to_create_it(api, tmp_path):
    api.datasets.clear()

    with pytest.raises(WarehouseError) as raised:
        replace(tmp_path)

    message = str(raised.value)
    assert f"BigQuery dataset {PROJECT}.{DATASET} does not exist" in message
    assert f"table {TABLE}" in message
    assert f"bq mk --dataset --location=EU {PROJECT}:{DATASET}" in message
    assert api.submitted_jobs == []


@pytest.mark.parametrize("call", ["tables.get", "tables.insert", "upload", "jobs.insert"])
def test_permission_denied_names_project_dataset_table_and_the_roles_needed(api, tmp_path, call):
    api.fail(call, 403, "accessDenied", "Access Denied: User does not have bigquery.tables.create permission")

    with pytest.raises(WarehouseError) as raised:
        replace(tmp_path)

    message = str(raised.value)
    assert message.startswith("permission denied while")
    assert f"project {PROJECT}, dataset {DATASET}, table" in message
    assert "does not have bigquery.tables.create permission" in message
    assert "BigQuery Data Editor" in message and "BigQuery Job User" in message


def test_not_found_during_a_job_names_the_location_to_check(api, tmp_path):
    api.fail(
        "jobs.insert",
        404,
        "notFound",
        "Not found: Dataset daily-prod-1:daily_logs was not found in location EU",
    )

    with pytest.raises(WarehouseError) as raised:
        replace(tmp_path)

    message = str(raised.value)
    assert "location EU" in message and f"dataset {DATASET}" in message
    assert "No rows were changed" in message


def test_staging_table_is_removed_also_when_the_load_fails(api, tmp_path):
    api.fail_job("load", "invalid", "Error while reading data, error message: Parquet file is corrupt")

    with pytest.raises(WarehouseError, match="Parquet file is corrupt") as raised:
        replace(tmp_path)

    staging = api.loads()[0]["configuration"]["load"]["destinationTable"]["tableId"]
    assert api.deleted_tables == [f"{PROJECT}.{DATASET}.{staging}"]
    assert api.queries() == []
    assert str(day(0).start.isoformat()) in str(raised.value)


def existing_table(api: FakeBigQueryAPI, columns: dict[str, str]) -> None:
    fields = [
        {"name": name, "type": "INTEGER" if t == "INT64" else t, "mode": "NULLABLE"}
        for name, t in columns.items()
    ]
    api.add_table(PROJECT, DATASET, TABLE, fields)


def test_new_columns_are_added_in_one_alter_statement_before_the_transaction(api, tmp_path):
    existing_table(api, {name: t.value for name, t in FIXED_COLUMNS.items()} | {"response__size": "INT64"})
    columns = {
        **FIXED_COLUMNS,
        "response__size": ColumnType.FLOAT64,
        "response__privacy": ColumnType.STRING,
        "response__config__exp": ColumnType.INT64,
    }
    rows = window_rows(
        day(0), ["a"], response__size=1.5, response__privacy="private", response__config__exp=9
    )

    warehouse().replace_window(
        scope=replace_scope(TABLE, "api", day(0)), staged=stage(tmp_path, rows, columns)
    )

    steps = [step_of(job) for job in api.queries()]
    assert steps == ["schema", "replace"]
    text = the_query(api, "schema")["configuration"]["query"]["query"]
    assert text.count("ALTER TABLE") == 2
    assert (
        "ADD COLUMN IF NOT EXISTS `response__privacy` STRING,\nADD COLUMN IF NOT EXISTS `response__config__exp` INT64;"
        in text
    )
    assert "ALTER COLUMN `response__size` SET DATA TYPE FLOAT64;" in text


def test_new_flattened_columns_are_described_by_their_original_json_path(api, tmp_path):
    existing_table(api, {name: t.value for name, t in FIXED_COLUMNS.items()})
    columns = {
        **FIXED_COLUMNS,
        "request__call_id": ColumnType.STRING,
        "request__x_call_id": ColumnType.STRING,
    }
    rows = window_rows(day(0), ["a"], request__call_id="c", request__x_call_id="x")
    staged = stage(tmp_path, rows, columns)
    staged = dataclasses.replace(
        staged, paths={"request__call_id": "request.callId", "request__x_call_id": 'request."X-Call-Id"'}
    )

    warehouse().replace_window(scope=replace_scope(TABLE, "api", day(0)), staged=staged)

    text = the_query(api, "schema")["configuration"]["query"]["query"]
    assert (
        'ADD COLUMN IF NOT EXISTS `request__call_id` STRING OPTIONS(description="request.callId"),\n'
        'ADD COLUMN IF NOT EXISTS `request__x_call_id` STRING OPTIONS(description="request.\\"X-Call-Id\\"");'
    ) in text


def test_a_column_that_would_have_to_become_string_gets_a_string_sibling(api, tmp_path):
    existing_table(api, {name: t.value for name, t in FIXED_COLUMNS.items()} | {"response__size": "INT64"})
    columns = {**FIXED_COLUMNS, "response__size": ColumnType.STRING}
    rows = window_rows(day(0), ["a"], response__size="big")

    warehouse().replace_window(
        scope=replace_scope(TABLE, "api", day(0)), staged=stage(tmp_path, rows, columns)
    )

    schema_sql = the_query(api, "schema")["configuration"]["query"]["query"]
    assert "ADD COLUMN IF NOT EXISTS `response__size__str_` STRING" in schema_sql
    assert "SET DATA TYPE" not in schema_sql
    replace_sql = the_query(api, "replace")["configuration"]["query"]["query"]
    assert "`response__size`, `response__size__str_`" in replace_sql


def test_hostile_column_names_are_refused_before_any_request(api, tmp_path):
    columns = {**FIXED_COLUMNS, "x` STRING); DROP TABLE t; --": ColumnType.STRING}

    with pytest.raises(WarehouseError, match="not valid column names"):
        warehouse().replace_window(
            scope=replace_scope(TABLE, "api", day(0)),
            staged=stage(tmp_path, window_rows(day(0), ["a"]), columns),
        )

    assert api.created_tables == [] and api.submitted_jobs == []


def test_audit_row_is_merged_with_bound_parameters_into_daily_logs_loads(api):
    record = LoadRecord(
        load_id="load-1",
        run_id="scheduled__2024-03-16T00:00:00+00:00",
        table_name=TABLE,
        source="api",
        window_start=day(0).start,
        window_end=day(0).end,
        status="success",
        started_at=LOADED_AT,
        finished_at=LOADED_AT + timedelta(seconds=3),
        rows=2,
        extra={"convention": "starting_after"},
    )

    warehouse().record_load(record)

    loads = next(t for t in api.created_tables if t["tableReference"]["tableId"] == LOADS_TABLE)
    types = {field["name"]: field["type"] for field in loads["schema"]["fields"]}
    assert list(types) == [name for name in LoadRecord.__dataclass_fields__]
    assert types["extra"] == "JSON" and types["window_start"] == "TIMESTAMP" and types["rows"] == "INT64"
    [job] = api.queries()
    query = job["configuration"]["query"]
    assert (
        query["query"].lstrip().splitlines()[1].startswith(f"MERGE `{PROJECT}`.`{DATASET}`.`{LOADS_TABLE}`")
    )
    parameters = {p["name"]: p["parameterValue"].get("value") for p in query["queryParameters"]}
    assert parameters["load_id"] == "load-1"
    assert parameters["status"] == "success"
    assert parameters["extra"] == '{"convention":"starting_after"}'
    assert parameters["error"] is None
    assert "load-1" not in query["query"]
    assert job["configuration"]["labels"]["daily_logs_step"] == "audit"
