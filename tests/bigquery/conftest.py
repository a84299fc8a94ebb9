"""Fixtures for the BigQuery tests: the shared emulator, a fresh dataset per test, a warehouse on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from google.cloud import bigquery

from tests.bigquery.backend import (
    FAST_RETRY,
    BigQueryBackend,
    create_dataset,
    emulator_client,
    emulator_warehouse,
)
from tests.bigquery.emulator_server import Emulator, shared_emulator


@pytest.fixture(scope="session")
def bq_emulator(pytestconfig: pytest.Config) -> Emulator:
    """The local-bigquery emulator on a loopback port (built on first use, stopped at the end)."""
    return shared_emulator(pytestconfig)


@pytest.fixture
def bq_client(bq_emulator: Emulator) -> Iterator[bigquery.Client]:
    client = emulator_client(bq_emulator)
    yield client
    client.close()


@pytest.fixture
def bq_backend(bq_client: bigquery.Client, tmp_path: Path) -> Iterator[BigQueryBackend]:
    """A warehouse on a new, empty dataset, with the contract suite's read-back helpers."""
    dataset = create_dataset(bq_client)
    warehouse = emulator_warehouse(bq_client, dataset)
    yield BigQueryBackend(bq_client, dataset, warehouse)
    warehouse.close()
    bq_client.delete_dataset(dataset, delete_contents=True, not_found_ok=True, retry=FAST_RETRY)
