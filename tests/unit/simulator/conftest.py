"""Fixtures for the simulator tests: small configs and servers on loopback port 0 that always stop."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from daily_provider.simulator import FaultConfig, SimulatorConfig, SimulatorServer

KEY = "test-key"


@pytest.fixture
def small_config() -> Callable[..., SimulatorConfig]:
    """A config small enough to walk in milliseconds: 2 days, 300 api and 40 webhook records a day."""

    def make(**overrides: Any) -> SimulatorConfig:
        values: dict[str, Any] = {
            "seed": 7,
            "days": 2,
            "api_per_day": 300,
            "webhook_per_day": 40,
            "api_key": KEY,
        }
        values.update(overrides)
        return SimulatorConfig(**values)

    return make


@pytest.fixture
def serve(small_config: Callable[..., SimulatorConfig]) -> Iterator[Callable[..., SimulatorServer]]:
    """Start a SimulatorServer on a free loopback port; every server started is stopped after the test."""
    servers: list[SimulatorServer] = []

    def start(faults: FaultConfig | None = None, **overrides: Any) -> SimulatorServer:
        config = small_config(faults=faults or FaultConfig(), **overrides)
        server = SimulatorServer(config).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {KEY}"
        yield http
