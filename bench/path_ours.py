"""Path "ours": NDJSON -> StagingWriter -> DuckDBWarehouse.replace_window, the operator's data path minus HTTP.

The records are read the way the hook hands them over (one parsed dict per record, bodies still
JSON-encoded strings), normalized and staged to one Parquet file in bounded chunks, and loaded into a
fresh DuckDB file with the operator's DuckDB settings (memory_limit 1GB, 2 threads). Prints one JSON line with the
seconds of each step; ``--profile FILE`` also writes cProfile's top functions by cumulative time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import resource
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

from daily_provider.scope import LoadScope
from daily_provider.staging import StagingWriter
from daily_provider.warehouses.duckdb import DuckDBWarehouse
from daily_provider.window import Window

TABLE = "daily_api_logs"


def read_records(path: str) -> Iterator[dict[str, Any]]:
    with open(path, "rb", buffering=1 << 20) as handle:
        for line in handle:
            yield orjson.loads(line)


def load(
    dataset: str, window: Window, workdir: Path, *, chunk_rows: int, memory_limit: str, threads: int
) -> dict[str, Any]:
    """Stage and load ``dataset`` into a new DuckDB file under ``workdir``; return the step timings."""
    started = time.perf_counter()
    loaded_at = datetime.now(timezone.utc)
    with StagingWriter(
        workdir / "staging", run_id="bench", loaded_at=loaded_at, window=window, chunk_rows=chunk_rows
    ) as writer:
        writer.add_many(read_records(dataset))
        staged = writer.finish()
        staged_at = time.perf_counter()
        # Which step sets the peak: staging (Python, Arrow) or the load (DuckDB's buffers)?
        stage_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        with DuckDBWarehouse(
            workdir / "bench.duckdb", memory_limit=memory_limit, threads=threads
        ) as warehouse:
            rows = warehouse.replace_window(
                scope=LoadScope(TABLE, "api", "bench").covering(window), staged=staged
            )
        finished = time.perf_counter()
        staged_bytes = staged.path.stat().st_size
    return {
        "records": rows,
        "seconds": finished - started,
        "stage_seconds": staged_at - started,
        "load_seconds": finished - staged_at,
        "columns": len(staged.columns),
        "staged_mb": round(staged_bytes / 1e6, 1),
        "parse_errors": writer.stats.parse_errors,
        "stage_peak_mb": round(stage_peak / 1e6, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("dataset", help="NDJSON file from bench/dataset.py")
    parser.add_argument("--start", required=True, help="window start (ISO-8601)")
    parser.add_argument("--end", required=True, help="window end (ISO-8601, exclusive)")
    parser.add_argument("--chunk-rows", type=int, default=10_000)
    parser.add_argument(
        "--memory-limit",
        default="1GB",
        help="DuckDB memory_limit; default 1GB, the operator's (daily-logs load uses 128MB, see the e2e rows)",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--profile", type=Path, help="write cProfile's top functions (cumulative) here")
    parser.add_argument(
        "--workdir", type=Path, help="directory for the staging and DuckDB files (default: a temp dir)"
    )
    args = parser.parse_args(argv)
    window = Window.parse(args.start, args.end)
    with tempfile.TemporaryDirectory(prefix="bench-ours-", dir=args.workdir) as tmp:
        options = {"chunk_rows": args.chunk_rows, "memory_limit": args.memory_limit, "threads": args.threads}
        if args.profile is None:
            result = load(args.dataset, window, Path(tmp), **options)
        else:
            profiler = cProfile.Profile()
            result = profiler.runcall(load, args.dataset, window, Path(tmp), **options)
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(45)
            args.profile.write_text(text.getvalue(), encoding="utf-8")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
