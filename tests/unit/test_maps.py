"""Map paths: parsing what a user declares, and the normalizer keeping map-shaped objects whole."""

from __future__ import annotations

import json
from typing import Any

import pytest

from daily_provider.exceptions import DailyConfigError
from daily_provider.maps import compile_map_paths, parse_map_path
from daily_provider.normalize import NormalizeConfig, Normalizer, normalize_record
from daily_provider.schema import CORE_COLUMNS


def record(method: str, url: str, response: Any = None, request: Any = None) -> dict[str, Any]:
    return {
        "id": "r1",
        "createdAt": "2024-03-15T18:42:00.000Z",
        "source": "api",
        "method": method,
        "url": url,
        "status": 200,
        "request": None if request is None else json.dumps(request),
        "response": None if response is None else json.dumps(response),
    }


def flattened(row: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in row.items() if name not in CORE_COLUMNS}


def test_map_paths_parse_body_paths_and_whole_bodies_of_one_endpoint() -> None:
    assert parse_map_path("request.payload.sip_headers") == ("", "", ("request", "payload", "sip_headers"))
    assert parse_map_path("GET /v1/presence response") == ("GET", "/v1/presence", ("response",))
    assert parse_map_path("/v1/presence response") == ("", "/v1/presence", ("response",))


@pytest.mark.parametrize(
    "spec",
    ["", "payload.x", "response", "GET /v1/presence response.data", "GET presence response", "a b c d"],
)
def test_map_paths_that_cannot_work_are_refused_with_an_example(spec: str) -> None:
    with pytest.raises(DailyConfigError):
        compile_map_paths([spec])


def test_a_mapping_to_false_undeclares_a_default_map() -> None:
    rules = compile_map_paths({"GET /v1/presence response": False})
    assert rules.body_rule("response", "GET", "/v1/presence") is False
    assert compile_map_paths(None).body_rule("response", "GET", "/v1/presence") is True


def test_the_presence_answer_keyed_by_room_name_is_not_flattened() -> None:
    body = {"all-hands-04jij6": [{"room": "all-hands-04jij6", "id": "p1"}], "support-zxaa0v": []}
    row = normalize_record(record("GET", "/v1/presence", response=body))
    assert flattened(row) == {}
    assert json.loads(row["response"]) == body


def test_a_declared_body_map_applies_to_its_endpoint_only() -> None:
    row = normalize_record(record("GET", "/v1/rooms/lobby", response={"name": "lobby"}))
    assert flattened(row) == {"response__name": "lobby"}


def test_a_declared_nested_map_is_one_json_column_at_its_path() -> None:
    request = {"type": "dialin.connected", "payload": {"sip_headers": {"X-Call-Id": "c1"}, "room": "r"}}
    row = normalize_record(record("POST", "https://hooks.example.com/daily", request=request))
    assert flattened(row) == {
        "request__type": "dialin.connected",
        "request__payload__sip_headers": '{"X-Call-Id":"c1"}',
        "request__payload__room": "r",
    }


def test_an_object_with_more_keys_than_the_threshold_is_one_json_column() -> None:
    many = {f"key{index}": index for index in range(51)}
    row = normalize_record(record("GET", "/v1/x", response={"by_id": many, "few": {"a": 1}}))
    assert flattened(row) == {
        "response__by_id": json.dumps(many, separators=(",", ":")),
        "response__few__a": 1,
    }
    off = normalize_record(
        record("GET", "/v1/x", response={"by_id": many}), NormalizeConfig(map_key_threshold=None)
    )
    assert len(flattened(off)) == 51


@pytest.mark.parametrize("threshold", [0, -1, "50", True])
def test_bad_map_key_thresholds_are_refused(threshold: Any) -> None:
    with pytest.raises(DailyConfigError):
        NormalizeConfig(map_key_threshold=threshold)


def test_without_the_defaults_the_key_count_rule_makes_a_wide_presence_answer_a_map() -> None:
    body = {f"room-{n}": [] for n in range(60)}
    row = normalize_record(
        record("GET", "/v1/presence", response=body), NormalizeConfig(default_map_paths=False)
    )
    assert flattened(row) == {}
    assert json.loads(row["response"]) == body


def test_a_body_declared_not_a_map_is_flattened_however_many_keys_it_shows() -> None:
    body = {f"room-{n}": n for n in range(60)}
    config = NormalizeConfig(map_paths={"GET /v1/presence response": False})
    row = normalize_record(record("GET", "/v1/presence", response=body), config)
    assert len(flattened(row)) == 60


def test_the_root_rule_counts_each_endpoints_keys_on_their_own() -> None:
    config = NormalizeConfig(default_map_paths=False, map_key_threshold=3)
    normalizer = Normalizer(config)
    for index in range(3):  # 6 root keys in all, 2 per endpoint: under the threshold for each
        normalizer.normalize(record("GET", f"/v1/thing-{index}", response={f"a{index}": 1, f"b{index}": 2}))
    assert len(normalizer.column_names()) == 6
    normalizer.normalize(record("GET", "/v1/thing-0", response={"c0": 3, "d0": 4}))  # 4 keys at one endpoint
    assert normalizer.flattener.new_map_bodies == [("GET", "/v1/thing-0", "response")]
    named = {normalizer.flattener.nodes_by_id()[node].path for node in normalizer.column_names()}
    assert named == {("response", key) for key in ("a1", "b1", "a2", "b2")}
