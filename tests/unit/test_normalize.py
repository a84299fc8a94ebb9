"""normalize_record: core columns, body parsing, flattening, value types and caps."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest

from daily_provider.exceptions import DailyConfigError
from daily_provider.normalize import NormalizeConfig, Normalizer, normalize_record
from daily_provider.schema import CORE_COLUMNS, ColumnType, column_name, is_valid_column_name

UTC = timezone.utc


def record(request: Any = None, response: Any = None, **fields: Any) -> dict[str, Any]:
    base = {
        "id": "7d3c0a52-2f4e-4b7e-9a55-0d6f1b2c3d4e",
        "createdAt": "2024-03-15T18:42:00.123Z",
        "source": "api",
        "method": "POST",
        "url": "/v1/rooms",
        "status": 200,
        "ip": "203.0.113.7",
        "userId": "user-1",
        "domainId": "domain-1",
        "request": None if request is None else json.dumps(request),
        "response": None if response is None else json.dumps(response),
    }
    base.update(fields)
    return base


def flattened(row: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in row.items() if name not in CORE_COLUMNS}


def types_of(raw: dict[str, Any], config: NormalizeConfig | None = None) -> dict[str, ColumnType]:
    normalizer = Normalizer(config or NormalizeConfig())
    _, entries = normalizer.normalize(raw)
    names = normalizer.column_names()
    return {names[node_id]: kind for node_id, _, kind in entries}


# -- core columns --------------------------------------------------------------------------------


def test_every_core_column_is_present_and_taken_from_the_record() -> None:
    row = normalize_record(record(method="DELETE", url="/v1/rooms/my-room", status=404))
    assert list(row)[: len(CORE_COLUMNS)] == list(CORE_COLUMNS)
    assert row["id"] == "7d3c0a52-2f4e-4b7e-9a55-0d6f1b2c3d4e"
    assert row["created_at"] == datetime(2024, 3, 15, 18, 42, 0, 123000, tzinfo=UTC)
    assert row["source"] == "api"
    assert row["method"] == "DELETE"
    assert row["url"] == "/v1/rooms/my-room"
    assert row["endpoint"] == "/v1/rooms/{name}"
    assert row["status"] == 404
    assert row["is_error"] is True
    assert row["user_id"] == "user-1"
    assert row["domain_id"] == "domain-1"
    assert row["request"] is row["response"] is row["request_text"] is row["request_parse_error"] is None


def test_an_empty_record_gives_all_core_columns_as_none() -> None:
    row = normalize_record({})
    assert row == dict.fromkeys(CORE_COLUMNS)


@pytest.mark.parametrize(
    ("status", "expected", "is_error"),
    [(200, 200, False), ("200", 200, False), (" 404 ", 404, True), (500, 500, True), (399, 399, False),
     (400, 400, True), (201.0, 201, False), ("OK", None, None), ("", None, None), (None, None, None),
     (True, None, None), ("-1", None, None), (2**70, None, None)],
)  # fmt: skip
def test_status_is_coerced_to_int_and_drives_is_error(
    status: Any, expected: int | None, is_error: bool | None
) -> None:
    row = normalize_record(record(status=status))
    assert row["status"] == expected
    assert row["is_error"] is is_error


@pytest.mark.parametrize(
    ("created_at", "expected"),
    [
        ("2024-03-15T18:42:00.000Z", datetime(2024, 3, 15, 18, 42, tzinfo=UTC)),
        ("2024-03-15T18:42:00Z", datetime(2024, 3, 15, 18, 42, tzinfo=UTC)),
        ("2024-03-15T19:42:00.5+01:00", datetime(2024, 3, 15, 18, 42, 0, 500000, tzinfo=UTC)),
        ("2024-03-15T18:42:00.123456789Z", datetime(2024, 3, 15, 18, 42, 0, 123456, tzinfo=UTC)),
        ("2024-03-15T18:42:00", None),
        ("yesterday", None),
        (None, None),
        (1710528120000, None),
    ],
)
def test_created_at_is_parsed_to_aware_utc(created_at: Any, expected: datetime | None) -> None:
    assert normalize_record(record(createdAt=created_at))["created_at"] == expected


def test_non_text_core_values_become_their_text_form() -> None:
    row = normalize_record(record(id=12, userId=True, method=None))
    assert row["id"] == "12"
    assert row["user_id"] == "true"
    assert row["method"] is None


def test_webhook_rows_get_the_customer_url_as_endpoint() -> None:
    row = normalize_record(record(source="webhook", url="https://example.com/hooks/daily?secret=s3"))
    assert row["endpoint"] == "https://example.com/hooks/daily"
    assert "s3" not in row["url"]


# -- bodies --------------------------------------------------------------------------------------


def test_json_column_is_compact_in_original_key_order_with_non_ascii_kept() -> None:
    row = normalize_record(record() | {"request": '{ "z": 1,\n  "a": "héllo ✓ 日本",  "m": [1, 2] }'})
    assert row["request"] == '{"z":1,"a":"héllo ✓ 日本","m":[1,2]}'
    assert row["request__a"] == "héllo ✓ 日本"


@pytest.mark.parametrize(
    "text",
    ["<html><body>502 Bad Gateway</body></html>", '{"name": "my-ro', "OK", "{'single': 1}", "NaN", "1e400"],
)
def test_invalid_json_keeps_the_text_and_the_parser_message(text: str) -> None:
    normalizer = Normalizer()
    core, entries = normalizer.normalize(record() | {"response": text})
    row = dict(zip(CORE_COLUMNS, core, strict=True))
    assert row["response"] is None
    assert row["response_text"] == text
    assert row["response_parse_error"]
    assert entries == []
    assert normalizer.parse_errors == 1


def test_empty_body_text_is_no_body() -> None:
    normalizer = Normalizer()
    core, _ = normalizer.normalize(record() | {"response": ""})
    assert core[list(CORE_COLUMNS).index("response")] is None
    assert normalizer.parse_errors == 0


def test_bytes_bodies_are_parsed_and_invalid_utf8_is_kept_as_replaced_text() -> None:
    assert normalize_record(record() | {"request": b'{"a": 1}'})["request__a"] == 1
    row = normalize_record(record() | {"request": b"\xff\xfe not json"})
    assert row["request_text"] == "\ufffd\ufffd not json"


def test_text_with_lone_surrogates_is_stored_as_valid_utf8() -> None:
    row = normalize_record(record() | {"request": "bad \ud800 text"})
    assert row["request_text"] == "bad ? text"


def test_a_body_that_is_already_parsed_is_accepted() -> None:
    row = normalize_record(record() | {"request": {"properties": {"exp": 5}}, "response": [1, 2]})
    assert row["request"] == '{"properties":{"exp":5}}'
    assert row["request__properties__exp"] == 5
    assert row["response"] == "[1,2]"


@pytest.mark.parametrize("value", [{"a": "bad \ud800"}, {"a": {1, 2}}, {"a": object()}])
def test_an_already_parsed_body_that_is_not_json_is_kept_as_text(value: Any) -> None:
    normalizer = Normalizer()
    core, entries = normalizer.normalize(record() | {"request": value})
    row = dict(zip(CORE_COLUMNS, core, strict=True))
    assert row["request"] is None
    assert row["request_text"]
    row["request_text"].encode("utf-8")
    assert entries == []
    assert normalizer.parse_errors == 1


def test_an_already_parsed_body_is_not_changed_by_redaction() -> None:
    parsed = {"token": "t", "nested": {"user_name": "Alice"}}
    normalize_record(record() | {"response": parsed})
    assert parsed == {"token": "t", "nested": {"user_name": "Alice"}}


@pytest.mark.parametrize(
    ("text", "stored"),
    [("5", "5"), ('"x"', '"x"'), ("true", "true"), ("null", "null"), ("2.5", "2.5"), ("[1,{\"a\":2}]", '[1,{"a":2}]'),
     ("[]", "[]"), ("{}", "{}")],
)  # fmt: skip
def test_json_scalars_and_top_level_arrays_stay_in_the_json_column_only(text: str, stored: str) -> None:
    row = normalize_record(record() | {"response": text})
    assert row["response"] == stored
    assert flattened(row) == {}


# -- flattening and types ------------------------------------------------------------------------


def test_nested_objects_flatten_to_double_underscore_columns_with_types() -> None:
    raw = record(
        request={
            "name": "my-room",
            "privacy": "private",
            "properties": {
                "exp": 1710527690,
                "enable_recording": "cloud",
                "start_video_off": True,
                "ratio": 0.5,
            },
            "created_at": "2024-03-15T18:42:00.000Z",
            "tags": ["a", "b"],
            "gone": None,
        }
    )
    row = normalize_record(raw)
    assert flattened(row) == {
        "request__name": "my-room",
        "request__privacy": "private",
        "request__properties__exp": 1710527690,
        "request__properties__enable_recording": "cloud",
        "request__properties__start_video_off": True,
        "request__properties__ratio": 0.5,
        "request__created_at": datetime(2024, 3, 15, 18, 42, tzinfo=UTC),
        "request__tags": '["a","b"]',
    }
    assert types_of(raw) == {
        "request__name": ColumnType.STRING,
        "request__privacy": ColumnType.STRING,
        "request__properties__exp": ColumnType.INT64,
        "request__properties__enable_recording": ColumnType.STRING,
        "request__properties__start_video_off": ColumnType.BOOL,
        "request__properties__ratio": ColumnType.FLOAT64,
        "request__created_at": ColumnType.TIMESTAMP,
        "request__tags": ColumnType.JSON,
    }


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("2024-03-15T18:42:00Z", ColumnType.TIMESTAMP),
        ("2024-03-15T18:42:00.1+05:30", ColumnType.TIMESTAMP),
        ("2024-03-15T18:42:00.123456-08:00", ColumnType.TIMESTAMP),
        ("2024-03-15T18:42:00", ColumnType.STRING),  # no zone: ambiguous
        ("2024-03-15", ColumnType.STRING),
        ("2024-03-15 18:42:00Z", ColumnType.STRING),
        ("2024-02-30T18:42:00Z", ColumnType.STRING),  # not a date
        ("2024-03-15T18:42:00.1234567Z", ColumnType.STRING),  # finer than microseconds
        ("0001-01-01T00:00:00+01:00", ColumnType.STRING),  # before year 1 in UTC
        ("\uff12\uff10\uff12\uff14-03-15T18:42:00Z", ColumnType.STRING),  # fullwidth digits
        (True, ColumnType.BOOL),
        (0, ColumnType.INT64),
        (-(2**63), ColumnType.INT64),
        (2**63 - 1, ColumnType.INT64),
        (2**63, ColumnType.STRING),
        (-(2**63) - 1, ColumnType.STRING),
        (1.5, ColumnType.FLOAT64),
        (1e300, ColumnType.FLOAT64),
        ([], ColumnType.JSON),
    ],
)
def test_each_value_gets_its_type(value: Any, kind: ColumnType) -> None:
    assert types_of(record(request={"v": value})) == {"request__v": kind}


@pytest.mark.parametrize("number", [2**64, 2**70, -(2**70), 10**40, 2**63, -(2**63) - 1])
def test_integers_beyond_int64_are_kept_exactly_as_decimal_text(number: int) -> None:
    row = normalize_record(record() | {"request": f'{{"n": {number}, "deep": {{"list": [{number}]}}}}'})
    assert row["request__n"] == str(number)
    assert json.loads(row["request"]) == {"n": number, "deep": {"list": [number]}}
    assert json.loads(row["request__deep__list"]) == [number]


def test_a_big_integer_inside_a_top_level_array_is_exact() -> None:
    row = normalize_record(record() | {"response": f"[{2**80}, 1.5]"})
    assert row["response"] == f"[{2**80},1.5]"


def test_big_integers_in_an_already_parsed_body_are_exact() -> None:
    row = normalize_record(record() | {"request": {"n": 2**90}})
    assert row["request__n"] == str(2**90)


def test_large_float_literals_stay_floats() -> None:
    row = normalize_record(record() | {"request": '{"f": 1e19, "g": -2.5e20}'})
    assert row["request__f"] == 1e19
    assert row["request__g"] == -2.5e20


def test_non_identifier_keys_become_valid_distinct_columns() -> None:
    keys = ["roomName", "roomname", "room name", "room-name", "é", "", "123", "a__b", "UPPER", "with.dot"]
    row = normalize_record(record(request=dict.fromkeys(keys, 1)))
    columns = flattened(row)
    assert len(columns) == len(keys)
    assert all(is_valid_column_name(name) for name in columns)
    assert columns[column_name("request", ["roomName"])] == 1


def test_colliding_paths_keep_separate_columns() -> None:
    row = normalize_record(record(request={"a__b": 1, "a": {"b": 2}}))
    assert row["request__a__b"] == 2
    assert row[column_name("request", ["a__b"])] == 1


def test_a_key_spelled_like_another_keys_sanitized_form_gets_its_own_column() -> None:
    lookalike = column_name("request", ["roomName"]).removeprefix("request__")
    row = normalize_record(record(request={"roomName": 1, lookalike: 2}))
    assert sorted(flattened(row).values()) == [1, 2]


def test_objects_deeper_than_max_depth_are_kept_as_json_at_the_cap() -> None:
    deep = {"l1": {"l2": {"l3": {"l4": {"l5": {"l6": {"l7": 1}}, "leaf": "x"}}}}}
    raw = record(request=deep)
    row = normalize_record(raw)
    assert flattened(row) == {
        "request__l1__l2__l3__l4__l5": '{"l6":{"l7":1}}',
        "request__l1__l2__l3__l4__leaf": "x",
    }
    assert types_of(raw)["request__l1__l2__l3__l4__l5"] is ColumnType.JSON
    shallow = flattened(normalize_record(raw, NormalizeConfig(max_depth=2)))
    assert shallow == {"request__l1__l2": '{"l3":{"l4":{"l5":{"l6":{"l7":1}},"leaf":"x"}}}'}


def test_empty_objects_before_the_cap_add_no_column() -> None:
    assert flattened(normalize_record(record(request={"a": {}, "b": 1}))) == {"request__b": 1}


@pytest.mark.parametrize("depth", [300, 500])
def test_bodies_nested_deeper_than_orjson_writes_are_stored_exactly(depth: int) -> None:
    text = '{"a":' * depth + "1" + "}" * depth
    assert normalize_record(record() | {"request": text})["request"] == text


def test_bodies_nested_deeper_than_any_parser_reads_are_kept_as_text() -> None:
    text = "[" * 5000 + "]" * 5000
    row = normalize_record(record() | {"request": text})
    assert row["request"] is None
    assert row["request_text"] == text
    assert "depth" in row["request_parse_error"]


def test_max_columns_caps_flattened_columns_and_keeps_the_rest_in_the_json_column() -> None:
    raw = record(request={"a": 1, "b": {"c": 2, "d": 3}, "e": 4})
    row = normalize_record(raw, NormalizeConfig(max_columns=2))
    assert flattened(row) == {"request__a": 1, "request__b__c": 2}
    assert json.loads(row["request"]) == {"a": 1, "b": {"c": 2, "d": 3}, "e": 4}
    assert flattened(normalize_record(raw, NormalizeConfig(max_columns=0))) == {}


def test_max_columns_counts_per_normalizer_across_records() -> None:
    normalizer = Normalizer(NormalizeConfig(max_columns=2))
    normalizer.normalize(record(request={"a": 1, "b": 2}))
    _, entries = normalizer.normalize(record(request={"a": 5, "c": 3}))
    names = normalizer.column_names()
    assert [names[node_id] for node_id, _, _ in entries] == ["request__a"]


@pytest.mark.parametrize(("max_depth", "max_columns"), [(0, 10), (5, -1), ("5", 10)])
def test_bad_caps_are_refused(max_depth: Any, max_columns: Any) -> None:
    with pytest.raises(DailyConfigError):
        NormalizeConfig(max_depth=max_depth, max_columns=max_columns)


def test_both_bodies_flatten_under_their_own_prefix() -> None:
    row = normalize_record(record(request={"name": "r"}, response={"name": "r", "id": "x"}))
    assert flattened(row) == {"request__name": "r", "response__name": "r", "response__id": "x"}
