"""The local-bigquery emulator as a loopback server for tests: find or build it, start, wait, stop.

One emulator serves the whole pytest process (``shared_emulator``), whichever test directory asks
first (tests/bigquery, or the contract suite's BigQuery backend); it is stopped when pytest ends.
The emulator lives in its own venv (``scripts/bq_emulator_env.sh``): ``$BQ_EMULATOR_BIN`` or
``.venv-bq/bin/local-bigquery``; when neither exists, the script builds ``.venv-bq`` first, so a
fresh clone needs nothing but the package index. A missing or broken emulator fails the tests; it
never skips them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_VENV = REPO_ROOT / ".venv-bq"
BUILD_SCRIPT = REPO_ROOT / "scripts" / "bq_emulator_env.sh"
PROJECT = "daily-test"
READY_TIMEOUT_SECONDS = 60.0
READY_POLL_SECONDS = 0.1
BUILD_TIMEOUT_SECONDS = 900


@dataclass
class Emulator:
    """A running emulator: its REST endpoint, default project and log file."""

    endpoint: str
    project: str
    process: subprocess.Popen[bytes]
    log_path: Path
    data_dir: Path

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no emulator log)"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.data_dir, ignore_errors=True)


def _uv() -> str:
    for candidate in (os.environ.get("UV"), str(REPO_ROOT / ".tools" / "bin" / "uv"), shutil.which("uv")):
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.fail(
        "the BigQuery emulator is not built and no uv was found to build it: run `make test` (it installs "
        "uv into .tools/), or set UV=/path/to/uv, or BQ_EMULATOR_BIN=/path/to/local-bigquery"
    )


def emulator_binary() -> Path:
    """The emulator executable, building ``.venv-bq`` when no emulator is configured or built yet."""
    configured = os.environ.get("BQ_EMULATOR_BIN")
    if configured:
        path = Path(configured)
        if not path.is_file():
            pytest.fail(f"BQ_EMULATOR_BIN={configured} does not exist; unset it to build .venv-bq instead")
        return path
    binary = DEFAULT_VENV / "bin" / "local-bigquery"
    if not (DEFAULT_VENV / ".built").is_file() or not binary.is_file():
        built = subprocess.run(
            ["bash", str(BUILD_SCRIPT), str(DEFAULT_VENV)],
            env={**os.environ, "UV": _uv()},
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_SECONDS,
        )
        if built.returncode != 0:
            pytest.fail(
                f"building the BigQuery emulator with {BUILD_SCRIPT} failed (exit {built.returncode}):\n"
                f"{built.stdout[-2000:]}\n{built.stderr[-4000:]}"
            )
    return binary


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_emulator(binary: Path) -> Emulator:
    """Start the emulator on free loopback ports and wait (bounded) until it answers."""
    data_dir = Path(tempfile.mkdtemp(prefix="local-bigquery-"))
    log_path = data_dir / "emulator.log"
    port, grpc_port = _free_port(), _free_port()
    env = {**os.environ}
    # DuckDB looks for its extensions under $HOME/.duckdb; the build script installed them here.
    duckdb_home = binary.resolve().parent.parent / "duckdb-home"
    if duckdb_home.is_dir():
        env["HOME"] = str(duckdb_home)
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [
                str(binary),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--grpc-port",
                str(grpc_port),
                "--project",
                PROJECT,
                "--data-dir",
                str(data_dir / "data"),
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
        )
    emulator = Emulator(f"http://127.0.0.1:{port}", PROJECT, process, log_path, data_dir)
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    probe_url = f"{emulator.endpoint}/bigquery/v2/projects/{PROJECT}/datasets"
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            emulator.stop()
            pytest.fail(f"the BigQuery emulator exited with {process.returncode}:\n{emulator.log_tail()}")
        try:
            answer = requests.get(probe_url, timeout=2)
            if answer.status_code == 200:
                return emulator
            last_error = f"HTTP {answer.status_code}: {answer.text[:500]}"
        except requests.RequestException as exc:
            last_error = str(exc)
        time.sleep(READY_POLL_SECONDS)  # readiness poll of a starting server, bounded by the deadline
    emulator.stop()
    pytest.fail(
        f"the BigQuery emulator did not become ready in {READY_TIMEOUT_SECONDS:.0f}s ({last_error}):\n"
        f"{emulator.log_tail()}"
    )


_shared: Emulator | None = None


def shared_emulator(config: pytest.Config) -> Emulator:
    """The process-wide emulator, started on first use and stopped when pytest finishes."""
    global _shared
    if _shared is None or _shared.process.poll() is not None:
        _shared = start_emulator(emulator_binary())
        config.add_cleanup(_stop_shared)
    return _shared


def _stop_shared() -> None:
    global _shared
    emulator, _shared = _shared, None
    if emulator is not None:
        emulator.stop()
