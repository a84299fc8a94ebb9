"""The simulator's command line: flags map onto the configs; the process serves, reports readiness, stops on SIGTERM."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from pathlib import Path

import requests

from daily_provider.simulator import FaultConfig, SimulatorConfig
from daily_provider.simulator.cli import add_arguments, config_from_args


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_no_flags_give_the_default_configs() -> None:
    args = parse()
    assert config_from_args(args) == SimulatorConfig()
    assert args.port == 8765 and args.host == "127.0.0.1" and args.ready_file is None


def test_each_flag_sets_its_config_field() -> None:
    args = parse(
        "--seed", "4", "--start", "2026-02-01T00:00:00Z", "--days", "3", "--api-per-day", "10",
        "--webhook-per-day", "2", "--convention", "literal", "--api-key", "k", "--max-limit", "50",
        "--fault-seed", "9", "--error-5xx-rate", "0.1", "--rate-429", "0.2", "--burst-429", "3",
        "--retry-after", "http-date", "--retry-after-seconds", "0.5", "--rate-limit-per-second", "2",
        "--latency-ms", "5", "--stall-rate", "0.01", "--stall-seconds", "4", "--drop-rate", "0.02",
        "--truncate-rate", "0.03", "--html-rate", "0.04", "--empty-rate", "0.05", "--duplicate-rate", "0.06",
        "--arrivals-per-request", "7", "--auth-fail-after", "8", "--forbidden-after", "9",
        "--unknown-cursor-id", "a", "--unknown-cursor-id", "b", "--page-shape", "object",
        "--retention-before", "2026-02-02T12:00:00Z",
    )  # fmt: skip
    assert config_from_args(args) == SimulatorConfig(
        seed=4,
        start="2026-02-01T00:00:00Z",
        days=3,
        api_per_day=10,
        webhook_per_day=2,
        convention="literal",
        page_shape="object",
        api_key="k",
        faults=FaultConfig(
            seed=9,
            error_5xx_rate=0.1,
            rate_429=0.2,
            burst_429=3,
            retry_after="http-date",
            retry_after_seconds=0.5,
            rate_limit_per_second=2.0,
            latency_ms=5.0,
            stall_rate=0.01,
            stall_seconds=4.0,
            drop_rate=0.02,
            truncate_rate=0.03,
            html_rate=0.04,
            empty_rate=0.05,
            duplicate_rate=0.06,
            arrivals_per_request=7,
            max_limit=50,
            auth_fail_after=8,
            forbidden_after=9,
            unknown_cursor_ids=frozenset({"a", "b"}),
            retention_before="2026-02-02T12:00:00Z",
        ),
    )


def test_the_process_serves_writes_the_ready_file_and_stops_on_sigterm(tmp_path: Path) -> None:
    ready = tmp_path / "simulator.url"
    command = [
        sys.executable, "-m", "daily_provider.simulator", "--port", "0", "--ready-file", str(ready),
        "--days", "1", "--api-per-day", "50", "--webhook-per-day", "5", "--api-key", "cli-key",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # readline blocks until the server announces itself (pytest-timeout bounds it): no polling needed.
        line = process.stdout.readline() if process.stdout else ""
        assert line.startswith("simulator listening on http://127.0.0.1:"), process.stderr
        base_url = line.rsplit(" ", 1)[1].strip()
        assert base_url.endswith("/v1")
        assert ready.read_text().strip() == base_url

        assert requests.get(base_url.removesuffix("/v1") + "/_sim/health", timeout=5).status_code == 200
        page = requests.get(
            f"{base_url}/logs/api",
            params={"limit": 100},
            headers={"Authorization": "Bearer cli-key"},
            timeout=5,
        )
        assert len(page.json()) == 50
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert out == ""  # nothing after the one ready line
    assert not ready.exists()


def test_a_bad_setting_exits_with_a_message_instead_of_a_traceback() -> None:
    command = [
        sys.executable,
        "-m",
        "daily_provider.simulator",
        "--port",
        "0",
        "--start",
        "2026-01-01T05:00:00Z",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "must be a UTC midnight" in result.stderr
    assert "Traceback" not in result.stderr
