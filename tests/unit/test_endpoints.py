"""Endpoint templates: routes with ids replaced so calls group by route; webhook URLs without secrets."""

from __future__ import annotations

import pytest

from daily_provider.endpoints import endpoint_template, looks_like_id

JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyIjoibXktcm9vbSJ9.c2lnbmF0dXJlLXNpZw"
UUID = "0b3e4f1a-7c2d-4e5f-8a9b-0c1d2e3f4a5b"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/v1/rooms", "/v1/rooms"),
        ("/v1/rooms/my-room", "/v1/rooms/{name}"),
        ("/v1/rooms/my-room/", "/v1/rooms/{name}"),
        ("/v1/rooms/my-room/presence", "/v1/rooms/{name}/presence"),
        ("/v1/rooms/my-room/recordings/start", "/v1/rooms/{name}/recordings/start"),
        ("/v1/rooms/my-room/dialOut/start", "/v1/rooms/{name}/dialOut/start"),
        (f"/v1/rooms/{UUID}", "/v1/rooms/{name}"),
        ("/v1/meeting-tokens", "/v1/meeting-tokens"),
        (f"/v1/meeting-tokens/{JWT}", "/v1/meeting-tokens/{token}"),
        ("/v1/meeting-tokens/not-a-jwt-but-a-token", "/v1/meeting-tokens/{token}"),
        ("/v1/recordings", "/v1/recordings"),
        (f"/v1/recordings/{UUID}", "/v1/recordings/{id}"),
        (f"/v1/recordings/{UUID}/access-link", "/v1/recordings/{id}/access-link"),
        (f"/v1/meetings/{UUID}/participants", "/v1/meetings/{id}/participants"),
        ("/v1/presence", "/v1/presence"),
        ("/v1/logs/api", "/v1/logs/api"),
        ("/v1/rooms?limit=100&ending_before=abc", "/v1/rooms"),
        ("/v1/rooms/my-room?x=1#frag", "/v1/rooms/{name}"),
        ("https://api.daily.co/v1/rooms/my-room", "/v1/rooms/{name}"),
        ("/v1/", "/v1"),
        ("/", "/"),
        ("", ""),
    ],
)
def test_known_api_routes_get_their_template(url: str, expected: str) -> None:
    assert endpoint_template(url, "api") == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"/v1/new-feature/{UUID}/sub", "/v1/new-feature/{id}/sub"),
        ("/v1/new-feature/1234567", "/v1/new-feature/{id}"),
        ("/v1/new-feature/0123456789abcdef0123", "/v1/new-feature/{id}"),
        (f"/v1/new-feature/{JWT}", "/v1/new-feature/{id}"),
        ("/v1/new-feature/plain-name", "/v1/new-feature/plain-name"),
        ("/v1/rooms/my-room/new-action/42", "/v1/rooms/{name}/new-action/{id}"),
        ("/v2/things/987654", "/v2/things/{id}"),
    ],
)
def test_unknown_routes_replace_only_segments_that_look_like_ids(url: str, expected: str) -> None:
    assert endpoint_template(url, "api") == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com/hooks/daily?secret=abc", "https://example.com/hooks/daily"),
        ("https://user:pass@Hooks.Example.com:8443/daily#x", "https://hooks.example.com:8443/daily"),
        ("https://example.com", "https://example.com"),
        (f"https://example.com/hooks/{JWT}", "https://example.com/hooks/{token}"),
        (f"https://example.com/hooks/{UUID}", f"https://example.com/hooks/{UUID}"),
    ],
)
def test_webhook_rows_keep_scheme_host_and_path_without_credentials_or_query(url: str, expected: str) -> None:
    assert endpoint_template(url, "webhook") == expected


def test_missing_url_has_no_endpoint() -> None:
    assert endpoint_template(None, "api") is None
    assert endpoint_template(None, "webhook") is None


@pytest.mark.parametrize(
    ("segment", "expected"),
    [(UUID, True), ("42", True), ("deadbeefdeadbeef", True), (JWT, True), ("my-room", False), ("", False),
     ("v1", False), ("deadbeef", False), ("١٢٣", False)],
)  # fmt: skip
def test_id_shapes(segment: str, expected: bool) -> None:
    assert looks_like_id(segment) is expected
