"""Fault decisions: which logs request gets which injected fault.

A decision is a function of the fault seed, the request number (counted from the last
``set_faults``) and the fault's name, so a run with the same seed and the same request sequence sees
the same faults. The only state is what the switches define as state: the 429 burst still to serve
and the server-side rate limiter's token bucket.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from email.utils import formatdate

from daily_provider.simulator.config import FaultConfig
from daily_provider.simulator.rng import unit

BODY_FAULTS = ("drop", "truncate", "html", "empty", "duplicate")


class FaultState:
    """Counters and limiter for one FaultConfig. Not thread-safe: the Simulator holds its lock around it."""

    def __init__(self, config: FaultConfig, clock: Callable[[], float]) -> None:
        self.config = config
        self.requests = 0
        self._burst_left = config.burst_429
        self._clock = clock
        self._tokens = self._capacity()
        self._refilled_at = clock()

    def next_request(self) -> int:
        self.requests += 1
        return self.requests

    def draw(self, request: int, name: str) -> float:
        return unit(self.config.seed, request, name)

    def hit(self, request: int, name: str, rate: float) -> bool:
        return rate > 0.0 and self.draw(request, name) < rate

    def take_burst(self, request: int) -> bool:
        """True while the configured 429 burst lasts (from request ``burst_429_after + 1``); each call uses one."""
        if self._burst_left > 0 and request > self.config.burst_429_after:
            self._burst_left -= 1
            return True
        return False

    def take_token(self) -> float | None:
        """Admit one request under ``rate_limit_per_second``: None if admitted, else seconds until a token."""
        rate = self.config.rate_limit_per_second
        if rate is None:
            return None
        now = self._clock()
        self._tokens = min(self._capacity(), self._tokens + (now - self._refilled_at) * rate)
        self._refilled_at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return None
        return (1.0 - self._tokens) / rate

    def stalls(self, request: int) -> bool:
        """True when ``request`` stalls: past ``stall_after``, or drawn under ``stall_rate``."""
        after = self.config.stall_after
        return (after is not None and request > after) or self.hit(request, "stall", self.config.stall_rate)

    def server_error_status(self, request: int) -> int:
        statuses = self.config.server_error_statuses
        return statuses[min(len(statuses) - 1, int(self.draw(request, "5xx-status") * len(statuses)))]

    def body_fault(self, request: int) -> str | None:
        """At most one body fault per response, checked in a fixed order."""
        for name in BODY_FAULTS:
            if self.hit(request, name, getattr(self.config, f"{name}_rate")):
                return name
        return None

    def retry_after(self, seconds: float) -> dict[str, str]:
        """The Retry-After header for a 429, in the configured style."""
        style = self.config.retry_after
        if style == "none":
            return {}
        if style == "http-date":
            # HTTP dates have whole seconds; round up so a client never retries early.
            return {"Retry-After": formatdate(math.ceil(time.time() + seconds), usegmt=True)}
        return {"Retry-After": format_seconds(seconds)}

    def _capacity(self) -> float:
        rate = self.config.rate_limit_per_second
        return max(1.0, rate) if rate is not None else 0.0


def format_seconds(seconds: float) -> str:
    """Delay-seconds as text: whole numbers as integers ("1"), others with up to 3 decimals ("0.25")."""
    if float(seconds).is_integer():
        return str(int(seconds))
    return f"{seconds:.3f}".rstrip("0").rstrip(".")
