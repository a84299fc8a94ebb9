"""What the simulator answers, as data: a status, a body, headers, and how long to wait first.

:class:`Response` is the simulator's whole output; the HTTP server carries it out. The helpers build
Daily's JSON answers and its error shape, and play a careless proxy that repeats the request's
Authorization header in an error (the client must keep the key out of its own messages).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"


@dataclass
class Response:
    """What to answer. ``delay``: seconds to wait before answering; ``drop`` cuts the body and the connection."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": JSON_TYPE})
    delay: float = 0.0
    drop: bool = False

    def json(self) -> Any:
        return orjson.loads(self.body)


def json_response(status: int, data: Any, headers: Mapping[str, str] | None = None) -> Response:
    """``data`` as a JSON answer."""
    return Response(status, orjson.dumps(data), {"Content-Type": JSON_TYPE, **(headers or {})})


def error_response(status: int, error: str, info: str, headers: Mapping[str, str] | None = None) -> Response:
    """Daily's error shape: ``{"error": <stable type>, "info": <human text>}``."""
    return json_response(status, {"error": error, "info": info}, headers)


def echo_authorization(response: Response, authorization: str) -> Response:
    """The same error, repeating the request's Authorization header in its text."""
    echo = f" (request had Authorization: {authorization})"
    try:
        body = orjson.loads(response.body)
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("info"), str):
        body["info"] += echo
        response.body = orjson.dumps(body)
    else:
        response.body += echo.encode()
    return response
