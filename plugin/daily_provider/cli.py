"""The ``daily-logs`` command: the operator's load outside Airflow, the simulator, a summary.

``daily-logs load`` runs exactly what the operator runs (:func:`daily_provider.load.load_window`)
for one window, for debugging and one-off loads; ``daily-logs backfill`` loads a multi-day range in
one walk (:func:`daily_provider.load.load_range`), replacing each day on its own. The key comes from
``DAILY_API_KEY`` only, never from an argument (arguments end up in shell history and process lists).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from daily_provider.exceptions import DailyError

if TYPE_CHECKING:
    from daily_provider.hooks.client import DailyClient
    from daily_provider.normalize import NormalizeConfig

API_KEY_ENV = "DAILY_API_KEY"
BASE_URL_ENV = "DAILY_API_BASE_URL"
# The CLI runs on laptops and small boxes: a low DuckDB buffer by default (the operator keeps 1GB).
CLI_MEMORY_LIMIT = "128MB"
ARROW_POOL_ENV = "ARROW_DEFAULT_MEMORY_POOL"


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", choices=("api", "webhook"), default="api")
    parser.add_argument("--duckdb", required=True, help="DuckDB database file")
    parser.add_argument("--table", help="target table (default daily_<source>_logs)")
    parser.add_argument(
        "--base-url", help=f"Daily API base URL (default ${BASE_URL_ENV} or https://api.daily.co/v1)"
    )
    parser.add_argument(
        "--chunk-rows", type=int, default=10_000, help="records staged at a time (memory bound)"
    )
    parser.add_argument("--requests-per-second", type=float, help="client-side rate limit (default 2)")
    parser.add_argument("--run-id", help="run id written to _run_id and the audit table")
    parser.add_argument(
        "--memory-limit",
        default=CLI_MEMORY_LIMIT,
        help=f"DuckDB memory_limit for the load (default {CLI_MEMORY_LIMIT}; more makes the INSERT faster; "
        "doubled up to 8x and retried if a window needs more)",
    )
    parser.add_argument(
        "--no-anchors",
        action="store_true",
        help="walk from the newest record and record no cursor anchors (daily_logs_anchors)",
    )


def _add_load(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("load", help="load one window of logs into DuckDB")
    parser.add_argument(
        "--start", required=True, help="window start, ISO-8601 with zone, e.g. 2026-01-01T00:00:00Z"
    )
    parser.add_argument("--end", required=True, help="window end (exclusive)")
    _add_common(parser)
    parser.set_defaults(func=_run_load)


def _add_backfill(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "backfill",
        help="load a multi-day range into DuckDB in one walk, replacing each day on its own",
        description=(
            "Walk the range once, newest to oldest, and replace each day (or --step-hours window) "
            "atomically as soon as the walk has passed below its start. Costs about one request per "
            "100 records of the whole range, where loading day by day costs a walk per day."
        ),
    )
    parser.add_argument(
        "--start", required=True, help="range start, ISO-8601 with zone, e.g. 2026-01-01T00:00:00Z"
    )
    parser.add_argument("--end", required=True, help="range end (exclusive)")
    parser.add_argument(
        "--step-hours",
        type=int,
        default=24,
        help="width of each replaced window in hours, aligned to UTC (default 24: UTC days)",
    )
    _add_common(parser)
    parser.set_defaults(func=_run_backfill)


def _prepare(args: argparse.Namespace) -> tuple[DailyClient, NormalizeConfig]:
    """The hook and the normalize config from the environment and the common arguments."""
    from daily_provider.hooks.client import DailyClient
    from daily_provider.load import REDACTION_SECRET_ENV
    from daily_provider.normalize import DEFAULT_REDACTION, NormalizeConfig

    api_key = os.environ.get(API_KEY_ENV, "")
    if not api_key.strip():
        raise DailyError(f"set {API_KEY_ENV} to your Daily API key (it is never taken as an argument)")
    hook = DailyClient(
        api_key=api_key,
        base_url=args.base_url or os.environ.get(BASE_URL_ENV) or None,
        requests_per_second=args.requests_per_second,
    )
    secret = os.environ.get(REDACTION_SECRET_ENV)
    policy = DEFAULT_REDACTION
    if secret:
        policy = type(policy)(rules=policy.rules, secret=secret.encode("utf-8"))
    return hook, NormalizeConfig(redaction=policy)


def _run_load(args: argparse.Namespace) -> int:
    from daily_provider.load import load_window
    from daily_provider.warehouses.duckdb import DuckDBWarehouse
    from daily_provider.window import Window

    window = Window.parse(args.start, args.end)
    hook, config = _prepare(args)
    with DuckDBWarehouse(args.duckdb, memory_limit=args.memory_limit) as warehouse:
        summary = load_window(
            hook=hook,
            warehouse=warehouse,
            window=window,
            source=args.source,
            table=args.table,
            run_id=args.run_id or f"cli__{uuid.uuid4().hex[:12]}",
            config=config,
            chunk_rows=args.chunk_rows,
            use_anchors=not args.no_anchors,
        )
    print(summary.describe())
    return 0


def _run_backfill(args: argparse.Namespace) -> int:
    from daily_provider.load import load_range
    from daily_provider.warehouses.duckdb import DuckDBWarehouse
    from daily_provider.window import Window

    window = Window.parse(args.start, args.end)
    if args.step_hours < 1:
        raise DailyError(f"--step-hours {args.step_hours} must be at least 1")
    hook, config = _prepare(args)
    with DuckDBWarehouse(args.duckdb, memory_limit=args.memory_limit) as warehouse:
        summary = load_range(
            hook=hook,
            warehouse=warehouse,
            window=window,
            source=args.source,
            table=args.table,
            run_id=args.run_id or f"cli_backfill__{uuid.uuid4().hex[:12]}",
            step=timedelta(hours=args.step_hours),
            config=config,
            chunk_rows=args.chunk_rows,
            use_anchors=not args.no_anchors,
        )
    for loaded in summary.windows:
        print(loaded.describe())
    print(summary.describe())
    return 0


def _add_simulate(sub: argparse._SubParsersAction) -> None:
    from daily_provider.simulator import cli as simulator_cli

    parser = sub.add_parser("simulate", help="serve a local Daily logs API on loopback")
    simulator_cli.add_arguments(parser)
    parser.set_defaults(func=simulator_cli.run)


def _add_summary(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("summary", help="print a readable summary of a DuckDB logs database")
    parser.add_argument("--duckdb", required=True, help="DuckDB database file")
    parser.set_defaults(func=_run_summary)


def _run_summary(args: argparse.Namespace) -> int:
    from daily_provider.summary import print_summary

    print_summary(args.duckdb)
    return 0


def _add_views(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("views", help="create (or replace) the analysis views in a DuckDB file")
    parser.add_argument("--duckdb", required=True, help="DuckDB database file")
    parser.add_argument("--api-table", default="daily_api_logs")
    parser.add_argument("--webhook-table", default="daily_webhook_logs")
    parser.set_defaults(func=_run_views)


def _run_views(args: argparse.Namespace) -> int:
    from daily_provider.views import create_views_duckdb

    report = create_views_duckdb(args.duckdb, api_table=args.api_table, webhook_table=args.webhook_table)
    print(report.describe())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="daily-logs", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
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
    # Python's default SIGTERM handling exits at once and would leave the audit row 'running'.
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    try:
        return int(args.func(args))
    except (DailyError, ValueError, OSError) as exc:
        print(f"daily-logs {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Terminated as exc:
        print(f"daily-logs {args.command}: {exc}", file=sys.stderr)
        return 128 + signal.SIGTERM
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    raise SystemExit(main())
