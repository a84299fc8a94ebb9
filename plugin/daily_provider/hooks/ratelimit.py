"""Client-side rate limit for the Daily API: a minimum interval between request starts.

Daily's limit is per domain and the logs endpoint is not named in its docs, so we stay under the
lower documented figure (about 2 requests/s) by default instead of learning it from 429s.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class RateLimiter:
    """Space request starts at least ``1 / requests_per_second`` apart (a token bucket of size one).

    Each caller reserves the next free slot under a lock and sleeps outside it, so threads sharing a
    hook queue up instead of bursting. ``math.inf`` disables the limit.
    """

    def __init__(
        self,
        requests_per_second: float,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not requests_per_second > 0:
            raise ValueError(f"requests_per_second must be > 0, got {requests_per_second!r}")
        self.interval = 0.0 if math.isinf(requests_per_second) else 1.0 / requests_per_second
        self._sleep = sleep
        self._clock = clock
        self._next_slot = -math.inf
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait until a request may start; return the seconds waited."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self.interval
        wait = slot - now
        if wait > 0:
            self._sleep(wait)
            return wait
        return 0.0
