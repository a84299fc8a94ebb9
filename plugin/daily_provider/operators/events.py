"""The Asset events a load emits: which UTC days it replaced, as partition keys, and the event's extra.

A consumer DAG scheduled with ``PartitionedAssetTimetable`` (Airflow 3.2+) runs once per partition
key of the events it listens to; with the default identity mapper its run gets the key as is. So
every UTC day a load replaced, fully or partly, becomes one key: one for a daily window, one per day
of a range-mode load, none for a window Daily no longer had (status ``not_covered``: nothing changed).

Keys are the day's UTC midnight in ``CronPartitionTimetable``'s default ``key_format``,
``%Y-%m-%dT%H:%M:%S`` (``2026-01-01T00:00:00``): a producer on ``CronPartitionTimetable('0 0 * * *',
timezone='UTC')`` then emits its own run's key, and Airflow carries the run's ``partition_date`` to
the consumer (it does so only when the event's key equals the producer run's key).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from daily_provider.compat import partitions_supported
from daily_provider.operators.run_window import DEFAULT_PARTITION_KEY_FORMAT, RunWindow
from daily_provider.warehouses.base import STATUS_NOT_COVERED

DAY = timedelta(days=1)


def days_of(start: datetime, end: datetime) -> list[datetime]:
    """The UTC midnights of the days ``[start, end)`` overlaps, oldest first."""
    day = start.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    days = []
    while day < end:
        days.append(day)
        day += DAY
    return days


def replaced_partitions(
    windows: Iterable[Mapping[str, Any]], key_format: str = DEFAULT_PARTITION_KEY_FORMAT
) -> dict[str, int]:
    """Partition key -> rows loaded, for each UTC day a load replaced (from its summaries' dicts).

    ``windows`` are ``LoadSummary.as_dict()`` values (one, or a range's ``windows``); a window whose
    status is ``not_covered`` replaced nothing and adds no key. A window over several days counts its
    rows on its first day.
    """
    keys: dict[str, int] = {}
    for window in windows:
        if window.get("status") == STATUS_NOT_COVERED:
            continue
        start = datetime.fromisoformat(window["window_start"])
        end = datetime.fromisoformat(window["window_end"])
        for index, day in enumerate(days_of(start, end)):
            key = day.strftime(key_format)
            keys[key] = keys.get(key, 0) + (int(window.get("rows") or 0) if index == 0 else 0)
    return dict(sorted(keys.items()))


def event_extra(
    result: Mapping[str, Any], *, target: str, run_window: RunWindow, partitions: Mapping[str, int]
) -> dict[str, Any]:
    """The extra of the task's Asset events: what was loaded where, for which window, and how many rows."""
    return {
        "source": result["source"],
        "table": result["table"],
        "target": target,
        "window_start": run_window.window.start.isoformat(),
        "window_end": run_window.window.end.isoformat(),
        "window_source": run_window.source,
        "rows": result["rows"],
        "partitions": dict(partitions),
    }


def emit(outlet_events: Any, assets: Sequence[Any], extra: dict[str, Any], partitions: Sequence[str]) -> None:
    """Set ``extra`` on each asset's event and, on Airflow 3.2+, tag it with ``partitions``.

    With no partitions (nothing replaced) the event carries only its extra; Airflow then labels it
    with the run's own partition key, if the run has one (see ``TaskInstance.register_asset_changes``).
    """
    for asset in assets:
        event = outlet_events[asset]
        event.extra = extra
        if partitions and partitions_supported():
            event.add_partitions(list(partitions))
