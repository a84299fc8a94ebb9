"""``daily-logs simulate`` (and ``python -m daily_provider.simulator``): serve the simulator until stopped.

Prints exactly one line on stdout once it accepts connections, ``simulator listening on
http://127.0.0.1:PORT/v1``, and with ``--ready-file`` also writes the base URL to that file (atomically,
removed again on exit), so a demo or benchmark can start it with ``--port 0`` and find the port.
SIGTERM and SIGINT stop it cleanly.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from daily_provider import __version__
from daily_provider.cli_format import EXIT_EPILOG, HelpFormatter
from daily_provider.simulator.config import (
    CONVENTIONS,
    PAGE_SHAPES,
    RETRY_AFTER_STYLES,
    FaultConfig,
    SimulatorConfig,
)
from daily_provider.simulator.server import SimulatorServer

_DEFAULTS = SimulatorConfig(faults=FaultConfig())
_FAULT_DEFAULTS = FaultConfig()


def _optional_int(text: str) -> int | None:
    return None if text.lower() in ("", "none") else int(text)


def _optional_float(text: str) -> float | None:
    return None if text.lower() in ("", "none") else float(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the simulator's options (data, server, one flag per fault switch) to ``parser``."""
    _add_data_arguments(parser.add_argument_group("data"))
    server = parser.add_argument_group("server")
    server.add_argument("--host", default="127.0.0.1", help="address to bind; keep it on loopback")
    server.add_argument("--port", type=int, default=8765, help="port to listen on; 0 picks a free one")
    server.add_argument("--ready-file", type=Path, help="write the base URL to this file once listening")
    faults = parser.add_argument_group("faults (all off by default)")
    _add_fault_numbers(faults)
    _add_fault_switches(faults)


def _add_data_arguments(data: argparse._ArgumentGroup) -> None:
    """What the simulator serves: the seeded timeline, the cursor convention, the page shape, the key."""
    data.add_argument("--seed", type=int, default=_DEFAULTS.seed, help="seed of the generated records")
    data.add_argument("--start", default=_DEFAULTS.start, help="timeline start, a UTC midnight in ISO-8601")
    data.add_argument("--days", type=int, default=_DEFAULTS.days, help="timeline length in days")
    data.add_argument(
        "--api-per-day", type=int, default=_DEFAULTS.api_per_day, help="source=api records per day"
    )
    data.add_argument(
        "--webhook-per-day",
        type=int,
        default=_DEFAULTS.webhook_per_day,
        help="source=webhook records per day",
    )
    data.add_argument(
        "--convention",
        choices=CONVENTIONS,
        default=_DEFAULTS.convention,
        help="stripe: starting_after pages to older records; literal: starting_after pages to newer ones",
    )
    data.add_argument(
        "--page-shape",
        choices=PAGE_SHAPES,
        default=_DEFAULTS.page_shape,
        help='array: a bare JSON array per page; object: Daily\'s list shape {"total_count": N, "data": [...]}',
    )
    data.add_argument("--api-key", default=_DEFAULTS.api_key, help="the (fake) API key clients must send")


def _add_fault_numbers(faults: argparse._ArgumentGroup) -> None:
    """The fault seed, the limit cap, and the switches that are a probability or a duration."""
    f = _FAULT_DEFAULTS
    faults.add_argument("--fault-seed", type=int, default=f.seed, help="seed of the fault decisions")
    faults.add_argument("--max-limit", type=int, default=f.max_limit, help="cap on limit, applied silently")
    for flag, default, text in (
        ("--error-5xx-rate", f.error_5xx_rate, "probability of a 500/502/503/504"),
        ("--rate-429", f.rate_429, "probability of a 429"),
        ("--stall-rate", f.stall_rate, "probability of waiting --stall-seconds before answering"),
        ("--drop-rate", f.drop_rate, "probability of cutting the body and the connection"),
        ("--truncate-rate", f.truncate_rate, "probability of a 200 with truncated JSON"),
        ("--html-rate", f.html_rate, "probability of a 200 with an HTML page"),
        ("--empty-rate", f.empty_rate, "probability of a 200 with an empty body"),
        ("--duplicate-rate", f.duplicate_rate, "probability a cursor page repeats the cursor record"),
        ("--retry-after-seconds", f.retry_after_seconds, "Retry-After value sent with an injected 429"),
        (
            "--latency-ms",
            f.latency_ms,
            "time from a logs request's arrival to its answer; the simulator's own work counts inside it",
        ),
        ("--stall-seconds", f.stall_seconds, "length of a stall"),
    ):
        faults.add_argument(flag, type=float, default=default, help=text)


