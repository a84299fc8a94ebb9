"""SimulatorServer over real HTTP on loopback: every fault switch, stats, and the /_sim control endpoints."""

from __future__ import annotations

import json
from collections.abc import Callable
from email.utils import parsedate_to_datetime

import pytest
import requests

from daily_provider.simulator import FaultConfig, SimulatorServer

Serve = Callable[..., SimulatorServer]


def logs(http: requests.Session, server: SimulatorServer, **params: object) -> requests.Response:
    return http.get(f"{server.base_url}/logs/api", params=params, timeout=5)


def control(server: SimulatorServer, path: str) -> str:
    return server.base_url.removesuffix("/v1") + path


def test_base_url_is_loopback_with_the_picked_port_and_v1(serve: Serve) -> None:
    server = serve()
    assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
    assert server.port > 0


def test_pages_over_http_match_truth_and_keep_the_connection_alive(
    serve: Serve, session: requests.Session
) -> None:
    server = serve()
    walked, params = [], {"limit": 100}
    while True:
        response = logs(session, server, **params)
        assert response.headers["Content-Type"].startswith("application/json")
        chunk = response.json()
        if not chunk:
            break
        walked.extend(chunk)
        params = {"limit": 100, "starting_after": chunk[-1]["id"]}
    assert walked == server.simulator.truth("api", "2026-01-01T00:00:00Z", "2026-01-03T00:00:00Z")
    assert response.raw.version == 11 and response.headers.get("Connection") != "close"


def test_two_servers_with_the_same_seed_serve_the_same_pages(serve: Serve, session: requests.Session) -> None:
    first, second = serve(), serve()
    assert logs(session, first, limit=50).content == logs(session, second, limit=50).content
    other = serve(seed=8)
    assert logs(session, first, limit=50).content != logs(session, other, limit=50).content


def test_error_5xx_rate_answers_server_errors_as_json_or_html(
    serve: Serve, session: requests.Session
) -> None:
    server = serve(FaultConfig(error_5xx_rate=1.0))
    responses = [logs(session, server) for _ in range(20)]
    assert {r.status_code for r in responses} <= {500, 502, 503, 504}
    json_bodies = [r.json() for r in responses if r.headers["Content-Type"].startswith("application/json")]
    assert json_bodies and all(body["error"] == "server-error" for body in json_bodies)
    assert any(r.headers["Content-Type"].startswith("text/html") for r in responses)


@pytest.mark.parametrize(
    ("style", "seconds", "check"),
    [
        ("seconds", 0.25, lambda value: value == "0.25"),
        ("seconds", 3.0, lambda value: value == "3"),
        ("http-date", 120.0, lambda value: parsedate_to_datetime(value).tzinfo is not None),
        ("none", 1.0, lambda value: value is None),
    ],
)
def test_rate_429_answers_rate_limit_errors_with_the_configured_retry_after(
    serve: Serve, session: requests.Session, style: str, seconds: float, check: Callable[[str | None], bool]
) -> None:
    server = serve(FaultConfig(rate_429=1.0, retry_after=style, retry_after_seconds=seconds))
    response = logs(session, server)
    assert response.status_code == 429
    assert response.json()["error"] == "rate-limit-error"
    assert check(response.headers.get("Retry-After"))


def test_burst_429_answers_exactly_the_next_n_requests_and_set_faults_rearms_it(
    serve: Serve, session: requests.Session
) -> None:
    server = serve(FaultConfig(burst_429=3, retry_after_seconds=0))
    assert [logs(session, server).status_code for _ in range(5)] == [429, 429, 429, 200, 200]
    server.set_faults(FaultConfig(burst_429=2))
    assert [logs(session, server).status_code for _ in range(3)] == [429, 429, 200]


