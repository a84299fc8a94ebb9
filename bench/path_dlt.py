"""Path "dlt": the same NDJSON through a dlt pipeline into DuckDB, as a dlt user would write it.

Runs in ``bench/.venv-dlt`` (dlt is not a project dependency), so it imports nothing from the project.
The resource parses each line and, as a user would, ``request``/``response`` bodies too (a body that is
not JSON stays a string), and yields pages of 1,000 records, as dlt's performance guide advises. dlt then
normalizes with its defaults (nested objects flattened into ``parent__child`` columns, lists into child
tables) and loads a fresh DuckDB file. Its settings come from the environment (``DLT_SETTINGS`` below are
the defaults used when a variable is not set); prints one JSON line with the seconds and dlt's version.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# dlt's documented performance and parallelism settings (dlthub.com/docs/reference/performance): a
# process pool for normalize, intermediary files not gzipped, and never telemetry (this machine has no
# network beyond the package index). Rotating extract files (DATA_WRITER__FILE_MAX_ITEMS) so the pool
# has files to share made dlt slower in a trial here (see the notes in BENCHMARKS.md), so dlt keeps its
# default; set the variable to try it again.
DLT_SETTINGS = {
    "NORMALIZE__WORKERS": str(os.cpu_count() or 2),
    "DATA_WRITER__DISABLE_COMPRESSION": "true",
    "RUNTIME__DLTHUB_TELEMETRY": "false",
    "RUNTIME__LOG_LEVEL": "WARNING",
}
PAGE = 1_000
TABLE = "daily_api_logs"


def _is_dlt_setting(name: str) -> bool:
    return name in DLT_SETTINGS or name.startswith(("NORMALIZE__", "LOAD__", "EXTRACT__", "DATA_WRITER__"))


def records(path: str) -> Iterator[list[dict[str, Any]]]:
    import orjson

    loads, error = orjson.loads, orjson.JSONDecodeError
    page: list[dict[str, Any]] = []
    with open(path, "rb", buffering=1 << 20) as handle:
        for line in handle:
            record = loads(line)
            for key in ("request", "response"):
                body = record[key]
                if body is not None:
                    # A body that is not JSON keeps its text, as a user would do. try/except, not
                    # contextlib.suppress: the context manager costs time on every record of dlt's path.
                    try:  # noqa: SIM105
                        record[key] = loads(body)
                    except error:
                        pass
            page.append(record)
            if len(page) == PAGE:
                yield page
                page = []
    if page:
        yield page


def run(dataset: str, workdir: Path, file_format: str) -> dict[str, Any]:
    import dlt

    pipeline = dlt.pipeline(
        pipeline_name="bench_daily_logs",
        pipelines_dir=str(workdir / "pipelines"),
        destination=dlt.destinations.duckdb(str(workdir / "dlt.duckdb")),
        dataset_name="bench",
    )
    resource = dlt.resource(records(dataset), name=TABLE, write_disposition="append")
    started = time.perf_counter()
    pipeline.run(resource, loader_file_format=file_format)  # type: ignore[arg-type]
    seconds = time.perf_counter() - started
    with pipeline.sql_client() as client:
        rows = client.execute_sql(f"SELECT count(*) FROM {TABLE}")[0][0]
        tables = client.execute_sql(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'bench' AND table_name LIKE ?",
            f"{TABLE}%",
        )[0][0]
        columns = client.execute_sql(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'bench' AND table_name = ?",
            TABLE,
        )[0][0]
    return {
        "records": rows,
        "seconds": seconds,
        "tables": tables,
        "columns": columns,
        "dlt_version": dlt.__version__,
        "file_format": file_format,
        "settings": {name: value for name, value in sorted(os.environ.items()) if _is_dlt_setting(name)},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("dataset", help="NDJSON file from bench/dataset.py")
    parser.add_argument(
        "--file-format",
        default="parquet",
        help="dlt loader_file_format (parquet: dlt's fast path into DuckDB)",
    )
    parser.add_argument(
        "--workdir", type=Path, help="directory for dlt's files and DuckDB (default: a temp dir)"
    )
    args = parser.parse_args(argv)
    for name, value in DLT_SETTINGS.items():
        os.environ.setdefault(name, value)
    with tempfile.TemporaryDirectory(prefix="bench-dlt-", dir=args.workdir) as tmp:
        result = run(args.dataset, Path(tmp), args.file_format)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
