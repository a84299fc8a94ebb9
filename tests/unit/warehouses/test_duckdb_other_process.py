"""Another program holding the DuckDB file (a notebook, the duckdb CLI), even read-only, makes a load fail
at once with a message that says so, instead of waiting like a load of the same file does (README,
"Which warehouse when")."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from daily_provider.exceptions import WarehouseError
from daily_provider.warehouses.duckdb import DuckDBWarehouse

HOLD = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print("open", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def held_read_only(tmp_path: Path) -> Iterator[Path]:
    """A DuckDB file another process (a notebook) has open read-only."""
    path = tmp_path / "logs.duckdb"
    duckdb.connect(str(path)).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        yield path
    finally:
        holder.terminate()
        holder.wait(timeout=30)


def test_a_reader_in_another_process_fails_a_load_at_once_saying_another_program_has_it_open(
    held_read_only: Path,
) -> None:
    warehouse = DuckDBWarehouse(held_read_only, lock_timeout=60)
    started = time.monotonic()
    with pytest.raises(WarehouseError, match=r"no other program .* has it open") as caught:
        warehouse.connect()
    assert time.monotonic() - started < 30  # not the lock_timeout wait loads of one file use
    assert str(held_read_only) in str(caught.value)