def test_rate_limit_per_second_answers_429_once_over_the_limit(
    serve: Serve, session: requests.Session
) -> None:
    server = serve(FaultConfig(rate_limit_per_second=0.01))
    assert logs(session, server).status_code == 200
    limited = logs(session, server)
    assert limited.status_code == 429
    assert limited.json()["error"] == "rate-limit-error"
    assert float(limited.headers["Retry-After"]) > 1


def test_latency_delays_every_logs_response(serve: Serve, session: requests.Session) -> None:
    server = serve(FaultConfig(latency_ms=150))
    response = logs(session, server)
    assert response.status_code == 200
    assert response.elapsed.total_seconds() >= 0.15


def test_a_stall_makes_the_client_time_out(serve: Serve, session: requests.Session) -> None:
    server = serve(FaultConfig(stall_rate=1.0, stall_seconds=30))
    with pytest.raises(requests.ReadTimeout):
        session.get(f"{server.base_url}/logs/api", timeout=0.3)
    assert server.stats()["faults_injected"] == {"stall": 1}


def test_a_drop_cuts_the_body_and_the_connection(serve: Serve, session: requests.Session) -> None:
    server = serve(FaultConfig(drop_rate=1.0))
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        logs(session, server, limit=50)
    assert server.stats()["faults_injected"] == {"drop": 1}


def test_truncate_html_and_empty_answer_200_with_a_body_that_is_no_page(
    serve: Serve, session: requests.Session
) -> None:
    truncated = logs(session, serve(FaultConfig(truncate_rate=1.0)), limit=50)
    assert truncated.status_code == 200 and truncated.content.startswith(b"[{")
    with pytest.raises(json.JSONDecodeError):
        json.loads(truncated.content)
    html = logs(session, serve(FaultConfig(html_rate=1.0)))
    assert html.status_code == 200 and html.headers["Content-Type"].startswith("text/html")
    assert html.content.startswith(b"<!DOCTYPE html>")
    empty = logs(session, serve(FaultConfig(empty_rate=1.0)))
    assert empty.status_code == 200 and empty.content == b""


@pytest.mark.parametrize("convention", ["stripe", "literal"])
def test_duplicate_repeats_the_cursor_record_on_the_next_page(
    serve: Serve, session: requests.Session, convention: str
) -> None:
    server = serve(convention=convention)
    first = logs(session, server, limit=10).json()
    server.set_faults(FaultConfig(duplicate_rate=1.0))
    older = "starting_after" if convention == "stripe" else "ending_before"
    second = logs(session, server, limit=10, **{older: first[-1]["id"]}).json()
    assert len(second) == 10
    assert second[0] == first[-1]
    truth = server.simulator.truth("api", "2026-01-01T00:00:00Z", "2026-01-03T00:00:00Z")
    assert second[1:] == truth[10:19]


def test_arrivals_per_request_add_newer_records_between_requests(
    serve: Serve, session: requests.Session
) -> None:
    server = serve(FaultConfig(arrivals_per_request=2))
    first = logs(session, server, limit=5).json()
    second = logs(session, server, limit=5).json()
    assert second[2:] == first[:3]
    assert server.simulator.count("api") == 604
    assert server.stats()["arrivals"] == {"api": 4, "webhook": 0}


def test_max_limit_caps_pages(serve: Serve, session: requests.Session) -> None:
    server = serve(FaultConfig(max_limit=25))
    assert len(logs(session, server, limit=100).json()) == 25


def test_auth_fail_after_and_forbidden_after_turn_a_working_key_away(
    serve: Serve, session: requests.Session
) -> None:
    revoked = serve(FaultConfig(auth_fail_after=2))
    statuses = [logs(session, revoked) for _ in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 401]
    assert statuses[2].json()["error"] == "authentication-error"
    forbidden = serve(FaultConfig(forbidden_after=1))
    answers = [logs(session, forbidden) for _ in range(2)]
    assert [r.status_code for r in answers] == [200, 403]
    assert answers[1].json()["error"] == "forbidden-error"


