"""``make demo``: the example DAG for three days against the local simulator, into DuckDB.

Starts ``daily-logs simulate`` on a free loopback port (unless ``DAILY_API_KEY`` is set: then
the real API), runs the ``daily_logs_to_duckdb`` DAG for three consecutive days with Airflow's
``dag.test()`` (a real DAG run against a local SQLite metadata DB), stops the simulator whatever
happens, checks the loaded rows against the simulator's ground truth and prints a summary.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".demo"
AIRFLOW_HOME = WORK / "airflow"
DUCKDB_PATH = WORK / "daily_logs.duckdb"
BIN = Path(sys.executable).parent
SIM_SEED = 7
SIM_START = datetime(2026, 1, 1, tzinfo=timezone.utc)
DEMO_DAYS = 3


def _airflow_env() -> None:
    os.environ["AIRFLOW_HOME"] = str(AIRFLOW_HOME)
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = os.environ.get("DEMO_LOG_LEVEL", "WARNING")
    os.environ["DAILY_LOGS_DUCKDB_PATH"] = str(DUCKDB_PATH)


def _start_simulator() -> tuple[subprocess.Popen[bytes], str]:
    ready = WORK / "simulator.url"
    ready.unlink(missing_ok=True)
    process = subprocess.Popen(
        [
            str(BIN / "daily-logs"),
            "simulate",
            "--port",
            "0",
            "--seed",
            str(SIM_SEED),
            "--start",
            SIM_START.isoformat(),
            "--days",
            str(DEMO_DAYS + 1),
            "--ready-file",
            str(ready),
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the simulator exited early with code {process.returncode}")
        if ready.exists() and ready.read_text().strip():
            return process, ready.read_text().strip()
        time.sleep(0.05)
    process.kill()
    raise SystemExit("the simulator did not become ready within 30 s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _truth(base_url: str, source: str, start: datetime, end: datetime) -> set[str]:
    root = base_url.rsplit("/v1", 1)[0]
    query = f"source={source}&start={start.isoformat().replace('+00:00', 'Z')}&end={end.isoformat().replace('+00:00', 'Z')}"
    with urllib.request.urlopen(f"{root}/_sim/truth?{query}", timeout=30) as response:
        return {record["id"] for record in json.load(response)}


def main() -> int:
    real_api = bool(os.environ.get("DAILY_API_KEY"))
    WORK.mkdir(exist_ok=True)
    DUCKDB_PATH.unlink(missing_ok=True)
    _airflow_env()
    started = time.monotonic()
    if not (AIRFLOW_HOME / "airflow.db").exists():
        print("initialising the Airflow metadata DB (first run only) ...", flush=True)
        subprocess.run([str(BIN / "airflow"), "db", "migrate"], check=True, capture_output=True)

    simulator = None
    if real_api:
        base_url = os.environ.get("DAILY_API_BASE_URL", "https://api.daily.co/v1")
        api_key = os.environ["DAILY_API_KEY"]
        today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        first_day = today - timedelta(days=DEMO_DAYS)
        print(f"running against the real Daily API at {base_url}", flush=True)
    else:
        simulator, base_url = _start_simulator()
        api_key = "sim-key"
        first_day = SIM_START
        print(f"simulator listening on {base_url}", flush=True)
    connection: dict[str, object] = {"conn_type": "daily", "host": base_url, "password": api_key}
    if simulator is not None:
        # The simulator is local: no need for the conservative default of 2 requests/s.
        connection["extra"] = {"requests_per_second": 50}
    os.environ["AIRFLOW_CONN_DAILY_DEFAULT"] = json.dumps(connection)
    os.environ["DAILY_LOGS_START_DATE"] = first_day.date().isoformat()

    try:
        # Airflow's own deprecation chatter (httpx, starlette) is noise in a demo.
        warnings.simplefilter("ignore", DeprecationWarning)
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(str(ROOT / "dags"))
        if bag.import_errors:
            raise SystemExit(f"DAG import errors: {bag.import_errors}")
        dag = bag.get_dag("daily_logs_to_duckdb")
        days = [first_day + timedelta(days=i) for i in range(DEMO_DAYS)]
        for day in days:
            # A manual run at logical date D covers the day before D.
            run = dag.test(logical_date=day + timedelta(days=1))
            state = str(run.state).rsplit(".", 1)[-1].lower()
            print(f"DAG run for {day.date()}: {state}", flush=True)
            if state != "success":
                raise SystemExit(f"the DAG run for {day.date()} ended {state}; see the log above")
        checks = []
        if simulator is not None:
            import duckdb

            con = duckdb.connect(str(DUCKDB_PATH), read_only=True)
            for source in ("api", "webhook"):
                expected = _truth(base_url, source, days[0], days[-1] + timedelta(days=1))
                loaded = {row[0] for row in con.execute(f"SELECT id FROM daily_{source}_logs").fetchall()}
                checks.append(
                    f"{source}: {len(loaded)} rows loaded, simulator truth {len(expected)}, "
                    f"{'identical' if loaded == expected else 'DIFFERENT'}"
                )
            con.close()
    finally:
        if simulator is not None:
            _stop(simulator)

    from daily_provider.summary import summary_text

    print()
    print(summary_text(DUCKDB_PATH))
    if checks:
        print("\nground truth check (ids in DuckDB vs the simulator):")
        for line in checks:
            print(f"  {line}")
    print(f"\ndemo finished in {time.monotonic() - started:.1f}s; DuckDB file: {DUCKDB_PATH}")
    print(f"summary again at any time: .venv/bin/daily-logs summary --duckdb {DUCKDB_PATH}")
    return 0 if all("identical" in line for line in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
