"""The pure retry rules: what is retried, how long the backoff is, how Retry-After is read."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from daily_provider.hooks.retry import (
    backoff_delay,
    is_retryable_exception,
    is_retryable_status,
    parse_retry_after,
    retry_delay,
)

NOW = datetime(2024, 3, 15, 18, 42, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504, 599])
def test_rate_limit_and_server_errors_are_retried(status: int) -> None:
    assert is_retryable_status(status)


@pytest.mark.parametrize("status", [200, 301, 400, 401, 403, 404, 409, 422])
def test_client_errors_and_success_are_not_retried(status: int) -> None:
    assert not is_retryable_status(status)


@pytest.mark.parametrize(
    "error",
    [
        requests.ConnectionError("reset"),
        requests.ConnectTimeout("connect"),
        requests.ReadTimeout("read"),
        requests.exceptions.ChunkedEncodingError("dropped mid-body"),
        requests.exceptions.ContentDecodingError("bad gzip"),
    ],
)
def test_transport_failures_are_retried(error: Exception) -> None:
    assert is_retryable_exception(error)


@pytest.mark.parametrize(
    "error", [requests.exceptions.SSLError("certificate verify failed"), requests.exceptions.InvalidURL("x")]
)
def test_tls_and_url_errors_are_not_retried(error: Exception) -> None:
    assert not is_retryable_exception(error)


def test_backoff_ceiling_doubles_per_attempt_up_to_the_cap() -> None:
    ceilings = [backoff_delay(attempt, 1.0, 60.0, rng=lambda: 1.0) for attempt in range(8)]
    assert ceilings == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]


def test_backoff_is_full_jitter_down_to_zero() -> None:
    assert backoff_delay(5, 1.0, 60.0, rng=lambda: 0.0) == 0.0
    assert backoff_delay(3, 1.0, 60.0, rng=lambda: 0.5) == 4.0


def test_backoff_survives_huge_attempt_numbers() -> None:
    assert backoff_delay(10_000, 1.0, 60.0, rng=lambda: 1.0) == 60.0


@given(
    attempt=st.integers(min_value=0, max_value=2_000),
    base=st.floats(min_value=0, max_value=10),
    cap=st.floats(min_value=0, max_value=600),
    draw=st.floats(min_value=0, max_value=1),
)
def test_backoff_stays_within_zero_and_its_ceiling(
    attempt: int, base: float, cap: float, draw: float
) -> None:
    delay = backoff_delay(attempt, base, cap, rng=lambda: draw)
    assert 0.0 <= delay <= cap
    if attempt < 60:
        assert delay <= base * 2**attempt


@pytest.mark.parametrize(("value", "expected"), [("3", 3.0), (" 120 ", 120.0), ("0", 0.0), ("1.5", 1.5)])
def test_retry_after_in_seconds(value: str, expected: float) -> None:
    assert parse_retry_after(value, NOW) == expected


def test_retry_after_as_http_date_is_the_time_until_then() -> None:
    assert parse_retry_after("Fri, 15 Mar 2024 18:42:30 GMT", NOW) == 30.0


def test_retry_after_in_the_past_means_no_wait() -> None:
    assert parse_retry_after("Fri, 15 Mar 2024 18:00:00 GMT", NOW) == 0.0


@pytest.mark.parametrize("value", [None, "", "  ", "soon", "-5", "1e3", "Fri, 99 Foo 2024"])
def test_absent_or_unreadable_retry_after_is_none(value: str | None) -> None:
    assert parse_retry_after(value, NOW) is None


@given(
    now=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(timezone.utc)
    ),
    seconds=st.integers(min_value=0, max_value=10**6),
)
def test_retry_after_http_date_round_trips(now: datetime, seconds: int) -> None:
    now = now.replace(microsecond=0)
    header = format_datetime(now + timedelta(seconds=seconds), usegmt=True)
    assert parse_retry_after(header, now) == float(seconds)


def test_retry_after_wins_over_backoff_but_is_bounded() -> None:
    common = {"base": 1.0, "cap": 60.0, "retry_after_max": 300.0, "rng": lambda: 1.0}
    assert retry_delay(0, 7.0, **common) == 7.0  # type: ignore[arg-type]
    assert retry_delay(0, 3600.0, **common) == 300.0  # type: ignore[arg-type]
    assert retry_delay(2, None, **common) == 4.0  # type: ignore[arg-type]
