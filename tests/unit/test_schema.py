"""The column model: type widening, the naming rule for flattened columns, column-map merging."""

from __future__ import annotations

from functools import reduce

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daily_provider.schema import (
    CORE_COLUMNS,
    MAX_COLUMN_NAME_LENGTH,
    METADATA_COLUMNS,
    ColumnType,
    column_name,
    is_valid_column_name,
    legacy_column_name,
    merge_columns,
    name_parts,
    snake_key,
    unique_column_name,
    widen,
)

B, N, F, S, T, J = (
    ColumnType.BOOL,
    ColumnType.INT64,
    ColumnType.FLOAT64,
    ColumnType.STRING,
    ColumnType.TIMESTAMP,
    ColumnType.JSON,
)


@pytest.mark.parametrize(
    ("current", "new", "expected"),
    [
        (None, N, N),
        (N, None, N),
        (None, None, None),
        (N, N, N),
        (N, F, F),
        (F, N, F),
        (N, S, S),
        (F, S, S),
        (B, N, S),
        (B, S, S),
        (T, S, S),
        (T, N, S),
        (J, N, S),
        (J, S, S),
        (J, J, J),
        (T, T, T),
    ],
)
def test_widen_picks_the_narrowest_type_holding_both(
    current: ColumnType | None, new: ColumnType | None, expected: ColumnType | None
) -> None:
    assert widen(current, new) == expected


def test_widening_folds_int_float_string_in_any_order() -> None:
    assert reduce(widen, [N, None, F]) == F
    assert reduce(widen, [F, N, S]) == S
    assert reduce(widen, [], None) is None


@given(st.lists(st.sampled_from([None, *ColumnType]), max_size=6))
def test_widening_a_set_of_types_does_not_depend_on_their_order(types: list[ColumnType | None]) -> None:
    # Staging widens a chunk's types as a set, and chunk by chunk: the order must not matter.
    assert reduce(widen, types, None) == reduce(widen, list(reversed(types)), None)


def test_core_and_metadata_columns_follow_the_naming_rule() -> None:
    assert all(is_valid_column_name(name) for name in CORE_COLUMNS)
    assert all(is_valid_column_name(name) for name in METADATA_COLUMNS)


@pytest.mark.parametrize("key", ["name", "max_participants", "exp", "a1"])
def test_snake_case_keys_are_kept_as_they_are(key: str) -> None:
    assert snake_key(key) == key


# The names a user can guess: dlt's and most warehouses' snake_case.
KEY_PARTS = [
    ("callId", "call_id"),
    ("mtgSessionId", "mtg_session_id"),
    ("displayName", "display_name"),
    ("sipUri", "sip_uri"),
    ("eventTypes", "event_types"),
    ("basicAuth", "basic_auth"),
    ("RoomName", "room_name"),
    ("HTTPServer", "http_server"),
    ("userID", "user_id"),
    ("Room Name", "room_name"),
    ("room-name", "room_name"),
    ("X-Call-Id", "x_call_id"),
    ("user.name", "user_name"),
    ("2fa", "2fa"),
    ("123", "123"),
    ("Größe", "grosse"),
    ("é", "e"),
    ("a__b", "a_b"),
    ("_private", "private"),
    ("trailing_", "trailing"),
    ("UPPER", "upper"),
]


@pytest.mark.parametrize(("key", "part"), KEY_PARTS)
def test_keys_become_snake_case_without_a_hash(key: str, part: str) -> None:
    assert snake_key(key) == part
    assert name_parts([key]) == {key: part}
    assert column_name("request", [key]) == f"request__{part}"


@pytest.mark.parametrize("key", ["", "日本", "🎉", "!!!"])
def test_keys_with_no_latin_letters_or_digits_get_a_hashed_name(key: str) -> None:
    assert snake_key(key) == ""
    part = name_parts([key])[key]
    assert part.startswith("k_") and len(part) == 10
    assert is_valid_column_name(f"request__{part}")


def test_a_long_key_is_cut_and_keeps_a_hash_of_itself() -> None:
    first, second = snake_key("x" * 70), snake_key("x" * 71)
    assert len(first) <= 60 and first != second
    assert "__" not in first


@given(st.text(max_size=80))
def test_every_name_part_is_a_safe_part_of_a_column_name(key: str) -> None:
    part = name_parts([key])[key]
    assert part and "__" not in part and not part.startswith("_") and not part.endswith("_")
    assert is_valid_column_name(f"request__{part}")


def test_keys_whose_snake_forms_clash_get_a_hash_and_the_snake_key_keeps_the_plain_name() -> None:
    parts = name_parts(["userName", "user_name", "UserName"])
    assert parts["user_name"] == "user_name"
    assert parts["userName"].startswith("user_name_") and parts["UserName"].startswith("user_name_")
    assert len(set(parts.values())) == 3


def test_without_a_snake_key_the_smallest_clashing_key_keeps_the_plain_name() -> None:
    assert name_parts(["userName", "UserName"]) == {
        "UserName": "user_name",
        "userName": name_parts(["userName", "user_name"])["userName"],
    }


@given(
    st.lists(st.sampled_from(["userName", "user_name", "UserName", "user-name", "callId", "x"]), unique=True)
)
def test_name_parts_do_not_depend_on_the_order_keys_arrive_in(keys: list[str]) -> None:
    assert name_parts(keys) == name_parts(list(reversed(keys)))
    assert len(set(name_parts(keys).values())) == len(keys)


def test_column_name_joins_the_prefix_and_path_with_double_underscores() -> None:
    assert column_name("response", ["config", "max_participants"]) == "response__config__max_participants"
    assert column_name("response", ["config", "maxParticipants"]) == "response__config__max_participants"
    assert column_name("request", ["a__b"]) != column_name("request", ["a", "b"])


def test_overlong_column_names_are_cut_to_300_characters_and_stay_distinct() -> None:
    first = column_name("request", ["k" * 50] * 10)
    second = column_name("request", ["k" * 50] * 9 + ["j" * 50])
    assert len(first) == len(second) == MAX_COLUMN_NAME_LENGTH
    assert first != second
    assert is_valid_column_name(first)


@settings(max_examples=100)
@given(st.lists(st.text(max_size=80), min_size=1, max_size=8))
def test_every_path_gives_a_valid_column_name(path: list[str]) -> None:
    assert is_valid_column_name(column_name("request", path))


def test_merge_columns_keeps_order_widens_shared_columns_and_appends_new_ones() -> None:
    merged = merge_columns({"a": N, "b": B}, {"c": S, "a": F})
    assert list(merged) == ["a", "b", "c"]
    assert merged == {"a": F, "b": B, "c": S}


def test_unique_column_name_only_changes_a_name_that_is_taken() -> None:
    assert unique_column_name("request__a", ["request", "a"], set()) == "request__a"
    taken = {"request__a"}
    second = unique_column_name("request__a", ["request", "a"], taken)
    assert second != "request__a"
    assert is_valid_column_name(second)
    assert unique_column_name("request__a", ["request", "a"], taken) == second  # deterministic
    assert unique_column_name("request__a", ["request", "a"], {*taken, second}) not in {*taken, second}


def test_legacy_column_name_is_the_hashed_name_tables_of_0_1_have() -> None:
    assert legacy_column_name("request", ["callId"]) == "request__callid_5e9c026c"
    assert legacy_column_name("request", ["room_name"]) == "request__room_name"
