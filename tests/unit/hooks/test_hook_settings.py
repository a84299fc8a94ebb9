"""Settings precedence (argument, connection extra, default) and validation before any request."""

from __future__ import annotations

from typing import Any

import pytest

from daily_provider.exceptions import DailyConfigError
from daily_provider.hooks.settings import (
    ClientOptions,
    base_url_from_connection,
    is_loopback_host,
    normalize_base_url,
    resolve_settings,
)

KEY = "sk_live_0123456789abcdef0123"


def resolve(
    *,
    api_key: str | None = KEY,
    host: str | None = None,
    extras: dict[str, Any] | None = None,
    **options: Any,
) -> Any:
    return resolve_settings(
        source="connection 'daily_default'",
        api_key=api_key,
        options=ClientOptions(**options),
        host=host,
        extras=extras,
    )


def test_defaults_match_the_documented_ones() -> None:
    settings = resolve()
    assert settings.base_url == "https://api.daily.co/v1"
    assert settings.requests_per_second == 2.0
    assert settings.max_retries == 6
    assert (settings.connect_timeout, settings.read_timeout) == (10.0, 30.0)
    assert (settings.backoff_base, settings.backoff_max, settings.retry_after_max) == (1.0, 60.0, 300.0)
    assert settings.page_limit == 100
    assert settings.allow_insecure_http is False


def test_argument_beats_extra_beats_default() -> None:
    extras = {"requests_per_second": 5, "max_retries": 3, "timeout": 12}
    from_extras = resolve(extras=extras)
    assert (from_extras.requests_per_second, from_extras.max_retries, from_extras.read_timeout) == (5, 3, 12)
    from_args = resolve(extras=extras, requests_per_second=1.5, max_retries=9, timeout=40)
    assert (from_args.requests_per_second, from_args.max_retries, from_args.read_timeout) == (1.5, 9, 40)


def test_a_base_url_option_beats_the_connection_host() -> None:
    assert resolve(host="http://127.0.0.1:8765/v1").base_url == "http://127.0.0.1:8765/v1"
    assert resolve(base_url="https://proxy.internal/v1", host="http://127.0.0.1:8765/v1").base_url == (
        "https://proxy.internal/v1"
    )


def test_options_given_by_name_override_the_options_object() -> None:
    merged = ClientOptions.merged(ClientOptions(max_retries=2, timeout=5.0), {"timeout": 9.0})
    assert merged == ClientOptions(max_retries=2, timeout=9.0)


def test_an_unknown_option_name_is_a_type_error_listing_the_options() -> None:
    with pytest.raises(TypeError, match=r"requests_per_secnd; the options are base_url, requests_per_second"):
        ClientOptions.merged(None, {"requests_per_secnd": 5})


def test_explicit_zero_retries_and_false_are_respected_over_extras() -> None:
    settings = resolve(
        max_retries=0, allow_insecure_http=False, extras={"max_retries": 5, "allow_insecure_http": True}
    )
    assert settings.max_retries == 0
    assert settings.allow_insecure_http is False


def test_extras_given_as_strings_are_coerced() -> None:
    settings = resolve(extras={"requests_per_second": "4", "max_retries": "2", "allow_insecure_http": "true"})
    assert (settings.requests_per_second, settings.max_retries, settings.allow_insecure_http) == (
        4.0,
        2,
        True,
    )


def test_blank_extras_fall_back_to_defaults() -> None:
    settings = resolve(extras={"requests_per_second": "", "max_retries": None})
    assert (settings.requests_per_second, settings.max_retries) == (2.0, 6)


def test_a_short_read_timeout_shortens_the_connect_timeout_too() -> None:
    assert resolve(timeout=4).connect_timeout == 4


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("requests_per_second", 0),
        ("requests_per_second", -1),
        ("requests_per_second", "fast"),
        ("max_retries", -1),
        ("max_retries", True),
        ("max_retries", 1.5),
        ("timeout", 0),
        ("timeout", float("inf")),
        ("backoff_base", -0.1),
        ("page_limit", 0),
        ("allow_insecure_http", "maybe"),
    ],
)
def test_bad_values_are_config_errors_naming_the_setting(name: str, value: Any) -> None:
    with pytest.raises(DailyConfigError, match=name):
        resolve(**{name: value})


