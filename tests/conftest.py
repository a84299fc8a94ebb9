"""Session-wide test environment: a throwaway AIRFLOW_HOME, set before anything imports Airflow.

The metadata database is only migrated for tests that ask for the ``airflow_db`` fixture (DAG
runs); everything else runs without it. The BigQuery emulator fixtures live here so that every
test directory (tests/bigquery, tests/contract, tests/dags, tests/unit) can reach the one emulator
of the session; google-cloud-bigquery is imported only when a test asks for them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from google.cloud import bigquery

    from tests.bigquery.emulator_server import Emulator

REPO_ROOT = Path(__file__).resolve().parents[1]
DAGS_FOLDER = REPO_ROOT / "dags"

_AIRFLOW_HOME = tempfile.mkdtemp(prefix="daily-provider-airflow-")
os.environ["AIRFLOW_HOME"] = _AIRFLOW_HOME
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS_FOLDER)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = "http://127.0.0.1:1/execution/"
os.environ.pop("DAILY_API_KEY", None)
os.environ.pop("DAILY_LOGS_REDACTION_SECRET", None)
os.environ.pop("BIGQUERY_EMULATOR_HOST", None)


@pytest.fixture(scope="session")
def airflow_db() -> Iterator[Path]:
    """Migrate the SQLite metadata DB of the session's AIRFLOW_HOME once."""
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([str(airflow), "db", "migrate"], check=True, capture_output=True, env=os.environ.copy())
    yield Path(_AIRFLOW_HOME)


@pytest.fixture(scope="session")
def bq_emulator(pytestconfig: pytest.Config) -> Emulator:
    """The local-bigquery emulator on a loopback port (built on first use, stopped at the end)."""
    from tests.bigquery.emulator_server import shared_emulator

    return shared_emulator(pytestconfig)


@pytest.fixture
def bq_client(bq_emulator: Emulator) -> Iterator[bigquery.Client]:
    """google-cloud-bigquery pointed at the emulator, without credentials."""
    from tests.bigquery.backend import emulator_client

    client = emulator_client(bq_emulator)
    yield client
    client.close()


@pytest.fixture
def bq_dataset(bq_client: bigquery.Client) -> Iterator[str]:
    """A new, empty dataset on the emulator, deleted with its tables afterwards."""
    from tests.bigquery.backend import FAST_RETRY, create_dataset

    dataset = create_dataset(bq_client)
    yield dataset
    bq_client.delete_dataset(dataset, delete_contents=True, not_found_ok=True, retry=FAST_RETRY)
