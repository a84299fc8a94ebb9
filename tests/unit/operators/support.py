"""Helpers for the operator tests: a task context as a plain dict, the simulator's settings.

Operators run through ``execute(context)`` with a plain dict for the context: the keys the
operators read (data interval, run id, task instance, outlet events) and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from daily_provider.simulator import SimulatorConfig, SimulatorServer

DAY1 = datetime(2026, 1, 2, tzinfo=timezone.utc)
API_KEY = "sk-operator-test-0123456789abcdef"
SIMULATOR = SimulatorConfig(
    seed=23, start="2026-01-01T00:00:00Z", days=3, api_per_day=320, webhook_per_day=60, api_key=API_KEY
)


@dataclass
class FakeTaskInstance:
    """The task instance fields the operators read."""

    dag_id: str = "daily_logs_test"
    task_id: str = "load_api_logs"
    try_number: int = 1


@dataclass
class AssetEvent:
    """Airflow's outlet event accessor as the operators use it: ``extra`` and ``add_partitions``."""

    extra: dict[str, Any] = field(default_factory=dict)
    partition_keys: set[str] = field(default_factory=set)

    def add_partitions(self, keys: str | list[str]) -> None:
        self.partition_keys.update([keys] if isinstance(keys, str) else keys)


class OutletEvents:
    """What the operators use of Airflow's outlet event accessors: ``events[asset]`` is the event of
    that asset, keyed by name and URI as Airflow keys it (an Asset is not hashable on Airflow 3.0)."""

    def __init__(self) -> None:
        self._events: dict[tuple[str, str], AssetEvent] = {}

    def __getitem__(self, asset: Any) -> AssetEvent:
        return self._events.setdefault((asset.name, asset.uri), AssetEvent())


def make_context(
    start: datetime = DAY1,
    end: datetime | None = None,
    *,
    run_id: str = "manual__2026-01-03",
    ti: FakeTaskInstance | None = None,
) -> dict[str, Any]:
    """A task context whose data interval is ``[start, end)`` (default: one day from ``start``)."""
    return {
        "data_interval_start": start,
        "data_interval_end": start + timedelta(days=1) if end is None else end,
        "run_id": run_id,
        "ti": ti or FakeTaskInstance(),
        "outlet_events": OutletEvents(),
    }


def truth_ids(server: SimulatorServer, source: str, start: datetime, end: datetime) -> list[str]:
    return sorted(record["id"] for record in server.simulator.truth(source, start, end))
