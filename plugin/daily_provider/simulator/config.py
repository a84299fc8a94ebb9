"""Settings of the simulator: the data it serves (SimulatorConfig) and the faults it injects (FaultConfig).

Both are plain dataclasses so tests, the CLI and the ``POST /_sim/faults`` control endpoint build them
the same way; :func:`faults_from_mapping` is the one place that turns untrusted JSON into a FaultConfig.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from daily_provider.window import parse_timestamp

CONVENTIONS = ("stripe", "literal")
# A bare JSON array (the docs' example) or Daily's usual list object {"total_count": N, "data": [...]}.
PAGE_SHAPES = ("array", "object")
RETRY_AFTER_STYLES = ("seconds", "http-date", "none")
_RATES = (
    "error_5xx_rate",
    "rate_429",
    "stall_rate",
    "drop_rate",
    "truncate_rate",
    "html_rate",
    "empty_rate",
    "duplicate_rate",
)

_INTEGERS = (
    "seed",
    "burst_429",
    "burst_429_after",
    "arrivals_per_request",
    "max_limit",
    "auth_fail_after",
    "forbidden_after",
    "stall_after",
)
_NUMBERS = (*_RATES, "retry_after_seconds", "rate_limit_per_second", "latency_ms", "stall_seconds")
_OPTIONAL = ("rate_limit_per_second", "auth_fail_after", "forbidden_after", "stall_after")
SERVER_ERROR_STATUSES = (500, 502, 503, 504)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass
class FaultConfig:
    """Fault switches, all off by default. Decisions are a function of ``seed`` and the request number.

    ``latency_ms`` is the time from a request's arrival to its answer, as a client of Daily measures
    it: the simulator's own work on the page counts inside it, not on top. ``server_error_statuses``
    are the statuses an injected 5xx picks from; ``burst_429`` 429s start after ``burst_429_after``
    requests (mid-walk bursts); every request after ``stall_after`` stalls for ``stall_seconds``
    (holds a client inside a request until it gives up or is killed); ``echo_key_in_errors`` makes
    error answers repeat the Authorization header they got, as a careless proxy would (the client
    must keep it out of its messages). ``retention_before`` (an ISO-8601 UTC time) plays Daily's
    retention: records older than it are gone, and so are their ids as cursors (400 unknown log
    id), while ``/_sim/truth`` still reports every record.
    """

    seed: int = 0
    error_5xx_rate: float = 0.0
    server_error_statuses: tuple[int, ...] = SERVER_ERROR_STATUSES
    rate_429: float = 0.0
    burst_429: int = 0
    burst_429_after: int = 0
    retry_after: str = "seconds"
    retry_after_seconds: float = 1.0
    rate_limit_per_second: float | None = None
    latency_ms: float = 0.0
    stall_rate: float = 0.0
    stall_seconds: float = 2.0
    stall_after: int | None = None
    drop_rate: float = 0.0
    truncate_rate: float = 0.0
    html_rate: float = 0.0
    empty_rate: float = 0.0
    duplicate_rate: float = 0.0
    arrivals_per_request: int = 0
    max_limit: int = 100
    auth_fail_after: int | None = None
    forbidden_after: int | None = None
    unknown_cursor_ids: frozenset[str] = frozenset()
    echo_key_in_errors: bool = False
    retention_before: str | None = None

    def __post_init__(self) -> None:
        self.unknown_cursor_ids = frozenset(self.unknown_cursor_ids)
        if self.retention_before is not None:
            if not isinstance(self.retention_before, str):
                raise ValueError(
                    f"FaultConfig.retention_before={self.retention_before!r} must be an ISO-8601 time or null"
                )
            parse_timestamp(self.retention_before, name="FaultConfig.retention_before")
        statuses = self.server_error_statuses
        if isinstance(statuses, str) or not isinstance(statuses, list | tuple) or not statuses:
            raise ValueError(
                f"FaultConfig.server_error_statuses={statuses!r} must be a non-empty list of 5xx statuses"
            )
        if not all(isinstance(s, int) and not isinstance(s, bool) and 500 <= s <= 599 for s in statuses):
            raise ValueError(
                f"FaultConfig.server_error_statuses={statuses!r} must hold integers from 500 to 599"
            )
        self.server_error_statuses = tuple(statuses)
        # Settings also arrive as JSON (POST /_sim/faults): check types here, not deep in a request.
        for name in (*_INTEGERS, *_NUMBERS):
            value = getattr(self, name)
            if value is None and name in _OPTIONAL:
                continue
            if not _is_number(value) or (name in _INTEGERS and not float(value).is_integer()):
                kind = "an integer" if name in _INTEGERS else "a number"
                raise ValueError(f"FaultConfig.{name}={value!r} must be {kind}")
            if name in _INTEGERS:
                setattr(self, name, int(value))
        for name in _RATES:
            value = getattr(self, name)
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(
                    f"FaultConfig.{name}={value!r} is not a probability; give a number in [0, 1]"
                )
        if not isinstance(self.echo_key_in_errors, bool):
            raise ValueError(
                f"FaultConfig.echo_key_in_errors={self.echo_key_in_errors!r} must be true or false"
            )
        if self.retry_after not in RETRY_AFTER_STYLES:
            raise ValueError(
                f"FaultConfig.retry_after={self.retry_after!r} is unknown; use one of {', '.join(RETRY_AFTER_STYLES)}"
            )
        for name in (
            "burst_429",
            "burst_429_after",
            "arrivals_per_request",
            "retry_after_seconds",
            "latency_ms",
            "stall_seconds",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"FaultConfig.{name}={getattr(self, name)!r} is negative; give 0 or more")
        if self.max_limit < 1:
            raise ValueError(f"FaultConfig.max_limit={self.max_limit!r} must be at least 1")
        if self.rate_limit_per_second is not None and self.rate_limit_per_second <= 0:
            raise ValueError(
                f"FaultConfig.rate_limit_per_second={self.rate_limit_per_second!r} must be positive, or None for no limit"
            )

    def to_json(self) -> dict[str, Any]:
        """The settings as a JSON-ready dict (the shape ``POST /_sim/faults`` accepts)."""
        data = dataclasses.asdict(self)
        data["unknown_cursor_ids"] = sorted(self.unknown_cursor_ids)
        data["server_error_statuses"] = list(self.server_error_statuses)
        return data


FAULT_FIELDS = tuple(f.name for f in dataclasses.fields(FaultConfig))


def faults_from_mapping(data: Mapping[str, Any]) -> FaultConfig:
    """Build a FaultConfig from a JSON object; fields not given keep their defaults.

    Raises ValueError naming the unknown fields or the bad value, so the control endpoint can answer 400.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"expected a JSON object of FaultConfig fields, got {type(data).__name__}")
    unknown = sorted(set(data) - set(FAULT_FIELDS))
    if unknown:
        raise ValueError(f"unknown fault field(s) {unknown}; valid fields: {', '.join(FAULT_FIELDS)}")
    values = dict(data)
    if "unknown_cursor_ids" in values:
        ids = values["unknown_cursor_ids"]
        if isinstance(ids, str) or not isinstance(ids, list | tuple | set | frozenset):
            raise ValueError("unknown_cursor_ids must be a list of log ids")
        values["unknown_cursor_ids"] = frozenset(str(i) for i in ids)
    try:
        return FaultConfig(**values)
    except TypeError as exc:
        raise ValueError(f"bad fault settings: {exc}") from None


