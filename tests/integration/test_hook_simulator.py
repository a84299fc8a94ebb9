"""DailyHook against the simulator on loopback: both conventions, faults, compared with the simulator's truth."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest

from daily_provider.exceptions import DailyAPIError
from daily_provider.hooks.daily import DailyHook, WalkStats
from daily_provider.simulator import FaultConfig, SimulatorConfig, SimulatorServer

KEY = "sim-key-0123456789"
DAY1 = datetime(2026, 1, 1, tzinfo=timezone.utc)
DAY2 = datetime(2026, 1, 2, tzinfo=timezone.utc)
DAY3 = datetime(2026, 1, 3, tzinfo=timezone.utc)


@pytest.fixture(params=["stripe", "literal"])
def simulator(request: pytest.FixtureRequest) -> Iterator[SimulatorServer]:
    config = SimulatorConfig(
        seed=7, days=3, api_per_day=400, webhook_per_day=60, convention=request.param, api_key=KEY
    )
    with SimulatorServer(config) as server:
        yield server


def hook_for(server: SimulatorServer, sleeps: list[float], **options: object) -> DailyHook:
    settings: dict[str, object] = {
        "api_key": KEY,
        "base_url": server.base_url,
        "requests_per_second": 1000.0,
        "backoff_base": 0.001,
        "backoff_max": 0.002,
        "sleep": sleeps.append,
    }
    settings.update(options)
    return DailyHook(**settings)  # type: ignore[arg-type]


def truth_ids(server: SimulatorServer, source: str, start: datetime, end: datetime) -> list[str]:
    return [record["id"] for record in server.simulator.truth(source, start, end)]


@pytest.mark.parametrize("source", ["api", "webhook"])
def test_a_day_window_matches_the_simulators_truth(simulator: SimulatorServer, source: str) -> None:
    stats = WalkStats()
    ids = [r["id"] for r in hook_for(simulator, []).iter_logs(DAY2, DAY3, source, stats=stats)]
    expected = truth_ids(simulator, source, DAY2, DAY3)
    assert expected, "the simulator served no records for the window"
    assert ids == expected
    assert stats.convention == simulator.config.convention
    assert stats.requests == simulator.stats()["requests"]


def test_windows_that_tile_the_data_give_every_record_once(simulator: SimulatorServer) -> None:
    hook = hook_for(simulator, [])
    edges = [DAY1, datetime(2026, 1, 1, 6, tzinfo=timezone.utc), DAY2, DAY3]
    ids: list[str] = []
    for start, end in itertools.pairwise(edges):
        ids.extend(r["id"] for r in hook.iter_logs(start, end))
    assert sorted(ids) == sorted(truth_ids(simulator, "api", DAY1, DAY3))
    assert len(set(ids)) == len(ids)


def test_the_walk_survives_every_fault_and_still_matches_truth(simulator: SimulatorServer) -> None:
    simulator.set_faults(
        FaultConfig(
            seed=3,
            error_5xx_rate=0.1,
            rate_429=0.1,
            burst_429=2,
            retry_after="http-date",
            retry_after_seconds=1,
            drop_rate=0.05,
            truncate_rate=0.05,
            html_rate=0.05,
            empty_rate=0.05,
            duplicate_rate=0.1,
            arrivals_per_request=3,
            max_limit=37,
        )
    )
    sleeps: list[float] = []
    stats = WalkStats()
    ids = [r["id"] for r in hook_for(simulator, sleeps, max_retries=10).iter_logs(DAY1, DAY3, stats=stats)]
    assert ids == truth_ids(simulator, "api", DAY1, DAY3)
    injected = simulator.stats()["faults_injected"]
    assert injected.get("burst_429", 0) == 2
    assert stats.retries >= sum(v for k, v in injected.items() if k != "duplicate")
    assert stats.rate_limited >= 2
    assert len(sleeps) >= stats.rate_limited  # each 429 waited through the injected sleep


def test_retry_after_seconds_from_the_simulator_are_honoured(simulator: SimulatorServer) -> None:
    simulator.set_faults(FaultConfig(burst_429=2, retry_after="seconds", retry_after_seconds=4))
    sleeps: list[float] = []
    list(hook_for(simulator, sleeps).iter_logs(DAY2, DAY3))
    assert sleeps[:2] == [4.0, 4.0]


def test_a_key_revoked_mid_walk_fails_at_once_with_dailys_error(simulator: SimulatorServer) -> None:
    simulator.set_faults(FaultConfig(auth_fail_after=2))
    with pytest.raises(DailyAPIError) as caught:
        list(hook_for(simulator, []).iter_logs(DAY1, DAY3))
    assert caught.value.status == 401 and caught.value.error == "authentication-error"
    assert simulator.stats()["requests"] == 3
    assert KEY not in str(caught.value)


def test_connection_test_against_the_simulator(
    simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_DAILY_SIM",
        json.dumps({"conn_type": "daily", "host": simulator.base_url, "password": KEY}),
    )
    assert DailyHook("daily_sim").test_connection() == (True, "Connection to Daily succeeded")
    monkeypatch.setenv(
        "AIRFLOW_CONN_DAILY_SIM",
        json.dumps({"conn_type": "daily", "host": simulator.base_url, "password": "wrong-key-000"}),
    )
    ok, message = DailyHook("daily_sim").test_connection()
    assert ok is False and "401 authentication-error" in message


def test_an_unknown_cursor_is_a_client_error_not_a_silent_gap(simulator: SimulatorServer) -> None:
    everything = simulator.simulator.truth("api", DAY1, datetime(2026, 1, 5, tzinfo=timezone.utc))
    cursor_id = everything[99]["id"]  # the oldest record of the first page of 100
    simulator.set_faults(FaultConfig(unknown_cursor_ids=frozenset({cursor_id})))
    with pytest.raises(DailyAPIError, match=f"unknown log id '{cursor_id}'") as caught:
        list(hook_for(simulator, []).iter_logs(DAY1, DAY3))
    assert caught.value.status == 400
    assert f"cursor starting_after={cursor_id}" in str(caught.value)
    assert simulator.stats()["requests"] == 2
