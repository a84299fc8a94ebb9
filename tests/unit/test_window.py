"""Window maths: half-open UTC windows, clear errors for naive, reversed and zero-width windows."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from daily_provider.exceptions import DailyConfigError
from daily_provider.window import Window, parse_timestamp, resolve_window

UTC = timezone.utc


def test_parse_timestamp_accepts_z_and_offsets_and_returns_utc() -> None:
    assert parse_timestamp("2026-01-01T00:00:00Z") == datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_timestamp("2026-01-01T01:00:00+01:00") == datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_timestamp("2026-01-01T00:00:00.123Z").microsecond == 123000


@pytest.mark.parametrize("value", ["2026-01-01T00:00:00", datetime(2026, 1, 1)])
def test_naive_timestamps_are_rejected_with_a_hint(value: object) -> None:
    with pytest.raises(DailyConfigError, match="no time zone"):
        parse_timestamp(value)  # type: ignore[arg-type]


def test_garbage_timestamp_is_rejected_with_an_example() -> None:
    with pytest.raises(DailyConfigError, match="not an ISO-8601 timestamp"):
        parse_timestamp("yesterday")


def test_zero_width_window_explains_the_airflow_3_daily_trap() -> None:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(DailyConfigError, match="CronDataIntervalTimetable"):
        Window(moment, moment)


def test_reversed_window_is_rejected() -> None:
    with pytest.raises(DailyConfigError, match="start must come before end"):
        Window.parse("2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z")


def test_window_is_half_open() -> None:
    window = Window.parse("2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z")
    assert window.contains(window.start)
    assert not window.contains(window.end)
    assert window.contains(window.end - timedelta(milliseconds=1))


def test_resolve_window_prefers_explicit_bounds_over_the_data_interval() -> None:
    interval = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))
    assert resolve_window(None, None, *interval) == Window(*interval)
    explicit = resolve_window("2026-02-01T00:00:00Z", "2026-02-01T06:00:00Z", *interval)
    assert explicit.start == datetime(2026, 2, 1, tzinfo=UTC)


def test_resolve_window_needs_both_bounds_or_none() -> None:
    with pytest.raises(DailyConfigError, match="both start and end"):
        resolve_window("2026-02-01T00:00:00Z", None, None, None)


def test_resolve_window_without_any_interval_says_what_to_do() -> None:
    with pytest.raises(DailyConfigError, match="no data interval"):
        resolve_window(None, None, None, None)


def test_zero_width_data_interval_is_an_error_naming_the_fix() -> None:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(DailyConfigError, match="zero-width"):
        resolve_window(None, None, moment, moment)


def test_a_window_from_pendulum_datetimes_holds_plain_utc_datetimes_that_subtract_from_now() -> None:
    import pendulum

    from daily_provider.window import settle_wait

    window = Window(pendulum.datetime(2026, 1, 2, tz="UTC"), pendulum.datetime(2026, 1, 3, tz="Europe/Paris"))

    assert type(window.start) is datetime and type(window.end) is datetime
    assert window.end == datetime(2026, 1, 2, 23, tzinfo=timezone.utc)
    now = datetime(2026, 1, 2, 23, 5, tzinfo=timezone.utc)
    assert settle_wait(window, timedelta(minutes=10), now) == timedelta(minutes=5)
    assert settle_wait(window, timedelta(0), now) == timedelta(0)
