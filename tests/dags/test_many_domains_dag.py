"""The many-domains example DAG: one mapped load per Daily connection and source into shared tables,
each domain's rows, ledger rows and anchors its own; two domains loading one day at once."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from daily_provider.operators.daily_logs import DailyLogsToDuckDBOperator
from daily_provider.simulator import SimulatorConfig, SimulatorServer
from tests.airflow_versions import dagbag

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"
DAG_ID = "daily_logs_many_domains_to_duckdb"
DAY = datetime(2026, 1, 2, tzinfo=timezone.utc)
NEXT = DAY + timedelta(days=1)
DOMAINS = {
    "daily_domain_a": SimulatorConfig(
        seed=31, domain_seed=310, start="2026-01-01T00:00:00Z", days=3, api_per_day=150, webhook_per_day=40,
        api_key="sim-key-domain-a",
    ),
    "daily_domain_b": SimulatorConfig(
        seed=32, domain_seed=320, start="2026-01-01T00:00:00Z", days=3, api_per_day=120, webhook_per_day=30,
        api_key="sim-key-domain-b",
    ),
}  # fmt: skip


@pytest.fixture
def domains(monkeypatch: pytest.MonkeyPatch):
    """Two simulated Daily domains, each behind its own connection."""
    servers = {conn_id: SimulatorServer(config) for conn_id, config in DOMAINS.items()}
    for conn_id, server in servers.items():
        server.__enter__()
        connection = {"conn_type": "daily", "host": server.base_url, "password": DOMAINS[conn_id].api_key}
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(connection))
    yield servers
    for server in servers.values():
        server.__exit__(None, None, None)


def domain_of(server: SimulatorServer) -> str:
    (record,) = server.simulator.truth("api", DAY, DAY + timedelta(minutes=30))[:1] or [None]
    assert record is not None
    return str(record["domainId"])


def ids(db: Path, table: str, domain: str) -> list[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        sql = f"SELECT id FROM {table} WHERE domain_id = ? AND created_at >= ? AND created_at < ? ORDER BY id"
        return [row[0] for row in con.execute(sql, [domain, DAY, NEXT]).fetchall()]


def truth(server: SimulatorServer, source: str) -> list[str]:
    return sorted(record["id"] for record in server.simulator.truth(source, DAY, NEXT))


def test_each_source_is_mapped_over_the_domain_connections(airflow_db: Path) -> None:
    bag = dagbag(str(DAGS_FOLDER))
    assert bag.import_errors == {}
    dag = bag.get_dag(DAG_ID)
    loads = {task.task_id: task for task in dag.tasks if task.task_id.startswith("load_")}
    assert set(loads) == {"load_api_logs", "load_webhook_logs"}
    for task in loads.values():
        assert list(task.expand_input.value) == ["daily_conn_id"]  # partial(...).expand(daily_conn_id=...)
        assert task.upstream_task_ids == {"domain_connections"}
        assert task.partial_kwargs["pool"] == "daily_api"


def test_dag_run_loads_every_domain_into_shared_tables_each_equal_to_its_truth(
    airflow_db: Path, domains: dict[str, SimulatorServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "domains.duckdb"
    monkeypatch.setenv("DAILY_LOGS_DUCKDB_PATH", str(db))
    monkeypatch.setenv("AIRFLOW_VAR_DAILY_LOGS_DOMAINS", json.dumps(list(DOMAINS)))
    dag = dagbag(str(DAGS_FOLDER)).get_dag(DAG_ID)
    run = dag.test(logical_date=NEXT)  # the data interval is DAY
    assert str(run.state) in {"success", "DagRunState.SUCCESS"}

    domain_ids = {conn_id: domain_of(server) for conn_id, server in domains.items()}
    assert len(set(domain_ids.values())) == 2
    for conn_id, server in domains.items():
        for source in ("api", "webhook"):
            assert ids(db, f"daily_{source}_logs", domain_ids[conn_id]) == truth(server, source) != []
    with duckdb.connect(str(db), read_only=True) as con:
        ledger = con.execute("SELECT domain_id, source, status FROM daily_logs_loads ORDER BY ALL").fetchall()
        anchors = {
            row[0] for row in con.execute("SELECT DISTINCT domain_id FROM daily_logs_anchors").fetchall()
        }
    assert ledger == sorted((d, s, "success") for d in domain_ids.values() for s in ("api", "webhook"))
    assert anchors == set(domain_ids.values())


def test_two_domains_loading_one_day_into_one_file_at_once_each_equal_their_truth(
    domains: dict[str, SimulatorServer], tmp_path: Path
) -> None:
    db = tmp_path / "shared.duckdb"
    context = {"data_interval_start": DAY, "data_interval_end": NEXT, "run_id": "manual__domains"}
    tasks = [
        DailyLogsToDuckDBOperator(
            task_id=f"load_{conn_id}", daily_conn_id=conn_id, duckdb_path=str(db), settle=0
        )
        for conn_id in DOMAINS
    ]
    with ThreadPoolExecutor(max_workers=len(tasks)) as pool:  # both write the same file; its lock queues them
        results = list(pool.map(lambda task: task.execute(dict(context)), tasks))

    for server, result in zip(domains.values(), results, strict=True):
        domain = domain_of(server)
        assert result["domain_id"] == domain
        assert ids(db, "daily_api_logs", domain) == truth(server, "api") != []
