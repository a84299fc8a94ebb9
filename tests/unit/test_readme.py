"""The README's examples and reference lists are the code's: its Python blocks compile and import what they
name, its connection examples resolve to the settings it says, and its lists of connection extras, XCom
keys, ``daily-logs`` flags and error messages are the ones the code has."""

from __future__ import annotations

import ast
import importlib
import json
import re
import shlex
from datetime import datetime, timezone
from pathlib import Path

import pytest

from daily_provider import get_provider_info
from daily_provider.cli import build_parser
from daily_provider.hooks.daily import DailyHook
from daily_provider.load import LoadSummary, RangeSummary

REPO_ROOT = Path(__file__).resolve().parents[2]
README = (REPO_ROOT / "README.md").read_text()
PACKAGE = REPO_ROOT / "plugin" / "daily_provider"


def _code_blocks(language: str) -> list[str]:
    """The fenced blocks of ``language`` ("" for blocks without one), fences paired in order."""
    blocks: list[str] = []
    current: list[str] | None = None
    current_language = ""
    for line in README.splitlines(keepends=True):
        if current is None and line.startswith("```"):
            current, current_language = [], line[3:].strip()
        elif current is not None and line.rstrip() == "```":
            if current_language == language:
                blocks.append("".join(current))
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def _section(heading: str) -> str:
    """The README text under ``heading`` up to the next heading of the same or a higher level."""
    level = heading.split(" ", 1)[0]
    start = README.index(f"\n{heading}\n")
    rest = README[start + len(heading) + 2 :]
    following = re.search(rf"^#{{1,{len(level)}}} ", rest, flags=re.MULTILINE)
    return rest[: following.start()] if following else rest


PYTHON_BLOCKS = _code_blocks("python")


def test_the_readme_has_the_python_examples_this_test_checks() -> None:
    # The operator DAG, the TaskFlow DAG with the hook, and the analysis views.
    assert len(PYTHON_BLOCKS) >= 3


@pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=lambda block: block.splitlines()[0][:50])
def test_python_blocks_compile_and_every_name_they_import_exists(block: str) -> None:
    tree = ast.parse(block)
    compile(tree, "README.md", "exec")
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.module is not None
            module = importlib.import_module(node.module)
            for alias in node.names:
                assert hasattr(module, alias.name), f"README imports {alias.name} from {node.module}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                importlib.import_module(alias.name)


def test_the_hook_warning_names_functions_that_exist_with_those_arguments() -> None:
    warning = README[README.index("**Warning: `iter_logs`") :]
    warning = warning[: warning.index("\n\n")]
    call = re.search(r"`(daily_provider\.normalize\.normalize_record\(.*?\))`", warning.replace("\n> ", " "))
    assert call is not None
    from daily_provider.load import redaction_policy
    from daily_provider.normalize import NormalizeConfig, normalize_record

    class Hook:
        def redaction_secret(self) -> str:
            return "secret"

    record = {
        "id": "log-1",
        "createdAt": "2026-01-01T00:00:00.000Z",
        "source": "api",
        "method": "POST",
        "url": "/v1/meeting-tokens",
        "status": 200,
        "ip": "203.0.113.9",
        "request": '{"properties": {"room_name": "r", "user_name": "Ada"}}',
        "response": '{"token": "eyJhbGciOiJIUzI1NiJ9.eyJyIjoiciJ9.c2lnbmF0dXJl"}',
    }
    expression = call.group(1).removeprefix("daily_provider.normalize.")
    row = eval(  # the README's expression, as written
        expression,
        {
            "normalize_record": normalize_record,
            "NormalizeConfig": NormalizeConfig,
            "redaction_policy": redaction_policy,
            "record": record,
            "hook": Hook(),
        },
    )
    assert "eyJ" not in row["response"] and "Ada" not in row["request"]
    assert row["ip"].startswith("sha256:")


