"""Partitioned runs through the operator: the window from the run's partition, the days replaced as
the Asset event's partition keys (what a PartitionedAssetTimetable consumer runs on), and the
window's source in the summary and the ledger."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import pytest
from tests.unit.operators.support import DAY1, make_context, truth_ids

from daily_provider.operators.daily_logs import DailyLogsToDuckDBOperator
from daily_provider.operators.events import replaced_partitions
from daily_provider.simulator import SimulatorServer

DAY2 = DAY1 + timedelta(days=1)
KEY1 = "2026-01-02T00:00:00"  # CronPartitionTimetable's key of the UTC day DAY1


def partitioned_context(partition_date: datetime | None, key: str | None, **kwargs: Any) -> dict[str, Any]:
    """A partitioned run's context: a partition and no data interval (as CronPartitionTimetable runs have)."""
    context = make_context(**kwargs)
    context.update(
        data_interval_start=None, data_interval_end=None, partition_date=partition_date, partition_key=key
    )
    return context


def operator(db: Path, **kwargs: Any) -> DailyLogsToDuckDBOperator:
    return DailyLogsToDuckDBOperator(task_id="load_api_logs", duckdb_path=str(db), settle=0, **kwargs)


def ledger(db: Path) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "SELECT window_start, window_end, status, window_source FROM daily_logs_loads ORDER BY window_start"
        ).fetchall()


@pytest.mark.airflow_3_2
def test_partitioned_run_loads_its_day_and_tags_the_event_with_the_runs_own_key(
    simulator: SimulatorServer, tmp_path: Path
) -> None:
    db = tmp_path / "logs.duckdb"
    task = operator(db)
    context = partitioned_context(DAY1, KEY1)
    result = task.execute(context)

    assert (result["window_start"], result["window_end"]) == (DAY1.isoformat(), DAY2.isoformat())
    assert result["window_source"] == "partition" and result["partitions"] == [KEY1]
    assert result["rows"] == len(truth_ids(simulator, "api", DAY1, DAY2)) > 0
    (asset,) = task.outlets
    event = context["outlet_events"][asset]
    assert event.partition_keys == {KEY1}
    assert event.extra["window_source"] == "partition"
    assert event.extra["partitions"] == {KEY1: result["rows"]}
    assert (event.extra["window_start"], event.extra["rows"]) == (DAY1.isoformat(), result["rows"])
    assert ledger(db) == [(DAY1, DAY2, "success", "partition")]


@pytest.mark.airflow_3_2
def test_range_mode_tags_the_event_with_every_day_it_replaced(
    simulator: SimulatorServer, tmp_path: Path
) -> None:
    db = tmp_path / "logs.duckdb"
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    task = operator(db, range_mode=True, partition_width=timedelta(days=3))
    context = partitioned_context(start, "2026-01-01T00:00:00")
    result = task.execute(context)

    keys = ["2026-01-01T00:00:00", "2026-01-02T00:00:00", "2026-01-03T00:00:00"]
    assert result["partitions"] == keys
    event = context["outlet_events"][task.outlets[0]]
    assert event.partition_keys == set(keys)
    per_day = [window["rows"] for window in result["windows"]]
    assert event.extra["partitions"] == dict(zip(keys, per_day, strict=True))
    assert per_day == [
        len(truth_ids(simulator, "api", start + timedelta(days=d), start + timedelta(days=d + 1)))
        for d in range(3)
    ]
    assert [row[3] for row in ledger(db)] == ["partition"] * 3


@pytest.mark.airflow_3_2
def test_a_window_daily_no_longer_has_adds_no_partition(simulator: SimulatorServer, tmp_path: Path) -> None:
    # The simulator's records start on 2026-01-01: Daily "no longer has" the day before.
    before = datetime(2025, 12, 30, tzinfo=timezone.utc)
    task = operator(tmp_path / "logs.duckdb")
    context = partitioned_context(before, None)
    result = task.execute(context)

    assert result["status"] == "not_covered" and result["partitions"] == []
    event = context["outlet_events"][task.outlets[0]]
    assert event.partition_keys == set()
    assert event.extra["partitions"] == {} and event.extra["rows"] == 0


def test_explicit_start_end_in_a_partitioned_run_is_recorded_as_arguments(
    simulator: SimulatorServer, tmp_path: Path
) -> None:
    db = tmp_path / "logs.duckdb"
    task = operator(db, start="2026-01-03T00:00:00Z", end="2026-01-04T00:00:00Z")
    result = task.execute(partitioned_context(DAY1, KEY1))
    assert (result["window_start"], result["window_source"]) == (DAY2.isoformat(), "arguments")
    assert ledger(db) == [(DAY2, DAY2 + timedelta(days=1), "success", "arguments")]


def test_a_data_interval_run_is_recorded_as_data_interval(simulator: SimulatorServer, tmp_path: Path) -> None:
    db = tmp_path / "logs.duckdb"
    assert operator(db).execute(make_context())["window_source"] == "data_interval"
    assert ledger(db) == [(DAY1, DAY2, "success", "data_interval")]


def test_partition_keys_cover_each_utc_day_a_window_spans_and_skip_not_covered() -> None:
    windows = [
        {"window_start": "2026-01-01T18:00:00+00:00", "window_end": "2026-01-02T06:00:00+00:00", "rows": 5, "status": "partial"},
        {"window_start": "2026-01-03T00:00:00+00:00", "window_end": "2026-01-04T00:00:00+00:00", "rows": 0, "status": "not_covered"},
    ]  # fmt: skip
    assert replaced_partitions(windows) == {"2026-01-01T00:00:00": 5, "2026-01-02T00:00:00": 0}
    assert replaced_partitions(windows[:1], "%Y-%m-%d") == {"2026-01-01": 5, "2026-01-02": 0}
