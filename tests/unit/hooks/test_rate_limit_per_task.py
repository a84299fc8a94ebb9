"""The client-side rate limit belongs to one hook, that is to one task: a pool of N slots lets N tasks send
N x ``requests_per_second`` together. The README's pool arithmetic (2 slots x 2 requests/s = 4 requests/s,
so set ``requests_per_second`` to 1 with a pool of 2) rests on this."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import responses

from daily_provider.hooks.client import DailyClient

LOGS_URL = "https://api.daily.co/v1/logs/api"
KEY = "sk-rate-limit-test-0123456789"


def _task_hook(waits: list[float], requests_per_second: float) -> DailyClient:
    """The hook one task builds (the waits it asks for are recorded; nothing really sleeps)."""
    return DailyClient(api_key=KEY, requests_per_second=requests_per_second, sleep=waits.append)


def test_each_task_keeps_its_own_rate_limit_so_the_pool_multiplies_it(rsps: responses.RequestsMock) -> None:
    rsps.add(responses.GET, LOGS_URL, json=[])
    first_task: list[float] = []
    second_task: list[float] = []
    one = _task_hook(first_task, requests_per_second=0.5)
    other = _task_hook(second_task, requests_per_second=0.5)

    assert one.test_connection()[0] and one.test_connection()[0]
    assert other.test_connection()[0]

    # Within one task, the second request waits out the 2 s interval ...
    assert first_task == [pytest.approx(2.0, abs=0.5)]
    # ... while another task's request goes at once: two slots send twice the rate of one.
    assert second_task == []
    assert len(rsps.calls) == 3


def test_the_readmes_pool_arithmetic_uses_the_pool_it_creates_and_the_default_rate() -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text().replace("\n", " ")
    (slots,) = re.findall(r"airflow pools set daily_api (\d+) ", readme)
    (stated,) = re.findall(r"(\d+) x (\d+) = (\d+) with the defaults", readme)
    default_rate = DailyClient(api_key=KEY).settings().requests_per_second
    assert (int(stated[0]), float(stated[1])) == (int(slots), default_rate)
    assert int(stated[2]) == int(slots) * default_rate
