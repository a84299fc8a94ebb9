"""Run ``daily-logs`` in-process for a test: its exit code and what it printed, with a chosen environment."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from daily_provider.cli import API_KEY_ENV, BASE_URL_ENV, main


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def cli_runner(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], **defaults: str
) -> Callable[..., Result]:
    """A function running ``main(args)``: the key and base URL variables unset unless ``defaults`` or
    the call's keyword arguments set them (as other environment variables)."""

    def run(args: list[str], **env: str) -> Result:
        monkeypatch.delenv(API_KEY_ENV, raising=False)
        monkeypatch.delenv(BASE_URL_ENV, raising=False)
        for name, value in {**defaults, **env}.items():
            monkeypatch.setenv(name, value)
        capsys.readouterr()
        code = main(args)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run
