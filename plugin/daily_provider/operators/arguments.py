"""Small pure helpers for operator arguments, and the one rule that decides which errors skip retries."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TypeVar

from daily_provider.compat import AirflowFailException
from daily_provider.exceptions import DailyAPIError, DailyConfigError
from daily_provider.scope import checked_source

_T = TypeVar("_T")

# Daily's answers that no retry changes: a bad or missing key, a malformed request, no permission.
_FAIL_FAST_STATUSES = frozenset({400, 401, 403})


@contextmanager
def fail_without_retries() -> Iterator[None]:
    """Turn configuration and authentication errors into AirflowFailException: the task fails at once.

    A wrong key or a bad argument fails the same way on every try, so Airflow's retries (and their
    backoff) would only delay the error. Everything else (429s that outlasted the client's retries,
    5xx, network, a warehouse hiccup) stays retryable.
    """
    try:
        yield
    except DailyConfigError as exc:
        raise AirflowFailException(f"bad configuration, not retried: {exc}") from exc
    except DailyAPIError as exc:
        if exc.status not in _FAIL_FAST_STATUSES:
            raise
        raise AirflowFailException(f"Daily refused the request, not retried: {exc}") from exc


def as_timedelta(name: str, value: timedelta | float | None) -> timedelta | None:
    """``value`` as a timedelta (a number is seconds); None stays None."""
    if value is None or isinstance(value, timedelta):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DailyConfigError(f"{name}={value!r} must be a timedelta or a number of seconds")
    return timedelta(seconds=value)


def renamed(old_name: str, old_value: _T | None, new_name: str, new_value: _T | None) -> _T | None:
    """``new_value``, or the deprecated ``old_value`` with a warning; both given is an error."""
    if old_value is None:
        return new_value
    if new_value is not None:
        raise DailyConfigError(f"give {new_name}= only; {old_name}= is its deprecated alias")
    warnings.warn(
        f"{old_name}= is deprecated and goes in the next release; use {new_name}= (the Google provider's name)",
        DeprecationWarning,
        stacklevel=3,
    )
    return old_value


def is_templated(value: object) -> bool:
    return isinstance(value, str) and "{{" in value


def blank_to_none(value: str | None) -> str | None:
    # A Variable template with an empty default renders "": that means "not set".
    if value is None or not value.strip():
        return None
    return value.strip()


def checked_arguments(
    *, source: str, chunk_rows: int, partition_width: timedelta, settle: timedelta | float | None
) -> timedelta | None:
    """Check the operator's arguments that need no connection (at DAG parse time); the settle delay."""
    if not is_templated(source):
        checked_source(source)
    if chunk_rows < 1:
        raise DailyConfigError(f"chunk_rows={chunk_rows} must be at least 1")
    if partition_width <= timedelta(0):
        raise DailyConfigError(f"partition_width={partition_width} must be positive, e.g. timedelta(days=1)")
    delay = as_timedelta("settle", settle)
    if delay is not None and delay < timedelta(0):
        raise DailyConfigError(f"settle={settle!r} must not be negative; give 0 to load at once")
    return delay
