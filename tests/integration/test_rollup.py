"""The example consumer's rollup: one day rebuilt from the analysis views equals the rollup computed
from the simulator's raw records; a rebuild replaces only that day and a re-run changes nothing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest
from scripts.rollup_truth import expected_rollup

from daily_provider.load import LoadSpec, load_window
from daily_provider.rollup import rebuild_rollup_day, rollup_day
from daily_provider.simulator import SimulatorConfig, SimulatorServer
from daily_provider.warehouses.duckdb import DuckDBWarehouse
from daily_provider.window import Window

DAY1 = datetime(2026, 1, 1, tzinfo=timezone.utc)
CONFIG = SimulatorConfig(seed=41, start="2026-01-01T00:00:00Z", days=2, api_per_day=300, webhook_per_day=80)
SMALL = SimulatorConfig(seed=42, start="2026-01-01T00:00:00Z", days=2, api_per_day=120, webhook_per_day=40)


def rollup(db: Path, day: datetime) -> dict:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT source, name, requests, errors, error_rate, partition_key FROM daily_logs_rollup WHERE day = ?",
            [day.date()],
        ).fetchall()
    for _source, _name, requests, errors, rate, _key in rows:
        assert rate == pytest.approx(errors / requests)
    return {(source, name): (requests, errors) for source, name, requests, errors, _rate, _key in rows}


@pytest.fixture
def loaded(tmp_path: Path):
    """Two days of both sources loaded from the simulator into one DuckDB file."""
    from daily_provider.hooks.daily import DailyHook

    db = tmp_path / "rollup.duckdb"
    with SimulatorServer(CONFIG) as server:
        hook = DailyHook(base_url=server.base_url, api_key=CONFIG.api_key, requests_per_second=1000)
        for offset in range(2):
            window = Window(DAY1 + timedelta(days=offset), DAY1 + timedelta(days=offset + 1))
            for source in ("api", "webhook"):
                with DuckDBWarehouse(db) as warehouse:
                    spec = LoadSpec(source=source, run_id="rollup-test")
                    load_window(hook=hook, warehouse=warehouse, window=window, spec=spec)
        yield db, server


def test_rebuilt_day_equals_the_rollup_of_the_simulators_records(loaded) -> None:
    db, server = loaded
    day = DAY1 + timedelta(days=1)
    written = rebuild_rollup_day(DuckDBWarehouse(db), day.date(), partition_key="2026-01-02T00:00:00")

    end = day + timedelta(days=1)
    wanted = expected_rollup(
        server.simulator.truth("api", day, end), server.simulator.truth("webhook", day, end)
    )
    assert rollup(db, day) == wanted and written == len(wanted)
    assert {source for source, _name in wanted} == {"api", "webhook"}
    assert rollup(db, DAY1) == {}  # another day is not touched by this partition's rebuild


def test_rebuilding_a_day_twice_gives_the_same_rows_and_keeps_other_days(loaded) -> None:
    db, _server = loaded
    rebuild_rollup_day(DuckDBWarehouse(db), DAY1.date(), partition_key="2026-01-01T00:00:00")
    rebuild_rollup_day(
        DuckDBWarehouse(db), (DAY1 + timedelta(days=1)).date(), partition_key="2026-01-02T00:00:00"
    )
    first = rollup(db, DAY1)
    rebuild_rollup_day(DuckDBWarehouse(db), DAY1.date(), partition_key="2026-01-01T00:00:00")
    assert rollup(db, DAY1) == first != {}
    assert rollup(db, DAY1 + timedelta(days=1)) != {}


def test_the_consumer_day_comes_from_the_partition_date_or_its_key() -> None:
    assert rollup_day(DAY1, None) == DAY1.date()
    assert rollup_day(None, "2026-01-01T00:00:00") == DAY1.date()


def test_bigquery_rollup_of_a_day_equals_the_simulators_records(bq_client, bq_dataset: str) -> None:
    # The BigQuery consumer's path (dags/daily_logs_partitioned_bigquery.py), on the emulator.
    from tests.bigquery.backend import emulator_warehouse

    from daily_provider.hooks.daily import DailyHook

    day = DAY1 + timedelta(days=1)
    window = Window(day, day + timedelta(days=1))
    # Fewer records than the DuckDB tests: every emulator job costs seconds; the re-run is tested on DuckDB.
    with SimulatorServer(SMALL) as server:
        hook = DailyHook(base_url=server.base_url, api_key=SMALL.api_key, requests_per_second=1000)
        for source in ("api", "webhook"):
            load_window(
                hook=hook,
                warehouse=emulator_warehouse(bq_client, bq_dataset),
                window=window,
                spec=LoadSpec(source=source, run_id="bq"),
            )
        wanted = expected_rollup(
            server.simulator.truth("api", window.start, window.end),
            server.simulator.truth("webhook", window.start, window.end),
        )
    written = rebuild_rollup_day(
        emulator_warehouse(bq_client, bq_dataset), day.date(), partition_key="2026-01-02T00:00:00"
    )
    rows = bq_client.query_and_wait(
        f"SELECT source, name, requests, errors FROM `{bq_client.project}.{bq_dataset}.daily_logs_rollup`"
    )
    got = {(row["source"], row["name"]): (row["requests"], row["errors"]) for row in rows}
    assert got == wanted and written == len(wanted)
