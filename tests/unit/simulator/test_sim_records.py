"""Simulated records: determinism, Daily's record shape, and the realistic hard cases the normalizer needs."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from daily_provider.simulator import Simulator, SimulatorConfig, generate_records

FIELDS = [
    "id",
    "userId",
    "domainId",
    "source",
    "ip",
    "method",
    "url",
    "status",
    "createdAt",
    "request",
    "response",
]
CREATED_AT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
CONFIG = SimulatorConfig(seed=11, days=4, api_per_day=1500, webhook_per_day=400)


@pytest.fixture(scope="module")
def api_records() -> list[dict[str, Any]]:
    return list(generate_records(CONFIG, "api"))


@pytest.fixture(scope="module")
def webhook_records() -> list[dict[str, Any]]:
    return list(generate_records(CONFIG, "webhook"))


Node = tuple[int, tuple[str, ...], Any]  # (day index, key path, value) inside a parsed body


@pytest.fixture(scope="module")
def api_bodies(api_records: list[dict[str, Any]]) -> list[tuple[int, str, Any]]:
    """(day index, field, parsed body) of every api body that is valid JSON."""
    bodies = []
    for record in api_records:
        day = int(record["createdAt"][8:10]) - 1
        for field in ("request", "response"):
            ok, body = _parse(record[field])
            if ok:
                bodies.append((day, field, body))
    return bodies


@pytest.fixture(scope="module")
def api_nodes(api_bodies: list[tuple[int, str, Any]]) -> list[Node]:
    return [(day, path, value) for day, _, body in api_bodies for path, value in _walk(body)]


def _parse(text: str | None) -> tuple[bool, Any]:
    if text is None:
        return False, None
    try:
        return True, json.loads(text)
    except ValueError:
        return False, None


def _walk(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, (*path, key))
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item, path)


def _depth(value: Any) -> int:
    if isinstance(value, dict) and value:
        return 1 + max(_depth(item) for item in value.values())
    if isinstance(value, list) and value:
        return max(_depth(item) for item in value)
    return 0


def _bodies(records: list[dict[str, Any]], field: str = "response") -> list[Any]:
    return [body for ok, body in (_parse(r[field]) for r in records) if ok]


def _values_at(nodes: list[Node], key: str) -> list[tuple[int, Any]]:
    """(day index, value) of every ``key`` found in any parsed body."""
    return [(day, value) for day, path, value in nodes if path and path[-1] == key]


def _route(url: str) -> str:
    """The url without its query, with the id after each collection replaced by X."""
    return re.sub(r"/v1/(rooms|meeting-tokens|recordings|meetings)/[^/?]+", r"/v1/\1/X", url).split("?")[0]


def test_same_seed_gives_the_same_records_and_another_seed_different_ones() -> None:
    config = SimulatorConfig(seed=5, days=1, api_per_day=200)
    first = list(generate_records(config, "api"))
    assert first == list(generate_records(SimulatorConfig(seed=5, days=1, api_per_day=200), "api"))
    other = list(generate_records(SimulatorConfig(seed=6, days=1, api_per_day=200), "api"))
    assert [r["id"] for r in first] != [r["id"] for r in other]
    assert [r["response"] for r in first] != [r["response"] for r in other]


def test_generate_records_is_the_whole_timeline_oldest_first_as_truth_serves_it() -> None:
    config = SimulatorConfig(seed=5, days=2, api_per_day=150)
    generated = list(generate_records(config, "api"))
    assert len(generated) == 300
    truth = Simulator(config).truth("api", config.start, "2026-01-03T00:00:00Z")
    assert generated == truth[::-1]


def test_every_record_has_dailys_fields_and_types(api_records: list[dict[str, Any]]) -> None:
    for record in api_records:
        assert list(record) == FIELDS
        assert record["source"] == "api"
        assert CREATED_AT.match(record["createdAt"])
        assert record["url"].startswith("/v1/")
        assert isinstance(record["status"], int | str) and int(record["status"]) >= 200
        assert record["request"] is None or isinstance(record["request"], str)
        assert record["response"] is None or isinstance(record["response"], str)
        if record["method"] == "GET":
            assert record["request"] is None
    assert len({r["id"] for r in api_records}) == len(api_records)


def test_about_two_percent_of_statuses_are_strings(api_records: list[dict[str, Any]]) -> None:
    strings = [r["status"] for r in api_records if isinstance(r["status"], str)]
    assert 0.005 < len(strings) / len(api_records) < 0.05
    assert all(s.isdigit() for s in strings)


def test_about_five_percent_of_bodies_are_not_json(api_records: list[dict[str, Any]]) -> None:
    texts = [r[f] for r in api_records for f in ("request", "response") if r[f] is not None]
    malformed = [t for t in texts if not _parse(t)[0]]
    assert 0.02 < len(malformed) / len(api_records) < 0.09
    assert any(t.lstrip().lower().startswith("<html") for t in malformed)
    assert any(t.startswith(("{", "[")) for t in malformed)  # truncated JSON


def test_every_documented_error_type_appears(api_records: list[dict[str, Any]]) -> None:
    errors = {
        (int(r["status"]), body["error"])
        for r, (ok, body) in ((r, _parse(r["response"])) for r in api_records)
        if ok and isinstance(body, dict) and "error" in body
    }
    for expected in (
        (400, "invalid-request-error"),
        (400, "authorization-header-error"),
        (401, "authentication-error"),
        (403, "forbidden-error"),
        (404, "not-found"),
        (429, "rate-limit-error"),
        (400, "json-parsing-error"),
    ):
        assert expected in errors
    assert any(status >= 500 and error == "server-error" for status, error in errors)


def test_the_typical_daily_routes_appear(api_records: list[dict[str, Any]]) -> None:
    routes = Counter((r["method"], _route(r["url"])) for r in api_records)
    for route in (
        ("POST", "/v1/rooms"),
        ("GET", "/v1/rooms"),
        ("GET", "/v1/rooms/X"),
        ("POST", "/v1/rooms/X"),
        ("DELETE", "/v1/rooms/X"),
        ("POST", "/v1/meeting-tokens"),
        ("GET", "/v1/meeting-tokens/X"),
        ("GET", "/v1/recordings"),
        ("GET", "/v1/recordings/X"),
        ("GET", "/v1/recordings/X/access-link"),
        ("GET", "/v1/presence"),
        ("POST", "/v1/rooms/X/dialOut/start"),
        ("POST", "/v1/dialin/pinlessCallUpdate"),
        ("POST", "/v1/webhooks"),
        ("POST", "/v1/"),
    ):
        assert routes[route] > 0, route


def test_sensitive_values_the_redaction_must_catch_are_present(
    api_records: list[dict[str, Any]], api_nodes: list[Node]
) -> None:
    keys = Counter(path[-1] for _, path, _ in api_nodes if path)
    for key in (
        "token",
        "download_link",
        "share_token",
        "hmac",
        "basicAuth",
        "assume_role_arn",
        "user_name",
        "user_id",
        "phoneNumber",
        "sipUri",
    ):
        assert keys[key] > 0, key
    assert any("@" in value for _, value in _values_at(api_nodes, "user_id"))
    token_urls = [r["url"] for r in api_records if r["url"].startswith("/v1/meeting-tokens/")]
    assert token_urls and all(url.count(".") == 2 for url in token_urls)  # a JWT in the path
    links = [value for _, value in _values_at(api_nodes, "download_link")]
    assert all("X-Amz-Signature=" in link for link in links)


def test_odd_bodies_exist_scalars_arrays_big_ints_non_ascii_odd_keys_deep_nesting(
    api_records: list[dict[str, Any]], api_bodies: list[tuple[int, str, Any]], api_nodes: list[Node]
) -> None:
    bodies = [body for _, _, body in api_bodies]
    assert any(isinstance(b, str | int | float | bool) for b in bodies)
    assert any(body is None for _, field, body in api_bodies if field == "response")  # the JSON text null
    assert any(isinstance(b, list) for b in bodies)
    assert any(isinstance(v, int) and abs(v) >= 2**64 for _, _, v in api_nodes)
    assert any(ord(ch) > 127 for r in api_records for ch in (r["response"] or ""))
    key_sets = [set(v) for _, _, v in api_nodes if isinstance(v, dict)]
    assert any(len({k.lower() for k in keys}) < len(keys) for keys in key_sets)  # collide once lowercased
    assert any(any(re.search(r"[A-Z]", k) for k in keys) for keys in key_sets)  # camelCase
    assert any(any(not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k) for k in keys) for keys in key_sets)
    assert max(_depth(b) for b in bodies) >= 8


def test_keys_appear_and_change_type_over_time(api_nodes: list[Node]) -> None:
    storage_days = {day for day, _ in _values_at(api_nodes, "enable_transcription_storage")}
    assert 0 not in storage_days and {1, 2, 3} <= storage_days
    max_participants = _values_at(api_nodes, "max_participants")
    # rooms' config.max_participants: an integer, then a string from day index 3.
    assert any(isinstance(v, str) and day == 3 for day, v in max_participants)
    assert all(not isinstance(v, str) for day, v in max_participants if day < 3)
    durations = _values_at(api_nodes, "duration")
    assert all(isinstance(v, int) for day, v in durations if day < 2)
    assert any(isinstance(v, float) for day, v in durations if day >= 2)


def test_webhook_rows_are_deliveries_to_the_customer_endpoint(webhook_records: list[dict[str, Any]]) -> None:
    types = Counter()
    statuses = Counter(int(r["status"]) for r in webhook_records)
    for record in webhook_records:
        assert record["source"] == "webhook"
        assert record["method"] == "POST"
        assert record["url"].startswith("https://hooks.example-customer.com/daily?")
        ok, event = _parse(record["request"])
        assert ok and {"version", "type", "id", "payload", "event_ts"} <= set(event)
        types[event["type"]] += 1
    for event_type in (
        "meeting.started",
        "meeting.ended",
        "participant.joined",
        "participant.left",
        "recording.ready-to-download",
    ):
        assert types[event_type] > 0
    assert statuses[200] > 0.7 * len(webhook_records)
    assert statuses[500] and statuses[404] and statuses[504]
    responses = [r["response"] for r in webhook_records]
    assert "OK" in responses and "" in responses and None in responses
    assert any(r and r.startswith("<") for r in responses)
    ready = [
        event["payload"]
        for event in _bodies(webhook_records, "request")
        if event["type"] == "recording.ready-to-download"
    ]
    assert all("download_link" in payload for payload in ready)
