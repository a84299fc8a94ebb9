"""A tiny Daily for the hook tests, paging by either cursor convention, in memory or on loopback.

``FakeDaily`` answers ``GET /logs/api`` the way each documented reading of the cursors would:
"stripe" (``starting_after`` walks older) or "literal" (``ending_before`` walks older), serving the
records adjacent to the cursor and capping ``limit`` like the real API may.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

API_KEY = "sk_test_5f3c9a0e7b2d4c6a8e1f0b9d"
BASE_URL = "https://api.daily.test/v1"
LOGS_URL = BASE_URL + "/logs/api"
T0 = datetime(2024, 3, 15, tzinfo=timezone.utc)


def at(ms: int) -> datetime:
    """T0 plus ``ms`` milliseconds."""
    return T0 + timedelta(milliseconds=ms)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_record(record_id: str, created_at: datetime, source: str = "api") -> dict[str, Any]:
    return {
        "id": record_id,
        "userId": "user-1",
        "domainId": "domain-1",
        "source": source,
        "ip": "203.0.113.7",
        "method": "GET",
        "url": "/v1/rooms",
        "status": 200,
        "createdAt": iso(created_at),
        "request": None,
        "response": '{"total_count": 0, "data": []}',
    }


def records_at(offsets_ms: list[int], prefix: str = "log") -> list[dict[str, Any]]:
    """One record per offset, ids ``<prefix>-0000`` ... in the order given."""
    return [make_record(f"{prefix}-{n:04d}", at(ms)) for n, ms in enumerate(offsets_ms)]


class FakeDaily:
    """Serves newest-first pages of ``records`` by the chosen cursor convention."""

    def __init__(self, records: list[dict[str, Any]], *, convention: str = "stripe", max_limit: int = 100):
        # Stable sort: records sharing a createdAt keep the order they were given in.
        self.records = sorted(records, key=lambda r: r["createdAt"], reverse=True)
        self.convention = convention
        self.max_limit = max_limit
        self.requests: list[dict[str, str]] = []

    def truth(self, start: datetime, end: datetime, source: str = "api") -> list[str]:
        return [
            r["id"]
            for r in self.records
            if r["source"] == source and start <= datetime.fromisoformat(r["createdAt"][:-1] + "+00:00") < end
        ]

    def page(self, params: dict[str, str]) -> list[dict[str, Any]] | None:
        """The page for these query parameters; None for an unknown cursor."""
        self.requests.append(dict(params))
        rows = [r for r in self.records if r["source"] == params.get("source", "api")]
        position = {r["id"]: i for i, r in enumerate(rows)}
        limit = min(int(params.get("limit", 20)), self.max_limit)
        older, newer = (
            ("starting_after", "ending_before")
            if self.convention == "stripe"
            else ("ending_before", "starting_after")
        )
        if older in params:
            if params[older] not in position:
                return None
            index = position[params[older]]
            return rows[index + 1 : index + 1 + limit]
        if newer in params:
            if params[newer] not in position:
                return None
            index = position[params[newer]]
            return rows[max(0, index - limit) : index]
        return rows[:limit]

    def callback(self, request: Any) -> tuple[int, dict[str, str], str]:
        params = dict(parse_qsl(urlsplit(request.url).query))
        page = self.page(params)
        if page is None:
            body = {"error": "invalid-request-error", "info": "unknown cursor"}
            return 400, {"Content-Type": "application/json"}, json.dumps(body)
        return 200, {"Content-Type": "application/json"}, json.dumps(page)


class LoopbackDaily:
    """A real HTTP server on 127.0.0.1 serving a FakeDaily, so requests and urllib3 run for real."""

    def __init__(self, fake: FakeDaily, key: str) -> None:
        self.fake = fake
        self.key = key
        self.authorization: list[str | None] = []
        self.fail_next: list[tuple[int, dict[str, str]]] = []
        handler = self._handler()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        # A short poll interval keeps shutdown() at teardown quick.
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                owner.authorization.append(self.headers.get("Authorization"))
                if self.headers.get("Authorization") != f"Bearer {owner.key}":
                    status, body = 401, {"error": "authentication-error", "info": "Invalid API key"}
                elif owner.fail_next:
                    status, body = owner.fail_next.pop(0)
                else:
                    query = dict(parse_qsl(urlsplit(self.path).query))
                    page = owner.fake.page(query)
                    status, body = (
                        (200, page) if page is not None else (400, {"error": "invalid-request-error"})
                    )
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output quiet

        return Handler