def test_unknown_cursor_ids_are_answered_as_unknown(serve: Serve, session: requests.Session) -> None:
    server = serve()
    record_id = logs(session, server, limit=3).json()[2]["id"]
    assert logs(session, server, starting_after=record_id).status_code == 200
    server.set_faults(FaultConfig(unknown_cursor_ids=frozenset({record_id})))
    rejected = logs(session, server, starting_after=record_id)
    assert rejected.status_code == 400
    assert rejected.json()["error"] == "invalid-request-error"


def test_stats_count_logs_requests_by_status_and_pages_but_not_control_calls(
    serve: Serve, session: requests.Session
) -> None:
    server = serve(FaultConfig(burst_429=1))
    logs(session, server)
    logs(session, server)
    logs(session, server, limit="x")
    requests.get(f"{server.base_url}/logs/api", timeout=5)  # no Authorization header
    session.get(control(server, "/_sim/health"), timeout=5)
    stats = server.stats()
    assert stats["requests"] == 4
    assert stats["by_status"] == {"200": 1, "400": 2, "429": 1}
    assert stats["pages_served"] == 1
    assert stats["records_served"] == 20
    assert session.get(control(server, "/_sim/stats"), timeout=5).json() == stats
    server.reset_stats()
    assert server.stats()["requests"] == 0
    logs(session, server)
    assert session.post(control(server, "/_sim/reset"), timeout=5).status_code == 200
    assert server.stats()["requests"] == 0


def test_control_endpoints_report_truth_and_change_faults(serve: Serve, session: requests.Session) -> None:
    server = serve()
    assert session.get(control(server, "/_sim/health"), timeout=5).status_code == 200
    window = {"source": "webhook", "start": "2026-01-02T00:00:00Z", "end": "2026-01-03T00:00:00Z"}
    truth = session.get(control(server, "/_sim/truth"), params=window, timeout=5).json()
    assert truth == server.simulator.truth("webhook", window["start"], window["end"]) and len(truth) == 40
    assert len(session.get(control(server, "/_sim/truth"), timeout=5).json()) == 600

    answer = session.post(
        control(server, "/_sim/faults"), json={"burst_429": 1, "unknown_cursor_ids": ["x"]}, timeout=5
    )
    assert answer.status_code == 200 and answer.json()["burst_429"] == 1
    assert server.simulator.faults == FaultConfig(burst_429=1, unknown_cursor_ids=frozenset({"x"}))
    assert logs(session, server).status_code == 429
    assert session.get(control(server, "/_sim/faults"), timeout=5).json()["unknown_cursor_ids"] == ["x"]

    bad = session.post(control(server, "/_sim/faults"), json={"burst": 1}, timeout=5)
    assert bad.status_code == 400 and "burst" in bad.json()["info"]
    for wrong in ({"drop_rate": 2}, {"max_limit": "3"}, {"rate_429": None}):
        assert session.post(control(server, "/_sim/faults"), json=wrong, timeout=5).status_code == 400
    assert server.stats()["requests"] == 1


def test_faults_never_apply_to_control_endpoints(serve: Serve, session: requests.Session) -> None:
    server = serve(FaultConfig(error_5xx_rate=1.0, drop_rate=1.0, latency_ms=5000, rate_429=1.0))
    assert session.get(control(server, "/_sim/health"), timeout=2).status_code == 200
    assert session.get(control(server, "/_sim/stats"), timeout=2).json()["requests"] == 0


def test_stop_returns_promptly_while_a_request_is_stalled(serve: Serve) -> None:
    server = serve(FaultConfig(stall_rate=1.0, stall_seconds=60))
    health = control(server, "/_sim/health")
    with pytest.raises(requests.ReadTimeout):
        requests.get(f"{server.base_url}/logs/api", headers={"Authorization": "Bearer test-key"}, timeout=0.2)
    server.stop()  # would block for the stall's 60 s if a stalled handler held it up (pytest-timeout guards)
    with pytest.raises(requests.ConnectionError):
        requests.get(health, timeout=2)
