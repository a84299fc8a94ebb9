"""Bad configuration fails with a clear error before any request reaches Daily.

Each mistake goes through the entry point a user would hit (the operator, ``daily-logs load``, the
hook, ``load_window``) with a simulator as the base URL wherever a URL is involved, and the
simulator must have served nothing. Each message must say what is wrong and how to fix it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from daily_provider.cli import main as daily_logs
from daily_provider.compat import AirflowFailException
from daily_provider.exceptions import DailyConfigError, WarehouseError
from daily_provider.hooks.daily import DailyHook
from daily_provider.load import LoadSpec, load_window
from daily_provider.simulator import SimulatorConfig, SimulatorServer
from daily_provider.warehouses.duckdb import DuckDBWarehouse
from daily_provider.window import Window

KEY = "sk-config-4b8e1a"
START, END = "2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"
WINDOW = Window.parse(START, END)


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorServer]:
    with SimulatorServer(
        SimulatorConfig(seed=3, days=2, api_per_day=20, webhook_per_day=5, api_key=KEY)
    ) as running:
        yield running


@pytest.fixture(autouse=True)
def no_requests_allowed(server: SimulatorServer) -> Iterator[None]:
    server.reset_stats()
    yield
    assert server.stats()["requests"] == 0, "a request reached Daily although the configuration was bad"


def set_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, **fields: Any) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "daily", **fields}))


def run_operator(tmp_path: Path, **arguments: Any) -> dict[str, Any]:
    from daily_provider.operators.daily_logs import DailyLogsToDuckDBOperator

    settings: dict[str, Any] = {
        "task_id": "load",
        "start": START,
        "end": END,
        "daily_conn_id": "daily_config",
        "duckdb_path": str(tmp_path / "logs.duckdb"),
        "lock_timeout": 5,
    }
    settings.update(arguments)
    try:
        result: dict[str, Any] = DailyLogsToDuckDBOperator(**settings).execute({"run_id": "config-test"})
    except AirflowFailException as failed:
        # A configuration error fails the task without Airflow's retries; the provider's own error,
        # whose message the tests check, is its cause.
        assert isinstance(failed.__cause__, DailyConfigError), failed
        assert str(failed.__cause__) in str(failed)
        raise failed.__cause__ from None
    return result


def run_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, str]:
    argv = ["load", "--start", START, "--end", END, "--duckdb", str(tmp_path / "cli.duckdb"), *arguments]
    code = daily_logs(argv)
    return code, capsys.readouterr().err


def test_a_missing_connection_names_it_and_says_how_to_define_it(tmp_path: Path) -> None:
    with pytest.raises(DailyConfigError) as caught:
        run_operator(tmp_path, daily_conn_id="daily_nowhere")
    message = str(caught.value)
    assert "the Airflow connection 'daily_nowhere' is not defined" in message
    assert "AIRFLOW_CONN_DAILY_NOWHERE" in message and "password = API key" in message


def test_an_empty_key_says_where_the_key_belongs(
    server: SimulatorServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    set_connection(monkeypatch, "daily_config", host=server.base_url, password="   ")
    with pytest.raises(
        DailyConfigError, match="no Daily API key: connection 'daily_config' has an empty key"
    ) as caught:
        run_operator(tmp_path)
    assert "Put the key in the connection's password" in str(caught.value)
    monkeypatch.setenv("DAILY_API_KEY", "")
    code, error = run_cli(tmp_path, capsys, "--base-url", server.base_url)
    assert code == 1 and "set DAILY_API_KEY to your Daily API key" in error


@pytest.mark.parametrize(
    "host",
    [
        "htps//api.daily.co/v1",
        "https:/api.daily.co/v1",
        "ftp://api.daily.co/v1",
        "https://",
        "https://[::1/v1",
        "https://api.daily.co:99999/v1",
        "https://api.daily.co/v1?key=x",
        "https://user:hunter2pass@api.daily.co/v1",
    ],
)
def test_a_malformed_base_url_is_refused_with_an_example_of_a_good_one(
    server: SimulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    set_connection(monkeypatch, "daily_config", host=host, password=KEY)
    with pytest.raises(DailyConfigError) as caught:
        run_operator(tmp_path)
    message = str(caught.value)
    assert "base URL" in message
    assert "https://api.daily.co/v1" in message or "put the API key in the connection's password" in message
    assert "hunter2pass" not in message, "credentials from the URL were echoed"


def test_an_unknown_source_is_refused_where_it_is_given(
    server: SimulatorServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from daily_provider.operators.daily_logs import DailyLogsToDuckDBOperator

    with pytest.raises(
        DailyConfigError, match=r"source='apis' is not one Daily knows; use 'api' or 'webhook'"
    ):
        DailyLogsToDuckDBOperator(task_id="load", source="apis")
    hook = DailyHook(api_key=KEY, base_url=server.base_url)
    with pytest.raises(DailyConfigError, match=r"use 'api' or 'webhook' \(bare, without quotes\)"):
        hook.iter_logs(WINDOW.start, WINDOW.end, source='"api"')
    with (
        DuckDBWarehouse(tmp_path / "x.duckdb") as warehouse,
        pytest.raises(DailyConfigError, match="source='webhooks' is not one Daily knows"),
    ):
        load_window(
            hook=hook, warehouse=warehouse, window=WINDOW, spec=LoadSpec(source="webhooks", run_id="r")
        )
    with pytest.raises(SystemExit) as exited:
        daily_logs(["load", "--source", "apis", "--start", START, "--end", END, "--duckdb", "x.duckdb"])
    assert exited.value.code == 2 and "invalid choice: 'apis'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        pytest.param(END, START, "start must come before end", id="start-after-end"),
        pytest.param(START, START, "CronDataIntervalTimetable", id="zero-width"),
        pytest.param(
            "2026-01-02T00:00:00", END, "has no time zone; give an aware timestamp", id="naive-start"
        ),
        pytest.param(START, "2026-01-03 00:00", "has no time zone; give an aware timestamp", id="naive-end"),
        pytest.param("yesterday", END, "is not an ISO-8601 timestamp; use e.g.", id="not-a-timestamp"),
    ],
)
def test_a_bad_window_is_refused_before_any_request(
    server: SimulatorServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    start: str,
    end: str,
    expected: str,
) -> None:
    set_connection(monkeypatch, "daily_config", host=server.base_url, password=KEY)
    with pytest.raises(DailyConfigError, match=expected):
        run_operator(tmp_path, start=start, end=end)
    monkeypatch.setenv("DAILY_API_KEY", KEY)
    code = daily_logs(
        [
            "load",
            "--start",
            start,
            "--end",
            end,
            "--duckdb",
            str(tmp_path / "c.duckdb"),
            "--base-url",
            server.base_url,
        ]
    )
    assert code == 1 and expected in capsys.readouterr().err


def test_naive_datetimes_are_refused_by_the_hook(server: SimulatorServer) -> None:
    hook = DailyHook(api_key=KEY, base_url=server.base_url)
    with pytest.raises(DailyConfigError, match="must be an aware datetime"):
        hook.iter_logs(datetime(2026, 1, 2), datetime(2026, 1, 3))


def test_a_duckdb_file_in_a_missing_directory_says_which_directory_to_create(
    server: SimulatorServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    set_connection(monkeypatch, "daily_config", host=server.base_url, password=KEY)
    missing = tmp_path / "no" / "such" / "dir"
    with pytest.raises(DailyConfigError) as caught:
        run_operator(tmp_path, duckdb_path=str(missing / "logs.duckdb"))
    assert f"is in a directory that does not exist: {missing}" in str(caught.value)
    assert "Create that directory" in str(caught.value)
    monkeypatch.setenv("DAILY_API_KEY", KEY)
    argv = [
        "load",
        "--start",
        START,
        "--end",
        END,
        "--duckdb",
        str(missing / "c.duckdb"),
        "--base-url",
        server.base_url,
    ]
    assert daily_logs(argv) == 1 and "Create that directory" in capsys.readouterr().err


def test_a_bad_table_name_is_refused_before_any_request(server: SimulatorServer, tmp_path: Path) -> None:
    hook = DailyHook(api_key=KEY, base_url=server.base_url, requests_per_second=1e6)
    with (
        DuckDBWarehouse(tmp_path / "t.duckdb") as warehouse,
        pytest.raises(DailyConfigError, match="not allowed"),
    ):
        load_window(
            hook=hook,
            warehouse=warehouse,
            window=WINDOW,
            spec=LoadSpec(source="api", table="api logs", run_id="r"),
        )
    assert server.stats()["requests"] == 0


@pytest.mark.bigquery
def test_a_missing_bigquery_dataset_says_how_to_create_it(server: SimulatorServer, bq_client: Any) -> None:
    from tests.bigquery.backend import emulator_warehouse

    warehouse = emulator_warehouse(bq_client, "no_such_dataset")
    hook = DailyHook(api_key=KEY, base_url=server.base_url, requests_per_second=1e6)
    with pytest.raises(WarehouseError) as caught:
        load_window(hook=hook, warehouse=warehouse, window=WINDOW, spec=LoadSpec(source="api", run_id="r"))
    message = str(caught.value)
    assert f"BigQuery dataset {bq_client.project}.no_such_dataset does not exist" in message
    assert f"bq mk --dataset {bq_client.project}:no_such_dataset" in message
