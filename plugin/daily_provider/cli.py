"""The ``daily-logs`` command: the operator's load outside Airflow, the simulator, a summary.

``daily-logs load`` runs exactly what the operator runs (:func:`daily_provider.load.load_window`)
for one window, for debugging and one-off loads. The key comes from ``DAILY_API_KEY`` only, never
from an argument (arguments end up in shell history and process lists).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import uuid
from collections.abc import Sequence

from daily_provider.exceptions import DailyError

API_KEY_ENV = "DAILY_API_KEY"
BASE_URL_ENV = "DAILY_API_BASE_URL"


def _add_load(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("load", help="load one window of logs into DuckDB")
    parser.add_argument("--source", choices=("api", "webhook"), default="api")
    parser.add_argument(
        "--start", required=True, help="window start, ISO-8601 with zone, e.g. 2026-01-01T00:00:00Z"
    )
    parser.add_argument("--end", required=True, help="window end (exclusive)")
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
    parser.add_argument("--memory-limit", default="1GB", help="DuckDB memory_limit")
    parser.set_defaults(func=_run_load)


def _run_load(args: argparse.Namespace) -> int:
    from daily_provider.hooks.daily import DailyHook
    from daily_provider.load import REDACTION_SECRET_ENV, load_window
    from daily_provider.normalize import DEFAULT_REDACTION, NormalizeConfig
    from daily_provider.warehouses.duckdb import DuckDBWarehouse
    from daily_provider.window import Window

    window = Window.parse(args.start, args.end)
    api_key = os.environ.get(API_KEY_ENV, "")
    if not api_key.strip():
        raise DailyError(f"set {API_KEY_ENV} to your Daily API key (it is never taken as an argument)")
    hook = DailyHook(
        api_key=api_key,
        base_url=args.base_url or os.environ.get(BASE_URL_ENV) or None,
        requests_per_second=args.requests_per_second,
    )
    secret = os.environ.get(REDACTION_SECRET_ENV)
    policy = DEFAULT_REDACTION
    if secret:
        policy = type(policy)(rules=policy.rules, secret=secret.encode("utf-8"))
    with DuckDBWarehouse(args.duckdb, memory_limit=args.memory_limit) as warehouse:
        summary = load_window(
            hook=hook,
            warehouse=warehouse,
            window=window,
            source=args.source,
            table=args.table,
            run_id=args.run_id or f"cli__{uuid.uuid4().hex[:12]}",
            config=NormalizeConfig(redaction=policy),
            chunk_rows=args.chunk_rows,
        )
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="daily-logs", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_load(sub)
    _add_simulate(sub)
    _add_summary(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.func(args))
    except (DailyError, ValueError, OSError) as exc:
        print(f"daily-logs {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
