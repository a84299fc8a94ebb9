"""The replace scope contract: a replace deletes exactly what its load fetched, on every backend.

A load's scope is its source, the key's Daily domain, its url filter (when set) and the part of the
window Daily still had (the covered range). Rows outside it survive every replace: another
domain's, another URL's, and those older than what Daily still keeps. A re-run never duplicates a
record, whatever the url filter matched.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.contract.test_window_replace import TABLE, day, full, window_rows

from daily_provider.schema import FIXED_COLUMNS
from daily_provider.scope import LoadScope
from daily_provider.window import Window


def replace(backend: Any, stage: Any, tmp_path: Any, rows: list[dict[str, Any]], scope: Any) -> int:
    return backend.warehouse.replace_window(scope=scope, staged=stage(tmp_path, rows, FIXED_COLUMNS))


def ids(backend: Any) -> list[str]:
    return [row["id"] for row in backend.rows(TABLE)]


def test_a_domains_replace_keeps_another_domains_rows_of_the_same_window(backend, stage, tmp_path):
    theirs = window_rows(day(0), ["b1", "b2"], domain_id="domain-b")
    replace(backend, stage, tmp_path, theirs, LoadScope(TABLE, "api", "domain-b").covering(day(0)))
    replace(
        backend,
        stage,
        tmp_path,
        window_rows(day(0), ["a1", "a2"], domain_id="domain-a"),
        LoadScope(TABLE, "api", "domain-a").covering(day(0)),
    )

    # domain-a's re-run with fewer records removes its own old row, never domain-b's.
    replace(
        backend,
        stage,
        tmp_path,
        window_rows(day(0), ["a1"], domain_id="domain-a"),
        LoadScope(TABLE, "api", "domain-a").covering(day(0)),
    )

    assert ids(backend) == ["a1", "b1", "b2"]
    assert [full(r, FIXED_COLUMNS) for r in theirs] == [r for r in backend.rows(TABLE) if r["id"] != "a1"]


def test_a_filtered_replace_keeps_the_other_urls_rows_and_replaces_its_own(backend, stage, tmp_path):
    everything = window_rows(day(0), ["r1", "r2", "x1", "x2"])
    for row in everything:
        row["url"] = "/v1/rooms" if row["id"].startswith("r") else f"/v1/rooms/{row['id']}"
    replace(backend, stage, tmp_path, everything, LoadScope(TABLE, "api", "domain-1").covering(day(0)))

    # The filtered walk fetched r1 only: r2 (same URL, gone from the answer) goes, x1 and x2 stay.
    refetched = [dict(everything[0], status=201)]
    replace(
        backend, stage, tmp_path, refetched, LoadScope(TABLE, "api", "domain-1", "/v1/rooms").covering(day(0))
    )

    rows = {row["id"]: row for row in backend.rows(TABLE)}
    assert sorted(rows) == ["r1", "x1", "x2"]
    assert rows["r1"]["status"] == 201
    assert rows["x1"] == full(everything[2], FIXED_COLUMNS)


def test_a_filtered_rerun_never_duplicates_a_record_whose_url_the_filter_matched_loosely(
    backend, stage, tmp_path
):
    # Daily's filter may match more than the exact URL (the docs leave it open): a row it returned
    # under another URL is still replaced by id instead of being inserted twice.
    rows = window_rows(day(0), ["m1"], url="/v1/rooms/m1")
    scope = LoadScope(TABLE, "api", "domain-1", "/v1/rooms").covering(day(0))
    replace(backend, stage, tmp_path, rows, scope)
    replace(backend, stage, tmp_path, rows, scope)

    assert ids(backend) == ["m1"]


def test_a_partly_covered_replace_keeps_the_rows_older_than_what_daily_still_has(backend, stage, tmp_path):
    window = day(0)
    first = window_rows(window, ["old1", "old2", "new1", "new2"])
    replace(backend, stage, tmp_path, first, LoadScope(TABLE, "api", "domain-1").covering(window))

    # Retention has reached 09:00: Daily returns only the later records, and one of them less.
    cut = window.start + timedelta(hours=9)
    afternoon = [row for row in first if row["created_at"] >= cut]
    assert [row["id"] for row in afternoon] == ["new1", "new2"]
    covered = Window(cut, window.end)
    replace(backend, stage, tmp_path, afternoon[:1], LoadScope(TABLE, "api", "domain-1").covering(covered))

    assert ids(backend) == ["new1", "old1", "old2"]
    kept = {row["id"]: row for row in backend.rows(TABLE)}
    assert kept["old1"] == full(first[0], FIXED_COLUMNS)
