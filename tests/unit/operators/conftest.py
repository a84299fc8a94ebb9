"""Fixtures for the operator tests: the simulator on loopback behind the ``daily_default`` connection."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from tests.unit.operators.support import API_KEY, SIMULATOR

from daily_provider.simulator import SimulatorServer


@pytest.fixture
def simulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimulatorServer]:
    """The simulator on a loopback port, reachable as the ``daily_default`` connection."""
    with SimulatorServer(SIMULATOR) as server:
        connection = {
            "conn_type": "daily",
            "host": server.base_url,
            "password": API_KEY,
            # The simulator has no rate limit unless a test turns one on; don't wait for nothing.
            "extra": {"requests_per_second": 1000, "max_retries": 0},
        }
        monkeypatch.setenv("AIRFLOW_CONN_DAILY_DEFAULT", json.dumps(connection))
        yield server
