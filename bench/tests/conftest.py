"""The benchmark scripts import each other by bare name, as ``python bench/run.py`` does: put bench/ first."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = str(Path(__file__).resolve().parents[1])
if BENCH not in sys.path:
    sys.path.insert(0, BENCH)
