"""The analysis views: created only over tables that exist, correct against the simulator's truth
(computed here independently in Python), independent of flattened columns, and the same on
BigQuery (the local-bigquery emulator) as on DuckDB for the same loaded records."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import pytest
from tests.bigquery.staged import record, stage
from tests.scopes import replace_scope

from daily_provider.endpoints import endpoint_template
from daily_provider.exceptions import DailyConfigError
from daily_provider.hooks.daily import DailyHook
from daily_provider.load import LoadSpec, load_window
from daily_provider.normalize import NormalizeConfig
from daily_provider.simulator import SimulatorConfig, SimulatorServer
from daily_provider.views import VIEWS, create_views, create_views_duckdb
from daily_provider.warehouses.base import Warehouse
from daily_provider.warehouses.duckdb import DuckDBWarehouse
from daily_provider.window import Window

DAY = Window(datetime(2026, 1, 2, tzinfo=timezone.utc), datetime(2026, 1, 3, tzinfo=timezone.utc))
SIMULATOR = SimulatorConfig(
    seed=29, start="2026-01-01T00:00:00Z", days=3, api_per_day=500, webhook_per_day=150
)
VIEW_NAMES = [view.name for view in VIEWS]
_ROOM_URL = re.compile(r"^(?:https?://[^/]+)?/v1/rooms/([^/?#]+)")


def load_day(warehouse: Warehouse, server: SimulatorServer, *sources: str, max_columns: int = 1000) -> None:
    hook = DailyHook(api_key=SIMULATOR.api_key, base_url=server.base_url, requests_per_second=1000)
    for source in sources:
        load_window(
            hook=hook,
            warehouse=warehouse,
            window=DAY,
            spec=LoadSpec(source=source, run_id="views", config=NormalizeConfig(max_columns=max_columns)),
        )


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorServer]:
    with SimulatorServer(SIMULATOR) as server:
        yield server


@pytest.fixture(scope="module")
def loaded_db(simulator: SimulatorServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DuckDB file with one simulated day of both sources and the views created."""
    path = tmp_path_factory.mktemp("views") / "logs.duckdb"
    warehouse = DuckDBWarehouse(path, memory_limit="256MB", threads=1)
    try:
        load_day(warehouse, simulator, "api", "webhook")
    finally:
        warehouse.close()
    assert create_views_duckdb(path).created == VIEW_NAMES
    return path


def query(path: Path, view: str) -> list[dict[str, Any]]:
    with duckdb.connect(str(path), read_only=True) as con:
        cursor = con.execute(f"SELECT * FROM {view}")  # view names are constants
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def truth(server: SimulatorServer, source: str) -> list[dict[str, Any]]:
    return server.simulator.truth(source, DAY.start, DAY.end)


