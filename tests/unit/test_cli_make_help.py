"""``make help`` lists every target, and every ``make`` command the README tells people to run."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_make_help_lists_every_target_and_every_make_command_of_the_readme() -> None:
    listed = subprocess.run(
        ["make", "--no-print-directory", "-s", "help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    shown = set(re.findall(r"^make ([a-z-]+)\s", listed, flags=re.MULTILINE))
    makefile = (REPO_ROOT / "Makefile").read_text()
    (phony,) = re.findall(r"^\.PHONY:(.*)$", makefile, flags=re.MULTILINE)
    readme = (REPO_ROOT / "README.md").read_text()
    used = set(re.findall(r"\bmake ([a-z][a-z-]*)", readme))
    assert set(phony.split()) - {"help"} <= shown
    assert used <= shown
