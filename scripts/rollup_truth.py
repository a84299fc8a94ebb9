"""What ``daily_logs_rollup`` must hold for a day, computed from the simulator's raw records.

Independent of the loaded tables and the views: the route template of each API record's URL, its
status, and each webhook delivery's event type (the ``type`` of its delivered JSON). Used by
``make partition-demo`` and the rollup tests to check the rollup against the simulator's truth.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from daily_provider.endpoints import endpoint_template

# (source, name) -> (requests, errors)
Rollup = dict[tuple[str, str | None], tuple[int, int]]


def _status(record: Mapping[str, Any]) -> int | None:
    try:
        return int(record.get("status"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _event_type(record: Mapping[str, Any]) -> str | None:
    body = record.get("request")
    try:
        parsed = json.loads(body) if isinstance(body, str) else body
    except ValueError:
        return None
    value = parsed.get("type") if isinstance(parsed, dict) else None
    return None if value is None else str(value)


def expected_rollup(api: Iterable[Mapping[str, Any]], webhook: Iterable[Mapping[str, Any]]) -> Rollup:
    """One day's rollup rows from that day's raw API and webhook records."""
    counts: dict[tuple[str, str | None], list[int]] = {}
    for record in api:
        status = _status(record)
        row = counts.setdefault(("api", endpoint_template(record.get("url"), "api")), [0, 0])
        row[0] += 1
        row[1] += int(status is not None and status >= 400)
    for record in webhook:
        status = _status(record)
        row = counts.setdefault(("webhook", _event_type(record)), [0, 0])
        row[0] += 1
        row[1] += int(status is None or not 200 <= status <= 299)
    return {key: (requests, errors) for key, (requests, errors) in counts.items()}
