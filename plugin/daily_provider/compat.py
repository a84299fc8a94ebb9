"""Airflow-version-dependent imports in one place, so the provider runs on every Airflow from 3.0.

The Task SDK (``airflow.sdk``) grew over Airflow 3's minor releases: ``BaseHook`` moved into it in
3.1, ``AirflowNotFoundException`` and ``CronDataIntervalTimetable`` in 3.2. Each name here is the
SDK's where the running Airflow has it, else the older home of the same thing. Partitioned runs and
partitioned asset events exist only from 3.2 on: code that needs them calls
:func:`require_partitions` first, so that a user on 3.0 or 3.1 reads what to do instead of an
``ImportError`` or a silently partition-less run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow import __version__ as AIRFLOW_VERSION_STRING
from packaging.version import Version

from daily_provider.exceptions import DailyConfigError

if TYPE_CHECKING:
    # The type checker sees the newest Airflow in the lock; the runtime branch below picks per release.
    from airflow.sdk import BaseHook, CronDataIntervalTimetable
    from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException, TaskDeferred
else:
    try:
        from airflow.sdk import BaseHook
    except ImportError:  # Airflow 3.0
        from airflow.hooks.base import BaseHook
    try:
        from airflow.sdk.exceptions import AirflowNotFoundException
    except ImportError:  # Airflow 3.0 and 3.1: the SDK's BaseHook raises this one
        from airflow.exceptions import AirflowNotFoundException
    try:
        from airflow.sdk.exceptions import AirflowFailException
    except ImportError:  # Airflow 3.0
        from airflow.exceptions import AirflowFailException
    try:
        from airflow.sdk.exceptions import TaskDeferred
    except ImportError:  # Airflow 3.0 and 3.1: what BaseOperator.defer raises there
        from airflow.exceptions import TaskDeferred
    try:
        from airflow.sdk import CronDataIntervalTimetable
    except ImportError:  # Airflow 3.0 and 3.1
        from airflow.timetables.interval import CronDataIntervalTimetable

__all__ = [
    "AIRFLOW_VERSION",
    "PARTITIONS_MIN_VERSION",
    "AirflowFailException",
    "AirflowNotFoundException",
    "BaseHook",
    "CronDataIntervalTimetable",
    "TaskDeferred",
    "mask_secret",
    "partitions_supported",
    "require_partitions",
]

AIRFLOW_VERSION = Version(Version(AIRFLOW_VERSION_STRING).base_version)
# CronPartitionTimetable, PartitionedAssetTimetable and the partition_key/partition_date of a run.
PARTITIONS_MIN_VERSION = Version("3.2.0")


def partitions_supported() -> bool:
    """Whether the running Airflow has partitioned runs and asset partitions (3.2 and later)."""
    return AIRFLOW_VERSION >= PARTITIONS_MIN_VERSION


def require_partitions(feature: str) -> None:
    """Raise :class:`DailyConfigError` naming ``feature`` unless the running Airflow has partitions.

    :param feature: what needs them, as the user wrote it (e.g. ``"partition_width"``).
    """
    if partitions_supported():
        return
    raise DailyConfigError(
        f"{feature} needs Airflow {PARTITIONS_MIN_VERSION.base_version} or later (partitioned runs, "
        f"CronPartitionTimetable, PartitionedAssetTimetable); this is Airflow {AIRFLOW_VERSION_STRING}. "
        "Upgrade Airflow, or schedule the DAG on CronDataIntervalTimetable (the task loads its data "
        "interval) or give the task explicit start and end"
    )


def mask_secret(secret: str) -> None:
    """Register ``secret`` with Airflow's log masker (a no-op where none can be imported).

    Imported when called: the masker drags in Airflow's logging setup, which the CLI and the pure
    modules do not need.
    """
    try:
        from airflow.sdk.log import mask_secret as _mask
    except ImportError:
        try:  # early 3.0 releases (3.0.0 has it only here)
            from airflow.sdk.execution_time.secrets_masker import mask_secret as _mask  # type: ignore[no-redef]
        except ImportError:
            return
    _mask(secret)
