"""``daily-logs`` follows Unix habits: --version, help that names the environment and shows defaults,
-v anywhere, one-line errors with exit 1 (missing files included).

No network: the failures here happen before any request; loads are in tests/integration/test_cli_output.py.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.cli_runner import Result, cli_runner

from daily_provider import __version__
from daily_provider.cli import (
    API_KEY_ENV,
    ARROW_POOL_ENV,
    BASE_URL_ENV,
    build_parser,
    error_line,
    main,
)
from daily_provider.exceptions import DailyConfigError
from daily_provider.load import REDACTION_SECRET_ENV
from daily_provider.simulator import cli as simulator_cli

SUBCOMMANDS = ("load", "backfill", "simulate", "summary", "views")
WINDOW = ["--start", "2026-01-01T00:00:00Z", "--end", "2026-01-02T00:00:00Z"]


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    return cli_runner(monkeypatch, capsys)


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def every_help() -> Iterator[tuple[str, str]]:
    parser = build_parser()
    yield "daily-logs", parser.format_help()
    for name, sub in subparsers(parser).items():
        yield name, sub.format_help()


def flat(text: str) -> str:
    return " ".join(text.split())


def test_version_prints_the_package_version_and_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"daily-logs {__version__}\n"


def test_the_simulator_module_has_a_version_too(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        simulator_cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip().endswith(__version__)


@pytest.mark.parametrize(
    "argv",
    [
        ["-v", "summary", "--duckdb", "x.duckdb"],
        ["summary", "-v", "--duckdb", "x.duckdb"],
        ["summary", "--duckdb", "x.duckdb", "-v"],
        ["load", *WINDOW, "--duckdb", "x.duckdb", "--verbose"],
        ["simulate", "--port", "0", "-v"],
    ],
)
def test_verbose_is_accepted_before_and_after_the_subcommand(argv: list[str]) -> None:
    assert build_parser().parse_args(argv).verbose is True


@pytest.mark.parametrize("command", ["summary", "views", "simulate"])
def test_without_verbose_logging_stays_at_info(command: str) -> None:
    argv = [command] if command == "simulate" else [command, "--duckdb", "x.duckdb"]
    assert build_parser().parse_args(argv).verbose is False


def test_no_help_text_shows_rest_markup() -> None:
    for name, text in every_help():
        assert "``" not in text, name
        assert ":func:" not in text and ":class:" not in text, name


@pytest.mark.parametrize("command", ["daily-logs", "load", "backfill"])
def test_help_names_every_environment_variable_the_command_reads(command: str) -> None:
    text = dict(every_help())[command]
    for variable in (API_KEY_ENV, BASE_URL_ENV, REDACTION_SECRET_ENV, ARROW_POOL_ENV):
        assert variable in text, (command, variable)


def test_every_option_with_a_default_shows_it_in_its_help() -> None:
    parsers = {"daily-logs": build_parser(), **subparsers(build_parser())}
    checked = 0
    for name, parser in parsers.items():
        text = "".join(parser.format_help().split())  # argparse may wrap inside a value, at a hyphen
        for action in parser._actions:
            default = action.default
            if (
                not action.option_strings
                or action.required
                or any(default is unset for unset in (None, False, argparse.SUPPRESS))
                or default == []
                or isinstance(action, argparse._SubParsersAction)
            ):
                continue
            assert f"(default:{default}" in text, (name, action.option_strings)
            checked += 1
    assert checked > 30  # load, backfill, views and every simulator switch


@pytest.mark.parametrize(
    ("command", "flag", "shown"),
    [
        ("load", "--requests-per-second", "(default: 2)"),
        ("load", "--base-url", "(default: $DAILY_API_BASE_URL, else https://api.daily.co/v1)"),
        ("backfill", "--table", "(default: daily_<source>_logs)"),
        ("simulate", "--auth-fail-after", "(default: never)"),
    ],
)
def test_options_resolved_later_say_their_effective_default(command: str, flag: str, shown: str) -> None:
    text = flat(subparsers(build_parser())[command].format_help())
    assert shown in text[text.index(flag + " ") :]


def test_a_missing_file_for_summary_is_one_line_and_exit_one(
    run: Callable[..., Result], tmp_path: Path
) -> None:
    path = tmp_path / "missing.duckdb"
    result = run(["summary", "--duckdb", str(path)])
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"daily-logs summary: error: no DuckDB file at {path}; give the --duckdb path a load wrote "
        "(daily-logs load --duckdb ...)"
    ]
    assert not path.exists()


def test_views_on_a_missing_file_fail_and_never_create_a_database(
    run: Callable[..., Result], tmp_path: Path
) -> None:
    path = tmp_path / "missing.duckdb"
    result = run(["views", "--duckdb", str(path)])
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"daily-logs views: error: no DuckDB file at {path}; load a window into it first")
    assert list(tmp_path.iterdir()) == []


def test_a_file_that_is_not_a_duckdb_database_is_one_line_and_the_traceback_needs_verbose(
    run: Callable[..., Result], tmp_path: Path
) -> None:
    path = tmp_path / "notes.duckdb"
    path.write_text("not a database\n")
    quiet = run(["summary", "--duckdb", str(path)])
    assert quiet.returncode == 1
    (line,) = quiet.stderr.splitlines()
    assert line.startswith("daily-logs summary: error: ") and "not a valid DuckDB database" in line
    verbose = run(["summary", "--duckdb", str(path), "-v"])
    assert verbose.returncode == 1
    assert "Traceback (most recent call last)" in verbose.stderr
    assert verbose.stderr.splitlines()[-1] == line


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["load", *WINDOW, "--duckdb", "x.duckdb"], "set DAILY_API_KEY to your Daily API key"),
        (["backfill", *WINDOW, "--duckdb", "x.duckdb"], "set DAILY_API_KEY to your Daily API key"),
        (["load", "--start", "yesterday", "--end", "today", "--duckdb", "x.duckdb"], "yesterday"),
        (["simulate", "--port", "0", "--start", "2026-01-01T05:00:00Z"], "midnight"),
    ],
)
def test_every_subcommand_reports_an_error_as_one_line_and_exit_one(
    run: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run(argv)
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"daily-logs {argv[0]}: error: ") and message in line
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # no database was created on the way


def test_error_lines_fold_newlines_and_name_the_type_of_unexpected_errors() -> None:
    assert error_line(DailyConfigError("bad\n  value")) == "bad value"
    assert error_line(OSError(2, "No such file or directory")) == "[Errno 2] No such file or directory"
    assert error_line(RuntimeError("a bug\nsomewhere")) == "RuntimeError: a bug somewhere"
    assert error_line(KeyError()) == "KeyError"
