"""The covered part of a window: what a walk really fetched, and so what a load may replace."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from daily_provider.scope import LoadScope, covered_part
from daily_provider.window import Window

START = datetime(2026, 1, 2, tzinfo=timezone.utc)
DAY = Window(START, START + timedelta(days=1))
NOON = START + timedelta(hours=12)


def test_a_walk_that_passed_below_the_start_covers_the_whole_window() -> None:
    assert covered_part(DAY, reached_end=False, oldest_seen=START - timedelta(seconds=1)) == DAY


@pytest.mark.parametrize("oldest", [START, START - timedelta(days=3)])
def test_a_walk_that_ran_out_at_or_below_the_start_covers_the_whole_window(oldest: datetime) -> None:
    assert covered_part(DAY, reached_end=True, oldest_seen=oldest) == DAY


def test_a_walk_that_ran_out_inside_the_window_covers_from_the_oldest_record_on() -> None:
    assert covered_part(DAY, reached_end=True, oldest_seen=NOON) == Window(NOON, DAY.end)


@pytest.mark.parametrize("oldest", [None, DAY.end, DAY.end + timedelta(hours=5)])
def test_a_walk_that_returned_nothing_at_or_before_the_end_covers_nothing(oldest: datetime | None) -> None:
    assert covered_part(DAY, reached_end=True, oldest_seen=oldest) is None


def test_a_replace_scope_carries_the_load_scope_and_the_covered_range() -> None:
    scope = LoadScope("daily_api_logs", "api", "domain-1", "/v1/rooms").covering(Window(NOON, DAY.end))

    assert (scope.table, scope.source, scope.domain_id, scope.url_filter) == (
        "daily_api_logs",
        "api",
        "domain-1",
        "/v1/rooms",
    )
    assert scope.covered == Window(NOON, DAY.end)
    assert "domain-1" in str(scope) and "/v1/rooms" in str(scope)
