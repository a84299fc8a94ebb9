"""Which window a task run loads: explicit start/end, else the partition, else the data interval."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from daily_provider.exceptions import DailyConfigError
from daily_provider.operators.run_window import (
    FROM_ARGUMENTS,
    FROM_DATA_INTERVAL,
    FROM_PARTITION,
    partition_start,
    window_for_run,
)
from daily_provider.window import Window

DAY = datetime(2026, 1, 2, tzinfo=timezone.utc)
NEXT = DAY + timedelta(days=1)
INTERVAL = {"data_interval_start": DAY - timedelta(days=7), "data_interval_end": DAY - timedelta(days=6)}
PARTITION = {"partition_date": DAY, "partition_key": "2026-01-02T00:00:00"}


def test_explicit_start_and_end_win_over_partition_and_data_interval() -> None:
    chosen = window_for_run(
        {**INTERVAL, **PARTITION}, start="2026-01-05T00:00:00Z", end="2026-01-05T06:00:00Z"
    )
    assert chosen.source == FROM_ARGUMENTS
    assert chosen.window == Window(DAY + timedelta(days=3), DAY + timedelta(days=3, hours=6))


def test_partition_wins_over_data_interval_and_spans_the_partition_width() -> None:
    assert window_for_run({**INTERVAL, **PARTITION}).window == Window(DAY, NEXT)
    assert window_for_run(PARTITION).source == FROM_PARTITION
    assert window_for_run(PARTITION, partition_width=timedelta(hours=6)).window == Window(
        DAY, DAY + timedelta(hours=6)
    )


def test_airflows_pendulum_partition_date_gives_an_aware_window() -> None:
    import pendulum

    # What the task context holds in a real partitioned run (found by make partition-demo).
    chosen = window_for_run(
        {"partition_date": pendulum.datetime(2026, 1, 2, tz="UTC"), "partition_key": None}
    )
    assert chosen.window == Window(DAY, NEXT)
    assert chosen.window.end.tzinfo is not None


def test_data_interval_is_used_when_the_run_has_no_partition() -> None:
    chosen = window_for_run({**INTERVAL, "partition_key": None, "partition_date": None})
    assert (chosen.source, chosen.window) == (
        FROM_DATA_INTERVAL,
        Window(DAY - timedelta(days=7), DAY - timedelta(days=6)),
    )


@pytest.mark.parametrize(
    "key",
    ["2026-01-02T00:00:00", "2026-01-02", "2026-01-02T00:00:00Z", "2026-01-02T01:00:00+01:00"],
)
def test_a_partition_key_without_a_date_is_read_in_the_cron_partition_format_or_iso(key: str) -> None:
    assert partition_start(None, key) == DAY
    assert window_for_run({"partition_key": key}).window == Window(DAY, NEXT)


def test_a_custom_key_format_reads_the_dags_keys() -> None:
    assert partition_start(None, "20260102", "%Y%m%d") == DAY


def test_a_key_that_is_no_time_names_the_key_and_the_format() -> None:
    with pytest.raises(DailyConfigError, match=r"'customer-42'.*%Y-%m-%dT%H:%M:%S.*partition_key_format"):
        window_for_run({"partition_key": "customer-42"})


def test_a_run_with_no_window_names_the_three_ways_to_give_one() -> None:
    with pytest.raises(DailyConfigError) as caught:
        window_for_run({"data_interval_start": None, "data_interval_end": None, "partition_key": None})
    message = str(caught.value)
    for way in ("start=", "CronPartitionTimetable", "CronDataIntervalTimetable"):
        assert way in message


def test_only_one_of_start_and_end_is_an_error_even_in_a_partitioned_run() -> None:
    with pytest.raises(DailyConfigError, match="both start and end"):
        window_for_run(PARTITION, start="2026-01-05T00:00:00Z")


def test_a_zero_width_data_interval_still_says_how_to_fix_the_dag() -> None:
    with pytest.raises(DailyConfigError, match=r"zero-width.*CronDataIntervalTimetable"):
        window_for_run({"data_interval_start": DAY, "data_interval_end": DAY})
