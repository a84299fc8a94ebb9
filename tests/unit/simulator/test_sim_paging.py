"""GET /v1/logs/api answered by Simulator.handle: auth, parameters, both cursor conventions, truth."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from daily_provider.simulator import FaultConfig, Response, Simulator, SimulatorConfig

KEY = "test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
WHOLE = ("2026-01-01T00:00:00Z", "2030-01-01T00:00:00Z")
OLDER = {"stripe": "starting_after", "literal": "ending_before"}
NEWER = {"stripe": "ending_before", "literal": "starting_after"}


def get(sim: Simulator, headers: dict[str, str] | None = None, **params: Any) -> Response:
    query = {name: [str(value)] for name, value in params.items()}
    return sim.handle("GET", "/v1/logs/api", query, AUTH if headers is None else headers)


def page(sim: Simulator, **params: Any) -> list[dict[str, Any]]:
    response = get(sim, **params)
    assert response.status == 200, response.body
    return response.json()


def walk(sim: Simulator, cursor_param: str, first: dict[str, Any] | None = None, **params: Any) -> list[dict]:
    """Follow ``cursor_param`` with the last record of each page until an empty page."""
    records: list[dict[str, Any]] = []
    current = page(sim, **params) if first is None else page(sim, **{cursor_param: first["id"]}, **params)
    while current:
        records.extend(current)
        current = page(sim, **{cursor_param: current[-1]["id"]}, **params)
    return records


@pytest.fixture
def make_sim(small_config: Callable[..., SimulatorConfig]) -> Callable[..., Simulator]:
    def make(faults: FaultConfig | None = None, **overrides: Any) -> Simulator:
        return Simulator(small_config(faults=faults or FaultConfig(), **overrides))

    return make


@pytest.mark.parametrize("convention", ["stripe", "literal"])
def test_walking_toward_older_records_covers_truth_exactly_once(
    make_sim: Callable[..., Simulator], convention: str
) -> None:
    sim = make_sim(convention=convention)
    walked = walk(sim, OLDER[convention], limit=100)
    assert walked == sim.truth("api", *WHOLE)
    assert len(walked) == 600


@pytest.mark.parametrize("convention", ["stripe", "literal"])
def test_walking_toward_newer_records_from_the_oldest_covers_the_rest_once(
    make_sim: Callable[..., Simulator], convention: str
) -> None:
    sim = make_sim(convention=convention)
    truth = sim.truth("api", *WHOLE)
    oldest = truth[-1]
    pages = []
    current = page(sim, limit=50, **{NEWER[convention]: oldest["id"]})
    while current:
        pages.append(current)
        current = page(sim, limit=50, **{NEWER[convention]: current[0]["id"]})
    walked = [record for chunk in reversed(pages) for record in chunk]
    assert walked == truth[:-1]
    assert all(chunk == sorted(chunk, key=lambda r: r["createdAt"], reverse=True) for chunk in pages)


@pytest.mark.parametrize("convention", ["stripe", "literal"])
def test_cursor_pages_hold_the_records_adjacent_to_the_cursor_newest_first(
    make_sim: Callable[..., Simulator], convention: str
) -> None:
    sim = make_sim(convention=convention)
    truth = sim.truth("api", *WHOLE)  # newest first
    cursor = truth[200]
    assert page(sim, limit=5, **{OLDER[convention]: cursor["id"]}) == truth[201:206]
    assert page(sim, limit=5, **{NEWER[convention]: cursor["id"]}) == truth[195:200]


def test_no_cursor_gives_the_newest_records_and_limit_defaults_to_20(
    make_sim: Callable[..., Simulator],
) -> None:
    sim = make_sim()
    assert page(sim) == sim.truth("api", *WHOLE)[:20]


def test_limit_is_capped_silently_at_max_limit(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim(FaultConfig(max_limit=30))
    assert len(page(sim, limit=1000)) == 30
    assert len(make_sim().handle("GET", "/v1/logs/api", {"limit": ["500"]}, AUTH).json()) == 100


@pytest.mark.parametrize("limit", ["0", "-3", "abc", "2.5", ""])
def test_a_limit_that_is_not_a_positive_integer_is_rejected(
    make_sim: Callable[..., Simulator], limit: str
) -> None:
    response = get(make_sim(), limit=limit)
    assert response.status == 400
    assert response.json()["error"] == "invalid-request-error"


def test_source_webhook_serves_webhook_rows(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim()
    rows = walk(sim, "starting_after", source="webhook", limit=100)
    assert len(rows) == 80
    assert {r["source"] for r in rows} == {"webhook"}
    assert rows == sim.truth("webhook", *WHOLE)


def test_a_source_without_records_serves_empty_pages(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim(webhook_per_day=0)
    assert page(sim, source="webhook") == []
    assert sim.truth("webhook", *WHOLE) == []


@pytest.mark.parametrize("source", ['"api"', "API", "calls", ""])
def test_a_quoted_or_unknown_source_is_rejected(make_sim: Callable[..., Simulator], source: str) -> None:
    response = get(make_sim(), source=source)
    assert response.status == 400
    assert response.json()["error"] == "invalid-request-error"


def test_both_cursors_at_once_are_rejected(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim()
    record_id = page(sim)[5]["id"]
    response = get(sim, starting_after=record_id, ending_before=record_id)
    assert response.status == 400
    assert response.json()["error"] == "invalid-request-error"


def test_unknown_foreign_and_configured_unknown_cursor_ids_are_rejected(
    make_sim: Callable[..., Simulator],
) -> None:
    sim = make_sim()
    webhook_id = page(sim, source="webhook")[0]["id"]
    api_id = page(sim)[3]["id"]
    for bad in ("nope", webhook_id, api_id[:-1] + "0", "00000000-0000-4000-8000-ffffffffffff"):
        response = get(sim, starting_after=bad)
        assert response.status == 400
        assert response.json() == {
            "error": "invalid-request-error",
            "info": f"starting_after: unknown log id {bad!r}",
        }
    configured = make_sim(FaultConfig(unknown_cursor_ids=frozenset({api_id})))
    assert get(configured, ending_before=api_id).status == 400
    assert configured.stats()["faults_injected"] == {"unknown_cursor": 1}


def test_url_filter_returns_only_exact_matches_and_pages_through_them(
    make_sim: Callable[..., Simulator],
) -> None:
    sim = make_sim()
    truth = sim.truth("api", *WHOLE)
    matching = [r for r in truth if r["url"] == "/v1/meeting-tokens"]
    assert len(matching) > 10
    assert walk(sim, "starting_after", url="/v1/meeting-tokens", limit=7) == matching
    assert page(sim, url="/v1/no-such-route") == []


def test_missing_or_malformed_authorization_header_is_a_400(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim()
    for headers in (
        {},
        {"Authorization": KEY},
        {"Authorization": f"Token {KEY}"},
        {"Authorization": "Bearer "},
    ):
        response = get(sim, headers=headers)
        assert response.status == 400
        assert response.json()["error"] == "authorization-header-error"


def test_a_wrong_key_is_a_401_that_does_not_echo_the_key(make_sim: Callable[..., Simulator]) -> None:
    response = get(make_sim(), headers={"authorization": "Bearer wrong-secret-value"})
    assert response.status == 401
    assert response.json()["error"] == "authentication-error"
    assert b"wrong-secret-value" not in response.body


def test_header_names_are_case_insensitive(make_sim: Callable[..., Simulator]) -> None:
    assert get(make_sim(), headers={"AUTHORIZATION": f"bearer {KEY}"}).status == 200


def test_other_routes_are_404_and_other_methods_405(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim()
    assert sim.handle("GET", "/v1/rooms", {}, AUTH).status == 404
    assert sim.handle("POST", "/v1/logs/api", {}, AUTH).status == 405


def test_truth_selects_a_half_open_window_including_its_edges(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim()
    day_one = sim.truth("api", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z")
    day_two = sim.truth("api", "2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z")
    assert len(day_one) == len(day_two) == 300
    assert day_one[0]["createdAt"] == "2026-01-01T23:59:59.999Z"
    assert day_two[-1]["createdAt"] == "2026-01-02T00:00:00.000Z"
    assert sim.truth("api", *WHOLE) == day_two + day_one


def test_head_arrivals_are_visible_to_later_requests_and_to_truth(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim(FaultConfig(arrivals_per_request=3))
    first = page(sim, limit=5)
    assert sim.count("api") == 603
    second = page(sim, limit=5)
    assert second[3:] == first[:2]
    assert second[0]["createdAt"] >= "2026-01-03T00:00:00.000Z"
    truth = sim.truth("api", *WHOLE)
    assert len(truth) == 606 and truth[:5] != second
    assert sim.count("webhook") == 80


def test_the_same_request_sequence_gives_the_same_responses(make_sim: Callable[..., Simulator]) -> None:
    faults = FaultConfig(seed=3, error_5xx_rate=0.3, rate_429=0.2, truncate_rate=0.2, duplicate_rate=0.2)

    def run() -> list[tuple[int, bytes]]:
        sim = make_sim(faults)
        cursor: list[str] = []
        out = []
        for _ in range(15):
            response = get(sim, limit=10, **({"starting_after": cursor[-1]} if cursor else {}))
            out.append((response.status, response.body))
            if response.status == 200 and response.body.endswith(b"]"):
                cursor.append(response.json()[-1]["id"])
        return out

    first = run()
    assert first == run()
    assert {status for status, _ in first} > {200}


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_server_side_rate_limit_answers_429_with_retry_after_until_tokens_refill(
    small_config: Callable[..., SimulatorConfig],
) -> None:
    clock = FakeClock()
    sim = Simulator(small_config(faults=FaultConfig(rate_limit_per_second=2.0)), clock=clock)
    assert [get(sim).status for _ in range(3)] == [200, 200, 429]
    limited = get(sim)
    assert limited.json()["error"] == "rate-limit-error"
    assert limited.headers["Retry-After"] == "0.5"
    clock.now += 0.5
    assert get(sim).status == 200
    assert get(sim).status == 429


class SlowClock:
    """A clock on which every reading is ``step`` seconds after the last: the simulator's work takes time."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_latency_is_counted_from_the_requests_arrival(small_config: Callable[..., SimulatorConfig]) -> None:
    config = small_config(faults=FaultConfig(latency_ms=100))
    # Building the page took no time: the whole latency is still to wait.
    assert get(Simulator(config, clock=FakeClock())).delay == pytest.approx(0.1)
    # Building the page took longer than the latency: nothing is added on top of it.
    assert get(Simulator(config, clock=SlowClock(step=1.0))).delay == 0.0