def _add_fault_switches(faults: argparse._ArgumentGroup) -> None:
    """The fault switches that are a count, a choice or a list: bursts, limits, failures after N, ids."""
    f = _FAULT_DEFAULTS
    faults.add_argument(
        "--burst-429", type=int, default=f.burst_429, help="the next N logs requests answer 429"
    )
    faults.add_argument(
        "--retry-after", choices=RETRY_AFTER_STYLES, default=f.retry_after, help="Retry-After style on a 429"
    )
    faults.add_argument(
        "--rate-limit-per-second",
        type=_optional_float,
        default=None,
        help="server-side limit; over it: 429 (default: none)",
    )
    faults.add_argument(
        "--arrivals-per-request",
        type=int,
        default=f.arrivals_per_request,
        help="new head records per logs request",
    )
    faults.add_argument(
        "--auth-fail-after",
        type=_optional_int,
        default=None,
        help="401 after N logs requests (default: never)",
    )
    faults.add_argument(
        "--forbidden-after",
        type=_optional_int,
        default=None,
        help="403 after N logs requests (default: never)",
    )
    faults.add_argument(
        "--retention-before",
        metavar="ISO",
        help="forget records older than this UTC time, and their ids as cursors, as Daily's retention "
        "does (default: keep everything; change it at run time with POST /_sim/faults)",
    )
    faults.add_argument(
        "--unknown-cursor-id",
        action="append",
        default=[],
        metavar="ID",
        help="a log id the API treats as unknown (repeatable)",
    )


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    faults = FaultConfig(
        seed=args.fault_seed,
        error_5xx_rate=args.error_5xx_rate,
        rate_429=args.rate_429,
        burst_429=args.burst_429,
        retry_after=args.retry_after,
        retry_after_seconds=args.retry_after_seconds,
        rate_limit_per_second=args.rate_limit_per_second,
        latency_ms=args.latency_ms,
        stall_rate=args.stall_rate,
        stall_seconds=args.stall_seconds,
        drop_rate=args.drop_rate,
        truncate_rate=args.truncate_rate,
        html_rate=args.html_rate,
        empty_rate=args.empty_rate,
        duplicate_rate=args.duplicate_rate,
        arrivals_per_request=args.arrivals_per_request,
        max_limit=args.max_limit,
        auth_fail_after=args.auth_fail_after,
        forbidden_after=args.forbidden_after,
        unknown_cursor_ids=frozenset(args.unknown_cursor_id),
        retention_before=args.retention_before,
    )
    return SimulatorConfig(
        seed=args.seed,
        start=args.start,
        days=args.days,
        api_per_day=args.api_per_day,
        webhook_per_day=args.webhook_per_day,
        convention=args.convention,
        page_shape=args.page_shape,
        api_key=args.api_key,
        faults=faults,
    )


def _write_atomically(path: Path, text: str) -> None:
    # A poller must never read a half-written URL.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM or SIGINT; return the exit status."""
    config = config_from_args(args)
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # Bind first: a port in use then fails before our handlers replace the caller's.
    server = SimulatorServer(config, host=args.host, port=args.port).start()
    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        if args.ready_file is not None:
            _write_atomically(args.ready_file, server.base_url + "\n")
        print(f"simulator listening on {server.base_url}", flush=True)
        while not stop.wait(1.0):
            pass
    finally:
        server.stop()
        if args.ready_file is not None:
            with contextlib.suppress(FileNotFoundError):
                args.ready_file.unlink()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("simulator stopped", file=sys.stderr, flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m daily_provider.simulator",
        description="Serve a local Daily logs API on loopback.",
        epilog=EXIT_EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (ValueError, OSError) as exc:
        print(f"simulator: error: {exc}", file=sys.stderr)
        return 1
