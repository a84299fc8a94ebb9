"""``make partition-demo``: partitioned producer and consumer DAGs under a real scheduler, checked.

Starts Airflow on loopback (``scripts/local_airflow.py``) with the simulator, backfills three UTC
days of ``daily_logs_partitioned_to_duckdb`` (``CronPartitionTimetable``: runs keyed
``2026-01-01T00:00:00``, no data interval), and waits until ``daily_logs_rollup_duckdb``
(``PartitionedAssetTimetable``) has run once per key the loads' Asset events carried. Then checks:
each producer run loaded exactly the simulator's records of its day, both sources; each consumer
run's key is one of those days; and ``daily_logs_rollup`` for each day equals the rollup computed
from the simulator's raw records (``scripts/rollup_truth.py``).
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timedelta, timezone

# Python puts the script's folder (scripts/) first on sys.path.
from local_airflow import ROOT, LocalAirflow, truth_records
from rollup_truth import expected_rollup

WORK = ROOT / ".partition-demo"
PRODUCER = "daily_logs_partitioned_to_duckdb"
CONSUMER = "daily_logs_rollup_duckdb"
DAYS = 3
TIMEOUT_SECONDS = 600
KEY_FORMAT = "%Y-%m-%dT%H:%M:%S"  # CronPartitionTimetable's default key_format


def main() -> int:
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    sim_start = today - timedelta(days=DAYS + 3)
    days = [sim_start + timedelta(days=offset) for offset in range(DAYS)]
    keys = [day.strftime(KEY_FORMAT) for day in days]
    started = time.monotonic()
    env = {
        "DAILY_LOGS_DUCKDB_PATH": str(WORK / "daily_logs.duckdb"),
        "DAILY_LOGS_START_DATE": days[0].date().isoformat(),
    }
    with LocalAirflow(WORK, extra_env=env) as airflow:
        base_url = airflow.start_simulator(
            "simulator",
            sim_start,
            DAYS + 3,
            "--seed",
            "5",
            "--api-per-day",
            "400",
            "--webhook-per-day",
            "120",
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
        airflow.init([PRODUCER, CONSUMER], {"daily_api": 2})
        first, last = days[0].date().isoformat(), days[-1].date().isoformat()
        print(f"airflow backfill create --dag-id {PRODUCER} --from-date {first} --to-date {last}")
        airflow.airflow("backfill", "create", "--dag-id", PRODUCER, "--from-date", first, "--to-date", last)
        airflow.run_scheduler()

        # Only the backfilled days count: with catchup off, the scheduler still makes the latest
        # partition's run (yesterday's), and the consumer then runs for that key too.
        marks = ",".join("?" * len(keys))

        def runs(dag_id: str) -> list[tuple[str, str, str]]:
            sql = (
                "SELECT partition_key, state, run_type FROM dag_run "
                f"WHERE dag_id = ? AND partition_key IN ({marks}) ORDER BY partition_key"
            )
            return [(str(k), str(s), str(t)) for k, s, t in airflow.query(sql, [dag_id, *keys])]

        def finished(dag_id: str) -> bool:
            done = runs(dag_id)
            return len(done) >= DAYS and all(state in ("success", "failed") for _, state, _ in done)

        airflow.wait_for(f"{DAYS} producer runs", lambda: finished(PRODUCER), timeout=TIMEOUT_SECONDS)
        airflow.wait_for(f"{DAYS} consumer runs", lambda: finished(CONSUMER), timeout=TIMEOUT_SECONDS)
        producer, consumer = runs(PRODUCER), runs(CONSUMER)
        for dag_id, found in ((PRODUCER, producer), (CONSUMER, consumer)):
            for key, state, run_type in found:
                print(f"  {dag_id} partition {key} ({run_type}): {state}")
        lines = _compare(base_url, days, keys)
    problems = [line for line in lines if not line.endswith("identical")]
    if [key for key, _, _ in producer] != keys or any(state != "success" for _, state, _ in producer):
        problems.append(f"producer runs {producer} are not one success per key {keys}")
    if [key for key, _, _ in consumer] != keys or any(state != "success" for _, state, _ in consumer):
        problems.append(f"consumer runs {consumer} are not one success per key {keys}")
    for line in lines + [p for p in problems if p not in lines]:
        print(line)
    print(f"partition demo finished in {time.monotonic() - started:.0f}s; logs in {WORK}")
    print(
        "RESULT:",
        "every partition and its rollup equal the simulator's truth" if not problems else "MISMATCH",
    )
    return 0 if not problems else 1


def _compare(base_url: str, days: list[datetime], keys: list[str]) -> list[str]:
    import duckdb

    con = duckdb.connect(os.environ["DAILY_LOGS_DUCKDB_PATH"], read_only=True)
    lines = []
    for day, key in zip(days, keys, strict=True):
        end = day + timedelta(days=1)
        truth = {source: truth_records(base_url, source, day, end) for source in ("api", "webhook")}
        for source, records in truth.items():
            loaded = [
                row[0]
                for row in con.execute(
                    f"SELECT id FROM daily_{source}_logs WHERE created_at >= ? AND created_at < ? ORDER BY id",
                    [day, end],
                ).fetchall()
            ]
            expected = sorted(record["id"] for record in records)
            verdict = (
                "identical"
                if loaded == expected
                else f"DIFFERENT (loaded {len(loaded)}, truth {len(expected)})"
            )
            lines.append(f"  {source} {day.date()}: {len(loaded)} rows, {verdict}")
        rows = con.execute(
            "SELECT source, name, requests, errors, partition_key FROM daily_logs_rollup WHERE day = ?",
            [day.date()],
        ).fetchall()
        rollup = {(source, name): (requests, errors) for source, name, requests, errors, _ in rows}
        wanted = expected_rollup(truth["api"], truth["webhook"])
        stamped = {row[4] for row in rows} == {key}
        verdict = (
            "identical"
            if rollup == wanted and stamped
            else f"DIFFERENT ({len(rollup)} rows, truth {len(wanted)})"
        )
        lines.append(f"  rollup {day.date()} (partition {key}): {len(rollup)} rows, {verdict}")
    con.close()
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
