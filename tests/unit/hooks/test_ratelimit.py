"""The client-side limiter spaces request starts, with a fake clock that advances when it sleeps."""

from __future__ import annotations

import math

import pytest

from daily_provider.hooks.ratelimit import RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_back_to_back_requests_are_spaced_by_the_interval() -> None:
    clock = FakeClock()
    limiter = RateLimiter(2.0, sleep=clock.sleep, clock=clock)
    waits = [limiter.acquire() for _ in range(4)]
    assert waits == [0.0, 0.5, 0.5, 0.5]
    assert clock.now == pytest.approx(101.5)


def test_an_idle_limiter_lets_the_next_request_go_at_once() -> None:
    clock = FakeClock()
    limiter = RateLimiter(2.0, sleep=clock.sleep, clock=clock)
    limiter.acquire()
    clock.now += 10
    assert limiter.acquire() == 0.0
    assert clock.slept == []


def test_time_spent_elsewhere_counts_toward_the_interval() -> None:
    clock = FakeClock()
    limiter = RateLimiter(2.0, sleep=clock.sleep, clock=clock)
    limiter.acquire()
    clock.now += 0.3
    assert limiter.acquire() == pytest.approx(0.2)


def test_infinite_rate_never_waits() -> None:
    clock = FakeClock()
    limiter = RateLimiter(math.inf, sleep=clock.sleep, clock=clock)
    assert [limiter.acquire() for _ in range(5)] == [0.0] * 5
    assert clock.slept == []


@pytest.mark.parametrize("rate", [0.0, -1.0, math.nan])
def test_a_rate_that_is_not_positive_is_refused(rate: float) -> None:
    with pytest.raises(ValueError, match="requests_per_second"):
        RateLimiter(rate)
