"""Pure retry decisions for the Daily transport: what is worth retrying, and how long to wait.

Nothing here sleeps or does I/O; the hook asks these functions and does the waiting itself, so the
rules can be tested with plain asserts and property-based tests.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import requests

# Beyond 2**62 the exponential term is far past any sane cap; stop computing it there.
_MAX_EXPONENT = 62
_DELTA_SECONDS = re.compile(r"\d+(\.\d+)?")


class MalformedResponse(ValueError):
    """A 2xx answer whose body is not what the endpoint promises: retried like a 5xx, never trusted."""


def is_retryable_status(status: int) -> bool:
    """Return True for statuses that a later attempt may fix: 429 (rate limit) and every 5xx."""
    return status == 429 or 500 <= status <= 599


def is_retryable_exception(error: BaseException) -> bool:
    """Return True for transport failures that a later attempt may fix.

    Connection errors (including a connection dropped mid-body), timeouts and bodies that failed to
    decode are retried. A TLS verification failure is not: it needs a fix, not patience.
    """
    if isinstance(error, requests.exceptions.SSLError):
        return False
    return isinstance(
        error,
        requests.ConnectionError
        | requests.Timeout
        | requests.exceptions.ChunkedEncodingError
        | requests.exceptions.ContentDecodingError,
    )


def backoff_delay(attempt: int, base: float, cap: float, rng: Callable[[], float] = random.random) -> float:
    """Return the wait before retry number ``attempt`` (0 for the first retry), with full jitter.

    The delay is uniform in ``[0, min(cap, base * 2**attempt)]``: spreading the retries of parallel
    backfill tasks that share one per-domain rate limit matters more than a predictable schedule.
    """
    if attempt < 0:
        raise ValueError(f"attempt must be >= 0, got {attempt}")
    ceiling = cap if attempt > _MAX_EXPONENT else min(cap, base * (2**attempt))
    return max(0.0, ceiling) * rng()


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Return the seconds a ``Retry-After`` header asks us to wait, or None if absent or unreadable.

    Accepts delta-seconds (``"3"``, leniently ``"1.5"``) or an HTTP date; a date in the past means
    no wait. ``now`` must be an aware datetime.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if _DELTA_SECONDS.fullmatch(text):
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        # RFC 9110 dates are GMT; "-0000" parses as naive.
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - now).total_seconds())


def retry_delay(
    attempt: int,
    retry_after: float | None,
    *,
    base: float,
    cap: float,
    retry_after_max: float,
    rng: Callable[[], float] = random.random,
) -> float:
    """Return how long to wait before retry ``attempt``: the server's ``Retry-After`` (bounded), else backoff."""
    if retry_after is not None:
        return min(max(0.0, retry_after), retry_after_max)
    return backoff_delay(attempt, base, cap, rng)
