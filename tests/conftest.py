"""Session-wide test environment: a throwaway AIRFLOW_HOME, set before anything imports Airflow.

The metadata database is only migrated for tests that ask for the ``airflow_db`` fixture (DAG
runs); everything else runs without it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DAGS_FOLDER = REPO_ROOT / "dags"

_AIRFLOW_HOME = tempfile.mkdtemp(prefix="daily-provider-airflow-")
os.environ["AIRFLOW_HOME"] = _AIRFLOW_HOME
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS_FOLDER)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = "http://127.0.0.1:1/execution/"
os.environ.pop("DAILY_API_KEY", None)
os.environ.pop("DAILY_LOGS_REDACTION_SECRET", None)


@pytest.fixture(scope="session")
def airflow_db() -> Iterator[Path]:
    """Migrate the SQLite metadata DB of the session's AIRFLOW_HOME once."""
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([str(airflow), "db", "migrate"], check=True, capture_output=True, env=os.environ.copy())
    yield Path(_AIRFLOW_HOME)
