"""Connection lookup (lazy, from AIRFLOW_CONN_* without a metadata DB), precedence, get_conn, test_connection."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import requests
import responses
from tests.unit.hooks.fake_daily import API_KEY, LOGS_URL, LoopbackDaily, at, records_at

from daily_provider.compat import BaseHook
from daily_provider.exceptions import DailyConfigError, DailyTransportError
from daily_provider.hooks.daily import ClientOptions, DailyHook

SIM_LOGS_URL = "http://127.0.0.1:8765/v1/logs/api"


def set_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str = "daily_default", **fields: Any) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "daily", **fields}))


def test_the_env_var_connection_is_used_without_a_metadata_db(
    monkeypatch: pytest.MonkeyPatch, loopback: Callable[..., LoopbackDaily], sleeps: list[float]
) -> None:
    server = loopback(records_at([30, 20, 10]))
    set_connection(monkeypatch, host=server.base_url, password=API_KEY)
    hook = DailyHook(sleep=sleeps.append)
    assert [r["id"] for r in hook.iter_logs(at(15), at(40))] == ["log-0000", "log-0001"]
    assert set(server.authorization) == {f"Bearer {API_KEY}"}


def test_the_documented_json_form_resolves_through_the_task_sdk(
    monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_DAILY_DEFAULT",
        '{"conn_type":"daily","host":"http://127.0.0.1:8765/v1","password":"KEY"}',
    )
    rsps.add(responses.GET, SIM_LOGS_URL, json=[])
    assert DailyHook().test_connection() == (True, "Connection to Daily succeeded")
    assert rsps.calls[0].request.headers["Authorization"] == "Bearer KEY"


def test_airflow_finds_the_hook_class_for_the_daily_conn_type(monkeypatch: pytest.MonkeyPatch) -> None:
    set_connection(monkeypatch, host="http://127.0.0.1:8765/v1", password=API_KEY)
    hook = BaseHook.get_hook("daily_default")
    assert isinstance(hook, DailyHook)


def test_options_by_keyword_and_as_an_options_object_make_the_same_hook(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    set_connection(monkeypatch, host="http://127.0.0.1:8765/v1", password=API_KEY, extra={"max_retries": 1})
    by_keyword = DailyHook(daily_conn_id="daily_default", requests_per_second=20, timeout=7.5)
    by_object = DailyHook("daily_default", options=ClientOptions(requests_per_second=20, timeout=7.5))
    assert by_keyword.settings() == by_object.settings()
    assert (by_keyword.settings().requests_per_second, by_keyword.settings().read_timeout) == (20, 7.5)
    assert by_keyword.settings().max_retries == 1  # the connection's extra still fills what is not set


def test_an_unknown_option_fails_when_the_hook_is_built() -> None:
    with pytest.raises(TypeError, match="unknown Daily client option"):
        DailyHook(request_per_second=20)


def test_connection_extras_apply_and_arguments_override_them(
    monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock, sleeps: list[float]
) -> None:
    set_connection(
        monkeypatch,
        host="http://127.0.0.1:8765/v1",
        password=API_KEY,
        extra={"max_retries": 0, "requests_per_second": 1000},
    )
    rsps.add(responses.GET, SIM_LOGS_URL, status=503, json={"error": "server-error", "info": "down"})
    with pytest.raises(DailyTransportError):
        list(DailyHook(sleep=sleeps.append).iter_logs(at(0), at(10)))
    assert len(rsps.calls) == 1
    with pytest.raises(DailyTransportError):
        list(DailyHook(max_retries=2, backoff_base=0.001, sleep=sleeps.append).iter_logs(at(0), at(10)))
    assert len(rsps.calls) == 1 + 3


def test_a_connection_host_without_scheme_means_https(
    monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    set_connection(monkeypatch, host="api.daily.test/v1", password=API_KEY)
    rsps.add(responses.GET, LOGS_URL, json=[])
    assert DailyHook().test_connection()[0] is True


@pytest.mark.parametrize("host", ["api.daily.co", "https://api.daily.co"])
def test_a_connection_host_of_dailys_bare_domain_requests_below_v1(
    monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock, host: str
) -> None:
    set_connection(monkeypatch, host=host, password=API_KEY)
    rsps.add(responses.GET, "https://api.daily.co/v1/logs/api", json=[])
    assert DailyHook().test_connection() == (True, "Connection to Daily succeeded")
    assert rsps.calls[0].request.url.startswith("https://api.daily.co/v1/logs/api?")


def test_an_explicit_key_skips_the_connection_entirely(
    monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    set_connection(monkeypatch, host="http://127.0.0.1:8765/v1", password="sk_from_the_connection_000")
    rsps.add(responses.GET, "https://api.daily.co/v1/logs/api", json=[])
    assert DailyHook(api_key=API_KEY).test_connection()[0] is True
    assert rsps.calls[0].request.headers["Authorization"] == f"Bearer {API_KEY}"


def test_a_missing_connection_fails_on_use_not_on_construction(
    monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_DAILY_NOWHERE", raising=False)
    hook = DailyHook("daily_nowhere")
    with pytest.raises(DailyConfigError, match=r"'daily_nowhere' is not defined.*AIRFLOW_CONN_DAILY_NOWHERE"):
        hook.iter_logs(at(0), at(10))
    assert len(rsps.calls) == 0


def test_a_connection_without_password_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, rsps: responses.RequestsMock
) -> None:
    set_connection(monkeypatch, host="http://127.0.0.1:8765/v1")
    with pytest.raises(DailyConfigError, match="no Daily API key: connection 'daily_default'"):
        DailyHook().iter_logs(at(0), at(10))
    assert len(rsps.calls) == 0


def test_get_conn_returns_one_keep_alive_session_that_sends_the_key(
    make_hook: Callable[..., DailyHook],
) -> None:
    hook = make_hook()
    session = hook.get_conn()
    assert hook.get_conn() is session
    prepared = session.prepare_request(requests.Request("GET", LOGS_URL))
    assert prepared.headers["Authorization"] == f"Bearer {API_KEY}"
    assert prepared.headers["Accept"] == "application/json"


def test_connection_test_makes_one_cheap_request(
    rsps: responses.RequestsMock, make_hook: Callable[..., DailyHook]
) -> None:
    rsps.add(responses.GET, LOGS_URL, json=records_at([1]))
    assert make_hook().test_connection() == (True, "Connection to Daily succeeded")
    assert len(rsps.calls) == 1
    assert "limit=1" in (rsps.calls[0].request.url or "")
    assert "source=api" in (rsps.calls[0].request.url or "")


def test_connection_test_reports_dailys_error_and_info(
    rsps: responses.RequestsMock, make_hook: Callable[..., DailyHook]
) -> None:
    rsps.add(
        responses.GET, LOGS_URL, status=401, json={"error": "authentication-error", "info": "Invalid API key"}
    )
    ok, message = make_hook().test_connection()
    assert ok is False
    assert 'authentication-error: "Invalid API key"' in message
    assert API_KEY not in message


def test_connection_test_does_not_retry(
    rsps: responses.RequestsMock, make_hook: Callable[..., DailyHook]
) -> None:
    rsps.add(responses.GET, LOGS_URL, status=503, json={"error": "server-error", "info": "down"})
    ok, message = make_hook().test_connection()
    assert ok is False and "503 server-error" in message
    assert len(rsps.calls) == 1


def test_connection_test_reports_bad_configuration(make_hook: Callable[..., DailyHook]) -> None:
    ok, message = make_hook(base_url="http://api.daily.co/v1").test_connection()
    assert ok is False and "plain http://" in message