def body(text: str | None) -> dict[str, Any]:
    """A body as the table keeps it: parsed JSON, or nothing when it is not a JSON object."""
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def created_at(raw: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(raw["createdAt"].replace("Z", "+00:00"))


def test_views_are_skipped_until_their_table_exists_and_can_be_created_again(
    simulator: SimulatorServer, tmp_path: Path
) -> None:
    path = tmp_path / "logs.duckdb"
    duckdb.connect(str(path)).close()
    empty = create_views_duckdb(path)
    assert empty.created == []
    assert set(empty.skipped) == set(VIEW_NAMES)
    assert "daily_webhook_logs does not exist yet" in empty.skipped["daily_webhook_failures_by_day"]

    warehouse = DuckDBWarehouse(path, memory_limit="256MB", threads=1)
    load_day(warehouse, simulator, "api")
    warehouse.close()
    api_only = create_views_duckdb(path)
    assert api_only.created == ["daily_api_requests_by_day", "daily_room_activity"]
    assert list(api_only.skipped) == ["daily_webhook_failures_by_day"]
    # Views are replaced, so repeating is safe.
    assert create_views_duckdb(path).created == api_only.created


def test_views_on_a_missing_file_fail_without_creating_a_database(tmp_path: Path) -> None:
    path = tmp_path / "typo.duckdb"
    with pytest.raises(DailyConfigError, match=r"no DuckDB file at .*typo\.duckdb"):
        create_views_duckdb(path)
    assert list(tmp_path.iterdir()) == []


def test_requests_by_day_counts_every_call_and_error_per_endpoint(
    loaded_db: Path, simulator: SimulatorServer
) -> None:
    expected: dict[tuple, dict[str, int]] = defaultdict(
        lambda: {"requests": 0, "errors": 0, "client_errors": 0, "server_errors": 0, "rate_limited": 0}
    )
    for raw in truth(simulator, "api"):
        status = int(raw["status"])
        counts = expected[(date(2026, 1, 2), raw["method"], endpoint_template(raw["url"], "api"))]
        counts["requests"] += 1
        counts["errors"] += status >= 400
        counts["client_errors"] += 400 <= status < 500
        counts["server_errors"] += status >= 500
        counts["rate_limited"] += status == 429

    rows = {(r["day"], r["method"], r["endpoint"]): r for r in query(loaded_db, "daily_api_requests_by_day")}
    assert set(rows) == set(expected)
    for key, counts in expected.items():
        assert {name: rows[key][name] for name in counts} == counts
        assert rows[key]["error_pct"] == round(100 * counts["errors"] / counts["requests"], 2)


def test_webhook_failures_by_day_count_non_2xx_deliveries_per_event_type(
    loaded_db: Path, simulator: SimulatorServer
) -> None:
    expected: dict[tuple, dict[str, Any]] = defaultdict(
        lambda: {"deliveries": 0, "failures": 0, "last_failure_at": None}
    )
    for raw in truth(simulator, "webhook"):
        key = (date(2026, 1, 2), body(raw["request"]).get("type"), endpoint_template(raw["url"], "webhook"))
        counts = expected[key]
        counts["deliveries"] += 1
        if not 200 <= int(raw["status"]) <= 299:
            counts["failures"] += 1
            counts["last_failure_at"] = max(filter(None, [counts["last_failure_at"], created_at(raw)]))

    rows = {
        (r["day"], r["event_type"], r["webhook_url"]): r
        for r in query(loaded_db, "daily_webhook_failures_by_day")
    }
    assert set(rows) == set(expected)
    assert sum(counts["failures"] for counts in expected.values()) > 0
    for key, counts in expected.items():
        assert {name: rows[key][name] for name in counts} == counts


def room_of(raw: dict[str, Any], endpoint: str) -> str | None:
    request, response = body(raw["request"]), body(raw["response"])
    if endpoint.startswith("/v1/rooms/"):
        match = _ROOM_URL.match(raw["url"])
        return match.group(1) if match else None
    if endpoint == "/v1/rooms" and raw["method"] == "POST":
        return request.get("name") or response.get("name")
    if endpoint.startswith("/v1/meeting-tokens"):
        return (request.get("properties") or {}).get("room_name") or response.get("room_name")
    return None


def test_room_activity_reports_each_rooms_latest_call_and_issued_tokens(
    loaded_db: Path, simulator: SimulatorServer
) -> None:
    calls: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for raw in truth(simulator, "api"):
        endpoint = endpoint_template(raw["url"], "api") or ""
        room = room_of(raw, endpoint)
        if room:
            calls[room].append({**raw, "endpoint": endpoint, "status": int(raw["status"])})

    rows = {row["room_name"]: row for row in query(loaded_db, "daily_room_activity")}
    assert set(rows) == set(calls)
    for room, room_calls in calls.items():
        latest = max(room_calls, key=lambda call: (created_at(call), call["id"]))
        tokens = [
            created_at(call)
            for call in room_calls
            if call["endpoint"] == "/v1/meeting-tokens" and call["method"] == "POST" and call["status"] < 300
        ]
        assert rows[room] == {
            "room_name": room,
            "last_activity_at": created_at(latest),
            "last_method": latest["method"],
            "last_endpoint": latest["endpoint"],
            "last_status": latest["status"],
            "first_activity_at": min(created_at(call) for call in room_calls),
            "calls": len(room_calls),
            "errors": sum(call["status"] >= 400 for call in room_calls),
            "meeting_tokens_issued": len(tokens),
            "last_meeting_token_at": max(tokens, default=None),
        }
    assert any(row["meeting_tokens_issued"] for row in rows.values())


def test_views_read_the_json_bodies_so_a_table_without_flattened_columns_works(tmp_path: Path) -> None:
    """A webhook table holding only the fixed columns (no ``request__type``) still gets its view."""
    moment = DAY.start + timedelta(hours=1)
    rows = [
        record("w1", moment, DAY, source="webhook", status=200, request={"type": "meeting.started"}),
        record("w2", moment, DAY, source="webhook", status=503, request={"type": "meeting.started"}),
    ]
    path = tmp_path / "logs.duckdb"
    warehouse = DuckDBWarehouse(path, memory_limit="256MB", threads=1)
    warehouse.replace_window(
        scope=replace_scope("daily_webhook_logs", "webhook", DAY), staged=stage(tmp_path, rows)
    )
    assert "request__type" not in warehouse.table_columns("daily_webhook_logs")
    warehouse.close()

    assert create_views_duckdb(path).created == ["daily_webhook_failures_by_day"]
    (row,) = query(path, "daily_webhook_failures_by_day")
    assert (row["event_type"], row["deliveries"], row["failures"], row["last_failure_at"]) == (
        "meeting.started",
        2,
        1,
        moment,
    )


def _comparable(value: Any) -> Any:
    return value.astimezone(timezone.utc) if isinstance(value, datetime) else value


def _sorted_rows(rows: list[dict[str, Any]]) -> list[tuple]:
    return sorted((tuple(_comparable(v) for v in row.values()) for row in rows), key=repr)


@pytest.mark.bigquery
def test_bigquery_views_give_the_same_rows_as_duckdb_for_the_same_records(
    simulator: SimulatorServer, bq_client: Any, bq_dataset: str, tmp_path: Path
) -> None:
    from tests.bigquery.backend import FAST_RETRY, emulator_warehouse

    path = tmp_path / "logs.duckdb"
    duck = DuckDBWarehouse(path, memory_limit="256MB", threads=1)
    bigquery = emulator_warehouse(bq_client, bq_dataset)
    try:
        # Few flattened columns: the emulator adds columns slowly and the views read none of them.
        for warehouse in (duck, bigquery):
            load_day(warehouse, simulator, "api", "webhook", max_columns=3)
        duck.close()
        report = create_views(bigquery)
    finally:
        duck.close()
        bigquery.close()
    assert report.created == [f"{bq_client.project}.{bq_dataset}.{name}" for name in VIEW_NAMES]
    assert create_views_duckdb(path).created == VIEW_NAMES

    for name in VIEW_NAMES:
        table = bq_client.get_table(f"{bq_client.project}.{bq_dataset}.{name}", retry=FAST_RETRY)
        assert table.table_type == "VIEW"
        fetched = bq_client.query_and_wait(
            f"SELECT * FROM `{bq_client.project}.{bq_dataset}.{name}`", retry=FAST_RETRY
        )
        on_bigquery = [dict(row.items()) for row in fetched]
        on_duckdb = query(path, name)
        assert [list(row) for row in on_bigquery[:1]] == [list(row) for row in on_duckdb[:1]]
        assert _sorted_rows(on_bigquery) == _sorted_rows(on_duckdb)
        assert len(on_duckdb) > 0
