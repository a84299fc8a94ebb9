"""Cursor anchors: records a walk passed, kept so that a later walk can start next to its window.

Daily's logs have no time filter, so a walk for an old window would otherwise page through every
newer record first. While walking, :class:`AnchorRecorder` notes, for each ``spacing`` mark of
createdAt (every hour by default) that the walk passed below, the oldest record at or after that
mark and its older neighbour. A later walk for a window ``[start, end)`` starts after the anchor
nearest at or after ``end`` (:func:`choose_anchors`): the API then returns exactly the records
older than it, which include every record of the window (all have createdAt < end <= the
anchor's), and since the anchor is the last record at or after its mark, a window ending on a
mark reads nothing it does not need. Records tied with the anchor are at or after ``end`` and so
outside the window whatever order the API gives ties, which is why an anchor inside the window is
never used. Pure: no I/O; the warehouses store anchors, the hook walks from them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from daily_provider.hooks.pages import LogEntry
from daily_provider.hooks.pagination import OLDER_PARAM, PageInfo, StartCursor

ANCHOR_SPACING = timedelta(hours=1)
# Anchors tried before a walk gives up on them and starts at the newest record: each refused
# anchor costs one request, and several dead in a row mean the table is stale.
MAX_CANDIDATES = 3
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Anchor:
    """A record to start a walk after, and what we knew about its place when we passed it.

    ``mark`` is the spacing mark (e.g. the hour) this anchor serves: ``created_at >= mark >
    older_created_at``, so the anchor is the oldest record at or after ``mark`` and ``older_id``
    the newest record before it. Starting after the anchor, the API's first record should be
    ``older_id``; an empty page there means the API no longer knows the anchor.
    """

    record_id: str
    created_at: datetime
    convention: str
    mark: datetime
    older_id: str
    older_created_at: datetime

    def cursor(self) -> StartCursor:
        """The hook's start cursor for this anchor."""
        return StartCursor(self.record_id, self.created_at, self.convention, records_follow=True)


def mark_at_or_before(moment: datetime, spacing: timedelta = ANCHOR_SPACING) -> datetime:
    """The latest spacing mark (a multiple of ``spacing`` since the Unix epoch, UTC) at or before ``moment``."""
    return _EPOCH + ((moment - _EPOCH) // spacing) * spacing


class AnchorRecorder:
    """Collect anchors from a walk's pages; pass :meth:`on_page` as the hook's ``on_page``.

    Keeps one anchor per mark passed (at most one per ``spacing`` of createdAt) and the last
    record seen, so memory is O(marks), not O(records). A record followed by a gap of several
    marks serves them all and is kept once, for the newest of them (the mark of its own createdAt).
    """

    def __init__(self, spacing: timedelta = ANCHOR_SPACING) -> None:
        if spacing <= timedelta(0):
            raise ValueError(f"anchor spacing must be positive, got {spacing}")
        self.spacing = spacing
        self._previous: LogEntry | None = None
        # mark -> ((anchor id, createdAt), (older neighbour id, createdAt))
        self._found: dict[datetime, tuple[tuple[str, datetime], tuple[str, datetime]]] = {}

    def on_page(self, info: PageInfo) -> None:
        self.observe(info.entries)

    def observe(self, entries: Iterable[LogEntry]) -> None:
        """Feed records in walk order (newest first, each once)."""
        previous = self._previous
        spacing = self.spacing
        # The mark at or before the previous record. Records come newest first, so a record not
        # older than it shares its mark, and only a record older than it (a crossing) moves it:
        # one comparison per record on the walk's hot path.
        boundary = mark_at_or_before(previous.created_at, spacing) if previous is not None else None
        for entry in entries:
            if boundary is None:
                boundary = mark_at_or_before(entry.created_at, spacing)
            elif entry.created_at < boundary:
                assert previous is not None  # a boundary comes from a previous record
                # Ids and times only: the raw records (bodies) must not live as long as the walk.
                self._found[boundary] = (
                    (previous.id, previous.created_at),
                    (entry.id, entry.created_at),
                )
                boundary = mark_at_or_before(entry.created_at, spacing)
            previous = entry
        self._previous = previous

    def anchors(self, convention: str | None) -> list[Anchor]:
        """The anchors found so far, newest first; none when the walk never learnt the convention
        (it needed one page only), since a later walk could not use them."""
        if convention not in OLDER_PARAM:
            return []
        return [
            Anchor(
                record_id=anchor_id,
                created_at=created_at,
                convention=convention,
                mark=mark,
                older_id=older_id,
                older_created_at=older_created_at,
            )
            for mark, ((anchor_id, created_at), (older_id, older_created_at)) in sorted(
                self._found.items(), reverse=True
            )
        ]


def choose_anchors(
    anchors: Iterable[Anchor], window_end: datetime, limit: int = MAX_CANDIDATES
) -> list[Anchor]:
    """The anchors to try for a window ending at ``window_end``, nearest first.

    Only anchors at or after the end qualify (see the module docstring); among those the oldest
    reads the fewest records outside the window. Duplicates by id are dropped.
    """
    usable = sorted(
        (a for a in anchors if a.created_at >= window_end and a.convention in OLDER_PARAM),
        key=lambda a: (a.created_at, a.record_id),
    )
    chosen: list[Anchor] = []
    seen: set[str] = set()
    for anchor in usable:
        if anchor.record_id not in seen:
            seen.add(anchor.record_id)
            chosen.append(anchor)
        if len(chosen) >= limit:
            break
    return chosen


def unique_anchors(anchors: Iterable[Anchor]) -> list[Anchor]:
    """``anchors`` with at most one per mark and one per record id (the first one wins).

    What a store writes, so the anchor table keeps at most one row per mark and per id.
    """
    marks: set[datetime] = set()
    ids: set[str] = set()
    kept = []
    for anchor in anchors:
        if anchor.mark in marks or anchor.record_id in ids:
            continue
        marks.add(anchor.mark)
        ids.add(anchor.record_id)
        kept.append(anchor)
    return kept
