"""The ``daily-logs`` command: the operator's load outside Airflow, the simulator, a summary.

``daily-logs load`` runs exactly what the operator runs (:func:`daily_provider.load.load_window`)
for one window, for debugging and one-off loads; ``daily-logs backfill`` loads a multi-day range in
one walk (:func:`daily_provider.load.load_range`), replacing each day on its own. The key comes from
``DAILY_API_KEY`` only, never from an argument (arguments end up in shell history and process lists).
Results go to stdout (one JSON document with ``--json``), progress logs and errors to stderr; an error
is one line and exit status 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from daily_provider import __version__
from daily_provider.cli_format import (
    ENVIRONMENT_EPILOG,
    EXIT_EPILOG,
    HelpFormatter,
    ResultGoesToStdout,
    error_line,
    is_expected,
)
from daily_provider.exceptions import DailyError
from daily_provider.hooks.settings import DEFAULT_BASE_URL, DEFAULT_REQUESTS_PER_SECOND
from daily_provider.normalize import NormalizeConfig
from daily_provider.window import DEFAULT_SETTLE, Window, settle_wait, utc_now

if TYPE_CHECKING:
    from daily_provider.hooks.client import DailyClient

API_KEY_ENV = "DAILY_API_KEY"
BASE_URL_ENV = "DAILY_API_BASE_URL"
# The CLI runs on laptops and small boxes: a low DuckDB buffer by default (the operator keeps 1GB).
CLI_MEMORY_LIMIT = "128MB"
ARROW_POOL_ENV = "ARROW_DEFAULT_MEMORY_POOL"
DESCRIPTION = (
    "Load Daily's REST API logs into DuckDB outside Airflow (what the operator runs), serve the local "
    "Daily simulator, and summarize a loaded DuckDB file or add analysis views to it."
)
# Errors whose message says all a user needs (with DuckDB's: a file locked by another process, not
# a database); any other exception is a bug, shown with its type.


def _subparser(
    sub: argparse._SubParsersAction, name: str, *, help: str, description: str | None = None, epilog: str
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help,
        description=description or help[0].upper() + help[1:] + ".",
        epilog=epilog,
        formatter_class=HelpFormatter,
        parents=[_verbosity()],
    )
    return parser


def _verbosity() -> argparse.ArgumentParser:
    # SUPPRESS: a subcommand that was not given -v must not reset a -v given before it.
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="debug logging on stderr"
    )
    return parent


def _add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the result as one JSON document on stdout instead of text (logs stay on stderr)",
    )


def _add_columns(parser: argparse.ArgumentParser) -> None:
    """The flattening options of NormalizeConfig (see README "What lands in the table")."""
    parser.add_argument(
        "--max-columns",
        type=int,
        default=NormalizeConfig.max_columns,
        help="flattened columns the table may have; keys beyond stay in the JSON columns "
        "(default: %(default)s; 0 turns flattening off)",
    )
    parser.add_argument(
        "--map-path",
        action="append",
        default=[],
        metavar="PATH",
        help="keep the objects at PATH as one JSON column, e.g. 'request.payload.sip_headers' or "
        "'GET /v1/presence response' (repeatable; Daily's known maps are declared already)",
    )
    parser.add_argument(
        "--no-default-map-paths",
        action="store_true",
        help="do not declare Daily's known maps (presence by room name, SIP headers, permissions); "
        "the key-count rule still applies",
    )
    parser.add_argument(
        "--not-map-path",
        action="append",
        default=[],
        metavar="PATH",
        help="never keep PATH whole: flatten it even if it is declared or shows many keys (repeatable)",
    )
    parser.add_argument(
        "--map-key-threshold",
        type=int,
        default=NormalizeConfig.map_key_threshold,
        metavar="N",
        help="an undeclared path whose objects show more than N distinct keys is a map "
        "(default: %(default)s; 0 turns the rule off)",
    )


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", choices=("api", "webhook"), default="api", help="which logs to load")
    parser.add_argument("--duckdb", required=True, help="DuckDB database file (created if missing)")
    parser.add_argument("--table", help="target table (default: daily_<source>_logs)")
    parser.add_argument(
        "--base-url", help=f"Daily API base URL (default: ${BASE_URL_ENV}, else {DEFAULT_BASE_URL})"
    )
    parser.add_argument(
        "--chunk-rows", type=int, default=10_000, help="records staged at a time, which bounds memory"
    )
    parser.add_argument(
        "--requests-per-second",
        type=float,
        help=f"client-side limit on this command's requests (default: {DEFAULT_REQUESTS_PER_SECOND:g})",
    )
    parser.add_argument(
        "--run-id", help="run id written to _run_id and the audit table (default: cli__<random>)"
    )
    parser.add_argument(
        "--memory-limit",
        default=CLI_MEMORY_LIMIT,
        help=f"DuckDB memory_limit for the load (default: {CLI_MEMORY_LIMIT}; more makes the INSERT faster; "
        "doubled up to 8x and retried if a window needs more)",
    )
    _add_columns(parser)
    parser.add_argument(
        "--no-anchors",
        action="store_true",
        help="walk from the newest record and record no cursor anchors (daily_logs_anchors)",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=int(DEFAULT_SETTLE.total_seconds()),
        metavar="SECONDS",
        help="load a window only once its end is this many seconds past, since Daily writes some logs "
        "after their createdAt (default: %(default)g; 0 loads at once)",
    )
    parser.add_argument(
        "--no-wait",
        action="store_true",
        help="fail with an error instead of waiting when the window has not settled yet",
    )
    _add_json(parser)


def wait_until_settled(window: Window, args: argparse.Namespace) -> None:
    """Return once ``window``'s end is ``--settle`` seconds past: wait, saying until when, or refuse."""
    if args.settle < 0:
        raise DailyError(f"--settle {args.settle:g} must not be negative; give 0 to load at once")
    settle = timedelta(seconds=args.settle)
    wait = settle_wait(window, settle, utc_now())
    if wait <= timedelta(0):
        return
    ready = (window.end + settle).isoformat()
    if args.no_wait:
        raise DailyError(
            f"the window ends at {window.end.isoformat()}, less than --settle {args.settle:g}s ago, and Daily "
            f"may still write logs for it; it can be loaded from {ready}. Run again then, drop --no-wait "
            "to wait, or pass --settle 0 to load it now"
        )
    print(
        f"waiting until {ready} ({wait.total_seconds():.0f} s): the window must be --settle "
        f"{args.settle:g}s past its end before it is loaded",
        file=sys.stderr,
        flush=True,
    )
    sleep(wait.total_seconds())


