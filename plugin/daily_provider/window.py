"""The half-open UTC time window one load covers, and the checks that keep it honest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from daily_provider.exceptions import DailyConfigError

ZERO_WIDTH_HINT = (
    "Airflow 3's schedule='@daily' gives zero-width data intervals; schedule the DAG with "
    "CronDataIntervalTimetable('0 0 * * *', timezone='UTC') or pass explicit start/end."
)


def parse_timestamp(value: str | datetime, *, name: str = "timestamp") -> datetime:
    """Parse an ISO-8601 string or datetime into an aware UTC datetime; naive input is an error."""
    if isinstance(value, datetime):
        parsed = value
    else:
        text = str(value).strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise DailyConfigError(
                f"{name}={value!r} is not an ISO-8601 timestamp; use e.g. 2024-03-15T00:00:00Z"
            ) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise DailyConfigError(
            f"{name}={value!r} has no time zone; give an aware timestamp such as 2024-03-15T00:00:00Z"
        )
    return parsed.astimezone(timezone.utc)


@dataclass(frozen=True)
class Window:
    """``[start, end)`` in UTC. Both ends are aware datetimes and ``start < end``."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
                raise DailyConfigError(f"window {name}={value!r} must be an aware datetime (UTC)")
            utc = value.astimezone(timezone.utc)
            # A plain datetime, not Airflow's pendulum subclass: its arithmetic with stdlib
            # datetimes differs (pendulum's subtraction fails against datetime.now(timezone.utc)).
            plain = datetime(*utc.timetuple()[:6], utc.microsecond, tzinfo=timezone.utc)
            object.__setattr__(self, name, plain)
        if self.start == self.end:
            raise DailyConfigError(
                f"the window [{self.start.isoformat()}, {self.end.isoformat()}) is zero-width. {ZERO_WIDTH_HINT}"
            )
        if self.start > self.end:
            raise DailyConfigError(
                f"window start {self.start.isoformat()} is after its end {self.end.isoformat()}; "
                "start must come before end"
            )

    @classmethod
    def parse(cls, start: str | datetime, end: str | datetime) -> Window:
        return cls(parse_timestamp(start, name="start"), parse_timestamp(end, name="end"))

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    def __str__(self) -> str:
        return f"[{self.start.isoformat()}, {self.end.isoformat()})"


# Daily writes some logs after their createdAt (a webhook delivery is logged when it ends), so a
# window is loaded only once its end is this far in the past.
DEFAULT_SETTLE = timedelta(minutes=10)


def utc_now() -> datetime:
    """The current time in UTC (callers keep a module-level name for it, so tests can set the clock)."""
    return datetime.now(timezone.utc)


def settle_wait(window: Window, settle: timedelta, now: datetime) -> timedelta:
    """How long from ``now`` until ``window.end + settle`` has passed; zero once it has."""
    if settle < timedelta(0):
        raise DailyConfigError(f"settle={settle} must not be negative; give 0 to load at once")
    return max(window.end + settle - now, timedelta(0))


def resolve_window(
    start: str | datetime | None,
    end: str | datetime | None,
    interval_start: datetime | None,
    interval_end: datetime | None,
) -> Window:
    """Pick the window for one load: explicit ``start``/``end`` win, else the run's data interval.

    A missing or zero-width data interval is an error that tells the DAG author what to change.
    """
    if start in ("", None) and end in ("", None):
        if interval_start is None or interval_end is None:
            raise DailyConfigError(
                "no window: the run has no data interval and no start/end were given. "
                f"Pass start= and end=, or schedule the DAG with a data-interval timetable. {ZERO_WIDTH_HINT}"
            )
        return Window(interval_start, interval_end)
    if start in ("", None) or end in ("", None):
        raise DailyConfigError("give both start and end, or neither (then the data interval is used)")
    assert start is not None and end is not None
    return Window.parse(start, end)
