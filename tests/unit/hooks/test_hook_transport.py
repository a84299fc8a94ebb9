"""Retries, backoff, Retry-After, fail-fast 4xx and malformed bodies, over HTTP mocked with responses."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from email.utils import formatdate

import pytest
import requests
import responses
from tests.unit.hooks.fake_daily import LOGS_URL, FakeDaily, at, records_at

from daily_provider.exceptions import DailyAPIError, DailyTransportError
from daily_provider.hooks.daily import DailyHook, WalkStats

PAGE = json.dumps(records_at([5, 4]))
JSON = {"Content-Type": "application/json"}


def ok(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, LOGS_URL, body=PAGE, headers=JSON)


def fail(
    rsps: responses.RequestsMock, status: int, error: str, info: str, headers: dict[str, str] | None = None
) -> None:
    rsps.add(responses.GET, LOGS_URL, status=status, json={"error": error, "info": info}, headers=headers)


def ids(hook: DailyHook, stats: WalkStats | None = None) -> list[str]:
    return [r["id"] for r in hook.iter_logs(at(0), at(10), stats=stats)]


# The first page is the whole data set here, so a walk is: newest page + two empty probes.
def then_empty(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, LOGS_URL, body="[]", headers=JSON)


def test_429_with_retry_after_seconds_waits_that_long(
    rsps: responses.RequestsMock, make_hook: Callable[..., DailyHook], sleeps: list[float]
) -> None:
    fail(rsps, 429, "rate-limit-error", "slow down", headers={"Retry-After": "3"})
    ok(rsps)
    then_empty(rsps)
    stats = WalkStats()
    assert ids(make_hook(), stats) == ["log-0000", "log-0001"]
    assert sleeps == [3.0]
    assert (stats.rate_limited, stats.retries, stats.waited_seconds) == (1, 1, 3.0)


def test_429_with_retry_after_http_date_waits_until_then(
    rsps: responses.RequestsMock, make_hook: Callable[..., DailyHook], sleeps: list[float]
) -> None:
    fail(
        rsps,
        429,
        "rate-limit-error",
        "slow down",
        headers={"Retry-After": formatdate(time.time() + 30, usegmt=True)},
    )
    ok(rsps)
    then_empty(rsps)
    ids(make_hook())
    assert len(sleeps) == 1
    assert 28.0 <= sleeps[0] <= 30.0


def test_a_huge_retry_after_is_honoured_only_up_to_300_seconds(
    rsps: responses.RequestsMock, make_hook: Callable[..., DailyHook], sleeps: list[float]
) -> None:
    fail(rsps, 429, "rate-limit-error", "slow down", headers={"Retry-After": "86400"})
    ok(rsps)
    then_empty(rsps)
    ids(make_hook())
    assert sleeps == [300.0]


def test_429_without_retry_after_backs_off_exponentially_with_jitter(
    rsps: responses.RequestsMock, make_hook: Callable[..., DailyHook], sleeps: list[float]
) -> None:
    for _ in range(4):
        fail(rsps, 429, "rate-limit-error", "slow down")
    ok(rsps)
    then_empty(rsps)
    ids(make_hook(backoff_base=1.0, backoff_max=5.0))
    assert len(sleeps) == 4
    for attempt, delay in enumerate(sleeps):
        assert 0.0 <= delay <= min(5.0, 2**attempt)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_server_error_then_success_is_retried(
    status: int, rsps: responses.RequestsMock, make_hook: Callable[..., DailyHook], sleeps: list[float]
) -> None:
    fail(rsps, status, "server-error", "try again")
    ok(rsps)
    then_empty(rsps)
    stats = WalkStats()
    assert ids(make_hook(), stats) == ["log-0000", "log-0001"]
    assert stats.retries == 1 and len(sleeps) == 1


@pytest.mark.parametrize(
    "error",
    [
        requests.ConnectionError("connection reset by peer"),
        requests.exceptions.ChunkedEncodingError("connection dropped mid-body"),
        requests.ReadTimeout("read timed out"),
    ],
)
def test_a_transport_failure_then_success_is_retried(
    error: Exception, rsps: responses.RequestsMock, make_hook: Callable[..., DailyHook]
) -> None:
    rsps.add(responses.GET, LOGS_URL, body=error)
    ok(rsps)
    then_empty(rsps)
    stats = WalkStats()
    assert ids(make_hook(), stats) == ["log-0000", "log-0001"]
    assert stats.retries == 1


@pytest.mark.parametrize(
    ("status", "error", "info"),
    [
        (401, "authentication-error", "Invalid API key"),
        (403, "forbidden-error", "not allowed"),
        (400, "invalid-request-error", "bad source"),
        (400, "authorization-header-error", "malformed header"),
        (404, "not-found", "no such route"),
    ],
)
def test_client_errors_fail_at_once_with_dailys_error_and_info(
    status: int,
    error: str,
    info: str,
    rsps: responses.RequestsMock,
    make_hook: Callable[..., DailyHook],
    sleeps: list[float],
) -> None:
    fail(rsps, status, error, info)
    with pytest.raises(DailyAPIError) as caught:
        ids(make_hook())
    assert len(rsps.calls) == 1
    assert sleeps == []
    assert (caught.value.status, caught.value.error, caught.value.info) == (status, error, info)
    message = str(caught.value)
    assert f'Daily answered {status} {error}: "{info}" for GET /logs/api (source=api, window [' in message
    assert "first page, no cursor" in message


def test_a_client_error_mid_walk_names_the_cursor(
    rsps: responses.RequestsMock, make_hook: Callable[..., DailyHook]
) -> None:
    ok(rsps)
    fail(rsps, 400, "invalid-request-error", "unknown cursor")
    with pytest.raises(DailyAPIError, match="cursor starting_after=log-0001"):
        ids(make_hook())


def test_a_redirect_is_not_followed(
    rsps: responses.RequestsMock, make_hook: Callable[..., DailyHook]
) -> None:
    rsps.add(
        responses.GET, LOGS_URL, status=302, headers={"Location": "https://elsewhere.example/v1/logs/api"}
    )
    with pytest.raises(DailyAPIError, match="Redirects are not followed"):
        ids(make_hook())
    assert len(rsps.calls) == 1


@pytest.mark.parametrize(
    "body",
    [
        "<html><body>502 Bad Gateway</body></html>",
        "",
        '{"total_count": 0, "items": []}',
        "null",
        '[{"id": "log-1", "createdAt": "2024-03-15T00:00:00.00',
        '[{"id": "log-1"}]',
    ],
)
def test_a_malformed_200_is_retried_then_fails_loudly_never_as_an_empty_page(
    body: str, rsps: responses.RequestsMock, make_hook: Callable[..., DailyHook], sleeps: list[float]
) -> None:
    rsps.add(responses.GET, LOGS_URL, body=body, status=200)
    with pytest.raises(DailyTransportError) as caught:
        ids(make_hook(max_retries=2))
    assert len(rsps.calls) == 3
    assert len(sleeps) == 2
    message = str(caught.value)
    assert "after 3 attempts" in message
    assert "malformed 200 body" in message
    assert "window [2024-03-15T00:00:00+00:00, 2024-03-15T00:00:00.010000+00:00)" in message
    assert "first page, no cursor" in message


def test_a_malformed_page_mid_walk_is_retried_with_the_same_cursor(
    rsps: responses.RequestsMock, make_hook: Callable[..., DailyHook]
) -> None:
    fake = FakeDaily(records_at(list(range(10))))
    served: list[str] = []

    def flaky(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        served.append(request.url or "")
        if len(served) == 2:
            return 200, {}, "<html>proxy error</html>"
        return fake.callback(request)

    rsps.add_callback(responses.GET, LOGS_URL, callback=flaky)
    assert [r["id"] for r in make_hook(page_limit=3).iter_logs(at(0), at(10))] == fake.truth(at(0), at(10))
    assert served[1] == served[2]  # the retry asked for the same cursor


def test_retries_that_run_out_raise_a_transport_error(
    rsps: responses.RequestsMock, make_hook: Callable[..., DailyHook]
) -> None:
    fail(rsps, 503, "server-error", "down for maintenance")
    with pytest.raises(
        DailyTransportError, match=r'after 4 attempts \(3 retries\); last error: 503 server-error: "down'
    ):
        ids(make_hook(max_retries=3))
    assert len(rsps.calls) == 4


def test_zero_retries_means_one_attempt(
    rsps: responses.RequestsMock, make_hook: Callable[..., DailyHook]
) -> None:
    fail(rsps, 503, "server-error", "down")
    with pytest.raises(DailyTransportError):
        ids(make_hook(max_retries=0))
    assert len(rsps.calls) == 1


def test_a_tls_failure_is_not_retried(
    rsps: responses.RequestsMock, make_hook: Callable[..., DailyHook]
) -> None:
    rsps.add(responses.GET, LOGS_URL, body=requests.exceptions.SSLError("certificate verify failed"))
    with pytest.raises(DailyTransportError, match="not retried"):
        ids(make_hook())
    assert len(rsps.calls) == 1


def test_the_client_side_rate_limit_spaces_every_request_of_the_hook(
    serve: Callable[..., FakeDaily], make_hook: Callable[..., DailyHook], sleeps: list[float]
) -> None:
    serve(records_at([5, 4, 3]))
    hook = make_hook(requests_per_second=2.0, page_limit=1)
    stats = WalkStats()
    list(hook.iter_logs(at(0), at(10), stats=stats))
    # Nothing really sleeps, so each request reserves the next half-second slot after the last one.
    assert stats.requests == 4  # newest page, probe, one more page, the empty end
    assert sleeps == pytest.approx([0.5, 1.0, 1.5], abs=0.2)
    assert stats.waited_seconds == pytest.approx(sum(sleeps))