def sleep(seconds: float) -> None:
    """Wait ``seconds`` (a module function so tests never wait for real)."""
    time.sleep(seconds)


def _add_load(sub: argparse._SubParsersAction) -> None:
    parser = _subparser(
        sub, "load", help="load one window of logs into DuckDB", epilog=ENVIRONMENT_EPILOG + EXIT_EPILOG
    )
    parser.add_argument(
        "--start", required=True, help="window start, ISO-8601 with zone, e.g. 2026-01-01T00:00:00Z"
    )
    parser.add_argument("--end", required=True, help="window end (exclusive)")
    _add_common(parser)
    parser.set_defaults(func=_run_load)


def _add_backfill(sub: argparse._SubParsersAction) -> None:
    parser = _subparser(
        sub,
        "backfill",
        help="load a multi-day range into DuckDB in one walk, replacing each day on its own",
        description=(
            "Walk the range once, newest to oldest, and replace each day (or --step-hours window) "
            "atomically as soon as the walk has passed below its start. Costs about one request per "
            "100 records of the whole range, where loading day by day costs a walk per day."
        ),
        epilog=ENVIRONMENT_EPILOG + EXIT_EPILOG,
    )
    parser.add_argument(
        "--start", required=True, help="range start, ISO-8601 with zone, e.g. 2026-01-01T00:00:00Z"
    )
    parser.add_argument("--end", required=True, help="range end (exclusive)")
    parser.add_argument(
        "--step-hours",
        type=int,
        default=24,
        help="width of each replaced window in hours, aligned to UTC (default: 24, UTC days)",
    )
    _add_common(parser)
    parser.set_defaults(func=_run_backfill)


def _prepare(args: argparse.Namespace) -> tuple[DailyClient, NormalizeConfig]:
    """The hook and the normalize config from the environment and the common arguments."""
    from daily_provider.hooks.client import DailyClient
    from daily_provider.load import redaction_policy

    api_key = os.environ.get(API_KEY_ENV, "")
    if not api_key.strip():
        raise DailyError(f"set {API_KEY_ENV} to your Daily API key (it is never taken as an argument)")
    hook = DailyClient(
        api_key=api_key,
        base_url=args.base_url or os.environ.get(BASE_URL_ENV) or None,
        requests_per_second=args.requests_per_second,
    )
    map_paths = {**dict.fromkeys(args.map_path, True), **dict.fromkeys(args.not_map_path, False)}
    config = NormalizeConfig(
        redaction=redaction_policy(),
        max_columns=args.max_columns,
        map_paths=map_paths or None,
        default_map_paths=not args.no_default_map_paths,
        map_key_threshold=args.map_key_threshold or None,
    )
    return hook, config


def _print_result(args: argparse.Namespace, text: Callable[[], str], data: Callable[[], Any]) -> None:
    """Print the command's result once: as text, or with ``--json`` as one JSON document."""
    if args.json:
        print(json.dumps(data(), sort_keys=True))
    else:
        print(text())


def _run_load(args: argparse.Namespace) -> int:
    from daily_provider.load import LoadSpec, load_window
    from daily_provider.warehouses.duckdb import DuckDBWarehouse

    window = Window.parse(args.start, args.end)
    hook, config = _prepare(args)
    wait_until_settled(window, args)
    with DuckDBWarehouse(args.duckdb, memory_limit=args.memory_limit) as warehouse:
        spec = LoadSpec(
            source=args.source,
            table=args.table,
            run_id=args.run_id or f"cli__{uuid.uuid4().hex[:12]}",
            config=config,
            chunk_rows=args.chunk_rows,
            use_anchors=not args.no_anchors,
        )
        summary = load_window(hook=hook, warehouse=warehouse, window=window, spec=spec)
    _print_result(args, summary.describe, summary.as_dict)
    return 0


