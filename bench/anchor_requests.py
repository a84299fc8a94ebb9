"""Request counts of loads with cursor anchors, from the simulator's own counter (counts, not time).

:func:`request_counts` runs, against a fresh in-process simulator and a fresh DuckDB file each:
one window with an anchor at its end, a daily backfill newest window first, the same oldest window
first (Airflow's order), the same without anchors (what every window cost before), and range mode
(``daily-logs backfill``), and returns the counts next to the bounds of issue 4. For the
``requests`` section of BENCHMARKS.md (see ``run.request_counts``); :func:`as_markdown` renders it.

    .venv/bin/python bench/anchor_requests.py [--per-day N] [--days D] [--convention stripe|literal]
"""

from __future__ import annotations

import argparse
import logging
import math
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

from daily_provider.hooks.client import DailyClient
from daily_provider.load import LoadSpec, load_range, load_window
from daily_provider.simulator import SimulatorConfig, SimulatorServer
from daily_provider.warehouses.duckdb import DuckDBWarehouse
from daily_provider.window import Window

PAGE = 100
KEY = "bench-anchor-key"
START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def request_counts(per_day: int = 1000, days: int = 30, convention: str = "literal") -> dict[str, Any]:
    """Run every scenario and return ``{"settings": ..., "scenarios": {name: {...}}}``.

    Each scenario gives ``records`` (N), ``windows`` (W), ``requests``, ``bound`` (issue 4's
    formula, or None where the issue sets none) and ``requests_per_page_of_records``
    (requests / (N / page)). The literal convention is the default: detecting it costs one more
    request per walk from the newest record.
    """
    windows = [Window(START + timedelta(days=n), START + timedelta(days=n + 1)) for n in range(days)]
    config = SimulatorConfig(
        seed=1, days=days, api_per_day=per_day, webhook_per_day=0, convention=convention, api_key=KEY
    )
    full = Window(windows[0].start, windows[-1].end)
    logging.getLogger("daily_provider").setLevel(logging.WARNING)

    def single(server: SimulatorServer, warehouse: DuckDBWarehouse) -> tuple[int, int]:
        hook = _hook(server)
        load_window(
            hook=hook, warehouse=warehouse, window=windows[-1], spec=LoadSpec(source="api", run_id="bench")
        )
        server.reset_stats()
        summary = load_window(
            hook=hook, warehouse=warehouse, window=windows[-2], spec=LoadSpec(source="api", run_id="bench")
        )
        return summary.rows, 1

    def per_window(
        order: list[Window], anchors: bool
    ) -> Callable[[SimulatorServer, DuckDBWarehouse], tuple[int, int]]:
        def run(server: SimulatorServer, warehouse: DuckDBWarehouse) -> tuple[int, int]:
            hook = _hook(server)
            rows = 0
            for window in order:
                rows += load_window(
                    hook=hook,
                    warehouse=warehouse,
                    window=window,
                    spec=LoadSpec(source="api", run_id="bench", use_anchors=anchors),
                ).rows
            return rows, len(order)

        return run

    def ranged(server: SimulatorServer, warehouse: DuckDBWarehouse) -> tuple[int, int]:
        summary = load_range(
            hook=_hook(server), warehouse=warehouse, window=full, spec=LoadSpec(source="api", run_id="bench")
        )
        return summary.rows, 1

    scenarios: dict[
        str,
        tuple[
            Callable[[SimulatorServer, DuckDBWarehouse], tuple[int, int]], Callable[[int, int], float] | None
        ],
    ] = {
        "single window, anchor at its end": (single, lambda n, w: math.ceil(n / PAGE) + 2),
        f"{days}-day backfill, newest first": (
            per_window(windows[::-1], True),
            lambda n, w: 1.1 * n / PAGE + 3 * w,
        ),
        f"{days}-day backfill, oldest first": (
            per_window(windows, True),
            lambda n, w: 2.2 * n / PAGE + 3 * w,
        ),
        f"{days}-day backfill, oldest first, no anchors": (per_window(windows, False), None),
        f"{days}-day range mode (daily-logs backfill)": (ranged, lambda n, w: 1.1 * n / PAGE + 3),
    }
    results: dict[str, Any] = {}
    for name, (scenario, bound) in scenarios.items():
        with SimulatorServer(config) as server, tempfile.TemporaryDirectory(prefix="bench-anchors-") as tmp:
            warehouse = DuckDBWarehouse(Path(tmp) / "bench.duckdb")
            warehouse.connect()
            try:
                records, window_count = scenario(server, warehouse)
            finally:
                warehouse.close()
            requests = server.stats()["requests"]
        limit = bound(records, window_count) if bound is not None else None
        results[name] = {
            "records": records,
            "windows": window_count,
            "requests": requests,
            "bound": round(limit, 1) if limit is not None else None,
            "within_bound": requests <= limit if limit is not None else None,
            "requests_per_page_of_records": round(requests / (records / PAGE), 3) if records else None,
        }
    return {
        "settings": {"per_day": per_day, "days": days, "page": PAGE, "convention": convention},
        "scenarios": results,
    }


def as_markdown(counts: dict[str, Any]) -> str:
    """A Markdown table of :func:`request_counts`' result."""
    settings = counts["settings"]
    lines = [
        f"Simulator with {settings['per_day']:,} api records a day over {settings['days']} days, "
        f"{settings['convention']} cursor convention, {settings['page']} records a page; requests "
        "counted by the simulator.",
        "",
        "| scenario | records N | windows W | requests | bound | requests / (N/page) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, row in counts["scenarios"].items():
        bound = "-" if row["bound"] is None else f"{row['bound']:,.0f}"
        ratio = (
            "-"
            if row["requests_per_page_of_records"] is None
            else f"{row['requests_per_page_of_records']:.2f}"
        )
        lines.append(
            f"| {name} | {row['records']:,} | {row['windows']} | {row['requests']:,} | {bound} | {ratio} |"
        )
    return "\n".join(lines)


def _hook(server: SimulatorServer) -> DailyClient:
    return DailyClient(api_key=KEY, base_url=server.base_url, requests_per_second=100_000.0, page_limit=PAGE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--per-day", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--convention", choices=("stripe", "literal"), default="literal")
    parser.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    args = parser.parse_args()
    counts = request_counts(args.per_day, args.days, args.convention)
    print(orjson.dumps(counts, option=orjson.OPT_INDENT_2).decode() if args.json else as_markdown(counts))


if __name__ == "__main__":
    main()
