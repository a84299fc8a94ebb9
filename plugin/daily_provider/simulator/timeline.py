"""Where each simulated record sits in time, and how its id encodes its position.

A source's records are numbered 0, 1, 2, ... oldest first; the number is the tie-breaking sequence of
the API's total order (createdAt, sequence). Everything here is arithmetic on that index, so the
server can serve any page of a million-record timeline without a table: ``created_ms`` maps an index
to its time, a binary search maps a time back to an index, and the id carries the index in its last
group next to a hash that proves the id was issued for this seed and source.

Timestamps are non-decreasing in the index and spread evenly over each day, with many ties on
purpose: clusters of 2-30 records share one millisecond (some straddle page boundaries), one cluster
sits exactly on each midnight and one on 23:59:59.999, where window edges fall.
"""

from __future__ import annotations

import functools
import hashlib
import re
from datetime import datetime, timedelta, timezone

from daily_provider.simulator.rng import mix64, seed_of

DAY_MS = 86_400_000
BLOCK = 64  # positions per tie-cluster block; each block holds at most one cluster
_CLUSTER_PERCENT = 70
_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-([0-9a-f]{12})$")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def to_ms(moment: datetime) -> int:
    """Milliseconds since the epoch of an aware datetime, rounded up so [start, end) stays half-open."""
    delta = moment - _EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return -(-micros // 1000)


def format_ms(ms: int) -> str:
    """``2024-03-15T18:42:00.000Z``: Daily's createdAt format (UTC, millisecond precision)."""
    # Table lookups instead of number formatting: this runs for every record served.
    day, rest = divmod(ms, DAY_MS)
    second, millis = divmod(rest, 1000)
    return _date_text(day) + _clock_text(second) + _MILLIS[millis]


@functools.lru_cache(maxsize=4096)
def _date_text(day: int) -> str:
    return (_EPOCH + timedelta(days=day)).strftime("%Y-%m-%d")


@functools.cache  # at most 86,400 entries, one per second of the day
def _clock_text(second: int) -> str:
    return f"T{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}."


_MILLIS = tuple(f"{m:03d}Z" for m in range(1000))


class Timeline:
    """Index <-> time <-> id for one source of one seed. Pure and cheap to build."""

    def __init__(self, seed: int, source: str, start_ms: int, days: int, per_day: int) -> None:
        self.seed = seed
        self.source = source
        self.start_ms = start_ms
        self.days = days
        self.per_day = per_day
        self.total = days * per_day
        self.end_ms = start_ms + days * DAY_MS
        self._base = seed_of(seed, source, "timeline")
        self._id_prefix = f"{seed}:{source}:".encode()
        self._edges: dict[int, tuple[int, int]] = {}

    # -- time ---------------------------------------------------------------------------------
    def created_ms(self, index: int) -> int:
        """createdAt of record ``index`` in epoch milliseconds; indices past the timeline are head arrivals."""
        if index >= self.total:
            # Head arrivals: after the timeline end, in pairs sharing a second so they tie as well.
            return self.end_ms + ((index - self.total) // 2) * 1000
        day, position = divmod(index, self.per_day)
        day_ms = self.start_ms + day * DAY_MS
        head, tail = self._day_edges(day)
        if position < head:
            return day_ms
        if position >= self.per_day - tail:
            return day_ms + DAY_MS - 1
        cluster_start = self._cluster_start(day, position)
        return day_ms + cluster_start * DAY_MS // self.per_day

    def first_at_or_after(self, ms: int, count: int) -> int:
        """The smallest index in [0, count] whose createdAt is >= ``ms`` (``count`` when none is)."""
        low, high = 0, count
        while low < high:
            middle = (low + high) // 2
            if self.created_ms(middle) < ms:
                low = middle + 1
            else:
                high = middle
        return low

    def _day_edges(self, day: int) -> tuple[int, int]:
        """Sizes of the midnight cluster and the 23:59:59.999 cluster of ``day``."""
        edges = self._edges.get(day)
        if edges is None:
            h = mix64(self._base ^ (day * 0x9E3779B97F4A7C15 + 1))
            cap = self.per_day // 3
            head = max(1, min(2 + h % 29, cap)) if self.per_day else 0
            tail = min(2 + (h >> 20) % 29, cap)
            edges = self._edges[day] = (head, tail)
        return edges

    def _cluster_start(self, day: int, position: int) -> int:
        """The position whose time ``position`` shares: its cluster's first position, or itself."""
        block = position // BLOCK
        h = mix64(self._base ^ ((day * 1_000_003 + block) * 0xD1B54A32D192ED03 + 7))
        if h % 100 >= _CLUSTER_PERCENT:
            return position
        length = 2 + (h >> 8) % 29
        start = block * BLOCK + (h >> 16) % (BLOCK - length + 1)
        return start if start <= position < start + length else position

    # -- ids ----------------------------------------------------------------------------------
    def identity(self, index: int) -> tuple[str, int]:
        """The record's id, and 64 random bits for the record's own choices."""
        raw = hashlib.blake2b(b"%s%d" % (self._id_prefix, index), digest_size=16).digest()
        h = raw.hex()
        variant = "89ab"[raw[8] & 3]
        record_id = f"{h[0:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{index:012x}"
        return record_id, int.from_bytes(raw[8:], "big")

    def record_id(self, index: int) -> str:
        return self.identity(index)[0]

    def index_of(self, record_id: str) -> int | None:
        """The index an id was issued for by this seed and source, or None for any other string."""
        match = _ID.match(record_id)
        if match is None:
            return None
        index = int(match.group(1), 16)
        return index if self.record_id(index) == record_id else None
