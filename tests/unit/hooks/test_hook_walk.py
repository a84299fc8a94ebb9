"""DailyHook.iter_logs over HTTP (mocked with responses) in both cursor conventions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import pytest
import responses
from tests.unit.hooks.fake_daily import API_KEY, FakeDaily, at, make_record, records_at

from daily_provider.exceptions import DailyConfigError
from daily_provider.hooks.daily import DailyHook, PageInfo, WalkStats

CONVENTIONS = ["stripe", "literal"]


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_every_record_in_the_window_arrives_once_in_both_conventions(
    convention: str, serve: Callable[..., FakeDaily], make_hook: Callable[..., DailyHook]
) -> None:
    fake = serve(records_at(list(range(0, 3000, 7))), convention=convention)
    stats = WalkStats()
    records = list(make_hook(page_limit=25).iter_logs(at(500), at(2500), stats=stats))
    assert [r["id"] for r in records] == fake.truth(at(500), at(2500))
    assert stats.convention == convention
    assert stats.requests == len(fake.requests)
    assert stats.pages >= 12 and stats.retries == 0


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_equal_timestamps_at_start_and_end_follow_the_half_open_rule(
    convention: str, serve: Callable[..., FakeDaily], make_hook: Callable[..., DailyHook]
) -> None:
    offsets = [0] * 3 + [100] * 6 + [150] * 2 + [200] * 6 + [300] * 3
    fake = serve(records_at(offsets), convention=convention, max_limit=4)
    ids = [r["id"] for r in make_hook().iter_logs(at(100), at(200))]
    assert ids == fake.truth(at(100), at(200))
    assert len(ids) == 8


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_a_server_capped_limit_gives_short_pages_that_are_not_the_end(
    convention: str, serve: Callable[..., FakeDaily], make_hook: Callable[..., DailyHook]
) -> None:
    fake = serve(records_at(list(range(60))), convention=convention, max_limit=9)
    ids = [r["id"] for r in make_hook(page_limit=100).iter_logs(at(0), at(60))]
    assert ids == fake.truth(at(0), at(60))
    assert all(r["limit"] == "100" for r in fake.requests)


def test_records_are_the_raw_dicts_daily_sent(
    serve: Callable[..., FakeDaily], make_hook: Callable[..., DailyHook]
) -> None:
    serve(records_at([5]))
    (record,) = make_hook().iter_logs(at(0), at(10))
    assert record == make_record("log-0000", at(5))


def test_requests_carry_the_bearer_key_a_bare_source_and_the_url_filter(
    rsps: responses.RequestsMock, serve: Callable[..., FakeDaily], make_hook: Callable[..., DailyHook]
) -> None:
    fake = serve([make_record("w-1", at(5), source="webhook"), make_record("a-1", at(6))])
    ids = [
        r["id"]
        for r in make_hook().iter_logs(at(0), at(10), "webhook", url_filter="https://hooks.example.com/daily")
    ]
    assert ids == ["w-1"]
    request = rsps.calls[0].request
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert "source=webhook" in (request.url or "")
    assert fake.requests[0] == {"limit": "100", "source": "webhook", "url": "https://hooks.example.com/daily"}


def test_on_page_and_stats_report_the_walk(
    serve: Callable[..., FakeDaily], make_hook: Callable[..., DailyHook]
) -> None:
    serve(records_at([50, 40, 30, 20, 10]))
    pages: list[PageInfo] = []
    stats = WalkStats()
    list(make_hook(page_limit=2).iter_logs(at(15), at(45), stats=stats, on_page=pages.append))
    assert [p.first_id for p in pages] == ["log-0000", "log-0002", "log-0004"]
    assert (stats.records_seen, stats.records_yielded, stats.pages) == (5, 3, 3)
    assert (stats.newest_seen, stats.oldest_seen) == (at(50), at(10))


@pytest.mark.parametrize(
    ("start", "end", "source", "match"),
    [
        (datetime(2024, 3, 15), at(10), "api", "aware"),
        (at(10), at(10), "api", "zero-width"),
        (at(20), at(10), "api", "after its end"),
        (at(0), at(10), '"api"', "without quotes"),
        (at(0), at(10), "webhooks", "'api' or 'webhook'"),
    ],
)
def test_bad_arguments_fail_at_the_call_before_any_request(
    rsps: responses.RequestsMock,
    make_hook: Callable[..., DailyHook],
    start: datetime,
    end: datetime,
    source: str,
    match: str,
) -> None:
    with pytest.raises(DailyConfigError, match=match):
        make_hook().iter_logs(start, end, source)
    assert len(rsps.calls) == 0


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"api_key": "  "}, "no Daily API key"),
        ({"base_url": "ftp://api.daily.co/v1"}, "base URL"),
        ({"base_url": "http://api.daily.co/v1"}, "plain http://"),
        ({"page_limit": 0}, "page_limit"),
        ({"requests_per_second": 0}, "requests_per_second"),
    ],
)
def test_bad_settings_fail_at_the_call_before_any_request(
    rsps: responses.RequestsMock, make_hook: Callable[..., DailyHook], overrides: dict[str, Any], match: str
) -> None:
    hook = make_hook(**overrides)  # constructing never fails: nothing is resolved yet
    with pytest.raises(DailyConfigError, match=match):
        hook.iter_logs(at(0), at(10))
    assert len(rsps.calls) == 0


def test_window_bounds_in_other_time_zones_are_compared_in_utc(
    serve: Callable[..., FakeDaily], make_hook: Callable[..., DailyHook]
) -> None:
    from datetime import timedelta

    fake = serve(records_at([0, 1000, 2000]))
    plus_one = timezone(timedelta(hours=1))
    ids = [
        r["id"] for r in make_hook().iter_logs(at(1000).astimezone(plus_one), at(2000).astimezone(plus_one))
    ]
    assert ids == fake.truth(at(1000), at(2000)) == ["log-0001"]
