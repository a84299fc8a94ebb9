"""What a load may touch: the one value each destructive step takes its scope from.

A load fetches one source's records of one Daily domain (the API key's), maybe only those of one
``url``, into one table: :class:`LoadScope` names that, and anchors and ledger rows are kept per
LoadScope. A walk also learns how far back Daily still has records; :func:`covered_part` turns
that into the part of a window the load really fetched, and :meth:`LoadScope.covering` builds the
:class:`ReplaceScope` a warehouse's replace deletes by (``sql/<dialect>/delete_window.sql``).
Nothing outside it is ever deleted: not another domain's rows, not another URL's, not the rows
Daily's retention has forgotten. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from daily_provider.exceptions import DailyConfigError
from daily_provider.window import Window

SOURCES = ("api", "webhook")


def checked_source(source: object) -> str:
    """``source`` if Daily knows it (``api`` or ``webhook``), else a DailyConfigError saying so.

    The one check of a load's source, made where the value comes in (operator, CLI, hook).
    """
    if source not in SOURCES:
        raise DailyConfigError(
            f"source={source!r} is not one Daily knows; use 'api' or 'webhook' (bare, without quotes)"
        )
    return str(source)


@dataclass(frozen=True)
class LoadScope:
    """The records one load fetches: a table, a source, the key's Daily domain, a url filter.

    ``url_filter`` is ``""`` when the walk had no filter (every URL).
    """

    table: str
    source: str
    domain_id: str
    url_filter: str = ""

    def __str__(self) -> str:
        text = f"table {self.table}, source={self.source}, domain {self.domain_id}"
        return text + (f", url={self.url_filter}" if self.url_filter else "")

    def covering(self, covered: Window) -> ReplaceScope:
        """The replace scope of this load over ``covered`` (see :func:`covered_part`)."""
        return ReplaceScope(
            table=self.table,
            source=self.source,
            domain_id=self.domain_id,
            url_filter=self.url_filter,
            covered=covered,
        )


@dataclass(frozen=True)
class ReplaceScope:
    """The rows one replace deletes before it inserts the staged rows.

    Rows of ``table`` with this ``source`` and ``created_at`` in ``covered``, and, of those, the
    ones of ``domain_id`` (and of ``url_filter``'s URL when set), plus any row whose id is staged
    again (so a re-run never duplicates a record, whatever the URL filter matched). Every staged
    row must have this source and a ``created_at`` in ``covered``.
    """

    table: str
    source: str
    domain_id: str
    url_filter: str
    covered: Window

    def __str__(self) -> str:
        text = f"{self.covered} of source {self.source!r}, domain {self.domain_id}"
        return text + (f", url {self.url_filter}" if self.url_filter else "")


def covered_part(window: Window, *, reached_end: bool, oldest_seen: datetime | None) -> Window | None:
    """The part of ``window`` a walk really fetched, or None when it fetched none of it.

    A walk that passed below ``window.start`` fetched all of it. One that ran out of records first
    (Daily's retention) fetched ``[oldest record Daily returned, end)``; if Daily returned no record
    before ``window.end``, nothing of the window is covered and a load must change nothing.
    """
    if not reached_end or (oldest_seen is not None and oldest_seen <= window.start):
        return window
    if oldest_seen is None or oldest_seen >= window.end:
        return None
    return Window(oldest_seen, window.end)
