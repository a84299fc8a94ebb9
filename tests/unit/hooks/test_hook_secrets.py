"""The API key stays out of logs (ours, requests', urllib3's), exception text and reprs; plain http is refused."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable

import pytest
import requests
import responses
from tests.unit.hooks.fake_daily import API_KEY, LOGS_URL, LoopbackDaily, at, records_at

from daily_provider.exceptions import DailyAPIError, DailyConfigError, DailyTransportError
from daily_provider.hooks.daily import DailyHook


def everything_said(error: BaseException) -> str:
    return "".join(traceback.format_exception(error)) + repr(error) + repr(getattr(error, "info", ""))


def test_a_real_walk_with_retries_and_a_rejected_key_logs_no_key_at_debug(
    loopback: Callable[..., LoopbackDaily],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    sleeps: list[float],
) -> None:
    server = loopback(records_at([5, 4, 3]))
    server.fail_next.append((503, {"error": "server-error", "info": "try again"}))
    server.fail_next.append((429, {"error": "rate-limit-error", "info": "slow down"}))
    caplog.set_level(logging.DEBUG)
    logging.getLogger("urllib3").setLevel(logging.DEBUG)
    hook = DailyHook(api_key=API_KEY, base_url=server.base_url, backoff_base=0.001, sleep=sleeps.append)
    assert len(list(hook.iter_logs(at(0), at(10)))) == 3
    wrong = DailyHook(api_key="sk_wrong_key_0123456789", base_url=server.base_url, sleep=sleeps.append)
    with pytest.raises(DailyAPIError) as caught:
        list(wrong.iter_logs(at(0), at(10)))

    assert server.authorization[0] == f"Bearer {API_KEY}"
    assert any(r.name.startswith("urllib3") for r in caplog.records), "urllib3 debug logging was not captured"
    assert any(r.levelno == logging.WARNING and "retrying" in r.getMessage() for r in caplog.records)
    output = capsys.readouterr()
    for text in (caplog.text, output.out, output.err, everything_said(caught.value)):
        assert API_KEY not in text
        assert "sk_wrong_key_0123456789" not in text
    assert "authentication-error" in str(caught.value)


def test_a_server_echoing_the_key_does_not_get_it_into_the_exception(
    rsps: responses.RequestsMock, make_hook: Callable[..., DailyHook]
) -> None:
    rsps.add(
        responses.GET,
        LOGS_URL,
        status=403,
        json={"error": "forbidden-error", "info": f"key {API_KEY} may not read logs"},
    )
    with pytest.raises(DailyAPIError) as caught:
        list(make_hook().iter_logs(at(0), at(10)))
    assert API_KEY not in everything_said(caught.value)
    assert caught.value.info == "key *** may not read logs"


def test_retry_warnings_and_transport_errors_carry_no_key(
    rsps: responses.RequestsMock, make_hook: Callable[..., DailyHook], caplog: pytest.LogCaptureFixture
) -> None:
    rsps.add(responses.GET, LOGS_URL, status=502, body=f"<html>bad gateway for Bearer {API_KEY}</html>")
    rsps.add(responses.GET, LOGS_URL, body=requests.ConnectionError("connection reset"))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(DailyTransportError) as caught:
        list(make_hook(max_retries=1).iter_logs(at(0), at(10)))
    assert "retrying" in caplog.text
    assert API_KEY not in caplog.text
    assert API_KEY not in everything_said(caught.value)


def test_the_key_is_not_in_any_repr(make_hook: Callable[..., DailyHook]) -> None:
    hook = make_hook()
    session = hook.get_conn()
    assert API_KEY not in repr(hook)
    assert API_KEY not in repr(session.auth)
    assert API_KEY not in repr(vars(hook))


def test_plain_http_to_a_remote_host_is_refused_before_any_request(
    rsps: responses.RequestsMock, make_hook: Callable[..., DailyHook]
) -> None:
    hook = make_hook(base_url="http://api.daily.co/v1")
    with pytest.raises(DailyConfigError, match="plain http://"):
        hook.iter_logs(at(0), at(10))
    with pytest.raises(DailyConfigError, match="plain http://"):
        hook.get_conn()
    assert len(rsps.calls) == 0


def test_plain_http_to_a_remote_host_is_allowed_when_asked(
    rsps: responses.RequestsMock, make_hook: Callable[..., DailyHook]
) -> None:
    rsps.add(responses.GET, "http://proxy.internal/v1/logs/api", json=[])
    hook = make_hook(base_url="http://proxy.internal/v1", allow_insecure_http=True)
    assert list(hook.iter_logs(at(0), at(10))) == []
    assert len(rsps.calls) == 1


def test_tls_verification_stays_on(make_hook: Callable[..., DailyHook]) -> None:
    assert make_hook().get_conn().verify is True


def test_a_key_with_a_line_break_is_refused_without_echoing_it(
    rsps: responses.RequestsMock, make_hook: Callable[..., DailyHook]
) -> None:
    key = "sk_live_abc\r\nX-Injected: 1"
    with pytest.raises(DailyConfigError) as caught:
        make_hook(api_key=key).iter_logs(at(0), at(10))
    assert "sk_live_abc" not in everything_said(caught.value)
    assert len(rsps.calls) == 0
