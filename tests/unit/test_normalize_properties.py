"""Properties of normalization over arbitrary JSON bodies: it never raises, names every column
validly, types every value consistently and stores exactly the redacted body."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from daily_provider.normalize import NormalizeConfig, Normalizer, normalize_record
from daily_provider.redaction import DEFAULT_REDACTION, REDACTED
from daily_provider.schema import CORE_COLUMNS, ColumnType, is_valid_column_name, parse_timestamp_text

_KEY_RULES = {name.lower(): action for name, action in DEFAULT_REDACTION.rules.items() if "." not in name}
_TOP_REQUEST_RULES = {"from", "to"}  # DEFAULT_REDACTION's dotted paths request.From / request.To

timestamps = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(timezone.utc)
).map(lambda moment: moment.isoformat().replace("+00:00", "Z"))
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | timestamps
)
keys = st.text(max_size=12) | st.sampled_from(
    [
        "token",
        "Token",
        "user_name",
        "USER_NAME",
        "ip",
        "hmac",
        "From",
        "to",
        "data",
        "properties",
        "a__b",
        "é",
    ]
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=5),
    max_leaves=20,
)
bodies = st.dictionaries(keys, json_values, max_size=6) | json_values


def expected_redaction(value: Any, *, top_of_request: bool) -> Any:
    """An independent, slow statement of the default policy (no secret: every rule masks)."""
    if isinstance(value, list):
        return [expected_redaction(item, top_of_request=top_of_request) for item in value]
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            masked = _KEY_RULES.get(key.lower()) in ("drop", "hash") or (
                top_of_request and key.lower() in _TOP_REQUEST_RULES
            )
            result[key] = (
                REDACTED if masked and item is not None else expected_redaction(item, top_of_request=False)
            )
        return result
    return value


def record_with(prefix: str, body: Any) -> dict[str, Any]:
    return {"id": "r", "createdAt": "2024-03-15T18:42:00.000Z", "source": "api", prefix: body}


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(body=bodies, prefix=st.sampled_from(["request", "response"]), as_text=st.booleans())
def test_any_json_body_normalizes_into_valid_columns_and_round_trips_redacted(
    body: Any, prefix: str, as_text: bool
) -> None:
    original = copy.deepcopy(body)
    # A str field is always JSON text, so only non-str values can be handed in already parsed.
    parsed = not as_text and not isinstance(body, str)
    raw = record_with(prefix, body if parsed else json.dumps(body, ensure_ascii=False))
    row = normalize_record(raw)
    assert body == original  # a parsed body handed in is not changed
    assert row[f"{prefix}_parse_error"] is None
    if body is None and parsed:  # a null field is no body at all
        assert row[prefix] is None
        return
    assert json.loads(row[prefix]) == expected_redaction(body, top_of_request=prefix == "request")
    for name in row:
        assert name in CORE_COLUMNS or (is_valid_column_name(name) and name.startswith(f"{prefix}__"))


_PYTHON_TYPES = {
    ColumnType.BOOL: bool,
    ColumnType.INT64: int,
    ColumnType.FLOAT64: float,
    ColumnType.STRING: str,
    ColumnType.TIMESTAMP: str,
    ColumnType.JSON: str,
}


@settings(max_examples=60, deadline=None)
@given(body=st.dictionaries(keys, json_values, max_size=6))
def test_every_flattened_value_matches_its_type(body: dict[str, Any]) -> None:
    _, entries = Normalizer().normalize(record_with("response", json.dumps(body)))
    names = [name for name, _, _ in entries]
    assert len(names) == len(set(names))
    for _, value, kind in entries:
        assert type(value) is _PYTHON_TYPES[kind]
        if kind is ColumnType.INT64:
            assert -(2**63) <= value < 2**63
        elif kind is ColumnType.TIMESTAMP:
            assert parse_timestamp_text(value) is not None
        elif kind is ColumnType.JSON:
            json.loads(value)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_text_body_is_stored_as_json_or_as_text_never_lost(text: str) -> None:
    row = normalize_record(record_with("response", text))
    if text == "":
        assert row["response"] is row["response_text"] is None
    elif row["response"] is None:
        assert row["response_parse_error"]
        assert row["response_text"] is not None
    else:
        assert row["response_parse_error"] is None


@settings(max_examples=30, deadline=None)
@given(
    body=st.dictionaries(keys, json_values, max_size=6),
    max_columns=st.integers(0, 5),
    max_depth=st.integers(1, 3),
)
def test_caps_bound_columns_and_depth(body: dict[str, Any], max_columns: int, max_depth: int) -> None:
    row = normalize_record(
        record_with("request", json.dumps(body)),
        NormalizeConfig(max_depth=max_depth, max_columns=max_columns),
    )
    flattened = [name for name in row if name not in CORE_COLUMNS]
    assert len(flattened) <= max_columns
