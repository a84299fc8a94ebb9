"""The benchmark harness measures what it claims: the dataset, the paths' counts, peak memory, the page.

Run with ``.venv/bin/pytest bench/tests`` (the dlt path needs its own venv and is exercised by the
benchmark run itself, not here).
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import orjson
import pytest

import dataset as datasets
import endtoend
import path_ours
import path_parse
import report
import run
from daily_provider.window import Window, parse_timestamp
from measure import Measurement, PathFailed, run_measured, tree_rss_bytes

MB = 1_000_000


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> datasets.Dataset:
    return datasets.ensure(200, seed=7, directory=tmp_path_factory.mktemp("data"))


def test_dataset_holds_n_records_all_inside_its_window(small: datasets.Dataset) -> None:
    lines = small.path.read_bytes().splitlines()
    assert len(lines) == 200
    window = Window.parse(small.window_start, small.window_end)
    records = [orjson.loads(line) for line in lines]
    assert all(window.contains(parse_timestamp(r["createdAt"])) for r in records)
    assert len({r["id"] for r in records}) == 200
    assert all(r["source"] == "api" for r in records)
    # Bodies are served as JSON-encoded strings, as the API does.
    assert any(isinstance(r["response"], str) for r in records)


def test_dataset_is_reproducible_from_its_seed_and_reused_from_the_cache(
    small: datasets.Dataset, tmp_path: Path
) -> None:
    again = datasets.ensure(200, seed=7, directory=tmp_path)
    assert again.path.read_bytes() == small.path.read_bytes()
    before = again.path.stat().st_mtime_ns
    assert datasets.ensure(200, seed=7, directory=tmp_path).path.stat().st_mtime_ns == before
    other = datasets.ensure(200, seed=8, directory=tmp_path)
    assert other.path.read_bytes() != small.path.read_bytes()


def test_dataset_matches_what_the_simulator_serves_for_the_window(small: datasets.Dataset) -> None:
    config = datasets.simulator_config(small)
    assert config.days * config.api_per_day == 200
    assert config.webhook_per_day == 0


def test_parse_floor_parses_every_record_and_counts_bodies_that_are_not_json(tmp_path: Path) -> None:
    path = tmp_path / "three.ndjson"
    lines = [
        {"request": None, "response": '{"ok": true}'},
        {"request": '{"name": "a"}', "response": "<html>502</html>"},
        {"request": '{"trunc', "response": None},
    ]
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    assert path_parse.parse(str(path)) == (3, 2)


def test_ours_path_stages_and_loads_every_record(small: datasets.Dataset, tmp_path: Path) -> None:
    window = Window.parse(small.window_start, small.window_end)
    result = path_ours.load(str(small.path), window, tmp_path, chunk_rows=64, memory_limit="256MB", threads=1)
    assert result["records"] == 200
    assert result["columns"] > 20  # flattened body columns, not only the core ones


def test_run_measured_reports_the_childs_peak_memory_and_its_result() -> None:
    code = "import json; block = bytearray(150_000_000); block[::4096] = b'x' * len(block[::4096]); print(json.dumps({'records': 5}))"
    measurement = run_measured([sys.executable, "-c", code])
    assert measurement.peak_rss_bytes >= 150 * MB
    assert measurement.maxrss_bytes >= 150 * MB
    assert measurement.result == {"records": 5}
    assert measurement.seconds == measurement.wall_seconds  # no timing reported: the process's own


def test_run_measured_raises_with_the_childs_error_when_it_fails() -> None:
    with pytest.raises(PathFailed, match="boom"):
        run_measured([sys.executable, "-c", "raise SystemExit('boom')"])


def test_tree_rss_counts_child_processes_too() -> None:
    code = "import sys; block = bytearray(120_000_000); block[::4096] = b'x' * len(block[::4096]); print('ready', flush=True); sys.stdin.read()"
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        assert tree_rss_bytes(os.getpid()) >= tree_rss_bytes(child.pid) >= 120 * MB
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait()


def _row(name: str, records: int, seconds: list[float], peak_mb: float) -> report.Row:
    runs = [Measurement(s + 1, int(peak_mb * MB), int(peak_mb * MB), 0, {"seconds": s}) for s in seconds]
    return report.Row.of(name, name, records, runs, command="cmd", date="today")


def test_row_takes_the_median_time_and_the_largest_peak() -> None:
    row = report.Row.of(
        "ours",
        "ours",
        1000,
        [
            Measurement(9, 100 * MB, 0, 0, {"seconds": 4.0}),
            Measurement(9, 300 * MB, 0, 0, {"seconds": 1.0}),
            Measurement(9, 200 * MB, 0, 0, {"seconds": 2.0}),
        ],
        command="cmd",
        date="today",
    )
    assert row.seconds == 2.0
    assert row.rate == 500.0
    assert row.peak_rss == 300 * MB


def test_table_gives_ratios_to_dlt_and_to_the_parse_floor() -> None:
    floor = _row("parse", 1000, [1.0], 10)
    mine = _row("ours", 1000, [3.0], 200)
    theirs = _row("dlt", 1000, [12.0], 900)
    text = report.table([floor, mine, theirs], floor=floor, dlt=theirs)
    line = next(line for line in text.splitlines() if line.startswith("| ours"))
    assert "| 4.00x | 3.00x |" in line
    assert "200 MB" in line


def test_targets_say_met_or_not_met_from_the_rows() -> None:
    rows = {
        "parse": _row("parse", 1_000_000, [6.0], 10),
        "ours": _row("ours", 1_000_000, [50.0], 250),
        "dlt": _row("dlt", 1_000_000, [150.0], 1600),
        "e2e-small": _row("e2e-small", 100_000, [5.0], 300),
        "e2e-full": _row("e2e-full", 1_000_000, [40.0], 336),
        "e2e-limited": report.Row.of(
            "e2e-limited",
            "e2e-limited",
            20_000,
            [Measurement(22.0, 200 * MB, 200 * MB, 0, {"seconds": 21.5})],
            command="cmd",
            date="today",
            extra={"requests": 201, "floor_seconds": 20.1, "request_floor_ms": 100.0, "walk_seconds": 20.9},
        ),
    }
    text = run.targets(rows, 1_000_000)
    assert "3.00x dlt's records/s; target at least 2x: met" in text
    assert "peaks at 336 MB for 1,000,000 records; target under 400 MB: met" in text
    assert "+12.0% of the 100,000-record peak; target within 15%: met" in text
    assert "took 21.5 s for 201 requests, +7.0% of the request floor (20.1 s" in text
    assert "target within 10%: met" in text
    assert "walk alone took 20.9 s: 104.0 ms a request against a floor of 100 ms, +4.0 ms a request" in text
    rows["e2e-full"] = _row("e2e-full", 1_000_000, [40.0], 420)
    rows["ours"] = _row("ours", 1_000_000, [80.0], 250)
    text = run.targets(rows, 1_000_000)
    assert "target under 400 MB: not met" in text
    assert "target within 15%: not met" in text
    assert "1.88x dlt's records/s; target at least 2x: not met" in text


def test_walk_seconds_come_from_the_walks_closing_log_line() -> None:
    log = (
        "INFO daily_provider.hooks.client: Daily logs walk progress (source=api, window [a, b)): 10 pages\n"
        "INFO daily_provider.hooks.client: Daily logs walk done (source=api, window [a, b)): 200 pages, "
        "convention stripe, records seen span x .. y, 21.4 s\n"
        "INFO daily_provider.load: loaded 20000 api records in 22.9s\n"
    )
    assert endtoend.walk_seconds(log) == 21.4
    assert endtoend.walk_seconds("no walk here") is None


def test_page_names_the_machine_the_command_and_the_placeholder_section() -> None:
    rows = {"parse": _row("parse", 10, [1.0], 10)}
    page = report.render(
        rows=rows,
        order=run.ROW_ORDER,
        machine_info={"nproc": "2", "cpu": "test cpu"},
        dataset="10 records",
        notes=[],
        sections=[("Request counts (anchors)", "Not measured yet.")],
        date=datetime(2026, 1, 1).strftime("%Y-%m-%d"),
    )
    assert "- nproc: 2" in page
    assert "```\ncmd\n```" in page
    assert "## Request counts (anchors)" in page
