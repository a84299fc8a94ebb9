"""The fault switches this suite added to the simulator do what the fault tests rely on (no HTTP needed)."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from daily_provider.simulator import FaultConfig, Response, Simulator
from daily_provider.simulator.config import faults_from_mapping
from tests.faults.harness import KEY, sim_config

AUTH = {"Authorization": f"Bearer {KEY}"}


def ask(simulator: Simulator, headers: Mapping[str, str] = AUTH) -> Response:
    return simulator.handle("GET", "/v1/logs/api", {"limit": ["5"]}, headers)


def test_injected_server_errors_use_only_the_chosen_statuses() -> None:
    simulator = Simulator(sim_config(faults=FaultConfig(error_5xx_rate=1.0, server_error_statuses=(502,))))
    assert {ask(simulator).status for _ in range(20)} == {502}


def test_a_429_burst_can_start_mid_walk() -> None:
    simulator = Simulator(sim_config(faults=FaultConfig(burst_429=2, burst_429_after=3)))
    assert [ask(simulator).status for _ in range(7)] == [200, 200, 200, 429, 429, 200, 200]


def test_every_request_after_stall_after_stalls() -> None:
    simulator = Simulator(sim_config(faults=FaultConfig(stall_after=2, stall_seconds=9.0)))
    assert [ask(simulator).delay for _ in range(4)] == [0.0, 0.0, 9.0, 9.0]


def test_echoing_errors_repeat_the_authorization_header_and_successes_do_not() -> None:
    simulator = Simulator(sim_config(faults=FaultConfig(auth_fail_after=1, echo_key_in_errors=True)))
    assert KEY.encode() not in ask(simulator).body
    refused = ask(simulator)
    assert refused.status == 401 and f"Bearer {KEY}" in refused.json()["info"]


def test_the_new_switches_round_trip_through_the_control_endpoints_json() -> None:
    faults = FaultConfig(
        server_error_statuses=(500, 503), burst_429_after=4, stall_after=7, echo_key_in_errors=True
    )
    assert faults_from_mapping(faults.to_json()) == faults
    with pytest.raises(ValueError, match="server_error_statuses"):
        FaultConfig(server_error_statuses=(404,))
    with pytest.raises(ValueError, match="echo_key_in_errors"):
        faults_from_mapping({"echo_key_in_errors": "yes"})