@pytest.mark.parametrize("key", [None, "", "   "])
def test_an_empty_key_is_a_config_error(key: str | None) -> None:
    with pytest.raises(DailyConfigError, match="no Daily API key: connection 'daily_default'"):
        resolve(api_key=key)


@pytest.mark.parametrize("key", ["sk live with spaces", "sk_line\nbreak_123", "sk_ünïcode_123"])
def test_an_unprintable_key_is_refused_without_echoing_it(key: str) -> None:
    with pytest.raises(DailyConfigError) as caught:
        resolve(api_key=key)
    assert key not in str(caught.value)
    assert key.strip() not in str(caught.value)


def test_surrounding_whitespace_of_a_pasted_key_is_dropped() -> None:
    assert resolve(api_key=f"  {KEY}\n").api_key == KEY


def test_the_key_is_not_in_the_settings_repr() -> None:
    assert KEY not in repr(resolve())


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://api.daily.co/v1/", "https://api.daily.co/v1"),
        ("api.daily.co/v1", "https://api.daily.co/v1"),
        ("HTTPS://API.daily.co:8443/v1", "https://api.daily.co:8443/v1"),
        ("http://127.0.0.1:8765/v1", "http://127.0.0.1:8765/v1"),
        ("http://127.4.5.6/v1", "http://127.4.5.6/v1"),
        ("http://localhost:9000/v1", "http://localhost:9000/v1"),
        ("http://[::1]:9000/v1", "http://[::1]:9000/v1"),
    ],
)
def test_base_urls_are_normalized(raw: str, expected: str) -> None:
    assert normalize_base_url(raw, allow_insecure_http=False) == expected


@pytest.mark.parametrize(
    "raw",
    ["api.daily.co", "api.daily.co/", "https://api.daily.co", "https://api.daily.co/", "API.daily.co"],
)
def test_a_base_url_without_a_path_means_dailys_v1_root(raw: str) -> None:
    # Without /v1 every request 404s: Daily serves its API only below /v1.
    assert normalize_base_url(raw, allow_insecure_http=False) == "https://api.daily.co/v1"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765/v1"),
        ("http://localhost:9000/", "http://localhost:9000/v1"),
        ("proxy.internal:8443", "https://proxy.internal:8443/v1"),
    ],
)
def test_any_host_without_a_path_gets_v1_and_keeps_its_scheme_and_port(raw: str, expected: str) -> None:
    assert normalize_base_url(raw, allow_insecure_http=False) == expected


@pytest.mark.parametrize(
    "raw", ["https://proxy.internal/daily", "https://proxy.internal/daily/v1", "http://127.0.0.1:8765/v2"]
)
def test_a_base_url_with_an_explicit_path_is_kept_as_given(raw: str) -> None:
    assert normalize_base_url(raw, allow_insecure_http=False) == raw


def test_plain_http_to_a_remote_host_is_refused_unless_allowed() -> None:
    with pytest.raises(DailyConfigError, match=r"plain http:// .* allow_insecure_http"):
        normalize_base_url("http://proxy.internal/v1", allow_insecure_http=False)
    assert (
        normalize_base_url("http://proxy.internal/v1", allow_insecure_http=True) == "http://proxy.internal/v1"
    )


def test_credentials_in_the_base_url_are_refused_and_not_echoed() -> None:
    with pytest.raises(DailyConfigError) as caught:
        normalize_base_url("https://user:hunter2secret@api.daily.co/v1", allow_insecure_http=False)
    assert "hunter2secret" not in str(caught.value)


@pytest.mark.parametrize(
    "raw",
    ["", "ftp://api.daily.co/v1", "https://", "https://api.daily.co/v1?x=1", "https://api.daily.co:99999/v1"],
)
def test_malformed_base_urls_are_config_errors(raw: str) -> None:
    with pytest.raises(DailyConfigError, match="base URL"):
        normalize_base_url(raw, allow_insecure_http=False)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("127.255.0.9", True),
        ("::1", True),
        ("[::1]", True),
        ("10.0.0.1", False),
        ("api.daily.co", False),
        ("128.0.0.1", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_connection_host_and_port_form_the_base_url() -> None:
    assert base_url_from_connection("http://127.0.0.1:8765/v1", None) == "http://127.0.0.1:8765/v1"
    assert base_url_from_connection("proxy.internal", 8443) == "proxy.internal:8443"
    assert base_url_from_connection("", None) is None
    assert base_url_from_connection(None, 80) is None
