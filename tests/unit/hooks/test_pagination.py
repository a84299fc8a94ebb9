"""The page walk on its own, against an in-memory Daily in both cursor conventions and broken servers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.hooks.fake_daily import FakeDaily, at, make_record, records_at

from daily_provider.exceptions import DailyPaginationError
from daily_provider.hooks.pages import LogEntry, parse_created_at, parse_page
from daily_provider.hooks.pagination import CursorWalk, PageInfo, WalkStats
from daily_provider.hooks.retry import MalformedResponse
from daily_provider.window import Window

CONVENTIONS = ["stripe", "literal"]


def fetch_from(fake: FakeDaily, limit: int = 100) -> Callable[[str | None, str | None], list[LogEntry]]:
    def fetch(param: str | None, cursor_id: str | None) -> list[LogEntry]:
        params = {"limit": str(limit), "source": "api"}
        if param is not None and cursor_id is not None:
            params[param] = cursor_id
        page = fake.page(params)
        assert page is not None, f"the walk sent an unknown cursor {params}"
        return parse_page(page)

    return fetch


def scripted(
    pages: list[list[dict[str, Any]]],
) -> tuple[Callable[..., list[LogEntry]], list[tuple[Any, Any]]]:
    """A fetch that answers with the given pages in order, recording the cursors it was asked for."""
    asked: list[tuple[Any, Any]] = []

    def fetch(param: str | None, cursor_id: str | None) -> list[LogEntry]:
        asked.append((param, cursor_id))
        return parse_page(pages[len(asked) - 1])

    return fetch, asked


def walk(fetch: Callable[..., list[LogEntry]], start: datetime, end: datetime, **options: Any) -> list[str]:
    stats = options.pop("stats", WalkStats())
    return [
        entry.id for entry in CursorWalk(fetch, Window(start, end), stats=stats, describe="test", **options)
    ]


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_every_record_is_yielded_once_across_pages(convention: str) -> None:
    fake = FakeDaily(records_at(list(range(0, 2500, 10))), convention=convention)
    stats = WalkStats()
    ids = walk(fetch_from(fake, limit=7), at(0), at(2500), stats=stats)
    assert ids == fake.truth(at(0), at(2500))
    assert len(ids) == 250
    assert stats.convention == convention
    assert stats.records_yielded == 250
    assert stats.duplicates_skipped == 0


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_equal_timestamps_at_both_window_edges_across_page_boundaries(convention: str) -> None:
    # Five records exactly at start, five exactly at end, pages of 3 so the ties straddle pages.
    offsets = [900] * 2 + [1000] * 5 + [1500] * 4 + [2000] * 5 + [2100] * 2
    fake = FakeDaily(records_at(offsets), convention=convention)
    ids = walk(fetch_from(fake, limit=3), at(1000), at(2000))
    assert ids == fake.truth(at(1000), at(2000))
    assert len(ids) == 9  # the five at start and the four inside; none of the five at end


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_the_walk_stops_at_the_first_page_older_than_start(convention: str) -> None:
    fake = FakeDaily(records_at(list(range(0, 1000, 10))), convention=convention)
    walk(fetch_from(fake, limit=10), at(900), at(1000))
    # Page 1 holds 990..900; page 2 reaches 890 < start, so nothing older is asked for.
    cursors = [r.get("starting_after") or r.get("ending_before") for r in fake.requests]
    assert cursors[-1] == "log-0090"
    assert len([r for r in fake.requests if "starting_after" in r or "ending_before" in r]) <= 2


def test_a_first_page_already_older_than_start_needs_no_detection() -> None:
    fake = FakeDaily(records_at([100, 200, 300]))
    stats = WalkStats()
    assert walk(fetch_from(fake), at(250), at(400), stats=stats) == ["log-0002"]
    assert len(fake.requests) == 1
    assert stats.convention is None


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_short_pages_from_a_capped_limit_are_not_the_end(convention: str) -> None:
    fake = FakeDaily(records_at(list(range(40))), convention=convention, max_limit=4)
    assert walk(fetch_from(fake, limit=100), at(0), at(40)) == fake.truth(at(0), at(40))


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_records_newer_than_the_window_are_read_but_not_yielded(convention: str) -> None:
    fake = FakeDaily(records_at(list(range(0, 100))), convention=convention)
    stats = WalkStats()
    assert walk(fetch_from(fake, limit=5), at(10), at(20), stats=stats) == fake.truth(at(10), at(20))
    assert stats.records_seen > stats.records_yielded == 10


def test_stripe_is_detected_when_the_first_page_holds_everything() -> None:
    fake = FakeDaily(records_at([1, 2, 3]), convention="stripe")
    stats = WalkStats()
    assert walk(fetch_from(fake), at(0), at(10), stats=stats) == ["log-0002", "log-0001", "log-0000"]
    assert stats.convention == "stripe"
    assert len(fake.requests) == 3  # newest page, starting_after (empty), ending_before (newer)


def test_literal_is_detected_when_starting_after_the_newest_record_is_empty() -> None:
    fake = FakeDaily(records_at([1, 2, 3]), convention="literal", max_limit=1)
    stats = WalkStats()
    assert walk(fetch_from(fake), at(0), at(10), stats=stats) == ["log-0002", "log-0001", "log-0000"]
    assert stats.convention == "literal"


def test_a_record_repeated_on_the_next_page_is_yielded_once() -> None:
    a, b, c, d = records_at([40, 30, 30, 20])
    fetch, _ = scripted([[a, b], [b, c], [c, d], []])
    stats = WalkStats()
    assert walk(fetch, at(0), at(100), stats=stats) == ["log-0000", "log-0001", "log-0002", "log-0003"]
    assert stats.duplicates_skipped == 2
    assert stats.convention == "stripe"


def test_a_page_replaying_only_the_cursor_is_asked_again() -> None:
    a, b, c = records_at([40, 30, 20])
    fetch, asked = scripted([[a, b], [b], [c], []])
    stats = WalkStats()
    assert walk(fetch, at(0), at(100), stats=stats) == ["log-0000", "log-0001", "log-0002"]
    assert asked[1] == asked[2] == ("starting_after", "log-0001")
    assert stats.convention == "stripe" and stats.retries == 1


def test_a_cursor_replay_that_persists_breaks_the_contract() -> None:
    a, b, c = records_at([40, 30, 20])
    fetch, asked = scripted([[a, b], [c], [c], [c], [c]])
    with pytest.raises(DailyPaginationError, match="only already-seen records"):
        walk(fetch, at(0), at(100))
    assert asked[2:] == [("starting_after", "log-0002")] * 3


def test_a_record_newer_than_the_cursor_breaks_the_contract_with_ids_in_the_message() -> None:
    a, b, c, d = records_at([40, 30, 20, 10])
    fetch, _ = scripted([[a, b], [c], [a, d]])
    with pytest.raises(DailyPaginationError) as caught:
        walk(fetch, at(0), at(100))
    message = str(caught.value)
    assert "log-0000" in message and "log-0002" in message  # the offending record and the cursor
    assert "2024-03-15T00:00:00.040Z" in message
    assert "convention stripe" in message


def test_a_page_of_only_already_seen_records_breaks_the_contract() -> None:
    a, b, c = records_at([40, 30, 30])
    fetch, _ = scripted([[a, b], [c], [b, c]])
    with pytest.raises(
        DailyPaginationError, match=r"only already-seen records \(log-0001 at .*, log-0002 at"
    ):
        walk(fetch, at(0), at(100))


def test_a_page_out_of_order_breaks_the_contract() -> None:
    a, b = records_at([10, 20])
    fetch, _ = scripted([[a, b]])
    with pytest.raises(DailyPaginationError, match=r"not newest first: log-0000 .* followed by log-0001"):
        walk(fetch, at(0), at(100))


def test_a_probe_mixing_newer_and_unseen_older_records_breaks_the_contract() -> None:
    a, b, c, d = records_at([40, 30, 20, 10])
    fetch, _ = scripted([[b, c], [a, d]])
    with pytest.raises(DailyPaginationError, match="mixes records newer than the cursor"):
        walk(fetch, at(0), at(100))


def test_literal_walk_that_then_serves_newer_records_breaks_the_contract() -> None:
    a, b, c = records_at([40, 30, 20])
    # starting_after answers newer (literal), then ending_before answers newer too: nowhere to go.
    fetch, asked = scripted([[b, c], [a], [a]])
    with pytest.raises(DailyPaginationError, match="convention literal"):
        walk(fetch, at(0), at(100))
    assert asked == [(None, None), ("starting_after", "log-0002"), ("ending_before", "log-0002")]


def test_on_page_gets_each_accepted_page_after_its_records() -> None:
    fake = FakeDaily(records_at([50, 40, 30, 20, 10]))
    pages: list[PageInfo] = []
    yielded: list[str] = []

    def on_page(info: PageInfo) -> None:
        pages.append(info)
        assert yielded, "on_page came before the page's records were handed out"

    for entry in CursorWalk(
        fetch_from(fake, 2), Window(at(0), at(100)), stats=WalkStats(), describe="t", on_page=on_page
    ):
        yielded.append(entry.id)
    assert [(p.first_id, p.last_id, p.records) for p in pages] == [
        ("log-0000", "log-0001", 2),
        ("log-0002", "log-0003", 2),
        ("log-0004", "log-0004", 1),
    ]
    assert pages[0].convention is None and pages[1].convention == "stripe"
    assert pages[2].last_created_at == at(10)


def test_running_out_of_data_before_the_window_warns_with_the_oldest_timestamp(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeDaily(records_at([500, 400]))
    stats = WalkStats()
    with caplog.at_level(logging.INFO):
        assert walk(fetch_from(fake), at(0), at(1000), stats=stats) == ["log-0000", "log-0001"]
    assert stats.reached_end and stats.oldest_seen == at(400)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "nothing older than 2024-03-15T00:00:00.400Z" in warnings[0]
    assert "only the part from 2024-03-15T00:00:00.400Z on is covered" in warnings[0]


def test_no_data_at_all_warns_instead_of_silently_loading_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert walk(fetch_from(FakeDaily([])), at(0), at(1000)) == []
    assert "returned no records at all" in caplog.text


def test_a_window_fully_covered_does_not_warn(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeDaily(records_at([500, 400, 100]))
    stats = WalkStats()
    with caplog.at_level(logging.WARNING):
        walk(fetch_from(fake), at(200), at(1000), stats=stats)
    assert caplog.records == []
    assert not stats.reached_end  # it passed below the start: the whole window is covered


def test_progress_is_logged_every_ten_pages_and_a_summary_at_the_end(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeDaily(records_at(list(range(25))))
    with caplog.at_level(logging.INFO, logger="daily_provider.hooks.pagination"):
        walk(fetch_from(fake, limit=1), at(0), at(100))
    progress = [r.getMessage() for r in caplog.records if "progress" in r.getMessage()]
    assert len(progress) == 2
    assert "10 pages, 10 records seen" in progress[0]
    assert "requests" in progress[0] and "retries" in progress[0] and "records/s" in progress[0]
    assert "walk done" in caplog.records[-1].getMessage()


@settings(max_examples=150, deadline=None)
@given(
    data=st.data(),
    convention=st.sampled_from(CONVENTIONS),
    cap=st.integers(min_value=1, max_value=6),
    limit=st.integers(min_value=1, max_value=8),
)
def test_any_dataset_and_window_yields_exactly_the_truth(
    data: st.DataObject, convention: str, cap: int, limit: int
) -> None:
    # Few distinct timestamps, so ties and window edges on a tie are common.
    offsets = data.draw(st.lists(st.integers(min_value=0, max_value=12), max_size=40))
    lo = data.draw(st.integers(min_value=0, max_value=12))
    hi = data.draw(st.integers(min_value=lo + 1, max_value=14))
    fake = FakeDaily(records_at(offsets), convention=convention, max_limit=cap)
    stats = WalkStats()
    ids = walk(fetch_from(fake, limit=limit), at(lo), at(hi), stats=stats)
    assert ids == fake.truth(at(lo), at(hi))
    assert stats.records_yielded == len(ids)


@pytest.mark.parametrize(
    "body",
    [
        {"total_count": 0, "items": []},
        {"data": {"id": "a", "createdAt": "2024-03-15T00:00:00.000Z"}},
        {"data": None},
        {"error": "server-error", "info": "oops"},
        None,
        "[]",
        [1, 2],
        [{"createdAt": "2024-03-15T00:00:00.000Z"}],
        [{"id": 7, "createdAt": "2024-03-15T00:00:00.000Z"}],
        [{"id": "a", "createdAt": "yesterday"}],
        [{"id": "a"}],
    ],
)
def test_anything_but_an_array_or_a_data_object_of_log_records_is_malformed(body: Any) -> None:
    with pytest.raises(MalformedResponse):
        parse_page(body)


def test_an_empty_array_is_an_empty_page() -> None:
    assert parse_page([]) == []


def test_dailys_list_object_is_a_page_of_its_data_and_its_other_keys_are_ignored() -> None:
    records = [
        {"id": "b", "createdAt": "2024-03-15T00:00:02.000Z"},
        {"id": "a", "createdAt": "2024-03-15T00:00:01.000Z"},
    ]
    as_array = parse_page(records)
    as_object = parse_page({"total_count": 1234, "data": records, "next": None})

    assert as_object == as_array
    assert [entry.id for entry in as_object] == ["b", "a"]
    assert parse_page({"total_count": 0, "data": []}) == []


def test_an_object_page_with_a_bad_record_is_malformed_like_an_array_page() -> None:
    with pytest.raises(MalformedResponse, match="no string 'id'"):
        parse_page({"total_count": 1, "data": [{"createdAt": "2024-03-15T00:00:00.000Z"}]})


def test_created_at_parses_dailys_format_to_aware_utc() -> None:
    assert parse_created_at("2024-03-15T18:42:00.123Z") == at(18 * 3600_000 + 42 * 60_000 + 123)
    assert parse_created_at("2024-03-15T19:42:00.123+01:00") == parse_created_at("2024-03-15T18:42:00.123Z")
    assert parse_created_at("2024-03-15T00:00:00.000") == at(0)
    assert parse_created_at("") is None
    assert parse_created_at(1710528120) is None


def test_a_page_keeps_the_raw_record_untouched() -> None:
    record = make_record("x", at(5))
    assert parse_page([record])[0].record is record


def test_the_walk_hands_on_entries_with_createdat_parsed_once_beside_the_raw_record() -> None:
    fake = FakeDaily(records_at([500, 400, 100]))
    entries = list(CursorWalk(fetch_from(fake), Window(at(200), at(1000)), stats=WalkStats(), describe="t"))

    assert [(e.id, e.created_at) for e in entries] == [("log-0000", at(500)), ("log-0001", at(400))]
    assert all(parse_created_at(e.record["createdAt"]) == e.created_at for e in entries)
