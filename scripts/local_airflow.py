"""A throwaway Airflow 3 deployment on loopback for the demos: simulator, API server, DAG processor,
scheduler with the LocalExecutor, in one work directory.

``scripts/backfill_demo.py`` and ``scripts/partition_demo.py`` drive it: start it, create runs with
the ``airflow`` CLI, poll the metadata DB (SQLite) until the runs finish, compare with the
simulator's truth, stop everything. Every wait polls a condition with a deadline.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalAirflow:
    """Airflow's processes for one demo in ``work`` (wiped first); use as a context manager."""

    def __init__(self, work: Path, *, extra_env: dict[str, str] | None = None) -> None:
        self.work = work
        self.api_port = free_port()
        self.processes: list[subprocess.Popen[bytes]] = []
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        (work / "sqlite_connect_args.py").write_text("CONNECT_ARGS = {'timeout': 60}\n")
        os.environ.update(
            AIRFLOW_HOME=str(work / "airflow"),
            AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__EXECUTOR="LocalExecutor",
            AIRFLOW__CORE__PARALLELISM="4",
            AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="True",
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{self.api_port}/execution/",
            AIRFLOW__API__HOST="127.0.0.1",
            AIRFLOW__API__PORT=str(self.api_port),
            AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_hex(32),
            AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL="5",
            AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
            # Several Airflow processes share one SQLite file: wait for its lock instead of failing.
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS="sqlite_connect_args.CONNECT_ARGS",
            PYTHONPATH=os.pathsep.join(filter(None, [str(work), os.environ.get("PYTHONPATH")])),
            # Only the demo's commands should create runs; catchup would also run every day up to today.
            DAILY_LOGS_CATCHUP="false",
            **(extra_env or {}),
        )

    def __enter__(self) -> LocalAirflow:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_for(self, what: str, check: Callable[[], bool], timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.5)
        raise SystemExit(f"timed out after {timeout:.0f}s waiting for {what}; logs are in {self.work}")

    def start(self, name: str, *command: str) -> subprocess.Popen[bytes]:
        log = (self.work / f"{name}.log").open("wb")
        process = subprocess.Popen(
            list(command), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in reversed(self.processes):
            _terminate(process)
        self.processes.clear()

    def airflow(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(BIN / "airflow"), *args], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
            raise SystemExit(f"`airflow {' '.join(args)}` failed with exit code {result.returncode}:\n{tail}")
        return result

    def start_simulator(self, name: str, start: datetime, days: int, *options: str) -> str:
        """Start ``daily-logs simulate`` on a free loopback port; return its base URL."""
        ready = self.work / f"{name}.url"
        self.start(
            name,
            str(BIN / "daily-logs"),
            "simulate",
            "--port",
            "0",
            "--start",
            start.isoformat(),
            "--days",
            str(days),
            "--ready-file",
            str(ready),
            *options,
        )
        self.wait_for(name, lambda: ready.exists() and ready.read_text().strip() != "")
        return ready.read_text().strip()

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        # Read the metadata DB directly: an `airflow` CLI call per poll costs seconds of start-up.
        with sqlite3.connect(self.work / "airflow" / "airflow.db", timeout=30) as db:
            return list(db.execute(sql, tuple(params)).fetchall())

    def init(self, dag_ids: Sequence[str], pools: dict[str, int]) -> None:
        """Migrate the metadata DB, set the pools, parse the DAGs with the DAG processor, unpause them.

        The DAG processor is stopped once the DAGs are in the DB: nothing changes the DAG files during
        a demo, and its periodic writes to the SQLite file made ``airflow backfill create`` fail with
        "database is locked" on a loaded machine.
        """
        self.airflow("db", "migrate")
        for pool, slots in pools.items():
            self.airflow("pools", "set", pool, str(slots), f"{pool} (demo)")
        processor = self.start("dag-processor", str(BIN / "airflow"), "dag-processor")
        marks = ",".join("?" * len(dag_ids))

        def parsed() -> bool:
            rows = self.query(f"SELECT count(*) FROM dag WHERE dag_id IN ({marks})", dag_ids)
            return rows[0][0] == len(dag_ids)

        self.wait_for(f"the DAG processor to parse {', '.join(dag_ids)}", parsed)
        _terminate(processor)
        self.processes.remove(processor)
        for dag_id in dag_ids:
            self.airflow("dags", "unpause", dag_id)

    def run_scheduler(self) -> None:
        """Start the API server (the task execution API), wait until it answers, then the scheduler.

        In that order: a task the scheduler hands out before the execution API is up fails at once
        and waits out its retry delay (minutes in the example DAGs).
        """
        self.start("api-server", str(BIN / "airflow"), "api-server")
        health = f"http://127.0.0.1:{self.api_port}/api/v2/monitor/health"

        def api_up() -> bool:
            try:
                with urllib.request.urlopen(health, timeout=2):
                    return True
            except OSError:
                return False

        self.wait_for("the API server", api_up)
        self.start("scheduler", str(BIN / "airflow"), "scheduler")


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def truth_records(base_url: str, source: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The simulator's records of ``source`` in ``[start, end)``, from its truth endpoint."""
    root = base_url.rsplit("/v1", 1)[0]
    query = f"source={source}&start={start:%Y-%m-%dT%H:%M:%SZ}&end={end:%Y-%m-%dT%H:%M:%SZ}"
    with urllib.request.urlopen(f"{root}/_sim/truth?{query}", timeout=30) as response:
        return list(json.load(response))
