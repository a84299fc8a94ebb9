"""Cursor anchors: which anchors a walk records, which one a later walk starts from, and that a walk
started from an anchor yields exactly what a walk from the newest record yields, in both cursor
conventions, with ties on every edge; plus how a walk treats an anchor the API refuses.

The walks run against the in-memory FakeDaily of the hook tests (no network).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.hooks.fake_daily import FakeDaily, at, records_at

from daily_provider.anchors import (
    Anchor,
    AnchorRecorder,
    choose_anchors,
    mark_at_or_before,
    unique_anchors,
)
from daily_provider.exceptions import DailyAPIError, DailyConfigError
from daily_provider.hooks.daily import DailyHook
from daily_provider.hooks.pages import LogEntry, parse_page
from daily_provider.hooks.pagination import CursorRejected, CursorWalk, PageInfo, StartCursor, WalkStats
from daily_provider.window import Window

CONVENTIONS = ["stripe", "literal"]
MS = timedelta(milliseconds=1)
T0 = at(0)  # 2024-03-15T00:00:00Z, an hour mark


def entry(record_id: str, moment: datetime) -> LogEntry:
    return LogEntry(record_id, moment, {})


def anchor(record_id: str, moment: datetime, *, convention: str = "stripe") -> Anchor:
    return Anchor(record_id, moment, convention, mark_at_or_before(moment), "older", moment - MS)


class Fetcher:
    """A CursorWalk fetch over a FakeDaily that counts requests and can refuse chosen cursors."""

    def __init__(self, fake: FakeDaily, limit: int = 100, refuse: frozenset[str] = frozenset()) -> None:
        self.fake = fake
        self.limit = limit
        self.refuse = refuse
        self.requests = 0

    def __call__(self, param: str | None, cursor_id: str | None) -> list[LogEntry]:
        self.requests += 1
        params = {"limit": str(self.limit), "source": "api"}
        if param is not None and cursor_id is not None:
            params[param] = cursor_id
        page = self.fake.page(params)
        if page is None or cursor_id in self.refuse:
            raise DailyAPIError(
                "Daily answered 400 invalid-request-error", status=400, error="invalid-request-error"
            )
        return parse_page(page)


def walk_ids(
    fetch: Callable[[str | None, str | None], list[LogEntry]],
    window: Window,
    *,
    start_after: StartCursor | None = None,
    on_page: Callable[[PageInfo], None] | None = None,
    stats: WalkStats | None = None,
) -> list[str]:
    walk = CursorWalk(
        fetch,
        window,
        stats=stats if stats is not None else WalkStats(),
        describe="test",
        on_page=on_page,
        start_after=start_after,
    )
    return [entry.id for entry in walk]


def recorded(fake: FakeDaily, window: Window, spacing: timedelta, limit: int) -> list[Anchor]:
    """Walk ``window`` from the newest record, as a load does, and return the anchors it recorded."""
    recorder = AnchorRecorder(spacing)
    stats = WalkStats()
    walk_ids(Fetcher(fake, limit), window, on_page=recorder.on_page, stats=stats)
    return recorder.anchors(stats.convention)


# -- which anchors a walk records -----------------------------------------------------------------


def test_marks_are_multiples_of_the_spacing_since_the_epoch() -> None:
    moment = datetime(2026, 1, 2, 13, 59, 59, 999000, tzinfo=timezone.utc)
    assert mark_at_or_before(moment) == datetime(2026, 1, 2, 13, tzinfo=timezone.utc)
    assert mark_at_or_before(datetime(2026, 1, 2, 13, tzinfo=timezone.utc)) == datetime(
        2026, 1, 2, 13, tzinfo=timezone.utc
    )
    assert mark_at_or_before(moment, timedelta(days=1)) == datetime(2026, 1, 2, tzinfo=timezone.utc)


def test_each_mark_passed_gets_its_oldest_record_at_or_after_it_and_that_records_older_neighbour() -> None:
    hour = timedelta(hours=1)
    recorder = AnchorRecorder()
    recorder.observe(
        [
            entry("a", T0 + 2 * hour + 5 * MS),
            entry("b", T0 + 2 * hour),  # exactly on the mark: still at or after it
            entry("c", T0 + 2 * hour - MS),
            entry("d", T0 + hour + 9 * MS),
            entry("e", T0 + hour - MS),
        ]
    )
    assert [(a.mark, a.record_id, a.older_id) for a in recorder.anchors("stripe")] == [
        (T0 + 2 * hour, "b", "c"),
        (T0 + hour, "d", "e"),
    ]


def test_a_tie_cluster_on_a_mark_is_passed_as_a_whole_before_the_anchor_is_taken() -> None:
    recorder = AnchorRecorder()
    recorder.observe([entry("x1", T0), entry("x2", T0), entry("x3", T0), entry("y", T0 - MS)])
    (only,) = recorder.anchors("literal")
    assert (only.record_id, only.created_at, only.older_id, only.convention) == ("x3", T0, "y", "literal")


def test_a_gap_of_several_hours_gives_one_anchor_for_the_mark_of_its_own_hour() -> None:
    hour = timedelta(hours=1)
    recorder = AnchorRecorder()
    recorder.observe([entry("late", T0 + 5 * hour + MS), entry("early", T0 + 30 * MS)])
    (only,) = recorder.anchors("stripe")
    assert (only.mark, only.record_id, only.older_id) == (T0 + 5 * hour, "late", "early")


def test_a_mark_crossed_between_two_pages_is_recorded() -> None:
    recorder = AnchorRecorder()
    recorder.observe([entry("p1-a", T0 + 2 * MS), entry("p1-b", T0 + MS)])
    recorder.observe([entry("p2-a", T0 - MS)])
    assert [(a.record_id, a.older_id) for a in recorder.anchors("stripe")] == [("p1-b", "p2-a")]


def test_no_anchor_without_a_record_below_its_mark_or_without_a_known_convention() -> None:
    recorder = AnchorRecorder()
    recorder.observe([entry("a", T0 + 3 * MS), entry("b", T0 + MS)])
    assert recorder.anchors("stripe") == []
    recorder.observe([entry("c", T0 - MS)])
    assert recorder.anchors(None) == []
    assert len(recorder.anchors("stripe")) == 1


@settings(max_examples=200, deadline=None)
@given(
    offsets=st.lists(st.integers(min_value=0, max_value=60), min_size=1, max_size=60),
    spacing_ms=st.integers(min_value=1, max_value=20),
    pages=st.lists(st.integers(min_value=1, max_value=7), min_size=1, max_size=30),
)
def test_every_mark_between_two_records_is_served_by_exactly_the_last_record_at_or_after_it(
    offsets: list[int], spacing_ms: int, pages: list[int]
) -> None:
    times = sorted((at(ms) for ms in offsets), reverse=True)
    entries = [entry(f"r{n}", moment) for n, moment in enumerate(times)]
    spacing = timedelta(milliseconds=spacing_ms)
    recorder = AnchorRecorder(spacing)
    position = 0
    for size in pages * len(entries):  # any page split
        recorder.observe(entries[position : position + size])
        position += size
    recorder.observe(entries[position:])

    anchors = recorder.anchors("stripe")
    served = set()
    for a in anchors:
        index = next(i for i, e in enumerate(entries) if e.id == a.record_id)
        assert entries[index + 1].id == a.older_id
        assert a.created_at >= a.mark > a.older_created_at
        assert a.mark == mark_at_or_before(a.created_at, spacing)
        served.update(m for m in _marks(a.older_created_at, a.created_at, spacing))
    expected = set()
    for newer, older in itertools.pairwise(entries):
        expected.update(_marks(older.created_at, newer.created_at, spacing))
    assert served == expected
    assert len({a.record_id for a in anchors}) == len(anchors)


def _marks(older: datetime, newer: datetime, spacing: timedelta) -> list[datetime]:
    """Marks m with older < m <= newer."""
    marks = []
    mark = mark_at_or_before(newer, spacing)
    while mark > older:
        marks.append(mark)
        mark -= spacing
    return marks


# -- which anchor a walk starts from -----------------------------------------------------------------


def test_the_nearest_anchors_at_or_after_the_end_are_chosen_nearest_first() -> None:
    end = T0 + 10 * MS
    anchors = [
        anchor("inside", end - MS),
        anchor("far", end + 9 * MS),
        anchor("exactly-at-end", end),
        anchor("near", end + MS),
        anchor("unknown-convention", end, convention="sideways"),
    ]
    assert [a.record_id for a in choose_anchors(anchors, end, limit=2)] == ["exactly-at-end", "near"]
    assert [a.record_id for a in choose_anchors(anchors, end)] == ["exactly-at-end", "near", "far"]
    assert choose_anchors(anchors, end + 10 * MS) == []


def test_duplicate_ids_are_chosen_once_and_stored_once_per_mark_and_id() -> None:
    first = anchor("a", T0 + MS)
    same_id_later = anchor("a", T0 + 5 * MS)
    same_mark = Anchor("b", T0 + 2 * MS, "stripe", first.mark, "older", T0)
    assert choose_anchors([same_id_later, first], T0) == [first]
    assert unique_anchors([first, same_id_later, same_mark]) == [first]


def test_an_anchor_is_a_start_cursor_with_its_id_time_and_convention() -> None:
    cursor = anchor("a", T0, convention="literal").cursor()
    assert cursor == StartCursor("a", T0, "literal", records_follow=True)


# -- walking from an anchor ------------------------------------------------------------------------


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_a_walk_from_an_anchor_on_a_tie_cluster_at_the_window_end_yields_the_head_walks_records(
    convention: str,
) -> None:
    # Ties of 4 on each of 0, 10, 20, ... ms; pages of 3 so clusters straddle pages; marks every 10 ms.
    offsets = [ms for ms in range(0, 200, 10) for _ in range(4)]
    fake = FakeDaily(records_at(sorted(offsets, reverse=True)), convention=convention)
    anchors = recorded(fake, Window(at(100), at(200)), timedelta(milliseconds=10), limit=3)
    window = Window(at(50), at(100))  # both edges on a tie cluster
    (start, *_) = choose_anchors(anchors, window.end)
    assert start.created_at == window.end  # the anchor is the last record of the cluster at the end

    fetch = Fetcher(fake, limit=3)
    ids = walk_ids(fetch, window, start_after=start.cursor())

    assert ids == walk_ids(Fetcher(fake, limit=3), window) == fake.truth(window.start, window.end)
    records = len(ids)
    assert fetch.requests <= math.ceil(records / 3) + 2


@settings(max_examples=200, deadline=None)
@given(
    data=st.data(),
    convention=st.sampled_from(CONVENTIONS),
    cap=st.integers(min_value=1, max_value=6),
    spacing_ms=st.integers(min_value=1, max_value=6),
)
def test_any_anchor_a_former_walk_recorded_gives_exactly_the_windows_records(
    data: st.DataObject, convention: str, cap: int, spacing_ms: int
) -> None:
    # Few distinct timestamps, so ties on marks and on window edges are common.
    offsets = data.draw(st.lists(st.integers(min_value=0, max_value=14), min_size=1, max_size=40))
    fake = FakeDaily(records_at(offsets), convention=convention, max_limit=cap)
    first_start = data.draw(st.integers(min_value=0, max_value=14))
    anchors = recorded(fake, Window(at(first_start), at(16)), timedelta(milliseconds=spacing_ms), cap)
    lo = data.draw(st.integers(min_value=0, max_value=14))
    hi = data.draw(st.integers(min_value=lo + 1, max_value=16))
    window = Window(at(lo), at(hi))
    truth = fake.truth(window.start, window.end)

    for start in choose_anchors(anchors, window.end):
        fetch = Fetcher(fake, limit=cap)
        assert walk_ids(fetch, window, start_after=start.cursor()) == truth
        if start.older_created_at < window.end:
            # The anchor is the last record at or after the end: nothing outside the window is read
            # but the one record below its start (and an empty page at the end of the data).
            assert fetch.requests <= math.ceil(len(truth) / cap) + 2


def test_an_anchor_inside_the_window_is_refused_before_any_request() -> None:
    fetch = Fetcher(FakeDaily(records_at([5, 4, 3])))
    with pytest.raises(ValueError, match="at or after the window's end"):
        CursorWalk(
            fetch,
            Window(at(0), at(5)),
            stats=WalkStats(),
            describe="t",
            start_after=StartCursor("log-0001", at(4), "stripe"),
        )
    assert fetch.requests == 0


def test_an_anchor_the_api_answers_with_400_is_rejected_before_anything_is_yielded() -> None:
    fake = FakeDaily(records_at([30, 20, 10]))
    fetch = Fetcher(fake, refuse=frozenset({"log-0000"}))
    walk = iter(
        CursorWalk(
            fetch,
            Window(at(0), at(25)),
            stats=WalkStats(),
            describe="t",
            start_after=StartCursor("log-0000", at(30), "stripe"),
        )
    )
    with pytest.raises(CursorRejected, match="400"):
        next(walk)
    assert fetch.requests == 1


def test_an_auth_error_on_the_anchor_request_is_not_a_dead_anchor() -> None:
    def fetch(param: str | None, cursor_id: str | None) -> list[LogEntry]:
        raise DailyAPIError("401", status=401, error="authentication-error")

    start = StartCursor("log-0000", at(30), "stripe")
    walk = CursorWalk(fetch, Window(at(0), at(25)), stats=WalkStats(), describe="t", start_after=start)
    with pytest.raises(DailyAPIError):
        list(walk)


def test_an_empty_page_after_an_anchor_that_had_older_records_is_a_dead_anchor() -> None:
    fake = FakeDaily(records_at([30, 20, 10]))
    start = StartCursor("log-0002", at(10), "stripe", records_follow=True)
    walk = CursorWalk(Fetcher(fake), Window(at(0), at(5)), stats=WalkStats(), describe="t", start_after=start)
    with pytest.raises(CursorRejected, match="empty page"):
        list(walk)
    # Without records known below it, the same empty page is the end of the data.
    quiet = StartCursor("log-0002", at(10), "stripe", records_follow=False)
    assert walk_ids(Fetcher(fake), Window(at(0), at(5)), start_after=quiet) == []


def test_an_anchor_stored_with_the_wrong_convention_is_rejected_for_reading_newer_records() -> None:
    fake = FakeDaily(records_at([40, 30, 20, 10]), convention="stripe")
    start = StartCursor("log-0002", at(20), "literal")  # ending_before walks newer on this API
    walk = CursorWalk(
        Fetcher(fake), Window(at(0), at(15)), stats=WalkStats(), describe="t", start_after=start
    )
    with pytest.raises(CursorRejected, match="newer"):
        list(walk)


def test_the_walk_asks_with_the_anchors_older_cursor_and_says_where_it_started() -> None:
    fake = FakeDaily(records_at([30, 20, 10]), convention="literal")
    stats = WalkStats()
    start = StartCursor("log-0001", at(20), "literal")
    ids = walk_ids(Fetcher(fake), Window(at(0), at(15)), start_after=start, stats=stats)
    assert ids == ["log-0002"]
    assert fake.requests[0] == {"limit": "100", "source": "api", "ending_before": "log-0001"}
    assert (stats.started_after, stats.convention) == ("log-0001", "literal")


def test_the_hook_refuses_an_anchor_inside_the_window_at_the_call_before_any_request() -> None:
    hook = DailyHook(api_key="sk_test_not_used", base_url="http://127.0.0.1:9/v1")
    inside = anchor("a", at(5))
    with pytest.raises(DailyConfigError, match="before the end of the window"):
        hook.iter_logs(at(0), at(10), start_after=[inside.cursor()])


def test_the_hook_does_not_import_anchors_so_the_packages_have_no_cycle() -> None:
    import subprocess
    import sys

    code = "import sys, daily_provider.hooks.client; print('daily_provider.anchors' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"
