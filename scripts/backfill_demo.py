"""``make backfill-demo``: a real Airflow 3 backfill over 7 days against the simulator, checked.

Runs the pieces of an Airflow deployment on loopback: the API server (the task execution API),
the DAG processor and the scheduler with the LocalExecutor, in a throwaway AIRFLOW_HOME. Then
``airflow backfill create`` for seven days of ``daily_logs_to_duckdb`` and waits for the runs.
The two source tasks of concurrent runs write to one DuckDB file, so they queue on its lock.
At the end every backfilled day in DuckDB is compared with the simulator's ground truth.
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
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".backfill-demo"
BIN = Path(sys.executable).parent
DAG_ID = "daily_logs_to_duckdb"
DAYS = 7
TIMEOUT_SECONDS = 600


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(what: str, check, timeout: float = 120) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise SystemExit(f"timed out after {timeout:.0f}s waiting for {what}; logs are in {WORK}")


def _airflow(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(BIN / "airflow"), *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
        raise SystemExit(f"`airflow {' '.join(args)}` failed with exit code {result.returncode}:\n{tail}")
    return result


def _start(name: str, *command: str) -> subprocess.Popen[bytes]:
    log = (WORK / f"{name}.log").open("wb")
    return subprocess.Popen(list(command), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _runs() -> list[dict[str, str]]:
    # Read the metadata DB directly: an `airflow` CLI call per poll costs seconds of start-up.
    with sqlite3.connect(WORK / "airflow" / "airflow.db", timeout=30) as db:
        rows = db.execute(
            "SELECT logical_date, state, run_type FROM dag_run WHERE dag_id = ? ORDER BY logical_date",
            (DAG_ID,),
        ).fetchall()
    return [{"logical_date": str(d), "state": str(s), "run_type": str(t)} for d, s, t in rows]


def main() -> int:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir()
    (WORK / "sqlite_connect_args.py").write_text("CONNECT_ARGS = {'timeout': 60}\n")
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    sim_start = today - timedelta(days=DAYS + 3)
    first_day, last_day = sim_start, sim_start + timedelta(days=DAYS - 1)
    api_port = _free_port()
    os.environ.update(
        AIRFLOW_HOME=str(WORK / "airflow"),
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__PARALLELISM="4",
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="True",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{api_port}/execution/",
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__PORT=str(api_port),
        AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_hex(32),
        AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL="5",
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
        # Several Airflow processes share one SQLite file: wait for its lock instead of failing.
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS="sqlite_connect_args.CONNECT_ARGS",
        PYTHONPATH=os.pathsep.join(filter(None, [str(WORK), os.environ.get("PYTHONPATH")])),
        DAILY_LOGS_DUCKDB_PATH=str(WORK / "daily_logs.duckdb"),
        DAILY_LOGS_START_DATE=first_day.date().isoformat(),
        # Only the backfill should create runs; catchup would also run every day up to today.
        DAILY_LOGS_CATCHUP="false",
    )
    processes: list[subprocess.Popen[bytes]] = []
    started = time.monotonic()
    try:
        ready = WORK / "simulator.url"
        processes.append(
            _start(
                "simulator",
                str(BIN / "daily-logs"),
                "simulate",
                "--port",
                "0",
                "--seed",
                "3",
                "--start",
                sim_start.isoformat(),
                "--days",
                str(DAYS + 3),
                "--api-per-day",
                "600",
                "--webhook-per-day",
                "150",
                "--ready-file",
                str(ready),
            )
        )
        _wait_for("the simulator", lambda: ready.exists() and ready.read_text().strip() != "")
        base_url = ready.read_text().strip()
        os.environ["AIRFLOW_CONN_DAILY_DEFAULT"] = json.dumps(
            {
                "conn_type": "daily",
                "host": base_url,
                "password": "sim-key",
                "extra": {"requests_per_second": 20},
            }
        )
        print(f"simulator on {base_url}; initialising Airflow in {WORK / 'airflow'} ...", flush=True)
        _airflow("db", "migrate")
        _airflow("pools", "set", "daily_api", "2", "Daily API: requests across all runs")
        processes.append(_start("dag-processor", str(BIN / "airflow"), "dag-processor"))

        def dag_parsed() -> bool:
            with sqlite3.connect(WORK / "airflow" / "airflow.db", timeout=30) as db:
                return db.execute("SELECT count(*) FROM dag WHERE dag_id = ?", (DAG_ID,)).fetchone()[0] == 1

        _wait_for("the DAG processor to parse the DAG", dag_parsed)
        _airflow("dags", "unpause", DAG_ID)
        print(
            f"airflow backfill create --dag-id {DAG_ID} --from-date {first_day.date()} --to-date {last_day.date()}"
        )
        _airflow(
            "backfill",
            "create",
            "--dag-id",
            DAG_ID,
            "--from-date",
            first_day.date().isoformat(),
            "--to-date",
            last_day.date().isoformat(),
            # No --max-active-runs: Airflow's default runs up to 10 days at once, in any order,
            # and every day must still equal the simulator's truth.
        )
        processes.append(_start("api-server", str(BIN / "airflow"), "api-server"))
        processes.append(_start("scheduler", str(BIN / "airflow"), "scheduler"))

        def api_up() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{api_port}/api/v2/monitor/health", timeout=2):
                    return True
            except OSError:
                return False

        _wait_for("the API server", api_up)

        def backfill_done() -> bool:
            runs = [r for r in _runs() if r.get("run_type") == "backfill"]
            return len(runs) == DAYS and all(r["state"] in ("success", "failed") for r in runs)

        _wait_for(f"{DAYS} backfill runs to finish", backfill_done, timeout=TIMEOUT_SECONDS)
        runs = sorted(
            (r for r in _runs() if r.get("run_type") == "backfill"), key=lambda r: r["logical_date"]
        )
        for run in runs:
            print(f"  backfill run {run['logical_date'][:10]}: {run['state']}")
        failed = [r for r in runs if r["state"] != "success"]
        mismatches = _compare(base_url, first_day, DAYS)
    finally:
        for process in reversed(processes):
            _stop(process)
    for line in mismatches:
        print(line)
    print(f"backfill demo finished in {time.monotonic() - started:.0f}s; logs in {WORK}")
    ok = not failed and all(line.endswith("identical") for line in mismatches)
    print("RESULT:", "every backfilled day equals the simulator's truth" if ok else "MISMATCH")
    return 0 if ok else 1


def _compare(base_url: str, first_day: datetime, days: int) -> list[str]:
    import duckdb

    root = base_url.rsplit("/v1", 1)[0]
    con = duckdb.connect(os.environ["DAILY_LOGS_DUCKDB_PATH"], read_only=True)
    lines = []
    for source in ("api", "webhook"):
        for offset in range(days):
            start = first_day + timedelta(days=offset)
            end = start + timedelta(days=1)
            query = f"source={source}&start={start:%Y-%m-%dT%H:%M:%SZ}&end={end:%Y-%m-%dT%H:%M:%SZ}"
            with urllib.request.urlopen(f"{root}/_sim/truth?{query}", timeout=30) as response:
                truth = sorted(record["id"] for record in json.load(response))
            loaded = [
                row[0]
                for row in con.execute(
                    f"SELECT id FROM daily_{source}_logs WHERE created_at >= ? AND created_at < ? ORDER BY id",
                    [start, end],
                ).fetchall()
            ]
            verdict = (
                "identical" if loaded == truth else f"DIFFERENT (loaded {len(loaded)}, truth {len(truth)})"
            )
            lines.append(f"  {source} {start.date()}: {len(loaded)} rows, {verdict}")
    con.close()
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
