"""Settled windows only: an operator loads a window once ``end + settle`` has passed.

Daily writes some logs after their ``createdAt`` (a webhook delivery is logged when it ends), so a
window that ended a moment ago is not complete yet. The operator defers to a ``DateTimeTrigger``
(``deferrable=True``) or sleeps until then; ``settle=0`` loads at once. The clock is injected:
no test here waits for real.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
from airflow.providers.standard.triggers.temporal import DateTimeTrigger
from tests.unit.operators.support import API_KEY, DAY1, make_context, truth_ids

from daily_provider.compat import TaskDeferred
from daily_provider.exceptions import DailyConfigError
from daily_provider.operators import daily_logs
from daily_provider.operators.daily_logs import DailyLogsToDuckDBOperator
from daily_provider.simulator import SimulatorServer

DAY2 = DAY1 + timedelta(days=1)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Day 1 ended 4 minutes ago; every requested sleep is recorded instead of slept."""
    monkeypatch.setattr(daily_logs, "utc_now", lambda: DAY2 + timedelta(minutes=4))
    sleeps: list[float] = []
    monkeypatch.setattr(daily_logs, "sleep", sleeps.append)
    return sleeps


def operator(db: Path, **kwargs) -> DailyLogsToDuckDBOperator:
    return DailyLogsToDuckDBOperator(task_id="load_api_logs", duckdb_path=str(db), **kwargs)


def table_ids(db: Path) -> list[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return [row[0] for row in con.execute("SELECT id FROM daily_api_logs ORDER BY id").fetchall()]


def test_a_deferrable_operator_defers_until_the_window_has_settled_then_loads(
    simulator: SimulatorServer, tmp_path: Path, clock: list[float]
) -> None:
    db = tmp_path / "logs.duckdb"
    task = operator(db, deferrable=True)  # settle: the default 10 minutes
    context = make_context(DAY1)

    with pytest.raises(TaskDeferred) as deferred:
        task.execute(context)

    assert isinstance(deferred.value.trigger, DateTimeTrigger)
    assert deferred.value.trigger.moment == DAY2 + timedelta(minutes=10)
    assert deferred.value.method_name == "execute_complete"
    assert not db.exists() and clock == []  # nothing loaded, nothing slept

    result = task.execute_complete(context, event={"status": "success"})

    assert result["rows"] == len(truth_ids(simulator, "api", DAY1, DAY2)) > 0
    assert table_ids(db) == truth_ids(simulator, "api", DAY1, DAY2)


def test_a_blocking_operator_sleeps_until_the_window_has_settled_then_loads(
    simulator: SimulatorServer, tmp_path: Path, clock: list[float]
) -> None:
    db = tmp_path / "logs.duckdb"

    result = operator(db, deferrable=False, settle=timedelta(minutes=15)).execute(make_context(DAY1))

    assert clock == [11 * 60.0]  # 15 minutes after the end, 4 of which have passed
    assert table_ids(db) == truth_ids(simulator, "api", DAY1, DAY2)
    assert result["rows"] > 0


def test_settle_zero_loads_at_once(simulator: SimulatorServer, tmp_path: Path, clock: list[float]) -> None:
    db = tmp_path / "logs.duckdb"

    operator(db, deferrable=True, settle=0).execute(make_context(DAY1))

    assert clock == []
    assert table_ids(db) == truth_ids(simulator, "api", DAY1, DAY2)


def test_a_window_that_settled_long_ago_loads_without_waiting(
    simulator: SimulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: list[float]
) -> None:
    monkeypatch.setattr(daily_logs, "utc_now", lambda: DAY2 + timedelta(days=30))
    db = tmp_path / "logs.duckdb"

    operator(db, deferrable=True).execute(make_context(DAY1))

    assert clock == []
    assert table_ids(db) == truth_ids(simulator, "api", DAY1, DAY2)


def test_the_connections_settle_extra_applies_when_the_operator_gives_none(
    simulator: SimulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: list[float]
) -> None:
    connection = {
        "conn_type": "daily",
        "host": simulator.base_url,
        "password": API_KEY,
        "extra": {"requests_per_second": 1000, "settle_seconds": 300},
    }
    monkeypatch.setenv("AIRFLOW_CONN_DAILY_DEFAULT", json.dumps(connection))

    operator(tmp_path / "a.duckdb", deferrable=False).execute(make_context(DAY1))
    # The operator's own argument wins over the extra.
    operator(tmp_path / "b.duckdb", deferrable=False, settle=timedelta(0)).execute(make_context(DAY1))

    assert clock == [60.0]  # 5 minutes after the end, 4 of which have passed; the second did not wait


@pytest.mark.parametrize("settle", [-1, timedelta(seconds=-5), "ten minutes"])
def test_a_negative_or_malformed_settle_is_a_config_error_at_parse_time(settle: object) -> None:
    with pytest.raises(DailyConfigError, match="settle"):
        DailyLogsToDuckDBOperator(task_id="t", settle=settle)  # type: ignore[arg-type]