def test_a_stall_comes_on_top_of_the_latency(small_config: Callable[..., SimulatorConfig]) -> None:
    config = small_config(faults=FaultConfig(latency_ms=100, stall_rate=1.0, stall_seconds=2.0))
    assert get(Simulator(config, clock=FakeClock())).delay == pytest.approx(2.1)
    assert get(Simulator(config, clock=SlowClock(step=1.0))).delay == pytest.approx(2.0)


# -- Daily's list object, retention and the key's domain -------------------------------------------


@pytest.mark.parametrize("convention", ["stripe", "literal"])
def test_the_object_page_shape_holds_the_same_records_under_data(
    make_sim: Callable[..., Simulator], convention: str
) -> None:
    arrays = make_sim(convention=convention)
    objects = make_sim(convention=convention, page_shape="object")
    cursor = page(arrays, limit=50)[-1]["id"]

    for params in ({"limit": 50}, {"limit": 50, OLDER[convention]: cursor}, {"limit": 7, "url": "/v1/rooms"}):
        body = get(objects, **params).json()
        assert set(body) == {"total_count", "data"}
        assert body["data"] == page(arrays, **params)
    assert get(objects, limit=5).json()["total_count"] == 600


@pytest.mark.parametrize("convention", ["stripe", "literal"])
def test_retention_hides_older_records_and_refuses_their_ids_as_cursors(
    make_sim: Callable[..., Simulator], convention: str
) -> None:
    sim = make_sim(convention=convention)
    everything = sim.truth("api", *WHOLE)
    cut = everything[300]["createdAt"]
    forgotten = next(r for r in everything if r["createdAt"] < cut)
    sim.set_faults(FaultConfig(retention_before=cut))

    walked = walk(sim, OLDER[convention], limit=100)

    assert walked == [r for r in everything if r["createdAt"] >= cut]
    refused = get(sim, **{OLDER[convention]: forgotten["id"]})
    assert refused.status == 400 and refused.json()["error"] == "invalid-request-error"
    assert sim.truth("api", *WHOLE) == everything  # the truth still reports what there was


def test_retention_before_must_be_a_timestamp() -> None:
    with pytest.raises(ValueError, match="retention_before"):
        FaultConfig(retention_before="last tuesday")


def test_get_v1_answers_the_keys_domain_and_needs_the_key(make_sim: Callable[..., Simulator]) -> None:
    sim = make_sim()
    answer = sim.handle("GET", "/v1/", {}, AUTH)
    record = page(sim, limit=1)[0]

    assert answer.status == 200
    assert answer.json()["domain_id"] == record["domainId"]
    assert {"domain_name", "domain_id", "config"} <= set(answer.json())
    assert sim.handle("GET", "/v1/", {}, {"Authorization": "Bearer wrong"}).status == 401
    assert sim.stats()["requests"] == 3


def test_two_simulators_are_two_domains_unless_they_share_a_domain_seed(
    small_config: Callable[..., SimulatorConfig],
) -> None:
    def domain(**overrides: Any) -> str:
        return Simulator(small_config(**overrides)).handle("GET", "/v1/", {}, AUTH).json()["domain_id"]

    assert domain(seed=1) != domain(seed=2)
    assert domain(seed=2, domain_seed=1) == domain(seed=1)
