"""Fixtures for the hook tests: a hook with tiny backoffs and a sleep recorder, HTTP mocks, a loopback server."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import responses
from tests.unit.hooks.fake_daily import API_KEY, BASE_URL, LOGS_URL, FakeDaily, LoopbackDaily

from daily_provider.hooks.daily import DailyHook


@pytest.fixture
def sleeps() -> list[float]:
    """Every delay the hook asked to wait, in order (nothing really sleeps)."""
    return []


@pytest.fixture
def make_hook(sleeps: list[float]) -> Callable[..., DailyHook]:
    """Build a hook with the test key, the fake base URL, no client-side limit and tiny backoffs."""

    def make(**overrides: Any) -> DailyHook:
        options: dict[str, Any] = {
            "api_key": API_KEY,
            "base_url": BASE_URL,
            "requests_per_second": math.inf,
            "backoff_base": 0.01,
            "backoff_max": 0.05,
            "sleep": sleeps.append,
        }
        options.update(overrides)
        return DailyHook(**options)

    return make


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    """An HTTP mock that fails any request nobody registered."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def serve(rsps: responses.RequestsMock) -> Callable[..., FakeDaily]:
    """Install a FakeDaily behind ``LOGS_URL`` and return it."""

    def install(records: list[dict[str, Any]], **options: Any) -> FakeDaily:
        fake = FakeDaily(records, **options)
        rsps.add_callback(responses.GET, LOGS_URL, callback=fake.callback)
        return fake

    return install


@pytest.fixture
def loopback(request: pytest.FixtureRequest) -> Iterator[Callable[..., LoopbackDaily]]:
    """Start a LoopbackDaily for the given records; stopped at teardown."""
    started: list[LoopbackDaily] = []

    def start(records: list[dict[str, Any]], *, key: str = API_KEY, **options: Any) -> LoopbackDaily:
        server = LoopbackDaily(FakeDaily(records, **options), key)
        server.thread.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.server.shutdown()
        server.server.server_close()