@pytest.mark.parametrize(
    "line", [line for line in README.splitlines() if line.startswith("AIRFLOW_CONN_DAILY_DEFAULT='")]
)
def test_the_connection_examples_resolve_to_dailys_v1_url_and_their_extras(
    line: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    (value,) = shlex.split(line.split("=", 1)[1])
    monkeypatch.setenv("AIRFLOW_CONN_DAILY_DEFAULT", value)
    settings = DailyHook().settings()
    assert settings.base_url == "https://api.daily.co/v1"
    assert settings.api_key == "KEY"
    assert settings.requests_per_second == 1


def test_the_connection_example_has_two_forms() -> None:
    assert len([line for line in README.splitlines() if line.startswith("AIRFLOW_CONN_DAILY_DEFAULT='")]) == 2


def test_the_connection_table_lists_exactly_the_declared_extras() -> None:
    (connection_type,) = get_provider_info()["connection-types"]
    declared = set(connection_type["conn-fields"])
    listed = set(re.findall(r"^\| extra `([a-z_]+)` \|", _section("### The connection"), flags=re.MULTILINE))
    assert listed == declared


def test_the_connections_add_example_uses_the_connection_type_and_json_extras() -> None:
    (command,) = [block for block in _code_blocks("") if block.startswith("airflow connections add")]
    words = shlex.split(command.replace("\\\n", " "))
    assert words[3] == "daily_default"
    options = dict(zip(words[4::2], words[5::2], strict=True))
    assert options["--conn-type"] == "daily"
    assert set(options) == {"--conn-type", "--conn-host", "--conn-password", "--conn-extra"}
    (connection_type,) = get_provider_info()["connection-types"]
    assert set(json.loads(options["--conn-extra"])) <= set(connection_type["conn-fields"])


def _listed_keys(text: str) -> set[str]:
    return set(re.findall(r"`([a-z_]+)`", text))


def test_the_xcom_keys_the_readme_lists_are_the_summaries_keys() -> None:
    section = _section("### What a task returns and emits")
    paragraph = section.split("\n\n")[0].replace("\n", " ")
    single, ranged = paragraph.split("; in range mode it is ")
    single = single.split("For one window its keys are ", 1)[1]
    # Status values are listed in parentheses after `status`; they are not keys.
    single = re.sub(r"\(`success`, `partial`, `not_covered`\)", "", single)
    moment = datetime(2026, 1, 1, tzinfo=timezone.utc)
    window = LoadSummary(
        load_id="l", run_id="r", source="api", table="t", window_start=moment, window_end=moment, rows=0,
        pages=0, requests=0, retries=0, duplicates_skipped=0, redacted_values=0, parse_errors=0, seconds=0.0,
        convention=None,
    )  # fmt: skip
    whole = RangeSummary(
        source="api", table="t", range_start=moment, range_end=moment, windows=(window,), requests=0, pages=0,
        retries=0, seconds=0.0, convention=None, started_after=None, anchors_rejected=0,
    )  # fmt: skip
    assert _listed_keys(single) == set(window.as_dict())
    assert _listed_keys(ranged.split("(one dict")[0]) == set(whole.as_dict())


def test_the_ledger_statuses_the_readme_lists_are_the_warehouses() -> None:
    from daily_provider.warehouses import base

    statuses = {
        value for name, value in vars(base).items() if name.startswith("STATUS_") and isinstance(value, str)
    }
    listed = set(
        re.findall(r"^\| `([a-z_]+)` \|", _section("### The ledger `daily_logs_loads`"), re.MULTILINE)
    )
    assert listed == statuses


def _daily_logs_commands() -> list[list[str]]:
    commands = []
    for match in re.finditer(r"(?:^|`|\$ |\.\.\. )(daily-logs [^`\n]+)", README, flags=re.MULTILINE):
        words = shlex.split(re.sub(r"\[([^\]]*)\]", r"\1", match.group(1)))
        if len(words) > 1 and not words[1].startswith("<"):  # `daily-logs <command>: error:` is prose
            commands.append(words)
    return commands


def test_every_daily_logs_command_in_the_readme_uses_options_the_command_has() -> None:
    parser = build_parser()
    subparsers = next(action for action in parser._actions if action.choices and "load" in action.choices)
    commands = _daily_logs_commands()
    assert len(commands) >= 6
    for words in commands:
        flags = [word for word in words[1:] if word.startswith("-")]
        if words[1].startswith("-"):
            known = {option for action in parser._actions for option in action.option_strings}
        else:
            assert words[1] in subparsers.choices, words
            sub = subparsers.choices[words[1]]
            known = {option for action in sub._actions for option in action.option_strings}
        assert set(flags) <= known, (words, set(flags) - known)


# A README message is the code's text with its variable parts (names, numbers, quoted values, windows,
# the source, exception class names, a status in capitals) written as they would appear, or as `...`.
# What is left must be the code's own text, in pieces of at least _PIECE characters (messages are
# composed: "Daily refused the request, not retried: " + "Daily answered ..."). DuckDB's own words are
# not ours to check.
_VARIABLE = re.compile(
    r"\.\.\.|'[^']*'|\"[^\"]*\"|\[[^\]]*\)|\S*\d\S*|`|\b(?:api|webhook)\b|\b\w*Error\b|\b[A-Z][A-Z_]{4,}\b"
)
_PIECE = 14
_NOT_OURS = ("IO Error: Could not set lock on file",)


def _source_text() -> str:
    text = "\n".join(path.read_text() for path in sorted(PACKAGE.rglob("*.py")))
    # Join implicitly concatenated string literals ("a "\n    "b" -> "a b").
    return re.sub(r"[\"']\s*\n\s*f?[\"']", "", text).lower()


def _uncovered(fragment: str, source: str) -> str | None:
    """The first part of ``fragment`` that no piece of the source of at least _PIECE characters covers."""
    rest = fragment.lower()
    while rest:
        length = len(rest)
        while length >= min(_PIECE, len(rest)) and rest[:length] not in source:
            length -= 1
        if length < min(_PIECE, len(rest)):
            return rest
        rest = rest[length:]
    return None


def _troubleshooting_messages() -> list[str]:
    table = _section("## Troubleshooting")
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    return [re.match(r"\| `(.*?)`(?: \(.*?\))?(?: or `.*?`)? \|", row).group(1) for row in rows]  # type: ignore[union-attr]


def test_the_troubleshooting_table_has_rows() -> None:
    assert len(_troubleshooting_messages()) >= 20


@pytest.mark.parametrize("message", _troubleshooting_messages())
def test_each_troubleshooting_message_is_one_the_code_writes(message: str) -> None:
    for external in _NOT_OURS:
        message = message.replace(external, "...")
    fragments = [part.strip(" :;.,()") for part in _VARIABLE.split(message)]
    assert sum(len(fragment) for fragment in fragments) >= 20, f"too little constant text in {message!r}"
    source = _source_text()
    for fragment in fragments:
        missing = _uncovered(fragment, source)
        assert missing is None, f"{missing!r} (from the README's {message!r}) is in no message of the code"


def _airflow_commands() -> list[list[str]]:
    """Every ``airflow ...`` command of the README: whole lines of its shell blocks, and inline code."""
    commands = [
        shlex.split(block.replace("\\\n", " ")) for block in _code_blocks("") if block.startswith("airflow ")
    ]
    commands += [shlex.split(text) for text in re.findall(r"`(airflow [^`]+)`", README)]
    return commands


# The Celery provider is not installed here; `airflow celery worker --queues` is its documented form.
_NOT_INSTALLED = {"celery"}


def test_every_airflow_command_in_the_readme_parses_with_airflows_own_cli() -> None:
    from airflow.cli.cli_parser import get_parser

    parser = get_parser()
    commands = [words for words in _airflow_commands() if words[1] not in _NOT_INSTALLED]
    assert {"connections", "pools", "backfill", "variables", "providers", "dags"} <= {w[1] for w in commands}
    for words in commands:
        if len(words) == 3:  # `airflow pools set` named in prose: the command exists
            groups = next(
                action for action in parser._actions if action.choices and "pools" in action.choices
            )
            group = groups.choices[words[1]]
            sub = next(action for action in group._actions if action.choices)
            assert words[2] in sub.choices, words
            continue
        parser.parse_args(words[1:])


def test_the_backfill_guide_reloads_completed_days_with_a_value_airflow_accepts() -> None:
    from airflow.cli.cli_parser import get_parser

    section = _section("## Backfills")
    assert "`--reprocess-behavior completed`" in section
    (backfill,) = [words for words in _airflow_commands() if words[1:3] == ["backfill", "create"]]
    args = get_parser().parse_args([*backfill[1:], "--reprocess-behavior", "completed"])
    assert (args.reprocess_behavior, args.run_backwards) == ("completed", True)
