"""A local stand-in for Daily's ``GET /v1/logs/api``: seeded records, both cursor conventions, faults.

Tests use :class:`Simulator` directly or :class:`SimulatorServer` on a loopback port; the demo and the
benchmarks run ``daily-logs simulate`` as a separate process; :func:`generate_records` writes datasets.
"""

from __future__ import annotations

from daily_provider.simulator.config import FaultConfig, SimulatorConfig
from daily_provider.simulator.core import Response, Simulator
from daily_provider.simulator.records import generate_records
from daily_provider.simulator.server import SimulatorServer

__all__ = ["FaultConfig", "Response", "Simulator", "SimulatorConfig", "SimulatorServer", "generate_records"]
