"""Results of a benchmark run as data, the machine they ran on, and BENCHMARKS.md rendered from both.

A :class:`Row` is one measured path at one size (median of its runs). Rows persist in
``bench/results/results.json`` keyed by path name, so ``run.py --only NAME`` refreshes one row and the
page is rendered from the rows of the last run of every path at the same dataset size.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import statistics
import subprocess
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from measure import Measurement

MB = 1e6


@dataclass
class Row:
    """One path at one size: the median of its runs, and the largest peak among them."""

    name: str
    label: str
    records: int
    runs: list[dict[str, float]]
    command: str
    date: str
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        name: str,
        label: str,
        records: int,
        runs: Sequence[Measurement],
        *,
        command: str,
        date: str,
        extra: dict[str, Any] | None = None,
    ) -> Row:
        kept = [
            {
                "seconds": run.seconds,
                "process_seconds": run.wall_seconds,
                "peak_rss": float(run.peak_rss_bytes),
                "maxrss": float(run.maxrss_bytes),
                "tree_peak": float(run.tree_peak_bytes),
                "load_before": run.load_before,
            }
            for run in runs
        ]
        return cls(name, label, records, kept, command, date, dict(extra or {}))

    @property
    def seconds(self) -> float:
        return statistics.median(run["seconds"] for run in self.runs)

    @property
    def process_seconds(self) -> float:
        return statistics.median(run["process_seconds"] for run in self.runs)

    @property
    def peak_rss(self) -> float:
        return max(run["peak_rss"] for run in self.runs)

    @property
    def load_before(self) -> float:
        """The highest 1-minute load average seen as a run started."""
        return max(run.get("load_before", 0.0) for run in self.runs)

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0


def load_rows(path: Path) -> dict[str, Row]:
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {name: Row(**row) for name, row in data.get("rows", {}).items()}


def save_rows(path: Path, rows: dict[str, Row], machine: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"machine": machine, "rows": {name: asdict(row) for name, row in rows.items()}}
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def code_fingerprint(root: Path) -> str:
    """The commit and a hash of the package and SQL as they are on disk (helpers edit uncommitted files)."""
    digest = hashlib.sha256()
    for path in sorted([*root.glob("plugin/daily_provider/**/*.py"), *root.glob("sql/**/*.sql")]):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        head = "unknown"
    return f"commit {head}, package+sql sha256 {digest.hexdigest()[:12]}"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_total() -> str:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def machine(dlt_versions: dict[str, str] | None) -> dict[str, str]:
    """What the figures depend on: cores, memory, CPU, OS, and the versions of what does the work."""
    info = {
        "nproc": str(os.cpu_count()),
        "memory": _memory_total(),
        "cpu": _cpu_model(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }
    for package in ("duckdb", "pyarrow", "orjson", "airflow-provider-daily"):
        try:
            info[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            info[package] = "not installed"
    if dlt_versions:
        info["dlt"] = dlt_versions.get("dlt", "?")
        info["dlt env"] = ", ".join(f"{k} {v}" for k, v in dlt_versions.items() if k != "dlt")
    return info


def _mb(value: float) -> str:
    return f"{value / MB:,.0f} MB"


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def table(rows: Iterable[Row], *, floor: Row | None, dlt: Row | None) -> str:
    """The results table. Ratios compare records/s, so rows of other sizes compare fairly too."""
    lines = [
        "| path | records | records/s | wall s (median) | process s (median) | runs | peak RSS | x dlt's rec/s | x parse floor's time | load avg |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        vs_dlt = row.rate / dlt.rate if dlt and dlt.rate else None
        vs_floor = floor.rate / row.rate if floor and row.rate else None
        lines.append(
            f"| {row.label} | {row.records:,} | {row.rate:,.0f} | {row.seconds:,.2f} | {row.process_seconds:,.2f} | "
            f"{len(row.runs)} | {_mb(row.peak_rss)} | {_ratio(vs_dlt)} | {_ratio(vs_floor)} | {row.load_before:.1f} |"
        )
    return "\n".join(lines)


Check = Callable[[dict[str, Row]], str | None]


def render(
    *,
    rows: dict[str, Row],
    order: Sequence[str],
    machine_info: dict[str, str],
    dataset: str,
    notes: Sequence[str],
    sections: Sequence[tuple[str, str]],
    date: str,
) -> str:
    """BENCHMARKS.md: machine, commands, the table, targets, notes and extra sections."""
    present = [rows[name] for name in order if name in rows]
    commands = sorted({row.command for row in present})
    out = [
        "# Benchmarks",
        "",
        f"Written by `bench/run.py` on {date}; do not edit by hand (re-run `make bench`). Figures are from one run",
        "on one machine: read them as ratios between the paths, not as absolute speeds.",
        "",
        "## Machine",
        "",
        *(f"- {key}: {value}" for key, value in machine_info.items()),
        "",
        "## Command",
        "",
        "```",
        *commands,
        "```",
        "",
        *(
            [
                f"Rows come from more than one command; each row's date: {', '.join(f'{r.name} {r.date}' for r in present)}.",
                "",
            ]
            if len(commands) > 1
            else []
        ),
        f"Dataset: {dataset}.",
        "",
        "## Results",
        "",
        table(present, floor=rows.get("parse"), dlt=rows.get("dlt")),
        "",
        *notes,
    ]
    for title, body in sections:
        out += ["", f"## {title}", "", body]
    return "\n".join(out).rstrip() + "\n"
