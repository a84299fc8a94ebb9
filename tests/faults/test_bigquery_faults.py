"""The warehouse-facing fault cases on the BigQuery emulator (local-bigquery, over loopback).

A faulty but survivable walk must land the truth; a key revoked mid-walk must leave the table as
it was and record a failed attempt; windows replaced by parallel processes must all land. Loads on
the emulator take seconds, so the tests share one dataset and one faulty load. The emulator
serializes writers to a table, so BigQuery's "transaction aborted due to concurrent
update" cannot happen here: its retry under a new job id is covered at request level
(``tests/bigquery/test_bigquery_requests.py``); this proves parallel loads do not get in each
other's way.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from daily_provider.exceptions import DailyAPIError
from daily_provider.load import LoadSpec, load_window
from daily_provider.simulator import FaultConfig, SimulatorServer
from daily_provider.warehouses.base import LOADS_TABLE
from daily_provider.warehouses.bigquery import BigQueryWarehouse
from daily_provider.window import Window
from tests.bigquery.backend import (
    FAST_RETRY,
    BigQueryBackend,
    create_dataset,
    emulator_client,
    emulator_warehouse,
)
from tests.bigquery.emulator_server import Emulator
from tests.faults.harness import KEY, day, expected_rows, make_hook, mismatch, sim_config
from tests.faults.zygote import Zygote

pytestmark = pytest.mark.bigquery

TABLE = "daily_api_logs"


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorServer]:
    with SimulatorServer(sim_config(days=2, api_per_day=120, webhook_per_day=10)) as running:
        yield running


@pytest.fixture(scope="module")
def backend(bq_emulator: Emulator) -> Iterator[BigQueryBackend]:
    """One dataset for the module: loading a window on the emulator takes seconds, so tests share it."""
    client = emulator_client(bq_emulator)
    dataset = create_dataset(client)
    warehouse = emulator_warehouse(client, dataset)
    yield BigQueryBackend(client, dataset, warehouse)
    warehouse.close()
    client.delete_dataset(dataset, delete_contents=True, not_found_ok=True, retry=FAST_RETRY)
    client.close()


@pytest.fixture(scope="module")
def landed(server: SimulatorServer, backend: BigQueryBackend) -> list[dict[str, Any]]:
    """Day 1 loaded through a walk full of faults: 5xx, truncated pages, duplicates, a 429 burst, a capped limit."""
    server.set_faults(
        FaultConfig(
            seed=4, error_5xx_rate=0.2, truncate_rate=0.2, duplicate_rate=0.3, burst_429=2, max_limit=30
        )
    )
    server.reset_stats()
    load(server, backend.warehouse, day(1), "faulty")
    assert server.stats()["faults_injected"], "no fault fired: the walk proved nothing"
    server.set_faults(FaultConfig())
    return backend.rows(TABLE)


def audit(backend: BigQueryBackend) -> list[dict[str, Any]]:
    rows = backend.client.query_and_wait(
        f"SELECT run_id, status, error FROM `{backend.client.project}`.`{backend.dataset}`.`{LOADS_TABLE}`",
        retry=FAST_RETRY,
    )
    return sorted((dict(row.items()) for row in rows), key=lambda row: (row["run_id"], row["status"]))


def load(server: SimulatorServer, warehouse: BigQueryWarehouse, window: Window, run_id: str) -> None:
    load_window(
        hook=make_hook(server),
        warehouse=warehouse,
        window=window,
        spec=LoadSpec(source="api", table=TABLE, run_id=run_id),
    )


def test_a_faulty_walk_lands_exactly_the_truth(
    server: SimulatorServer, backend: BigQueryBackend, landed: list[dict[str, Any]]
) -> None:
    problem = mismatch(landed, expected_rows(server, "api", day(1)))
    assert problem is None, f"the BigQuery table is not the simulator's truth: {problem}"
    assert {row["_run_id"] for row in landed} == {"faulty"}
    assert ("faulty", "success") in [(row["run_id"], row["status"]) for row in audit(backend)]


def test_a_key_revoked_mid_walk_fails_fast_and_changes_nothing(
    server: SimulatorServer, backend: BigQueryBackend, landed: list[dict[str, Any]]
) -> None:
    before = backend.rows(TABLE)
    server.set_faults(FaultConfig(auth_fail_after=1))
    server.reset_stats()
    with pytest.raises(DailyAPIError, match="401 authentication-error") as caught:
        load(server, backend.warehouse, day(1), "revoked")
    server.set_faults(FaultConfig())
    assert server.stats()["requests"] == 2, "a 401 must fail at once, not be retried"
    assert KEY not in str(caught.value)
    assert backend.rows(TABLE) == before
    revoked = [row for row in audit(backend) if row["run_id"] == "revoked"]
    assert [row["status"] for row in revoked] == ["failed"]
    assert (
        revoked[0]["error"].startswith("DailyAPIError: Daily answered 401") and KEY not in revoked[0]["error"]
    )


def test_windows_replaced_by_parallel_processes_all_land(
    zygote: Zygote,
    server: SimulatorServer,
    bq_emulator: Emulator,
    backend: BigQueryBackend,
    landed: list[dict[str, Any]],
) -> None:
    # Halves of the loaded day: the table already has their columns, so the processes race only
    # their replace transactions, which conflict on the emulator as on BigQuery and must be retried.
    halves = [
        Window(day(1).start, day(1).start + timedelta(hours=12)),
        Window(day(1).start + timedelta(hours=12), day(1).end),
    ]
    children = [
        zygote.spawn(
            "bigquery",
            {
                "endpoint": bq_emulator.endpoint,
                "project": backend.client.project,
                "dataset": backend.dataset,
                "base_url": server.base_url,
                "source": "api",
                "start": half.start.isoformat(),
                "end": half.end.isoformat(),
                "run_id": f"parallel-{n}",
            },
            env={"DAILY_API_KEY": KEY},
        )
        for n, half in enumerate(halves)
    ]
    for child in children:
        assert child.wait(300) == 0, child.output()
    rows = backend.rows(TABLE)
    problem = mismatch(rows, expected_rows(server, "api", day(1)))
    assert problem is None, f"parallel windows did not all land: {problem}"
    assert {row["_run_id"] for row in rows} == {f"parallel-{n}" for n in range(2)}
    statuses = [
        (row["run_id"], row["status"]) for row in audit(backend) if row["run_id"].startswith("parallel")
    ]
    assert statuses == [(f"parallel-{n}", "success") for n in range(2)]
