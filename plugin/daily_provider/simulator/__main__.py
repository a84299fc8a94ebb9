"""``python -m daily_provider.simulator``: the same as ``daily-logs simulate``."""

from __future__ import annotations

import sys

from daily_provider.simulator.cli import main

sys.exit(main())
