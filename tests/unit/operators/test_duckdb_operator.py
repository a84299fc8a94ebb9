"""The operator's behaviour, through the DuckDB operator: window choice, result, asset event, failures, templates."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest
from airflow.sdk import DAG, Asset
from tests.unit.operators.support import API_KEY, DAY1, make_context, truth_ids

from daily_provider.compat import AirflowFailException
from daily_provider.exceptions import DailyAPIError, DailyConfigError, DailyTransportError
from daily_provider.operators.daily_logs import DailyLogsToDuckDBOperator
from daily_provider.simulator import FaultConfig, SimulatorServer

DAY2 = DAY1 + timedelta(days=1)


def operator(db: Path, **kwargs) -> DailyLogsToDuckDBOperator:
    return DailyLogsToDuckDBOperator(task_id="load_api_logs", duckdb_path=str(db), **kwargs)


def table_ids(db: Path, table: str = "daily_api_logs") -> list[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return [row[0] for row in con.execute(f"SELECT id FROM {table} ORDER BY id").fetchall()]


def loads(db: Path) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT status, rows, error FROM daily_logs_loads ORDER BY started_at").fetchall()


def test_zero_width_data_interval_fails_and_names_the_timetable_to_use(tmp_path: Path) -> None:
    with pytest.raises(AirflowFailException, match="zero-width") as caught:
        operator(tmp_path / "logs.duckdb").execute(make_context(DAY1, DAY1))
    assert "CronDataIntervalTimetable" in str(caught.value)
    assert not (tmp_path / "logs.duckdb").exists()  # nothing was opened or loaded


def test_explicit_start_and_end_override_the_data_interval(
    simulator: SimulatorServer, tmp_path: Path
) -> None:
    db = tmp_path / "logs.duckdb"
    task = operator(db, start="2026-01-03T00:00:00Z", end="2026-01-03T12:00:00+00:00")
    result = task.execute(make_context(DAY1))  # the data interval (day 1) is ignored
    noon = DAY2 + timedelta(hours=12)
    assert (result["window_start"], result["window_end"]) == (DAY2.isoformat(), noon.isoformat())
    assert table_ids(db) == truth_ids(simulator, "api", DAY2, noon)
    assert result["rows"] == len(truth_ids(simulator, "api", DAY2, noon)) > 0


def test_result_is_json_safe_and_carries_no_secret(
    simulator: SimulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAILY_LOGS_REDACTION_SECRET", "redaction-secret-do-not-leak")
    result = operator(tmp_path / "logs.duckdb").execute(make_context())
    text = json.dumps(result)  # XCom-safe: plain JSON, no datetimes or objects
    assert API_KEY not in text and "redaction-secret-do-not-leak" not in text
    assert json.loads(text) == result
    assert result["rows"] == len(truth_ids(simulator, "api", DAY1, DAY2))
    assert {"load_id", "run_id", "source", "table", "pages", "requests", "seconds"} <= set(result)


def test_asset_event_extra_carries_table_window_and_rows(simulator: SimulatorServer, tmp_path: Path) -> None:
    db = tmp_path / "logs.duckdb"
    task = operator(db, source="webhook")
    context = make_context()
    result = task.execute(context)

    (asset,) = task.outlets
    assert asset == Asset(name="duckdb.logs.daily_webhook_logs", uri=f"duckdb://{db}/daily_webhook_logs")
    assert context["outlet_events"][asset].extra == {
        "source": "webhook",
        "table": "daily_webhook_logs",
        "target": f"duckdb://{db}/daily_webhook_logs",
        "window_start": DAY1.isoformat(),
        "window_end": DAY2.isoformat(),
        "window_source": "data_interval",
        "rows": result["rows"],
        "partitions": {"2026-01-02T00:00:00": result["rows"]},
    }
    assert result["rows"] == len(truth_ids(simulator, "webhook", DAY1, DAY2)) > 0


def test_without_a_path_the_outlet_is_the_default_duckdb_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAILY_LOGS_DUCKDB_PATH", str(tmp_path / "default.duckdb"))
    task = DailyLogsToDuckDBOperator(task_id="load_api_logs")
    assert task.outlets == [
        Asset(name="duckdb.default.daily_api_logs", uri=f"duckdb://{tmp_path}/default.duckdb/daily_api_logs")
    ]


def test_no_default_asset_when_path_or_table_is_templated(tmp_path: Path) -> None:
    assert operator(tmp_path / "{{ ds }}.duckdb").outlets == []
    assert operator(tmp_path / "logs.duckdb", table="logs_{{ ds_nodash }}").outlets == []


def test_api_failure_mid_walk_leaves_the_table_unchanged_and_records_a_failed_load(
    simulator: SimulatorServer, tmp_path: Path
) -> None:
    db = tmp_path / "logs.duckdb"
    operator(db).execute(make_context())
    before = table_ids(db)

    # The key is revoked after two requests: the re-run's walk gets a 401 part way through.
    simulator.set_faults(FaultConfig(auth_fail_after=2))
    with pytest.raises(AirflowFailException, match="authentication-error") as caught:
        operator(db).execute(make_context(run_id="manual__retry"))

    # A revoked key fails the task at once (no Airflow retries); Daily's error is the cause.
    assert isinstance(caught.value.__cause__, DailyAPIError) and caught.value.__cause__.status == 401
    assert API_KEY not in str(caught.value)
    assert table_ids(db) == before
    (first, second) = loads(db)
    assert first[:2] == ("success", len(before))
    assert second[0] == "failed" and second[1] == 0
    assert "authentication-error" in second[2] and API_KEY not in second[2]


def test_templated_fields_render_from_the_context(tmp_path: Path) -> None:
    with DAG("daily_logs_templates", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=timezone.utc)):
        task = DailyLogsToDuckDBOperator(
            task_id="load",
            source="{{ params.source }}",
            table="logs_{{ ds_nodash }}",
            start="{{ ds }}T00:00:00Z",
            end="{{ ds }}T06:00:00Z",
            url_filter="{{ params.url }}",
            duckdb_path=str(tmp_path / "{{ ds }}.duckdb"),
        )
    task.render_template_fields(
        {"ds": "2026-01-02", "ds_nodash": "20260102", "params": {"source": "webhook", "url": "/v1/rooms"}}
    )
    assert (task.source, task.table, task.start, task.end, task.url_filter, task.duckdb_path) == (
        "webhook",
        "logs_20260102",
        "2026-01-02T00:00:00Z",
        "2026-01-02T06:00:00Z",
        "/v1/rooms",
        str(tmp_path / "2026-01-02.duckdb"),
    )


def test_a_source_that_renders_to_an_unknown_value_fails_before_any_request(tmp_path: Path) -> None:
    task = operator(tmp_path / "logs.duckdb", source="{{ params.source }}")
    task.source = "calls"  # what the template rendered to
    with pytest.raises(
        AirflowFailException, match="source='calls' is not one Daily knows; use 'api' or 'webhook'"
    ):
        task.execute(make_context())


def test_range_mode_loads_each_day_of_a_multi_day_window_in_one_walk(
    simulator: SimulatorServer, tmp_path: Path
) -> None:
    db = tmp_path / "logs.duckdb"
    start, end = DAY1 - timedelta(days=1), DAY2 + timedelta(days=1)
    task = operator(db, start=start.isoformat(), end=end.isoformat(), range_mode=True)
    result = task.execute(make_context())
    assert table_ids(db) == truth_ids(simulator, "api", start, end)
    assert result["rows"] == len(table_ids(db))
    assert [status for status, _rows, _error in loads(db)] == ["success"] * 3  # one audit row per day


def test_a_server_error_that_outlasts_the_clients_retries_stays_retryable_for_airflow(
    simulator: SimulatorServer, tmp_path: Path
) -> None:
    # 5xx on every request: the client's own retries run out, and the task fails in a way Airflow
    # retries later (a DailyTransportError), unlike a bad key or a bad argument.
    simulator.set_faults(FaultConfig(error_5xx_rate=1.0))
    with pytest.raises(DailyTransportError, match="failed after 1 attempts"):
        operator(tmp_path / "logs.duckdb").execute(make_context())


def test_timeout_and_max_retries_reach_the_hook_under_the_connections_names(
    simulator: SimulatorServer, tmp_path: Path
) -> None:
    hook = operator(tmp_path / "logs.duckdb", timeout=7.5, max_retries=2).make_hook()

    assert (hook.settings().read_timeout, hook.settings().max_retries) == (7.5, 2)
    with pytest.warns(DeprecationWarning, match="api_max_retries= is deprecated.*use max_retries="):
        old = operator(tmp_path / "logs.duckdb", api_max_retries=4)
    assert old.make_hook().settings().max_retries == 4


def presence_columns(db: Path) -> list[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        columns = [row[0] for row in con.execute("DESCRIBE daily_api_logs").fetchall()]
    # The simulator's presence rooms are named "<purpose>-<6 characters>" (and some random names).
    return [name for name in columns if name.startswith(("response__standup_", "response__all_hands_"))]


def test_presence_rooms_stay_json_unless_the_map_path_is_undeclared(
    simulator: SimulatorServer, tmp_path: Path
) -> None:
    operator(tmp_path / "default.duckdb").execute(make_context())
    assert presence_columns(tmp_path / "default.duckdb") == []
    undeclared = operator(tmp_path / "flat.duckdb", map_paths={"GET /v1/presence response": False})
    undeclared.execute(make_context())
    assert presence_columns(tmp_path / "flat.duckdb")


def test_default_map_paths_false_leaves_presence_to_the_key_count_rule(
    simulator: SimulatorServer, tmp_path: Path
) -> None:
    # With the key-count rule off, only the declaration keeps presence whole.
    declared = operator(tmp_path / "declared.duckdb", map_key_threshold=None)
    declared.execute(make_context())
    assert presence_columns(tmp_path / "declared.duckdb") == []
    undeclared = operator(tmp_path / "none.duckdb", map_key_threshold=None, default_map_paths=False)
    undeclared.execute(make_context())
    assert presence_columns(tmp_path / "none.duckdb")


def test_a_map_path_that_cannot_work_fails_when_the_dag_is_parsed(tmp_path: Path) -> None:
    with pytest.raises(DailyConfigError, match="map path"):
        operator(tmp_path / "logs.duckdb", map_paths=["payload.rooms"])


def test_the_xcom_keys_are_the_ones_the_readme_lists(simulator: SimulatorServer, tmp_path: Path) -> None:
    result = operator(tmp_path / "logs.duckdb").execute(make_context())

    assert set(result) == {
        "load_id", "run_id", "source", "table", "window_start", "window_end", "status", "covered_start",
        "covered_end", "domain_id", "rows", "pages", "requests", "retries", "duplicates_skipped",
        "redacted_values", "parse_errors", "seconds", "rows_per_second", "convention", "started_after",
        "anchors_rejected", "window_source", "partitions",
    }  # fmt: skip
    assert (result["status"], result["covered_start"]) == ("success", DAY1.isoformat())
    ranged = operator(tmp_path / "range.duckdb", range_mode=True).execute(make_context())
    assert set(ranged) == {
        "source", "table", "range_start", "range_end", "rows", "requests", "pages", "retries", "seconds",
        "convention", "started_after", "anchors_rejected", "windows", "window_source", "partitions",
    }  # fmt: skip
