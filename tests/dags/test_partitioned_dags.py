"""The partitioned example DAGs (DuckDB and BigQuery): a producer on CronPartitionTimetable whose
tasks emit the consumer's assets, and a consumer on PartitionedAssetTimetable over both sources.

The real-scheduler run of the pair is ``make partition-demo`` (scripts/partition_demo.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.airflow_versions import dagbag

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"
PAIRS = {
    "duckdb": ("daily_logs_partitioned_to_duckdb", "daily_logs_rollup_duckdb"),
    "bigquery": ("daily_logs_partitioned_to_bigquery", "daily_logs_rollup_bigquery"),
}


@pytest.fixture(scope="module")
def bag(airflow_db: Path):
    return dagbag(str(DAGS_FOLDER))


@pytest.mark.airflow_3_2
@pytest.mark.parametrize("warehouse", PAIRS)
def test_producer_runs_on_daily_utc_partitions_and_loads_both_sources(bag, warehouse: str) -> None:
    from airflow.sdk import CronPartitionTimetable

    assert bag.import_errors == {}
    producer = bag.get_dag(PAIRS[warehouse][0])
    timetable = producer.timetable
    assert isinstance(timetable, CronPartitionTimetable)
    assert (timetable.expression, str(timetable.timezone), timetable.run_offset) == ("0 0 * * *", "UTC", -1)
    assert timetable.key_format == "%Y-%m-%dT%H:%M:%S"  # the operators' default partition_key_format
    assert {t.task_id: t.source for t in producer.tasks} == {
        "load_api_logs": "api",
        "load_webhook_logs": "webhook",
    }
    for task in producer.tasks:
        assert task.partition_key_format == timetable.key_format
        assert task.pool == "daily_api" and task.retries >= 1
        assert [asset.name for asset in task.outlets] == [f"daily_logs.partitioned.{warehouse}.{task.source}"]


@pytest.mark.airflow_3_2
@pytest.mark.parametrize("warehouse", PAIRS)
def test_consumer_runs_per_partition_of_both_producer_assets(bag, warehouse: str) -> None:
    from airflow.sdk import PartitionedAssetTimetable
    from airflow.sdk.definitions.partition_mappers.identity import IdentityMapper

    producer, consumer = (bag.get_dag(dag_id) for dag_id in PAIRS[warehouse])
    assert isinstance(consumer.timetable, PartitionedAssetTimetable)
    assert isinstance(consumer.timetable.default_partition_mapper, IdentityMapper)
    listened = {asset.name for asset in consumer.timetable.asset_condition.objects}
    emitted = {asset.name for task in producer.tasks for asset in task.outlets}
    assert listened == emitted
    assert [task.task_id for task in consumer.tasks] == ["rebuild_rollup"]
