"""The column model: type widening, the naming rule for flattened columns, column-map merging."""

from __future__ import annotations

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
    merge_columns,
    sanitize_key,
    unique_column_name,
    widen,
    widen_all,
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


def test_widen_all_folds_int_float_string_in_any_order() -> None:
    assert widen_all([N, None, F]) == F
    assert widen_all([F, N, S]) == S
    assert widen_all([]) is None


@given(st.lists(st.sampled_from([None, *ColumnType]), max_size=6))
def test_widen_all_does_not_depend_on_order(types: list[ColumnType | None]) -> None:
    assert widen_all(types) == widen_all(list(reversed(types)))


def test_core_and_metadata_columns_follow_the_naming_rule() -> None:
    assert all(is_valid_column_name(name) for name in CORE_COLUMNS)
    assert all(is_valid_column_name(name) for name in METADATA_COLUMNS)


@pytest.mark.parametrize("key", ["name", "max_participants", "exp", "a1"])
def test_lowercase_identifier_keys_are_kept_as_they_are(key: str) -> None:
    assert sanitize_key(key) == key


@pytest.mark.parametrize("key", ["userName", "a b", "é", "", "a__b", "1abc", "trailing_", "x" * 61, "A-B.C"])
def test_other_keys_are_sanitized_with_a_hash_suffix(key: str) -> None:
    part = sanitize_key(key)
    assert is_valid_column_name(part)
    assert "__" not in part
    assert part != key


def test_keys_that_sanitize_alike_get_different_columns() -> None:
    assert sanitize_key("userName") != sanitize_key("username")
    assert sanitize_key("user-name") != sanitize_key("user_name")
    assert column_name("request", ["a__b"]) != column_name("request", ["a", "b"])


def test_column_name_joins_the_prefix_and_path_with_double_underscores() -> None:
    assert column_name("response", ["config", "max_participants"]) == "response__config__max_participants"


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
    assert unique_column_name("request", ["a"], set()) == "request__a"
    taken = {"request__a"}
    second = unique_column_name("request", ["a"], taken)
    assert second != "request__a"
    assert is_valid_column_name(second)
    assert unique_column_name("request", ["a"], taken) == second  # deterministic
    assert unique_column_name("request", ["a"], {*taken, second}) not in {*taken, second}
