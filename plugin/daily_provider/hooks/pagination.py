"""The walk over Daily's newest-first log pages toward older records, as a small strategy object.

Daily's docs contradict themselves on which cursor parameter moves toward older records, so the walk
detects it from the data and then holds the API to it: every page must be at or older than its
cursor and bring at least one record not seen before, or the walk stops with the ids and timestamps
involved. It knows records only as id + createdAt + the raw dict, and pages only through a ``fetch``
function, so it runs the same against HTTP, a fake, or the simulator. A walk may also start from a
record a former walk passed (a :class:`StartCursor`, e.g. a stored anchor) instead of the newest
record; if the API no longer accepts that cursor, the walk raises :class:`CursorRejected` before it
has yielded anything, so the caller can start again elsewhere without losing or repeating a record.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from daily_provider.exceptions import DailyAPIError, DailyConfigError, DailyPaginationError
from daily_provider.hooks.pages import LogEntry
from daily_provider.hooks.walk_report import WalkStats, entry_list, progress_text, ts, warn_if_uncovered
from daily_provider.window import Window

STRIPE = "stripe"
LITERAL = "literal"
# The query parameter that moves toward older records under each reading of the docs.
OLDER_PARAM = {STRIPE: "starting_after", LITERAL: "ending_before"}
# How often a page holding only the cursor record is asked for again before it is judged.
CURSOR_REPLAY_REASKS = 2
# Statuses with which Daily refuses a cursor id it does not know (any more): 400
# invalid-request-error "unknown log id", and what a proxy or a future API may answer instead.
_CURSOR_REFUSED_STATUSES = frozenset({400, 404, 410, 422})
_AUTH_ERRORS = frozenset({"authentication-error", "authorization-header-error", "forbidden-error"})

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PageInfo:
    """One accepted page, as passed to ``on_page`` (enough to store a cursor anchor).

    ``entries`` are the page's records not seen before in this walk, newest first: with them a
    caller sees every record the walk passed, in order, without keeping the pages.
    """

    first_id: str
    first_created_at: datetime
    last_id: str
    last_created_at: datetime
    records: int
    convention: str | None
    entries: tuple[LogEntry, ...] = ()


# (cursor parameter, cursor id) -> validated page; (None, None) asks for the newest page.
Fetch = Callable[[str | None, str | None], list[LogEntry]]


@dataclass(frozen=True)
class StartCursor:
    """Where a walk starts instead of the newest record: a record a former walk passed.

    The walk asks for the records older than it with ``convention``'s older-walking parameter, so
    it reads nothing newer than ``created_at``: the caller must only pick a cursor whose
    ``created_at`` is at or after the window's end (records tied with it are then outside the
    window too). ``records_follow`` says older records existed when the cursor was recorded, so an
    empty page means the API no longer knows the cursor rather than that nothing is left.
    """

    id: str
    created_at: datetime
    convention: str
    records_follow: bool = True


class CursorRejected(Exception):
    """The API refused a StartCursor before the walk yielded anything; start elsewhere.

    Not a DailyError: it never leaves the hook, which falls back to another cursor or the head.
    """

    def __init__(self, cursor: StartCursor, reason: str) -> None:
        super().__init__(f"start cursor {cursor.id} (createdAt {ts(cursor.created_at)}): {reason}")
        self.cursor = cursor
        self.reason = reason


def refuses_cursor(error: DailyAPIError) -> bool:
    """True when a 4xx answer to a cursor request means "this cursor id is not usable".

    Authentication and permission errors are not about the cursor: they fail the walk as before.
    """
    return error.status in _CURSOR_REFUSED_STATUSES and error.error not in _AUTH_ERRORS


class CursorWalk:
    """Walk pages from the newest record back past ``window.start``; iterate to get in-window entries.

    Each record comes as a :class:`LogEntry`: its id and its parsed ``createdAt`` beside the raw dict,
    so nothing after the walk parses ``createdAt`` again to place it.

    :param fetch: returns one validated page for a cursor (see ``Fetch``).
    :param window: ``[start, end)``; records outside it are read but not yielded.
    :param stats: counters to fill in (the transport fills requests, retries and waits).
    :param describe: how to name this walk in messages, e.g. ``source=api, window [..)``.
    :param on_page: called after each accepted page, once its in-window records have been yielded.
    :param progress_every: log a progress line every this many pages.
    :param start_after: start from this record instead of the newest one (its ``created_at`` must be
        at or after ``window.end``); raises CursorRejected on the first page if the API refuses it.
    """

    def __init__(
        self,
        fetch: Fetch,
        window: Window,
        *,
        stats: WalkStats,
        describe: str,
        on_page: Callable[[PageInfo], None] | None = None,
        progress_every: int = 10,
        logger: logging.Logger | None = None,
        clock: Callable[[], float] = time.monotonic,
        start_after: StartCursor | None = None,
    ) -> None:
        if start_after is not None:
            if start_after.convention not in OLDER_PARAM:
                raise ValueError(
                    f"start cursor {start_after.id} has convention {start_after.convention!r}; "
                    f"expected one of {', '.join(OLDER_PARAM)}"
                )
            if start_after.created_at < window.end:
                # Records tied with the cursor but before it in the API's order would be skipped.
                raise ValueError(
                    f"start cursor {start_after.id} has createdAt {ts(start_after.created_at)}, inside the "
                    f"window {window}; a start cursor must be at or after the window's end"
                )
        self._start_after = start_after
        self._fetch = fetch
        self._window = window
        self._stats = stats
        self._describe = describe
        self._on_page = on_page
        self._progress_every = max(1, progress_every)
        self._log = logger or log
        self._clock = clock
        self._started = 0.0
        self._convention: str | None = None
        # Pages only move older, so an id can come back only at the oldest timestamp seen so far:
        # remembering the ids at that timestamp dedupes in O(ties) memory, not O(window).
        self._frontier_time: datetime | None = None
        self._frontier_ids: set[str] = set()

    def __iter__(self) -> Iterator[LogEntry]:
        self._started = self._clock()
        cursor: LogEntry | None = None
        if self._start_after is None:
            page = self._fetch(None, None)
        else:
            cursor, page = self._first_after(self._start_after)
        if not page:
            self._finish(ran_out=True)
            return
        yield from self._accept(page, cursor=cursor)
        while page[-1].created_at >= self._window.start:
            cursor = page[-1]
            if self._convention is None:
                page = self._detect(cursor)
            else:
                page = self._fetch_after(OLDER_PARAM[self._convention], cursor)
            if not page:
                self._finish(ran_out=True)
                return
            yield from self._accept(page, cursor=cursor)
        self._finish(ran_out=False)

    def _first_after(self, start: StartCursor) -> tuple[LogEntry, list[LogEntry]]:
        """Fetch the first page older than the start cursor, or raise CursorRejected.

        Runs before anything is yielded. The cursor joins the dedupe frontier, so a page that
        repeats it is handled like any cursor replay.
        """
        cursor = LogEntry(start.id, start.created_at, {})
        self._convention = start.convention
        self._stats.convention = start.convention
        self._frontier_time, self._frontier_ids = cursor.created_at, {cursor.id}
        param = OLDER_PARAM[start.convention]
        try:
            page = self._fetch_after(param, cursor)
        except DailyAPIError as err:
            if refuses_cursor(err):
                answer = " ".join(str(part) for part in (err.status, err.error) if part)
                detail = f' "{err.info}"' if err.info else ""
                raise CursorRejected(
                    start, f"Daily answered {param}={start.id} with {answer}{detail}"
                ) from err
            raise
        if not page and start.records_follow:
            raise CursorRejected(
                start, f"Daily answered {param}={start.id} with an empty page, where older records existed"
            )
        newer = [e for e in page if e.created_at > cursor.created_at]
        if newer:
            # The API reads the cursor in another direction than the stored convention says.
            raise CursorRejected(
                start, f"Daily answered {param}={start.id} with records newer than it ({entry_list(newer)})"
            )
        self._stats.started_after = start.id
        self._log.info(
            "Daily logs walk (%s) starts after record %s (createdAt %s) with %s=, not at the newest record",
            self._describe,
            start.id,
            ts(start.created_at),
            param,
        )
        return cursor, page

    def _detect(self, cursor: LogEntry) -> list[LogEntry]:
        """Find which parameter walks older; return the first older page (empty at the end of data)."""
        probe = self._fetch_after("starting_after", cursor)
        direction = self._direction(probe, cursor, "starting_after")
        if direction == "older":
            self._set_convention(STRIPE)
            return probe
        if direction == "newer":
            self._set_convention(LITERAL)
            return self._fetch_after("ending_before", cursor)
        probe = self._fetch_after("ending_before", cursor)
        direction = self._direction(probe, cursor, "ending_before")
        if direction == "older":
            self._set_convention(LITERAL)
            return probe
        if direction == "newer":
            # ending_before walks newer, so starting_after was the older direction and had nothing left.
            self._set_convention(STRIPE)
        return []

    def _fetch_after(self, param: str, cursor: LogEntry) -> list[LogEntry]:
        """Fetch the page for a cursor, asking again while it holds nothing but the cursor record.

        A page that is only the cursor itself is what a replaying cache or a one-off duplicate looks
        like, and it carries no information; judging it at once would fail a healthy walk.
        """
        page = self._fetch(param, cursor.id)
        for _ in range(CURSOR_REPLAY_REASKS):
            if not (len(page) == 1 and page[0].id == cursor.id):
                break
            self._stats.retries += 1
            self._log.warning(
                "Daily answered %s=%s with only the cursor record itself (%s); asking again",
                param,
                cursor.id,
                self._describe,
            )
            page = self._fetch(param, cursor.id)
        return page

    def _direction(self, page: list[LogEntry], cursor: LogEntry, param: str) -> str:
        """Classify a probe page as ``older``, ``newer`` (or only already seen) or ``empty``."""
        newer = [e for e in page if e.created_at > cursor.created_at]
        fresh_older = [e for e in page if e.created_at <= cursor.created_at and not self._seen(e)]
        if newer and fresh_older:
            raise DailyPaginationError(
                f"Daily's page for {param}={cursor.id} (cursor createdAt {ts(cursor.created_at)}) mixes "
                f"records newer than the cursor ({entry_list(newer)}) with unseen older ones ({entry_list(fresh_older)}), "
                f"so neither cursor reading holds ({self._describe}). Expected one direction per page; re-run "
                "the task, and if it repeats report it: the API's paging may have changed."
            )
        if fresh_older:
            return "older"
        return "newer" if page else "empty"

    def _accept(self, page: list[LogEntry], cursor: LogEntry | None) -> Iterator[LogEntry]:
        self._check_order(page, cursor)
        if cursor is not None:
            self._check_against_cursor(page, cursor)
        fresh = self._take_fresh(page)
        if cursor is not None and not fresh:
            raise DailyPaginationError(
                f"Daily returned a page of only already-seen records ({entry_list(page)}) for "
                f"{self._cursor_text(cursor)}, {self._convention_text()} ({self._describe}). Expected older "
                "records or an empty page; stopping instead of looping. Re-run the task, and if it repeats "
                "report it: the API's paging may have changed."
            )
        start, end = self._window.start, self._window.end
        for entry in fresh:
            if start <= entry.created_at < end:
                self._stats.records_yielded += 1
                yield entry
        self._stats.pages += 1
        if self._on_page is not None:
            first, last = page[0], page[-1]
            self._on_page(
                PageInfo(
                    first.id,
                    first.created_at,
                    last.id,
                    last.created_at,
                    len(page),
                    self._convention,
                    tuple(fresh),
                )
            )
        if self._stats.pages % self._progress_every == 0:
            self._log.info("Daily logs walk progress (%s): %s", self._describe, self._progress())

    def _check_order(self, page: list[LogEntry], cursor: LogEntry | None) -> None:
        for newer, older in itertools.pairwise(page):
            if older.created_at > newer.created_at:
                where = "the newest page" if cursor is None else self._cursor_text(cursor)
                raise DailyPaginationError(
                    f"Daily's page for {where} is not newest first: {newer.id} at {ts(newer.created_at)} is "
                    f"followed by {older.id} at {ts(older.created_at)} ({self._convention_text()}, "
                    f"{self._describe}). Expected non-increasing createdAt within a page; re-run the task, "
                    "and if it repeats report it."
                )

    def _check_against_cursor(self, page: list[LogEntry], cursor: LogEntry) -> None:
        newer = [e for e in page if e.created_at > cursor.created_at]
        if newer:
            raise DailyPaginationError(
                f"Daily returned records newer than the cursor for {self._cursor_text(cursor)}: {entry_list(newer)} "
                f"({self._convention_text()}, {self._describe}). Expected every record after the cursor to be "
                "at or older than it; re-run the task, and if it repeats report it: the API's paging may "
                "have changed."
            )

    def _seen(self, entry: LogEntry) -> bool:
        return entry.created_at == self._frontier_time and entry.id in self._frontier_ids

    def _take_fresh(self, page: list[LogEntry]) -> list[LogEntry]:
        """Drop records already seen, remember the rest, and count both."""
        stats = self._stats
        fresh = []
        for entry in page:
            if self._seen(entry):
                stats.duplicates_skipped += 1
                continue
            if entry.created_at != self._frontier_time:
                self._frontier_time = entry.created_at
                self._frontier_ids = set()
            self._frontier_ids.add(entry.id)
            fresh.append(entry)
            stats.records_seen += 1
            if stats.newest_seen is None or entry.created_at > stats.newest_seen:
                stats.newest_seen = entry.created_at
            if stats.oldest_seen is None or entry.created_at < stats.oldest_seen:
                stats.oldest_seen = entry.created_at
        return fresh

    def _set_convention(self, convention: str) -> None:
        self._convention = convention
        self._stats.convention = convention
        self._log.info(
            "Daily cursor convention detected (%s): %s (%s walks toward older records)",
            self._describe,
            convention,
            OLDER_PARAM[convention],
        )

    def _finish(self, *, ran_out: bool) -> None:
        stats = self._stats
        stats.reached_end = ran_out
        if ran_out:
            warn_if_uncovered(self._log, stats, self._window, self._describe)
        self._log.info("Daily logs walk done (%s): %s", self._describe, self._progress(final=True))

    def _progress(self, *, final: bool = False) -> str:
        elapsed = self._clock() - self._started
        return progress_text(self._stats, elapsed, convention=self._convention, final=final)

    def _cursor_text(self, cursor: LogEntry) -> str:
        param = OLDER_PARAM[self._convention] if self._convention else "cursor"
        return f"{param}={cursor.id} (cursor createdAt {ts(cursor.created_at)})"

    def _convention_text(self) -> str:
        convention = self._convention
        if convention is None:
            return "convention not yet detected"
        return f"convention {convention} ({OLDER_PARAM[convention]} walks older)"


def checked_cursors(
    start_after: StartCursor | Sequence[StartCursor] | None, window: Window
) -> list[StartCursor]:
    """The start cursors as a list, each checked to be at or after the window's end (DailyConfigError)."""
    if start_after is None:
        return []
    cursors = [start_after] if isinstance(start_after, StartCursor) else list(start_after)
    for cursor in cursors:
        if not isinstance(cursor, StartCursor):
            raise DailyConfigError(f"start_after must hold StartCursor objects, got {type(cursor).__name__}")
        if cursor.created_at < window.end:
            raise DailyConfigError(
                f"start cursor {cursor.id} has createdAt {cursor.created_at.isoformat()}, before the end of "
                f"the window {window}: records tied with it could be skipped. Pass only cursors at or after "
                "the window's end (anchors.choose_anchors picks them)."
            )
    return cursors


def walk_from_cursors(
    cursors: list[StartCursor],
    walk: Callable[[StartCursor | None], CursorWalk],
    stats: WalkStats,
    describe: str,
    on_rejected: Callable[[StartCursor, str], None] | None,
) -> Iterator[LogEntry]:
    """Walk from the first of ``cursors`` the API accepts, else from the newest record.

    A refused cursor is counted, logged as a WARNING and passed to ``on_rejected`` (e.g. to drop the
    stored anchor). CursorRejected comes before any record is yielded, so nothing is lost or repeated.
    """
    for cursor in cursors:
        try:
            # CursorRejected comes from the first page, before any record: nothing to undo.
            yield from walk(cursor)
            return
        except CursorRejected as rejected:
            stats.cursors_rejected += 1
            log.warning(
                "Daily refused cursor anchor %s (createdAt %s) for %s: %s. No record was lost: "
                "starting %s instead; the anchor will be dropped.",
                cursor.id,
                cursor.created_at.isoformat(),
                describe,
                rejected.reason,
                "from the next anchor" if cursor is not cursors[-1] else "at the newest record",
            )
            if on_rejected is not None:
                on_rejected(cursor, rejected.reason)
    yield from walk(None)
