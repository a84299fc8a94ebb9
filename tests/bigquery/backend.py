"""The BigQuery backend of the window-replace contract suite, on the local-bigquery emulator.

``bigquery_backend(request, tmp_path)`` has the contract's factory shape: it yields an object with
``name``, ``warehouse`` (a BigQueryWarehouse on a fresh, empty dataset of the shared emulator),
``rows(table, key=...)`` and ``columns(table)``.

``columns`` and ``rows`` show the table as it is, STRING siblings ``<name>__str_`` included (BigQuery
cannot turn a typed column into STRING, see ``warehouses/bigquery_columns.py``): the contract
suite states where that makes the two warehouses differ.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timezone
from pathlib import Path
from typing import Any

import pytest
from google.api_core.client_options import ClientOptions
from google.api_core.retry import Retry
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from daily_provider.schema import ColumnType
from daily_provider.warehouses.bigquery import BigQueryWarehouse
from tests.bigquery.emulator_server import Emulator, shared_emulator

# The emulator is local: a request that fails should fail the test at once, not back off for minutes.
FAST_RETRY = Retry(initial=0.05, maximum=0.2, multiplier=2.0, timeout=5.0)


def emulator_client(emulator: Emulator) -> bigquery.Client:
    """google-cloud-bigquery pointed at the emulator, without credentials."""
    return bigquery.Client(
        project=emulator.project,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options=ClientOptions(api_endpoint=emulator.endpoint),
    )


def create_dataset(client: bigquery.Client) -> str:
    """A new empty dataset with a unique name."""
    name = f"daily_{uuid.uuid4().hex[:12]}"
    client.create_dataset(bigquery.Dataset(f"{client.project}.{name}"), retry=FAST_RETRY)
    return name


def emulator_warehouse(client: bigquery.Client, dataset: str, **overrides: Any) -> BigQueryWarehouse:
    settings: dict[str, Any] = {
        "project": client.project,
        "dataset": dataset,
        "client": client,
        "api_retry": FAST_RETRY,
        "conflict_retry_delays": (0.0,),
    }
    return BigQueryWarehouse(**{**settings, **overrides})


class BigQueryBackend:
    name = "bigquery"

    def __init__(self, client: bigquery.Client, dataset: str, warehouse: BigQueryWarehouse) -> None:
        self.client = client
        self.dataset = dataset
        self.warehouse = warehouse

    def columns(self, table: str) -> dict[str, ColumnType]:
        return self.warehouse.table_columns(table)

    def rows(self, table: str, *, key: str = "id") -> list[dict[str, Any]]:
        columns = self.columns(table)
        if not columns:
            return []
        fetched = self.client.query_and_wait(
            f"SELECT * FROM `{self.client.project}`.`{self.dataset}`.`{table}`", retry=FAST_RETRY
        )
        rows = [
            {name: _normalize(column_type, row.get(name)) for name, column_type in columns.items()}
            for row in fetched
        ]
        return sorted(rows, key=lambda row: row[key])


def _normalize(column_type: ColumnType, value: Any) -> Any:
    # The client already parses JSON columns into Python values.
    if value is not None and column_type is ColumnType.TIMESTAMP:
        return value.astimezone(timezone.utc)
    return value


@contextmanager
def bigquery_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BigQueryBackend]:
    """The contract suite's factory: a warehouse on a fresh dataset of the shared emulator."""
    client = emulator_client(shared_emulator(request.config))
    dataset = create_dataset(client)
    warehouse = emulator_warehouse(client, dataset)
    try:
        yield BigQueryBackend(client, dataset, warehouse)
    finally:
        warehouse.close()
        client.delete_dataset(dataset, delete_contents=True, not_found_ok=True, retry=FAST_RETRY)
        client.close()
