"""The BigQuery anchor store (daily_logs_anchors) on the local-bigquery emulator over loopback.

The same behaviours as the DuckDB store in tests/integration/test_anchor_walks.py: anchors are
found nearest first at or after a window's end, kept per scope, one per mark and one per record
id, and refused ones are dropped. A load on the emulator also starts its walk from an anchor.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from daily_provider.anchors import Anchor, AnchorRecorder
from daily_provider.hooks.daily import DailyHook, WalkStats
from daily_provider.load import LoadSpec, load_window
from daily_provider.scope import LoadScope
from daily_provider.simulator import SimulatorConfig, SimulatorServer
from daily_provider.simulator.fakes import Domain
from daily_provider.warehouses.base import ANCHORS_TABLE, AnchorStore, anchor_store_of
from daily_provider.window import Window
from tests.bigquery.backend import FAST_RETRY, BigQueryBackend

pytestmark = pytest.mark.bigquery

SCOPE = LoadScope("daily_api_logs", "api", "domain-1")
T0 = datetime(2026, 1, 10, tzinfo=timezone.utc)


def anchor(hour: int, record_id: str, *, minute: int = 0, convention: str = "stripe") -> Anchor:
    mark = T0 + timedelta(hours=hour)
    return Anchor(
        record_id=record_id,
        created_at=mark + timedelta(minutes=minute, milliseconds=7),
        convention=convention,
        mark=mark,
        older_id=f"{record_id}-older",
        older_created_at=mark - timedelta(milliseconds=1),
    )


def table_names(backend: BigQueryBackend) -> list[str]:
    return sorted(t.table_id for t in backend.client.list_tables(backend.dataset, retry=FAST_RETRY))


def test_the_bigquery_warehouse_keeps_an_anchor_store(bq_backend: BigQueryBackend) -> None:
    assert isinstance(bq_backend.warehouse.anchors, AnchorStore)
    assert isinstance(anchor_store_of(bq_backend.warehouse), AnchorStore)


def test_finding_anchors_before_any_were_saved_is_empty_and_creates_nothing(
    bq_backend: BigQueryBackend,
) -> None:
    assert bq_backend.warehouse.anchors.find_anchors(SCOPE, at_or_after=T0, limit=3) == []
    assert ANCHORS_TABLE not in table_names(bq_backend)


def test_saved_anchors_come_back_nearest_first_at_or_after_the_end_with_exact_times(
    bq_backend: BigQueryBackend,
) -> None:
    saved = [anchor(5, "e"), anchor(1, "a"), anchor(3, "c"), anchor(2, "b")]
    bq_backend.warehouse.anchors.save_anchors(SCOPE, saved)

    found = bq_backend.warehouse.anchors.find_anchors(SCOPE, at_or_after=T0 + timedelta(hours=2), limit=2)

    assert found == [anchor(2, "b"), anchor(3, "c")]
    assert found[0].created_at.tzinfo is not None


def test_anchors_are_kept_per_table_source_url_filter_and_domain(bq_backend: BigQueryBackend) -> None:
    store = bq_backend.warehouse
    other_scopes = [
        LoadScope("other_logs", "api", "domain-1"),
        LoadScope("daily_api_logs", "webhook", "domain-1"),
        LoadScope("daily_api_logs", "api", "domain-1", "/v1/rooms"),
        LoadScope("daily_api_logs", "api", "domain-2"),
    ]
    for number, scope in enumerate(other_scopes):
        store.anchors.save_anchors(scope, [anchor(1, f"other-{number}")])
    store.anchors.save_anchors(SCOPE, [anchor(1, "mine")])

    assert [a.record_id for a in store.anchors.find_anchors(SCOPE, at_or_after=T0, limit=10)] == ["mine"]


def test_a_new_anchor_replaces_the_one_of_its_mark_and_of_its_id(bq_backend: BigQueryBackend) -> None:
    store = bq_backend.warehouse
    store.anchors.save_anchors(SCOPE, [anchor(1, "old-of-mark-1"), anchor(2, "moves")])

    store.anchors.save_anchors(SCOPE, [anchor(1, "new-of-mark-1", minute=5), anchor(3, "moves")])

    found = store.anchors.find_anchors(SCOPE, at_or_after=T0, limit=10)
    assert [(a.mark, a.record_id) for a in found] == [
        (T0 + timedelta(hours=1), "new-of-mark-1"),
        (T0 + timedelta(hours=3), "moves"),
    ]


def test_dropping_anchors_removes_only_those_ids_of_that_scope(bq_backend: BigQueryBackend) -> None:
    store = bq_backend.warehouse
    other = LoadScope("daily_api_logs", "webhook", "domain-1")
    store.anchors.save_anchors(SCOPE, [anchor(1, "a"), anchor(2, "b")])
    store.anchors.save_anchors(other, [anchor(1, "a")])

    store.anchors.drop_anchors(SCOPE, ["a", "not-there"])

    assert [a.record_id for a in store.anchors.find_anchors(SCOPE, at_or_after=T0, limit=10)] == ["b"]
    assert [a.record_id for a in store.anchors.find_anchors(other, at_or_after=T0, limit=10)] == ["a"]


def test_a_load_on_bigquery_starts_from_a_stored_anchor_and_stores_the_anchors_it_passed(
    bq_backend: BigQueryBackend, tmp_path
) -> None:
    # Few records and small pages: the emulator takes seconds per replace of a wide table.
    config = SimulatorConfig(seed=11, days=3, api_per_day=30, webhook_per_day=5, api_key="sim-key-bq")
    day = [datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(days=n) for n in range(4)]
    store = bq_backend.warehouse
    scope = LoadScope("daily_api_logs", "api", Domain.for_seed(config.seed).domain_id)
    with SimulatorServer(config) as server:
        hook = DailyHook(
            api_key="sim-key-bq", base_url=server.base_url, requests_per_second=1000.0, page_limit=10
        )
        # An earlier walk of the newest day, as a load would have done it: its anchors go to BigQuery.
        recorder = AnchorRecorder()
        stats = WalkStats()
        list(hook.iter_logs(day[2], day[3], stats=stats, on_page=recorder.on_page))
        store.anchors.save_anchors(scope, recorder.anchors(stats.convention))
        server.reset_stats()

        summary = load_window(
            hook=hook,
            warehouse=store,
            window=Window(day[1], day[2]),
            spec=LoadSpec(source="api", run_id="bq-1", staging_dir=tmp_path),
        )
        truth = {r["id"] for r in server.simulator.truth("api", day[1], day[2])}
        requests = server.stats()["requests"]

    assert summary.started_after is not None
    # The pages of the window, one more at its start, and one for the key's domain.
    assert requests == summary.requests <= -(-len(truth) // 10) + 3
    assert {row["id"] for row in bq_backend.rows("daily_api_logs")} == truth
    # The load stored the anchors it passed: about one per hour of its own day (30 records a day
    # leave some hours empty), each the oldest record at or after its mark.
    found = [
        a for a in store.anchors.find_anchors(scope, at_or_after=day[1], limit=100) if a.created_at < day[2]
    ]
    assert len(found) >= 10
    assert all(a.created_at >= a.mark > a.older_created_at for a in found)
