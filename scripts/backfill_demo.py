"""``make backfill-demo``: a real Airflow 3 backfill over 7 days against the simulator, checked.

Runs the pieces of an Airflow deployment on loopback (``scripts/local_airflow.py``): the API server
(the task execution API), the DAG processor and the scheduler with the LocalExecutor, in a
throwaway AIRFLOW_HOME. Then ``airflow backfill create`` for seven days of ``daily_logs_to_duckdb``
and waits for the runs. The two source tasks of concurrent runs write to one DuckDB file, so they
queue on its lock. At the end every backfilled day in DuckDB is compared with the simulator's
ground truth.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timedelta, timezone

# Python puts the script's folder (scripts/) first on sys.path.
from local_airflow import ROOT, LocalAirflow, truth_records

WORK = ROOT / ".backfill-demo"
DAG_ID = "daily_logs_to_duckdb"
DAYS = 7
TIMEOUT_SECONDS = 600


def main() -> int:
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    sim_start = today - timedelta(days=DAYS + 3)
    first_day, last_day = sim_start, sim_start + timedelta(days=DAYS - 1)
    started = time.monotonic()
    env = {
        "DAILY_LOGS_DUCKDB_PATH": str(WORK / "daily_logs.duckdb"),
        "DAILY_LOGS_START_DATE": first_day.date().isoformat(),
    }
    with LocalAirflow(WORK, extra_env=env) as airflow:
        base_url = airflow.start_simulator(
            "simulator",
            sim_start,
            DAYS + 3,
            "--seed",
            "3",
            "--api-per-day",
            "600",
            "--webhook-per-day",
            "150",
        )
        os.environ["AIRFLOW_CONN_DAILY_DEFAULT"] = json.dumps(
            {
                "conn_type": "daily",
                "host": base_url,
                "password": "sim-key",
                "extra": {"requests_per_second": 20},
            }
        )
        print(f"simulator on {base_url}; initialising Airflow in {WORK / 'airflow'} ...", flush=True)
        airflow.init([DAG_ID], {"daily_api": 2})
        print(
            f"airflow backfill create --dag-id {DAG_ID} --from-date {first_day.date()} --to-date {last_day.date()}"
        )
        airflow.airflow(
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
        airflow.run_scheduler()

        def runs() -> list[tuple[str, str]]:
            sql = "SELECT logical_date, state FROM dag_run WHERE dag_id = ? AND run_type = 'backfill' ORDER BY logical_date"
            return [(str(d), str(s)) for d, s in airflow.query(sql, [DAG_ID])]

        def backfill_done() -> bool:
            done = runs()
            return len(done) == DAYS and all(state in ("success", "failed") for _, state in done)

        airflow.wait_for(f"{DAYS} backfill runs to finish", backfill_done, timeout=TIMEOUT_SECONDS)
        for logical_date, state in runs():
            print(f"  backfill run {logical_date[:10]}: {state}")
        failed = [state for _, state in runs() if state != "success"]
        mismatches = _compare(base_url, first_day, DAYS)
    for line in mismatches:
        print(line)
    print(f"backfill demo finished in {time.monotonic() - started:.0f}s; logs in {WORK}")
    ok = not failed and all(line.endswith("identical") for line in mismatches)
    print("RESULT:", "every backfilled day equals the simulator's truth" if ok else "MISMATCH")
    return 0 if ok else 1


def _compare(base_url: str, first_day: datetime, days: int) -> list[str]:
    import duckdb

    con = duckdb.connect(os.environ["DAILY_LOGS_DUCKDB_PATH"], read_only=True)
    lines = []
    for source in ("api", "webhook"):
        for offset in range(days):
            start = first_day + timedelta(days=offset)
            end = start + timedelta(days=1)
            truth = sorted(record["id"] for record in truth_records(base_url, source, start, end))
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
