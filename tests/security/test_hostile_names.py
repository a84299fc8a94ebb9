"""Hostile names cannot change the SQL that runs: identifiers are validated and quoted, values are bound.

Names come from configuration (table, dataset, project) and from the data itself (every body key
becomes a column name). A DuckDB file holds a ``victim`` table throughout; no name below may touch
it, create anything unexpected, or end up in a column name outside ``[a-z0-9_]``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import duckdb
import pytest
import responses

from daily_provider.exceptions import DailyConfigError, WarehouseError
from daily_provider.hooks.daily import DailyHook
from daily_provider.load import LoadSpec, load_window
from daily_provider.simulator import SimulatorConfig, SimulatorServer
from daily_provider.warehouses.bigquery import BigQueryWarehouse
from daily_provider.warehouses.duckdb import DuckDBWarehouse
from daily_provider.window import Window

WINDOW = Window.parse("2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z")
LOGS_URL = "https://api.daily.co/v1/logs/api"
DOMAIN_URL = "https://api.daily.co/v1/"  # the key's domain, asked once per load
INJECTIONS = [
    'daily_api_logs"; DROP TABLE victim; --',
    "daily_api_logs; DELETE FROM victim",
    'x" (id INT); DROP TABLE victim; CREATE TABLE "y',
    "victim",  # a real table, but not a logs table: the key-column check must refuse it
    "main.victim",
    "`victim`",
    "daily api logs",
    "1st_table",
    "ta\x00ble",
    "tablé",
    "a" * 2000,
]
COLUMN_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,299}$")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "names.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE victim (id INTEGER, note VARCHAR)")
        con.execute("INSERT INTO victim VALUES (1, 'still here')")
    return path


def tables_and_victim(db: Path) -> tuple[set[str], list[tuple[Any, ...]]]:
    with duckdb.connect(str(db), read_only=True) as con:
        tables = {
            name for (name,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        return tables, con.execute("SELECT * FROM victim").fetchall()


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorServer]:
    with SimulatorServer(SimulatorConfig(seed=4, days=2, api_per_day=40, webhook_per_day=5)) as running:
        yield running


@pytest.mark.parametrize("table", INJECTIONS, ids=lambda name: repr(name)[:40])
def test_a_hostile_table_name_is_refused_and_touches_nothing(
    server: SimulatorServer, db: Path, table: str
) -> None:
    hook = DailyHook(api_key=server.config.api_key, base_url=server.base_url, requests_per_second=1e6)
    with DuckDBWarehouse(db, threads=1) as warehouse, pytest.raises(Exception) as caught:
        load_window(
            hook=hook,
            warehouse=warehouse,
            window=WINDOW,
            spec=LoadSpec(source="api", table=table, run_id="hostile"),
        )
    message = str(caught.value)
    if table == "victim":
        assert isinstance(caught.value, WarehouseError) and "does not manage" in message, message
    else:
        assert isinstance(caught.value, DailyConfigError), repr(caught.value)
        assert "is not allowed: use letters, digits and underscores" in message
    tables, victim = tables_and_victim(db)
    assert victim == [(1, "still here")]
    assert tables <= {"victim", "daily_logs_loads", "daily_logs_anchors"}, tables


@pytest.mark.parametrize("name", ["logs`; DROP TABLE x; --", "a.b", "data set", "", "x" * 1025])
def test_hostile_bigquery_dataset_and_table_names_are_refused_before_any_request(name: str) -> None:
    # No client is given and no credentials exist here: a name checked after building a client or
    # sending a request would fail with a credentials error instead of this one.
    with pytest.raises(DailyConfigError, match="not allowed"):
        BigQueryWarehouse(project="daily-prod-1", dataset=name)
    warehouse = BigQueryWarehouse(project="daily-prod-1", dataset="daily_logs")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        with pytest.raises(DailyConfigError, match="not allowed"):
            warehouse.table_columns(name)
        assert len(mock.calls) == 0


@pytest.mark.parametrize("project", ["daily-prod-1`.x", "My Project", "p", "proj_ect_1"])
def test_hostile_bigquery_projects_are_refused(project: str) -> None:
    with pytest.raises(DailyConfigError, match="not a valid project id"):
        BigQueryWarehouse(project=project, dataset="daily_logs")


HOSTILE_KEYS = {
    'x"; DROP TABLE victim; --': "k1",
    'a" VARCHAR, "b': "k2",
    "Robert'); DROP TABLE victim;--": "k3",
    "id": "k4",
    "_run_id": "k5",
    "created_at": "k6",
    "__proto__": "k7",
    "key with spaces": "k8",
    "ключ": "k9",
    "emoji 🔥": "k10",
    "a.b": "k11",
    "CamelKey": "k12",
    "camelkey": "k13",
    "": "k14",
    "x" * 1000: "k15",
    "nested": {"'; DROP TABLE victim; --": {"\u0000": "k16"}},
}
HOSTILE_VALUE = "'); DROP TABLE victim; -- \" OR 1=1"


def test_hostile_body_keys_become_safe_columns_and_hostile_values_stay_data(db: Path) -> None:
    records = [
        {
            "id": "00000000-0000-4000-8000-000000000001",
            "createdAt": "2026-01-02T10:00:00.000Z",
            "source": "api",
            "method": "POST",
            "url": "/v1/rooms?name=" + HOSTILE_VALUE,
            "status": 200,
            "request": json.dumps({**HOSTILE_KEYS, "name": HOSTILE_VALUE}),
            "response": json.dumps({"x'": HOSTILE_VALUE}),
        }
    ]

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        query = parse_qs(urlsplit(request.url).query)
        first = "starting_after" not in query and "ending_before" not in query
        return 200, {}, json.dumps(records if first else [])

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.GET, LOGS_URL, callback=answer)
        mock.add(responses.GET, DOMAIN_URL, json={"domain_id": "domain-hostile", "domain_name": "d"})
        hook = DailyHook(api_key="sk-hostile-0000", requests_per_second=1e6)
        with DuckDBWarehouse(db, threads=1) as warehouse:
            load_window(
                hook=hook, warehouse=warehouse, window=WINDOW, spec=LoadSpec(source="api", run_id="keys")
            )

    tables, victim = tables_and_victim(db)
    assert victim == [(1, "still here")]
    assert tables <= {"victim", "daily_api_logs", "daily_logs_loads", "daily_logs_anchors"}, tables
    with duckdb.connect(str(db), read_only=True) as con:
        columns = [row[0] for row in con.execute("DESCRIBE daily_api_logs").fetchall()]
        row = con.execute(
            "SELECT id, created_at, _run_id, request, request__name FROM daily_api_logs"
        ).fetchall()
    bad = [column for column in columns if not COLUMN_NAME.match(column)]
    assert not bad, f"column names outside the naming rule: {bad}"
    assert len(columns) == len(set(columns))
    assert row[0][0] == "00000000-0000-4000-8000-000000000001" and row[0][2] == "keys"
    assert json.loads(row[0][3])["name"] == HOSTILE_VALUE, "the hostile value was not stored verbatim"
    assert row[0][4] == HOSTILE_VALUE
    flattened = {column for column in columns if column.startswith("request__")}
    assert {"request__id", "request__run_id", "request__created_at"} <= flattened, flattened
