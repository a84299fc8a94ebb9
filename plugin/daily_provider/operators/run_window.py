"""Which window a task run loads, and where it came from: arguments, partition or data interval.

Explicit ``start``/``end`` always win; else a partitioned run (Airflow 3.2+, e.g. on
``CronPartitionTimetable``) loads ``[partition_date, partition_date + width)``; else the run's data
interval. The choice is named in the task's summary and the ledger (``window_source``), so a
surprising window can be traced to its cause. Pure: reads a context mapping, no Airflow imports, so
it works on every Airflow 3 (where there are no partitions the context simply has none).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from daily_provider.exceptions import DailyConfigError
from daily_provider.window import Window, parse_timestamp, resolve_window

# The values of ``window_source`` in the summary, the ledger and the asset event's extra.
FROM_ARGUMENTS = "arguments"
FROM_PARTITION = "partition"
FROM_DATA_INTERVAL = "data_interval"

# CronPartitionTimetable's default ``key_format`` (airflow/timetables/trigger.py): a daily UTC
# partition's key is its midnight, e.g. ``2026-01-01T00:00:00``.
DEFAULT_PARTITION_KEY_FORMAT = "%Y-%m-%dT%H:%M:%S"
DEFAULT_PARTITION_WIDTH = timedelta(days=1)

NO_WINDOW_HELP = (
    "give the task a window in one of three ways: explicit start= and end= (templated, ISO-8601 "
    "with a time zone); a partitioned DAG, e.g. schedule=CronPartitionTimetable('0 0 * * *', "
    "timezone='UTC', run_offset=-1) (Airflow 3.2+: the task loads the run's partition_date plus "
    "partition_width); or a data-interval DAG, schedule=CronDataIntervalTimetable('0 0 * * *', "
    "timezone='UTC') (the task loads the run's data interval)"
)


@dataclass(frozen=True)
class RunWindow:
    """The window one task run loads, and ``source``: one of the ``FROM_*`` values above."""

    window: Window
    source: str


def partition_start(
    partition_date: datetime | None, partition_key: str | None, key_format: str = DEFAULT_PARTITION_KEY_FORMAT
) -> datetime | None:
    """The start of a run's partition: its ``partition_date``, else its key parsed (UTC); None without one.

    A key is tried with ``key_format`` (CronPartitionTimetable's ``%Y-%m-%dT%H:%M:%S`` by default),
    then as a plain date (``2026-01-01``) or an ISO-8601 timestamp.
    """
    if partition_date is not None:
        # Airflow hands a pendulum DateTime; its arithmetic with a timedelta drops a stdlib time zone.
        utc = parse_timestamp(partition_date, name="partition_date")
        return datetime(*utc.timetuple()[:6], utc.microsecond, tzinfo=timezone.utc)
    if partition_key is None or not str(partition_key).strip():
        return None
    key = str(partition_key).strip()
    try:
        return datetime.strptime(key, key_format).replace(tzinfo=timezone.utc)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(key.replace("Z", "+00:00"))
    except ValueError:
        raise DailyConfigError(
            f"the run's partition_key {key!r} is not a time: expected the format {key_format!r} "
            "(CronPartitionTimetable's key_format; set partition_key_format= on the task if the DAG uses "
            "another), a date such as 2026-01-01 or an ISO-8601 timestamp"
        ) from None
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def window_for_run(
    context: Mapping[str, Any],
    *,
    start: str | datetime | None = None,
    end: str | datetime | None = None,
    partition_width: timedelta = DEFAULT_PARTITION_WIDTH,
    partition_key_format: str = DEFAULT_PARTITION_KEY_FORMAT,
) -> RunWindow:
    """Pick the window of a task run (see the module doc for the order)."""
    if start not in ("", None) or end not in ("", None):
        return RunWindow(resolve_window(start, end, None, None), FROM_ARGUMENTS)
    begin = partition_start(context.get("partition_date"), context.get("partition_key"), partition_key_format)
    if begin is not None:
        if partition_width <= timedelta(0):
            raise DailyConfigError(
                f"partition_width={partition_width} must be positive, e.g. timedelta(days=1)"
            )
        return RunWindow(Window(begin, begin + partition_width), FROM_PARTITION)
    interval_start, interval_end = context.get("data_interval_start"), context.get("data_interval_end")
    if interval_start is None or interval_end is None:
        raise DailyConfigError(
            f"no window: the run has no partition, no data interval and the task no start/end; {NO_WINDOW_HELP}"
        )
    return RunWindow(resolve_window(None, None, interval_start, interval_end), FROM_DATA_INTERVAL)
