"""The BigQuery operator: how it builds its warehouse from the task, its asset, its templates, and a
real load into the local-bigquery emulator through ``BIGQUERY_EMULATOR_HOST``."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from airflow.sdk import DAG, Asset
from google.cloud import bigquery
from tests.bigquery.backend import FAST_RETRY
from tests.bigquery.emulator_server import Emulator
from tests.unit.operators.support import DAY1, FakeTaskInstance, make_context, truth_ids

from daily_provider.exceptions import DailyConfigError
from daily_provider.operators.daily_logs import DailyLogsToBigQueryOperator
from daily_provider.simulator import SimulatorServer
from daily_provider.warehouses.bigquery import BigQueryWarehouse, job_id_prefix, job_labels
from daily_provider.window import Window

WINDOW = Window(DAY1, DAY1 + timedelta(days=1))


def test_warehouse_gets_job_ids_labels_and_try_from_the_task_and_blank_settings_mean_unset() -> None:
    task = DailyLogsToBigQueryOperator(
        task_id="load_api_logs",
        dataset_id="daily_logs",
        maximum_bytes_billed=5_000_000,
        require_partition_filter=True,
    )
    # What Variable templates with an empty default render to.
    task.project_id, task.location, task.gcp_conn_id = "", " ", ""
    ti = FakeTaskInstance(dag_id="daily_logs_to_bigquery", task_id="load_api_logs", try_number=3)

    warehouse = task.make_warehouse(make_context(ti=ti, run_id="scheduled__2026-01-03"), WINDOW)

    assert isinstance(warehouse, BigQueryWarehouse)
    assert (warehouse.project, warehouse.location, warehouse.gcp_conn_id) == (None, None, None)
    assert warehouse.dataset == "daily_logs"
    assert warehouse.job_id_prefix == job_id_prefix(
        dag_id="daily_logs_to_bigquery", task_id="load_api_logs", window=WINDOW
    )
    assert warehouse.labels == job_labels(
        dag_id="daily_logs_to_bigquery", task_id="load_api_logs", run_id="scheduled__2026-01-03"
    )
    assert warehouse.try_number == 3
    assert (warehouse.maximum_bytes_billed, warehouse.require_partition_filter) == (5_000_000, True)


def test_literal_project_dataset_and_table_give_a_bigquery_asset() -> None:
    task = DailyLogsToBigQueryOperator(
        task_id="load", source="webhook", project_id="my-project", dataset_id="daily_logs"
    )
    assert task.outlets == [
        Asset(
            name="bigquery.my-project.daily_logs.daily_webhook_logs",
            uri="bigquery://my-project/daily_logs/daily_webhook_logs",
        )
    ]


@pytest.mark.parametrize(
    "settings",
    [
        {"dataset_id": "daily_logs"},  # the project comes from the credentials
        {"project_id": "{{ var.value.get('p', '') }}", "dataset_id": "daily_logs"},
        {"project_id": "my-project", "dataset_id": "{{ params.dataset }}"},
    ],
    ids=["no project", "templated project", "templated dataset"],
)
def test_no_default_asset_when_a_name_is_unknown_before_the_run(settings: dict[str, str]) -> None:
    assert DailyLogsToBigQueryOperator(task_id="load", **settings).outlets == []


def test_templated_fields_render_from_the_context() -> None:
    with DAG("daily_logs_bq_templates", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=timezone.utc)):
        task = DailyLogsToBigQueryOperator(
            task_id="load",
            project_id="{{ params.project }}",
            dataset_id="logs_{{ params.env }}",
            table="daily_api_logs_{{ ds_nodash }}",
            location="{{ params.location }}",
            gcp_conn_id="gcp_{{ params.env }}",
            impersonation_chain="loader@{{ params.project }}.iam.gserviceaccount.com",
        )
    task.render_template_fields(
        {"ds_nodash": "20260102", "params": {"project": "my-project", "env": "prod", "location": "EU"}}
    )
    assert (task.project_id, task.dataset_id, task.table, task.location, task.gcp_conn_id) == (
        "my-project",
        "logs_prod",
        "daily_api_logs_20260102",
        "EU",
        "gcp_prod",
    )
    assert task.impersonation_chain == "loader@my-project.iam.gserviceaccount.com"


def test_the_old_project_and_dataset_names_still_work_with_a_deprecation_warning() -> None:
    with pytest.warns(DeprecationWarning) as warned:
        task = DailyLogsToBigQueryOperator(task_id="load", project="my-project", dataset="daily_logs")

    assert sorted(str(w.message).split(" is deprecated")[0] for w in warned) == ["dataset=", "project="]
    assert all("(the Google provider's name)" in str(w.message) for w in warned)

    assert (task.project_id, task.dataset_id) == ("my-project", "daily_logs")
    assert (task.project, task.dataset) == ("my-project", "daily_logs")
    assert task.outlets[0].uri == "bigquery://my-project/daily_logs/daily_api_logs"
    with pytest.raises(DailyConfigError, match="give dataset_id= only"):
        DailyLogsToBigQueryOperator(task_id="load", dataset="a", dataset_id="b")
    with pytest.raises(DailyConfigError, match="dataset_id is required"):
        DailyLogsToBigQueryOperator(task_id="load")


def test_maximum_bytes_billed_must_be_positive_or_none() -> None:
    with pytest.raises(DailyConfigError, match="maximum_bytes_billed=0 must be positive"):
        DailyLogsToBigQueryOperator(task_id="load", dataset_id="d", maximum_bytes_billed=0)
    assert DailyLogsToBigQueryOperator(task_id="load", dataset_id="d", maximum_bytes_billed=None)


def test_emulator_without_a_project_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", "http://127.0.0.1:9050")
    task = DailyLogsToBigQueryOperator(task_id="load", dataset_id="daily_logs")
    with pytest.raises(DailyConfigError, match=r"BIGQUERY_EMULATOR_HOST.*set project_id="):
        task.make_warehouse(make_context(), WINDOW)


@pytest.mark.bigquery
def test_load_into_the_emulator_holds_the_truth_with_labelled_deterministic_jobs(
    simulator: SimulatorServer,
    bq_emulator: Emulator,
    bq_client: bigquery.Client,
    bq_dataset: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", bq_emulator.endpoint)
    task = DailyLogsToBigQueryOperator(
        task_id="load_api_logs",
        project_id=bq_client.project,
        dataset_id=bq_dataset,
        # The emulator adds columns slowly (about 0.25 s each); the flattened ones are not the point here.
        max_columns=5,
    )
    ti = FakeTaskInstance(dag_id="daily_logs_bq", task_id="load_api_logs", try_number=2)
    context = make_context(ti=ti, run_id="manual__bq")

    result = task.execute(context)

    table = f"{bq_client.project}.{bq_dataset}.daily_api_logs"
    loaded = sorted(
        row["id"] for row in bq_client.query_and_wait(f"SELECT id FROM `{table}`", retry=FAST_RETRY)
    )
    assert loaded == truth_ids(simulator, "api", WINDOW.start, WINDOW.end)
    assert result["rows"] == len(loaded) > 0

    (asset,) = task.outlets
    assert asset.uri == f"bigquery://{bq_client.project}/{bq_dataset}/daily_api_logs"
    assert context["outlet_events"][asset].extra["target"] == asset.uri
    lineage = task.get_openlineage_facets_on_complete(ti)
    assert [(d.namespace, d.name) for d in lineage.outputs] == [("bigquery", table)]

    prefix = job_id_prefix(dag_id="daily_logs_bq", task_id="load_api_logs", window=WINDOW)
    jobs = [job for job in bq_client.list_jobs(retry=FAST_RETRY) if job.job_id.startswith(prefix)]
    # <prefix>_<step>_t<try>_<digest>: the staged file's load job and the replace transaction.
    assert {job.job_id.removeprefix(prefix).split("_")[1] for job in jobs} >= {"load", "replace"}
    assert all("_t2_" in job.job_id for job in jobs)
    wanted = job_labels(dag_id="daily_logs_bq", task_id="load_api_logs", run_id="manual__bq")
    assert all(wanted.items() <= job.labels.items() for job in jobs)

    audit = f"{bq_client.project}.{bq_dataset}.daily_logs_loads"
    statuses = [
        (row["status"], row["rows"])
        for row in bq_client.query_and_wait(f"SELECT status, rows FROM `{audit}`", retry=FAST_RETRY)
    ]
    assert statuses == [("success", len(loaded))]
