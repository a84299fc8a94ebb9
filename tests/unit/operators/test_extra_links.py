"""The BigQuery operator's "BigQuery Table" extra link: the URL shape, what the worker computes when
the task ends (``get_link`` with the operator that ran) and that Airflow's serialization keeps it.
The whole path (worker -> XCom -> serialized DAG -> UI lookup) runs in tests/dags/test_bigquery_dag.py.
"""

from __future__ import annotations

from datetime import datetime, timezone

from airflow.sdk import DAG
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery
from tests.airflow_versions import serialized_roundtrip

from daily_provider.operators.daily_logs import DailyLogsToBigQueryOperator, DailyLogsToDuckDBOperator
from daily_provider.operators.links import BigQueryTableLink, bigquery_table_url
from daily_provider.warehouses.bigquery import BigQueryWarehouse

LINK = BigQueryTableLink()


def test_url_is_the_google_providers_table_page_in_the_cloud_console() -> None:
    assert bigquery_table_url("my-project", "daily_logs", "daily_api_logs") == (
        "https://console.cloud.google.com/bigquery?referrer=search&project=my-project"
        "&d=daily_logs&p=my-project&page=table&t=daily_api_logs"
    )


def test_table_names_are_url_encoded() -> None:
    # BigQuery table names may hold characters that mean something in a query string.
    assert bigquery_table_url("p", "d", "logs & more").endswith("&t=logs+%26+more")


def test_literal_names_give_the_link_before_any_load() -> None:
    task = DailyLogsToBigQueryOperator(
        task_id="load", source="webhook", project_id="my-project", dataset_id="logs"
    )
    assert LINK.get_link(task, ti_key=None) == bigquery_table_url("my-project", "logs", "daily_webhook_logs")


def test_no_link_while_the_project_or_a_templated_name_is_unknown() -> None:
    no_project = DailyLogsToBigQueryOperator(task_id="a", dataset_id="logs")  # the credentials' default
    blank_project = DailyLogsToBigQueryOperator(task_id="b", project_id=" ", dataset_id="logs")
    unrendered = DailyLogsToBigQueryOperator(task_id="c", project_id="p", dataset_id="{{ params.dataset }}")
    for task in (no_project, blank_project, unrendered):
        assert LINK.get_link(task, ti_key=None) == ""


def test_after_a_load_the_link_names_the_loaded_table_with_the_credentials_project() -> None:
    task = DailyLogsToBigQueryOperator(task_id="load", dataset_id="logs", table="api_calls")
    client = bigquery.Client(project="adc-project", credentials=AnonymousCredentials())
    warehouse = BigQueryWarehouse(project=None, dataset="logs", client=client)

    task.load_target(warehouse, "api_calls")  # what execute() calls once the load has committed

    assert LINK.get_link(task, ti_key=None) == bigquery_table_url("adc-project", "logs", "api_calls")
    client.close()


def test_serialized_dag_keeps_the_link_for_the_ui_and_only_on_the_bigquery_operator() -> None:
    with DAG("links", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=timezone.utc)) as dag:
        DailyLogsToBigQueryOperator(task_id="bq", project_id="p", dataset_id="d")
        DailyLogsToDuckDBOperator(task_id="duck", duckdb_path="/tmp/x.duckdb")

    restored = serialized_roundtrip(dag)

    assert list(restored.get_task("bq").extra_links) == ["BigQuery Table"]
    assert list(restored.get_task("duck").extra_links) == []
