"""Simulated log records: a pure function of (seed, source, index).

``RecordFactory.record`` assembles one record exactly as Daily serves it: the timeline gives id and
createdAt, ``bodies``/``webhooks`` give the call, and this module adds what makes real logs hard to
load: ~5% malformed bodies (truncated JSON, HTML gateway pages, unparsable requests), JSON scalars and
top-level arrays, integers beyond 64 bits, camelCase and colliding keys, objects nested 8+ deep, and
~2% of ``status`` values as strings, as older docs show. Bodies are JSON-encoded *strings*.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import orjson

from daily_provider.simulator.bodies import Call, Ctx, RawText, api_call
from daily_provider.simulator.config import SimulatorConfig
from daily_provider.simulator.fakes import Domain
from daily_provider.simulator.rng import Rng, seed_of
from daily_provider.simulator.timeline import DAY_MS, Timeline, format_ms, to_ms
from daily_provider.simulator.webhooks import webhook_call
from daily_provider.window import parse_timestamp

SOURCES = ("api", "webhook")
_GATEWAY_HTML = RawText(
    "<html>\r\n<head><title>{status} Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>{status} Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n"
)
_DAILY_EGRESS_IPS = ("34.212.10.41", "52.33.118.7", "44.230.96.15")
POOL_BITS = 12
POOL_SLOTS = 1 << POOL_BITS  # distinct generated calls per source and day
_POOL_CACHE = 16_384  # generated calls kept; bounds the pool's memory whatever the timeline's length
_Body = tuple[str, str, int, str | None, str | None]  # method, url, status, request, response


def timeline_for(config: SimulatorConfig, source: str) -> Timeline:
    start_ms = to_ms(parse_timestamp(config.start, name="start"))
    return Timeline(config.seed, source, start_ms, config.days, config.per_day(source))


def encode_body(body: Any) -> str | None:
    """A body as the JSON-encoded string Daily stores (RawText is already final text)."""
    if body is None:
        return None
    if isinstance(body, RawText):
        return str(body)
    try:
        return orjson.dumps(body).decode("utf-8")
    except orjson.JSONEncodeError:
        # orjson refuses integers beyond 64 bits; those bodies exist on purpose.
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def _deep(rng: Rng, depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"value": rng.below(100), "ok": True}
    for level in range(depth, 0, -1):
        node = {f"level{level}": node}
    return node


def _odd_keys(rng: Rng) -> dict[str, Any]:
    # Keys that need sanitizing, and keys that collide once lowercased.
    trace = rng.hex(16)
    return {
        "traceId": trace,
        "traceid": trace[:8],
        "TraceID": trace[8:],
        "meta": {"User Name": "x", "user-name": "y", "1st_try": True, "naïve": 1, "a__b": 2, "": "empty key"},
    }


class RecordFactory:
    """Builds the records of one source.

    Generating a realistic body takes many random draws and nested objects, too slow to do for
    every record of every page. So each day of the timeline has a pool of ``POOL_SLOTS`` generated calls (method,
    url, status, bodies; built on first use and kept in a bounded cache), and a record picks its
    slot with its own seed. Per record stay distinct: id, createdAt, ip and the status spelling.
    Bodies still change day by day (new keys, changed types), and their inner timestamps fall on
    the record's day.
    """

    def __init__(self, config: SimulatorConfig, source: str) -> None:
        if source not in SOURCES:
            raise ValueError(f"source={source!r} is unknown; use one of {', '.join(SOURCES)}")
        self.source = source
        self.timeline = timeline_for(config, source)
        self.domain = Domain.for_seed(config.seed if config.domain_seed is None else config.domain_seed)
        ip_rng = Rng(config.seed * 7919 + 17)
        self._ips = (
            _DAILY_EGRESS_IPS
            if source == "webhook"
            else tuple(f"203.0.113.{ip_rng.between(1, 254)}" for _ in range(6))
            + tuple(f"2001:db8::{ip_rng.hex(4)}" for _ in range(2))
        )
        self._pool: OrderedDict[tuple[int, int], _Body] = OrderedDict()

    def record(self, index: int) -> dict[str, Any]:
        record_id, bits = self.timeline.identity(index)
        created = self.timeline.created_ms(index)
        # One 64-bit draw covers the record's own choices: a seeded stream would cost more than all else.
        slot, rest = bits >> (64 - POOL_BITS), bits & ((1 << (64 - POOL_BITS)) - 1)
        method, url, status, request, response = self._body(
            (created - self.timeline.start_ms) // DAY_MS, slot
        )
        return {
            "id": record_id,
            "userId": self.domain.user_id,
            "domainId": self.domain.domain_id,
            "source": self.source,
            "ip": self._ips[rest % len(self._ips)],
            "method": method,
            "url": url,
            "status": str(status) if (rest >> 8) % 100 < 2 else status,
            "createdAt": format_ms(created),
            "request": request,
            "response": response,
        }

    def url(self, index: int) -> str:
        """The record's url alone (what the ``url`` filter compares), cheaper than the whole record."""
        bits = self.timeline.identity(index)[1]
        day = (self.timeline.created_ms(index) - self.timeline.start_ms) // DAY_MS
        return self._body(day, bits >> (64 - POOL_BITS))[1]

    def encoded(self, index: int) -> bytes:
        """The record as served, JSON bytes."""
        return orjson.dumps(self.record(index))

    def _body(self, day: int, slot: int) -> _Body:
        key = (day, slot)
        body = self._pool.get(key)
        if body is None:
            body = self._pool[key] = self._generate(day, slot)
            if len(self._pool) > _POOL_CACHE:
                self._pool.popitem(last=False)
        return body

    def _generate(self, day: int, slot: int) -> _Body:
        rng = Rng(seed_of(self.timeline.seed, self.source, "body", day, slot))
        ts = (self.timeline.start_ms // 1000) + day * 86_400 + slot * 86_400 // POOL_SLOTS
        ctx = Ctx(rng=rng, domain=self.domain, day=day, ts=ts)
        call = api_call(ctx) if self.source == "api" else webhook_call(ctx)
        _distort(rng, call, self.source)
        return call.method, call.url, call.status, encode_body(call.request), encode_body(call.response)


def _distort(rng: Rng, call: Call, source: str) -> None:
    """Turn ~15% of calls into the hard cases; the rest are left as generated."""
    pick = rng.below(1000)
    body_of_choice = call.request if isinstance(call.request, dict) else call.response
    if pick < 25 and isinstance(call.response, dict | list):
        text = encode_body(call.response) or ""
        call.response = RawText(text[: rng.between(1, max(1, len(text) - 1))])
    elif pick < 40 and source == "api":
        call.status = rng.choice((502, 503, 504))
        call.response = RawText(_GATEWAY_HTML.replace("{status}", str(call.status)))
    elif pick < 50 and source == "api" and isinstance(call.request, dict):
        text = encode_body(call.request) or ""
        call.request = RawText(text[: rng.between(1, max(1, len(text) - 1))])
        call.status = 400
        call.response = {
            "error": "json-parsing-error",
            "info": f"Unexpected end of JSON input at position {len(text)}",
        }
    elif pick < 60 and source == "api":
        call.response = rng.choice(("OK", True, 42, None, 3.5, "deleted"))
        if call.response is None:
            call.response = RawText("null")  # the JSON text null, not a missing body
    elif pick < 70 and isinstance(call.response, dict):
        call.response = [call.response]
    elif pick < 80 and isinstance(body_of_choice, dict):
        body_of_choice["sequence_number"] = (1 << 64) + rng.next64()
        body_of_choice["balance"] = -(1 << 63) - 1 - rng.below(1000)
    elif pick < 95 and isinstance(body_of_choice, dict):
        body_of_choice.update(_odd_keys(rng))
    elif pick < 105 and isinstance(body_of_choice, dict):
        body_of_choice["debug"] = _deep(rng, rng.between(8, 11))


def generate_records(config: SimulatorConfig, source: str) -> Iterator[dict[str, Any]]:
    """Every record of ``source``'s timeline, oldest first (no head arrivals), generated lazily."""
    factory = RecordFactory(config, source)
    for index in range(factory.timeline.total):
        yield factory.record(index)
