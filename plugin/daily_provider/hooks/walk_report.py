"""What a cursor walk counts and says about itself: its counters, progress lines and coverage warning.

The walk (``pagination.py``) fills a :class:`WalkStats` as it goes; the functions here turn the
counters into the lines an operator on call reads (one progress line per N pages, one summary at the
end, a warning when Daily ran out of records before the window's start) and format ids and times
for the walk's error messages.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from daily_provider.hooks.pages import LogEntry
from daily_provider.window import Window


@dataclass
class WalkStats:
    """Counters filled in while walking; the operator logs and audits them."""

    requests: int = 0
    pages: int = 0
    retries: int = 0
    records_seen: int = 0
    records_yielded: int = 0
    duplicates_skipped: int = 0
    convention: str | None = None
    oldest_seen: datetime | None = None
    newest_seen: datetime | None = None
    rate_limited: int = 0
    waited_seconds: float = 0.0
    started_after: str | None = None  # the id of the start cursor the walk used, None from the head
    cursors_rejected: int = 0  # start cursors the API refused before one worked (or the head was used)
    # True once Daily had no older record to give (an empty page) before the walk passed its start:
    # the records older than ``oldest_seen`` are gone (retention) or never were.
    reached_end: bool = False


def progress_text(stats: WalkStats, elapsed: float, *, convention: str | None, final: bool = False) -> str:
    """One progress line of a walk ``elapsed`` seconds in; ``final`` adds the summary's details.

    ``convention`` is the walk's own (the stats may be shared with a walk from a refused cursor).
    """
    elapsed = max(elapsed, 1e-9)
    text = (
        f"{stats.pages} pages, {stats.records_seen} records seen, {stats.records_yielded} in window, "
        f"{stats.requests} requests, {stats.retries} retries, {stats.records_seen / elapsed:.1f} records/s"
    )
    if final:
        span = (
            f"{ts(stats.oldest_seen)} .. {ts(stats.newest_seen)}"
            if stats.oldest_seen and stats.newest_seen
            else "none"
        )
        start = f"after record {stats.started_after}" if stats.started_after else "at the newest record"
        text += (
            f", {stats.duplicates_skipped} duplicates skipped, {stats.rate_limited} rate-limited, "
            f"{stats.waited_seconds:.1f} s waited, convention {convention or 'not needed'}, "
            f"started {start}, records seen span {span}, {elapsed:.1f} s"
        )
    return text


def warn_if_uncovered(logger: logging.Logger, stats: WalkStats, window: Window, describe: str) -> None:
    """Warn when Daily ran out of records before the window's start: that part is not covered."""
    if stats.oldest_seen is None:
        logger.warning(
            "Daily returned no records at all (%s); if records are expected, check the source, "
            "the url filter and the key's domain. Nothing of the window is covered.",
            describe,
        )
    elif stats.oldest_seen > window.start:
        logger.warning(
            "Daily returned nothing older than %s, which is after the window start %s (%s): "
            "Daily no longer keeps what is older (retention), so only the part from %s on is "
            "covered and rows older than that are kept as they are.",
            ts(stats.oldest_seen),
            ts(window.start),
            describe,
            ts(stats.oldest_seen),
        )


def ts(moment: datetime | None) -> str:
    """A UTC time as Daily writes it (``...Z``, milliseconds unless finer), or ``none``."""
    if moment is None:
        return "none"
    spec = "milliseconds" if moment.microsecond % 1000 == 0 else "microseconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


def entry_list(entries: Sequence[LogEntry], limit: int = 5) -> str:
    """``id at time`` of the first ``limit`` entries, for messages."""
    shown = ", ".join(f"{e.id} at {ts(e.created_at)}" for e in entries[:limit])
    more = len(entries) - limit
    return shown + (f" and {more} more" if more > 0 else "")
