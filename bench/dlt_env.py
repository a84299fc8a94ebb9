"""The dlt comparison environment: ``bench/.venv-dlt``, Python 3.11, exactly ``requirements-dlt.lock``.

dlt is not a project dependency, so it gets its own venv, built with uv and rebuilt whenever the
lock file changes (a stamp in the venv holds the lock's hash). Run alone to build it:
``python bench/dlt_env.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VENV = BENCH / ".venv-dlt"
LOCK = BENCH / "requirements-dlt.lock"
PYTHON_VERSION = "3.11"
_STAMP = VENV / ".lock-sha256"


def find_uv() -> str:
    """uv as the Makefile installs it, else the bootstrap copy, else one on PATH."""
    for candidate in (ROOT / ".tools" / "bin" / "uv", Path("/tmp/bootstrap/bin/uv")):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("uv")
    if found:
        return found
    raise FileNotFoundError(
        "uv was not found in .tools/bin (run `make venv` to install it), /tmp/bootstrap/bin or on PATH; "
        "it is needed to build the dlt benchmark environment bench/.venv-dlt"
    )


def python() -> Path:
    return VENV / "bin" / "python"


def ensure() -> Path:
    """Build or refresh the venv if needed; return its Python."""
    digest = hashlib.sha256(LOCK.read_bytes()).hexdigest()
    if python().exists() and _STAMP.exists() and _STAMP.read_text(encoding="utf-8").strip() == digest:
        return python()
    uv = find_uv()
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}
    subprocess.run(
        [uv, "venv", "--quiet", "--clear", "--python", PYTHON_VERSION, str(VENV)], check=True, env=env
    )
    subprocess.run(
        [uv, "pip", "sync", "--quiet", "--require-hashes", "--python", str(python()), str(LOCK)],
        check=True,
        env=env,
    )
    _STAMP.write_text(digest + "\n", encoding="utf-8")
    return python()


def versions() -> dict[str, str]:
    """dlt's, duckdb's and pyarrow's versions inside the venv."""
    code = (
        "import json, importlib.metadata as m; "
        "print(json.dumps({n: m.version(n) for n in ('dlt', 'duckdb', 'pyarrow', 'orjson')}))"
    )
    out = subprocess.run([str(python()), "-c", code], check=True, capture_output=True, text=True).stdout
    return dict(json.loads(out))


if __name__ == "__main__":
    print(ensure(), versions())
