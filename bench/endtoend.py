"""Path "daily-logs load": the CLI end to end against the simulator, one window.

The simulator runs as its own process (``daily-logs simulate --port 0``) serving exactly the records of
the benchmark dataset for that size; the load runs as another, measured process, so its peak memory is
the load's alone. Each size gets a fresh simulator and every run a fresh DuckDB file. Without a
:class:`ApiLimits` neither side limits the rate; with one, the simulator answers each request
``latency_ms`` after it arrives (its own work counts inside that time, as Daily's does) and refuses more
than ``requests_per_second`` (429), and the client keeps to that rate.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from dataset import Dataset, simulator_config
from measure import Measurement, PathFailed, run_measured

BIN = Path(sys.executable).parent
DAILY_LOGS = str(BIN / "daily-logs")
_SUMMARY = re.compile(r"loaded (\d+) api records .* in ([\d.]+)s \(.*?; (\d+) requests, ")
# The walk's own closing log line ends with its seconds: the requests without staging's start and end.
_WALK_DONE = re.compile(r"Daily logs walk done \(.*, ([\d.]+) s$", re.MULTILINE)


@dataclass(frozen=True)
class ApiLimits:
    """Daily's documented limits, played by the simulator: a rate and a latency per request."""

    requests_per_second: float = 20.0
    latency_ms: float = 100.0

    def floor_seconds(self, requests: int) -> float:
        """The least time ``requests`` sequential requests take: each waits the latency or the rate."""
        return requests * self.request_floor_seconds()

    def request_floor_seconds(self) -> float:
        """The least time one request takes: the latency or the rate's interval, whichever is longer."""
        return max(self.latency_ms / 1000, 1 / self.requests_per_second)


def walk_seconds(log_text: str) -> float | None:
    """The seconds the page walk took, from its closing log line (None when the log has none)."""
    found = _WALK_DONE.search(log_text)
    return float(found.group(1)) if found else None


@contextlib.contextmanager
def simulator(dataset: Dataset, *, log_path: Path, limits: ApiLimits | None = None) -> Iterator[str]:
    """Serve ``dataset``'s records on a free loopback port; yield the base URL."""
    config = simulator_config(dataset)
    with tempfile.TemporaryDirectory(prefix="bench-sim-") as tmp:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("wb") as log:
            command = [
                DAILY_LOGS,
                "simulate",
                "--port",
                "0",
                "--ready-file",
                str(Path(tmp) / "ready"),
                "--seed",
                str(config.seed),
                "--start",
                config.start,
                "--days",
                str(config.days),
                "--api-per-day",
                str(config.api_per_day),
                "--webhook-per-day",
                "0",
            ]
            if limits is not None:
                command += [
                    "--rate-limit-per-second",
                    str(limits.requests_per_second),
                    "--latency-ms",
                    str(limits.latency_ms),
                ]
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True)
            try:
                assert process.stdout is not None
                # The simulator prints its one ready line once it accepts connections; read, don't poll.
                line = process.stdout.readline()
                match = re.match(r"simulator listening on (\S+)", line)
                if match is None:
                    process.wait(timeout=30)
                    raise PathFailed(
                        f"the simulator did not start (exit {process.returncode}, first line {line!r}); see {log_path}"
                    )
                yield match.group(1)
            finally:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def load_command(
    dataset: Dataset,
    base_url: str,
    duckdb_path: Path,
    limits: ApiLimits | None = None,
    extra_args: Sequence[str] = (),
) -> list[str]:
    return [
        DAILY_LOGS,
        "load",
        "--source",
        "api",
        "--start",
        dataset.window_start,
        "--end",
        dataset.window_end,
        "--duckdb",
        str(duckdb_path),
        "--base-url",
        base_url,
        "--requests-per-second",
        "1000" if limits is None else str(limits.requests_per_second),
        *extra_args,
    ]


def flattened_columns(duckdb_path: Path, table: str = "daily_api_logs") -> int:
    """How many flattened (``request__``/``response__``) columns the loaded table has."""
    con = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        names = [
            row[0]
            for row in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE table_name = ?", [table]
            ).fetchall()
        ]
    finally:
        con.close()
    return sum(name.startswith(("request__", "response__")) for name in names)


def measure_load(
    dataset: Dataset,
    repeat: int,
    *,
    logs: Path,
    limits: ApiLimits | None = None,
    extra_args: Sequence[str] = (),
    name: str | None = None,
) -> list[Measurement]:
    """``repeat`` measured runs of ``daily-logs load`` for ``dataset``'s window (``extra_args`` appended
    to its command line)."""
    runs: list[Measurement] = []
    env = {**os.environ, "DAILY_API_KEY": simulator_config(dataset).api_key}
    name = name or f"{dataset.records}" + ("" if limits is None else "-limited")
    with simulator(dataset, log_path=logs / f"simulator-{name}.log", limits=limits) as base_url:
        for attempt in range(repeat):
            log_path = logs / f"e2e-{name}-{attempt}.log"
            with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
                command = load_command(dataset, base_url, Path(tmp) / "bench.duckdb", limits, extra_args)
                measurement = run_measured(command, env=env, log_path=log_path)
                loaded_file = Path(tmp) / "bench.duckdb"
                columns = flattened_columns(loaded_file) if loaded_file.exists() else 0
            # The CLI prints its summary line, not JSON: the rows it loaded, the load's own seconds
            # (the process also spends about a second on interpreter start and imports) and requests.
            log_text = log_path.read_text(encoding="utf-8")
            found = _SUMMARY.search(log_text)
            loaded = int(found.group(1)) if found else 0
            if found is None or loaded != dataset.days * dataset.per_day:
                raise PathFailed(
                    f"daily-logs load reported {loaded} records for a window of {dataset.days * dataset.per_day}; "
                    f"see {logs}"
                )
            measurement.result = {
                "records": loaded,
                "seconds": float(found.group(2)),
                "requests": int(found.group(3)),
                "flattened_columns": columns,
                "walk_seconds": walk_seconds(log_text),
            }
            runs.append(measurement)
    return runs
