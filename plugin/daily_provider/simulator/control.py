"""The simulator's ``/_sim/*`` control endpoints: health, stats, faults, reset and the ground truth.

Tests, the demo and the benchmarks ask these to check a load against what the simulator served.
They are never counted as requests and never faulted; the HTTP server answers them on loopback only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import orjson

from daily_provider.simulator.config import faults_from_mapping
from daily_provider.simulator.responses import Response, error_response, json_response
from daily_provider.simulator.timeline import format_ms

if TYPE_CHECKING:
    from daily_provider.simulator.core import Simulator


def answer_control(
    simulator: Simulator, method: str, path: str, query: Mapping[str, list[str]], body: bytes
) -> Response:
    """Answer one ``/_sim/*`` request; a bad value is a 400, an unknown route a 404."""
    route = (method, path.rstrip("/"))
    try:
        if route == ("GET", "/_sim/health"):
            return json_response(200, {"status": "ok"})
        if route == ("GET", "/_sim/stats"):
            return json_response(200, simulator.stats())
        if route == ("POST", "/_sim/reset"):
            simulator.reset_stats()
            return json_response(200, {"reset": True})
        if route == ("GET", "/_sim/faults"):
            return json_response(200, simulator.faults.to_json())
        if route == ("POST", "/_sim/faults"):
            faults = faults_from_mapping(orjson.loads(body or b"{}"))
            simulator.set_faults(faults)
            return json_response(200, faults.to_json())
        if route == ("GET", "/_sim/truth"):
            return _truth(simulator, query)
    except (ValueError, orjson.JSONDecodeError) as exc:
        return error_response(400, "invalid-request-error", str(exc))
    return error_response(
        404,
        "not-found",
        f"no control route {method} {path}; use GET /_sim/health|stats|faults|truth, POST /_sim/reset|faults",
    )


def _truth(simulator: Simulator, query: Mapping[str, list[str]]) -> Response:
    """The records of ``source`` in ``[start, end)``; without bounds, all of them, head arrivals included."""
    source = (query.get("source") or ["api"])[0]
    timeline = simulator.timeline(source)
    first = format_ms(timeline.start_ms)
    last = format_ms(timeline.created_ms(simulator.count(source)) + 1)
    start = (query.get("start") or [first])[0]
    end = (query.get("end") or [last])[0]
    return json_response(200, simulator.truth(source, start, end))
