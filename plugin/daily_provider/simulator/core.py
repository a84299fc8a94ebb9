"""The simulated Daily API as a pure request -> response function.

:class:`Simulator` answers ``GET /v1/logs/api`` the way DAILY_API.md describes (Bearer auth, ``limit``
capped silently, both cursor conventions, ``source`` and ``url`` filters, newest first, as a bare
JSON array or as Daily's usual list object per ``page_shape``), and ``GET /v1/`` with the key's domain,
and injects the faults of its :class:`FaultConfig` (retention among them). The ``/_sim/*`` control
endpoints (truth, stats, faults, reset, health) are ``control.py``'s; they are never counted and never
faulted.

No I/O and no threads here: latency, stalls and dropped connections come back as instructions on the
:class:`Response` (``delay``, ``drop``) for the HTTP server to carry out. Latency is the time from a
request's arrival to its answer, as a client of Daily sees it: the simulator's own work on the page
counts inside it, so ``delay`` is what is left of the latency once the page is built (plus a stall).
A lock makes one Simulator safe to share between the server's handler threads.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from daily_provider.simulator.config import FaultConfig, SimulatorConfig
from daily_provider.simulator.control import answer_control
from daily_provider.simulator.faults import FaultState, format_seconds
from daily_provider.simulator.records import SOURCES, RecordFactory
from daily_provider.simulator.responses import (
    HTML_TYPE,
    Response,
    echo_authorization,
    error_response,
    json_response,
)
from daily_provider.simulator.timeline import Timeline, to_ms
from daily_provider.window import parse_timestamp

LOGS_PATH = "/v1/logs/api"
DOMAIN_PATH = "/v1"  # GET /v1/: the key's domain configuration
DEFAULT_LIMIT = 20
_SERVER_ERROR_HTML = (
    "<html><head><title>{status} Server Error</title></head><body><h1>{status}</h1>"
    "<p>The server is temporarily unable to service your request.</p></body></html>"
)
_FAULTY_PAGE_HTML = (
    b"<!DOCTYPE html><html><head><title>Daily</title></head><body><p>Loading...</p></body></html>"
)


class _BadRequest(Exception):
    """A logs request parameter Daily would reject with 400 invalid-request-error."""


@dataclass
class _Query:
    source: str
    limit: int
    cursor: str | None  # "starting_after" | "ending_before"
    cursor_id: str
    url: str | None


class Simulator:
    """Daily's logs endpoint over a seeded, lazily generated timeline. Pure apart from a clock."""

    def __init__(self, config: SimulatorConfig, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._factories = {source: RecordFactory(config, source) for source in SOURCES}
        self._arrivals = dict.fromkeys(SOURCES, 0)
        self._faults = FaultState(config.faults, clock)
        self.reset_stats()

    # -- state -------------------------------------------------------------------------------
    @property
    def faults(self) -> FaultConfig:
        return self._faults.config

    def set_faults(self, faults: FaultConfig) -> None:
        """Use ``faults`` from the next request on, with fresh counters (request number, burst, limiter)."""
        with self._lock:
            self._faults = FaultState(faults, self._clock)

    def timeline(self, source: str) -> Timeline:
        """The seeded timeline of ``source``'s records (ValueError for an unknown source)."""
        return self._factory(source).timeline

    def count(self, source: str) -> int:
        """How many records exist now for ``source`` (the timeline plus head arrivals so far)."""
        factory = self._factory(source)
        with self._lock:
            return factory.timeline.total + self._arrivals[source]

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self._requests,
                "by_status": dict(sorted(self._by_status.items())),
                "pages_served": self._pages,
                "records_served": self._records_served,
                "faults_injected": dict(sorted(self._injected.items())),
                "arrivals": dict(self._arrivals),
            }

    def reset_stats(self) -> None:
        with self._lock:
            self._requests = 0
            self._pages = 0
            self._records_served = 0
            self._by_status: Counter[str] = Counter()
            self._injected: Counter[str] = Counter()

    def truth(self, source: str, start: datetime | str, end: datetime | str) -> list[dict[str, Any]]:
        """The records with createdAt in [start, end), newest first, exactly as the API serves them."""
        factory = self._factory(source)
        count = self.count(source)
        start_ms = to_ms(parse_timestamp(start, name="start"))
        end_ms = to_ms(parse_timestamp(end, name="end"))
        low = factory.timeline.first_at_or_after(start_ms, count)
        high = factory.timeline.first_at_or_after(end_ms, count)
        return [factory.record(index) for index in range(high - 1, low - 1, -1)]

    # -- HTTP --------------------------------------------------------------------------------
    def handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, list[str]],
        headers: Mapping[str, str],
        body: bytes = b"",
    ) -> Response:
        """Answer one request. ``query`` maps each parameter to its values, as ``urllib.parse.parse_qs`` does."""
        if path.startswith("/_sim/"):
            return answer_control(self, method, path, query, body)
        route = path.rstrip("/") or "/"
        if route not in (LOGS_PATH, DOMAIN_PATH):
            return error_response(
                404,
                "not-found",
                f"no route {method} {path}; the simulator serves GET {LOGS_PATH} and GET {DOMAIN_PATH}/",
            )
        if method != "GET":
            return error_response(405, "invalid-request-error", f"{method} is not allowed on {path}; use GET")
        return self._serve(route, query, {key.lower(): value for key, value in headers.items()})

    def _serve(self, route: str, query: Mapping[str, list[str]], headers: Mapping[str, str]) -> Response:
        arrived = self._clock()
        with self._lock:
            self._requests += 1
            state = self._faults
            request = state.next_request()
        if route == DOMAIN_PATH:
            response = self._answer_domain(state, request, headers)
        else:
            response = self._answer_logs(state, request, query, headers)
        if state.config.echo_key_in_errors and response.status >= 400:
            response = echo_authorization(response, headers.get("authorization", ""))
        # Daily's latency includes the time it takes to build the answer: so does ours.
        spent = self._clock() - arrived
        response.delay += max(0.0, state.config.latency_ms / 1000.0 - spent)
        if state.stalls(request):
            self._count_fault("stall")
            response.delay += state.config.stall_seconds
        with self._lock:
            self._by_status[str(response.status)] += 1
        return response

    def _answer_domain(self, state: FaultState, request: int, headers: Mapping[str, str]) -> Response:
        """``GET /v1/``: the key's domain configuration (auth, 429s and 5xx as for the logs)."""
        refused = self._refuse(state, request, headers)
        if refused is not None:
            return refused
        with self._lock:
            throttled = self._throttle(state, request)
        if throttled is not None:
            return throttled
        if state.hit(request, "5xx", state.config.error_5xx_rate):
            self._count_fault("5xx")
            return self._server_error(state, request)
        domain = self._factories["api"].domain
        return json_response(
            200,
            {
                "domain_name": domain.name,
                "domain_id": domain.domain_id,
                "config": {"hide_daily_branding": False, "enable_advanced_chat": True, "lang": "en"},
            },
        )

    def _refuse(self, state: FaultState, request: int, headers: Mapping[str, str]) -> Response | None:
        """Daily's authentication answers: a bad header, a bad key, a revoked key; None to go on."""
        faults = state.config
        authorization = headers.get("authorization", "")
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or not key.strip() or " " in key.strip():
            return error_response(
                400,
                "authorization-header-error",
                "the Authorization header is missing or malformed; send 'Authorization: Bearer <API key>'",
            )
        if not hmac.compare_digest(key.strip().encode(), self.config.api_key.encode()):
            return error_response(401, "authentication-error", "the API key is not valid for this domain")
        if faults.auth_fail_after is not None and request > faults.auth_fail_after:
            self._count_fault("auth_fail")
            return error_response(
                401, "authentication-error", "the API key is not valid for this domain (key revoked)"
            )
        if faults.forbidden_after is not None and request > faults.forbidden_after:
            self._count_fault("forbidden")
            return error_response(403, "forbidden-error", "this API key may not read logs")
        return None

    def _answer_logs(
        self, state: FaultState, request: int, query: Mapping[str, list[str]], headers: Mapping[str, str]
    ) -> Response:
        faults = state.config
        refused = self._refuse(state, request, headers)
        if refused is not None:
            return refused
        try:
            params = self._parse(query, faults)
        except _BadRequest as exc:
            return error_response(400, "invalid-request-error", str(exc))

        factory = self._factories[params.source]
        with self._lock:
            # Arrivals land after this request's snapshot: later requests (and truth()) see them.
            count = factory.timeline.total + self._arrivals[params.source]
            self._arrivals[params.source] += faults.arrivals_per_request
            cursor_index = self._cursor_index(factory, params, count, faults)
            throttled = self._throttle(state, request) if cursor_index is not None else None
        if cursor_index is None:
            return error_response(
                400, "invalid-request-error", f"{params.cursor}: unknown log id {params.cursor_id!r}"
            )
        if throttled is not None:
            return throttled
        if state.hit(request, "5xx", faults.error_5xx_rate):
            self._count_fault("5xx")
            return self._server_error(state, request)
        return self._page(state, request, factory, params, count, cursor_index)

    def _parse(self, query: Mapping[str, list[str]], faults: FaultConfig) -> _Query:
        values: dict[str, str] = {}
        for name in ("limit", "starting_after", "ending_before", "source", "url"):
            given = query.get(name, [])
            if len(given) > 1:
                raise _BadRequest(f"{name} was given {len(given)} times; give it once")
            if given:
                values[name] = given[0]
        source = values.get("source", "api")
        if source not in SOURCES:
            raise _BadRequest(f"source must be 'api' or 'webhook' (unquoted), got {source!r}")
        limit_text = values.get("limit", str(DEFAULT_LIMIT))
        try:
            limit = int(limit_text)
        except ValueError:
            raise _BadRequest(f"limit must be a positive integer, got {limit_text!r}") from None
        if limit < 1:
            raise _BadRequest(f"limit must be a positive integer, got {limit_text!r}")
        if "starting_after" in values and "ending_before" in values:
            raise _BadRequest("give at most one of starting_after and ending_before")
        cursor = next((name for name in ("starting_after", "ending_before") if name in values), None)
        return _Query(
            source=source,
            limit=min(limit, faults.max_limit),
            cursor=cursor,
            cursor_id=values[cursor] if cursor else "",
            url=values.get("url"),
        )

    def _cursor_index(
        self, factory: RecordFactory, params: _Query, count: int, faults: FaultConfig
    ) -> int | None:
        """The cursor record's index; -1 when there is no cursor; None when the id is unknown. Under the lock."""
        if params.cursor is None:
            return -1
        if params.cursor_id in faults.unknown_cursor_ids:
            self._injected["unknown_cursor"] += 1
            return None
        index = factory.timeline.index_of(params.cursor_id)
        if index is None or index >= count or index < self._oldest_kept(factory, count, faults):
            return None
        return index

    @staticmethod
    def _oldest_kept(factory: RecordFactory, count: int, faults: FaultConfig) -> int:
        """The index of the oldest record retention has kept (0 without retention)."""
        if faults.retention_before is None:
            return 0
        cut = to_ms(parse_timestamp(faults.retention_before, name="retention_before"))
        return factory.timeline.first_at_or_after(cut, count)

    def _throttle(self, state: FaultState, request: int) -> Response | None:
        """A 429 from the burst, the random rate or the server-side limiter; None to go on. Under the lock."""
        faults = state.config
        fired = "burst_429" if state.take_burst(request) else None
        if fired is None and state.hit(request, "429", faults.rate_429):
            fired = "rate_429"
        if fired is not None:
            self._injected[fired] += 1
            return error_response(
                429,
                "rate-limit-error",
                "Too many requests. Please retry with exponential backoff.",
                state.retry_after(faults.retry_after_seconds),
            )
        wait = state.take_token()
        if wait is not None:
            self._injected["rate_limit"] += 1
            return error_response(
                429,
                "rate-limit-error",
                f"rate limit of {format_seconds(faults.rate_limit_per_second or 0)} requests/s exceeded",
                state.retry_after(wait),
            )
        return None

    def _server_error(self, state: FaultState, request: int) -> Response:
        status = state.server_error_status(request)
        if state.draw(request, "5xx-html") < 0.3:
            html = _SERVER_ERROR_HTML.replace("{status}", str(status)).encode()
            return Response(status, html, {"Content-Type": HTML_TYPE})
        return error_response(
            status, "server-error", "An internal error occurred. Please retry with exponential backoff."
        )

    def _page(
        self, state: FaultState, request: int, factory: RecordFactory, params: _Query, count: int, cursor: int
    ) -> Response:
        oldest = self._oldest_kept(factory, count, state.config)
        indices = self._select(factory, params, count, cursor, oldest)
        fault = state.body_fault(request)
        if fault == "duplicate" and cursor >= 0:
            # The cursor record itself comes back: it was already on the previous page.
            if self._moves_older(params):
                indices = [cursor, *indices[: params.limit - 1]]
            else:
                indices = [*indices[1:], cursor] if len(indices) >= params.limit else [*indices, cursor]
        elif fault == "duplicate":
            fault = None
        body = b"[" + b",".join(factory.encoded(index) for index in indices) + b"]"
        if self.config.page_shape == "object":
            kept = count - oldest if params.url is None else len(indices)
            body = b'{"total_count":' + str(kept).encode() + b',"data":' + body + b"}"
        response = Response(200, body)
        if fault == "drop":
            response.drop = True
        elif fault == "truncate":
            response.body = body[: max(1, int(len(body) * (0.2 + 0.6 * state.draw(request, "cut"))))]
        elif fault == "html":
            response = Response(200, _FAULTY_PAGE_HTML, {"Content-Type": HTML_TYPE})
        elif fault == "empty":
            response.body = b""
        with self._lock:
            if fault is not None:
                self._injected[fault] += 1
            if fault in (None, "duplicate"):
                self._pages += 1
                self._records_served += len(indices)
        return response

    def _moves_older(self, params: _Query) -> bool:
        older_param = "starting_after" if self.config.convention == "stripe" else "ending_before"
        return params.cursor == older_param

    def _select(
        self, factory: RecordFactory, params: _Query, count: int, cursor: int, oldest: int
    ) -> list[int]:
        """Indices of the page, newest first: the ``limit`` records adjacent to the cursor.

        Records below ``oldest`` (gone by retention) are never served.
        """
        limit = params.limit
        older = cursor < 0 or self._moves_older(params)
        start = count - 1 if cursor < 0 else (cursor - 1 if older else cursor + 1)
        step = -1 if older else 1
        if params.url is None:
            stop = max(oldest - 1, start - limit) if older else min(count, start + limit)
            chosen = list(range(start, stop, step))
        else:
            chosen = []
            index = start
            while oldest <= index < count and len(chosen) < limit:
                if factory.url(index) == params.url:
                    chosen.append(index)
                index += step
        return chosen if older else chosen[::-1]

    def _count_fault(self, name: str) -> None:
        with self._lock:
            self._injected[name] += 1

    def _factory(self, source: str) -> RecordFactory:
        try:
            return self._factories[source]
        except KeyError:
            raise ValueError(f"source={source!r} is unknown; use one of {', '.join(SOURCES)}") from None
