"""Run the benchmarks (``make bench``) and rewrite BENCHMARKS.md.

Every path runs in its own process, ``--repeat`` times, on one seeded dataset: the orjson parse
floor, our staging + DuckDB path, dlt in its own venv, and ``daily-logs load`` end to end against the
simulator at a tenth of the size and at full size. Sections that are not timed paths (the request
counts) are jobs too: a function that returns a Markdown body, registered in ``SECTION_JOBS``.

    .venv/bin/python bench/run.py [--records N] [--repeat R] [--only NAME[,NAME...]]
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import dataset as datasets
import dlt_env
import endtoend
import report
from measure import Measurement, run_measured

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
RESULTS_FILE = RESULTS / "results.json"
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"
PYTHON = sys.executable
MEMORY_CEILING_MB = 400
MEMORY_GROWTH = 0.15
DLT_FACTOR = 2.0
REQUEST_FLOOR_SLACK = 0.10
# Records of the rate-limited row: 200 pages, 20 s of requests at Daily's documented limits.
LIMITED_RECORDS = 20_000


@dataclass
class Context:
    records: int
    repeat: int
    dataset: datasets.Dataset
    command: str
    date: str
    logs: Path

    def repeated(self, name: str, command: list[str], env: dict[str, str] | None = None) -> list[Measurement]:
        runs = []
        for attempt in range(self.repeat):
            run = run_measured(command, env=env, cwd=ROOT, log_path=self.logs / f"{name}-{attempt}.log")
            print(
                f"  {name} run {attempt + 1}/{self.repeat}: {run.seconds:.2f}s, "
                f"peak {run.peak_rss_bytes / 1e6:,.0f} MB",
                flush=True,
            )
            runs.append(run)
        return runs

    def row(
        self, name: str, label: str, records: int, runs: list[Measurement], **extra: object
    ) -> report.Row:
        return report.Row.of(
            name, label, records, runs, command=self.command, date=self.date, extra=dict(extra)
        )


def _check_records(name: str, runs: list[Measurement], expected: int) -> None:
    for run in runs:
        got = run.result.get("records")
        if got != expected:
            raise RuntimeError(f"path {name} handled {got} records, expected {expected}; see {RESULTS}/logs")


# -- timed paths: each returns its rows ------------------------------------------------------------


def parse_floor(ctx: Context) -> list[report.Row]:
    runs = ctx.repeated("parse", [PYTHON, str(BENCH / "path_parse.py"), str(ctx.dataset.path)])
    _check_records("parse", runs, ctx.records)
    return [ctx.row("parse", "parse floor: orjson, NDJSON + bodies", ctx.records, runs)]


def _ours_command(ctx: Context) -> list[str]:
    path = ctx.dataset
    return [
        PYTHON,
        str(BENCH / "path_ours.py"),
        str(path.path),
        "--start",
        path.window_start,
        "--end",
        path.window_end,
    ]


def ours(ctx: Context) -> list[report.Row]:
    runs = ctx.repeated("ours", _ours_command(ctx))
    _check_records("ours", runs, ctx.records)
    steps = {
        key: runs[-1].result.get(key) for key in ("stage_seconds", "load_seconds", "columns", "stage_peak_mb")
    }
    return [ctx.row("ours", "ours: StagingWriter + DuckDBWarehouse", ctx.records, runs, **steps)]


def dlt(ctx: Context) -> list[report.Row]:
    python = dlt_env.ensure()
    runs = ctx.repeated("dlt", [str(python), str(BENCH / "path_dlt.py"), str(ctx.dataset.path)])
    _check_records("dlt", runs, ctx.records)
    last = runs[-1].result
    return [
        ctx.row(
            "dlt",
            f"dlt {last.get('dlt_version')}: {last.get('file_format')}, {last['settings']['NORMALIZE__WORKERS']} normalize workers",
            ctx.records,
            runs,
            **{key: last.get(key) for key in ("dlt_version", "file_format", "settings", "tables", "columns")},
        )
    ]


def end_to_end(ctx: Context) -> list[report.Row]:
    rows = []
    for name, records in (("e2e-small", max(1, ctx.records // 10)), ("e2e-full", ctx.records)):
        planned = datasets.plan(records)
        runs = endtoend.measure_load(planned, ctx.repeat, logs=ctx.logs)
        for attempt, run in enumerate(runs):
            print(
                f"  {name} run {attempt + 1}/{ctx.repeat}: {run.seconds:.2f}s, peak {run.peak_rss_bytes / 1e6:,.0f} MB"
            )
        rows.append(ctx.row(name, "daily-logs load vs simulator", planned.days * planned.per_day, runs))
    return rows


def end_to_end_limited(ctx: Context) -> list[report.Row]:
    """``daily-logs load`` against the simulator at Daily's documented rate and a latency per request."""
    limits = endtoend.ApiLimits()
    planned = datasets.plan(_expected_records("e2e-limited", ctx.records))
    runs = endtoend.measure_load(planned, ctx.repeat, logs=ctx.logs, limits=limits)
    for attempt, run in enumerate(runs):
        print(
            f"  e2e-limited run {attempt + 1}/{ctx.repeat}: {run.seconds:.2f}s, requests {run.result['requests']}"
        )
    requests = int(runs[-1].result["requests"])
    walks = sorted(float(run.result["walk_seconds"]) for run in runs if run.result.get("walk_seconds"))
    label = (
        f"daily-logs load vs simulator at {limits.requests_per_second:g} requests/s, "
        f"{limits.latency_ms:g} ms a request"
    )
    return [
        ctx.row(
            "e2e-limited",
            label,
            planned.days * planned.per_day,
            runs,
            requests=requests,
            floor_seconds=limits.floor_seconds(requests),
            request_floor_ms=limits.request_floor_seconds() * 1000,
            walk_seconds=walks[len(walks) // 2] if walks else None,
        )
    ]


PATH_JOBS: dict[str, Callable[[Context], list[report.Row]]] = {
    "parse": parse_floor,
    "ours": ours,
    "dlt": dlt,
    "e2e": end_to_end,
    "e2e-limited": end_to_end_limited,
}
ROW_ORDER = ("parse", "ours", "dlt", "e2e-small", "e2e-full", "e2e-limited")


# -- sections: each returns a Markdown body --------------------------------------------------------


def request_counts(ctx: Context) -> str:
    """Requests for a single window and for 30-day backfills, from the simulator's own counter."""
    command = [PYTHON, str(BENCH / "anchor_requests.py")]
    shown = " ".join([".venv/bin/python", "bench/anchor_requests.py"])
    bodies = []
    for convention in ("literal", "stripe"):
        done = subprocess.run(
            [*command, "--convention", convention], cwd=ROOT, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"anchor_requests.py --convention {convention} failed: {done.stderr[-2000:]}")
        bodies.append(done.stdout.strip())
    return (
        f"Measured with `{shown} --convention literal` and `--convention stripe` (both of Daily's possible "
        "cursor conventions; see DAILY_API.md). The bounds are issue 4's: a single window "
        "ceil(N/page) + 2, a 30-day backfill newest first 1.1 N/page + 3 W, oldest first "
        "2.2 N/page + 3 W, range mode 1.1 N/page + 3. The same bounds are asserted in "
        "`tests/integration/test_request_bounds.py`.\n\n" + "\n\n".join(bodies)
    )


def profile(ctx: Context) -> str:
    """cProfile of our path: the top functions by cumulative time (profiling roughly doubles the time)."""
    out = RESULTS / f"profile-ours-{ctx.records}.txt"
    command = [*_ours_command(ctx), "--profile", str(out)]
    run_measured(command, cwd=ROOT, log_path=ctx.logs / "profile.log")
    lines = out.read_text(encoding="utf-8").splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip().startswith("ncalls")), 0)
    top = [line.replace(str(ROOT) + "/", "") for line in lines[start : start + 31]]
    return (
        "Top functions by cumulative time, ours at this size (cProfile):\n\n```\n" + "\n".join(top) + "\n```"
    )


