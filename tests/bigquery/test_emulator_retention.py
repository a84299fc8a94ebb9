"""Retention on BigQuery (the local-bigquery emulator): a re-run never deletes what Daily forgot.

The same promise as tests/integration/test_load_scope.py on DuckDB, through ``load_window`` and
``load_range`` against the simulator: after Daily's retention reached into a day, its re-run
replaces only the part Daily still has; a day Daily no longer has is left as it was; the ledger
says which. Few records and small pages: the emulator takes seconds per replace.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from daily_provider.hooks.daily import DailyHook
from daily_provider.load import LoadSpec, load_range, load_window
from daily_provider.simulator import FaultConfig, SimulatorConfig, SimulatorServer
from daily_provider.window import Window
from tests.bigquery.backend import BigQueryBackend

pytestmark = pytest.mark.bigquery

KEY = "sim-key-bq-retention"
DAY = [datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(days=n) for n in range(3)]
META = ("_loaded_at", "_run_id", "_window_start", "_window_end")


def content(backend: BigQueryBackend) -> list[dict[str, object]]:
    return [{k: v for k, v in row.items() if k not in META} for row in backend.rows("daily_api_logs")]


def test_single_window_and_range_reruns_after_retention_keep_every_row(
    bq_backend: BigQueryBackend, tmp_path
) -> None:
    config = SimulatorConfig(seed=12, days=2, api_per_day=16, webhook_per_day=0, api_key=KEY)
    store = bq_backend.warehouse
    with SimulatorServer(config) as server:
        hook = DailyHook(api_key=KEY, base_url=server.base_url, requests_per_second=1000.0, page_limit=10)
        both_days = Window(DAY[0], DAY[2])
        arguments: dict[str, Any] = {"hook": hook, "warehouse": store}

        def spec(run_id: str) -> LoadSpec:
            return LoadSpec(source="api", run_id=run_id, staging_dir=tmp_path)

        first = load_range(window=both_days, spec=spec("first"), **arguments)
        before = content(bq_backend)
        truth = sorted(r["id"] for r in server.simulator.truth("api", DAY[0], DAY[2]))
        assert [row["id"] for row in before] == truth
        assert [w.status for w in first.windows] == ["success", "success"]

        server.set_faults(FaultConfig(retention_before=(DAY[0] + timedelta(hours=12)).isoformat()))
        partial = load_window(window=Window(DAY[0], DAY[1]), spec=spec("partial"), **arguments)
        assert partial.status == "partial" and partial.covered_start is not None
        assert partial.covered_start >= DAY[0] + timedelta(hours=12)
        assert content(bq_backend) == before

        server.set_faults(FaultConfig(retention_before=DAY[1].isoformat()))
        again = load_range(window=both_days, spec=spec("again"), **arguments)
        assert [w.status for w in again.windows] == ["not_covered", "success"]
        assert content(bq_backend) == before

    ledger = {
        (row["run_id"], row["window_start"]): (row["status"], row["covered_start"] is not None)
        for row in bq_backend.rows("daily_logs_loads", key="load_id")
    }
    assert ledger == {
        ("first", DAY[0]): ("success", True),
        ("first", DAY[1]): ("success", True),
        ("partial", DAY[0]): ("partial", True),
        ("again", DAY[0]): ("not_covered", False),
        ("again", DAY[1]): ("success", True),
    }
