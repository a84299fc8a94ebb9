"""Loads, start to finish: the entry points the operator and the ``daily-logs`` CLI both call.

:func:`load_window` loads one window; :func:`load_range` loads a multi-day range in one walk and
replaces each day (or ``step``) as soon as the walk has passed below its start. Both take a
:class:`~daily_provider.load_spec.LoadSpec` (what to load and how) and run the same walk
(``load_walk.py``), so every path does exactly the same thing. Each window's attempt is recorded in
the ledger (``running``, then ``success``, ``partial``, ``not_covered`` or ``failed``), and each
returns a small summary (``load_summary.py``) that is safe to log and to push to XCom.

Walks start from the nearest cursor anchor at or after the walked range's end when the warehouse
keeps anchors (``walk_anchors.py``), and record new anchors for later walks.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from datetime import timedelta

from daily_provider.anchors import mark_at_or_before
from daily_provider.exceptions import DailyConfigError
from daily_provider.hooks.client import DailyClient
from daily_provider.load_spec import DEFAULT_CHUNK_ROWS, LoadSpec, default_table
from daily_provider.load_summary import LoadSummary, RangeSummary
from daily_provider.load_walk import WalkLoader
from daily_provider.redaction import DEFAULT_REDACTION, Action, RedactionPolicy
from daily_provider.warehouses.base import Warehouse
from daily_provider.window import Window

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "DEFAULT_RANGE_STEP",
    "REDACTION_SECRET_ENV",
    "LoadSpec",
    "LoadSummary",
    "RangeSummary",
    "default_table",
    "load_range",
    "load_window",
    "redaction_policy",
    "split_window",
]

log = logging.getLogger(__name__)
# Marks the load's closing result line, so a caller that prints the result itself (daily-logs) can drop it.
RESULT_RECORD = "daily_load_result"

REDACTION_SECRET_ENV = "DAILY_LOGS_REDACTION_SECRET"
DEFAULT_RANGE_STEP = timedelta(days=1)


def redaction_policy(
    overrides: Mapping[str, Action] | None = None, *, connection_secret: str | None = None
) -> RedactionPolicy:
    """The redaction policy of a load, built from configuration (the operator and the CLI both call it).

    The default rules with ``overrides`` (key name or dotted path -> action), hashing with the secret
    from ``$DAILY_LOGS_REDACTION_SECRET``, else ``connection_secret`` (the connection's extra), else
    none (hashed fields are then dropped).
    """
    secret = os.environ.get(REDACTION_SECRET_ENV) or connection_secret
    policy = DEFAULT_REDACTION.with_overrides(overrides or {})
    return RedactionPolicy(rules=policy.rules, secret=secret.encode("utf-8")) if secret else policy


def load_window(*, hook: DailyClient, warehouse: Warehouse, window: Window, spec: LoadSpec) -> LoadSummary:
    """Load ``spec.source`` records of ``window`` into ``spec.table``, replacing what the window held.

    The table changes only at the warehouse's atomic replace, after every page was fetched and
    staged; any failure before or during it leaves the table as it was and is re-raised after the
    attempt is recorded as ``failed`` in ``daily_logs_loads``. With ``spec.use_anchors`` (and a
    warehouse that is an AnchorStore) the walk starts from the nearest anchor at or after the
    window's end, and the anchors it passes are stored for later walks.
    """
    log.info("loading %s records for %s into %s", spec.source, window, spec.table)
    (summary,) = WalkLoader(hook, warehouse, spec).load(window, [window])
    log.info("%s", summary.describe(), extra={RESULT_RECORD: True})
    return summary


def load_range(
    *,
    hook: DailyClient,
    warehouse: Warehouse,
    window: Window,
    spec: LoadSpec,
    step: timedelta = DEFAULT_RANGE_STEP,
) -> RangeSummary:
    """Load a multi-window range in one walk, replacing each ``step`` window atomically.

    ``window`` is cut at the multiples of ``step`` since the Unix epoch (UTC midnights for the
    default one day), so the pieces are the windows a ``step``-interval DAG loads; the first and
    last may be partial. The walk goes newest to oldest; each piece is staged while the walk is in
    it and replaced as soon as the walk has passed below its start, so at most one piece is staged
    at a time and a failure leaves every piece either fully replaced or as it was (the failed
    piece's attempt is recorded as ``failed``; older pieces were not attempted). Costs about one
    request per ``page_limit`` records of the range, instead of one walk per window.
    """
    pieces = split_window(window, step)
    log.info(
        "loading %s records for %s into %s as %d windows of at most %s, in one walk",
        spec.source,
        window,
        spec.table,
        len(pieces),
        step,
    )
    clock = time.monotonic()
    walk = WalkLoader(hook, warehouse, spec)
    windows = walk.load(window, list(reversed(pieces)))
    stats = walk.stats
    summary = RangeSummary(
        source=spec.source,
        table=spec.table,
        range_start=window.start,
        range_end=window.end,
        windows=tuple(sorted(windows, key=lambda s: s.window_start)),
        requests=stats.requests,
        pages=stats.pages,
        retries=stats.retries,
        seconds=time.monotonic() - clock,
        convention=stats.convention,
        started_after=stats.started_after,
        anchors_rejected=stats.cursors_rejected,
    )
    log.info("%s", summary.describe(), extra={RESULT_RECORD: True})
    return summary


def split_window(window: Window, step: timedelta) -> list[Window]:
    """Cut ``window`` at the multiples of ``step`` since the Unix epoch; oldest piece first."""
    if step <= timedelta(0):
        raise DailyConfigError(f"step={step} must be positive, e.g. timedelta(days=1)")
    pieces = []
    start = window.start
    while start < window.end:
        end = min(mark_at_or_before(start, step) + step, window.end)
        pieces.append(Window(start, end))
        start = end
    return pieces
