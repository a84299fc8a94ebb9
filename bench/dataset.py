"""The benchmark dataset: N simulated ``source=api`` records as NDJSON, seeded and cached.

The records come from the simulator's own generator, exactly as the API serves them (bodies are
JSON-encoded strings), spread evenly over ``days`` days from 2026-01-01 so that one window
``[start, start + days)`` holds all of them and the bodies change shape day by day as they do in
the simulator. The simulator started with the same seed, days and per-day count serves the very
same records, which is what the end-to-end path relies on. Files are cached by (seed, N, days)
under ``bench/data/`` next to a small JSON description.

Run alone: ``python bench/dataset.py --records 100000``.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson

from daily_provider.simulator import SimulatorConfig, generate_records

DATA_DIR = Path(__file__).resolve().parent / "data"
START = "2026-01-01T00:00:00Z"
DEFAULT_SEED = 1
DEFAULT_RECORDS = 1_000_000
SOURCE = "api"


@dataclass(frozen=True)
class Dataset:
    """A generated NDJSON file and the window that holds all of its records."""

    path: Path
    records: int
    seed: int
    days: int
    per_day: int
    window_start: str
    window_end: str
    bytes: int

    def describe(self) -> str:
        return (
            f"{self.records:,} source={SOURCE} records, seed {self.seed}, {self.days} day(s) x {self.per_day:,}/day, "
            f"window [{self.window_start}, {self.window_end}), {self.bytes / 1e6:,.0f} MB NDJSON"
        )


def default_days(records: int) -> int:
    """Ten days when N splits evenly (bodies then change shape over the window), else one."""
    return 10 if records >= 10 and records % 10 == 0 else 1


def plan(
    records: int, seed: int = DEFAULT_SEED, days: int | None = None, *, directory: Path = DATA_DIR
) -> Dataset:
    """The dataset for (seed, records, days) without generating it."""
    if records < 1:
        raise ValueError(f"records={records!r} must be at least 1")
    days = days or default_days(records)
    per_day = -(-records // days)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    end = start + timedelta(days=days)
    path = directory / f"api-seed{seed}-n{records}-d{days}.ndjson"
    size = path.stat().st_size if path.exists() else 0
    return Dataset(
        path=path,
        records=records,
        seed=seed,
        days=days,
        per_day=per_day,
        window_start=START,
        window_end=end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        bytes=size,
    )


def simulator_config(dataset: Dataset) -> SimulatorConfig:
    """The simulator settings that serve exactly this dataset's records (and no webhook rows)."""
    return SimulatorConfig(
        seed=dataset.seed, start=START, days=dataset.days, api_per_day=dataset.per_day, webhook_per_day=0
    )


def ensure(
    records: int, seed: int = DEFAULT_SEED, days: int | None = None, *, directory: Path = DATA_DIR
) -> Dataset:
    """Return the cached dataset, generating it first if it is missing or incomplete."""
    dataset = plan(records, seed, days, directory=directory)
    meta_path = dataset.path.with_suffix(".json")
    if dataset.path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("records") == records and meta.get("bytes") == dataset.bytes:
            return dataset
    directory.mkdir(parents=True, exist_ok=True)
    # Written under a temporary name: an interrupted run must not leave a short file in the cache.
    partial = dataset.path.with_suffix(".partial")
    written = 0
    with partial.open("wb", buffering=1 << 20) as out:
        for record in generate_records(simulator_config(dataset), SOURCE):
            if written == records:
                break
            out.write(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))
            written += 1
    os.replace(partial, dataset.path)
    dataset = plan(records, seed, days, directory=directory)
    meta = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(dataset).items()}
    meta_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return dataset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=DEFAULT_RECORDS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--days", type=int, help="days the records spread over (default: 10 if N splits evenly)"
    )
    args = parser.parse_args(argv)
    dataset = ensure(args.records, args.seed, args.days)
    print(f"{dataset.path}: {dataset.describe()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
