"""Redaction: sensitive fields are dropped or hashed wherever they sit, in bodies, URLs and free text."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from daily_provider.exceptions import DailyConfigError
from daily_provider.normalize import NormalizeConfig, normalize_record
from daily_provider.redaction import DEFAULT_REDACTION, REDACTED, RedactionPolicy, redact_url

SECRET = b"test-secret"
KEYED = NormalizeConfig(redaction=RedactionPolicy(DEFAULT_REDACTION.rules, SECRET))
JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyIjoibXktcm9vbSJ9.c2lnbmF0dXJlLXNpZw"
DROPPED = ["token", "hmac", "basicAuth", "basic_auth", "download_link", "share_token", "assume_role_arn"]
HASHED = ["user_name", "user_id", "ip", "phone", "phone_number", "phoneNumber", "sip_uri", "sipUri"]


def record(request: Any = None, response: Any = None, **fields: Any) -> dict[str, Any]:
    base = {
        "id": "rec-1",
        "createdAt": "2024-03-15T18:42:00.000Z",
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


def keyed_hash(value: str, secret: bytes = SECRET) -> str:
    return "sha256:" + hmac.new(secret, value.encode(), hashlib.sha256).hexdigest()


def body(row: dict[str, Any], prefix: str) -> Any:
    return json.loads(row[prefix])


# -- where a sensitive key sits ------------------------------------------------------------------


def _placements(key: str, value: Any) -> list[tuple[str, Any, Any]]:
    """(placement name, body, expected body after replacement by the marker "M")."""
    return [
        ("top", {key: value, "keep": 1}, {key: "M", "keep": 1}),
        ("nested", {"properties": {key: value, "room_name": "r"}}, {"properties": {key: "M", "room_name": "r"}}),
        ("in a list", {"data": [{key: value}, {"other": 2}]}, {"data": [{key: "M"}, {"other": 2}]}),
        ("list of lists", [[{key: value}]], [[{key: "M"}]]),
        ("past the depth cap", {"a": {"b": {"c": {"d": {"e": {"f": {key: value}}}}}}},
         {"a": {"b": {"c": {"d": {"e": {"f": {key: "M"}}}}}}}),
    ]  # fmt: skip


def _replace_marker(value: Any, marker: str) -> Any:
    if value == "M":
        return marker
    if isinstance(value, dict):
        return {k: _replace_marker(v, marker) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_marker(v, marker) for v in value]
    return value


@pytest.mark.parametrize("prefix", ["request", "response"])
@pytest.mark.parametrize("key", DROPPED)
@pytest.mark.parametrize("placement", range(5))
def test_dropped_fields_get_the_marker_everywhere_in_both_bodies(
    prefix: str, key: str, placement: int
) -> None:
    _, raw_body, expected = _placements(key, "s3cr3t-value")[placement]
    row = normalize_record(record(**{prefix: raw_body}), KEYED)
    assert body(row, prefix) == _replace_marker(expected, REDACTED)
    assert "s3cr3t-value" not in json.dumps(row, default=str)


@pytest.mark.parametrize("prefix", ["request", "response"])
@pytest.mark.parametrize("key", HASHED)
@pytest.mark.parametrize("placement", range(5))
def test_hashed_fields_get_a_keyed_sha256_everywhere_in_both_bodies(
    prefix: str, key: str, placement: int
) -> None:
    _, raw_body, expected = _placements(key, "alice@example.com")[placement]
    row = normalize_record(record(**{prefix: raw_body}), KEYED)
    assert body(row, prefix) == _replace_marker(expected, keyed_hash("alice@example.com"))
    assert "alice@example.com" not in json.dumps(row, default=str)


def test_flattened_columns_carry_the_redacted_values_too() -> None:
    row = normalize_record(record(request={"properties": {"user_name": "Alice", "room_name": "r"}}), KEYED)
    assert row["request__properties__user_name"] == keyed_hash("Alice")
    assert row["request__properties__room_name"] == "r"
    assert normalize_record(record(response={"token": JWT}))["response__token"] == REDACTED


def test_keys_match_case_insensitively() -> None:
    row = normalize_record(record(response={"TOKEN": "a", "Token": "b", "HMAC": "c", "User_Name": "d"}))
    assert set(body(row, "response").values()) == {REDACTED}


def test_hash_is_stable_for_equal_values_and_depends_on_the_secret() -> None:
    first = normalize_record(record(request={"user_id": "u-1"}), KEYED)["request__user_id"]
    again = normalize_record(record(request={"properties": {"user_id": "u-1"}}), KEYED)[
        "request__properties__user_id"
    ]
    other_value = normalize_record(record(request={"user_id": "u-2"}), KEYED)["request__user_id"]
    other_secret = NormalizeConfig(redaction=RedactionPolicy(DEFAULT_REDACTION.rules, b"another-secret"))
    other_key = normalize_record(record(request={"user_id": "u-1"}), other_secret)["request__user_id"]
    assert first == again == keyed_hash("u-1")
    assert other_value != first
    assert other_key == keyed_hash("u-1", b"another-secret") != first


def test_hash_of_non_text_values_uses_their_text_form() -> None:
    row = normalize_record(record(request={"user_id": 12345, "phone": True}), KEYED)
    assert row["request__user_id"] == keyed_hash("12345")
    assert row["request__phone"] == keyed_hash("true")


def test_without_a_secret_hash_rules_drop() -> None:
    row = normalize_record(record(request={"user_name": "Alice"}))
    assert row["request__user_name"] == REDACTED
    assert row["ip"] == REDACTED


def test_ip_column_is_hashed_with_a_secret() -> None:
    assert normalize_record(record(), KEYED)["ip"] == keyed_hash("203.0.113.7")


def test_null_values_stay_null_under_every_rule() -> None:
    row = normalize_record(record(response={"token": None, "user_name": None}), KEYED)
    assert body(row, "response") == {"token": None, "user_name": None}


def test_override_keep_leaves_a_default_field_in_clear() -> None:
    policy = DEFAULT_REDACTION.with_overrides({"User_Name": "keep", "ip": "keep"})
    row = normalize_record(
        record(request={"user_name": "Alice", "token": "t"}), NormalizeConfig(redaction=policy)
    )
    assert body(row, "request") == {"user_name": "Alice", "token": REDACTED}
    assert row["ip"] == "203.0.113.7"
    assert "user_name" not in policy.rules


def test_override_adds_new_rules() -> None:
    policy = DEFAULT_REDACTION.with_overrides({"room_name": "drop"})
    row = normalize_record(record(request={"room_name": "secret-room"}), NormalizeConfig(redaction=policy))
    assert row["request__room_name"] == REDACTED


def test_dotted_path_rule_applies_to_one_place_only() -> None:
    policy = RedactionPolicy({"response.config.owner": "drop"})
    row = normalize_record(
        record(request={"config": {"owner": "a"}}, response={"owner": "b", "config": {"owner": "c"}}),
        NormalizeConfig(redaction=policy),
    )
    assert body(row, "request") == {"config": {"owner": "a"}}
    assert body(row, "response") == {"owner": "b", "config": {"owner": REDACTED}}


def test_dotted_path_rule_reaches_into_lists() -> None:
    policy = RedactionPolicy({"response.data.owner": "drop"})
    row = normalize_record(
        record(response={"data": [{"owner": "a"}, {"owner": "b"}]}), NormalizeConfig(redaction=policy)
    )
    assert body(row, "response") == {"data": [{"owner": REDACTED}, {"owner": REDACTED}]}


def test_dotted_path_keep_wins_over_a_key_rule() -> None:
    policy = DEFAULT_REDACTION.with_overrides({"request.properties.user_name": "keep"})
    row = normalize_record(
        record(request={"properties": {"user_name": "Alice"}, "user_name": "Bob"}),
        NormalizeConfig(redaction=policy),
    )
    assert body(row, "request") == {"properties": {"user_name": "Alice"}, "user_name": REDACTED}


def test_pinless_dialin_numbers_are_hashed_at_the_top_of_the_request_only() -> None:
    row = normalize_record(
        record(request={"From": "+15550001", "To": "+15550002", "data": {"to": "x"}}), KEYED
    )
    assert body(row, "request") == {
        "From": keyed_hash("+15550001"),
        "To": keyed_hash("+15550002"),
        "data": {"to": "x"},
    }


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"token": "encrypt"}, "not an action"),
        ({"url.token": "drop"}, "must start with 'request.' or 'response.'"),
        ({"request..token": "drop"}, "no empty parts"),
        ({"": "drop"}, "key name or a dotted path"),
    ],
)
def test_bad_rules_are_refused_with_a_fix(rules: dict[str, Any], message: str) -> None:
    with pytest.raises(DailyConfigError, match=message):
        RedactionPolicy(rules)


def test_secret_never_shows_in_the_policy_repr() -> None:
    policy = RedactionPolicy({"token": "drop"}, secret=b"super-secret-key")
    assert "super-secret-key" not in repr(policy)
    assert "super-secret-key" not in repr(NormalizeConfig(redaction=policy))


def test_policy_with_the_same_rules_and_secret_compares_equal() -> None:
    assert RedactionPolicy({"a": "drop"}, b"k") == RedactionPolicy({"a": "drop"}, b"k")
    assert RedactionPolicy({"a": "drop"}, b"k") != RedactionPolicy({"a": "hash"}, b"k")


# -- URLs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/v1/rooms/my-room", "/v1/rooms/my-room"),
        (f"/v1/meeting-tokens/{JWT}", f"/v1/meeting-tokens/{REDACTED}"),
        ("/v1/meeting-tokens/opaque-token", f"/v1/meeting-tokens/{REDACTED}"),
        ("/v1/rooms?limit=10&token=abc", f"/v1/rooms?limit=10&token={REDACTED}"),
        ("/v1/x?api_key=k&Signature=s&sig=g&password=p&name=n",
         f"/v1/x?api_key={REDACTED}&Signature={REDACTED}&sig={REDACTED}&password={REDACTED}&name=n"),
        ("https://bucket.s3.amazonaws.com/rec.mp4?X-Amz-Algorithm=AWS4&X-Amz-Credential=AK%2F1&X-Amz-Signature=ff",
         f"https://bucket.s3.amazonaws.com/rec.mp4?X-Amz-Algorithm={REDACTED}&X-Amz-Credential={REDACTED}"
         f"&X-Amz-Signature={REDACTED}"),
        ("https://user:pw@example.com/hook", f"https://{REDACTED}@example.com/hook"),
        (f"https://example.com/cb?t={JWT}&ok=1", f"https://example.com/cb?t={REDACTED}&ok=1"),
        ("https://example.com/cb#access_token=abc", f"https://example.com/cb#access_token={REDACTED}"),
        ("/v1/rooms?flag&token=", "/v1/rooms?flag&token="),
    ],
)  # fmt: skip
def test_redact_url_masks_tokens_credentials_and_signatures(url: str, expected: str) -> None:
    assert redact_url(url, DEFAULT_REDACTION) == expected


def test_redact_url_follows_the_policy_for_query_parameters() -> None:
    keyed = RedactionPolicy(DEFAULT_REDACTION.rules, SECRET)
    assert redact_url("/v1/x?user_id=u-1", keyed) == f"/v1/x?user_id={keyed_hash('u-1')}"
    assert redact_url("/v1/x?token=t", DEFAULT_REDACTION.with_overrides({"token": "keep"})) == "/v1/x?token=t"
    assert redact_url(None, DEFAULT_REDACTION) is None


def test_url_column_is_redacted() -> None:
    row = normalize_record(record(url=f"/v1/meeting-tokens/{JWT}", method="GET"))
    assert row["url"] == f"/v1/meeting-tokens/{REDACTED}"
    assert row["endpoint"] == "/v1/meeting-tokens/{token}"


# -- text that is not JSON -----------------------------------------------------------------------


def test_body_text_masks_jwts_presigned_urls_and_sensitive_pairs() -> None:
    text = (
        f'{{"token":"{JWT}","user_name": "Alice", "download_link": "https://b.s3.amazonaws.com/f?'
        'X-Amz-Signature=abc&X-Amz-Credential=AKIA", "share_token": "st-1", "n": 1, "trunc'
    )
    row = normalize_record(record(response=None) | {"response": text})
    masked = row["response_text"]
    for secret in (JWT, "Alice", "X-Amz-Signature=abc", "AKIA", "st-1"):
        assert secret not in masked
    assert '"n": 1' in masked
    assert row["response"] is None
    assert row["response_parse_error"]


def test_truncated_jwt_in_text_is_masked() -> None:
    row = normalize_record(record() | {"response": '{"token":"eyJhbGciOiJIUz'})
    assert "eyJhbGciOiJIUz" not in row["response_text"]


def test_the_loads_policy_takes_the_environments_secret_over_the_connections_and_applies_overrides(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from daily_provider.load import REDACTION_SECRET_ENV, redaction_policy

    monkeypatch.delenv(REDACTION_SECRET_ENV, raising=False)
    assert redaction_policy().secret is None
    assert redaction_policy(connection_secret="from-connection").secret == b"from-connection"
    monkeypatch.setenv(REDACTION_SECRET_ENV, "from-environment")
    policy = redaction_policy({"user_name": "keep"}, connection_secret="from-connection")
    assert policy.secret == b"from-environment"
    assert policy.rules["user_name"] == "keep"
    assert {k: v for k, v in policy.rules.items() if k != "user_name"} == {
        k: v for k, v in DEFAULT_REDACTION.rules.items() if k.lower() != "user_name"
    }