# Issue 17's wide-data rows: one window of the simulator's realistic bodies (presence answers keyed by
# room name, a new pool of rooms every day), loaded as declared, by the rule alone, and forced flat.
WIDE_RECORDS = 200_000
WIDE_CASES = (
    ("Daily's map paths declared (the default)", ()),
    ("no map path declared: the key-count rule alone", ("--no-default-map-paths",)),
    (
        "presence forced flat (never a map): the table reaches max_columns",
        ("--not-map-path", "GET /v1/presence response"),
    ),
)


def wide_columns(ctx: Context) -> str:
    """Peak memory and column count of ``daily-logs load`` on wide, realistic bodies."""
    planned = datasets.plan(WIDE_RECORDS)
    datasets.ensure(WIDE_RECORDS)
    lines = [
        f"`daily-logs load` of one window of {planned.days * planned.per_day:,} simulator records "
        f"({planned.days} days x {planned.per_day:,}; the simulator's presence answers name "
        "a new pool of rooms each day), each case in a fresh DuckDB file, `--max-columns` at its default "
        "(1000). Flattened columns are the table's `request__`/`response__` columns.",
        "",
        "| case | extra arguments | flattened columns | peak RSS | wall s | load avg |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for index, (label, extra) in enumerate(WIDE_CASES):
        runs = endtoend.measure_load(planned, 1, logs=ctx.logs, extra_args=extra, name=f"wide-{index}")
        run = runs[-1]
        print(f"  wide {index}: {run.seconds:.2f}s, peak {run.peak_rss_bytes / 1e6:,.0f} MB", flush=True)
        shown = shlex.join(extra) if extra else "-"
        lines.append(
            f"| {label} | `{shown}` | {run.result['flattened_columns']:,} | "
            f"{run.peak_rss_bytes / 1e6:,.0f} MB | {run.result['seconds']:.1f} | {run.load_before:.1f} |"
        )
    return "\n".join(lines)


SECTION_JOBS: dict[str, tuple[str, Callable[[Context], str]]] = {
    "requests": ("Request counts (anchors)", request_counts),
    "wide": ("Wide bodies (issue 17)", wide_columns),
    "profile": ("Profile of ours", profile),
}
DEFAULT_JOBS = ("parse", "ours", "dlt", "e2e", "e2e-limited", "requests", "wide", "profile")


# -- targets and notes -----------------------------------------------------------------------------


def targets(rows: dict[str, report.Row], records: int) -> str:
    lines = []
    scale = (
        ""
        if records == 1_000_000
        else f" (measured at {records:,} records; the target is stated for 1,000,000)"
    )
    mine, theirs = rows.get("ours"), rows.get("dlt")
    if mine and theirs:
        ratio = mine.rate / theirs.rate
        verdict = "met" if ratio >= DLT_FACTOR else "not met"
        lines.append(
            f"- Throughput vs dlt: ours reaches {ratio:.2f}x dlt's records/s; target at least {DLT_FACTOR:g}x: {verdict}{scale}."
        )
    small, full = rows.get("e2e-small"), rows.get("e2e-full")
    if full:
        peak = full.peak_rss / 1e6
        verdict = "met" if peak < MEMORY_CEILING_MB else "not met"
        lines.append(
            f"- Memory ceiling: `daily-logs load` peaks at {peak:,.0f} MB for {full.records:,} records; "
            f"target under {MEMORY_CEILING_MB} MB: {verdict}{scale}."
        )
    if small and full:
        growth = full.peak_rss / small.peak_rss - 1
        verdict = "met" if growth <= MEMORY_GROWTH else "not met"
        lines.append(
            f"- Bounded memory: the {full.records:,}-record peak is {growth:+.1%} of the {small.records:,}-record "
            f"peak; target within {MEMORY_GROWTH:.0%}: {verdict}."
        )
    limited = rows.get("e2e-limited")
    if limited:
        floor_seconds = float(limited.extra["floor_seconds"])
        over = limited.seconds / floor_seconds - 1
        verdict = "met" if over <= REQUEST_FLOOR_SLACK else "not met"
        lines.append(
            f"- Never holds the API back: at Daily's limits `daily-logs load` took {limited.seconds:.1f} s for "
            f"{limited.extra['requests']} requests, {over:+.1%} of the request floor ({floor_seconds:.1f} s: "
            f"requests x the larger of latency and 1/rate); target within {REQUEST_FLOOR_SLACK:.0%}: {verdict}."
        )
        lines += _walk_overhead(limited)
    return "\n".join(lines) or "No rows to compare yet."


def _walk_overhead(limited: report.Row) -> list[str]:
    """Per request, what the page walk took beyond the request floor (less sensitive to a busy machine)."""
    walk, floor_ms = limited.extra.get("walk_seconds"), limited.extra.get("request_floor_ms")
    if not walk or not floor_ms:
        return []
    requests = int(limited.extra["requests"])
    per_request = float(walk) / requests * 1000
    return [
        f"  The page walk alone took {float(walk):.1f} s: {per_request:.1f} ms a request against a floor of "
        f"{float(floor_ms):.0f} ms, {per_request - float(floor_ms):+.1f} ms a request; the rest of the wall "
        f"time is the load's start and its staging and replace after the last page."
    ]


def notes(rows: dict[str, report.Row]) -> list[str]:
    out = [
        "How to read it: *wall s* is the median over the runs of the path's own timing of its work (reading",
        "the NDJSON to the committed DuckDB load; for `daily-logs load`, the seconds its summary line reports).",
        "*process s* is the whole process including interpreter start and imports (`daily-logs load` does",
        "not import Airflow). records/s = records / wall s. *peak RSS* is for the whole process:",
        "the largest over the runs of the larger of `ru_maxrss` (from `wait4`) and the sampled sum over the",
        "process tree (so dlt's normalize worker processes count together; `daily-logs load` stages in its",
        "own process). *x dlt's rec/s* divides the row's",
        "records/s by dlt's; *x parse floor's time* divides the floor's records/s by the row's (the row's time",
        "for the same records, in multiples of the floor's). The `daily-logs load` rows include HTTP against",
        "the simulator, which runs in its own process on the same two cores. *load avg* is the highest",
        "1-minute load average as a run started. The runs follow each other and each keeps both cores busy,",
        "so the bench's own previous run holds that average near 2 for a minute after it ends; the",
        "`daily-logs load` rows run two busy processes (simulator, CLI). A value well above that means",
        "other work shared the machine.",
    ]
    # The load average a row's own runs explain (see above); more means other work shared the machine.
    busy = [
        row.load_before
        for name, row in rows.items()
        if row.load_before > (3.5 if name.startswith("e2e") else 2.5)
    ]
    if busy:
        busiest = max(busy)
        out += [
            "",
            f"**Caution:** these runs shared the machine with other work (1-minute load average up to {busiest:.1f}",
            "on 2 cores). Absolute figures are slower than on an idle machine and the ratios are distorted too;",
            "re-run `make bench` on an otherwise idle machine before relying on them.",
        ]
    codes = sorted({str(row.extra.get("code")) for row in rows.values() if row.extra.get("code")})
    if len(codes) == 1:
        out += ["", f"Code measured: {codes[0]}."]
    elif codes:
        out += [
            "",
            "Code measured (rows were run at different times): "
            + "; ".join(f"{name}: {row.extra.get('code', 'not recorded')}" for name, row in rows.items())
            + ".",
        ]
    if "ours" in rows:
        extra = rows["ours"].extra
        out += [
            "",
            f"Ours, last run: staging {extra.get('stage_seconds', 0):.1f}s (peak {extra.get('stage_peak_mb')} MB "
            f"by then), DuckDB replace_window {extra.get('load_seconds', 0):.1f}s; {extra.get('columns')} columns.",
        ]
    if "dlt" in rows:
        extra = rows["dlt"].extra
        settings = ", ".join(f"`{k}={v}`" for k, v in (extra.get("settings") or {}).items())
        out += [
            "",
            f"dlt {extra.get('dlt_version')} setup: resource yields pages of 1,000 records with `request`/`response`",
            "parsed by orjson in the resource (a body that is not JSON stays text); dlt's default normalizer",
            f"(nested objects flattened, lists as child tables: {extra.get('tables')} tables, {extra.get('columns')} columns",
            f"in the main one); `loader_file_format={extra.get('file_format')}`; write disposition append into a fresh",
            "database. dlt's other DuckDB formats (`insert_values`, its default, and `jsonl`) are not measured here.",
            "Rotating extract files (`DATA_WRITER__FILE_MAX_ITEMS=100000`) so the normalize pool has files to share",
            "made dlt slower in a one-off trial at 1,000,000 records (265 s against 164 s), so it is left at its default;",
            f"settings {settings}.",
        ]
    return out


# -- main -------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=datasets.DEFAULT_RECORDS)
    parser.add_argument("--repeat", type=int, default=3, help="runs per path; the table shows the median")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        help=f"run only these jobs (repeat or comma-separate): {', '.join([*PATH_JOBS, *SECTION_JOBS])}",
    )
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="run nothing; rewrite BENCHMARKS.md from the stored results",
    )
    args = parser.parse_args(argv)
    names = [name for value in args.only for name in value.split(",") if name] or list(DEFAULT_JOBS)
    if args.render_only:
        names = []
    unknown = sorted(set(names) - set(PATH_JOBS) - set(SECTION_JOBS))
    if unknown:
        parser.error(f"unknown job(s) {unknown}; choose from {', '.join([*PATH_JOBS, *SECTION_JOBS])}")
    if args.records < 10 or args.repeat < 1:
        parser.error("--records must be at least 10 and --repeat at least 1")

    python = Path(PYTHON)
    shown = python.relative_to(ROOT) if python.is_relative_to(ROOT) else python
    command = shlex.join([str(shown), "bench/run.py", *(argv if argv is not None else sys.argv[1:])])
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"dataset: {args.records:,} records ...", flush=True)
    dataset = datasets.plan(args.records) if args.render_only else datasets.ensure(args.records)
    print(f"  {dataset.describe()}", flush=True)
    RESULTS.mkdir(exist_ok=True)
    logs = RESULTS if args.render_only else Path(tempfile.mkdtemp(prefix="logs-", dir=RESULTS))
    ctx = Context(args.records, args.repeat, dataset, command, date, logs)

    # Keep earlier rows of this size, so that --only refreshes one path and the page still shows all.
    stored = report.load_rows(RESULTS_FILE)
    rows = {name: row for name, row in stored.items() if row.records == _expected_records(name, args.records)}
    sections = _load_sections(args.records)
    failures = []
    for name in names:
        print(f"{name} ...", flush=True)
        try:
            if name in PATH_JOBS:
                for row in PATH_JOBS[name](ctx):
                    rows[row.name] = row
            else:
                title, job = SECTION_JOBS[name]
                sections[name] = (title, job(ctx))
        except Exception as exc:  # one failing path must not lose the others' figures
            traceback.print_exc()
            failures.append(f"{name}: {exc}")

    dlt_versions = dlt_env.versions() if dlt_env.python().exists() else None
    machine = report.machine(dlt_versions)
    if not args.render_only:
        report.save_rows(RESULTS_FILE, rows, machine)
        _save_sections(args.records, sections)
    ordered_sections = [("Targets", targets(rows, args.records))]
    ordered_sections += [sections[name] for name in SECTION_JOBS if name in sections]
    page = report.render(
        rows=rows,
        order=ROW_ORDER,
        machine_info=machine,
        dataset=dataset.describe(),
        notes=notes(rows),
        sections=ordered_sections,
        date=date,
    )
    BENCHMARKS_MD.write_text(page, encoding="utf-8")
    present = [rows[name] for name in ROW_ORDER if name in rows]
    print()
    print(report.table(present, floor=rows.get("parse"), dlt=rows.get("dlt")))
    print()
    print(targets(rows, args.records))
    print(f"\nwrote {BENCHMARKS_MD.relative_to(ROOT)}; run logs in {logs.relative_to(ROOT)}")
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    return 1 if failures else 0


def _expected_records(name: str, records: int) -> int:
    """The records a row of path ``name`` has in a run at ``records`` (the small end-to-end window is a
    tenth, the rate-limited one at most LIMITED_RECORDS)."""
    if name == "e2e-small":
        records = max(1, records // 10)
    elif name == "e2e-limited":
        records = min(LIMITED_RECORDS, records)
    planned = datasets.plan(records)
    return planned.days * planned.per_day if name.startswith("e2e") else records


def _sections_file(records: int) -> Path:
    return RESULTS / f"sections-{records}.json"


def _load_sections(records: int) -> dict[str, tuple[str, str]]:
    path = _sections_file(records)
    if not path.exists():
        return {}
    return {
        name: (title, body) for name, (title, body) in json.loads(path.read_text(encoding="utf-8")).items()
    }


def _save_sections(records: int, sections: dict[str, tuple[str, str]]) -> None:
    _sections_file(records).write_text(json.dumps(sections, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
