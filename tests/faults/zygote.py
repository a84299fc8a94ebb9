"""Real load processes, fast: a pre-imported parent that forks one child process per load.

Importing Airflow takes seconds, far too long to start a fresh interpreter for every SIGKILL of a
crash test. ``python -m tests.faults.zygote`` imports the provider once, then forks a child per
request read from stdin: the child is a real process (its own pid, DuckDB connection, file locks,
sockets; SIGKILL ends it like any other) that runs ``daily-logs`` (``daily_provider.cli.main``) or a
small ``load_window`` driver with its stdout and stderr in files. The zygote opens nothing and
starts no thread before forking, so a child starts clean.

Protocol, one JSON object per line. In: ``{"token", "target": "cli"|"load"|"bigquery", "args",
"env", "stdout", "stderr"}``. Out: ``{"event": "ready"}`` once, then ``{"event": "spawned",
"token", "pid"}`` and ``{"event": "exited", "pid", "returncode"}`` (negative: killed by that signal).
:class:`Zygote` is the test side.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]


# -- inside the zygote -------------------------------------------------------------------------------


def _run_cli(args: Mapping[str, Any]) -> int:
    from daily_provider.cli import main

    return main(list(args["argv"]))


def _run_load(args: Mapping[str, Any]) -> int:
    """load_window with options the CLI does not expose (lock_timeout, retries)."""
    from daily_provider.hooks.daily import DailyHook
    from daily_provider.load import LoadSpec, load_window
    from daily_provider.warehouses.duckdb import DuckDBWarehouse
    from daily_provider.window import Window

    window = Window.parse(args["start"], args["end"])
    hook = DailyHook(api_key=os.environ["DAILY_API_KEY"], base_url=args["base_url"], requests_per_second=1e6)
    warehouse = DuckDBWarehouse(args["duckdb"], lock_timeout=args.get("lock_timeout", 600.0), threads=1)
    return _summarize(
        lambda: load_window(
            hook=hook,
            warehouse=warehouse,
            window=window,
            spec=LoadSpec(source=args["source"], run_id=args["run_id"]),
        ),
        warehouse,
    )


def _run_bigquery(args: Mapping[str, Any]) -> int:
    """load_window into a BigQueryWarehouse on the local emulator."""
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    from daily_provider.hooks.daily import DailyHook
    from daily_provider.load import LoadSpec, load_window
    from daily_provider.warehouses.bigquery import BigQueryWarehouse
    from daily_provider.window import Window

    client = bigquery.Client(
        project=args["project"],
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options=ClientOptions(api_endpoint=args["endpoint"]),
    )
    warehouse = BigQueryWarehouse(
        project=args["project"], dataset=args["dataset"], client=client, conflict_retry_delays=(0.5, 1.0, 2.0)
    )
    hook = DailyHook(api_key=os.environ["DAILY_API_KEY"], base_url=args["base_url"], requests_per_second=1e6)
    window = Window.parse(args["start"], args["end"])
    return _summarize(
        lambda: load_window(
            hook=hook,
            warehouse=warehouse,
            window=window,
            spec=LoadSpec(source=args["source"], run_id=args["run_id"]),
        ),
        warehouse,
    )


def _summarize(run: Any, warehouse: Any) -> int:
    try:
        summary = run()
    except Exception as exc:
        print(f"load failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        warehouse.close()
    print(summary.describe())
    return 0


TARGETS = {"cli": _run_cli, "load": _run_load, "bigquery": _run_bigquery}


def _child(request: Mapping[str, Any]) -> None:
    """Become the requested process: fresh signal dispositions, own stdio files, then run and exit."""
    code = 70
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
            target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(target, fd)
            os.close(target)
        os.environ.update(request.get("env") or {})
        tempfile.tempdir = None  # gettempdir() caches; a TMPDIR given to this child must count
        code = TARGETS[request["target"]](request["args"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException as exc:
        print(f"zygote child crashed: {type(exc).__name__}: {exc}", file=sys.stderr)
        code = 71
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def _say(message: Mapping[str, Any]) -> None:
    # os.write, not print: a child forked while print held the stdout lock would inherit it locked.
    os.write(1, (json.dumps(message) + "\n").encode())


PRELOAD = (
    "daily_provider.cli",
    "daily_provider.hooks.daily",
    "daily_provider.load",
    "daily_provider.staging",
    "daily_provider.warehouses.duckdb",
    "daily_provider.warehouses.bigquery",
)


def serve() -> None:
    # Import once what every child needs; nothing is opened or started here.
    for module in PRELOAD:
        importlib.import_module(module)
    children: set[int] = set()
    buffer = b""
    if threading.active_count() != 1:  # a thread would be missing from every child, maybe holding a lock
        raise RuntimeError(f"the zygote must not run threads before forking: {threading.enumerate()}")
    _say({"event": "ready"})
    while True:
        readable, _, _ = select.select([0], [], [], 0.02)
        for pid in list(children):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                children.discard(pid)
                _say({"event": "exited", "pid": pid, "returncode": os.waitstatus_to_exitcode(status)})
        if not readable:
            continue
        chunk = os.read(0, 65536)
        if not chunk:  # the test side closed stdin: end, taking no child with us
            return
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            request = json.loads(line)
            pid = os.fork()
            if pid == 0:
                _child(request)
            children.add(pid)
            _say({"event": "spawned", "token": request["token"], "pid": pid})


# -- the test side -----------------------------------------------------------------------------------


@dataclass
class Child:
    """One forked load process."""

    pid: int
    stdout: Path
    stderr: Path
    exited: threading.Event = field(default_factory=threading.Event)
    returncode: int | None = None

    def wait(self, timeout: float = 60.0) -> int:
        if not self.exited.wait(timeout):
            self.kill()
            raise AssertionError(f"process {self.pid} did not exit within {timeout:g}s\n{self.output()}")
        assert self.returncode is not None
        return self.returncode

    def signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)

    def output(self) -> str:
        return f"stdout:\n{_read(self.stdout)}\nstderr:\n{_read(self.stderr)}"

    def stderr_text(self) -> str:
        return _read(self.stderr)


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


class Zygote:
    """Starts the zygote process and spawns children through it."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.faults.zygote"],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(workdir / "zygote.stderr", "wb"),  # noqa: SIM115 - the process owns it
        )
        self._lock = threading.Lock()
        self._children: dict[int, Child] = {}
        self._by_token: dict[str, Child] = {}
        self._pending: dict[str, tuple[threading.Event, Path, Path]] = {}
        self._ready = threading.Event()
        self._count = 0
        threading.Thread(target=self._read_events, name="zygote-events", daemon=True).start()
        if not self._ready.wait(180):
            self.close()
            raise AssertionError(f"the zygote did not start:\n{_read(workdir / 'zygote.stderr')}")

    def _read_events(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            event = json.loads(line)
            if event["event"] == "ready":
                self._ready.set()
            elif event["event"] == "spawned":
                with self._lock:
                    started, stdout, stderr = self._pending.pop(event["token"])
                    child = Child(event["pid"], stdout, stderr)
                    self._children[child.pid] = self._by_token[event["token"]] = child
                started.set()
            elif event["event"] == "exited":
                with self._lock:
                    child = self._children[event["pid"]]
                child.returncode = event["returncode"]
                child.exited.set()

    def spawn(self, target: str, args: Mapping[str, Any], env: Mapping[str, str] | None = None) -> Child:
        """Fork a child running ``target`` with ``args``; return once it exists."""
        with self._lock:
            self._count += 1
            token = f"c{self._count}"
            stdout, stderr = self.workdir / f"{token}.out", self.workdir / f"{token}.err"
            started = threading.Event()
            self._pending[token] = (started, stdout, stderr)
        request = {
            "token": token,
            "target": target,
            "args": dict(args),
            "env": dict(env or {}),
            "stdout": str(stdout),
            "stderr": str(stderr),
        }
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(request) + "\n").encode())
        self.process.stdin.flush()
        if not started.wait(30):
            raise AssertionError(f"the zygote did not fork {token}:\n{_read(self.workdir / 'zygote.stderr')}")
        with self._lock:
            return self._by_token[token]

    def close(self) -> None:
        for child in list(self._children.values()):
            if not child.exited.is_set():
                child.kill()
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)


if __name__ == "__main__":
    serve()