@dataclass
class SimulatorConfig:
    """What the simulator serves: a seeded timeline of ``days`` days from ``start`` per source.

    The records belong to one Daily domain, drawn from ``domain_seed`` (default: ``seed``): two
    simulators with other seeds are two domains unless they share a ``domain_seed``.
    """

    seed: int = 1
    start: str = "2026-01-01T00:00:00Z"
    days: int = 5
    api_per_day: int = 2000
    webhook_per_day: int = 300
    convention: str = "stripe"
    page_shape: str = "array"
    api_key: str = "sim-key"
    domain_seed: int | None = None
    faults: FaultConfig = field(default_factory=FaultConfig)

    def __post_init__(self) -> None:
        start = parse_timestamp(self.start, name="SimulatorConfig.start")
        if start.hour or start.minute or start.second or start.microsecond:
            # Day boundaries are where window edges fall; the midnight tie clusters rely on them.
            raise ValueError(
                f"SimulatorConfig.start={self.start!r} must be a UTC midnight, e.g. 2026-01-01T00:00:00Z"
            )
        if self.days < 1:
            raise ValueError(f"SimulatorConfig.days={self.days!r} must be at least 1")
        for name in ("api_per_day", "webhook_per_day"):
            if not 0 <= getattr(self, name) <= 86_400_000:
                raise ValueError(f"SimulatorConfig.{name}={getattr(self, name)!r} must be in [0, 86400000]")
        if self.convention not in CONVENTIONS:
            raise ValueError(
                f"SimulatorConfig.convention={self.convention!r} is unknown; use one of {', '.join(CONVENTIONS)}"
            )
        if self.page_shape not in PAGE_SHAPES:
            raise ValueError(
                f"SimulatorConfig.page_shape={self.page_shape!r} is unknown; use one of {', '.join(PAGE_SHAPES)}"
            )
        if not self.api_key:
            raise ValueError("SimulatorConfig.api_key must not be empty")

    def per_day(self, source: str) -> int:
        return self.api_per_day if source == "api" else self.webhook_per_day
