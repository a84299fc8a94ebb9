"""The simulated timeline: ordering, tie clusters at and around midnight, ids that encode the index."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from daily_provider.simulator.timeline import DAY_MS, Timeline, format_ms, to_ms

START_MS = to_ms(datetime(2026, 1, 1, tzinfo=timezone.utc))


def test_created_at_is_non_decreasing_and_inside_the_timeline() -> None:
    timeline = Timeline(seed=3, source="api", start_ms=START_MS, days=3, per_day=500)
    times = [timeline.created_ms(i) for i in range(timeline.total)]
    assert times == sorted(times)
    assert times[0] == START_MS
    assert times[-1] == START_MS + 3 * DAY_MS - 1


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32), per_day=st.integers(1, 400), days=st.integers(1, 3))
def test_any_timeline_is_ordered_and_stays_in_its_days(seed: int, per_day: int, days: int) -> None:
    timeline = Timeline(seed=seed, source="webhook", start_ms=START_MS, days=days, per_day=per_day)
    times = [timeline.created_ms(i) for i in range(timeline.total)]
    assert times == sorted(times)
    for index, moment in enumerate(times):
        assert (moment - START_MS) // DAY_MS == index // per_day


def test_each_day_has_a_tie_cluster_at_midnight_and_at_the_last_millisecond() -> None:
    timeline = Timeline(seed=5, source="api", start_ms=START_MS, days=3, per_day=400)
    counts = Counter(timeline.created_ms(i) for i in range(timeline.total))
    for day in range(3):
        midnight = START_MS + day * DAY_MS
        assert counts[midnight] >= 2
        assert counts[midnight + DAY_MS - 1] >= 2
        assert format_ms(midnight + DAY_MS - 1).endswith("T23:59:59.999Z")


def test_ties_come_in_clusters_of_2_to_30_and_are_common() -> None:
    timeline = Timeline(seed=9, source="api", start_ms=START_MS, days=2, per_day=2000)
    sizes = Counter(timeline.created_ms(i) for i in range(timeline.total)).values()
    clustered = [size for size in sizes if size > 1]
    assert max(clustered) <= 30
    assert min(clustered) == 2
    # Many records share a timestamp with another record (not a rare corner case).
    assert sum(clustered) > 0.1 * timeline.total


def test_some_tie_cluster_straddles_a_100_record_page_boundary() -> None:
    timeline = Timeline(seed=1, source="api", start_ms=START_MS, days=5, per_day=2000)
    newest_first = list(range(timeline.total - 1, -1, -1))
    boundaries = [(newest_first[i - 1], newest_first[i]) for i in range(100, len(newest_first), 100)]
    straddling = [pair for pair in boundaries if timeline.created_ms(pair[0]) == timeline.created_ms(pair[1])]
    assert len(straddling) >= 3


def test_first_at_or_after_agrees_with_a_linear_scan() -> None:
    timeline = Timeline(seed=2, source="api", start_ms=START_MS, days=2, per_day=300)
    times = [timeline.created_ms(i) for i in range(timeline.total)]
    probes = {*times, *(t + 1 for t in times), START_MS - 5, START_MS + 2 * DAY_MS + 10}
    for probe in sorted(probes)[::7]:
        expected = next((i for i, moment in enumerate(times) if moment >= probe), len(times))
        assert timeline.first_at_or_after(probe, len(times)) == expected


def test_id_is_uuid_shaped_and_encodes_its_index() -> None:
    timeline = Timeline(seed=4, source="api", start_ms=START_MS, days=1, per_day=100)
    for index in (0, 1, 99, 123_456_789):
        record_id = timeline.record_id(index)
        assert [len(group) for group in record_id.split("-")] == [8, 4, 4, 4, 12]
        assert int(record_id.rsplit("-", 1)[1], 16) == index
        assert timeline.index_of(record_id) == index


def test_ids_of_another_source_seed_or_with_a_forged_index_are_rejected() -> None:
    api = Timeline(seed=4, source="api", start_ms=START_MS, days=1, per_day=100)
    webhook = Timeline(seed=4, source="webhook", start_ms=START_MS, days=1, per_day=100)
    other_seed = Timeline(seed=5, source="api", start_ms=START_MS, days=1, per_day=100)
    record_id = api.record_id(42)
    assert webhook.index_of(record_id) is None
    assert other_seed.index_of(record_id) is None
    forged = record_id[:-12] + f"{43:012x}"
    assert api.index_of(forged) is None
    assert api.index_of("not-an-id") is None
    assert api.index_of(record_id.upper()) is None


def test_head_arrivals_come_after_the_timeline_end_in_order() -> None:
    timeline = Timeline(seed=4, source="api", start_ms=START_MS, days=1, per_day=100)
    arrivals = [timeline.created_ms(timeline.total + j) for j in range(10)]
    assert arrivals == sorted(arrivals)
    assert arrivals[0] >= timeline.end_ms > timeline.created_ms(timeline.total - 1)


def test_format_ms_matches_dailys_created_at_format() -> None:
    assert format_ms(to_ms(datetime(2024, 3, 15, 18, 42, tzinfo=timezone.utc))) == "2024-03-15T18:42:00.000Z"
    assert (
        format_ms(to_ms(datetime(2024, 3, 15, 18, 42, 7, 5000, tzinfo=timezone.utc)))
        == "2024-03-15T18:42:07.005Z"
    )