def _run_backfill(args: argparse.Namespace) -> int:
    from daily_provider.load import LoadSpec, load_range
    from daily_provider.warehouses.duckdb import DuckDBWarehouse

    window = Window.parse(args.start, args.end)
    if args.step_hours < 1:
        raise DailyError(f"--step-hours {args.step_hours} must be at least 1")
    hook, config = _prepare(args)
    wait_until_settled(window, args)
    with DuckDBWarehouse(args.duckdb, memory_limit=args.memory_limit) as warehouse:
        spec = LoadSpec(
            source=args.source,
            table=args.table,
            run_id=args.run_id or f"cli_backfill__{uuid.uuid4().hex[:12]}",
            config=config,
            chunk_rows=args.chunk_rows,
            use_anchors=not args.no_anchors,
        )
        summary = load_range(
            hook=hook, warehouse=warehouse, window=window, spec=spec, step=timedelta(hours=args.step_hours)
        )

    def text() -> str:
        return "\n".join([*(loaded.describe() for loaded in summary.windows), summary.describe()])

    _print_result(args, text, summary.as_dict)
    return 0


def _add_simulate(sub: argparse._SubParsersAction) -> None:
    from daily_provider.simulator import cli as simulator_cli

    parser = _subparser(sub, "simulate", help="serve a local Daily logs API on loopback", epilog=EXIT_EPILOG)
    simulator_cli.add_arguments(parser)
    parser.set_defaults(func=simulator_cli.run)


def _add_summary(sub: argparse._SubParsersAction) -> None:
    parser = _subparser(
        sub, "summary", help="print a readable summary of a DuckDB logs database", epilog=EXIT_EPILOG
    )
    parser.add_argument("--duckdb", required=True, help="DuckDB database file (opened read-only)")
    _add_json(parser)
    parser.set_defaults(func=_run_summary)


def _run_summary(args: argparse.Namespace) -> int:
    from daily_provider.summary import summary_data, summary_text

    if args.json:
        print(json.dumps(summary_data(args.duckdb), sort_keys=True))
    else:
        print(summary_text(args.duckdb))
    return 0


def _add_views(sub: argparse._SubParsersAction) -> None:
    parser = _subparser(
        sub,
        "views",
        help="create (or replace) the analysis views in an existing DuckDB file",
        epilog=EXIT_EPILOG,
    )
    parser.add_argument("--duckdb", required=True, help="DuckDB database file; must exist (never created)")
    parser.add_argument("--api-table", default="daily_api_logs", help="table of source=api loads")
    parser.add_argument("--webhook-table", default="daily_webhook_logs", help="table of source=webhook loads")
    parser.set_defaults(func=_run_views)


def _run_views(args: argparse.Namespace) -> int:
    from daily_provider.views import create_views_duckdb

    report = create_views_duckdb(args.duckdb, api_table=args.api_table, webhook_table=args.webhook_table)
    print(report.describe())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="daily-logs",
        description=DESCRIPTION,
        epilog=ENVIRONMENT_EPILOG + EXIT_EPILOG,
        formatter_class=HelpFormatter,
        parents=[_verbosity()],
    )
    parser.set_defaults(verbose=False)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_load(sub)
    _add_backfill(sub)
    _add_simulate(sub)
    _add_summary(sub)
    _add_views(sub)
    return parser


class Terminated(BaseException):
    """SIGTERM (a timeout, systemd, Kubernetes) raised as an exception, so a load records its attempt."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated(
        "stopped by SIGTERM; the window being loaded was left as it was and its attempt recorded as failed"
    )


def main(argv: Sequence[str] | None = None) -> int:
    # Arrow's default allocator (mimalloc) keeps freed staging memory resident; the system allocator
    # hands it back as staging goes. Read when pyarrow is first imported. A value set by the user wins.
    if "pyarrow" not in sys.modules:  # called in-process (tests), it would only change the environment
        os.environ.setdefault(ARROW_POOL_ENV, "system")
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    load_log = logging.getLogger("daily_provider.load")
    result_filter = ResultGoesToStdout()
    load_log.addFilter(result_filter)
    # Python's default SIGTERM handling exits at once and would leave the audit row 'running'.
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except Terminated as exc:
        print(f"daily-logs {args.command}: {exc}", file=sys.stderr)
        return 128 + signal.SIGTERM
    except Exception as exc:
        if args.verbose:
            traceback.print_exc(file=sys.stderr)
        hint = "" if is_expected(exc) or args.verbose else " (run with -v for the traceback)"
        print(f"daily-logs {args.command}: error: {error_line(exc)}{hint}", file=sys.stderr)
        return 1
    finally:
        load_log.removeFilter(result_filter)
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    raise SystemExit(main())
