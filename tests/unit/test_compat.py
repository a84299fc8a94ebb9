"""daily_provider.compat: the partition guard's message, and that its names are the running Airflow's."""

from __future__ import annotations

import pytest
from packaging.version import Version

from daily_provider import compat
from daily_provider.exceptions import DailyConfigError


def test_partition_features_fail_below_3_2_with_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compat, "AIRFLOW_VERSION", Version("3.1.8"))
    assert compat.partitions_supported() is False
    with pytest.raises(DailyConfigError) as raised:
        compat.require_partitions("partition_width")
    message = str(raised.value)
    assert "partition_width needs Airflow 3.2.0 or later" in message
    assert "CronDataIntervalTimetable" in message and "start and end" in message


def test_partition_features_pass_from_3_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compat, "AIRFLOW_VERSION", Version("3.2.0"))
    assert compat.partitions_supported() is True
    compat.require_partitions("partition_width")


def test_the_missing_connection_error_is_the_one_the_hook_lookup_raises() -> None:
    with pytest.raises(compat.AirflowNotFoundException):
        compat.BaseHook.get_connection("daily_compat_no_such_connection")
